
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_responses_items.[ch]: input items written as
 * chat messages (assistant turns merged with their function calls, tool
 * messages matched by call_id), kept normalized with ids, what cannot be
 * translated noted once, the ids.
 */


#include "util.h"
#include "ngx_http_moa_responses_items.h"


typedef struct {
    ngx_http_moa_buf_t              chat;
    ngx_http_moa_buf_t              input;
    uint64_t                        seed;
    char                            unsupported[96];
    char                            param[64];
    ngx_http_moa_responses_items_t  it;
    ngx_http_moa_json_t             j;
} items_t;


static void
items_init(items_t *t)
{
    memset(t, 0, sizeof(items_t));
    t->seed = 7;
    t->it.chat = &t->chat;
    t->it.input = &t->input;
    t->it.seed = &t->seed;
    t->it.unsupported = t->unsupported;
    t->it.unsupported_param = t->param;
}


/* the items of text (an array) added; the chat messages closed */
static int
items_add(items_t *t, const char *text, ngx_http_moa_error_t *err)
{
    int  rc;

    if (ngx_http_moa_json_parse(&t->j, text, strlen(text)) != 0) {
        return -3;
    }

    rc = ngx_http_moa_responses_items_add(&t->it, &t->j, 0, "input", err);
    ngx_http_moa_responses_items_close(&t->it);

    return rc;
}


static void
items_free(items_t *t)
{
    ngx_http_moa_responses_items_free(&t->it);
    ngx_http_moa_json_free(&t->j);
    ngx_http_moa_buf_free(&t->chat);
    ngx_http_moa_buf_free(&t->input);
}


static void
test_ids(void)
{
    char      a[NGX_HTTP_MOA_RESPONSES_ID_LEN], b[NGX_HTTP_MOA_RESPONSES_ID_LEN];
    size_t    k;
    uint64_t  seed;

    seed = 1;
    ngx_http_moa_responses_items_id(&seed, "resp_", a);
    ngx_http_moa_responses_items_id(&seed, "resp_", b);

    is_int(strlen(a), 5 + 48, "resp_ and 48 digits");
    ok(strncmp(a, "resp_", 5) == 0, "the prefix");

    for (k = 5; k < strlen(a); k++) {
        if (!((a[k] >= '0' && a[k] <= '9') || (a[k] >= 'a' && a[k] <= 'f'))) {
            break;
        }
    }

    is_int(k, strlen(a), "lowercase hex");
    ok(strcmp(a, b) != 0, "the next id differs");
}


static void
test_messages(void)
{
    cJSON                 *v;
    items_t                t;
    ngx_http_moa_error_t   err;

    items_init(&t);
    ok(items_add(&t, "[{\"role\":\"user\",\"content\":\"a\"},"
                     "{\"role\":\"assistant\",\"content\":[{\"type\":"
                     "\"output_text\",\"text\":\"b\"},{\"type\":\"refusal\","
                     "\"refusal\":\"r\"}]},{\"type\":\"function_call\","
                     "\"call_id\":\"c\",\"name\":\"f\",\"arguments\":\"{}\"},"
                     "{\"type\":\"function_call_output\",\"call_id\":\"c\","
                     "\"output\":[{\"type\":\"input_text\",\"text\":\"o1\"},"
                     "{\"type\":\"input_text\",\"text\":\"o2\"}]}]", &err)
       == 0, "a user message, an assistant turn with a call, its output");
    is_mem(t.chat.data, t.chat.len,
           "{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\","
           "\"content\":[{\"type\":\"text\",\"text\":\"b\"}],\"refusal\":\"r\","
           "\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\",\"function\":"
           "{\"name\":\"f\",\"arguments\":\"{}\"}}]},{\"role\":\"tool\","
           "\"tool_call_id\":\"c\",\"content\":[{\"type\":\"text\",\"text\":"
           "\"o1\"},{\"type\":\"text\",\"text\":\"o2\"}]}",
           "the chat messages");
    is_int(t.it.nmessages, 3, "three messages");

    v = json_ok(t.input.data, t.input.len, "the normalized items");
    is_int(jsize(v, ""), 4, "four items");
    is_str(jstr(v, "1.content.1.type"), "refusal", "parts kept as given");
    cJSON_Delete(v);
    items_free(&t);

    /* a tool output of no text part is "" (the chat contract wants one) */
    items_init(&t);
    ok(items_add(&t, "[{\"type\":\"function_call\",\"call_id\":\"c\","
                     "\"name\":\"f\",\"arguments\":\"\"},{\"type\":"
                     "\"function_call_output\",\"call_id\":\"c\",\"output\":"
                     "[{\"type\":\"input_image\",\"image_url\":\"https://x\"}]}"
                     "]", &err) == 0, "an image as a tool's output");
    has(t.chat.data, t.chat.len, "\"tool_call_id\":\"c\",\"content\":\"\"}",
        "an empty text");
    ok(t.unsupported[0] != '\0', "noted as not translated");
    items_free(&t);

    /* a string input */
    items_init(&t);
    {
        ngx_http_moa_span_t  s = { "\"hi\"", 4 };

        ok(ngx_http_moa_responses_items_text(&t.it, &s) == 0, "text");
    }
    is_mem(t.chat.data, t.chat.len, "{\"role\":\"user\",\"content\":\"hi\"}",
           "one user message");
    has(t.input.data, t.input.len,
        "\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":"
        "\"input_text\",\"text\":\"hi\"}]}]", "one normalized item");
    items_free(&t);
}


static void
test_unsupported(void)
{
    items_t                t;
    ngx_http_moa_error_t   err;

    items_init(&t);
    ok(items_add(&t, "[{\"role\":\"user\",\"content\":\"a\"},"
                     "{\"type\":\"computer_call\",\"id\":\"cc\"},"
                     "{\"type\":\"item_reference\",\"id\":\"msg_1\"}]", &err)
       == 0, "built-in items are accepted");
    has(t.unsupported, strlen(t.unsupported), "computer_call",
        "the first is noted");
    is_str(t.param, "input[1].type", "with its param");
    is_mem(t.chat.data, t.chat.len, "{\"role\":\"user\",\"content\":\"a\"}",
           "and never translated");
    has(t.input.data, t.input.len, "\"id\":\"cc\"", "but kept for a store");
    items_free(&t);

    items_init(&t);
    t.it.prior = 1;
    ok(items_add(&t, "[{\"type\":\"item_reference\",\"id\":\"x\"}]", &err)
       == 0, "a previous response's items");
    is_str(t.param, "previous_response_id", "named by previous_response_id");
    items_free(&t);
}


int
main(void)
{
    test_ids();
    test_messages();
    test_unsupported();

    return done_testing();
}
