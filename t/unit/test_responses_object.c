
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_responses_object.[ch]: the response object
 * from a chat choice (text, text parts, refusal, tool calls, incomplete),
 * its usage from the summed chat usage, its echo, failed with an error.
 */


#include "util.h"
#include "ngx_http_moa_reply.h"
#include "ngx_http_moa_responses_object.h"


static uint64_t  seed = 3;

static ngx_http_moa_buf_t  echo_buf = {
    (char *) "\"store\":true,\"tools\":[]", 23, 0, 0
};


static void
object_init(ngx_http_moa_responses_object_t *o)
{
    memset(o, 0, sizeof(*o));
    strcpy(o->id, "resp_1");
    o->created_at = 1700000000;
    o->model = "moa-\"x\"";
    o->model_len = 7;
    o->echo = &echo_buf;
    o->seed = &seed;
}


/* the object a chat reply's first choice gives */
static cJSON *
object_of(const char *reply, const char *usage_text)
{
    cJSON                            *v, *usage;
    const char                       *reason;
    ngx_http_moa_buf_t                items, out;
    ngx_http_moa_reply_t              rep;
    ngx_http_moa_error_t              err;
    ngx_http_moa_responses_object_t   o;

    object_init(&o);
    memset(&items, 0, sizeof(items));
    memset(&out, 0, sizeof(out));

    ok(ngx_http_moa_reply_parse(&rep, reply, strlen(reply), &err) == 0,
       "a reply");
    ok(ngx_http_moa_responses_object_items(&items, &o, &rep.choices[0],
                                           &reason) == 0, "its items");

    usage = usage_text ? cJSON_Parse(usage_text) : NULL;
    ngx_http_moa_responses_object_write(&out, &o,
                                        reason ? "incomplete" : "completed",
                                        reason, NULL, items.data, items.len,
                                        usage);
    v = json_ok(out.data, out.len, "the response object");

    cJSON_Delete(usage);
    ngx_http_moa_reply_free(&rep);
    ngx_http_moa_buf_free(&items);
    ngx_http_moa_buf_free(&out);

    return v;
}


static void
test_object(void)
{
    cJSON  *v;

    v = object_of("{\"choices\":[{\"message\":{\"role\":\"assistant\","
                  "\"content\":\"hi \\\"you\\\"\"},\"finish_reason\":"
                  "\"stop\"}]}",
                  "{\"prompt_tokens\":10,\"completion_tokens\":4,"
                  "\"total_tokens\":14,\"prompt_tokens_details\":"
                  "{\"cached_tokens\":3},\"completion_tokens_details\":"
                  "{\"reasoning_tokens\":2}}");
    is_str(jstr(v, "id"), "resp_1", "id");
    is_str(jstr(v, "object"), "response", "object");
    ok(jnum(v, "created_at") == 1700000000, "created_at");
    is_str(jstr(v, "status"), "completed", "status");
    is_str(jstr(v, "model"), "moa-\"x\"", "model, escaped");
    ok(cJSON_IsNull(jget(v, "error")), "error null");
    ok(cJSON_IsNull(jget(v, "incomplete_details")), "incomplete null");
    is_str(jstr(v, "output.0.type"), "message", "a message");
    is_str(jstr(v, "output.0.role"), "assistant", "role");
    is_str(jstr(v, "output.0.content.0.text"), "hi \"you\"", "the text");
    is_int(jsize(v, "output.0.content.0.annotations"), 0, "annotations");
    ok(jnum(v, "usage.input_tokens") == 10, "input_tokens");
    ok(jnum(v, "usage.output_tokens") == 4, "output_tokens");
    ok(jnum(v, "usage.total_tokens") == 14, "total_tokens");
    ok(jnum(v, "usage.input_tokens_details.cached_tokens") == 3, "cached");
    ok(jnum(v, "usage.output_tokens_details.reasoning_tokens") == 2,
       "reasoning");
    ok(cJSON_IsTrue(jget(v, "store")), "the echo");
    cJSON_Delete(v);

    v = object_of("{\"choices\":[{\"message\":{\"content\":[{\"type\":"
                  "\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":"
                  "\"b\"}],\"tool_calls\":[{\"id\":\"call_1\",\"type\":"
                  "\"function\",\"function\":{\"name\":\"f\",\"arguments\":"
                  "\"{\\\"x\\\":1}\"}}]},\"finish_reason\":\"length\"}]}",
                  NULL);
    is_str(jstr(v, "status"), "incomplete", "length: incomplete");
    is_str(jstr(v, "incomplete_details.reason"), "max_output_tokens",
           "max_output_tokens");
    is_int(jsize(v, "output.0.content"), 2, "text parts, each a part");
    is_str(jstr(v, "output.0.content.1.text"), "b", "the second");
    is_str(jstr(v, "output.0.status"), "incomplete", "the item too");
    is_str(jstr(v, "output.1.type"), "function_call", "a function call");
    is_str(jstr(v, "output.1.call_id"), "call_1", "call_id");
    is_str(jstr(v, "output.1.name"), "f", "name");
    is_str(jstr(v, "output.1.arguments"), "{\"x\":1}", "arguments");
    ok(strncmp(jstr(v, "output.1.id"), "fc_", 3) == 0, "id");
    ok(cJSON_IsNull(jget(v, "usage")), "no usage: null");
    cJSON_Delete(v);

    v = object_of("{\"choices\":[{\"message\":{\"content\":null,\"refusal\":"
                  "\"no\"},\"finish_reason\":\"content_filter\"}]}", "{}");
    is_str(jstr(v, "output.0.content.0.type"), "refusal", "a refusal");
    is_str(jstr(v, "output.0.content.0.refusal"), "no", "its text");
    is_str(jstr(v, "incomplete_details.reason"), "content_filter",
           "content_filter");
    ok(jnum(v, "usage.total_tokens") == 0, "an empty usage: zeros");
    cJSON_Delete(v);

    /* a text and a refusal: one message, two parts, as OpenAI */
    v = object_of("{\"choices\":[{\"message\":{\"content\":\"part\","
                  "\"refusal\":\"no\"},\"finish_reason\":\"stop\"}]}",
                  NULL);
    is_int(jsize(v, "output"), 1, "both: one item");
    is_int(jsize(v, "output.0.content"), 2, "two parts");
    is_str(jstr(v, "output.0.content.0.type"), "output_text", "the text");
    is_str(jstr(v, "output.0.content.0.text"), "part", "its text");
    is_str(jstr(v, "output.0.content.1.type"), "refusal", "the refusal");
    is_str(jstr(v, "output.0.content.1.refusal"), "no", "its refusal");
    cJSON_Delete(v);

    v = object_of("{\"choices\":[{\"message\":{\"content\":\"\","
                  "\"refusal\":\"no\"}}]}", NULL);
    is_int(jsize(v, "output.0.content"), 1, "an empty text: no part");
    cJSON_Delete(v);
}


static void
test_failed(void)
{
    cJSON                            *v;
    ngx_http_moa_buf_t                out;
    ngx_http_moa_error_t              err;
    ngx_http_moa_responses_object_t   o;

    object_init(&o);
    memset(&out, 0, sizeof(out));
    ngx_http_moa_error_set(&err, 502, "upstream_error", NULL, NULL,
                           "all \"3\" failed");

    ngx_http_moa_responses_object_write(&out, &o, "failed", NULL, &err, "",
                                        0, NULL);
    v = json_ok(out.data, out.len, "a failed response");
    is_str(jstr(v, "status"), "failed", "failed");
    is_str(jstr(v, "error.code"), "server_error", "a code");
    is_str(jstr(v, "error.message"), "all \"3\" failed", "the message");
    is_int(jsize(v, "output"), 0, "no output");
    cJSON_Delete(v);
    ngx_http_moa_buf_free(&out);
}


int
main(void)
{
    test_object();
    test_failed();

    return done_testing();
}
