// The Open Responses compliance checks (compliance.mjs, the project's own
// runner of openresponses/openresponses' src/lib/compliance-tests.ts)
// against the module and against the reference mock.  The mock has no
// model behind it: it cannot say hello in three words or see an image,
// so each check also asserts what the module does guarantee, with the
// "echo" scenario: the request reached the provider translated, the image
// as an image part, the system prompt and the turns in order, the tool.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { BASE, MOA, T, TARGETS } from './lib.mjs';
import { CHECKS, PNG, runCheck } from './compliance.mjs';


function base(target, scenario) {
    return `${BASE}/${scenario}${target.path}/v1`;
}

// the Chat Completions messages the request becomes (the chain adds its
// own instruction after them)
const MESSAGES = {
    'basic-response': [{ role: 'user', content: 'Greet me briefly.' }],
    'streaming-response': [{ role: 'user',
                             content: 'List three primary colours.' }],
    'system-prompt': [
        { role: 'system', content: 'You are a sailor: answer like one.' },
        { role: 'user', content: 'Greet me.' },
    ],
    'tool-calling': [{ role: 'user', content: 'What is the weather in Paris?' }],
    'tool-calling-streaming': [{ role: 'user',
                                 content: 'What is the weather in Paris?' }],
    'image-input': [{ role: 'user', content: [
        { type: 'text', text: 'Describe this image in one line.' },
        { type: 'image_url', image_url: { url: PNG } },
    ] }],
    'multi-turn': [
        { role: 'user', content: 'My name is Ada.' },
        { role: 'assistant', content: 'Nice to meet you, Ada.' },
        { role: 'user', content: 'What is my name?' },
    ],
};

// a message as the comparison needs it: string contents stay, parts keep
// type, text and the image's url
function plain(m) {
    const content = typeof m.content === 'string' ? m.content
        : m.content.map((p) => (p.type === 'image_url'
            ? { type: p.type, image_url: { url: p.image_url.url } }
            : { type: p.type, text: p.text }));
    return { role: m.role, content };
}


for (const target of TARGETS) {
    for (const check of CHECKS) {
        test(`${target.name}: Open Responses "${check.id}" (${check.name})`,
             T, async (t) => {
            const scenario = check.tools ? 'tools' : 'ok';
            const r = await runCheck(check, {
                baseUrl: base(target, scenario), model: MOA,
                signal: AbortSignal.timeout(10000),
            });
            assert.deepEqual(r.errors, [], `${check.id}: no error`);
            assert.ok(r.passed);
            if (check.stream) {
                assert.ok(r.events.length >= 4, 'events');
            }
        });

        test(`${target.name}: Open Responses "${check.id}": the request the`
             + ' provider got', T, async () => {
            const r = await runCheck(check, {
                baseUrl: base(target, 'echo'), model: MOA,
                signal: AbortSignal.timeout(10000),
            });
            const message = r.response?.output?.find(
                (i) => i.type === 'message');
            assert.ok(message, `an answer (${r.errors.join('; ')})`);
            const sent = JSON.parse(message.content[0].text);

            if (target.name === 'reference') {
                assert.deepEqual(sent.input, r.request.input);
                return;
            }

            const want = MESSAGES[check.id];
            assert.ok(Array.isArray(sent.messages), 'Chat Completions');
            assert.deepEqual(sent.messages.slice(0, want.length).map(plain),
                             want);
            if (check.tools) {
                assert.equal(sent.tools?.[0]?.type, 'function');
                assert.equal(sent.tools[0].function.name, 'get_weather');
                assert.deepEqual(sent.tools[0].function.parameters,
                                 r.request.tools[0].parameters);
            }
        });
    }
}
