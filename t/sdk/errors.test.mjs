// Errors surface as the SDK's own error classes, with the right status and
// message; a stream that fails midway ends with an error, never hangs.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
    ANSWER, MOA, OpenAI, QUESTION, T, client, contentOf, drain,
} from './lib.mjs';


// the SDK's parse of an OpenAI error body: all four keys are there
function checkErrorBody(err) {
    assert.ok(err.error && typeof err.error === 'object', 'an error object');
    assert.deepEqual(Object.keys(err.error).sort(),
                     ['code', 'message', 'param', 'type']);
    assert.match(err.requestID ?? '', /^[0-9a-f]{32}$/, 'x-request-id');
}


test('all proposals rate limited: RateLimitError 429 with the provider\'s message',
     T, async () => {
    const started = Date.now();
    const err = await client('ratelimit').chat.completions
        .create({ model: MOA, messages: QUESTION })
        .then(() => null, (e) => e);

    assert.ok(err instanceof OpenAI.RateLimitError,
              `a RateLimitError (got ${err?.constructor?.name}: ${err})`);
    assert.ok(err instanceof OpenAI.APIError, 'an APIError');
    assert.equal(err.status, 429);
    assert.match(err.message, /^429 Rate limit reached for gpt-4o \(mock\)/);
    assert.equal(err.code, 'rate_limit_exceeded');
    assert.equal(err.headers.get('retry-after'), '3', 'Retry-After kept');
    checkErrorBody(err);
    assert.ok(Date.now() - started < 5000, 'maxRetries 0: no retry');
});


test('all proposals rate limited, streamed: RateLimitError 429 before the stream',
     T, async () => {
    const err = await client('ratelimit').chat.completions
        .create({ model: MOA, messages: QUESTION, stream: true })
        .then(async (stream) => (await drain(stream)).error, (e) => e);

    assert.ok(err instanceof OpenAI.RateLimitError,
              `a RateLimitError (got ${err?.constructor?.name}: ${err})`);
    assert.equal(err.status, 429);
    assert.match(err.message, /Rate limit reached for gpt-4o \(mock\)/);
});


test('empty messages: BadRequestError 400 naming messages', T, async () => {
    const err = await client('ok').chat.completions
        .create({ model: MOA, messages: [] })
        .then(() => null, (e) => e);

    assert.ok(err instanceof OpenAI.BadRequestError,
              `a BadRequestError (got ${err?.constructor?.name}: ${err})`);
    assert.equal(err.status, 400);
    assert.match(err.message, /^400 .*messages/);
    assert.equal(err.param, 'messages');
    assert.equal(err.type, 'invalid_request_error');
    checkErrorBody(err);
});


test('unknown model with moa_passthrough off: NotFoundError 404', T, async () => {
    const err = await client('strict').chat.completions
        .create({ model: 'gpt-4o', messages: QUESTION })
        .then(() => null, (e) => e);

    assert.ok(err instanceof OpenAI.NotFoundError,
              `a NotFoundError (got ${err?.constructor?.name}: ${err})`);
    assert.equal(err.status, 404);
    assert.equal(err.code, 'model_not_found');
    assert.match(err.message, /^404 .*'gpt-4o'/);
    checkErrorBody(err);
});


test('the synthesis stream sends an error event: the SDK throws an APIError',
     T, async () => {
    const started = Date.now();
    const stream = await client('streamerror').chat.completions.create({
        model: MOA, messages: QUESTION, stream: true,
    });
    const { chunks, error } = await drain(stream, 5000);

    assert.ok(error instanceof OpenAI.APIError,
              `an APIError (got ${error?.constructor?.name}: ${error})`);
    assert.match(error.message, /mock: the synthesis broke/);
    assert.ok(chunks.length >= 1, 'the chunks before the failure arrived');
    assert.ok(contentOf(chunks).length > 0, 'with some content');
    assert.ok(!chunks.some((c) => c.choices.some((ch) => ch.finish_reason)),
              'no finish_reason: the answer is incomplete');
    assert.ok(Date.now() - started < 5000, 'ends within 5 s');
});


test('the synthesis stream stops without [DONE]: the SDK throws, no hang',
     T, async () => {
    const started = Date.now();
    const stream = await client('streamcut').chat.completions.create({
        model: MOA, messages: QUESTION, stream: true,
    });
    const { chunks, error } = await drain(stream, 5000);

    assert.ok(Date.now() - started < 5000, 'ends within 5 s');
    assert.ok(!chunks.some((c) => c.choices.some((ch) => ch.finish_reason)),
              'no finish_reason: the answer is incomplete');
    // a truncated answer must not look like a complete one
    assert.ok(error instanceof OpenAI.APIError,
              `an APIError (got ${error?.constructor?.name}: ${error}; `
              + `${chunks.length} chunks, content "${contentOf(chunks)}")`);
});


test('rate limited after keep-alive comments sent the 200: the SDK throws the provider\'s error',
     T, async () => {
    // moa_stream_keepalive sends the SSE header while the proposals run,
    // so the 429 can only come as an error event in the stream
    const stream = await client('latelimit').chat.completions.create({
        model: MOA, messages: QUESTION, stream: true,
    });
    const { chunks, error } = await drain(stream, 5000);

    assert.equal(chunks.length, 0, 'no chunk before the error');
    assert.ok(error instanceof OpenAI.APIError,
              `an APIError (got ${error?.constructor?.name}: ${error})`);
    assert.equal(error.status, undefined, 'no status: the 200 went out');
    assert.match(error.message, /Rate limit reached for gpt-4o \(mock\)/);
    assert.equal(error.code, 'rate_limit_exceeded');
});


test('a client that aborts while the proposals run, or breaks out of a stream, leaves the server working',
     T, async () => {
    // abort during the proposals (the keepalive scenario's take 350 ms)
    // (the SDK throws APIUserAbortError before the response headers, and
    // ends the iteration quietly after them)
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 150);
    const aborted = await client('keepalive').chat.completions
        .create({ model: MOA, messages: QUESTION, stream: true },
                { signal: controller.signal })
        .then((stream) => drain(stream, 5000),
              (error) => ({ chunks: [], error }));
    assert.ok(aborted.error === null
              || aborted.error instanceof OpenAI.APIUserAbortError,
              `aborted (got ${aborted.error?.constructor?.name}: `
              + `${aborted.error})`);
    assert.equal(aborted.chunks.length, 0, 'no chunk: aborted in time');

    // break after the first chunk: the SDK aborts the request
    const stream = await client('ok').chat.completions.create({
        model: MOA, messages: QUESTION, stream: true,
    });
    for await (const chunk of stream) {
        assert.equal(chunk.model, MOA);
        break;
    }

    // and the next request is fine (the error log is checked at the end)
    const r = await client('ok').chat.completions.create({
        model: MOA, messages: QUESTION,
    });
    assert.equal(r.choices[0].message.content, ANSWER);
});
