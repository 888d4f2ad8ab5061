// Mock OpenAI-compatible provider for the benchmark (njs 0.7).
// Answers POST /v1/chat/completions after $mock_delay ms with a recorded
// Arena-Hard answer (chosen by the request's length: cheap and repeatable);
// "stream":true in the body gives $mock_chunks SSE content chunks,
// $mock_gap ms apart. Waiting is a timer: it costs no CPU. "n": N in the
// body (moa_proposer_n) gives N choices in the JSON answer, each another
// recorded answer, and usage counts the completion tokens of all of them,
// as OpenAI does (a streamed answer has one choice whatever n says).
//
// njs 0.7 clones the VM and re-runs this file's top level per request, so
// nothing is precomputed here: the answers come as JSON string literals
// (answers.js, written by tools/prepare.js) and are pasted as they are.
import A from 'answers.js';

var HEAD = '{"id":"chatcmpl-mock","object":"chat.completion",' +
    '"created":1700000000,"model":"gpt-4o","system_fingerprint":"fp_mock",' +
    '"choices":[';

function usage(body, ct) {
    var pt = Math.ceil(body.length / 4);
    return '{"prompt_tokens":' + pt + ',"completion_tokens":' + ct +
        ',"total_tokens":' + (pt + ct) + '}';
}

// "n" of the request, found as a key (preceded by '{' or ','; a quote in
// a string is escaped, so no text matches) without parsing the body;
// 1 when absent, at most 16
function choices(body) {
    if (body.indexOf('"n"') < 0) {
        return 1;
    }
    var m = /[{,]\s*"n"\s*:\s*(\d+)/.exec(body);
    var n = m ? Number(m[1]) : 1;
    return n < 1 ? 1 : (n > 16 ? 16 : n);
}

function json(r, body, lit) {
    var n = choices(body);
    var out = HEAD, ct = 0, i, a;
    for (i = 0; i < n; i++) {
        // choice 0 is the answer a request without n gets
        a = i ? A[(body.length + i) % A.length] : lit;
        out += (i ? ',' : '') + '{"index":' + i +
            ',"message":{"role":"assistant","content":' + a +
            ',"refusal":null},"logprobs":null,"finish_reason":"stop"}';
        ct += Math.ceil(a.length / 4);
    }
    r.headersOut['Content-Type'] = 'application/json';
    r.return(200, out + '],"usage":' + usage(body, ct) + '}');
}

function chunk(delta, finish, extra) {
    return 'data: {"id":"chatcmpl-mock","object":"chat.completion.chunk",' +
        '"created":1700000000,"model":"gpt-4o",' +
        '"system_fingerprint":"fp_mock","choices":[' +
        (delta === null ? '' : '{"index":0,"delta":' + delta +
        ',"logprobs":null,"finish_reason":' + finish + '}') + ']' +
        (extra || '') + '}\n\n';
}

function sse(r, body, lit) {
    var text = JSON.parse(lit);
    var k = Number(r.variables.mock_chunks) || 1;
    var gap = Number(r.variables.mock_gap) || 0;
    var size = Math.ceil(text.length / k);
    var i = 0;

    r.status = 200;
    r.headersOut['Content-Type'] = 'text/event-stream';
    r.headersOut['Cache-Control'] = 'no-cache';
    r.sendHeader();
    r.send(chunk('{"role":"assistant","content":""}', 'null'));

    function next() {
        while (i < k) {
            r.send(chunk('{"content":' +
                JSON.stringify(text.substr(i * size, size)) + '}', 'null'));
            i++;
            if (gap) {
                setTimeout(next, gap);
                return;
            }
        }
        var last = chunk('{}', '"stop"');
        if (body.indexOf('"include_usage":true') >= 0) {
            last += chunk(null, null, ',"usage":' +
                usage(body, Math.ceil(lit.length / 4)));
        }
        r.send(last + 'data: [DONE]\n\n');
        r.finish();
    }
    next();
}

function delayed(r, fn) {
    var body = r.requestText || '';
    var lit = A[body.length % A.length];
    var delay = Number(r.variables.mock_delay) || 0;
    var go = function () {
        try {
            fn(r, body, lit);
        } catch (e) {
            /* the caller left meanwhile (a load run's end): nothing to do */
        }
    };
    if (delay > 0) {
        setTimeout(go, delay);
    } else {
        go();
    }
}

// SSE goes to a location with postpone_output 0 so that each chunk leaves
// at once; JSON stays where header and body leave in one write (a header
// written alone waits ~40 ms for a delayed ACK on a connection's first
// response, before nginx sets TCP_NODELAY on it)
function reply(r) {
    var body = r.requestText || '';
    if (body.indexOf('"stream":true') >= 0
        || body.indexOf('"stream": true') >= 0)
    {
        r.internalRedirect('@sse');
        return;
    }
    delayed(r, json);
}

function stream(r) {
    delayed(r, sse);
}

export default { reply, stream };
