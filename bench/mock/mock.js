// Mock OpenAI-compatible provider for the benchmark (njs 0.7).
// Answers POST /v1/chat/completions after $mock_delay ms with a recorded
// Arena-Hard answer (chosen by the request's length: cheap and repeatable);
// "stream":true in the body gives $mock_chunks SSE content chunks,
// $mock_gap ms apart. Waiting is a timer: it costs no CPU.
//
// njs 0.7 clones the VM and re-runs this file's top level per request, so
// nothing is precomputed here: the answers come as JSON string literals
// (answers.js, written by tools/prepare.js) and are pasted as they are.
import A from 'answers.js';

var HEAD = '{"id":"chatcmpl-mock","object":"chat.completion",' +
    '"created":1700000000,"model":"gpt-4o","system_fingerprint":"fp_mock",' +
    '"choices":[{"index":0,"message":{"role":"assistant","content":';

function usage(body, text) {
    var pt = Math.ceil(body.length / 4);
    var ct = Math.ceil(text.length / 4);
    return '{"prompt_tokens":' + pt + ',"completion_tokens":' + ct +
        ',"total_tokens":' + (pt + ct) + '}';
}

function json(r, body, lit) {
    r.headersOut['Content-Type'] = 'application/json';
    r.return(200, HEAD + lit + ',"refusal":null},"logprobs":null,' +
        '"finish_reason":"stop"}],"usage":' + usage(body, lit) + '}');
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
            last += chunk(null, null, ',"usage":' + usage(body, lit));
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
