
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_collect.[ch]: a streamed answer put back
 * together from its chunks (choice 0's content, refusal and tool call
 * pieces, the last usage), as the capture line records it.
 */


#include "util.h"
#include "ngx_http_moa_collect.h"


/* one chunk's data (without "data: "), merged into col */
static int
chunk(ngx_http_moa_collect_t *col, const char *data)
{
    return ngx_http_moa_collect_chunk(col, data, strlen(data));
}


/* the collected message, printed (the caller frees it), or NULL */
static char *
message_of(ngx_http_moa_collect_t *col)
{
    char   *s;
    cJSON  *msg;

    msg = ngx_http_moa_collect_message(col);
    if (msg == NULL) {
        return NULL;
    }

    s = cJSON_PrintUnformatted(msg);
    cJSON_Delete(msg);

    return s;
}


static void
test_content(void)
{
    char                    *s;
    ngx_http_moa_collect_t   col;

    memset(&col, 0, sizeof(col));

    s = message_of(&col);
    is_str(s, "{\"role\":\"assistant\",\"content\":\"\"}",
           "no chunk: an empty assistant message");
    free(s);
    ngx_http_moa_collect_free(&col);

    memset(&col, 0, sizeof(col));

    ok(chunk(&col, "{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":"
                   "{\"role\":\"assistant\",\"content\":\"\"}}]}") == 0
       && chunk(&col, "{\"choices\":[{\"index\":0,\"delta\":"
                      "{\"content\":\"Hel\"}}]}") == 0
       && chunk(&col, "{\"choices\":[{\"delta\":{\"content\":\"lo \\\""
                      "\\u00e9\\\"\"}}]}") == 0,
       "content chunks merged");
    ok(chunk(&col, "{\"choices\":[{\"index\":1,\"delta\":"
                   "{\"content\":\"other\"}}]}") == 0,
       "a chunk of choice 1: accepted");
    ok(chunk(&col, "{\"choices\":[{\"index\":0,\"delta\":{},"
                   "\"finish_reason\":\"stop\"}]}") == 0,
       "the last chunk: no delta text");

    s = message_of(&col);
    is_str(s, "{\"role\":\"assistant\",\"content\":\"Hello \\\"\xc3\xa9\\\"\"}",
           "content: the pieces in order, decoded; choice 1 left out, "
           "no refusal, no tool_calls");
    free(s);

    ok(col.usage == NULL, "no usage chunk: no usage");

    ngx_http_moa_collect_free(&col);
    ok(col.usage == NULL && col.tool_calls == NULL, "collect_free clears");
    ngx_http_moa_collect_free(&col);
    ok(1, "collect_free twice is harmless");

    /* a refusal alone: content stays an empty string (no tool calls) */

    memset(&col, 0, sizeof(col));

    ok(chunk(&col, "{\"choices\":[{\"index\":0,\"delta\":"
                   "{\"refusal\":\"I can\"}}]}") == 0
       && chunk(&col, "{\"choices\":[{\"index\":0,\"delta\":"
                      "{\"refusal\":\"'t\"}}]}") == 0,
       "refusal chunks merged");

    s = message_of(&col);
    is_str(s, "{\"role\":\"assistant\",\"content\":\"\","
              "\"refusal\":\"I can't\"}", "refusal: the pieces in order");
    free(s);
    ngx_http_moa_collect_free(&col);

    /* what is not a chunk object is left out, not an error */

    memset(&col, 0, sizeof(col));

    ok(chunk(&col, "[1]") == 0 && chunk(&col, "{") == 0
       && chunk(&col, "\"x\"") == 0,
       "not a JSON object: ignored");
    ok(chunk(&col, "{\"choices\":[{\"delta\":{\"content\":5}}]}") == 0,
       "content that is not a string: ignored");

    s = message_of(&col);
    is_str(s, "{\"role\":\"assistant\",\"content\":\"\"}",
           "nothing collected from them");
    free(s);
    ngx_http_moa_collect_free(&col);
}


static void
test_tool_calls(void)
{
    char                    *s;
    cJSON                   *msg;
    ngx_http_moa_collect_t   col;

    memset(&col, 0, sizeof(col));

    /* as t/060-stream.t's provider sends them: id and name once */

    ok(chunk(&col, "{\"choices\":[{\"index\":0,\"delta\":{\"role\":"
                   "\"assistant\",\"content\":null,\"tool_calls\":[{"
                   "\"index\":0,\"id\":\"call_1\",\"type\":\"function\","
                   "\"function\":{\"name\":\"get_weather\",\"arguments\":"
                   "\"\"}}]}}]}") == 0,
       "tool call 0: id and name");
    ok(chunk(&col, "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{"
                   "\"index\":0,\"function\":{\"arguments\":"
                   "\"{\\\"city\\\"\"}}]}}]}") == 0
       && chunk(&col, "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":"
                      "[{\"index\":0,\"function\":{\"arguments\":"
                      "\":\\\"Paris\\\"}\"}}]}}]}") == 0,
       "tool call 0: arguments in two pieces");
    ok(chunk(&col, "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{"
                   "\"index\":1,\"id\":\"call_2\",\"type\":\"function\","
                   "\"function\":{\"name\":\"get_time\",\"arguments\":"
                   "\"{}\"}}]}}]}") == 0,
       "tool call 1: all at once");

    msg = ngx_http_moa_collect_message(&col);

    ok(msg && cJSON_IsNull(jget(msg, "content")),
       "tool calls without content: content null");
    ok(!jhas(msg, "refusal"), "no refusal");
    is_int(jsize(msg, "tool_calls"), 2, "two tool calls");
    is_str(jstr(msg, "tool_calls.0.id"), "call_1", "call 0: id");
    is_str(jstr(msg, "tool_calls.0.type"), "function", "call 0: type");
    is_str(jstr(msg, "tool_calls.0.function.name"), "get_weather",
           "call 0: name");
    is_str(jstr(msg, "tool_calls.0.function.arguments"),
           "{\"city\":\"Paris\"}", "call 0: arguments joined");
    is_str(jstr(msg, "tool_calls.1.id"), "call_2", "call 1: id");
    is_str(jstr(msg, "tool_calls.1.function.name"), "get_time",
           "call 1: name");
    is_str(jstr(msg, "tool_calls.1.function.arguments"), "{}",
           "call 1: arguments");
    ok(!jhas(msg, "tool_calls.0.index"), "no index in the message's calls");

    cJSON_Delete(msg);
    ngx_http_moa_collect_free(&col);

    /* a call announced by a later index: the ones before are made empty */

    memset(&col, 0, sizeof(col));

    ok(chunk(&col, "{\"choices\":[{\"delta\":{\"content\":\"\","
                   "\"tool_calls\":[{\"index\":1,\"id\":\"b\","
                   "\"function\":{\"name\":\"g\"}}]}}]}") == 0,
       "a call at index 1 first");

    s = message_of(&col);
    is_str(s, "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
              "{\"function\":{\"name\":\"\",\"arguments\":\"\"},\"id\":\"\","
              "\"type\":\"function\"},"
              "{\"function\":{\"name\":\"g\",\"arguments\":\"\"},\"id\":\"b\","
              "\"type\":\"function\"}]}",
           "index 0 made empty; empty content with tool calls is null");
    free(s);
    ngx_http_moa_collect_free(&col);

    /* content and tool calls: both kept */

    memset(&col, 0, sizeof(col));

    ok(chunk(&col, "{\"choices\":[{\"delta\":{\"content\":\"let me\","
                   "\"tool_calls\":[{\"index\":0,\"id\":\"a\"}]}}]}") == 0,
       "content and a tool call in one chunk");

    msg = ngx_http_moa_collect_message(&col);
    ok(cJSON_IsRaw(jget(msg, "content"))
       && strcmp(jget(msg, "content")->valuestring, "\"let me\"") == 0,
       "content kept beside tool calls, as raw JSON");
    is_str(jstr(msg, "tool_calls.0.id"), "a", "the tool call kept");
    cJSON_Delete(msg);
    ngx_http_moa_collect_free(&col);
}


static void
test_usage_and_failure(void)
{
    char                    *s;
    ngx_http_moa_collect_t   col;

    memset(&col, 0, sizeof(col));

    ok(chunk(&col, "{\"choices\":[],\"usage\":{\"prompt_tokens\":2,"
                   "\"total_tokens\":5}}") == 0,
       "a usage chunk");
    is_int(jnum(col.usage, "total_tokens"), 5, "usage: kept");
    ok(chunk(&col, "{\"choices\":[],\"usage\":{\"total_tokens\":9}}") == 0
       && chunk(&col, "{\"choices\":[],\"usage\":null}") == 0,
       "another usage, then usage null");
    is_int(jnum(col.usage, "total_tokens"), 9,
           "usage: the last object replaces it, null does not");
    ok(!jhas(col.usage, "prompt_tokens"), "usage: replaced, not merged");

    s = message_of(&col);
    is_str(s, "{\"role\":\"assistant\",\"content\":\"\"}",
           "usage is not part of the message");
    free(s);
    ngx_http_moa_collect_free(&col);

    /* a tool call index the module does not keep: the answer is lost */

    memset(&col, 0, sizeof(col));

    ok(chunk(&col, "{\"choices\":[{\"delta\":{\"content\":\"x\"}}]}") == 0,
       "content first");
    ok(chunk(&col, "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":"
                   "128}]}}]}") == -1 && col.failed,
       "tool call index 128: failed");
    ok(chunk(&col, "{\"choices\":[{\"delta\":{\"content\":\"y\"}}]}") == -1,
       "after a failure every chunk fails");
    ok(ngx_http_moa_collect_message(&col) == NULL,
       "a failed collection has no message");
    ngx_http_moa_collect_free(&col);

    memset(&col, 0, sizeof(col));
    ok(chunk(&col, "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":"
                   "-1}]}}]}") == -1,
       "tool call index -1: failed");
    ngx_http_moa_collect_free(&col);

    memset(&col, 0, sizeof(col));
    ok(chunk(&col, "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":"
                   "127,\"id\":\"z\"}]}}]}") == 0,
       "tool call index 127: kept");
    s = message_of(&col);
    ok(s && count_of(s, strlen(s), "\"type\":\"function\"") == 128,
       "index 127: 128 calls");
    free(s);
    ngx_http_moa_collect_free(&col);
}


/* a \u0000 keeps what follows it (cJSON's strings end there) */
static void
test_nul(void)
{
    char                    *s;
    ngx_http_moa_collect_t   col;

    memset(&col, 0, sizeof(col));

    ok(chunk(&col, "{\"choices\":[{\"index\":1,\"delta\":{\"content\":"
                   "\"other\"}},{\"delta\":{\"content\":\"be\\u0000\","
                   "\"refusal\":\"n\\u0000\"}}]}") == 0
       && chunk(&col, "{\"choices\":[{\"index\":0,\"delta\":{\"content\":"
                      "\"fore\",\"refusal\":\"o\"}}]}") == 0,
       "NUL: chunks merged");

    s = message_of(&col);
    is_str(s, "{\"role\":\"assistant\",\"content\":\"be\\u0000fore\","
              "\"refusal\":\"n\\u0000o\"}", "NUL: content and refusal whole");
    free(s);
    ngx_http_moa_collect_free(&col);
}


int
main(void)
{
    test_content();
    test_nul();
    test_tool_calls();
    test_usage_and_failure();

    return done_testing();
}
