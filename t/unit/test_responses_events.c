
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_responses_events.[ch]: chat chunks translated
 * into typed events, in OpenAI's order and numbered; items closed when the
 * next starts; the end with the whole response, the failure; a whole
 * choice as a stream.
 */


#include "util.h"
#include "ngx_http_moa_reply.h"
#include "ngx_http_moa_responses_events.h"


static uint64_t  seed = 9;


/* "event: T\ndata: {...}\n\n" frames: their types, space-separated */
static void
types_of(const ngx_http_moa_buf_t *out, char *types, size_t size,
    cJSON **last)
{
    const char  *p, *end, *nl, *fe;
    long         seq;
    size_t       n;

    p = out->data;
    end = p + out->len;
    n = 0;
    seq = 0;
    types[0] = '\0';
    *last = NULL;

    while (p && p < end) {
        fe = strstr(p, "\n\n");
        nl = strchr(p, '\n');

        if (fe == NULL || strncmp(p, "event: ", 7) != 0) {
            ok(0, "a frame");
            return;
        }

        n += snprintf(types + n, size - n, "%s%.*s", n ? " " : "",
                      (int) (nl - p - 7), p + 7);

        cJSON_Delete(*last);
        *last = json_ok(nl + 7, fe - nl - 7, "an event's data");

        if (jnum(*last, "sequence_number") != seq) {
            ok(0, "sequence_number %ld", seq);
        }

        seq++;
        p = fe + 2;
    }
}


static void
events_init(ngx_http_moa_responses_events_t *ev,
    ngx_http_moa_responses_object_t *o)
{
    memset(o, 0, sizeof(*o));
    strcpy(o->id, "resp_e");
    o->model = "moa";
    o->model_len = 3;
    o->seed = &seed;
    ngx_http_moa_responses_events_init(ev, o);
}


#define CHUNK(delta, finish)                                                 \
    "{\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"        \
    "\"delta\":" delta ",\"finish_reason\":" finish "}]}"


static void
test_stream(void)
{
    char                              types[2048];
    cJSON                            *last, *usage;
    ngx_http_moa_buf_t                out;
    ngx_http_moa_responses_object_t   o;
    ngx_http_moa_responses_events_t   ev;

    static const char  *chunks[] = {
        CHUNK("{\"role\":\"assistant\",\"content\":\"\"}", "null"),
        CHUNK("{\"content\":\"Hel\"}", "null"),
        CHUNK("{\"content\":\"lo\\n\"}", "null"),
        CHUNK("{\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"type\":"
              "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"\"}}"
              "]}", "null"),
        CHUNK("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
              "\"{\\\"x\\\"\"}}]}", "null"),
        CHUNK("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
              "\":1}\"}}]}", "null"),
        CHUNK("{}", "\"tool_calls\""),
        "{\"choices\":[],\"usage\":{\"prompt_tokens\":1}}"
    };

    size_t  i;

    events_init(&ev, &o);
    memset(&out, 0, sizeof(out));

    ngx_http_moa_responses_events_start(&ev, &out);

    for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        is_int(ngx_http_moa_responses_events_chunk(&ev, chunks[i],
                                                   strlen(chunks[i]), &out),
               0, "chunk %zu", i);
    }

    is_int(ngx_http_moa_responses_events_chunk(&ev, "[DONE]", 6, &out), 1,
           "[DONE] is no chunk");

    usage = cJSON_Parse("{\"prompt_tokens\":7,\"completion_tokens\":3}");
    is_int(ngx_http_moa_responses_events_end(&ev, usage, &out), 0, "end");
    cJSON_Delete(usage);

    types_of(&out, types, sizeof(types), &last);
    is_str(types,
           "response.created response.in_progress "
           "response.output_item.added response.content_part.added "
           "response.output_text.delta response.output_text.delta "
           "response.output_text.done response.content_part.done "
           "response.output_item.done response.output_item.added "
           "response.function_call_arguments.delta "
           "response.function_call_arguments.delta "
           "response.function_call_arguments.done "
           "response.output_item.done response.completed",
           "the events in order");
    is_str(jstr(last, "response.output.0.content.0.text"), "Hello\n",
           "the text, whole");
    is_str(jstr(last, "response.output.1.arguments"), "{\"x\":1}",
           "the arguments, whole");
    is_str(jstr(last, "response.output.1.call_id"), "call_a", "call_id");
    ok(jnum(last, "response.usage.input_tokens") == 7, "the usage");
    is_str(jstr(last, "response.status"), "completed", "completed");
    ok(ev.object.len > 0 && ev.object.data[0] == '{', "the object kept");
    cJSON_Delete(last);

    is_int(ngx_http_moa_responses_events_end(&ev, NULL, &out), 0,
           "a second end writes nothing");

    ngx_http_moa_buf_free(&out);
    ngx_http_moa_responses_events_free(&ev);
}


static void
test_fail_and_choice(void)
{
    char                              types[1024];
    cJSON                            *last;
    ngx_http_moa_buf_t                out;
    ngx_http_moa_reply_t              rep;
    ngx_http_moa_error_t              err;
    ngx_http_moa_responses_object_t   o;
    ngx_http_moa_responses_events_t   ev;

    static const char  chunk[] = CHUNK("{\"refusal\":\"no\"}", "null");
    static const char  reply[] =
        "{\"choices\":[{\"message\":{\"content\":\"whole\"},"
        "\"finish_reason\":\"length\"}]}";

    events_init(&ev, &o);
    memset(&out, 0, sizeof(out));

    ngx_http_moa_responses_events_chunk(&ev, chunk, sizeof(chunk) - 1, &out);
    ngx_http_moa_error_set(&err, 502, "upstream_error", "upstream_error",
                           NULL, "cut short");
    is_int(ngx_http_moa_responses_events_fail(&ev, &err, NULL, &out), 0,
           "fail");

    types_of(&out, types, sizeof(types), &last);
    is_str(types,
           "response.created response.in_progress "
           "response.output_item.added response.content_part.added "
           "response.refusal.delta response.refusal.done "
           "response.content_part.done response.output_item.done "
           "error response.failed", "created first, then the failure");
    is_str(jstr(last, "response.status"), "failed", "failed");
    is_str(jstr(last, "response.error.message"), "cut short", "the error");
    is_str(jstr(last, "response.output.0.status"), "incomplete",
           "what came, incomplete");
    cJSON_Delete(last);
    ngx_http_moa_buf_free(&out);
    ngx_http_moa_responses_events_free(&ev);

    /* a whole choice as a stream */
    events_init(&ev, &o);
    memset(&out, 0, sizeof(out));
    ok(ngx_http_moa_reply_parse(&rep, reply, sizeof(reply) - 1, &err) == 0,
       "a reply");
    ngx_http_moa_responses_events_start(&ev, &out);
    is_int(ngx_http_moa_responses_events_choice(&ev, &rep.choices[0], &out),
           0, "choice");
    ngx_http_moa_responses_events_end(&ev, NULL, &out);

    types_of(&out, types, sizeof(types), &last);
    has(types, strlen(types), "response.output_text.delta "
        "response.output_text.done", "one delta");
    is_str(jstr(last, "type"), "response.incomplete", "incomplete");
    is_str(jstr(last, "response.incomplete_details.reason"),
           "max_output_tokens", "why");
    cJSON_Delete(last);
    ngx_http_moa_reply_free(&rep);
    ngx_http_moa_buf_free(&out);
    ngx_http_moa_responses_events_free(&ev);
}


/* a text and a refusal: two parts of one message item */
static void
test_text_and_refusal(void)
{
    char                              types[2048];
    cJSON                            *last;
    ngx_http_moa_buf_t                out;
    ngx_http_moa_reply_t              rep;
    ngx_http_moa_error_t              err;
    ngx_http_moa_responses_object_t   o;
    ngx_http_moa_responses_events_t   ev;

    static const char  c1[] = CHUNK("{\"content\":\"par\"}", "null");
    static const char  c2[] = CHUNK("{\"content\":\"tly\"}", "null");
    static const char  c3[] = CHUNK("{\"refusal\":\"no\"}", "\"stop\"");
    static const char  reply[] =
        "{\"choices\":[{\"message\":{\"content\":\"a\",\"refusal\":"
        "\"b\"},\"finish_reason\":\"stop\"}]}";

    events_init(&ev, &o);
    memset(&out, 0, sizeof(out));

    ngx_http_moa_responses_events_chunk(&ev, c1, sizeof(c1) - 1, &out);
    ngx_http_moa_responses_events_chunk(&ev, c2, sizeof(c2) - 1, &out);
    ngx_http_moa_responses_events_chunk(&ev, c3, sizeof(c3) - 1, &out);
    is_int(ngx_http_moa_responses_events_end(&ev, NULL, &out), 0, "end");

    types_of(&out, types, sizeof(types), &last);
    is_str(types,
           "response.created response.in_progress "
           "response.output_item.added response.content_part.added "
           "response.output_text.delta response.output_text.delta "
           "response.output_text.done response.content_part.done "
           "response.content_part.added response.refusal.delta "
           "response.refusal.done response.content_part.done "
           "response.output_item.done response.completed",
           "one item, two parts");
    has(out.data, out.len, "\"type\":\"response.refusal.delta\","
        "\"sequence_number\":9,\"item_id\":\"", "the refusal's delta");
    has(out.data, out.len, "\"content_index\":1,\"delta\":\"no\"",
        "at content_index 1");
    has(out.data, out.len, "\"content_index\":1,\"part\":{\"type\":"
        "\"refusal\",\"refusal\":\"\"}", "its part added at 1");
    is_int(jsize(last, "response.output"), 1, "one output item");
    is_int(jsize(last, "response.output.0.content"), 2, "two parts");
    is_str(jstr(last, "response.output.0.content.0.text"), "partly",
           "the text first");
    is_str(jstr(last, "response.output.0.content.1.refusal"), "no",
           "the refusal second");
    cJSON_Delete(last);
    ngx_http_moa_buf_free(&out);
    ngx_http_moa_responses_events_free(&ev);

    /* a whole choice with both */
    events_init(&ev, &o);
    memset(&out, 0, sizeof(out));
    ok(ngx_http_moa_reply_parse(&rep, reply, sizeof(reply) - 1, &err) == 0,
       "a reply");
    is_int(ngx_http_moa_responses_events_choice(&ev, &rep.choices[0], &out),
           0, "choice");
    ngx_http_moa_responses_events_end(&ev, NULL, &out);
    types_of(&out, types, sizeof(types), &last);
    is_int(jsize(last, "response.output"), 1, "one item");
    is_str(jstr(last, "response.output.0.content.0.type"), "output_text",
           "output_text");
    is_str(jstr(last, "response.output.0.content.1.type"), "refusal",
           "refusal");
    cJSON_Delete(last);
    ngx_http_moa_reply_free(&rep);
    ngx_http_moa_buf_free(&out);
    ngx_http_moa_responses_events_free(&ev);
}


int
main(void)
{
    test_stream();
    test_fail_and_choice();
    test_text_and_refusal();

    return done_testing();
}
