
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_capture.[ch]: one line of a fine-tuning file
 * (OpenAI chat format): the client's conversation with the answer
 * appended, its tools, and the metadata of what produced the answer.
 */


#include "util.h"
#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_request.h"
#include "ngx_http_moa_capture.h"


#define USER  "[{\"role\":\"user\",\"content\":\"capital of France?\"}]"


/*
 * The capture line of a request body and an answer message (JSON), in out
 * (reset), and parsed; NULL (and a failed assertion) when it is not made.
 */
static cJSON *
capture(const char *body, const char *answer,
    const ngx_http_moa_capture_meta_t *meta, ngx_http_moa_buf_t *out,
    const char *name)
{
    int                     rc;
    cJSON                  *a;
    ngx_http_moa_error_t    err;
    ngx_http_moa_request_t  req;

    out->len = 0;

    if (!ok(ngx_http_moa_request_parse(&req, body, strlen(body), &err) == 0,
            "%s: request parsed", name))
    {
        ngx_http_moa_request_free(&req);
        return NULL;
    }

    /* as the handler does before the answer comes */
    ngx_http_moa_request_compact(&req);

    a = cJSON_Parse(answer);
    rc = ngx_http_moa_capture_line(out, &req, a, meta);
    cJSON_Delete(a);
    ngx_http_moa_request_free(&req);

    if (!ok(rc == 0, "%s: a line", name)) {
        return NULL;
    }

    ok(memchr(out->data, '\n', out->len) == NULL
       && memchr(out->data, '\r', out->len) == NULL,
       "%s: one line", name);

    return json_ok(out->data, out->len, name);
}


static void
test_moa(void)
{
    char                         *s;
    cJSON                        *line, *usage;
    ngx_http_moa_buf_t            out;
    ngx_http_moa_capture_meta_t   meta;

    memset(&out, 0, sizeof(out));
    memset(&meta, 0, sizeof(meta));

    usage = cJSON_Parse("{\"prompt_tokens\":10,\"completion_tokens\":2,"
                        "\"total_tokens\":12}");

    meta.model = "moa-gpt-4o-v1";
    meta.base_model = "gpt-4o";
    meta.usage = usage;
    meta.time = 1700000000.25;
    meta.duration = 1.5;
    meta.request_id = "0123456789abcdef0123456789abcdefXYZ";
    meta.request_id_len = 32;

    line = capture("{\"model\":\"moa-gpt-4o-v1\",\"temperature\":0.5,"
                   "\"messages\":" USER ",\"tools\":[{\"type\":\"function\","
                   "\"function\":{\"name\":\"f\"}}],"
                   "\"parallel_tool_calls\":false}",
                   "{\"role\":\"assistant\",\"content\":\"Paris\","
                   "\"refusal\":null,\"tool_calls\":[],\"annotations\":[]}",
                   &meta, &out, "moa");

    is_int(jsize(line, "messages"), 2, "messages: the client's and the answer");
    is_str(jstr(line, "messages.0.content"), "capital of France?",
           "messages: the client's first");
    is_str(jstr(line, "messages.1.role"), "assistant", "answer: role");
    is_str(jstr(line, "messages.1.content"), "Paris", "answer: content");
    is_int(jsize(line, "messages.1"), 2,
           "answer: role and content only (refusal null, tool_calls [] and "
           "other fields left out)");
    is_str(jstr(line, "tools.0.function.name"), "f", "tools kept");
    ok(cJSON_IsFalse(jget(line, "parallel_tool_calls")),
       "parallel_tool_calls kept");
    ok(!jhas(line, "model") && !jhas(line, "temperature"),
       "other request fields left out");

    is_str(jstr(line, "metadata.model"), "moa-gpt-4o-v1", "metadata: model");
    is_str(jstr(line, "metadata.base_model"), "gpt-4o",
           "metadata: base model");
    is_int(jnum(line, "metadata.usage.total_tokens"), 12, "metadata: usage");
    is_str(jstr(line, "metadata.request_id"),
           "0123456789abcdef0123456789abcdef",
           "metadata: request id, its length only");
    ok(!jhas(line, "metadata.fallback"), "metadata: no fallback");

    /* the order of the members, and times printed to the millisecond */
    has(out.data, out.len, "{\"messages\":[", "messages first");
    has(out.data, out.len, "],\"tools\":[", "then tools");
    has(out.data, out.len, "\"parallel_tool_calls\":false,\"metadata\":{",
        "then parallel_tool_calls, then metadata");
    has(out.data, out.len, "\"time\":1700000000.250,\"duration\":1.500,",
        "time and duration: three decimals, exactly");

    s = cJSON_PrintUnformatted(usage);
    has(out.data, out.len, s, "usage as given, in order");
    free(s);

    cJSON_Delete(line);
    cJSON_Delete(usage);
    ngx_http_moa_buf_free(&out);
}


static void
test_passthrough(void)
{
    cJSON                        *line;
    ngx_http_moa_buf_t            out;
    ngx_http_moa_capture_meta_t   meta;

    memset(&out, 0, sizeof(out));
    memset(&meta, 0, sizeof(meta));

    /* passthrough: no base model; a stream without usage; no request id */

    meta.model = "gpt-4o-mini";

    line = capture("{\"model\":\"gpt-4o-mini\",\"messages\":" USER ","
                   "\"tools\":[],\"parallel_tool_calls\":1}",
                   "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":"
                   "[{\"id\":\"c\",\"type\":\"function\",\"function\":{"
                   "\"name\":\"g\",\"arguments\":\"{}\"}}]}",
                   &meta, &out, "passthrough");

    ok(cJSON_IsNull(jget(line, "metadata.base_model")),
       "no base model: null");
    ok(cJSON_IsNull(jget(line, "metadata.usage")), "no usage: null");
    ok(!jhas(line, "metadata.request_id"), "no request id: left out");
    ok(!jhas(line, "tools"), "tools []: left out");
    ok(!jhas(line, "parallel_tool_calls"),
       "parallel_tool_calls that is not a boolean: left out");
    ok(cJSON_IsNull(jget(line, "messages.1.content")),
       "answer: content null kept");
    is_str(jstr(line, "messages.1.tool_calls.0.function.name"), "g",
           "answer: tool calls kept");
    has(out.data, out.len, "\"time\":0.000,\"duration\":0.000",
        "time and duration zero");

    cJSON_Delete(line);

    /* a fallback answer; a refusal; an answer without content */

    meta.fallback = 1;

    line = capture("{\"model\":\"m\",\"messages\":" USER "}",
                   "{\"role\":\"assistant\",\"refusal\":\"no\"}",
                   &meta, &out, "fallback");

    ok(cJSON_IsTrue(jget(line, "metadata.fallback")),
       "fallback: marked true");
    ok(cJSON_IsNull(jget(line, "messages.1.content")),
       "answer without content: content null");
    is_str(jstr(line, "messages.1.refusal"), "no", "answer: refusal kept");
    ok(!jhas(line, "messages.1.tool_calls"), "answer: no tool_calls");

    cJSON_Delete(line);
    ngx_http_moa_buf_free(&out);
}


/* the client's messages as they sent them, on one line, whole */
static void
test_raw_messages(void)
{
    cJSON                        *line;
    ngx_http_moa_buf_t            out;
    ngx_http_moa_capture_meta_t   meta;

    memset(&out, 0, sizeof(out));
    memset(&meta, 0, sizeof(meta));
    meta.model = "m";

    line = capture("{\"model\":\"m\",\"messages\" : [\n {\"role\": \"user\",\r\n"
                   "\t\"content\" : \"be\\u0000fore \\\" ] \\\\\"}\n]\n}",
                   "{\"role\":\"assistant\",\"content\":\"ok\"}", &meta, &out,
                   "raw messages");
    has(out.data, out.len, "{\"messages\":[{\"role\":\"user\",\"content\":"
        "\"be\\u0000fore \\\" ] \\\\\"},{\"role\":\"assistant\","
        "\"content\":\"ok\"}]", "raw messages: the client's bytes, white "
        "space between tokens dropped, in strings kept, the answer after");
    is_int(jsize(line, "messages"), 2, "raw messages: two");
    cJSON_Delete(line);
    ngx_http_moa_buf_free(&out);
}


int
main(void)
{
    test_raw_messages();
    test_moa();
    test_passthrough();

    return done_testing();
}
