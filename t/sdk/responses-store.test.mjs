// Stored responses through the SDK (the module's moa_responses_store,
// t/070's zone): previous_response_id continuations, plain and streamed;
// responses.retrieve, responses.inputItems.list (paged by the SDK),
// responses.delete; another API key sees nothing.  Against the module
// only: the reference mock keeps nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ANSWER, MOA, OpenAI, T, client } from './lib.mjs';


// a Chat Completions message's text, its content a string or parts
function textOf(m) {
    return typeof m.content === 'string' ? m.content
        : (m.content ?? []).map((p) => p.text ?? '').join('');
}

function messageText(r) {
    return r.output.filter((i) => i.type === 'message')
        .flatMap((i) => i.content)
        .filter((p) => p.type === 'output_text')
        .map((p) => p.text).join('');
}

function withoutSdkFields(r) {
    const copy = { ...r };
    delete copy.output_text;                // the SDK adds it
    return copy;
}

async function first(scenario, options = {}) {
    return client(scenario, options).responses.create({
        model: MOA, input: 'My name is Ada.', instructions: 'Be brief.',
    });
}


test('previous_response_id: the stored turn comes first, its instructions do not',
     T, async () => {
    const r1 = await first('ok');
    assert.equal(r1.store, true, 'stored by default');
    assert.match(r1.id, /^resp_/);

    const r2 = await client('echo').responses.create({
        model: MOA, input: 'What is my name?', previous_response_id: r1.id,
    });
    assert.equal(r2.previous_response_id, r1.id, 'previous_response_id');
    assert.equal(r2.instructions, null, 'instructions not carried over');

    const sent = JSON.parse(messageText(r2)).messages;
    assert.deepEqual(sent.slice(0, 3).map((m) => [m.role, textOf(m)]), [
        ['user', 'My name is Ada.'],
        ['assistant', ANSWER],
        ['user', 'What is my name?'],
    ], 'the stored input and output, then the new input');
    assert.ok(!sent.some((m) => textOf(m) === 'Be brief.'),
              'the first turn\'s instructions are not sent');
});


test('previous_response_id, streamed with responses.stream()', T, async () => {
    const r1 = await first('ok');
    const stream = client('ok').responses.stream({
        model: MOA, input: 'And again?', previous_response_id: r1.id,
    });
    const final = await stream.finalResponse();

    assert.equal(final.status, 'completed');
    assert.equal(final.previous_response_id, r1.id);
    assert.equal(messageText(final), ANSWER);

    // stored before the stream ended: retrievable at once
    const back = await client('ok').responses.retrieve(final.id);
    assert.equal(back.id, final.id);
    // (the helper's finalResponse() adds "parsed" to each text part)
    const unparsed = (v) => JSON.parse(JSON.stringify(
        v, (k, x) => (k === 'parsed' ? undefined : x)));
    assert.deepEqual(unparsed(back.output), unparsed(final.output),
                     'the streamed output kept');
    assert.deepEqual(back.usage, final.usage, 'its usage kept');
});


test('responses.retrieve: the response as it was answered', T, async () => {
    const r1 = await first('ok');
    const back = await client('ok').responses.retrieve(r1.id);

    assert.deepEqual(withoutSdkFields(back), withoutSdkFields(r1));
});


test('responses.inputItems.list: the chain\'s items, paged by the SDK',
     T, async () => {
    const r1 = await first('ok');
    const r2 = await client('ok').responses.create({
        model: MOA, input: 'What is my name?', previous_response_id: r1.id,
    });

    // limit 1: the SDK follows has_more and last_id page after page
    const items = [];
    for await (const item of client('ok').responses.inputItems
        .list(r2.id, { order: 'asc', limit: 1 })) {
        items.push(item);
    }
    assert.deepEqual(items.map((i) => [i.type, i.role,
                                       i.content.map((p) => p.text).join('')]),
                     [['message', 'user', 'My name is Ada.'],
                      ['message', 'assistant', ANSWER],
                      ['message', 'user', 'What is my name?']]);
    for (const i of items) {
        assert.equal(typeof i.id, 'string', 'each item has an id');
    }

    const page = await client('ok').responses.inputItems.list(r2.id);
    assert.equal(page.data.length, 3);
    assert.equal(page.data[0].content[0].text, 'What is my name?',
                 'desc by default: the last item first');
    assert.equal(page.has_more, false);
});


test('responses.delete: gone for retrieve and for previous_response_id',
     T, async () => {
    const r1 = await first('ok');
    const r2 = await client('ok').responses.create({
        model: MOA, input: 'What is my name?', previous_response_id: r1.id,
    });

    await client('ok').responses.delete(r1.id);

    const err = await client('ok').responses.retrieve(r1.id)
        .then(() => null, (e) => e);
    assert.ok(err instanceof OpenAI.NotFoundError,
              `NotFoundError (got ${err?.constructor?.name}: ${err})`);

    const cont = await client('ok').responses.create({
        model: MOA, input: 'Hello?', previous_response_id: r1.id,
    }).then(() => null, (e) => e);
    assert.ok(cont instanceof OpenAI.NotFoundError,
              `NotFoundError (got ${cont?.constructor?.name}: ${cont})`);
    assert.equal(cont.param, 'previous_response_id');

    // the later turn keeps its whole context
    const r3 = await client('ok').responses.create({
        model: MOA, input: 'Still there?', previous_response_id: r2.id,
    });
    assert.equal(r3.status, 'completed');
});


test('another API key: the same 404 as an unknown id', T, async () => {
    const r1 = await first('ok');
    const other = client('ok', { apiKey: 'sk-test-someone-else' });

    const err = await other.responses.retrieve(r1.id)
        .then(() => null, (e) => e);
    assert.ok(err instanceof OpenAI.NotFoundError,
              `NotFoundError (got ${err?.constructor?.name}: ${err})`);

    const unknown = await client('ok').responses
        .retrieve(`resp_${'0'.repeat(48)}`)
        .then(() => null, (e) => e);
    assert.ok(unknown instanceof OpenAI.NotFoundError);
    assert.equal(err.message.replace(r1.id, 'ID'),
                 unknown.message.replace(`resp_${'0'.repeat(48)}`, 'ID'),
                 'the same message');

    const cont = await other.responses.create({
        model: MOA, input: 'Hello?', previous_response_id: r1.id,
    }).then(() => null, (e) => e);
    assert.ok(cont instanceof OpenAI.NotFoundError);
    assert.equal(cont.param, 'previous_response_id');
});
