// The project's runner of the Open Responses compliance checks
// (https://github.com/openresponses/openresponses, src/lib/compliance-tests.ts):
// the same seven checks, each named by the upstream test it corresponds
// to, written here from the specification (schema/*.tsp of that
// repository, commit 3533b21): every Response object, plain or the one a
// stream ends with, must have the keys of the ResponseResource schema with
// their types; every streamed event must be one of the streaming event
// types with its fields; then each check's own conditions.
//
// A library (t/sdk/compliance.test.mjs runs it under t/070-sdk.t) and a
// command for any endpoint:
//
//   node t/sdk/compliance.mjs --base-url http://127.0.0.1:8080/v1 \
//        --model moa-gpt-4o-v1 [--api-key KEY]
//
// No dependencies: Node 18's fetch.

import { pathToFileURL } from 'node:url';

// ---------------------------------------------------------------------
// a small structural validator: each shape is a function (value, path)
// returning the list of what is wrong

function kind(v) {
    if (v === null) return 'null';
    if (Array.isArray(v)) return 'array';
    return typeof v;
}

const is = (want, test) => (v, path) =>
    (test(v) ? [] : [`${path}: expected ${want}, got ${JSON.stringify(v)}`]);

const S = {
    any: () => [],
    string: is('a string', (v) => typeof v === 'string'),
    number: is('a number', (v) => typeof v === 'number' && isFinite(v)),
    int: is('an integer', (v) => Number.isInteger(v)),
    bool: is('a boolean', (v) => typeof v === 'boolean'),
    object: is('an object', (v) => kind(v) === 'object'),
    literal: (x) => is(JSON.stringify(x), (v) => v === x),
    oneOf: (...xs) => is(`one of ${xs.join(', ')}`, (v) => xs.includes(v)),
    nullable: (shape) => (v, path) => (v === null ? [] : shape(v, path)),
    array: (shape) => (v, path) => (Array.isArray(v)
        ? v.flatMap((x, i) => shape(x, `${path}[${i}]`))
        : [`${path}: expected an array, got ${JSON.stringify(v)}`]),

    // required keys, and optional ones (absent, or of their shape)
    fields: (required, optional = {}) => (v, path) => {
        if (kind(v) !== 'object') {
            return [`${path}: expected an object, got ${JSON.stringify(v)}`];
        }
        const errors = [];
        for (const [k, shape] of Object.entries(required)) {
            if (!(k in v)) {
                errors.push(`${path}.${k}: required, missing`);
            } else {
                errors.push(...shape(v[k], `${path}.${k}`));
            }
        }
        for (const [k, shape] of Object.entries(optional)) {
            if (k in v && v[k] !== undefined) {
                errors.push(...shape(v[k], `${path}.${k}`));
            }
        }
        return errors;
    },

    // a union told apart by its "type"
    byType: (shapes) => (v, path) => {
        if (kind(v) !== 'object') {
            return [`${path}: expected an object, got ${JSON.stringify(v)}`];
        }
        const shape = shapes[v.type];
        return shape ? shape(v, path)
            : [`${path}.type: ${JSON.stringify(v.type)} is none of `
               + Object.keys(shapes).join(', ')];
    },

    union: (...shapes) => (v, path) => {
        const all = shapes.map((shape) => shape(v, path));
        return all.some((e) => e.length === 0) ? []
            : [`${path}: matches no allowed shape (${all[0].join('; ')})`];
    },
};

// ---------------------------------------------------------------------
// the shapes of the specification

const status = S.oneOf('in_progress', 'completed', 'incomplete');

const contentPart = S.byType({
    output_text: S.fields({ type: S.string, text: S.string,
                            annotations: S.array(S.object),
                            logprobs: S.array(S.object) }),
    refusal: S.fields({ type: S.string, refusal: S.string }),
    input_text: S.fields({ type: S.string, text: S.string }),
    text: S.fields({ type: S.string, text: S.string }),
    summary_text: S.fields({ type: S.string, text: S.string }),
    reasoning_text: S.fields({ type: S.string, text: S.string }),
    input_image: S.fields({ type: S.string }),
    input_file: S.fields({ type: S.string }),
});

const item = S.byType({
    message: S.fields({
        type: S.string, id: S.string, status,
        role: S.oneOf('user', 'assistant', 'system', 'developer'),
        content: S.array(contentPart),
    }),
    function_call: S.fields({
        type: S.string, id: S.string, call_id: S.string, name: S.string,
        arguments: S.string, status,
    }),
    function_call_output: S.fields({
        type: S.string, id: S.string, call_id: S.string,
        output: S.union(S.string, S.array(S.object)), status,
    }),
    reasoning: S.fields({ type: S.string, id: S.string,
                          summary: S.array(S.object) }),
});

const usage = S.fields({
    input_tokens: S.int, output_tokens: S.int, total_tokens: S.int,
    input_tokens_details: S.fields({ cached_tokens: S.int }),
    output_tokens_details: S.fields({ reasoning_tokens: S.int }),
});

const tool = S.byType({
    function: S.fields({
        type: S.string, name: S.string,
        description: S.nullable(S.string),
        parameters: S.nullable(S.object),
        strict: S.nullable(S.bool),
    }),
});

const toolChoice = S.union(
    S.oneOf('none', 'auto', 'required'),
    S.fields({ type: S.literal('function') }, { name: S.string }),
    S.fields({ type: S.literal('allowed_tools'), tools: S.array(S.object),
               mode: S.oneOf('none', 'auto', 'required') }),
);

const textField = S.fields({
    format: S.byType({
        text: S.fields({ type: S.string }),
        json_object: S.fields({ type: S.string }),
        json_schema: S.fields({ type: S.string, name: S.string,
                                description: S.nullable(S.string),
                                schema: S.nullable(S.object),
                                strict: S.bool }),
    }),
}, { verbosity: S.oneOf('low', 'medium', 'high') });

export const responseShape = S.fields({
    id: S.string,
    object: S.literal('response'),
    created_at: S.int,
    completed_at: S.nullable(S.int),
    status: S.string,
    incomplete_details: S.nullable(S.fields({ reason: S.string })),
    model: S.string,
    previous_response_id: S.nullable(S.string),
    instructions: S.nullable(S.string),
    output: S.array(item),
    error: S.nullable(S.fields({ code: S.string, message: S.string })),
    tools: S.array(tool),
    tool_choice: toolChoice,
    truncation: S.oneOf('auto', 'disabled'),
    parallel_tool_calls: S.bool,
    text: textField,
    top_p: S.number,
    presence_penalty: S.number,
    frequency_penalty: S.number,
    top_logprobs: S.int,
    temperature: S.number,
    reasoning: S.nullable(S.fields({
        effort: S.nullable(S.oneOf('none', 'low', 'medium', 'high', 'xhigh')),
        summary: S.nullable(S.oneOf('concise', 'detailed', 'auto')),
    })),
    usage: S.nullable(usage),
    max_output_tokens: S.nullable(S.int),
    max_tool_calls: S.nullable(S.int),
    store: S.bool,
    background: S.bool,
    service_tier: S.string,
    metadata: S.any,
    safety_identifier: S.nullable(S.string),
    prompt_cache_key: S.nullable(S.string),
});

// the streaming events: the fields beside type and sequence_number
const onItem = { item_id: S.string, output_index: S.int };
const onPart = { ...onItem, content_index: S.int };
const onSummary = { ...onItem, summary_index: S.int };
const textExtras = { logprobs: S.array(S.object), obfuscation: S.string };

const EVENTS = {
    'response.created': [{ response: responseShape }],
    'response.queued': [{ response: responseShape }],
    'response.in_progress': [{ response: responseShape }],
    'response.completed': [{ response: responseShape }],
    'response.failed': [{ response: responseShape }],
    'response.incomplete': [{ response: responseShape }],
    'response.output_item.added': [{ output_index: S.int,
                                      item: S.nullable(item) }],
    'response.output_item.done': [{ output_index: S.int,
                                     item: S.nullable(item) }],
    'response.content_part.added': [{ ...onPart, part: contentPart }],
    'response.content_part.done': [{ ...onPart, part: contentPart }],
    'response.output_text.delta': [{ ...onPart, delta: S.string },
                                   textExtras],
    'response.output_text.done': [{ ...onPart, text: S.string },
                                  { logprobs: S.array(S.object) }],
    'response.refusal.delta': [{ ...onPart, delta: S.string }],
    'response.refusal.done': [{ ...onPart, refusal: S.string }],
    'response.function_call_arguments.delta': [{ ...onItem, delta: S.string },
                                               { obfuscation: S.string }],
    'response.function_call_arguments.done': [{ ...onItem,
                                                arguments: S.string }],
    'response.reasoning.delta': [{ ...onPart, delta: S.string }],
    'response.reasoning.done': [{ ...onPart, text: S.string }],
    'response.reasoning_summary_part.added': [{ ...onSummary,
                                                part: contentPart }],
    'response.reasoning_summary_part.done': [{ ...onSummary,
                                               part: contentPart }],
    'response.reasoning_summary_text.delta': [{ ...onSummary,
                                                delta: S.string }],
    'response.reasoning_summary_text.done': [{ ...onSummary,
                                               text: S.string }],
    'response.output_text.annotation.added': [{ ...onPart,
                                                annotation_index: S.int,
                                                annotation: S.any }],
    error: [{ error: S.fields({ type: S.string, code: S.nullable(S.string),
                                message: S.string,
                                param: S.nullable(S.string) }) }],
};

export function checkEvent(e, path = 'event') {
    if (kind(e) !== 'object') {
        return [`${path}: not a JSON object`];
    }
    const spec = EVENTS[e.type];
    if (!spec) {
        return [`${path}.type: ${JSON.stringify(e.type)} is not a streaming`
                + ' event type'];
    }
    const [required, optional] = spec;
    return S.fields({ type: S.string, sequence_number: S.int, ...required },
                    optional)(e, `${path}(${e.type})`);
}

// ---------------------------------------------------------------------
// SSE: the events of a response body, in order, and the frames that are
// not JSON (as errors)

export async function readEvents(body) {
    const decoder = new TextDecoder();
    const events = [];
    const errors = [];
    let text = '';
    let data = [];
    let name = null;

    function dispatch() {
        if (data.length) {
            const raw = data.join('\n');
            if (raw === '[DONE]') {
                errors.push('a [DONE] frame: the Responses API sends none');
            } else {
                try {
                    events.push({ event: name, data: JSON.parse(raw) });
                } catch {
                    errors.push(`a frame that is not JSON: ${raw}`);
                }
            }
        }
        data = [];
        name = null;
    }

    function line(l) {
        if (l === '') return dispatch();
        if (l.startsWith(':')) return undefined;        // a comment
        const colon = l.indexOf(':');
        const field = colon < 0 ? l : l.slice(0, colon);
        let value = colon < 0 ? '' : l.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') data.push(value);
        else if (field === 'event') name = value;
        return undefined;
    }

    for await (const chunk of body) {
        text += decoder.decode(chunk, { stream: true });
        const lines = text.split(/\r\n|\r|\n/);
        text = lines.pop();
        lines.forEach(line);
    }
    if (text !== '') line(text);
    dispatch();
    return { events, errors };
}

// ---------------------------------------------------------------------
// the checks: id = the upstream test's id

const hasOutput = (r) => (r.output?.length ? []
    : ['the response has no output items']);

const completed = (r) => (r.status === 'completed' ? []
    : [`status is ${JSON.stringify(r.status)}, not "completed"`]);

const hasItem = (type) => (r) => (r.output?.some((i) => i.type === type)
    ? [] : [`no output item of type ${type}`]);

const WEATHER_TOOL = {
    type: 'function',
    name: 'get_weather',
    description: 'The current weather at a place',
    parameters: {
        type: 'object',
        properties: { location: { type: 'string',
                                  description: 'A city, e.g. Paris' } },
        required: ['location'],
    },
};

// a 1x1 PNG
export const PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB'
    + 'CAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

function user(content) {
    return { type: 'message', role: 'user', content };
}

// the events a streamed function call must have
function functionCallEvents(r, events) {
    const errors = [];
    const types = events.map((e) => e.data.type);
    const with_ = (type) => events.some((e) => e.data.type === type
                                        && e.data.item?.type === 'function_call');
    if (!with_('response.output_item.added')) {
        errors.push('no response.output_item.added with a function_call');
    }
    for (const t of ['response.function_call_arguments.delta',
                     'response.function_call_arguments.done']) {
        if (!types.includes(t)) errors.push(`no ${t} event`);
    }
    if (!with_('response.output_item.done')) {
        errors.push('no response.output_item.done with a function_call');
    }
    return errors;
}

export const CHECKS = [
    {
        id: 'basic-response',
        name: 'Basic Text Response',
        request: (model) => ({ model, input: [user('Greet me briefly.')] }),
        validators: [hasOutput, completed],
    },
    {
        id: 'streaming-response',
        name: 'Streaming Response',
        stream: true,
        request: (model) => ({ model,
                               input: [user('List three primary colours.')] }),
        validators: [completed],
    },
    {
        id: 'system-prompt',
        name: 'System Prompt',
        request: (model) => ({ model, input: [
            { type: 'message', role: 'system',
              content: 'You are a sailor: answer like one.' },
            user('Greet me.'),
        ] }),
        validators: [hasOutput, completed],
    },
    {
        id: 'tool-calling',
        name: 'Tool Calling',
        tools: true,
        request: (model) => ({ model,
                               input: [user('What is the weather in Paris?')],
                               tools: [WEATHER_TOOL] }),
        validators: [hasOutput, hasItem('function_call')],
    },
    {
        id: 'tool-calling-streaming',
        name: 'Tool Calling (Streaming)',
        tools: true,
        stream: true,
        request: (model) => ({ model,
                               input: [user('What is the weather in Paris?')],
                               tools: [WEATHER_TOOL] }),
        validators: [functionCallEvents],
    },
    {
        id: 'image-input',
        name: 'Image Input',
        request: (model) => ({ model, input: [user([
            { type: 'input_text', text: 'Describe this image in one line.' },
            { type: 'input_image', image_url: PNG },
        ])] }),
        validators: [hasOutput, completed],
    },
    {
        id: 'multi-turn',
        name: 'Multi-turn Conversation',
        request: (model) => ({ model, input: [
            user('My name is Ada.'),
            { type: 'message', role: 'assistant',
              content: 'Nice to meet you, Ada.' },
            user('What is my name?'),
        ] }),
        validators: [hasOutput, completed],
    },
];

// One check against baseUrl (ending in /v1): { id, name, passed, errors,
// request, response, events }.  Never throws.
export async function runCheck(check, { baseUrl, model, apiKey = 'none',
                                        fetch: f = fetch, signal }) {
    const request = { ...check.request(model), stream: !!check.stream };
    const result = { id: check.id, name: check.name, passed: false,
                     errors: [], request, response: null, events: [] };

    try {
        const res = await f(`${baseUrl}/responses`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json',
                       Authorization: `Bearer ${apiKey}` },
            body: JSON.stringify(request),
            signal,
        });

        if (!res.ok) {
            result.errors.push(`HTTP ${res.status}: ${await res.text()}`);
            return result;
        }

        if (check.stream) {
            const { events, errors } = await readEvents(res.body);
            result.events = events;
            result.errors.push(...errors);
            if (events.length === 0) {
                result.errors.push('no streaming events');
            }
            events.forEach((e, i) => {
                result.errors.push(...checkEvent(e.data, `event[${i}]`));
            });
            const last = events.findLast((e) => [
                'response.completed', 'response.failed',
                'response.incomplete'].includes(e.data.type));
            result.response = last ? last.data.response : null;
        } else {
            result.response = await res.json();
        }

        // the shape, then the check's own conditions (upstream stops at
        // a shape error; both are told here, the verdict is the same)
        result.errors.push(...responseShape(result.response, 'response'));

        if (kind(result.response) === 'object') {
            for (const v of check.validators) {
                result.errors.push(...v(result.response, result.events));
            }
        }
    } catch (e) {
        result.errors.push(String(e?.stack ?? e));
    }

    result.passed = result.errors.length === 0;
    return result;
}

// the command
async function main(argv) {
    const opts = { model: null, baseUrl: null, apiKey: 'none' };
    for (let i = 0; i < argv.length; i += 2) {
        const key = { '--base-url': 'baseUrl', '--model': 'model',
                      '--api-key': 'apiKey' }[argv[i]];
        if (!key || argv[i + 1] === undefined) {
            console.error('usage: node compliance.mjs --base-url URL'
                          + ' --model MODEL [--api-key KEY]');
            return 2;
        }
        opts[key] = argv[i + 1];
    }
    if (!opts.baseUrl || !opts.model) return main(['--help']);

    let failed = 0;
    for (const check of CHECKS) {
        const r = await runCheck(check, opts);
        failed += r.passed ? 0 : 1;
        console.log(`${r.passed ? 'PASS' : 'FAIL'} ${r.id} (${r.name})`);
        for (const e of r.errors) console.log(`    ${e}`);
    }
    console.log(`${CHECKS.length - failed}/${CHECKS.length} checks passed`);
    return failed ? 1 : 0;
}

if (process.argv[1]
    && import.meta.url === pathToFileURL(process.argv[1]).href) {
    process.exitCode = await main(process.argv.slice(2));
}
