'use strict';

/*
 * The soak's load: SOAK_CLIENTS clients, each sending one request after
 * another for SOAK_SECONDS (a new connection each; one client in three
 * over a keep-alive connection, one in five over HTTP/2), a mix of MoA and
 * passthrough requests, streamed or not, bad input, and requests that the
 * client aborts at a random time.  Every response that was not aborted is
 * checked: a 200 must hold a valid chat completion (or a valid SSE stream
 * of chunks ending in [DONE], or in an error event and [DONE]), any other
 * status a valid OpenAI error in JSON; anything else is counted as "other"
 * with the reason.  Node's standard library only.
 *
 *   node client.js PORT H2PORT CLIENTS SECONDS RESULT.json
 */

const http = require('http');
const http2 = require('http2');
const fs = require('fs');

const [port, h2port, clients, seconds, resultFile] = [
    Number(process.argv[2]), Number(process.argv[3]),
    Number(process.argv[4]), Number(process.argv[5]), process.argv[6]
];

const MOA = 'moa-gpt-4o-v1';
const BASE = 'gpt-4o-mini';          /* not a MoA id: passthrough */
const REQUEST_TIMEOUT = 30000;       /* no answer in 30 s is a failure */

const ERROR_STATUSES = new Set([400, 401, 404, 405, 413, 429, 500, 502,
                                503, 504]);

/* ---------------------------------------------------------------------- */
/* what is sent */

function pick(weights) {
    let total = 0, r;
    for (const w of Object.values(weights)) {
        total += w;
    }
    r = Math.random() * total;
    for (const [k, w] of Object.entries(weights)) {
        if ((r -= w) < 0) {
            return k;
        }
    }
    return Object.keys(weights)[0];
}

function chatBody(model, stream) {
    const body = {
        model: model,
        messages: [
            { role: 'system', content: 'You are terse.' },
            { role: 'user', content: 'soak ' + Math.random().toString(36)
                                     + ': why is the sky blue?' }
        ]
    };

    if (Math.random() < 0.2) {
        body.temperature = 0.5;
        body.max_tokens = 200;
    }

    if (Math.random() < 0.1) {
        /* over client_body_buffer_size: nginx spools it to a file */
        body.messages.splice(1, 0,
            { role: 'user', content: 'context '.repeat(4000) },
            { role: 'assistant', content: 'noted' });
    }

    if (Math.random() < 0.1) {
        body.tools = [{ type: 'function', function: {
            name: 'get_weather',
            parameters: { type: 'object',
                          properties: { city: { type: 'string' } } } } }];
    }

    if (stream) {
        body.stream = true;
        if (Math.random() < 0.5) {
            body.stream_options = { include_usage: true };
        }
    }

    return JSON.stringify(body);
}

/* bad input: [method, body, expected status, extra headers] */
const BAD = {
    get:          () => ['GET', null, 405],
    put:          () => ['PUT', chatBody(MOA, false), 405],
    invalid_json: () => ['POST', '{"model": "moa-gpt-4o-v1", "messages": [',
                         400],
    array:        () => ['POST', '[1, 2, 3]', 400],
    empty:        () => ['POST', '', 400],
    no_messages:  () => ['POST', '{"model":"' + MOA + '"}', 400],
    not_array:    () => ['POST', '{"model":"' + MOA + '","messages":"hi"}',
                         400],
    bad_role:     () => ['POST', '{"model":"' + MOA + '","messages":'
                                 + '[{"role":"wizard","content":"x"}]}', 400],
    bad_stream:   () => ['POST', '{"model":"' + MOA + '","stream":"yes",'
                                 + '"messages":[{"role":"user",'
                                 + '"content":"x"}]}', 400],
    deep:         () => ['POST', '{"model":"' + MOA + '","messages":'
                                 + '['.repeat(5000) + ']'.repeat(5000) + '}',
                         400],
    trailing:     () => ['POST', chatBody(MOA, false) + ' garbage', 400],
    control:      () => ['POST', '{"model":"' + MOA + '","messages":[{"role":'
                                 + '"user","content":"a\u0001b"}]}', 400],
    too_large:    () => ['POST', chatBody(MOA, false).replace('soak ',
                                 'x'.repeat(80000)), 413],
    too_large_chunked: () => ['POST', chatBody(MOA, false).replace('soak ',
                                      'y'.repeat(80000)), 413,
                              { 'Transfer-Encoding': 'chunked' }],
};

function makeRequest() {
    const kind = pick({ moa: 33, moa_stream: 22, pt: 10, pt_stream: 5,
                        bad: 15, abort: 15 });
    let spec;

    switch (kind) {
    case 'moa':
    case 'moa_stream':
    case 'pt':
    case 'pt_stream': {
        const stream = kind.endsWith('_stream');
        const model = kind.startsWith('moa') ? MOA : BASE;
        spec = { kind: kind, method: 'POST', body: chatBody(model, stream),
                 stream: stream, model: model };
        if (stream && Math.random() < 0.2) {
            /* a slow reader: stops reading for a while at the first data */
            spec.pauseMs = Math.random() * 3000;
        }
        if (Math.random() < 0.1) {
            spec.headers = { 'Transfer-Encoding': 'chunked' };
        }
        break;
    }

    case 'bad': {
        const sub = pick(Object.fromEntries(Object.keys(BAD)
                                            .map(k => [k, 1])));
        const [method, body, expect, headers] = BAD[sub]();
        spec = { kind: 'bad', sub: sub, method: method, body: body,
                 expect: expect, headers: headers };
        break;
    }

    case 'abort': {
        const inner = pick({ moa: 4, moa_stream: 4, pt: 1, pt_stream: 1 });
        const stream = inner.endsWith('_stream');
        const model = inner.startsWith('moa') ? MOA : BASE;
        spec = { kind: 'abort', sub: inner, method: 'POST',
                 body: chatBody(model, stream), stream: stream, model: model,
                 abortAt: Math.random() * 2500,
                 abortHow: pick({ close: 4, reset: 4, midbody: 2 }) };
        break;
    }
    }

    return spec;
}

/* ---------------------------------------------------------------------- */
/* checks: null when valid, else the reason */

function isObject(v) {
    return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function checkError(j) {
    if (!isObject(j) || !isObject(j.error)) {
        return 'no "error" object';
    }

    const e = j.error;

    if (typeof e.message !== 'string' || e.message === '') {
        return 'error.message is not a string';
    }

    if (typeof e.type !== 'string') {
        return 'error.type is not a string';
    }

    if (!('param' in e) || !('code' in e)) {
        return 'error lacks param or code';
    }

    return null;
}

function checkUsage(u) {
    if (!isObject(u)) {
        return 'no usage';
    }

    for (const k of ['prompt_tokens', 'completion_tokens', 'total_tokens']) {
        if (!Number.isInteger(u[k]) || u[k] < 0) {
            return 'usage.' + k + ' is not a count';
        }
    }

    return null;
}

function checkCompletion(j, spec) {
    if (!isObject(j) || j.object !== 'chat.completion') {
        return 'object is not chat.completion';
    }

    if (typeof j.id !== 'string' || !Number.isInteger(j.created)) {
        return 'no id or created';
    }

    if (spec.model === MOA && j.model !== MOA) {
        return 'model is ' + j.model;
    }

    if (!Array.isArray(j.choices) || j.choices.length === 0) {
        return 'no choices';
    }

    for (const c of j.choices) {
        const m = c.message;

        if (!isObject(m) || m.role !== 'assistant') {
            return 'choice without an assistant message';
        }

        if (typeof m.content !== 'string'
            && !(m.content === null && Array.isArray(m.tool_calls)))
        {
            return 'message has neither content nor tool_calls';
        }

        if (typeof c.finish_reason !== 'string') {
            return 'no finish_reason';
        }
    }

    return checkUsage(j.usage);
}

/* -> [reason or null, ended with an error event] */
function checkStream(body, spec) {
    const events = body.split(/\r?\n\r?\n/);
    let done = false, error = false, chunks = 0;

    if (events.pop() !== '') {
        return ['the stream does not end with a blank line', false];
    }

    for (const ev of events) {
        const data = [];

        for (const line of ev.split(/\r?\n/)) {
            if (line.startsWith(':')) {
                continue;               /* a comment: progress, keepalive */
            }

            const m = /^data: ?(.*)$/.exec(line);

            if (!m) {
                return ['not an SSE line: ' + line.slice(0, 80), false];
            }

            data.push(m[1]);
        }

        if (data.length === 0) {
            continue;
        }

        if (done) {
            return ['an event after [DONE]', false];
        }

        const text = data.join('\n');

        if (text === '[DONE]') {
            done = true;
            continue;
        }

        if (error) {
            return ['an event after the error event', false];
        }

        let j;

        try {
            j = JSON.parse(text);
        } catch (e) {
            return ['an event that is not JSON: ' + text.slice(0, 80), false];
        }

        if (isObject(j) && 'error' in j) {
            const why = checkError(j);
            if (why) {
                return ['error event: ' + why, false];
            }
            error = true;
            continue;
        }

        if (!isObject(j) || j.object !== 'chat.completion.chunk'
            || !Array.isArray(j.choices))
        {
            return ['an event that is not a chunk', false];
        }

        if (spec.model === MOA && j.model !== MOA) {
            return ['chunk model is ' + j.model, false];
        }

        if (j.usage) {
            const why = checkUsage(j.usage);
            if (why) {
                return ['chunk ' + why, false];
            }
        }

        chunks++;
    }

    if (!done) {
        return ['no [DONE]', false];
    }

    if (!error && chunks === 0) {
        return ['no chunk before [DONE]', false];
    }

    return [null, error];
}

/* -> { outcome: 'ok'|'error'|'other', reason } */
function judge(spec, res, body) {
    const status = res.statusCode;
    const type = res.headers['content-type'] || '';

    if (spec.expect && status !== spec.expect) {
        return { outcome: 'other', reason: spec.sub + ': status ' + status
                                           + ', expected ' + spec.expect };
    }

    if (status === 200) {
        if (spec.stream) {
            if (!type.startsWith('text/event-stream')) {
                return { outcome: 'other', reason: 'stream with type '
                                                   + type };
            }
            const [why, error] = checkStream(body, spec);
            if (why) {
                return { outcome: 'other', reason: 'stream: ' + why };
            }
            return { outcome: error ? 'stream_error' : 'ok' };
        }

        if (!type.startsWith('application/json')) {
            return { outcome: 'other', reason: '200 with type ' + type };
        }

        let j;
        try {
            j = JSON.parse(body);
        } catch (e) {
            return { outcome: 'other', reason: '200 that is not JSON' };
        }

        const why = checkCompletion(j, spec);
        return why ? { outcome: 'other', reason: '200: ' + why }
                   : { outcome: 'ok' };
    }

    if (!ERROR_STATUSES.has(status)) {
        return { outcome: 'other', reason: 'status ' + status };
    }

    if (!type.startsWith('application/json')) {
        return { outcome: 'other', reason: status + ' with type ' + type };
    }

    let j;
    try {
        j = JSON.parse(body);
    } catch (e) {
        return { outcome: 'other', reason: status + ' that is not JSON' };
    }

    const why = checkError(j);
    if (why) {
        return { outcome: 'other', reason: status + ': ' + why };
    }

    if (status === 429 && !res.headers['retry-after']) {
        return { outcome: 'other', reason: '429 without Retry-After' };
    }

    return { outcome: 'error' };
}

/* ---------------------------------------------------------------------- */
/* sending */

/*
 * A keep-alive client retries once, on a new connection, a request that
 * failed on a reused connection before any response: the server may close
 * an idle connection just as the request is sent (on reload, always).
 * That race is HTTP's, every client library retries there; it is counted.
 * The same for HTTP/2 after the server's GOAWAY.
 */
async function sendRetrying(spec, agent, h2) {
    const r = h2 ? await sendH2(spec, h2) : await send(spec, agent);

    if (r.retryable) {
        stats.keepalive_retries++;
        return h2 ? sendH2(spec, h2) : send(spec, false);
    }

    return r;
}

/* HTTP/2: one session per client, new after the server's GOAWAY */
function h2session(holder) {
    let s = holder.session;

    if (!s || s.closed || s.destroyed || s.goneAway) {
        s = http2.connect('http://127.0.0.1:' + h2port);
        s.on('error', () => {});    /* each stream reports its own */
        s.on('goaway', () => { s.goneAway = true; });
        holder.session = s;
    }

    return s;
}

function sendH2(spec, holder) {
    return new Promise((resolve) => {
        const start = Date.now();
        const session = h2session(holder);
        const reused = !!session.used;
        const headers = { ':method': spec.method,
                          ':path': '/v1/chat/completions' };
        const parts = [];
        let finished = false, aborted = false, response = null;
        let timer, abortTimer, req;

        session.used = true;

        function finish(result) {
            if (finished) {
                return;
            }
            finished = true;
            clearTimeout(timer);
            clearTimeout(abortTimer);
            result.ms = Date.now() - start;
            resolve(result);
        }

        /* not answered, and the server said it did not take it */
        function retryable() {
            return response === null && (reused || session.goneAway);
        }

        if (spec.body !== null) {
            headers['content-type'] = 'application/json';
            if (!(spec.headers && spec.headers['Transfer-Encoding'])) {
                headers['content-length'] = Buffer.byteLength(spec.body);
            }
        }

        try {
            req = session.request(headers,
                                  { endStream: spec.body === null });
        } catch (e) {
            finish({ outcome: 'other', reason: 'h2 request: '
                                               + (e.code || e.message),
                     retryable: true });
            return;
        }

        req.on('response', (h) => {
            response = { statusCode: h[':status'], headers: h };
        });
        req.on('data', (d) => {
            parts.push(d);
            if (spec.pauseMs && parts.length === 1) {
                req.pause();
                setTimeout(() => req.resume(), spec.pauseMs);
            }
        });
        req.on('end', () => {
            if (aborted || response === null) {
                return;
            }
            const r = judge(spec, response, Buffer.concat(parts).toString());
            r.status = response.statusCode;
            finish(r);
        });
        req.on('error', (e) => {
            if (aborted) {
                finish({ outcome: 'aborted' });
                return;
            }
            finish({ outcome: 'other', reason: 'h2 stream error: '
                                               + (e.code || e.message),
                     retryable: retryable() });
        });
        req.on('close', () => {
            if (aborted) {
                finish({ outcome: 'aborted' });
                return;
            }
            finish({ outcome: 'other', reason: 'h2 stream closed (RST '
                                               + req.rstCode + ')',
                     retryable: retryable() });
        });

        timer = setTimeout(() => {
            finish({ outcome: 'other', reason: 'no answer in '
                                               + REQUEST_TIMEOUT + ' ms' });
            req.close(http2.constants.NGHTTP2_CANCEL);
        }, REQUEST_TIMEOUT);

        if (spec.kind === 'abort') {
            abortTimer = setTimeout(() => {
                if (finished) {
                    return;
                }
                aborted = true;
                req.close(http2.constants.NGHTTP2_CANCEL);
                finish({ outcome: 'aborted' });
            }, spec.abortAt);

            if (spec.abortHow === 'midbody') {
                req.write(spec.body.slice(0, spec.body.length >> 1));
                return;
            }
        }

        if (spec.body !== null) {
            req.end(spec.body);
        }
    });
}

function send(spec, agent) {
    return new Promise((resolve) => {
        const start = Date.now();
        const headers = Object.assign({}, spec.headers || {});
        let finished = false, aborted = false, gotResponse = false;
        let timer, abortTimer, req;

        function finish(result) {
            if (finished) {
                return;
            }
            finished = true;
            clearTimeout(timer);
            clearTimeout(abortTimer);
            result.ms = Date.now() - start;
            resolve(result);
        }

        if (spec.body !== null && !headers['Transfer-Encoding']) {
            headers['Content-Length'] = Buffer.byteLength(spec.body);
        }
        if (spec.body !== null) {
            headers['Content-Type'] = 'application/json';
        }

        req = http.request({ host: '127.0.0.1', port: port,
                             path: '/v1/chat/completions',
                             method: spec.method, headers: headers,
                             agent: agent });

        req.on('response', (res) => {
            const parts = [];

            gotResponse = true;

            res.on('data', (d) => {
                parts.push(d);
                if (spec.pauseMs && parts.length === 1) {
                    res.pause();
                    setTimeout(() => res.resume(), spec.pauseMs);
                }
            });
            res.on('end', () => {
                if (aborted) {
                    return;
                }
                const r = judge(spec, res, Buffer.concat(parts).toString());
                r.status = res.statusCode;
                finish(r);
            });
            res.on('error', (e) => {
                if (!aborted) {
                    finish({ outcome: 'other', status: res.statusCode,
                             reason: 'response cut: ' + (e.code || e.message)
                           });
                }
            });
        });

        req.on('error', (e) => {
            if (aborted) {
                finish({ outcome: 'aborted' });
                return;
            }
            finish({ outcome: 'other', reason: 'request error: '
                                               + (e.code || e.message),
                     retryable: req.reusedSocket && !gotResponse });
        });

        req.on('close', () => {
            if (aborted) {
                finish({ outcome: 'aborted' });
            }
        });

        timer = setTimeout(() => {
            finish({ outcome: 'other', reason: 'no answer in '
                                               + REQUEST_TIMEOUT + ' ms' });
            req.destroy();
        }, REQUEST_TIMEOUT);

        if (spec.kind === 'abort') {
            abortTimer = setTimeout(() => {
                if (finished) {
                    return;
                }
                aborted = true;
                if (spec.abortHow === 'reset' && req.socket
                    && req.socket.resetAndDestroy)
                {
                    req.socket.resetAndDestroy();
                } else {
                    req.destroy();
                }
                finish({ outcome: 'aborted' });
            }, spec.abortAt);

            if (spec.abortHow === 'midbody') {
                /* half the body, and never the rest */
                req.write(spec.body.slice(0, spec.body.length >> 1));
                return;
            }
        }

        if (spec.body !== null) {
            req.end(spec.body);
        } else {
            req.end();
        }
    });
}

/* ---------------------------------------------------------------------- */
/* the run */

const stats = {
    sent: 0, ok: 0, error: 0, stream_error: 0, aborted: 0, other: 0,
    keepalive_retries: 0, h2_requests: 0,
    by_kind: {}, by_status: {}, other_reasons: {}, latency_ms: {}
};
const latencies = {};
const deadline = Date.now() + seconds * 1000;

function count(spec, r) {
    const kind = spec.kind === 'abort' ? 'abort' : spec.kind;
    const k = stats.by_kind[kind] || (stats.by_kind[kind] = {
        sent: 0, ok: 0, error: 0, stream_error: 0, aborted: 0, other: 0 });

    stats.sent++;
    stats[r.outcome]++;
    k.sent++;
    k[r.outcome]++;

    if (r.status) {
        stats.by_status[r.status] = (stats.by_status[r.status] || 0) + 1;
    }

    if (r.outcome === 'other') {
        const why = kind + ': ' + r.reason;
        stats.other_reasons[why] = (stats.other_reasons[why] || 0) + 1;
    }

    if (r.outcome !== 'aborted') {
        (latencies[kind] || (latencies[kind] = [])).push(r.ms);
    }
}

async function client(i) {
    const h2 = i % 5 === 1 ? {} : null;
    const agent = !h2 && i % 3 === 0
                  ? new http.Agent({ keepAlive: true, maxSockets: 1 })
                  : false;

    while (Date.now() < deadline) {
        const spec = makeRequest();
        const r = await sendRetrying(spec, agent, h2);
        if (h2) {
            stats.h2_requests++;
        }
        count(spec, r);
    }

    if (agent) {
        agent.destroy();
    }

    if (h2 && h2.session) {
        h2.session.close();
    }
}

function percentile(a, p) {
    if (a.length === 0) {
        return null;
    }
    a.sort((x, y) => x - y);
    return a[Math.min(a.length - 1, Math.floor(a.length * p))];
}

(async () => {
    const all = [];
    for (let i = 0; i < clients; i++) {
        all.push(client(i));
    }

    /* one progress line every 10 s */
    const progress = setInterval(() => {
        process.stderr.write('soak: ' + stats.sent + ' sent, ' + stats.ok
                             + ' ok, ' + (stats.error + stats.stream_error)
                             + ' errors, ' + stats.aborted + ' aborted, '
                             + stats.other + ' other\n');
    }, 10000);

    await Promise.all(all);
    clearInterval(progress);

    for (const [k, a] of Object.entries(latencies)) {
        stats.latency_ms[k] = { p50: percentile(a, 0.5),
                                p99: percentile(a, 0.99),
                                max: percentile(a, 1) };
    }

    fs.writeFileSync(resultFile, JSON.stringify(stats, null, 2) + '\n');
})();
