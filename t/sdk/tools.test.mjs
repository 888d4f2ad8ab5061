// Tool calls through the SDK: a streamed call reassembled by the SDK's own
// helper, then the conversation sent back with the tool's result.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
    MOA, MOA_USAGE, T, client, finalOf, usageOf,
} from './lib.mjs';


const TOOLS = [{
    type: 'function',
    function: {
        name: 'get_weather',
        description: 'The weather forecast for a city',
        parameters: {
            type: 'object',
            properties: {
                city: { type: 'string' },
                unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
                days: { type: 'integer' },
            },
            required: ['city'],
        },
    },
}];

const MESSAGES = [
    { role: 'system', content: 'You are a weather assistant.' },
    { role: 'user', content: 'What will the weather be in Paris for 3 days?' },
];

// the call the "tools" scenario makes the synthesis answer
const CALL_ID = 'call_mock_weather_1';
const ARGS = { city: 'Paris', unit: 'celsius', days: 3 };


test('streamed tool call, reassembled by chat.completions.stream()',
     T, async () => {
    const stream = client('tools').chat.completions.stream({
        model: MOA,
        messages: MESSAGES,
        tools: TOOLS,
        stream: true,
        stream_options: { include_usage: true },
    });

    const chunks = [];
    const argDeltas = [];
    const done = [];
    stream.on('chunk', (chunk) => chunks.push(chunk));
    stream.on('tool_calls.function.arguments.delta',
              (e) => argDeltas.push(e.arguments_delta));
    stream.on('tool_calls.function.arguments.done', (e) => done.push(e));

    const final = await finalOf(stream);

    assert.equal(final.model, MOA);
    const [choice] = final.choices;
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.ok(!choice.message.content, 'no text content');

    const calls = choice.message.tool_calls;
    assert.equal(calls.length, 1, 'one tool call');
    assert.equal(calls[0].id, CALL_ID, 'the provider\'s call id survives');
    assert.equal(calls[0].type, 'function');
    assert.equal(calls[0].function.name, 'get_weather');
    assert.deepEqual(JSON.parse(calls[0].function.arguments), ARGS);

    // it really came in fragments, shaped as the SDKs expect
    assert.ok(argDeltas.length >= 2,
              `arguments in fragments (${argDeltas.length})`);
    assert.equal(argDeltas.join(''), calls[0].function.arguments);
    assert.equal(done.length, 1, 'one arguments.done event');
    assert.equal(done[0].name, 'get_weather');

    const fragments = chunks.flatMap(
        (c) => c.choices.flatMap((ch) => ch.delta?.tool_calls ?? []));
    assert.equal(fragments[0].id, CALL_ID, 'the first fragment has the id');
    assert.equal(fragments[0].type, 'function');
    assert.equal(fragments[0].function.name, 'get_weather');
    for (const f of fragments) {
        assert.equal(f.index, 0, 'index of every fragment');
    }
    for (const f of fragments.slice(1)) {
        assert.equal(f.id, undefined, 'the id only once');
        assert.equal(f.function?.name, undefined, 'the name only once');
    }

    const usage = chunks.at(-1);
    assert.deepEqual(usage.choices, []);
    assert.deepEqual(usageOf(usage.usage), MOA_USAGE);
});


test('non-streamed tool call', T, async () => {
    const r = await client('tools').chat.completions.create({
        model: MOA, messages: MESSAGES, tools: TOOLS,
    });

    const [choice] = r.choices;
    assert.equal(r.model, MOA);
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.content, null);
    assert.equal(choice.message.tool_calls.length, 1);
    assert.equal(choice.message.tool_calls[0].id, CALL_ID);
    assert.equal(choice.message.tool_calls[0].function.name, 'get_weather');
    assert.deepEqual(JSON.parse(choice.message.tool_calls[0].function.arguments),
                     ARGS);
    assert.deepEqual(usageOf(r.usage), MOA_USAGE);
});


test('the tool result sent back reaches the synthesis unchanged', T, async () => {
    // turn 1: the tool call, streamed
    const stream = client('tools').chat.completions.stream({
        model: MOA, messages: MESSAGES, tools: TOOLS,
    });
    const final = await finalOf(stream);
    const call = final.choices[0].message.tool_calls[0];

    // turn 2: the assistant's call and the tool's answer; the "echo"
    // scenario's synthesis answers with the request it got
    const assistant = {
        role: 'assistant',
        content: null,
        tool_calls: [{
            id: call.id,
            type: 'function',
            function: { name: call.function.name,
                        arguments: call.function.arguments },
        }],
    };
    const result = {
        role: 'tool',
        tool_call_id: call.id,
        content: JSON.stringify({ forecast: ['sun', 'rain', 'sun'],
                                  unit: 'celsius' }),
    };
    const messages = [...MESSAGES, assistant, result];

    const r = await client('echo').chat.completions.create({
        model: MOA, messages, tools: TOOLS,
    });

    assert.equal(r.choices[0].finish_reason, 'stop');
    const sent = JSON.parse(r.choices[0].message.content);
    assert.equal(sent.model, 'gpt-4o', 'the synthesis asks the base model');
    assert.deepEqual(sent.messages.slice(0, messages.length), messages,
                     'the conversation, tool call and tool result unchanged');
    assert.equal(sent.messages[2].tool_calls[0].id, CALL_ID);
    assert.equal(sent.messages[3].tool_call_id, CALL_ID);
    assert.equal(sent.tools[0].function.name, 'get_weather', 'the tools');
});
