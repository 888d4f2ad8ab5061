/*
 * Mock of OpenAI's Files and Batches API, in njs, for moa-relabel --batch
 * (load with `js_import batch from <path>/mock-batch.js;` next to
 * mock-provider.js, whose chat logic answers each line of a batch):
 *
 *   POST /v1/files                  multipart upload, purpose=batch
 *   GET  /v1/files[?purpose=]       list (what a resumed client looks for)
 *   GET  /v1/files/{id}/content     an input, output or error file
 *   POST /v1/batches                create: input_file_id, endpoint,
 *                                   completion_window, metadata
 *   GET  /v1/batches                list, newest first
 *   GET  /v1/batches/{id}           status moving over time, request_counts
 *   POST /v1/batches/{id}/cancel    cancelling, then cancelled
 *   GET  /mock/batch/stats          what was uploaded and created, how often,
 *                                   and the tokens billed (for the tests)
 *
 * Entry point: batch.api.  Variables: $mock_batch_dir, a directory the
 * worker can write (the state, state.json, and the files live there),
 * $mock_batch, a JSON object of options:
 *
 *   step_ms      ms per phase: validating, in_progress (two steps, the
 *                counts growing), finalizing, then completed (default 200)
 *   fail         [n, ...]: the nth batch created (1-based) fails
 *                (errors: token_limit_exceeded), none of its lines run
 *   expire       [n, ...]: the nth batch expires in progress: its first
 *                half is answered, the rest gets batch_expired lines
 *   line_errors  {"TEXT": {"status": 500, "times": 1}, ...}: a line whose
 *                body contains TEXT gets that status (in the error file)
 *                its first `times` times (by custom_id; default always)
 *   outage       n: the first n GET /v1/batches/{id} get 503
 *   quote        true: answers are "{stage} {call}: " and the last user
 *                message of the line's conversation (row-specific text);
 *                not the select judge's, which the scenario answers
 *   agree        "TEXT": a proposal line whose body contains TEXT answers
 *                "agreed: " and that message, whatever its call (early
 *                agreement)
 *   scenario     a $mock_scenario text for the chat logic (optional)
 *
 * A line's call comes from its custom_id as moa-relabel writes it: "-pN"
 * is proposal N, "-LK-pN" proposal N of layer K, "-c" the critique, "-j"
 * the select judge (a critique call, as the module's), "-s" the synthesis
 * (what the module's X-Moa-Stage, X-Moa-Call and X-Moa-Layer headers say
 * for its own calls).  A batch is
 * checked as OpenAI checks it: each line JSON with a unique custom_id,
 * method POST, url equal to the batch's endpoint, a body object; any fault
 * fails the batch in validation (errors.data names the line).
 *
 * Single worker, synchronous fs calls: each request reads and writes the
 * state whole.  ES5 for njs 0.7.9 (Debian 12), like mock-provider.js.
 */

import mock from 'mock-provider.js';

var fs = require('fs');


function conf(r) {
    var text = r.variables.mock_batch;

    return text ? JSON.parse(text) : {};
}


function dir(r) {
    return r.variables.mock_batch_dir;
}


function load(r) {
    try {
        return JSON.parse(fs.readFileSync(dir(r) + '/state.json', 'utf8'));

    } catch (e) {
        return { n: 0, files: {}, batches: {}, order: [], uploads: {},
                 creates: {}, tries: {}, billed: { prompt_tokens: 0,
                 completion_tokens: 0 } };
    }
}


function save(r, st) {
    fs.writeFileSync(dir(r) + '/state.json.tmp', JSON.stringify(st));
    fs.renameSync(dir(r) + '/state.json.tmp', dir(r) + '/state.json');
}


function reply(r, status, obj) {
    var body = JSON.stringify(obj);

    r.status = status;
    r.headersOut['Content-Type'] = 'application/json';
    r.headersOut['Content-Length'] = Buffer.byteLength(body);
    r.sendHeader();
    r.send(body);
    r.finish();
}


function error(r, status, message, code) {
    reply(r, status, { error: { message: message,
                                type: 'invalid_request_error',
                                param: null, code: code || null } });
}


function newFile(r, st, name, purpose, content) {
    var id = 'file-mock' + (++st.n);

    fs.writeFileSync(dir(r) + '/' + id, content);

    st.files[id] = { id: id, object: 'file', bytes: Buffer.byteLength(content),
                     created_at: Math.floor(Date.now() / 1000),
                     filename: name, purpose: purpose };

    return st.files[id];
}


/* the parts of a multipart/form-data body: [{name, filename, data}] */
function multipart(r) {
    var type = r.headersIn['Content-Type'] || '';
    var m = type.match(/boundary=("?)([^";]+)\1/), body, sep, chunks, out;
    var i, c, head, end, name, fname;

    if (!m) {
        return null;
    }

    body = r.requestText;
    sep = '--' + m[2];
    chunks = body.split(sep);
    out = [];

    for (i = 1; i < chunks.length; i++) {
        c = chunks[i];

        if (c.indexOf('--') === 0) {
            break;
        }

        end = c.indexOf('\r\n\r\n');

        if (end === -1) {
            return null;
        }

        head = c.substring(0, end);
        name = head.match(/name="([^"]*)"/);
        fname = head.match(/filename="([^"]*)"/);

        out.push({ name: name ? name[1] : '',
                   filename: fname ? fname[1] : null,
                   data: c.substring(end + 4, c.length - 2) });
    }

    return out;
}


function upload(r) {
    var parts = multipart(r), st, i, purpose = null, file = null, f;

    if (parts === null) {
        return error(r, 400, 'expected multipart/form-data');
    }

    for (i = 0; i < parts.length; i++) {
        if (parts[i].name === 'purpose') {
            purpose = parts[i].data;
        } else if (parts[i].name === 'file') {
            file = parts[i];
        }
    }

    if (purpose !== 'batch' || file === null || !file.filename) {
        return error(r, 400, 'expected purpose=batch and a file');
    }

    st = load(r);
    f = newFile(r, st, file.filename, 'batch', file.data);
    st.uploads[file.filename] = (st.uploads[file.filename] || 0) + 1;
    save(r, st);

    r.warn('mock-batch: upload ' + f.id + ' ' + file.filename + ' '
           + f.bytes + ' bytes');

    reply(r, 200, f);
}


/* the call a custom_id stands for */
function callOf(id) {
    var m = /-(L(\d+)-)?p(\d+)$/.exec(id);

    if (m) {
        return { stage: 'proposal', call: parseInt(m[3], 10),
                 layer: m[2] ? parseInt(m[2], 10) : 1 };
    }

    if (/-j$/.test(id)) {
        return { stage: 'critique', call: 0, judge: true };
    }

    if (/-c$/.test(id)) {
        return { stage: 'critique', call: 0 };
    }

    return { stage: /-s$/.test(id) ? 'synthesis' : 'direct', call: 0 };
}


/* the last user message before the module's instruction, as text */
function quote(body, stage) {
    var msgs = body.messages || [], last = msgs.length - 1, i, c;

    if (stage === 'critique' || stage === 'synthesis') {
        last--;
    }

    for (i = last; i >= 0; i--) {
        if (msgs[i] && msgs[i].role === 'user') {
            c = msgs[i].content;
            return typeof c === 'string' ? c : JSON.stringify(c);
        }
    }

    return '';
}


/* checks the input lines: null, or the validation error */
function validate(lines, endpoint) {
    var seen = {}, i, o;

    for (i = 0; i < lines.length; i++) {
        try {
            o = JSON.parse(lines[i]);
        } catch (e) {
            return { code: 'invalid_json_line', line: i + 1,
                     message: 'This line is not parseable as valid JSON.' };
        }

        if (typeof o.custom_id !== 'string' || seen[o.custom_id]) {
            return { code: 'duplicate_custom_id', line: i + 1,
                     message: 'The custom_id for this request is missing '
                              + 'or a duplicate.' };
        }

        seen[o.custom_id] = 1;

        if (o.method !== 'POST' || o.url !== endpoint
            || o.body === null || typeof o.body !== 'object')
        {
            return { code: 'invalid_request', line: i + 1,
                     message: 'method, url or body is not valid.' };
        }
    }

    return null;
}


/* a line's result: [in output file (bool), result line object] */
function answerLine(r, st, cf, line, k) {
    var o = JSON.parse(line), info = callOf(o.custom_id), raw, extra = {};
    var keys = Object.keys(cf.line_errors || {}), i, rule, key, res, u;

    raw = JSON.stringify(o.body);

    for (i = 0; i < keys.length; i++) {
        rule = cf.line_errors[keys[i]];

        if (raw.indexOf(keys[i]) === -1) {
            continue;
        }

        key = keys[i] + '|' + o.custom_id;
        st.tries[key] = (st.tries[key] || 0) + 1;

        if (rule.times === undefined || st.tries[key] <= rule.times) {
            extra.status = rule.status || 500;
        }
    }

    if (cf.quote && !info.judge) {
        extra.content = '{stage} {call}: ' + quote(o.body, info.stage);
    }

    if (cf.agree && info.stage === 'proposal' && raw.indexOf(cf.agree) !== -1)
    {
        extra.content = 'agreed: ' + quote(o.body, info.stage);
    }

    res = mock.answer(raw, info, cf.scenario || '', extra);

    if (res.status === 200 && res.body.usage) {
        u = res.body.usage;
        st.billed.prompt_tokens += u.prompt_tokens || 0;
        st.billed.completion_tokens += u.completion_tokens || 0;
    }

    return [res.status === 200,
            { id: 'batch_req_' + k, custom_id: o.custom_id,
              response: { status_code: res.status,
                          request_id: 'req_' + k, body: res.body },
              error: null }];
}


function create(r) {
    var cf = conf(r), st, req, b, f, n, lines, bad;

    try {
        req = JSON.parse(r.requestText);
    } catch (e) {
        return error(r, 400, 'the body is not JSON');
    }

    st = load(r);
    f = st.files[req.input_file_id];

    if (!f || f.purpose !== 'batch') {
        return error(r, 400, 'no such input file: ' + req.input_file_id);
    }

    if (req.endpoint !== '/v1/chat/completions'
        || req.completion_window !== '24h')
    {
        return error(r, 400, 'endpoint or completion_window not supported');
    }

    n = st.order.length + 1;
    lines = fs.readFileSync(dir(r) + '/' + f.id, 'utf8').split('\n')
            .filter(function(l) { return l !== ''; });
    bad = validate(lines, req.endpoint);

    b = { id: 'batch_mock' + n, object: 'batch', endpoint: req.endpoint,
          errors: null, input_file_id: f.id,
          completion_window: req.completion_window,
          status: 'validating', output_file_id: null, error_file_id: null,
          created_at: Math.floor(Date.now() / 1000),
          metadata: req.metadata || null,
          request_counts: { total: lines.length, completed: 0, failed: 0 },
          t0: Date.now(), lines: lines.length,
          fate: (cf.fail || []).indexOf(n) !== -1 ? 'fail'
                : (cf.expire || []).indexOf(n) !== -1 ? 'expire'
                : 'complete' };

    if (bad) {
        b.fate = 'invalid';
        b.errors = { object: 'list', data: [bad] };
    }

    if (b.fate === 'fail') {
        b.errors = { object: 'list', data: [{
            code: 'token_limit_exceeded', line: null,
            message: 'Enqueued token limit reached (mock).' }] };
    }

    st.batches[b.id] = b;
    st.order.push(b.id);
    st.creates[f.id] = (st.creates[f.id] || 0) + 1;
    save(r, st);

    r.warn('mock-batch: create ' + b.id + ' from ' + f.id + ' ('
           + lines.length + ' lines, ' + b.fate + ')');

    reply(r, 200, view(b));
}


/* the batch as the API shows it (without the mock's own fields) */
function view(b) {
    var out = {}, k;

    for (k in b) {
        if (b.hasOwnProperty(k) && k !== 't0' && k !== 'lines'
            && k !== 'fate' && k !== 'cancel_at' && k !== 'done')
        {
            out[k] = b[k];
        }
    }

    return out;
}


/* answers the lines, writes the output and error files: the batch ends */
function finish(r, st, cf, b, status, upto) {
    var lines, out = [], err = [], i, res, f;

    lines = fs.readFileSync(dir(r) + '/' + b.input_file_id, 'utf8')
            .split('\n').filter(function(l) { return l !== ''; });

    for (i = 0; i < lines.length; i++) {
        if (i >= upto) {
            err.push({ id: 'batch_req_' + b.id + '_' + i,
                       custom_id: JSON.parse(lines[i]).custom_id,
                       response: null,
                       error: { code: status === 'expired' ? 'batch_expired'
                                                           : 'batch_cancelled',
                                message: 'This request was not executed ('
                                         + status + ').' } });
            continue;
        }

        res = answerLine(r, st, cf, lines[i], b.id + '_' + i);
        (res[0] ? out : err).push(res[1]);
    }

    function text(a) {
        return a.map(function(o) { return JSON.stringify(o) + '\n'; })
                .join('');
    }

    if (out.length) {
        f = newFile(r, st, b.id + '_output.jsonl', 'batch_output', text(out));
        b.output_file_id = f.id;
    }

    if (err.length) {
        f = newFile(r, st, b.id + '_error.jsonl', 'batch_output', text(err));
        b.error_file_id = f.id;
    }

    b.request_counts = { total: lines.length, completed: out.length,
                         failed: err.length };
    b.status = status;
    b.done = true;
}


/* moves a batch on by the clock */
function advance(r, st, cf, b) {
    var step = cf.step_ms || 200, t = Date.now() - b.t0, half;

    if (b.done) {
        return;
    }

    if (b.cancel_at !== undefined) {
        if (Date.now() - b.cancel_at >= step) {
            finish(r, st, cf, b, 'cancelled',
                   Math.floor(b.lines * Math.min(1, Math.max(0,
                       (b.cancel_at - b.t0 - step) / (2 * step)))));
        }

        return;
    }

    if (b.fate === 'invalid' || b.fate === 'fail') {
        if (t >= step) {
            b.status = 'failed';
            b.done = true;
        }

        return;
    }

    if (t < step) {
        b.status = 'validating';
        return;
    }

    half = Math.floor(b.lines / 2);

    if (b.fate === 'expire' && t >= 2 * step) {
        finish(r, st, cf, b, 'expired', half);
        return;
    }

    if (t < 3 * step) {
        b.status = 'in_progress';
        b.request_counts.completed =
            Math.floor(b.lines * (t - step) / (2 * step));
        return;
    }

    if (t < 4 * step) {
        b.status = 'finalizing';
        b.request_counts.completed = b.lines;
        return;
    }

    finish(r, st, cf, b, 'completed', b.lines);
}


function retrieve(r, id) {
    var cf = conf(r), st = load(r), b = st.batches[id];

    if ((st.outage || 0) < (cf.outage || 0)) {
        st.outage = (st.outage || 0) + 1;
        save(r, st);
        return error(r, 503, 'mock: the service is unavailable');
    }

    if (!b) {
        return error(r, 404, 'No batch found with id ' + id);
    }

    advance(r, st, cf, b);
    save(r, st);
    reply(r, 200, view(b));
}


function cancel(r, id) {
    var cf = conf(r), st = load(r), b = st.batches[id];

    if (!b) {
        return error(r, 404, 'No batch found with id ' + id);
    }

    advance(r, st, cf, b);

    if (!b.done && b.cancel_at === undefined) {
        b.cancel_at = Date.now();
        b.status = 'cancelling';
    }

    st.cancels = (st.cancels || 0) + 1;
    save(r, st);
    reply(r, 200, view(b));
}


function listBatches(r) {
    var st = load(r), data;

    data = st.order.slice().reverse().map(function(id) {
        return view(st.batches[id]);
    });

    reply(r, 200, { object: 'list', data: data, has_more: false });
}


function listFiles(r) {
    var st = load(r), purpose = r.args.purpose, data = [], k;

    for (k in st.files) {
        if (st.files.hasOwnProperty(k)
            && (!purpose || st.files[k].purpose === purpose))
        {
            data.push(st.files[k]);
        }
    }

    reply(r, 200, { object: 'list', data: data, has_more: false });
}


function content(r, id) {
    var st = load(r), body;

    if (!st.files[id]) {
        return error(r, 404, 'No such File object: ' + id);
    }

    body = fs.readFileSync(dir(r) + '/' + id, 'utf8');
    r.status = 200;
    r.headersOut['Content-Type'] = 'application/octet-stream';
    r.headersOut['Content-Length'] = Buffer.byteLength(body);
    r.sendHeader();
    r.send(body);
    r.finish();
}


function stats(r) {
    var st = load(r);

    reply(r, 200, { uploads: st.uploads, creates: st.creates,
                    batches: st.order.length,
                    files: Object.keys(st.files).length,
                    cancels: st.cancels || 0, billed: st.billed });
}


function api(r) {
    var u = r.uri, m, method = r.method;

    try {
        if (method === 'POST' && /\/files$/.test(u)) {
            return upload(r);
        }

        if (method === 'GET' && /\/files$/.test(u)) {
            return listFiles(r);
        }

        if (method === 'GET' && (m = u.match(/\/files\/([^\/]+)\/content$/))) {
            return content(r, m[1]);
        }

        if (method === 'POST' && /\/batches$/.test(u)) {
            return create(r);
        }

        if (method === 'GET' && /\/batches$/.test(u)) {
            return listBatches(r);
        }

        if (method === 'POST'
            && (m = u.match(/\/batches\/([^\/]+)\/cancel$/)))
        {
            return cancel(r, m[1]);
        }

        if (method === 'GET' && (m = u.match(/\/batches\/([^\/]+)$/))) {
            return retrieve(r, m[1]);
        }

        if (/\/mock\/batch\/stats$/.test(u)) {
            return stats(r);
        }

        error(r, 404, 'mock-batch: no route for ' + method + ' ' + u);

    } catch (e) {
        r.error('mock-batch: ' + e.stack);
        error(r, 500, 'mock-batch: ' + e.message);
    }
}


export default { api: api };
