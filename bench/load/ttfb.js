#!/usr/bin/env node
// Streamed time-to-first-byte through a subject, measured on one clock.
//
//   ttfb.js mock PORT ANSWERS_JSON DELAY_MS CHUNKS GAP_MS
//     provider mock: JSON after DELAY_MS ("n": N choices); with
//     "stream":true an SSE stream whose first content chunk starts with
//     "T<ns> ", ns being CLOCK_MONOTONIC (process.hrtime, system-wide on
//     Linux) when written.
//   ttfb.js client URL MODEL PROMPTS REQUESTS CONCURRENCY
//     sends REQUESTS stream:true requests, CONCURRENCY at a time; for each,
//     the time from the mock writing the first content chunk to this client
//     reading it. Prints one JSON line (prefix "TTFBJSON ") in us.
'use strict';
const http = require('node:http');
const fs = require('node:fs');

const now = () => process.hrtime.bigint();

function mock(port, answersFile, delay, chunks, gap) {
    const answers = JSON.parse(fs.readFileSync(answersFile, 'utf8'));
    const head = (obj) => `data: ${JSON.stringify(Object.assign({
        id: 'chatcmpl-ttfb', object: 'chat.completion.chunk',
        created: 1700000000, model: 'gpt-4o' }, obj))}\n\n`;
    const server = http.createServer((req, res) => {
        const parts = [];
        req.on('data', (d) => parts.push(d));
        req.on('end', () => {
            const raw = Buffer.concat(parts).toString('utf8');
            const body = JSON.parse(raw);
            const text = answers[raw.length % answers.length];
            const usage = { prompt_tokens: Math.ceil(raw.length / 4),
                completion_tokens: Math.ceil(text.length / 4) };
            usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
            setTimeout(() => {
                if (body.stream !== true) {
                    // "n": N choices (moa_proposer_n), usage over all
                    const n = Math.min(16, Math.max(1, Number(body.n) || 1));
                    const texts = [text];
                    for (let i = 1; i < n; i++) {
                        texts.push(answers[(raw.length + i) % answers.length]);
                    }
                    usage.completion_tokens = texts.reduce((t, x) => t +
                        Math.ceil(x.length / 4), 0);
                    usage.total_tokens = usage.prompt_tokens +
                        usage.completion_tokens;
                    const json = JSON.stringify({ id: 'chatcmpl-ttfb',
                        object: 'chat.completion', created: 1700000000,
                        model: 'gpt-4o', choices: texts.map((x, i) => ({
                            index: i, message: { role: 'assistant',
                                content: x, refusal: null },
                            logprobs: null, finish_reason: 'stop' })),
                        usage });
                    res.writeHead(200, { 'Content-Type': 'application/json',
                        'Content-Length': Buffer.byteLength(json) });
                    res.end(json);
                    return;
                }
                res.writeHead(200, { 'Content-Type': 'text/event-stream',
                    'Cache-Control': 'no-cache' });
                res.write(head({ choices: [{ index: 0, delta: {
                    role: 'assistant', content: '' }, finish_reason: null }] }));
                const size = Math.ceil(text.length / chunks);
                let i = 0;
                const next = () => {
                    if (i < chunks) {
                        let piece = text.substr(i * size, size);
                        if (i === 0) piece = `T${now()} ${piece}`;
                        i++;
                        res.write(head({ choices: [{ index: 0,
                            delta: { content: piece }, finish_reason: null }] }));
                        setTimeout(next, gap);
                        return;
                    }
                    let tail = head({ choices: [{ index: 0, delta: {},
                        finish_reason: 'stop' }] });
                    if (body.stream_options && body.stream_options.include_usage) {
                        tail += head({ choices: [], usage });
                    }
                    res.end(tail + 'data: [DONE]\n\n');
                };
                next();
            }, delay);
        });
    });
    server.keepAliveTimeout = 300 * 1000;
    server.listen(port, '127.0.0.1', 4096);
    process.on('SIGTERM', () => process.exit(0));
}

function pct(sorted, p) {
    if (!sorted.length) return null;
    return sorted[Math.min(sorted.length - 1,
        Math.floor(p / 100 * sorted.length))];
}

function client(url, model, promptsFile, total, conc) {
    const prompts = fs.readFileSync(promptsFile, 'utf8').split('\n')
        .filter(Boolean);
    const agent = new http.Agent({ keepAlive: true, maxSockets: conc });
    const ttfb = [];
    let sent = 0, done = 0, errors = 0, nostamp = 0;
    const t0 = now();

    const one = () => {
        if (sent >= total) return;
        const body = `{"model":"${model}","messages":${prompts[sent %
            prompts.length]},"stream":true}`;
        sent++;
        const req = http.request(url, { method: 'POST', agent,
            headers: { 'Content-Type': 'application/json',
                'Content-Length': Buffer.byteLength(body) } }, (res) => {
            let buf = '', got = false;
            res.setEncoding('utf8');
            res.on('data', (d) => {
                const t = now();
                if (got) return;
                buf += d;
                let k;
                while (!got && (k = buf.indexOf('\n\n')) >= 0) {
                    const ev = buf.slice(0, k);
                    buf = buf.slice(k + 2);
                    const m = /"content":"T(\d+) /.exec(ev);
                    if (m) {
                        ttfb.push(Number(t - BigInt(m[1])) / 1000);
                        got = true;
                    }
                }
            });
            res.on('end', () => {
                if (res.statusCode !== 200) errors++;
                else if (!got) nostamp++;
                finish();
            });
        });
        req.on('error', () => { errors++; finish(); });
        req.end(body);
    };
    const finish = () => {
        done++;
        if (done === total) {
            ttfb.sort((a, b) => a - b);
            const r3 = (x) => (x === null ? null : Math.round(x * 1000) / 1000);
            console.log('TTFBJSON ' + JSON.stringify({
                requests: total, answered: done - errors, errors,
                not_streamed_stamp_missing: nostamp, measured: ttfb.length,
                duration_us: Number(now() - t0) / 1000,
                ttfb_min: r3(ttfb[0]), ttfb_p50: r3(pct(ttfb, 50)),
                ttfb_p90: r3(pct(ttfb, 90)), ttfb_p99: r3(pct(ttfb, 99)),
                ttfb_max: r3(ttfb[ttfb.length - 1]) }));
            agent.destroy();
            return;
        }
        one();
    };
    for (let i = 0; i < conc; i++) one();
}

const [mode, ...a] = process.argv.slice(2);
if (mode === 'mock') {
    mock(Number(a[0]), a[1], Number(a[2]), Number(a[3]), Number(a[4]));
} else if (mode === 'client') {
    client(a[0], a[1], a[2], Number(a[3]), Number(a[4]));
} else {
    console.error('usage: ttfb.js mock PORT ANSWERS DELAY CHUNKS GAP | ' +
        'client URL MODEL PROMPTS REQUESTS CONCURRENCY');
    process.exit(2);
}
