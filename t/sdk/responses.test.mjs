// The Responses API through the SDK: responses.create (plain and
// streamed), responses.stream (the helper's events and finalResponse),
// responses.parse with a zod schema, a tool loop (function_call ->
// function_call_output -> the answer).  Each runs against the module and
// against the reference mock (lib.mjs, TARGETS); the passthrough runs
// against the module alone (the reference has no chain to pass through).

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
    ANSWER, BASE, MOA, OpenAI, PACKAGE, T, TARGETS, client, responsesUsageOf,
} from './lib.mjs';

const { zodTextFormat } = await import(`${PACKAGE}/helpers/zod`);
const { z } = await import('zod');


const QUESTION = 'Why is the sky blue?';
const INSTRUCTIONS = 'You answer in one sentence.';

const TOOLS = [{
    type: 'function',
    name: 'get_weather',
    description: 'The weather forecast for a city',
    parameters: {
        type: 'object',
        properties: {
            city: { type: 'string' },
            unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
            days: { type: 'integer' },
        },
        required: ['city', 'unit', 'days'],
        additionalProperties: false,
    },
    strict: true,
}];

// the call the "tools" scenario makes the synthesis answer
const CALL_ID = 'call_mock_weather_1';
const ARGS = { city: 'Paris', unit: 'celsius', days: 3 };
const TOOL_OUTPUT = JSON.stringify({ forecast: ['sun', 'rain', 'sun'] });

// the answer of the "json" scenario, and the schema it follows
const Weather = z.object({
    city: z.string(),
    temperature_c: z.number(),
    conditions: z.array(z.string()),
});
const WEATHER = { city: 'Paris', temperature_c: 21,
                  conditions: ['sunny', 'windy'] };


function at(target, scenario) {
    return client(`${scenario}${target.path}`);
}


// what every Response object has, whatever the request
function checkResponse(r, model) {
    assert.match(r.id, /^resp_/, 'id');
    assert.equal(r.object, 'response');
    assert.ok(Number.isInteger(r.created_at), 'created_at is an integer');
    assert.equal(r.model, model, 'model');
    assert.ok(Array.isArray(r.output), 'output is an array');
    assert.equal(r.error ?? null, null, 'no error');
    assert.ok(Array.isArray(r.tools), 'tools echoed');
    for (const item of r.output) {
        assert.equal(typeof item.id, 'string', `${item.type}: id`);
        assert.equal(item.status, 'completed', `${item.type}: status`);
    }
}


function messageText(r) {
    return r.output.filter((i) => i.type === 'message')
        .flatMap((i) => i.content)
        .filter((p) => p.type === 'output_text')
        .map((p) => p.text).join('');
}


// a stream's events: numbered 0, 1, 2 ... in OpenAI's order, the deltas
// adding up to what the .done events and the final response say
function checkEvents(events) {
    const types = events.map((e) => e.type);

    events.forEach((e, i) => assert.equal(e.sequence_number, i,
                                          `${e.type}: sequence_number ${i}`));
    assert.equal(types[0], 'response.created', 'response.created first');
    assert.equal(types[1], 'response.in_progress', 'then in_progress');
    assert.equal(events[0].response.status, 'in_progress');
    assert.equal(types.at(-1), 'response.completed', 'completed last');
    assert.equal(types.filter((t) => t === 'response.completed').length, 1);
    assert.equal(events[0].response.id, events.at(-1).response.id,
                 'one response id');

    const final = events.at(-1).response;
    const added = events.filter((e) => e.type === 'response.output_item.added');
    const done = events.filter((e) => e.type === 'response.output_item.done');
    assert.equal(added.length, final.output.length, 'an added per item');
    assert.equal(done.length, final.output.length, 'a done per item');

    final.output.forEach((item, oi) => {
        const mine = events.filter((e) => e.output_index === oi);
        const kinds = mine.map((e) => e.type);
        assert.equal(kinds[0], 'response.output_item.added',
                     `item ${oi}: added first`);
        assert.equal(kinds.at(-1), 'response.output_item.done',
                     `item ${oi}: done last`);
        assert.equal(mine[0].item.id, item.id, `item ${oi}: id`);
        assert.deepEqual(mine.at(-1).item, item,
                         `item ${oi}: output_item.done is the final item`);

        for (const e of mine.slice(1, -1)) {
            assert.equal(e.item_id, item.id, `${e.type}: item_id`);
        }

        if (item.type === 'message') {
            assert.deepEqual(kinds.slice(1, 2), ['response.content_part.added']);
            assert.deepEqual(kinds.slice(-3, -1),
                             ['response.output_text.done',
                              'response.content_part.done']);
            const deltas = mine.filter(
                (e) => e.type === 'response.output_text.delta');
            assert.ok(deltas.length >= 1, 'text deltas');
            const text = deltas.map((e) => e.delta).join('');
            assert.equal(text, item.content[0].text, 'the deltas add up');
            assert.equal(mine.at(-3).text, text, 'output_text.done');
            for (const e of deltas) {
                assert.equal(e.content_index, 0, 'content_index');
            }
        } else {
            assert.equal(item.type, 'function_call');
            assert.equal(mine[0].item.call_id, item.call_id, 'call_id');
            assert.equal(mine[0].item.name, item.name, 'name');
            const deltas = mine.filter(
                (e) => e.type === 'response.function_call_arguments.delta');
            assert.equal(kinds.at(-2),
                         'response.function_call_arguments.done');
            assert.equal(deltas.map((e) => e.delta).join(''), item.arguments,
                         'the argument deltas add up');
            assert.equal(mine.at(-2).arguments, item.arguments);
        }
    });

    return final;
}


async function collect(stream) {
    const events = [];
    for await (const e of stream) {
        events.push(e);
    }
    return events;
}


// the request the provider got, as the "echo" scenario answers it: the
// chain's Chat Completions request (module), the Responses request itself
// (reference)
function sentOf(r) {
    return JSON.parse(messageText(r));
}


for (const target of TARGETS) {
    const name = (what) => `${target.name}: ${what}`;
    const ref = target.name === 'reference';

    test(name('responses.create: the synthesis as a message, usage'),
         T, async () => {
        const { data: r, response } = await at(target, 'ok').responses
            .create({ model: MOA, input: QUESTION, instructions: INSTRUCTIONS })
            .withResponse();

        assert.equal(response.status, 200);
        assert.match(response.headers.get('content-type'),
                     /^application\/json/);
        checkResponse(r, MOA);
        assert.equal(r.status, 'completed');
        assert.equal(r.output.length, 1, 'one output item');
        const [m] = r.output;
        assert.equal(m.type, 'message');
        assert.equal(m.role, 'assistant');
        assert.deepEqual(m.content, [{ type: 'output_text', text: ANSWER,
                                       annotations: [], logprobs: [] }]);
        assert.equal(r.output_text, ANSWER, 'the SDK\'s output_text');
        assert.equal(r.instructions, INSTRUCTIONS, 'instructions echoed');
        assert.deepEqual(responsesUsageOf(r.usage), target.usage);
    });

    test(name('responses.create stream: typed events in order, numbered, usage'),
         T, async () => {
        const { data: stream, response } = await at(target, 'ok').responses
            .create({ model: MOA, input: QUESTION, stream: true })
            .withResponse();

        assert.match(response.headers.get('content-type'),
                     /^text\/event-stream/);
        const events = await collect(stream);
        const final = checkEvents(events);

        checkResponse(final, MOA);
        assert.equal(messageText(final), ANSWER);
        assert.ok(events.filter((e) => e.type === 'response.output_text.delta')
                  .length >= 2, 'the text in several deltas');
        assert.deepEqual(responsesUsageOf(final.usage), target.usage);
    });

    test(name('responses.stream: the helper\'s events and finalResponse'),
         T, async () => {
        const stream = at(target, 'ok').responses.stream({
            model: MOA, input: [{ role: 'user', content: QUESTION }],
        });
        const deltas = [];
        const seen = [];
        stream.on('response.output_text.delta', (e) => deltas.push(e.delta));
        stream.on('event', (e) => seen.push(e.type));

        const final = await stream.finalResponse();

        checkResponse(final, MOA);
        assert.equal(final.status, 'completed');
        assert.equal(deltas.join(''), ANSWER, 'the deltas');
        // (finalResponse().output_text: openai 7 only)
        assert.equal(messageText(final), ANSWER, 'finalResponse()\'s text');
        assert.equal(seen[0], 'response.created');
        assert.equal(seen.at(-1), 'response.completed');
        assert.deepEqual(responsesUsageOf(final.usage), target.usage);
    });

    test(name('responses.parse with a zod schema: output_parsed'),
         T, async () => {
        const r = await at(target, 'json').responses.parse({
            model: MOA,
            input: 'The weather in Paris, as JSON.',
            text: { format: zodTextFormat(Weather, 'weather') },
        });

        checkResponse(r, MOA);
        assert.deepEqual(r.output_parsed, WEATHER, 'output_parsed');
        assert.equal(r.text.format.type, 'json_schema', 'text.format echoed');
        assert.equal(r.text.format.name, 'weather');
    });

    test(name('the zod schema reaches the provider as a JSON schema'),
         T, async () => {
        const format = zodTextFormat(Weather, 'weather');
        const r = await at(target, 'jsonecho').responses.create({
            model: MOA, input: 'The weather in Paris, as JSON.',
            text: { format },
        });
        const sent = sentOf(r);

        if (ref) {
            assert.deepEqual(sent.text.format, format);
            return;
        }

        // Chat Completions' response_format carries the same schema
        assert.equal(sent.response_format?.type, 'json_schema',
                     `response_format (sent: ${JSON.stringify(sent)})`);
        assert.equal(sent.response_format.json_schema.name, 'weather');
        assert.equal(sent.response_format.json_schema.strict, true);
        assert.deepEqual(sent.response_format.json_schema.schema,
                         format.schema);
    });

    test(name('tool loop: function_call, function_call_output, the answer'),
         T, async () => {
        // turn 1: the model calls the tool
        const input = [{ role: 'user',
                         content: 'The weather in Paris for 3 days?' }];
        const r1 = await at(target, 'tools').responses.create({
            model: MOA, input, tools: TOOLS, instructions: INSTRUCTIONS,
        });

        checkResponse(r1, MOA);
        assert.equal(r1.status, 'completed');
        const calls = r1.output.filter((i) => i.type === 'function_call');
        assert.equal(calls.length, 1, 'one function_call');
        const [call] = calls;
        assert.equal(call.call_id, CALL_ID, 'the provider\'s call id');
        assert.equal(call.name, 'get_weather');
        assert.deepEqual(JSON.parse(call.arguments), ARGS);
        assert.equal(r1.output_text, '', 'no text');
        assert.equal(r1.tools[0].name, 'get_weather', 'tools echoed');
        assert.deepEqual(responsesUsageOf(r1.usage), target.usage);

        // turn 2: the call and its output go back, the answer comes
        input.push(call, { type: 'function_call_output', call_id: call.call_id,
                           output: TOOL_OUTPUT });
        const r2 = await at(target, 'ok').responses.create({
            model: MOA, input, tools: TOOLS, instructions: INSTRUCTIONS,
        });
        checkResponse(r2, MOA);
        assert.equal(r2.output_text, ANSWER, 'the final answer');
        assert.equal(r2.output.filter((i) => i.type === 'function_call')
                     .length, 0, 'no more calls');

        // what the provider got for turn 2
        const r3 = await at(target, 'echo').responses.create({
            model: MOA, input, tools: TOOLS, instructions: INSTRUCTIONS,
        });
        const sent = sentOf(r3);

        if (ref) {
            assert.deepEqual(sent.input, JSON.parse(JSON.stringify(input)));
            return;
        }

        const msgs = sent.messages;
        assert.ok(Array.isArray(msgs), 'Chat Completions messages');
        assert.ok(['system', 'developer'].includes(msgs[0].role)
                  && JSON.stringify(msgs[0].content).includes(INSTRUCTIONS),
                  `instructions first (${JSON.stringify(msgs[0])})`);
        const asked = msgs.find((m) => m.role === 'assistant'
                                       && m.tool_calls?.length);
        assert.ok(asked, 'the function_call as an assistant tool call');
        assert.equal(asked.tool_calls[0].id, CALL_ID);
        assert.equal(asked.tool_calls[0].type, 'function');
        assert.equal(asked.tool_calls[0].function.name, 'get_weather');
        assert.deepEqual(JSON.parse(asked.tool_calls[0].function.arguments),
                         ARGS);
        const result = msgs.find((m) => m.role === 'tool');
        assert.ok(result, 'the function_call_output as a tool message');
        assert.equal(result.tool_call_id, CALL_ID);
        assert.equal(typeof result.content === 'string' ? result.content
                     : result.content.map((p) => p.text).join(''),
                     TOOL_OUTPUT);
        assert.ok(msgs.indexOf(asked) < msgs.indexOf(result), 'in order');
        assert.equal(sent.tools[0].type, 'function');
        assert.equal(sent.tools[0].function.name, 'get_weather',
                     'the tools in the Chat Completions shape');
        assert.deepEqual(sent.tools[0].function.parameters,
                         TOOLS[0].parameters);
    });

    test(name('streamed tool call: function_call_arguments events'),
         T, async () => {
        const stream = at(target, 'tools').responses.stream({
            model: MOA, input: 'The weather in Paris for 3 days?',
            tools: TOOLS,
        });
        const deltas = [];
        let done = null;
        stream.on('response.function_call_arguments.delta',
                  (e) => deltas.push(e.delta));
        stream.on('response.function_call_arguments.done', (e) => {
            done = e;
        });

        const final = await stream.finalResponse();
        const [call] = final.output.filter((i) => i.type === 'function_call');

        assert.ok(call, 'a function_call item');
        assert.equal(call.call_id, CALL_ID);
        assert.ok(deltas.length >= 2, `arguments in pieces (${deltas.length})`);
        assert.equal(deltas.join(''), call.arguments);
        assert.deepEqual(JSON.parse(done.arguments), ARGS);
        assert.deepEqual(responsesUsageOf(final.usage), target.usage);
    });

    test(name('bad input: BadRequestError 400 naming the parameter'),
         T, async () => {
        const err = await at(target, 'ok').responses
            .create({ model: MOA, input: 42 })
            .then(() => null, (e) => e);

        assert.ok(err instanceof OpenAI.BadRequestError,
                  `a BadRequestError (got ${err?.constructor?.name}: ${err})`);
        assert.equal(err.status, 400);
        assert.equal(err.type, 'invalid_request_error');
        assert.equal(err.param, 'input');
    });

    test(name('a stream that fails midway: an error, no response.completed'),
         T, async () => {
        const stream = await at(target, 'streamerror').responses.create({
            model: MOA, input: QUESTION, stream: true,
        });
        const events = [];
        let error = null;
        const timer = setTimeout(() => stream.controller.abort(), 10000);
        try {
            for await (const e of stream) {
                events.push(e);
            }
        } catch (e) {
            error = e;
        } finally {
            clearTimeout(timer);
        }

        const types = events.map((e) => e.type);
        assert.ok(!types.includes('response.completed'),
                  `no response.completed (${types.join(' ')})`);
        assert.ok(error instanceof OpenAI.APIError || types.includes('error')
                  || types.includes('response.failed'),
                  `the SDK sees the failure (${error}; ${types.join(' ')})`);
        assert.ok(!(error instanceof OpenAI.APIUserAbortError), 'no hang');
        assert.equal(types[0], 'response.created', 'it had started');
        const text = events.filter((e) => e.type === 'response.output_text.delta')
            .map((e) => e.delta).join('');
        assert.ok('partial answer that never ends'.startsWith(text),
                  `the text so far (${text})`);
    });

    test(name('slow proposals, keep-alive comments: the stream is whole'),
         T, async () => {
        const stream = await at(target, 'keepalive').responses.create({
            model: MOA, input: QUESTION, stream: true,
        });
        const final = checkEvents(await collect(stream));
        assert.equal(messageText(final), ANSWER);
    });
}


test('module: passthrough of another model, translated to Chat Completions',
     T, async () => {
    const r = await client('ok').responses.create({
        model: 'gpt-4o', input: QUESTION,
    });

    checkResponse(r, 'gpt-4o');
    assert.equal(r.output_text, 'plain passthrough answer');
    assert.deepEqual(responsesUsageOf(r.usage),
                     { input_tokens: 7, output_tokens: 3, total_tokens: 10 });
});


// moa_responses_pass: the body the client sent reaches the Responses
// provider byte for byte (the "native" scenario echoes it), and what the
// provider answers comes back byte for byte: the same bytes as the
// provider's straight answer, but for the time it was made
async function post(path, body) {
    const res = await fetch(`${BASE}/${path}/v1/responses`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json',
                   Authorization: 'Bearer sk-test-unused' },
        body,
        signal: AbortSignal.timeout(10000),
    });
    return { status: res.status, type: res.headers.get('content-type'),
             text: await res.text() };
}

function untimed(text) {
    return text.replace(/"(created_at|completed_at)":\d+/g, '"$1":0');
}

for (const stream of [false, true]) {
    test(`module: moa_responses_pass${stream ? ', streamed' : ''}: another`
         + ' model goes to the Responses provider and back byte for byte',
         T, async () => {
        // odd spacing, a built-in tool and background: forwarded as they are
        const body = `{"model": "gpt-4o-mini",  "input": [{"role": "user",`
            + ` "content": "caf\u00e9 é"}], "tools": [{"type":`
            + ` "web_search"}], "background": false, "stream": ${stream}}`;

        const via = await post('native/native', body);
        const direct = await post('native/provider', body);

        assert.equal(via.status, 200, via.text);
        assert.equal(via.type, direct.type, 'Content-Type');
        assert.equal(untimed(via.text), untimed(direct.text),
                     'the provider\'s answer, byte for byte');

        const final = stream
            ? JSON.parse(via.text.split('\n').filter(
                (l) => l.startsWith('data: ')).at(-1).slice(6)).response
            : JSON.parse(via.text);
        assert.equal(final.model, 'gpt-4o-mini');
        assert.equal(messageText(final), body, 'the body it got');
    });
}

test('module: moa_responses_pass through the SDK, streamed', T, async () => {
    const input = [{ role: 'user', content: QUESTION }];
    const events = await collect(await client('native/native').responses
        .create({ model: 'gpt-4o-mini', input, stream: true }));
    const final = checkEvents(events);

    assert.equal(final.model, 'gpt-4o-mini');
    assert.deepEqual(JSON.parse(messageText(final)).input, input);
    assert.ok(events.filter((e) => e.type === 'response.output_text.delta')
              .length >= 2, 'the provider\'s deltas');
});
