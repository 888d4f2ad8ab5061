// What runs the tests: the SDK and the Node.js that t/070-sdk.t chose for
// this run (MOA_SDK_VERSION, MOA_SDK_NODE), seen from inside the test
// processes that node --test starts, not only from the perl side.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { SDK_VERSION } from './lib.mjs';

test('the SDK under test is the version t/070-sdk.t names', () => {
    assert.equal(SDK_VERSION, process.env.MOA_SDK_VERSION);
});

test('the Node.js running the tests is the one t/070-sdk.t names', () => {
    assert.equal(process.version, `v${process.env.MOA_SDK_NODE}`);
});
