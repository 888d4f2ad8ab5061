/*
 * Mock OpenAI-compatible provider for ngx_http_moa_module, in njs.
 *
 * One file, three entry points (load with `js_import mock from <path>;`):
 *
 *   mock.chat    POST /v1/chat/completions driven by the JSON scenario in
 *                $mock_scenario (the test suite's mock; see mock-provider.md)
 *   mock.models  GET /v1/models and /v1/models/{id} from $mock_models
 *   mock.demo    the offline "demo provider" of `make run`: a friendly,
 *                deterministic stand-in for a real model
 *
 * The module tells each upstream call apart with two request headers set in
 * its internal location: X-Moa-Stage (proposal|critique|synthesis|
 * passthrough) and X-Moa-Call (0-based index within the stage).  A request
 * without them is stage "direct", call 0.
 *
 * Written for njs 0.7.9 (Debian 12): no for..of, destructuring, spread,
 * Array.from or eval; arrow functions, let/const and template literals are
 * fine but plain ES5 is used throughout for clarity.
 */

var DEFAULT_CONTENT = '{stage} {call}: model={model} temperature={temperature}';

var FILLER = ' Lorem ipsum dolor sit amet, consectetur adipiscing elit,'
             + ' sed do eiusmod tempor incididunt ut labore et dolore magna'
             + ' aliqua.';

/* every field a scenario rule may carry, with the JSON types it accepts */
var RULE_FIELDS = {
    delay:            ['number'],
    status:           ['number'],
    headers:          ['object'],
    content:          ['string', 'null'],
    echo:             ['boolean'],
    tool_calls:       ['array'],
    finish_reason:    ['string'],
    refusal:          ['string', 'null'],
    usage:            ['object', 'null'],
    usage_details:    ['boolean'],
    body:             ['string'],
    content_type:     ['string'],
    size:             ['number'],
    error:            ['object'],
    chunks:           ['number'],
    interval:         ['number'],
    stream_cut_after: ['number'],
    stream_error:     ['object'],
    crlf:             ['boolean'],
    split:            ['boolean', 'number'],
    split_delay:      ['number'],
    /* the recipes' part, at the end of this file */
    reasoning_model:  ['boolean'],
    reasoning_content: ['string']
};


/* ---------------------------------------------------------------------- */
/* small helpers                                                           */

function jsonType(v) {
    if (v === null) {
        return 'null';
    }

    if (Array.isArray(v)) {
        return 'array';
    }

    return typeof v;
}


function now() {
    return Date.now();
}


/* which call of the chain this request is */
function callInfo(r) {
    var stage = r.headersIn['X-Moa-Stage'];
    var call = parseInt(r.headersIn['X-Moa-Call'], 10);

    return {
        stage: stage ? String(stage) : 'direct',
        call: isNaN(call) ? 0 : call,
        layer: layerOf(r)
    };
}


/*
 * The raw request body.  njs only hands out in-memory bodies.  A body that
 * nginx spooled to a temporary file (bigger than client_body_buffer_size)
 * is read back from $request_body_file, which works only when the file
 * still has a name (client_body_in_file_only on|clean): a plain spooled
 * body is unlinked at once and cannot be read.
 */
function bodyText(r) {
    var text, file;

    try {
        text = r.requestText;

    } catch (e) {
        file = r.variables.request_body_file;

        try {
            text = require('fs').readFileSync(file, 'utf8');

        } catch (e2) {
            throw new Error('cannot read the request body (' + e.message
                            + ', ' + e2.message + '): raise'
                            + ' client_body_buffer_size in the mock'
                            + ' location so bodies stay in memory');
        }
    }

    return text === undefined || text === null ? '' : String(text);
}


/* one log line per request: CR/LF escaped so it stays one line */
function oneLine(s) {
    return s.replace(/\r/g, '\\r').replace(/\n/g, '\\n');
}


function openaiError(message, type, param, code) {
    return {
        error: {
            message: message,
            type: type,
            param: param === undefined ? null : param,
            code: code === undefined ? null : code
        }
    };
}


/* the value of a request field as text: "none" when absent */
function asText(v) {
    if (v === undefined) {
        return 'none';
    }

    return typeof v === 'string' ? v : JSON.stringify(v);
}


/*
 * Parse and check the chat request: {req}, or {error} (an OpenAI 400 body)
 * with req set too when the body is at least a JSON object (for the log).
 */
function parseRequest(text) {
    var req;

    try {
        req = JSON.parse(text);

    } catch (e) {
        return { error: openaiError('We could not parse the JSON body of your'
                                    + ' request: ' + e.message,
                                    'invalid_request_error') };
    }

    if (jsonType(req) !== 'object') {
        return { error: openaiError('The request body must be a JSON object.',
                                    'invalid_request_error') };
    }

    if (typeof req.model !== 'string' || req.model === '') {
        return { req: req,
                 error: openaiError('you must provide a model parameter',
                                    'invalid_request_error') };
    }

    if (!Array.isArray(req.messages) || req.messages.length === 0) {
        return { req: req,
                 error: openaiError("Missing required parameter: 'messages'"
                                    + ' (a non-empty array).',
                                    'invalid_request_error') };
    }

    return { req: req };
}


/* number of choices asked for */
function choiceCount(req) {
    var n = req.n;

    return (typeof n === 'number' && n > 1) ? Math.floor(n) : 1;
}


function byteLength(s) {
    return Buffer.byteLength(s);
}


/* pad s with filler text to at least size bytes */
function pad(s, size) {
    var need, fill;

    s = s === null ? '' : s;
    need = size - byteLength(s);

    if (need <= 0) {
        return s;
    }

    fill = FILLER.repeat(Math.ceil(need / FILLER.length));

    return s + fill.substring(0, need);
}


/* split s into at most k non-empty pieces of about equal length */
function pieces(s, k) {
    var out = [], len, step, i;

    if (s === null || s === undefined || s === '') {
        return out;
    }

    len = s.length;
    k = Math.max(1, Math.min(Math.floor(k), len));
    step = Math.ceil(len / k);

    for (i = 0; i < len; i += step) {
        out.push(s.substring(i, i + step));
    }

    return out;
}


/* ---------------------------------------------------------------------- */
/* scenario                                                                */

/*
 * Parse $mock_scenario and return the merged rule for this call:
 * default, then <stage>, then <stage>.<call>, later keys winning.
 * Throws an Error with a readable message on a bad scenario.
 */
function ruleFor(r, info) {
    return ruleFromText(r.variables.mock_scenario, info);
}


/* the same from the scenario's text (the batch mock has no request) */
function ruleFromText(text, info) {
    var scn, rule = {}, keys, i, k, part, f, t;

    if (!text) {
        return rule;
    }

    try {
        scn = JSON.parse(text);

    } catch (e) {
        throw new Error('bad $mock_scenario JSON (' + e.message + '): ' + text);
    }

    if (jsonType(scn) !== 'object') {
        throw new Error('$mock_scenario must be a JSON object: ' + text);
    }

    /* check every rule, not only the ones this call uses: a typo must fail
     * the test that has it, whatever call it names */
    keys = Object.keys(scn);

    for (i = 0; i < keys.length; i++) {
        part = scn[keys[i]];

        if (jsonType(part) !== 'object') {
            throw new Error('$mock_scenario: rule "' + keys[i]
                            + '" must be an object');
        }

        f = Object.keys(part);

        for (k = 0; k < f.length; k++) {
            if (!RULE_FIELDS.hasOwnProperty(f[k])) {
                throw new Error('$mock_scenario: unknown field "' + f[k]
                                + '" in rule "' + keys[i] + '"');
            }

            t = jsonType(part[f[k]]);

            if (RULE_FIELDS[f[k]].indexOf(t) === -1) {
                throw new Error('$mock_scenario: field "' + f[k]
                                + '" in rule "' + keys[i] + '" must be '
                                + RULE_FIELDS[f[k]].join(' or ')
                                + ', not ' + t);
            }
        }
    }

    [ 'default', info.stage, info.stage + '.' + info.call ]
        .concat(layerRuleKeys(info)).forEach(
        function(key) {
            if (scn.hasOwnProperty(key)) {
                Object.assign(rule, scn[key]);
            }
        });

    return rule;
}


/* ---------------------------------------------------------------------- */
/* building the answer                                                     */

/*
 * Turn a rule and the request into a plain reply description shared by the
 * JSON and the SSE writers:
 *   { id, model, contents[], refusal, toolCalls[][], finish, usage }
 */
function buildReply(info, req, raw, rule, idPrefix) {
    var n = choiceCount(req);
    var vars, base, contents = [], toolCalls = [], calls, finish, i;

    vars = {
        stage: info.stage,
        call: String(info.call),
        model: asText(req.model),
        temperature: asText(req.temperature),
        n: asText(req.n)
    };

    calls = (rule.tool_calls || []).map(function(tc, i) {
        var args = tc.arguments;

        if (args === undefined) {
            args = '{}';

        } else if (typeof args !== 'string') {
            args = JSON.stringify(args);
        }

        return {
            id: tc.id || 'call_' + info.stage + '_' + info.call + '_' + i,
            name: String(tc.name || 'tool'),
            arguments: args
        };
    });

    if (rule.echo) {
        base = raw;

    } else if (rule.content !== undefined) {
        base = rule.content;

    } else if (calls.length || (rule.refusal !== undefined
                                && rule.refusal !== null))
    {
        base = null;

    } else {
        base = DEFAULT_CONTENT;
    }

    if (base !== null && !rule.echo) {
        base = base.replace(/\{(stage|call|model|temperature|n)\}/g,
                            function(m, name) { return vars[name]; });
    }

    if (rule.size) {
        base = pad(base, rule.size);
    }

    for (i = 0; i < n; i++) {
        contents.push((base === null || i === 0) ? base : base + ' #' + i);

        /* ids stay unique across choices: the client sends them back */
        toolCalls.push(calls.map(function(c) {
            return {
                id: i === 0 ? c.id : c.id + '_n' + i,
                name: c.name,
                arguments: c.arguments
            };
        }));
    }

    finish = rule.finish_reason || (calls.length ? 'tool_calls' : 'stop');

    return {
        reasoning: reasoningText(rule),
        id: idPrefix + info.stage + '-' + info.call,
        model: req.model,
        created: Math.floor(now() / 1000),
        contents: contents,
        refusal: rule.refusal === undefined ? null : rule.refusal,
        toolCalls: toolCalls,
        finish: finish,
        usage: buildUsage(rule)
    };
}


/* {prompt,completion,total}_tokens (+ details), or null for "no usage" */
function buildUsage(rule) {
    var given = rule.usage, u, keys, i;

    if (rule.reasoning_model && given === undefined) {
        given = { completion_tokens: 5,
                  completion_tokens_details: { reasoning_tokens: 3 } };
    }

    if (given === null) {
        return null;
    }

    given = given || {};

    u = {
        prompt_tokens: given.hasOwnProperty('prompt_tokens')
                       ? given.prompt_tokens : 10,
        completion_tokens: given.hasOwnProperty('completion_tokens')
                           ? given.completion_tokens : 5
    };

    u.total_tokens = given.hasOwnProperty('total_tokens')
                     ? given.total_tokens
                     : u.prompt_tokens + u.completion_tokens;

    if (rule.usage_details) {
        u.prompt_tokens_details = { cached_tokens: 2 };
        u.completion_tokens_details = { reasoning_tokens: 1 };
    }

    keys = Object.keys(given);

    for (i = 0; i < keys.length; i++) {
        if (!u.hasOwnProperty(keys[i]) || keys[i].indexOf('_details') > 0) {
            u[keys[i]] = given[keys[i]];
        }
    }

    return u;
}


/* the chat.completion object */
function completionJson(rep) {
    var out, choices = [], i;

    for (i = 0; i < rep.contents.length; i++) {
        var msg = {
            role: 'assistant',
            content: rep.contents[i],
            refusal: rep.refusal
        };

        if (rep.reasoning !== undefined) {
            msg.reasoning_content = rep.reasoning;
        }

        if (rep.toolCalls[i].length) {
            msg.tool_calls = rep.toolCalls[i].map(function(c) {
                return {
                    id: c.id,
                    type: 'function',
                    'function': { name: c.name, arguments: c.arguments }
                };
            });
        }

        choices.push({
            index: i,
            message: msg,
            logprobs: null,
            finish_reason: rep.finish
        });
    }

    out = {
        id: rep.id,
        object: 'chat.completion',
        created: rep.created,
        model: rep.model,
        system_fingerprint: 'fp_mock',
        choices: choices
    };

    if (rep.usage !== null) {
        out.usage = rep.usage;
    }

    return out;
}


/*
 * The SSE data payloads (strings) of a streamed reply, in order, as OpenAI
 * sends them: per choice a role chunk, the content pieces, a refusal chunk,
 * the tool call fragments and the finish chunk; then the usage chunk when
 * asked for; then [DONE].
 */
function streamEvents(rep, req, opts) {
    var events = [], withUsage, i, j;

    withUsage = jsonType(req.stream_options) === 'object'
                && req.stream_options.include_usage === true
                && rep.usage !== null;

    function chunk(choices) {
        var c = {
            id: rep.id,
            object: 'chat.completion.chunk',
            created: rep.created,
            model: rep.model,
            system_fingerprint: 'fp_mock',
            choices: choices
        };

        if (withUsage) {
            c.usage = null;
        }

        return c;
    }

    function delta(index, d, finish) {
        return chunk([{
            index: index,
            delta: d,
            logprobs: null,
            finish_reason: finish === undefined ? null : finish
        }]);
    }

    for (i = 0; i < rep.contents.length; i++) {
        var contentPieces, calls = rep.toolCalls[i];

        events.push(delta(i, { role: 'assistant', content: '' }));

        contentPieces = opts.pieces
                        ? opts.pieces(rep.contents[i])
                        : pieces(rep.contents[i], opts.chunks);

        for (j = 0; j < contentPieces.length; j++) {
            events.push(delta(i, { content: contentPieces[j] }));

            if (i === 0 && j === 0) {
                opts.firstContent = events.length;
            }
        }

        if (rep.refusal !== null) {
            events.push(delta(i, { refusal: rep.refusal }));
        }

        for (j = 0; j < calls.length; j++) {
            var argPieces = pieces(calls[j].arguments, opts.chunks), k;

            events.push(delta(i, { tool_calls: [{
                index: j,
                id: calls[j].id,
                type: 'function',
                'function': { name: calls[j].name, arguments: '' }
            }] }));

            for (k = 0; k < argPieces.length; k++) {
                events.push(delta(i, { tool_calls: [{
                    index: j,
                    'function': { arguments: argPieces[k] }
                }] }));
            }
        }

        events.push(delta(i, {}, rep.finish));
    }

    if (withUsage) {
        var last = chunk([]);
        last.usage = rep.usage;
        events.push(last);
    }

    return events.map(function(e) { return JSON.stringify(e); });
}


/* ---------------------------------------------------------------------- */
/* writing the answer                                                      */

/*
 * Wrappers that survive a client (or the module cancelling a call) closing
 * the connection: once a write fails njs throws on every later call,
 * finish() included, which would log "[error] js exception".
 */
function Out(r, info) {
    this.r = r;
    this.info = info;
    this.dead = false;
}


Out.prototype.attempt = function(what, fn) {
    if (this.dead) {
        return false;
    }

    try {
        fn();
        return true;

    } catch (e) {
        /* nginx already logged the socket error at info; njs then throws
         * a stray value (undefined, a function), never an Error: an Error
         * is a bug of ours, say so */
        this.dead = true;

        if (e instanceof Error) {
            this.r.error('mock: ' + what + ' failed: ' + e);
            return false;
        }

        this.r.warn('mock: ' + what + ' failed, connection gone: stage='
                    + this.info.stage + ' call=' + this.info.call);
        return false;
    }
};


Out.prototype.done = function() {
    this.r.warn('mock: done stage=' + this.info.stage + ' call='
                + this.info.call + ' t=' + now());
};


Out.prototype.headers = function(headers) {
    var r = this.r;

    Object.keys(headers || {}).forEach(function(name) {
        r.headersOut[name] = String(headers[name]);
    });
};


/* a complete response in one go */
Out.prototype.whole = function(status, contentType, body, headers) {
    var r = this.r;

    this.done();

    /* not r.return(): when the peer is gone it throws an exception whose
     * handling logs "r.requestBody is deprecated" warnings */
    this.attempt('reply', function() {
        r.status = status;
        r.headersOut['Content-Type'] = contentType;
        r.headersOut['Content-Length'] = byteLength(body);
        this.headers(headers);
        r.sendHeader();
        r.send(body);
        r.finish();
    }.bind(this));
};


Out.prototype.json = function(status, obj, headers) {
    this.whole(status, 'application/json', JSON.stringify(obj), headers);
};


/*
 * Send SSE events one by one.  opts: interval (ms between events), cut
 * (stop after that many events, no [DONE]), crlf, split (false, true =
 * halves, n > 0 = after n chars, n < 0 = n chars from the end),
 * splitDelay (ms between the halves), errorAt/errorEvent (an error event
 * inserted after that many events).
 */
Out.prototype.stream = function(status, payloads, opts, headers) {
    var self = this, r = this.r, eol, events, sent = 0, i = 0;

    eol = opts.crlf ? '\r\n' : '\n';

    /* opts.framed: the payloads are whole SSE events (the Responses API's
     * "event:" + "data:" frames, mock-responses.js), with no [DONE] */
    events = payloads.map(function(p) {
        return opts.framed ? p : 'data: ' + p + eol + eol;
    });

    if (opts.errorEvent) {
        events.splice(opts.errorAt, events.length - opts.errorAt,
                      opts.framed ? opts.errorEvent
                                  : 'data: ' + opts.errorEvent + eol + eol);
    }

    if (!opts.framed) {
        events.push('data: [DONE]' + eol + eol);
    }

    function finish() {
        if (self.attempt('finish', function() { r.finish(); })) {
            r.warn('mock: end stage=' + self.info.stage + ' call='
                   + self.info.call + ' events=' + sent + ' t=' + now());
        }
    }

    function send(s) {
        return self.attempt('send', function() { r.send(s); });
    }

    function splitAt(s) {
        var at = opts.split === true ? Math.floor(s.length / 2) : opts.split;

        at = at < 0 ? s.length + at : at;

        return Math.max(1, Math.min(at, s.length - 1));
    }

    /* after an event went out: next one now or after the interval */
    function next() {
        if (opts.interval > 0 && i < events.length) {
            setTimeout(pump, opts.interval);

        } else {
            pump();
        }
    }

    function pump() {
        while (i < events.length) {
            var ev, at;

            if (opts.cut !== undefined && sent >= opts.cut) {
                break;
            }

            ev = events[i++];
            sent++;

            if (opts.split !== undefined && opts.split !== false) {
                at = splitAt(ev);

                if (!send(ev.substring(0, at))) {
                    return;
                }

                setTimeout(function() {
                    if (send(ev.substring(at))) {
                        next();
                    }
                }, opts.splitDelay);

                return;
            }

            if (!send(ev)) {
                return;
            }

            if (opts.interval > 0 && i < events.length) {
                setTimeout(pump, opts.interval);
                return;
            }
        }

        finish();
    }

    this.done();

    if (!this.attempt('header', function() {
            r.status = status;
            r.headersOut['Content-Type'] = 'text/event-stream; charset=utf-8';
            r.headersOut['Cache-Control'] = 'no-cache';
            self.headers(headers);
            r.sendHeader();
        }))
    {
        return;
    }

    pump();
};


/* ---------------------------------------------------------------------- */
/* entry points                                                            */

/*
 * Common start of chat() and demo(): log the arrival and the request, read
 * and parse the body.  Returns {info, out, raw, req, stream} or null when
 * the request was already answered (400, or 500 for an unreadable body).
 */
function begin(r) {
    var info = callInfo(r), out = new Out(r, info), raw, parsed, stream;

    r.warn('mock: start stage=' + info.stage + ' call=' + info.call
           + ' t=' + now());

    try {
        raw = bodyText(r);

    } catch (e) {
        r.error('mock: ' + e.message);
        out.json(500, openaiError('mock: ' + e.message, 'server_error'));
        return null;
    }

    parsed = parseRequest(raw);
    stream = !!(parsed.req && parsed.req.stream === true);

    r.warn('mock: stage=' + info.stage + ' call=' + info.call
           + ' model=' + asText(parsed.req ? parsed.req.model : undefined)
           + ' stream=' + stream + ' body=' + oneLine(raw));

    if (info.layer > 1) {
        r.warn('mock: layer=' + info.layer + ' stage=' + info.stage
               + ' call=' + info.call);
    }

    if (parsed.error) {
        out.json(400, parsed.error);
        return null;
    }

    return { info: info, out: out, raw: raw, req: parsed.req, stream: stream };
}


function later(ms, fn) {
    if (ms > 0) {
        setTimeout(fn, ms);

    } else {
        fn();
    }
}


/* POST /v1/chat/completions answered as $mock_scenario says */
function chat(r) {
    var c, rule, out;

    c = begin(r);

    if (c === null) {
        return;
    }

    out = c.out;

    try {
        rule = ruleFor(r, c.info);

    } catch (e) {
        r.error('mock: ' + e.message);
        out.json(500, openaiError('mock: ' + e.message, 'server_error'));
        return;
    }

    later(rule.delay, function() {
        var status = rule.status || 200, rep, err;

        err = reasoningRefusal(c.req, rule);

        if (err) {
            out.json(400, err);
            return;
        }

        if (rule.body !== undefined) {
            out.whole(status, rule.content_type || 'application/json',
                      rule.body, rule.headers);
            return;
        }

        if (status >= 400) {
            err = openaiError('mock: status ' + status + ' for stage '
                              + c.info.stage + ' call ' + c.info.call,
                              status >= 500 ? 'server_error'
                                            : 'invalid_request_error');
            Object.assign(err.error, rule.error || {});
            out.json(status, err, rule.headers);
            return;
        }

        rep = buildReply(c.info, c.req, c.raw, rule, 'chatcmpl-mock-');

        if (!c.stream) {
            out.json(status, completionJson(rep), rule.headers);
            return;
        }

        var opts = { chunks: rule.chunks || 3 };
        var payloads = streamEvents(rep, c.req, opts);

        if (rule.stream_error) {
            opts.errorEvent = JSON.stringify({
                error: Object.assign({
                    message: 'mock: stream error',
                    type: 'server_error',
                    param: null,
                    code: null
                }, rule.stream_error)
            });

            /* after the first content chunk, or after the role chunk */
            opts.errorAt = opts.firstContent || 1;
        }

        opts.interval = rule.interval || 0;
        opts.cut = rule.stream_cut_after;
        opts.crlf = rule.crlf;
        opts.split = rule.split;
        opts.splitDelay = rule.split_delay === undefined ? 10
                                                         : rule.split_delay;

        out.stream(status, payloads, opts, rule.headers);
    });
}


/* GET /v1/models and /v1/models/{id}, ids from $mock_models */
function models(r) {
    var info = { stage: 'models', call: 0 }, out = new Out(r, info);
    var ids, m, list;

    ids = (r.variables.mock_models || 'gpt-4o').split(',')
          .map(function(s) { return s.trim(); })
          .filter(function(s) { return s !== ''; });

    list = ids.map(function(id) {
        return { id: id, object: 'model', created: 0, owned_by: 'mock' };
    });

    m = r.uri.match(/\/models\/([^\/]+)$/);

    if (m) {
        var id = decodeURIComponent(m[1]), i = ids.indexOf(id);

        if (i === -1) {
            out.json(404, openaiError("The model '" + id
                                      + "' does not exist",
                                      'invalid_request_error', 'model',
                                      'model_not_found'));
            return;
        }

        out.json(200, list[i]);
        return;
    }

    out.json(200, { object: 'list', data: list });
}


/* ---------------------------------------------------------------------- */
/* demo provider                                                           */

/* text of a message's content: a string or an array of parts */
function messageText(m) {
    var c = m && m.content;

    if (typeof c === 'string') {
        return c;
    }

    if (Array.isArray(c)) {
        return c.filter(function(p) {
            return p && p.type === 'text' && typeof p.text === 'string';
        }).map(function(p) { return p.text; }).join(' ');
    }

    return '';
}


/*
 * The user's question, shortened to one line.  Critique and synthesis
 * calls end with the module's own instruction message: skip it.
 */
function userQuote(req, stage) {
    var msgs = req.messages, last = msgs.length - 1, i, t;

    if (stage === 'critique' || stage === 'synthesis') {
        last--;
    }

    for (i = last; i >= 0; i--) {
        if (msgs[i] && msgs[i].role === 'user') {
            t = messageText(msgs[i]).replace(/\s+/g, ' ').trim();

            if (t.length > 80) {
                t = t.substring(0, 77) + '...';
            }

            return t || '(no text)';
        }
    }

    return '(no user message)';
}


var DEMO_ANGLES = [
    'the short, direct answer first, then one supporting detail',
    'a step-by-step walk through the question',
    'a concrete example, then the general rule behind it',
    'the main trade-offs, then a recommendation'
];


function demoText(stage, call, quote) {
    var angle = DEMO_ANGLES[call % DEMO_ANGLES.length];

    switch (stage) {
    case 'proposal':
        return 'Draft ' + (call + 1) + ': for "' + quote + '" I would give '
               + angle + '. (This draft comes from the offline demo'
               + ' provider: no language model was called.)';

    case 'critique':
        return 'Critique: every draft addresses "' + quote + '". Draft 1 is'
               + ' the most direct; the others add structure and an'
               + ' example but are longer than needed. None of them holds'
               + ' real content, because they come from the offline demo'
               + ' provider.';

    case 'synthesis':
        return 'Final answer (demo provider, offline): you asked "' + quote
               + '". This reply went through the whole Mixture-of-Agents'
               + ' chain in nginx (parallel proposals, one critique, one'
               + ' synthesis), but every call was answered by the built-in'
               + ' demo provider, which runs no model. Point the module at'
               + ' a real OpenAI-compatible provider to get real answers.';

    default:
        return 'Demo provider (offline): you said "' + quote + '". This is'
               + ' a canned reply; no language model was called.';
    }
}


/*
 * A judge prompt of moa-eval (its answer delimiters): a verdict label that
 * prefers the longer answer, as judges tend to, or null for any other
 * request.  No model reads the answers: moa-eval's report says the demo
 * provider answered.
 */
function demoJudge(req) {
    var t = messageText(req.messages[req.messages.length - 1]);
    var a = t.split("<|The Start of Assistant A's Answer|>")[1];
    var b = t.split("<|The Start of Assistant B's Answer|>")[1];
    var la, lb;

    if (a === undefined || b === undefined) {
        return null;
    }

    la = a.split("<|The End of Assistant A's Answer|>")[0].length;
    lb = b.split("<|The End of Assistant B's Answer|>")[0].length;

    return 'Demo judge (offline): no language model read these answers; it'
           + ' prefers the longer one. My final verdict: [['
           + (la > lb ? 'A>B' : la < lb ? 'B>A' : 'A=B') + ']]';
}


/*
 * Offline demo provider for `make run`: any chat request, streamed or not,
 * gets a short deterministic reply that shows which stage it answers.
 * Delays of 50-115 ms make the parallel proposals visible in the timings.
 */
function demo(r) {
    var c = begin(r), delay, text, rule;

    if (c === null) {
        return;
    }

    text = demoJudge(c.req)
           || demoText(c.info.stage, c.info.call,
                       userQuote(c.req, c.info.stage));

    /* rough token counts, ~4 bytes a token, so usage sums look plausible */
    rule = {
        content: text,
        usage: {
            prompt_tokens: Math.ceil(byteLength(c.raw) / 4),
            completion_tokens: Math.ceil(byteLength(text) / 4)
        }
    };

    delay = c.info.stage === 'proposal' ? 80 + (c.info.call * 35) % 70 : 50;

    later(delay, function() {
        var rep = buildReply(c.info, c.req, c.raw, rule, 'chatcmpl-demo-');

        if (!c.stream) {
            c.out.json(200, completionJson(rep));
            return;
        }

        /* word by word, like a model would */
        var opts = {
            pieces: function(s) {
                return s === null ? [] : s.match(/\S+\s*|\s+/g) || [];
            },
            chunks: 3,
            interval: 15
        };

        c.out.stream(200, streamEvents(rep, c.req, opts), opts);
    });
}




/* ---------------------------------------------------------------------- */
/* the recipes: layers and reasoning models                                */

/*
 * The layer of a proposal (moa_layers), from X-Moa-Layer ($moa_layer): 0
 * when absent.  A rule "<stage>@<layer>" and then "<stage>@<layer>.<call>"
 * apply after the others, e.g. {"proposal@2": {"echo": true}}.
 */
function layerOf(r) {
    var layer = parseInt(r.headersIn['X-Moa-Layer'], 10);

    return isNaN(layer) ? 0 : layer;
}


function layerRuleKeys(info) {
    if (!info.layer) {
        return [];
    }

    return [ info.stage + '@' + info.layer,
             info.stage + '@' + info.layer + '.' + info.call ];
}


/*
 * "reasoning_model": true answers as an o-series model does: 400 for a
 * temperature (any value: the module must send none) or a max_tokens,
 * and a message with reasoning_content (rule "reasoning_content", or a
 * default) and completion_tokens_details.reasoning_tokens 3 of 5.
 */
function reasoningRefusal(req, rule) {
    if (!rule.reasoning_model) {
        return null;
    }

    if (req.hasOwnProperty('temperature')) {
        return openaiError("Unsupported value: 'temperature' does not support"
                           + ' ' + JSON.stringify(req.temperature) + ' with'
                           + ' this model. Only the default (1) value is'
                           + ' supported.', 'invalid_request_error',
                           'temperature', 'unsupported_value');
    }

    if (req.hasOwnProperty('max_tokens')) {
        return openaiError("Unsupported parameter: 'max_tokens' is not"
                           + ' supported with this model. Use'
                           + " 'max_completion_tokens' instead.",
                           'invalid_request_error', 'max_tokens',
                           'unsupported_parameter');
    }

    return null;
}


function reasoningText(rule) {
    if (!rule.reasoning_model) {
        return undefined;
    }

    return rule.reasoning_content === undefined ? 'mock reasoning'
                                                : rule.reasoning_content;
}



/*
 * One chat answer without a request, for the batch mock (mock-batch.js):
 * the request body's text, the call it stands for ({stage, call}), the
 * scenario's text and a rule merged over it.  Returns {status, body}: the
 * chat.completion, or the error body of a scenario's status >= 400.
 */
function answer(raw, info, scenario, extra) {
    var parsed = parseRequest(raw), rule, err;

    if (parsed.error) {
        return { status: 400, body: parsed.error };
    }

    rule = Object.assign(ruleFromText(scenario, info), extra || {});

    if ((rule.status || 200) >= 400) {
        err = openaiError('mock: status ' + rule.status + ' for stage '
                          + info.stage + ' call ' + info.call,
                          rule.status >= 500 ? 'server_error'
                                             : 'invalid_request_error');
        Object.assign(err.error, rule.error || {});
        return { status: rule.status, body: err };
    }

    return { status: 200,
             body: completionJson(buildReply(info, parsed.req, raw, rule,
                                             'chatcmpl-mock-')) };
}


/* the helpers conf/mock-responses.js builds its Responses API answers with */
var internal = {
    jsonType: jsonType, now: now, callInfo: callInfo, bodyText: bodyText,
    oneLine: oneLine, openaiError: openaiError, asText: asText,
    pieces: pieces, ruleFor: ruleFor, buildReply: buildReply, Out: Out,
    later: later
};


export default { chat: chat, models: models, demo: demo, answer: answer,
                 internal: internal };
