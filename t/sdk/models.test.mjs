// /v1/models through the SDK (moa_models).

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { MOA, OpenAI, T, client } from './lib.mjs';


test('models.list() lists the MoA ids', T, async () => {
    const models = [];
    for await (const m of client('ok').models.list()) {
        models.push(m);
    }

    assert.deepEqual(models.map((m) => m.id).sort(),
                     ['moa-gpt-4o-mini-v1', MOA]);
    for (const m of models) {
        assert.equal(m.object, 'model', `${m.id}: object`);
        assert.ok(Number.isInteger(m.created), `${m.id}: created`);
        assert.equal(typeof m.owned_by, 'string', `${m.id}: owned_by`);
    }
});


test('models.retrieve() returns one MoA model', T, async () => {
    const m = await client('ok').models.retrieve(MOA);

    assert.equal(m.id, MOA);
    assert.equal(m.object, 'model');
    assert.ok(Number.isInteger(m.created));
    assert.equal(typeof m.owned_by, 'string');
});


test('models.retrieve() of an unknown id: NotFoundError 404', T, async () => {
    const err = await client('ok').models.retrieve('no-such-model')
        .then(() => null, (e) => e);

    assert.ok(err instanceof OpenAI.NotFoundError,
              `a NotFoundError (got ${err?.constructor?.name}: ${err})`);
    assert.equal(err.status, 404);
    assert.equal(err.code, 'model_not_found');
    assert.match(err.message, /no-such-model/);
});


test('models errors carry x-request-id, as chat errors do', T, async () => {
    const err = await client('ok').models.retrieve('no-such-model')
        .then(() => null, (e) => e);

    assert.ok(err instanceof OpenAI.NotFoundError);
    assert.match(err.requestID ?? '', /^[0-9a-f]{32}$/,
                 `x-request-id (got ${err.requestID})`);
});
