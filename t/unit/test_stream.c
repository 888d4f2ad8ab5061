
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_stream.[ch]: rewriting the synthesis stream
 * event by event, the final usage chunk, a complete (parsed) reply as
 * chunks, and error events.
 */


#include <limits.h>
#include <time.h>

#include "util.h"
#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_error.h"
#include "ngx_http_moa_reply.h"
#include "ngx_http_moa_stream.h"


#define S(s)  s, sizeof(s) - 1
#define MODEL  "moa-gpt-4o-v1"


/*
 * Splits out[0..len) into SSE events, asserting the framing of each
 * ("data: <one-line JSON>\n\n"), and returns them parsed (at most max).
 */
static int
events(const char *p, size_t len, cJSON **ev, int max, const char *name)
{
    int          n, bad;
    const char  *end, *nl;

    n = 0;
    bad = 0;
    end = p + len;

    while (p < end && n < max) {
        nl = memchr(p, '\n', end - p);

        if (end - p < 8 || memcmp(p, "data: ", 6) != 0 || nl == NULL
            || nl + 1 >= end || nl[1] != '\n')
        {
            bad = 1;
            break;
        }

        ev[n] = cJSON_ParseWithLength(p + 6, nl - p - 6);

        if (ev[n] == NULL || ngx_http_moa_json_valid(p + 6, nl - p - 6) != 0) {
            cJSON_Delete(ev[n]);
            bad = 1;
            break;
        }

        n++;
        p = nl + 2;
    }

    if (!ok(!bad && p == end, "%s: every event is data: <JSON>\\n\\n", name)) {
        diag("    at '%.*s'", (int) (end - p), p);
    }

    return n;
}


static void
free_events(cJSON **ev, int n)
{
    while (n) {
        cJSON_Delete(ev[--n]);
    }
}


static int
event(ngx_http_moa_stream_t *st, const char *data, ngx_http_moa_buf_t *out)
{
    return ngx_http_moa_stream_event(st, data, strlen(data), S(MODEL), out);
}


static void
test_stream_event(void)
{
    ngx_http_moa_buf_t     out;
    ngx_http_moa_stream_t  st;

    memset(&out, 0, sizeof(out));

    ngx_http_moa_stream_init(&st, 1);
    ok(st.include_usage && !st.done && !st.failed && !st.started
       && st.usage == NULL && st.id.len == 0, "stream_init");

    ngx_http_moa_stream_init(&st, 7);
    is_int(st.include_usage, 1, "stream_init: include_usage is a flag");

    /* the model replaced, everything else kept byte for byte */
    is_int(event(&st, "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
                 "\"created\":17,\"model\":\"gpt-4o\",\"system_fingerprint\":"
                 "\"fp\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
                 "\"assistant\",\"content\":\"\"},\"logprobs\":null,"
                 "\"finish_reason\":null}]}", &out),
           NGX_HTTP_MOA_EVENT_OK, "first chunk: OK");
    is_mem(out.data, out.len,
           "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
           "\"created\":17,\"model\":\"" MODEL "\",\"system_fingerprint\":"
           "\"fp\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
           "\"assistant\",\"content\":\"\"},\"logprobs\":null,"
           "\"finish_reason\":null}]}\n\n", "first chunk: model replaced");
    ok(st.started, "started after a chunk");
    is_mem(st.id.data, st.id.len, "\"c1\"", "the id kept raw");
    is_mem(st.created.data, st.created.len, "17", "created kept raw");
    is_mem(st.fingerprint.data, st.fingerprint.len, "\"fp\"",
           "fingerprint kept raw");

    /* later ids do not replace the first, on the client's chunks either
     * (one id per stream); output is appended */
    is_int(event(&st, "{\"id\":\"c2\",\"created\":18,\"system_fingerprint\":"
                 "\"fp2\",\"model\":\"x\",\"choices\":[]}", &out),
           NGX_HTTP_MOA_EVENT_OK, "second chunk: OK");
    has(out.data, out.len, "\"finish_reason\":null}]}\n\ndata: {\"id\":"
        "\"c1\",\"created\":18,", "second chunk appended, the first id");
    hasnt(out.data, out.len, "c2", "a provider's second id goes");
    is_mem(st.id.data, st.id.len, "\"c1\"", "the first id stays");
    is_mem(st.created.data, st.created.len, "17", "the first created stays");

    /* no model: added first */
    out.len = 0;
    event(&st, "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":"
          "{\"content\":\"Hi\"}}]}", &out);
    is_mem(out.data, out.len, "data: {\"model\":\"" MODEL "\",\"id\":\"c1\","
           "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n",
           "no model: added");

    out.len = 0;
    event(&st, " {} ", &out);
    is_mem(out.data, out.len, "data: {\"model\":\"" MODEL "\"}\n\n",
           "an empty object: only the model");

    /* "error": null is not an error, and never reaches the client */
    out.len = 0;
    is_int(event(&st, "{\"id\":\"c1\",\"error\":null,\"choices\":[{\"index\":0,"
                 "\"delta\":{\"content\":\"x\"}}],\"error\":null}", &out),
           NGX_HTTP_MOA_EVENT_OK, "error null: OK");
    ok(!st.failed, "error null: not failed");
    is_mem(out.data, out.len, "data: {\"model\":\"" MODEL "\",\"id\":\"c1\","
           "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n",
           "error null: no error key in a normal chunk");

    /*
     * a JSON chunk over several data: lines has LF between its tokens: the
     * chunk passed on must still be one line, or the client's SSE parser
     * cuts it
     */
    ngx_http_moa_stream_free(&st);
    ngx_http_moa_stream_init(&st, 1);
    out.len = 0;
    is_int(event(&st, "{\"id\":\r\n{\"x\":\n1},\"choices\":[{\"index\":0,"
                 "\"delta\":{\"content\":\"a\\nb\"}\n}\r]\n}", &out),
           NGX_HTTP_MOA_EVENT_OK, "a chunk with line breaks: OK");
    ok(out.len > 2 && memchr(out.data, '\n', out.len - 2) == NULL
       && memchr(out.data, '\r', out.len) == NULL,
       "a chunk with line breaks: passed on as one line");
    {
        cJSON  *v[2];
        int     n;

        n = events(out.data, out.len, v, 2, "a chunk with line breaks");
        ok(n == 1 && jstr(v[0], "choices.0.delta.content")
           && strcmp(jstr(v[0], "choices.0.delta.content"), "a\nb") == 0,
           "a chunk with line breaks: the escaped LF in a string kept");
        free_events(v, n);
    }

    /* the raw id kept from it is one line in the usage chunk too */
    out.len = 0;
    {
        cJSON  *u;

        u = cJSON_Parse("{\"total_tokens\":1}");
        ok(ngx_http_moa_stream_usage_chunk(&st, S(MODEL), u, &out) == 0
           && out.len > 2 && memchr(out.data, '\n', out.len - 2) == NULL
           && memchr(out.data, '\r', out.len) == NULL,
           "usage chunk with a multi-line id: one line");
        cJSON_Delete(u);
    }

    ngx_http_moa_stream_free(&st);
    ngx_http_moa_stream_init(&st, 1);
    out.len = 0;

    /* escaped and duplicated model keys are all replaced */
    out.len = 0;
    event(&st, "{\"\\u006dodel\":\"a\",\"model\":\"b\",\"choices\":[]}", &out);
    is_int(count_of(out.data, out.len, "\"model\":\"" MODEL "\""), 2,
           "escaped and duplicate model keys: replaced");
    hasnt(out.data, out.len, "\\u006d", "the escaped key is rewritten");

    /* [DONE] */
    out.len = 0;
    is_int(event(&st, "[DONE]", &out), NGX_HTTP_MOA_EVENT_DONE, "[DONE]");
    ok(st.done, "done is set");
    is_int(out.len, 0, "[DONE]: nothing written");
    is_int(event(&st, " \r\n[DONE]\t\n", &out), NGX_HTTP_MOA_EVENT_DONE,
           "[DONE] with whitespace");
    ngx_http_moa_stream_free(&st);

    ngx_http_moa_stream_init(&st, 0);
    is_int(event(&st, "[DONE]x", &out), NGX_HTTP_MOA_EVENT_ERROR,
           "[DONE]x is not [DONE]");
    ok(!st.done && st.failed, "[DONE]x: failed");
    ngx_http_moa_stream_free(&st);

    ngx_http_moa_buf_free(&out);
}


static void
test_stream_usage(void)
{
    ngx_http_moa_buf_t     out;
    ngx_http_moa_stream_t  st;

    memset(&out, 0, sizeof(out));
    ngx_http_moa_stream_init(&st, 1);

    /* usage on a chunk with choices: dropped there, kept as the last */
    is_int(event(&st, "{\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,"
                 "\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":"
                 "{\"prompt_tokens\":1,\"completion_tokens\":2,"
                 "\"total_tokens\":3}}", &out),
           NGX_HTTP_MOA_EVENT_OK, "usage with choices: OK");
    hasnt(out.data, out.len, "usage", "usage with choices: dropped");
    has(out.data, out.len, "\"finish_reason\":\"stop\"",
        "usage with choices: the rest kept");
    is_int(jnum(st.usage, "total_tokens"), 3, "usage with choices: kept");

    /* a usage-only chunk is swallowed; the last usage wins */
    out.len = 0;
    is_int(event(&st, "{\"id\":\"c\",\"model\":\"m\",\"choices\":[],"
                 "\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":20,"
                 "\"total_tokens\":30,\"prompt_tokens_details\":"
                 "{\"cached_tokens\":4}}}", &out),
           NGX_HTTP_MOA_EVENT_OK, "usage-only chunk: OK");
    is_int(out.len, 0, "usage-only chunk: swallowed");
    is_int(jnum(st.usage, "total_tokens"), 30, "usage-only chunk: the last");
    is_int(jnum(st.usage, "prompt_tokens_details.cached_tokens"), 4,
           "usage-only chunk: details kept");

    is_int(event(&st, "{\"usage\":{\"total_tokens\":31}}", &out),
           NGX_HTTP_MOA_EVENT_OK, "usage without choices: OK");
    is_int(out.len, 0, "usage without choices: swallowed");
    is_int(jnum(st.usage, "total_tokens"), 31, "usage without choices: kept");

    is_int(event(&st, "{\"choices\":[ \n ],\"usage\":{\"total_tokens\":32}}",
                 &out),
           NGX_HTTP_MOA_EVENT_OK, "usage, choices [ ]: OK");
    is_int(out.len, 0, "usage, choices with spaces: swallowed");

    /* usage null: a normal chunk, no usage key, the kept usage stays */
    is_int(event(&st, "{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":"
                 "{\"content\":\"x\"}}],\"usage\":null}", &out),
           NGX_HTTP_MOA_EVENT_OK, "usage null: OK");
    hasnt(out.data, out.len, "usage", "usage null: not sent");
    is_int(jnum(st.usage, "total_tokens"), 32, "usage null: kept usage stays");

    /* the final usage chunk, with the stream's id, created, fingerprint */
    out.len = 0;
    ngx_http_moa_buf_free(&st.created);
    ngx_http_moa_buf_lit(&st.created, "1700000000");
    ngx_http_moa_buf_lit(&st.fingerprint, "\"fp_9\"");
    ok(ngx_http_moa_stream_usage_chunk(&st, S(MODEL), st.usage, &out) == 0,
       "usage chunk: built");
    /* the three counts OpenAI's CompletionUsage requires: 0 if missing */
    is_mem(out.data, out.len,
           "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\","
           "\"created\":1700000000,\"model\":\"" MODEL "\","
           "\"system_fingerprint\":\"fp_9\",\"choices\":[],"
           "\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":0,"
           "\"total_tokens\":32}}\n\n", "usage chunk: exact");

    /* no count reported: usage null, as the schema allows in a chunk */
    {
        cJSON  *none;

        none = cJSON_CreateObject();
        out.len = 0;
        ok(ngx_http_moa_stream_usage_chunk(&st, S(MODEL), none, &out) == 0
           && tap_memmem(out.data, out.len,
                         "\"choices\":[],\"usage\":null}\n\n") != NULL,
           "usage chunk without a count: usage null");
        cJSON_Delete(none);
    }
    ngx_http_moa_stream_free(&st);
    ok(st.usage == NULL && st.id.data == NULL, "stream_free");

    /* without a stream seen: defaults */
    {
        cJSON   *v[4], *u;
        int      n;
        time_t   now;

        ngx_http_moa_stream_init(&st, 1);
        u = cJSON_Parse("{\"prompt_tokens\":1}");
        out.len = 0;
        now = time(NULL);
        ok(ngx_http_moa_stream_usage_chunk(&st, S("m\"x"), u, &out) == 0,
           "usage chunk without a stream: built");
        n = events(out.data, out.len, v, 4, "usage chunk without a stream");
        is_int(n, 1, "one event");

        if (n == 1) {
            is_str(jstr(v[0], "id"), "chatcmpl-moa", "default id");
            ok(jnum(v[0], "created") >= now
               && jnum(v[0], "created") <= now + 5, "created now");
            is_str(jstr(v[0], "model"), "m\"x", "model escaped");
            is_str(jstr(v[0], "object"), "chat.completion.chunk", "object");
            is_int(jsize(v[0], "choices"), 0, "choices []");
            ok(!jhas(v[0], "system_fingerprint"), "no fingerprint");
            is_int(jnum(v[0], "usage.prompt_tokens"), 1, "the usage given");
        }

        free_events(v, n);
        cJSON_Delete(u);

        /* a sum that is not finite: 0, never null */
        u = cJSON_Parse("{\"prompt_tokens\":1e999,\"total_tokens\":3}");
        out.len = 0;
        ok(ngx_http_moa_stream_usage_chunk(&st, S("m"), u, &out) == 0,
           "usage chunk, infinite: built");
        n = events(out.data, out.len, v, 4, "usage chunk, infinite");
        ok(n == 1 && cJSON_IsNumber(jget(v[0], "usage.prompt_tokens"))
           && jnum(v[0], "usage.prompt_tokens") == 0
           && jnum(v[0], "usage.total_tokens") == 3,
           "usage chunk, infinite: 0, not null");
        free_events(v, n);
        cJSON_Delete(u);

        out.len = 0;
        ok(ngx_http_moa_stream_usage_chunk(&st, S("m"), NULL, &out) == -1
           && out.len == 0, "usage chunk of NULL: -1");
        ngx_http_moa_stream_free(&st);
    }

    ngx_http_moa_buf_free(&out);
}


static void
test_stream_errors(void)
{
    size_t                 i;
    ngx_http_moa_buf_t     out;
    ngx_http_moa_error_t   err;
    ngx_http_moa_stream_t  st;

    static const char     *bad[] = {
        "", " ", "{", "{\"a\":", "[1,2]", "\"str\"", "42", "null",
        "{\"a\":1}{}", "{\"a\":1} x", "data: {}", "{'a':1}",
        "{\"choices\":[{\"delta\":{\"content\":\"\\q\"}}]}", NULL
    };

    memset(&out, 0, sizeof(out));

    /* an error event from the provider, kept to be sent as is */
    ngx_http_moa_stream_init(&st, 0);
    ngx_http_moa_buf_lit(&out, "kept");
    is_int(event(&st, "{\"id\":\"x\",\"error\":{\"message\":\"overloaded\","
                 "\"type\":\"server_error\",\"param\":null,\"code\":null}}",
                 &out), NGX_HTTP_MOA_EVENT_ERROR, "error event: ERROR");
    ok(st.failed, "error event: failed");
    is_mem(out.data, out.len, "kept", "error event: nothing written to out");
    is_mem(st.error.data, st.error.len,
           "data: {\"error\":{\"message\":\"overloaded\",\"type\":"
           "\"server_error\",\"param\":null,\"code\":null}}\n\n",
           "error event: the provider's error, as an SSE event");
    ngx_http_moa_stream_free(&st);

    /* an error over several lines is sent as one line */
    ngx_http_moa_stream_init(&st, 0);
    is_int(event(&st, "{\"error\":{\n\"message\":\"x\",\r\n\"code\":null\r}}",
                 &out), NGX_HTTP_MOA_EVENT_ERROR, "multi-line error: ERROR");
    is_mem(st.error.data, st.error.len,
           "data: {\"error\":{ \"message\":\"x\",  \"code\":null }}\n\n",
           "multi-line error: one line");
    ngx_http_moa_stream_free(&st);

    ngx_http_moa_stream_init(&st, 0);
    is_int(event(&st, "{\"error\":\"just a string\"}", &out),
           NGX_HTTP_MOA_EVENT_ERROR, "error string: ERROR");
    is_mem(st.error.data, st.error.len,
           "data: {\"error\":\"just a string\"}\n\n", "error string: kept");
    ngx_http_moa_stream_free(&st);

    /* an empty event: (NULL, 0) */
    ngx_http_moa_stream_init(&st, 0);
    out.len = 0;
    is_int(ngx_http_moa_stream_event(&st, NULL, 0, S(MODEL), &out),
           NGX_HTTP_MOA_EVENT_ERROR, "an empty event (NULL, 0): ERROR");
    ngx_http_moa_stream_free(&st);

    /* malformed chunks */
    for (i = 0; bad[i]; i++) {
        ngx_http_moa_stream_init(&st, 0);
        out.len = 0;
        is_int(event(&st, bad[i], &out), NGX_HTTP_MOA_EVENT_ERROR,
               "malformed '%s': ERROR", bad[i]);
        ok(st.failed && out.len == 0 && st.error.len == 0,
           "malformed '%s': failed, nothing written", bad[i]);
        ngx_http_moa_stream_free(&st);
    }

    /* error_event */
    out.len = 0;
    ngx_http_moa_error_set(&err, 502, "upstream_error", "upstream_error",
                           NULL, "cut \"short\"");
    ngx_http_moa_error_event(&out, &err);
    is_mem(out.data, out.len, "data: {\"error\":{\"message\":\"cut "
           "\\\"short\\\"\",\"type\":\"upstream_error\",\"param\":null,"
           "\"code\":\"upstream_error\"}}\n\n", "error_event");

    ngx_http_moa_buf_free(&out);
}


/* checks the chunks of one streamed choice; returns the next event index */
static int
check_choice(cJSON **ev, int n, int k, int index, const char *id,
    const char *name)
{
    int  first;

    first = k;

    ok(k < n && cJSON_IsObject(jget(ev[k], "choices.0.delta"))
       && jsize(ev[k], "choices.0.delta") == 2
       && jstr(ev[k], "choices.0.delta.role")
       && strcmp(jstr(ev[k], "choices.0.delta.role"), "assistant") == 0
       && jstr(ev[k], "choices.0.delta.content")
       && jstr(ev[k], "choices.0.delta.content")[0] == '\0',
       "%s: first delta is role assistant, content \"\"", name);

    for ( ; k < n; k++) {
        ok(jnum(ev[k], "choices.0.index") == index
           && jsize(ev[k], "choices") == 1,
           "%s: chunk %d: one choice, index %d", name, k, index);
        is_str(jstr(ev[k], "id"), id, "%s: chunk %d: id", name, k);
        is_str(jstr(ev[k], "object"), "chat.completion.chunk",
               "%s: chunk %d: object", name, k);
        is_str(jstr(ev[k], "model"), MODEL, "%s: chunk %d: model", name, k);
        ok(cJSON_IsNumber(jget(ev[k], "created")), "%s: chunk %d: created",
           name, k);
        ok(jhas(ev[k], "choices.0.logprobs"), "%s: chunk %d: logprobs", name,
           k);
        ok(!jhas(ev[k], "usage") && !jhas(ev[k], "error"),
           "%s: chunk %d: no usage, no error", name, k);
        ok(k == first || !jhas(ev[k], "choices.0.delta.role"),
           "%s: chunk %d: role only once", name, k);

        if (!cJSON_IsNull(jget(ev[k], "choices.0.finish_reason"))) {
            return k + 1;
        }
    }

    return k;
}


/* a reply for stream_from_reply (the text is a literal: it outlives it) */
static void
reply_of(ngx_http_moa_reply_t *rep, const char *json)
{
    ngx_http_moa_error_t  err;

    ok(ngx_http_moa_reply_parse(rep, json, strlen(json), &err) == 0,
       "a reply parsed: %.40s...", json);
}


static void
test_stream_from_reply(void)
{
    int                    n, k;
    cJSON                 *ev[32];
    const cJSON           *tc;
    ngx_http_moa_buf_t     out;
    ngx_http_moa_reply_t   rep;
    ngx_http_moa_stream_t  st;

    memset(&out, 0, sizeof(out));

    /* content, refusal, tool calls, finish_reason */
    reply_of(&rep, "{\"id\":\"chatcmpl-r\",\"created\":1700000001,"
                       "\"model\":\"gpt-4o\",\"system_fingerprint\":\"fp_r\","
                       "\"choices\":[{\"index\":0,\"message\":{\"role\":"
                       "\"assistant\",\"content\":\"Hello\",\"refusal\":"
                       "\"partly\",\"tool_calls\":[{\"id\":\"call_a\","
                       "\"type\":\"function\",\"function\":{\"name\":\"f\","
                       "\"arguments\":\"{\\\"x\\\":1}\"}},{\"index\":9,\"id\":"
                       "\"call_b\",\"type\":\"function\",\"function\":"
                       "{\"name\":\"g\",\"arguments\":\"{}\"}}]},"
                       "\"finish_reason\":\"tool_calls\"}],\"usage\":"
                       "{\"total_tokens\":5}}");

    ngx_http_moa_stream_init(&st, 1);
    ok(ngx_http_moa_stream_from_reply(&st, &rep, -1, S(MODEL), &out) == 0,
       "from_reply: built");
    ok(st.started, "from_reply: started");
    n = events(out.data, out.len, ev, 32, "from_reply");
    is_int(n, 5, "from_reply: role, content, refusal, tool calls, finish");

    k = check_choice(ev, n, 0, 0, "chatcmpl-r", "from_reply");
    is_int(k, n, "from_reply: the finish chunk is the last");

    if (n == 5) {
        is_int(jnum(ev[0], "created"), 1700000001, "the reply's created");
        is_str(jstr(ev[0], "system_fingerprint"), "fp_r",
               "the reply's fingerprint");
        is_str(jstr(ev[1], "choices.0.delta.content"), "Hello", "content");
        is_str(jstr(ev[2], "choices.0.delta.refusal"), "partly", "refusal");

        tc = jget(ev[3], "choices.0.delta.tool_calls");
        is_int(cJSON_GetArraySize(tc), 2, "two tool calls in one delta");
        is_int(jnum(tc, "0.index"), 0, "tool call 0: index 0");
        is_int(jnum(tc, "1.index"), 1, "tool call 1: index 1, not 9");
        is_int(count_of(out.data, out.len, "\"index\":9"), 0,
               "the provider's index replaced");
        is_str(jstr(tc, "0.id"), "call_a", "tool call 0: id");
        is_str(jstr(tc, "0.type"), "function", "tool call 0: type");
        is_str(jstr(tc, "0.function.name"), "f", "tool call 0: name");
        is_str(jstr(tc, "0.function.arguments"), "{\"x\":1}",
               "tool call 0: arguments");
        is_str(jstr(tc, "1.id"), "call_b", "tool call 1: id");

        is_int(jsize(ev[4], "choices.0.delta"), 0, "finish: empty delta");
        is_str(jstr(ev[4], "choices.0.finish_reason"), "tool_calls",
               "finish: finish_reason");
        ok(cJSON_IsNull(jget(ev[1], "choices.0.finish_reason")),
           "finish_reason null before the last");
    }

    free_events(ev, n);
    ngx_http_moa_stream_free(&st);
    ngx_http_moa_reply_free(&rep);

    /* a tool call with duplicate index keys: only the module's is left */
    reply_of(&rep, "{\"choices\":[{\"message\":{\"content\":null,"
                       "\"tool_calls\":[{\"index\":5,\"id\":\"c\",\"index\":6,"
                       "\"type\":\"function\",\"function\":{\"name\":\"f\","
                       "\"arguments\":\"{}\"},\"index\":7}]},\"finish_reason\":"
                       "\"tool_calls\"}]}");
    out.len = 0;
    ngx_http_moa_stream_init(&st, 0);
    ok(ngx_http_moa_stream_from_reply(&st, &rep, -1, S(MODEL), &out) == 0,
       "duplicate tool call index: built");
    n = events(out.data, out.len, ev, 32, "duplicate tool call index");
    ok(n == 3 && jsize(ev[1], "choices.0.delta.tool_calls.0") == 4,
       "duplicate tool call index: id, type, function and one index");
    is_int(jnum(ev[n > 1 ? 1 : 0], "choices.0.delta.tool_calls.0.index"), 0,
           "duplicate tool call index: the module's");
    hasnt(out.data, out.len, "\"index\":5", "no provider index left");
    hasnt(out.data, out.len, "\"index\":7", "no later provider index left");
    free_events(ev, n);
    ngx_http_moa_stream_free(&st);
    ngx_http_moa_reply_free(&rep);

    /* several choices, or one of them */
    reply_of(&rep, "{\"choices\":[{\"message\":{\"content\":\"a\"},"
                       "\"finish_reason\":\"stop\"},{\"message\":{\"content\":"
                       "\"\"},\"finish_reason\":\"length\"},{\"message\":"
                       "{\"content\":\"c\"},\"finish_reason\":\"stop\"}]}");

    out.len = 0;
    ngx_http_moa_stream_init(&st, 0);
    ok(ngx_http_moa_stream_from_reply(&st, &rep, -1, S(MODEL), &out) == 0,
       "three choices: built");
    n = events(out.data, out.len, ev, 32, "three choices");
    is_int(n, 8, "three choices: 3 + 2 + 3 chunks (no empty content)");
    k = check_choice(ev, n, 0, 0, "chatcmpl-moa", "choice 0");
    k = check_choice(ev, n, k, 1, "chatcmpl-moa", "choice 1");
    k = check_choice(ev, n, k, 2, "chatcmpl-moa", "choice 2");
    is_int(k, n, "three choices: nothing after");
    free_events(ev, n);
    ngx_http_moa_stream_free(&st);

    out.len = 0;
    ngx_http_moa_stream_init(&st, 0);
    ok(ngx_http_moa_stream_from_reply(&st, &rep, 2, S(MODEL), &out) == 0,
       "choice 2 of 3: built");
    n = events(out.data, out.len, ev, 32, "choice 2 of 3");
    is_int(n, 3, "choice 2 of 3: three chunks");
    k = check_choice(ev, n, 0, 0, "chatcmpl-moa", "choice 2 as index 0");
    is_int(k, n, "choice 2 of 3: nothing after");
    is_str(jstr(ev[1], "choices.0.delta.content"), "c",
           "choice 2 of 3: its content");
    free_events(ev, n);
    ngx_http_moa_stream_free(&st);
    ngx_http_moa_reply_free(&rep);

    /* the id of a stream already started is kept; created default */
    reply_of(&rep, "{\"id\":\"other\",\"created\":\"soon\",\"choices\":"
                       "[{\"message\":{\"content\":\"x\"}}]}");
    out.len = 0;
    ngx_http_moa_stream_init(&st, 0);
    ngx_http_moa_buf_lit(&st.id, "\"chatcmpl-first\"");
    ok(ngx_http_moa_stream_from_reply(&st, &rep, -1, S(MODEL), &out) == 0,
       "after a stream: built");
    n = events(out.data, out.len, ev, 32, "after a stream");
    k = check_choice(ev, n, 0, 0, "chatcmpl-first", "after a stream");
    ok(n == 3 && jnum(ev[0], "created") > 1.6e9,
       "created not a number: now");
    ok(n == 3 && cJSON_IsNull(jget(ev[2], "choices.0.finish_reason")),
       "no finish_reason in the reply: null");
    free_events(ev, n);
    ngx_http_moa_stream_free(&st);
    ngx_http_moa_reply_free(&rep);

    /* absurd created from a provider: clamped, not an undefined cast */
    reply_of(&rep, "{\"created\":1e300,\"choices\":[{\"message\":"
                       "{\"content\":\"x\"}}]}");
    out.len = 0;
    ngx_http_moa_stream_init(&st, 0);
    ok(ngx_http_moa_stream_from_reply(&st, &rep, -1, S(MODEL), &out) == 0,
       "created 1e300: built");
    n = events(out.data, out.len, ev, 32, "created 1e300");
    ok(n > 0 && jnum(ev[0], "created") == (double) LLONG_MAX,
       "created 1e300: clamped");
    free_events(ev, n);
    ngx_http_moa_stream_free(&st);
    ngx_http_moa_reply_free(&rep);

    ngx_http_moa_buf_free(&out);
}


/*
 * Faithful bytes: a \u0000 in a string is kept with what follows when a
 * reply is streamed as chunks; a choice without index gets its position.
 */
static void
test_stream_bytes(void)
{
    int                    n;
    cJSON                 *ev[32];
    ngx_http_moa_buf_t     out;
    ngx_http_moa_reply_t   rep;
    ngx_http_moa_stream_t  st;

    memset(&out, 0, sizeof(out));

    reply_of(&rep, "{\"id\":\"a\\u0000b\",\"choices\":[{\"message\":"
                       "{\"content\":\"before\\u0000after\",\"refusal\":"
                       "\"no\\u0000pe\",\"tool_calls\":[{\"id\":\"c\",\n"
                       "\"function\":{\"name\":\"f\",\"arguments\":"
                       "\"x\\u0000y\"}}]}}]}");
    ngx_http_moa_stream_init(&st, 0);
    ok(ngx_http_moa_stream_from_reply(&st, &rep, 0, S(MODEL), &out) == 0,
       "NUL from a reply: built");
    n = events(out.data, out.len, ev, 32, "NUL from a reply");
    is_int(n, 5, "NUL from a reply: role, content, refusal, calls, finish");
    has(out.data, out.len, "{\"content\":\"before\\u0000after\"}",
        "NUL from a reply: the content whole");
    has(out.data, out.len, "{\"refusal\":\"no\\u0000pe\"}",
        "NUL from a reply: the refusal whole");
    has(out.data, out.len, "\"arguments\":\"x\\u0000y\"",
        "NUL from a reply: the arguments whole");
    has(out.data, out.len, "\"id\":\"a\\u0000b\"",
        "NUL from a reply: the id whole");
    free_events(ev, n);
    ngx_http_moa_stream_free(&st);
    ngx_http_moa_reply_free(&rep);

    /* a provider's chunks without index */
    out.len = 0;
    ngx_http_moa_stream_init(&st, 0);
    is_int(event(&st, "{\"id\":\"x\",\"choices\":[{\"delta\":{\"content\":"
                 "\"a\"}},{ }, {\"index\":7,\"delta\":{}}]}", &out),
           NGX_HTTP_MOA_EVENT_OK, "no index: OK");
    n = events(out.data, out.len, ev, 32, "no index");
    ok(n == 1 && jnum(ev[0], "choices.0.index") == 0
       && jnum(ev[0], "choices.1.index") == 1
       && jnum(ev[0], "choices.2.index") == 7,
       "no index: the position, the provider's kept");
    is_str(jstr(ev[0], "choices.0.delta.content"), "a",
           "no index: the rest of the choice");
    free_events(ev, n);
    ngx_http_moa_stream_free(&st);

    /* the quick pass: strings that look like choices, index not first */
    out.len = 0;
    ngx_http_moa_stream_init(&st, 0);
    is_int(event(&st, "{\"choices\":[{\"index\":0,\"delta\":{\"content\":"
                 "\"[{\\\"x\\\":1},{\\\"index\\\"\"}},{\"delta\":{\"content\":"
                 "\"{\\\"index\\\":9}\"}},{\"delta\":{},\"index\":5}]}", &out),
           NGX_HTTP_MOA_EVENT_OK, "index after strings: OK");
    n = events(out.data, out.len, ev, 32, "index after strings");
    ok(n == 1 && jnum(ev[0], "choices.0.index") == 0
       && jnum(ev[0], "choices.1.index") == 1
       && jnum(ev[0], "choices.2.index") == 5
       && jsize(ev[0], "choices.2") == 2,
       "index after strings: the second gets 1, the third keeps its own");
    is_str(jstr(ev[0], "choices.1.delta.content"), "{\"index\":9}",
           "index after strings: the content as sent");
    free_events(ev, n);
    ngx_http_moa_stream_free(&st);

    out.len = 0;
    ngx_http_moa_stream_init(&st, 0);
    is_int(event(&st, "{\"choices\":[{\"index\":0,\"delta\":{\"content\":"
                 "\"a\\\"b\"}}]}", &out),
           NGX_HTTP_MOA_EVENT_OK, "indexed: OK");
    has(out.data, out.len, "\"choices\":[{\"index\":0,\"delta\":{\"content\":"
        "\"a\\\"b\"}}]}", "indexed: the provider's bytes");
    ngx_http_moa_stream_free(&st);

    ngx_http_moa_buf_free(&out);
}


int
main(void)
{
    test_stream_event();
    test_stream_bytes();
    test_stream_usage();
    test_stream_errors();
    test_stream_from_reply();

    return done_testing();
}
