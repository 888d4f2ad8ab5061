#!/usr/bin/env node
// Turns the Arena-Hard data set into the files the benchmark needs:
//   prompts.txt     one JSON messages array per line (wrk's Lua wraps it)
//   answers.js      njs module: the recorded answers, each already a JSON
//                   string literal (njs 0.7 re-runs module code per request:
//                   nothing may be computed at load time)
//   answers.json    the same for the Node mocks
//   fixed.json      one chat.completion of median answer size (D=0 mock)
//   fixed.nginx     the same, escaped for an nginx `return 200 '...'`
// usage: prepare.js DATA_DIR OUT_DIR
'use strict';
const fs = require('fs');
const path = require('path');

const [dataDir, outDir] = process.argv.slice(2);
const file = path.join(dataDir || '', 'arena-hard-v0.1-gpt-4-0314.jsonl');
if (!dataDir || !outDir || !fs.existsSync(file)) {
    console.error(`bench: data set not found: ${file}\n` +
        'bench: it comes with the project\'s shared/ folder ' +
        '(set BENCH_DATA to the folder holding it)');
    process.exit(2);
}
fs.mkdirSync(outDir, { recursive: true });

const recs = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean)
    .map((l) => JSON.parse(l));
const prompts = recs.map((r) => r.messages.filter((m) => m.role === 'user'));
const answers = recs.map((r) => r.messages.find((m) => m.role === 'assistant')
    .content);

fs.writeFileSync(path.join(outDir, 'prompts.txt'),
    prompts.map((p) => JSON.stringify(p)).join('\n') + '\n');
fs.writeFileSync(path.join(outDir, 'answers.json'), JSON.stringify(answers));
fs.writeFileSync(path.join(outDir, 'answers.js'),
    'export default ' +
    JSON.stringify(answers.map((a) => JSON.stringify(a))) + ';\n');

// the D=0 answer: a recorded answer of median length, as OpenAI shapes it
const sorted = answers.slice().sort((a, b) => a.length - b.length);
const median = sorted[sorted.length >> 1];
const fixed = JSON.stringify({
    id: 'chatcmpl-mock0', object: 'chat.completion', created: 1700000000,
    model: 'gpt-4o', system_fingerprint: 'fp_mock',
    choices: [{ index: 0, message: { role: 'assistant', content: median,
        refusal: null }, logprobs: null, finish_reason: 'stop' }],
    usage: { prompt_tokens: 40, completion_tokens: Math.ceil(median.length / 4),
        total_tokens: 40 + Math.ceil(median.length / 4) },
});
fs.writeFileSync(path.join(outDir, 'fixed.json'), fixed);
// nginx's parser turns \n, \t, \\ and \' inside quotes into characters and
// expands $name: keep JSON escapes by doubling backslashes, and write $ and '
// as JSON \u escapes (still the same JSON text once parsed)
const ngx = fixed.replace(/\$/g, '\\u0024').replace(/'/g, '\\u0027')
    .replace(/\\/g, '\\\\');
fs.writeFileSync(path.join(outDir, 'fixed.nginx'), ngx);
console.log(`bench: ${recs.length} prompts, answers median ${median.length} ` +
    `chars, D=0 reply ${fixed.length} bytes`);
