/*
 * Mock contenders and mock judge for moa-eval's tests, in njs (ES5 style,
 * njs 0.7.9).  Load with `js_import evalmock from <path>/mock-judge.js;`
 * and answer chat completions with `js_content evalmock.chat;`.  Set
 * $evalmock_state to a writable directory for the "once" faults.
 *
 * Every request is scripted by words in the user's question (the last
 * user message; for the module's critique and synthesis calls, the one
 * before the module's own instruction):
 *
 *   qid=ID          names the prompt in the log lines
 *   win=WHO         WHO's answer carries the marker MARK-WIN
 *   strong=WHO      WHO's answer carries MARK-STRONG
 *   pad=WHO:N       N filler words appended to WHO's answer
 *   bias            with no marker difference the judge prefers A
 *   judge=MODE      the judge's reply: garbage (no label), flaky (no label
 *                   the first time for each order), two (two different
 *                   labels), code (a different label quoted in code, the
 *                   real one outside), lower (the label in lower case)
 *   fail=WHO:WHAT   WHO's first answer fails: 500, 429 (Retry-After: 1),
 *                   garbage (a 200 that is not JSON); 400 fails every time
 *   slow=MS         answers wait MS milliseconds
 *
 * WHO is "moa" for the module's MoA calls (X-Moa-Stage proposal, critique
 * or synthesis), else the request's model.  An answer reads
 * "Answer of WHO to ID." plus the marker and the filler.
 *
 * A request is a judge prompt when its message holds moa-eval's answer
 * delimiters.  The judge knows which answer is which only from the
 * prompt: it finds the text between "<|The Start of Assistant A's
 * Answer|>" and its end, the same for B, and prefers the answer with the
 * stronger marker: MARK-STRONG over nothing gives [[A>>B]] (or [[B>>A]]),
 * MARK-WIN over nothing or MARK-STRONG over MARK-WIN gives [[A>B]]; equal
 * markers give [[A=B]], or [[A>B]] with "bias".
 *
 * Log lines ([warn], "js: evalmock: ..."), one per request:
 *   evalmock: answer who=WHO qid=ID stage=STAGE
 *   evalmock: judge qid=ID a=WHO b=WHO reply=VERDICT|garbage|...
 *             temperature=T max_tokens=N     (as the request has them)
 */

var A_START = "<|The Start of Assistant A's Answer|>";
var A_END = "<|The End of Assistant A's Answer|>";
var B_START = "<|The Start of Assistant B's Answer|>";
var B_END = "<|The End of Assistant B's Answer|>";


function textOf(m) {
    var c = m && m.content;

    if (typeof c === 'string') {
        return c;
    }

    if (Array.isArray(c)) {
        return c.map(function(p) { return p && p.text ? p.text : ''; })
                .join(' ');
    }

    return '';
}


function question(r, messages) {
    var i, stage = r.headersIn['X-Moa-Stage'];

    if (stage === 'critique' || stage === 'synthesis') {
        messages = messages.slice(0, -1);
    }

    for (i = messages.length - 1; i >= 0; i--) {
        if (messages[i] && messages[i].role === 'user') {
            return textOf(messages[i]);
        }
    }

    return '';
}


/* the value of word KEY=VALUE in text, or null */
function word(text, key) {
    var m = text.match(new RegExp('(?:^|\\s)' + key + '=(\\S+)'));

    return m ? m[1] : null;
}


/* WHO:VALUE words of key for who */
function forWho(text, key, who) {
    var re = new RegExp('(?:^|\\s)' + key + '=([^\\s:]+):(\\S+)', 'g');
    var m;

    while ((m = re.exec(text)) !== null) {
        if (m[1] === who) {
            return m[2];
        }
    }

    return null;
}


/* true the first time this key is seen (a file in $evalmock_state) */
function firstTime(r, key) {
    var fs = require('fs');
    var path = r.variables.evalmock_state + '/' + key.replace(/[^\w.-]/g, '_');

    try {
        fs.accessSync(path);
        return false;

    } catch (e) {
        fs.writeFileSync(path, '1');
        return true;
    }
}


function reply(r, status, obj, headers) {
    var k;

    r.headersOut['Content-Type'] = 'application/json';

    for (k in headers || {}) {
        r.headersOut[k] = headers[k];
    }

    r.return(status, typeof obj === 'string' ? obj : JSON.stringify(obj));
}


function completion(body, raw, content) {
    return {
        id: 'chatcmpl-evalmock',
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: body.model,
        choices: [{ index: 0, finish_reason: 'stop', logprobs: null,
                    message: { role: 'assistant', content: content } }],
        usage: { prompt_tokens: Math.ceil(raw.length / 4),
                 completion_tokens: Math.ceil(content.length / 4),
                 total_tokens: Math.ceil(raw.length / 4)
                               + Math.ceil(content.length / 4) }
    };
}


function between(text, start, end) {
    var i = text.indexOf(start), j;

    if (i === -1) {
        return null;
    }

    j = text.indexOf(end, i + start.length);

    return j === -1 ? null : text.substring(i + start.length, j);
}


function markOf(answer) {
    return answer.indexOf('MARK-STRONG') !== -1 ? 2
           : answer.indexOf('MARK-WIN') !== -1 ? 1 : 0;
}


function whoOf(answer) {
    var m = answer.match(/Answer of (\S+) to/);

    return m ? m[1] : '?';
}


function judge(r, body, raw, prompt) {
    var a = between(prompt, A_START, A_END);
    var b = between(prompt, B_START, B_END);
    var q = between(prompt, '<|User Prompt|>', A_START) || '';
    var qid = word(q, 'qid') || '?', mode = word(q, 'judge');
    var sa = markOf(a), sb = markOf(b), v, text;

    if (sa > sb) {
        v = sa === 2 && sb === 0 ? 'A>>B' : 'A>B';

    } else if (sb > sa) {
        v = sb === 2 && sa === 0 ? 'B>>A' : 'B>A';

    } else {
        v = /(^|\s)bias(\s|$)/.test(q) ? 'A>B' : 'A=B';
    }

    text = 'My own answer first. Comparing both: done. My final verdict: [['
           + v + ']]';

    if (mode === 'garbage'
        || (mode === 'flaky' && firstTime(r, 'judge-' + qid + '-'
                                             + whoOf(a))))
    {
        text = 'I cannot decide between these answers.';
        v = 'garbage';

    } else if (mode === 'two') {
        text = 'First [[A>B]], on reflection [[B>A]].';
        v = 'two';

    } else if (mode === 'code') {
        text = 'The labels look like `[[B>>A]]`:\n```\n[[B>>A]]\n```\n'
               + text;

    } else if (mode === 'lower') {
        text = 'Verdict: [[' + v.toLowerCase() + ']]';
    }

    r.warn('evalmock: judge qid=' + qid + ' a=' + whoOf(a) + ' b=' + whoOf(b)
           + ' reply=' + v + ' temperature=' + body.temperature
           + ' max_tokens=' + body.max_tokens);

    reply(r, 200, completion(body, raw, text));
}


function answer(r, body, raw) {
    var stage = r.headersIn['X-Moa-Stage'] || 'direct';
    var who = (stage === 'proposal' || stage === 'critique'
               || stage === 'synthesis') ? 'moa' : String(body.model);
    var q = question(r, body.messages);
    var qid = word(q, 'qid') || '?';
    var fail = forWho(q, 'fail', who), pad = forWho(q, 'pad', who);
    var slow = parseInt(word(q, 'slow') || '0', 10);
    var text, i;

    r.warn('evalmock: answer who=' + who + ' qid=' + qid + ' stage=' + stage);

    if (fail === '400') {
        return reply(r, 400, { error: { message: 'evalmock refuses ' + qid,
                                        type: 'invalid_request_error',
                                        param: null, code: null } });
    }

    if (fail && firstTime(r, 'answer-' + qid + '-' + who + '-' + stage)) {
        if (fail === '429') {
            return reply(r, 429, { error: { message: 'slow down',
                                            type: 'requests', param: null,
                                            code: 'rate_limit_exceeded' } },
                         { 'Retry-After': '1' });
        }

        if (fail === 'garbage') {
            return reply(r, 200, 'this is not JSON {');
        }

        return reply(r, 500, { error: { message: 'evalmock: 500',
                                        type: 'server_error', param: null,
                                        code: null } });
    }

    text = 'Answer of ' + who + ' to ' + qid + '.';

    if (word(q, 'strong') === who) {
        text += ' MARK-STRONG';

    } else if (word(q, 'win') === who) {
        text += ' MARK-WIN';
    }

    for (i = 0; i < parseInt(pad || '0', 10); i++) {
        text += ' pad';
    }

    if (slow > 0) {
        setTimeout(function() { reply(r, 200, completion(body, raw, text)); },
                   slow);
        return;
    }

    reply(r, 200, completion(body, raw, text));
}


function chat(r) {
    var raw = r.requestText || '', body, last;

    try {
        body = JSON.parse(raw);

    } catch (e) {
        return reply(r, 400, { error: { message: 'body is not JSON',
                                        type: 'invalid_request_error',
                                        param: null, code: null } });
    }

    if (!body.messages || !body.messages.length) {
        return reply(r, 400, { error: { message: 'messages is required',
                                        type: 'invalid_request_error',
                                        param: null, code: null } });
    }

    last = textOf(body.messages[body.messages.length - 1]);

    if (last.indexOf(A_START) !== -1 && last.indexOf(B_START) !== -1) {
        return judge(r, body, raw, last);
    }

    answer(r, body, raw);
}


export default { chat: chat };
