/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The mock provider's Responses API, in njs: POST /v1/responses answered
 * as OpenAI answers it (a Response object, or typed SSE events with
 * sequence numbers), scripted by the same $mock_scenario rules as
 * mock.chat (conf/mock-provider.md, "The Responses API").
 *
 *   js_import mockresp from /abs/path/conf/mock-responses.js;
 *   location = /v1/responses { js_content mockresp.responses; }
 *
 * Two uses: the provider behind the module's passthrough to a location
 * that speaks Responses, and a reference the client tests (t/sdk) run
 * against, so that a test that fails there is a bug of the test.
 *
 * The stage is X-Moa-Stage as for mock.chat, or $mock_stage when set (a
 * reference location has no module in front of it to send the header).
 *
 * Written for njs 0.7.9 (Debian 12), plain ES5 as mock-provider.js, whose
 * helpers it uses.
 */

import mock from 'mock-provider.js';

var M = mock.internal;

/* the finish reasons of a chat rule that make a Response incomplete */
var INCOMPLETE = {
    length: 'max_output_tokens',
    content_filter: 'content_filter'
};


function callInfo(r) {
    var info = M.callInfo(r), stage = r.variables.mock_stage;

    if (stage) {
        info.stage = String(stage);
    }

    return info;
}


function has(obj, key) {
    return M.jsonType(obj) === 'object'
           && Object.prototype.hasOwnProperty.call(obj, key);
}


/* req[key] when the request has it (null included), else def */
function given(req, key, def) {
    return has(req, key) ? req[key] : def;
}


/*
 * Check the request as far as a provider must to answer it: {req}, or
 * {error} (an OpenAI 400 body, with param), req set when it is an object.
 */
function parseRequest(text) {
    var req, bad;

    bad = function(message, param, r) {
        return { req: r, error: M.openaiError(message,
                                              'invalid_request_error',
                                              param) };
    };

    try {
        req = JSON.parse(text);

    } catch (e) {
        return bad('We could not parse the JSON body of your request: '
                   + e.message);
    }

    if (M.jsonType(req) !== 'object') {
        return bad('The request body must be a JSON object.');
    }

    if (typeof req.model !== 'string' || req.model === '') {
        return bad("Missing required parameter: 'model'.", 'model', req);
    }

    if (has(req, 'input') && typeof req.input !== 'string'
        && !Array.isArray(req.input))
    {
        return bad("Invalid type for 'input': expected a string or an"
                   + ' array of input items.', 'input', req);
    }

    if (!has(req, 'input') && !has(req, 'previous_response_id')) {
        return bad("Missing required parameter: 'input'.", 'input', req);
    }

    if (has(req, 'tools') && !Array.isArray(req.tools)) {
        return bad("Invalid type for 'tools': expected an array.", 'tools',
                   req);
    }

    return { req: req };
}


/* the tools as a Response echoes them: every key of a function tool */
function echoTools(tools) {
    return (tools || []).map(function(t) {
        if (M.jsonType(t) !== 'object' || t.type !== 'function') {
            return t;
        }

        return {
            type: 'function',
            name: t.name,
            description: given(t, 'description', null),
            parameters: given(t, 'parameters', null),
            strict: given(t, 'strict', true)
        };
    });
}


/* text as a Response echoes it: a json_schema format has every key */
function textOf(text) {
    var f;

    if (!has(text, 'format') || M.jsonType(text.format) !== 'object') {
        return { format: { type: 'text' } };
    }

    text = copy(text);
    f = text.format;

    if (f.type === 'json_schema') {
        f.description = given(f, 'description', null);
        f.strict = given(f, 'strict', false);
    }

    return text;
}


/* chat usage -> Responses usage */
function usageOf(u) {
    if (u === null) {
        return null;
    }

    return {
        input_tokens: u.prompt_tokens,
        input_tokens_details: {
            cached_tokens: u.prompt_tokens_details
                           ? u.prompt_tokens_details.cached_tokens : 0
        },
        output_tokens: u.completion_tokens,
        output_tokens_details: {
            reasoning_tokens: u.completion_tokens_details
                              ? u.completion_tokens_details.reasoning_tokens
                              : 0
        },
        total_tokens: u.total_tokens
    };
}


/*
 * The Response object with its final output and status; the stream's
 * snapshots are copies of it with status in_progress and no output.
 */
function responseOf(info, req, rep) {
    var output = [], suffix, text, refusal, calls, reason, res;

    suffix = info.stage + '_' + info.call;
    text = rep.contents[0];
    refusal = rep.refusal;
    calls = rep.toolCalls[0];

    if (text !== null || refusal !== null) {
        var content = [];

        if (text !== null) {
            content.push({ type: 'output_text', annotations: [],
                           logprobs: [], text: text });
        }

        if (refusal !== null) {
            content.push({ type: 'refusal', refusal: refusal });
        }

        output.push({ id: 'msg_mock_' + suffix, type: 'message',
                      status: 'completed', role: 'assistant',
                      content: content });
    }

    calls.forEach(function(c, i) {
        output.push({ id: 'fc_mock_' + suffix + '_' + i,
                      type: 'function_call', status: 'completed',
                      arguments: c.arguments, call_id: c.id,
                      name: c.name });
    });

    reason = INCOMPLETE[rep.finish];

    res = {
        id: 'resp_mock_' + suffix,
        object: 'response',
        created_at: rep.created,
        status: reason ? 'incomplete' : 'completed',
        background: false,
        completed_at: reason ? null : rep.created,
        error: null,
        frequency_penalty: given(req, 'frequency_penalty', 0),
        incomplete_details: reason ? { reason: reason } : null,
        instructions: given(req, 'instructions', null),
        max_output_tokens: given(req, 'max_output_tokens', null),
        max_tool_calls: given(req, 'max_tool_calls', null),
        model: req.model,
        output: output,
        parallel_tool_calls: given(req, 'parallel_tool_calls', true),
        presence_penalty: given(req, 'presence_penalty', 0),
        previous_response_id: given(req, 'previous_response_id', null),
        prompt_cache_key: given(req, 'prompt_cache_key', null),
        reasoning: {
            effort: has(req.reasoning, 'effort') ? req.reasoning.effort
                                                 : null,
            summary: null
        },
        safety_identifier: given(req, 'safety_identifier', null),
        service_tier: 'default',
        store: given(req, 'store', true),
        temperature: given(req, 'temperature', 1),
        text: textOf(req.text),
        tool_choice: given(req, 'tool_choice', 'auto'),
        tools: echoTools(req.tools),
        top_logprobs: given(req, 'top_logprobs', 0),
        top_p: given(req, 'top_p', 1),
        truncation: given(req, 'truncation', 'disabled'),
        usage: usageOf(rep.usage),
        user: given(req, 'user', null),
        metadata: given(req, 'metadata', {})
    };

    return res;
}


function copy(v) {
    return JSON.parse(JSON.stringify(v));
}


/*
 * The typed events of a streamed Response, in OpenAI's order, each a
 * whole SSE frame ("event: <type>" and "data: <json>"), numbered from 0.
 * opts.firstDelta is set to the index after the first text delta (where
 * a stream_error goes).
 */
function streamEvents(res, rule, opts, eol) {
    var events = [], snapshot, seq = 0, k;

    function ev(type, fields) {
        var e = { type: type, sequence_number: seq++ }, keys, i;

        keys = Object.keys(fields);

        for (i = 0; i < keys.length; i++) {
            e[keys[i]] = fields[keys[i]];
        }

        events.push('event: ' + type + eol + 'data: ' + JSON.stringify(e)
                    + eol + eol);
    }

    snapshot = copy(res);
    snapshot.status = 'in_progress';
    snapshot.completed_at = null;
    snapshot.incomplete_details = null;
    snapshot.output = [];
    snapshot.usage = null;

    ev('response.created', { response: snapshot });
    ev('response.in_progress', { response: snapshot });

    res.output.forEach(function(item, oi) {
        var added = copy(item), ids = { item_id: item.id, output_index: oi };

        added.status = 'in_progress';

        if (item.type === 'function_call') {
            added.arguments = '';
            ev('response.output_item.added', { output_index: oi,
                                               item: added });

            M.pieces(item.arguments, opts.chunks).forEach(function(p) {
                ev('response.function_call_arguments.delta',
                   { item_id: item.id, output_index: oi, delta: p });
            });

            ev('response.function_call_arguments.done',
               { item_id: item.id, output_index: oi,
                 arguments: item.arguments });
            ev('response.output_item.done', { output_index: oi,
                                              item: item });
            return;
        }

        added.content = [];
        ev('response.output_item.added', { output_index: oi, item: added });

        item.content.forEach(function(part, ci) {
            var empty = part.type === 'refusal'
                        ? { type: 'refusal', refusal: '' }
                        : { type: 'output_text', annotations: [],
                            logprobs: [], text: '' };

            function at(fields) {
                fields.item_id = ids.item_id;
                fields.output_index = oi;
                fields.content_index = ci;
                return fields;
            }

            ev('response.content_part.added', at({ part: empty }));

            if (part.type === 'refusal') {
                ev('response.refusal.delta', at({ delta: part.refusal }));
                ev('response.refusal.done', at({ refusal: part.refusal }));

            } else {
                M.pieces(part.text, opts.chunks).forEach(function(p) {
                    ev('response.output_text.delta',
                       at({ delta: p, logprobs: [] }));

                    if (opts.firstDelta === undefined) {
                        opts.firstDelta = events.length;
                    }
                });

                ev('response.output_text.done',
                   at({ text: part.text, logprobs: [] }));
            }

            ev('response.content_part.done', at({ part: part }));
        });

        ev('response.output_item.done', { output_index: oi, item: item });
    });

    k = res.status === 'incomplete' ? 'response.incomplete'
                                    : 'response.completed';
    ev(k, { response: res });

    if (rule.stream_error) {
        if (opts.firstDelta === undefined) {
            opts.firstDelta = 2;
        }

        /* the error's own sequence number: the events after it go */
        seq = opts.firstDelta;
        events = events.slice(0, opts.firstDelta);

        var err = Object.assign({ message: 'mock: stream error',
                                  type: 'server_error', param: null,
                                  code: null }, rule.stream_error);

        /* OpenAI's shape (code, message, param at the top) and the Open
         * Responses one (an error object) at once */
        ev('error', { code: err.code, message: err.message,
                      param: err.param, error: err });
        opts.errorEvent = events.pop();
        opts.errorAt = opts.firstDelta;
    }

    return events;
}


/* POST /v1/responses, answered as $mock_scenario says */
function responses(r) {
    var info = callInfo(r), out = new M.Out(r, info), raw, parsed, rule;
    var stream;

    r.warn('mock: start stage=' + info.stage + ' call=' + info.call
           + ' t=' + M.now());

    try {
        raw = M.bodyText(r);

    } catch (e) {
        r.error('mock: ' + e.message);
        out.json(500, M.openaiError('mock: ' + e.message, 'server_error'));
        return;
    }

    parsed = parseRequest(raw);
    stream = !!(parsed.req && parsed.req.stream === true);

    r.warn('mock: stage=' + info.stage + ' call=' + info.call + ' api=responses'
           + ' model=' + M.asText(parsed.req ? parsed.req.model : undefined)
           + ' stream=' + stream + ' body=' + M.oneLine(raw));

    if (parsed.error) {
        out.json(400, parsed.error);
        return;
    }

    try {
        rule = M.ruleFor(r, info);

    } catch (e) {
        r.error('mock: ' + e.message);
        out.json(500, M.openaiError('mock: ' + e.message, 'server_error'));
        return;
    }

    M.later(rule.delay, function() {
        var status = rule.status || 200, req = parsed.req, rep, res, err;
        var opts, events;

        if (rule.body !== undefined) {
            out.whole(status, rule.content_type || 'application/json',
                      rule.body, rule.headers);
            return;
        }

        if (status >= 400) {
            err = M.openaiError('mock: status ' + status + ' for stage '
                                + info.stage + ' call ' + info.call,
                                status >= 500 ? 'server_error'
                                              : 'invalid_request_error');
            Object.assign(err.error, rule.error || {});
            out.json(status, err, rule.headers);
            return;
        }

        /* n is a Chat Completions parameter: one output here */
        rep = M.buildReply(info, { model: req.model,
                                   temperature: req.temperature },
                           raw, rule, 'resp_mock_');
        res = responseOf(info, req, rep);

        if (!stream) {
            out.json(status, res, rule.headers);
            return;
        }

        opts = { chunks: rule.chunks || 3, framed: true };
        events = streamEvents(res, rule, opts, rule.crlf ? '\r\n' : '\n');

        opts.interval = rule.interval || 0;
        opts.cut = rule.stream_cut_after;
        opts.crlf = rule.crlf;
        opts.split = rule.split;
        opts.splitDelay = rule.split_delay === undefined ? 10
                                                         : rule.split_delay;

        out.stream(status, events, opts, rule.headers);
    });
}


export default { responses: responses };
