// The recipes chosen per request through the SDK: the "moa" member sent in
// the body (extra_body in the Python SDK; in Node, an extra member of the
// request), the judge's pick as the answer, streamed or not, and the 400
// naming moa.<field> as a BadRequestError.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { MOA, OpenAI, QUESTION, T, client, drain, contentOf } from './lib.mjs';


test('moa: {aggregate: "select"}: the candidate the judge picked, verbatim',
     T, async () => {
    const { data: r, response } = await client('recipes').chat.completions
        .create({ model: MOA, messages: QUESTION,
                  moa: { aggregate: 'select', proposers: 3 } })
        .withResponse();

    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-moa-selected'), '2');
    assert.equal(r.model, MOA);
    assert.deepEqual(JSON.parse(r.choices[0].message.content), { pick: 1 },
                     'the second candidate');
    assert.equal(r.choices[0].finish_reason, 'stop');
});


test('moa select, streamed: the pick as chunks the SDK reassembles',
     T, async () => {
    const stream = await client('recipes').chat.completions
        .create({ model: MOA, messages: QUESTION, stream: true,
                  stream_options: { include_usage: true },
                  moa: { aggregate: 'select', layers: 2 } });
    const { chunks, error } = await drain(stream);

    assert.equal(error, null);
    assert.deepEqual(JSON.parse(contentOf(chunks)), { pick: 1 });
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, [], 'the usage chunk');
    assert.equal(last.usage.prompt_tokens, 7 * 10,
                 'two layers of 3 proposals and the judge');
});


test('moa out of bounds: BadRequestError naming moa.layers', T, async () => {
    const err = await client('recipes').chat.completions
        .create({ model: MOA, messages: QUESTION, moa: { layers: 3 } })
        .then(() => null, (e) => e);

    assert.ok(err instanceof OpenAI.BadRequestError,
              `a BadRequestError (got ${err?.constructor?.name}: ${err})`);
    assert.equal(err.status, 400);
    assert.equal(err.param, 'moa.layers');
    assert.equal(err.code, 'integer_above_max_value');
    assert.equal(err.type, 'invalid_request_error');
});
