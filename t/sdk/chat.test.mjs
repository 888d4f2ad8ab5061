// Completions, streamed or not, through the SDK: MoA and passthrough.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
    ANSWER, BASE, MOA, MOA_USAGE, QUESTION, T, client, contentOf, drain,
    finalOf, usageOf,
} from './lib.mjs';


// the invariants of every chat.completion.chunk stream
function checkChunks(chunks, model) {
    assert.ok(chunks.length >= 3, `a few chunks (got ${chunks.length})`);
    const first = chunks[0];
    assert.match(first.id, /^chatcmpl-/, 'id');
    assert.ok(Number.isInteger(first.created), 'created is an integer');

    for (const [i, c] of chunks.entries()) {
        assert.equal(c.object, 'chat.completion.chunk', `chunk ${i}: object`);
        assert.equal(c.id, first.id, `chunk ${i}: the same id`);
        assert.equal(c.created, first.created, `chunk ${i}: the same created`);
        assert.equal(c.model, model, `chunk ${i}: model`);
        assert.ok(!('error' in c), `chunk ${i}: no "error" key`);
    }

    const withChoices = chunks.filter((c) => c.choices.length > 0);
    const roles = withChoices.filter((c) => c.choices[0].delta?.role);
    assert.equal(roles.length, 1, 'role is sent once');
    assert.equal(roles[0], withChoices[0], 'role comes first');
    assert.equal(roles[0].choices[0].delta.role, 'assistant', 'role');

    const last = withChoices.at(-1);
    for (const c of withChoices.slice(0, -1)) {
        assert.equal(c.choices[0].finish_reason ?? null, null,
                     'no finish_reason before the last chunk');
    }
    return last;
}


test('non-streamed MoA completion: the model id, the synthesis, usage of 5 calls',
     T, async () => {
    const { data: r, response } = await client('ok').chat.completions
        .create({ model: MOA, messages: QUESTION })
        .withResponse();

    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type'), /^application\/json/);
    assert.match(response.headers.get('x-request-id') ?? '', /^[0-9a-f]{32}$/,
                 'x-request-id');

    assert.equal(r.object, 'chat.completion');
    assert.equal(r.model, MOA);
    assert.match(r.id, /^chatcmpl-/);
    assert.ok(Number.isInteger(r.created), 'created is an integer');
    assert.equal(r.choices.length, 1);

    const [c] = r.choices;
    assert.equal(c.index, 0);
    assert.equal(c.finish_reason, 'stop');
    assert.equal(c.message.role, 'assistant');
    assert.equal(c.message.content, ANSWER);
    assert.equal(c.message.tool_calls, undefined, 'no tool_calls key');
    assert.deepEqual(usageOf(r.usage), MOA_USAGE);
});


test('streamed MoA completion: chunks, content, finish_reason, no usage',
     T, async () => {
    const { data: stream, response } = await client('ok').chat.completions
        .create({ model: MOA, messages: QUESTION, stream: true })
        .withResponse();

    assert.match(response.headers.get('content-type'), /^text\/event-stream/);

    const { chunks, error } = await drain(stream);
    assert.equal(error, null, `no error (got ${error})`);

    const last = checkChunks(chunks, MOA);
    assert.equal(last.choices[0].finish_reason, 'stop');
    assert.equal(contentOf(chunks), ANSWER);
    for (const [i, c] of chunks.entries()) {
        assert.equal(c.usage ?? null, null, `chunk ${i}: no usage`);
    }
});


test('streamed MoA completion with stream_options.include_usage: a last usage chunk',
     T, async () => {
    const stream = await client('ok').chat.completions.create({
        model: MOA,
        messages: QUESTION,
        stream: true,
        stream_options: { include_usage: true },
    });

    const { chunks, error } = await drain(stream);
    assert.equal(error, null, `no error (got ${error})`);

    const usage = chunks.at(-1);
    assert.deepEqual(usage.choices, [], 'the last chunk has no choices');
    assert.deepEqual(usageOf(usage.usage), MOA_USAGE, 'usage of the 5 calls');

    const rest = chunks.slice(0, -1);
    const last = checkChunks(rest, MOA);
    assert.equal(usage.id, rest[0].id, 'the usage chunk has the same id');
    assert.equal(usage.model, MOA, 'the usage chunk has the MoA id');
    assert.equal(last.choices[0].finish_reason, 'stop');
    assert.equal(contentOf(rest), ANSWER);
    for (const [i, c] of rest.entries()) {
        assert.equal(c.usage ?? null, null, `chunk ${i}: no usage`);
    }
});


test('streamed MoA completion with the SDK stream helper: content events, final completion',
     T, async () => {
    const stream = client('ok').chat.completions.stream({
        model: MOA,
        messages: QUESTION,
    });

    let deltas = 0;
    stream.on('content.delta', () => deltas++);

    const final = await finalOf(stream);
    assert.equal(final.model, MOA);
    assert.equal(final.choices[0].message.content, ANSWER);
    assert.equal(final.choices[0].finish_reason, 'stop');
    assert.ok(deltas >= 2, `content came in pieces (${deltas})`);
});


test('streamed MoA completion with SSE keep-alive comments while the proposals run',
     T, async () => {
    // the comments are really sent (raw HTTP), and the SDK skips them
    const raw = await fetch(`${BASE}/keepalive/v1/chat/completions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ model: MOA, messages: QUESTION, stream: true }),
        signal: AbortSignal.timeout(10000),
    });
    const body = await raw.text();
    const head = body.slice(0, body.indexOf('data:'));
    assert.match(head, /^: /m, 'comment lines before the first event');

    const stream = await client('keepalive').chat.completions.create({
        model: MOA, messages: QUESTION, stream: true,
    });
    const { chunks, error } = await drain(stream);
    assert.equal(error, null, `no error (got ${error})`);
    const last = checkChunks(chunks, MOA);
    assert.equal(last.choices[0].finish_reason, 'stop');
    assert.equal(contentOf(chunks), ANSWER);
});


test('passthrough model, non-streamed: the provider\'s answer unchanged',
     T, async () => {
    const r = await client('ok').chat.completions.create({
        model: 'gpt-4o-mini', messages: QUESTION,
    });

    assert.equal(r.object, 'chat.completion');
    assert.equal(r.model, 'gpt-4o-mini');
    assert.equal(r.choices[0].message.content, 'plain passthrough answer');
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.deepEqual(usageOf(r.usage),
                     { prompt_tokens: 7, completion_tokens: 3,
                       total_tokens: 10 });
});


test('passthrough model, streamed: the provider\'s stream unchanged',
     T, async () => {
    const stream = await client('ok').chat.completions.create({
        model: 'gpt-4o-mini',
        messages: QUESTION,
        stream: true,
        stream_options: { include_usage: true },
    });

    const { chunks, error } = await drain(stream);
    assert.equal(error, null, `no error (got ${error})`);

    const usage = chunks.at(-1);
    assert.deepEqual(usage.choices, []);
    assert.deepEqual(usageOf(usage.usage),
                     { prompt_tokens: 7, completion_tokens: 3,
                       total_tokens: 10 });

    const last = checkChunks(chunks.slice(0, -1), 'gpt-4o-mini');
    assert.equal(last.choices[0].finish_reason, 'stop');
    assert.equal(contentOf(chunks), 'plain passthrough answer');
});
