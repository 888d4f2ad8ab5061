
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_stored.[ch]: ids, the record (written, read,
 * refused when cut or of another version), the ids the input items get,
 * ownership and expiry, the prior items of a continuation, and the errors
 * and deletion object of the store.
 */


#include "util.h"
#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_error.h"
#include "ngx_http_moa_stored.h"


#define S(s)  s, sizeof(s) - 1


static void
test_ids(void)
{
    ngx_http_moa_error_t  err;

    ok(ngx_http_moa_stored_id_valid(S("resp_abc-DEF_09")), "a valid id");
    ok(!ngx_http_moa_stored_id_valid(S("resp_")), "resp_ alone is no id");
    ok(!ngx_http_moa_stored_id_valid(S("msg_abc")), "another prefix");
    ok(!ngx_http_moa_stored_id_valid(S("resp_a/b")), "a slash");
    ok(!ngx_http_moa_stored_id_valid(S("resp_a\0b")), "a NUL");
    ok(!ngx_http_moa_stored_id_valid(S("resp_ab ")), "a space");

    {
        char  id[200];

        memset(id, 'a', sizeof(id));
        memcpy(id, "resp_", 5);
        ok(ngx_http_moa_stored_id_valid(id, NGX_HTTP_MOA_STORED_ID_MAX),
           "an id of the longest length");
        ok(!ngx_http_moa_stored_id_valid(id, NGX_HTTP_MOA_STORED_ID_MAX + 1),
           "an id one byte longer");
    }

    ngx_http_moa_stored_bad_id(&err, S("abc"));
    is_int(err.status, 400, "a bad previous_response_id: 400");
    is_str(err.param, "previous_response_id", "its param");
    is_str(err.message, "Invalid 'previous_response_id': 'abc'. Expected an "
           "ID that begins with 'resp'.", "its message");

    ngx_http_moa_stored_bad_id(&err, S("resp_a b"));
    ok(strstr(err.message, "contained additional characters") != NULL,
       "resp_ with a space: OpenAI's other message");

    ngx_http_moa_stored_not_found(&err, S("resp_x"), 1);
    is_int(err.status, 404, "not found in a continuation: 404");
    is_str(err.type, "invalid_request_error", "its type");
    is_str(err.code, "previous_response_not_found", "its code");
    is_str(err.param, "previous_response_id", "its param");
    is_str(err.message, "Previous response with id 'resp_x' not found.",
           "its message");

    ngx_http_moa_stored_not_found(&err, S("resp_x"), 0);
    is_int(err.status, 404, "not found by GET: 404");
    ok(err.param == NULL && err.code == NULL, "no param, no code");
    is_str(err.message, "Response with id 'resp_x' not found.",
           "its message");

    ngx_http_moa_stored_unavailable(&err, 1);
    is_int(err.status, 503, "the store down in a continuation: 503");
    is_str(err.param, "previous_response_id", "its param");
    ngx_http_moa_stored_unavailable(&err, 0);
    ok(err.status == 503 && err.param == NULL, "the store down: 503");
}


static void
test_record(void)
{
    cJSON                  *v;
    ngx_http_moa_buf_t      rec, prior;
    ngx_http_moa_stored_t   st;

    static const char       input[] =
        "[{\"role\":\"user\",\"content\":\"hi \\u0000 there\"},"
        " {\"type\":\"message\",\"id\":\"msg_given\",\"role\":\"user\","
        "\"content\":\"again\"},"
        "{\"type\":\"function_call_output\",\"call_id\":\"c1\","
        "\"output\":\"42\"}, { } ]";
    static const char       response[] =
        "{\"id\":\"resp_abc\",\"object\":\"response\",\"output\":"
        "[{\"type\":\"message\",\"id\":\"msg_out\",\"role\":\"assistant\","
        "\"content\":[{\"type\":\"output_text\",\"text\":\"yes\"}]}],"
        "\"usage\":{\"input_tokens\":3}}";

    memset(&rec, 0, sizeof(rec));
    memset(&prior, 0, sizeof(prior));

    ok(ngx_http_moa_stored_encode(&rec, 1700000000, S("OWNER"), S("resp_abc"),
                                  S(input), S(response), 0) == 0,
       "a record written");

    ok(ngx_http_moa_stored_decode(&st, rec.data, rec.len) == 0,
       "and read back");
    ok(st.expires == 1700000000, "its expiry");
    ok(st.owner.len == 5 && memcmp(st.owner.p, "OWNER", 5) == 0,
       "its owner");
    ok(st.response.len == sizeof(response) - 1
       && memcmp(st.response.p, response, st.response.len) == 0,
       "the response's own bytes");

    v = json_ok(st.input.p, st.input.len, "the input items");
    is_str(jstr(v, "0.id"), "msg_abc_0", "an item without id gets one");
    is_str(jstr(v, "1.id"), "msg_given", "a given id is kept");
    is_str(jstr(v, "2.id"), "fco_abc_2", "by the item's type");
    is_str(jstr(v, "3.id"), "msg_abc_3",
           "an empty object too (no type: a message)");
    cJSON_Delete(v);
    ok(strstr(st.input.p, "hi \\u0000 there") != NULL
       && st.input.p < strstr(st.input.p, "hi \\u0000 there"),
       "an item's text kept byte for byte");

    ok(ngx_http_moa_stored_owned(&st, S("OWNER"), 1699999999),
       "the owner, before expiry");
    ok(!ngx_http_moa_stored_owned(&st, S("OWNEX"), 1699999999),
       "another owner");
    ok(!ngx_http_moa_stored_owned(&st, S("OWNE"), 1699999999),
       "an owner that is a prefix");
    ok(!ngx_http_moa_stored_owned(&st, S("OWNER"), 1700000000),
       "expired at its time");

    ok(ngx_http_moa_stored_prior(&prior, &st) == 0, "the prior items");
    v = json_ok(prior.data, prior.len, "the prior items");
    is_int(cJSON_GetArraySize(v), 5, "input items then output items");
    is_str(jstr(v, "0.id"), "msg_abc_0", "the input first");
    is_str(jstr(v, "4.id"), "msg_out", "the output last");
    is_str(jstr(v, "4.role"), "assistant", "the answer's turn");
    cJSON_Delete(v);

    /* cut, or of another version */

    ok(ngx_http_moa_stored_decode(&st, rec.data, rec.len - 1) != 0,
       "a cut record is refused");
    ok(ngx_http_moa_stored_decode(&st, S("MOAR2 0 0 2 2\n[]{}")) != 0,
       "another version is refused");
    ok(ngx_http_moa_stored_decode(&st, S("MOAR1 0 0 2 2\n[]{}")) == 0,
       "the smallest record");
    ok(ngx_http_moa_stored_decode(&st,
           S("MOAR1 0 99999999999999999999 2 2\n[]{}")) != 0,
       "a length past the bound");
    ok(ngx_http_moa_stored_decode(&st,
           S("MOAR1 0 9223372036854775000 9223372036854775000 2\n[]{}"))
       != 0, "lengths whose sum would wrap");
    ok(ngx_http_moa_stored_decode(&st, S("MOAR1 0 0 2 2 [] {}")) != 0,
       "no line end");

    ngx_http_moa_buf_free(&rec);
    ngx_http_moa_buf_free(&prior);

    ok(ngx_http_moa_stored_encode(&rec, 0, S(""), S("resp_x"), S("{}"),
                                  S("{}"), 0) != 0,
       "input that is not an array is refused");
    ngx_http_moa_buf_free(&rec);

    ok(ngx_http_moa_stored_encode(&rec, 0, S("O"), S("resp_x"),
                                  S("[{\"role\":\"user\"}]"), S("{}"),
                                  NGX_HTTP_MOA_STORED_IDS_GIVEN) == 0
       && ngx_http_moa_stored_decode(&st, rec.data, rec.len) == 0,
       "ids given: written");
    is_mem(st.input.p, st.input.len, "[{\"role\":\"user\"}]",
           "the items as they are, no pass over them");
    ngx_http_moa_buf_free(&rec);
}


static void
test_join(void)
{
    ngx_http_moa_buf_t  b;

    memset(&b, 0, sizeof(b));
    ok(ngx_http_moa_stored_join(&b, S(" [1, 2] "), S("[ 3 ]")) == 0
       && b.len == 9 && memcmp(b.data, "[1, 2,3 ]", 9) == 0,
       "two arrays as one");
    b.len = 0;
    ok(ngx_http_moa_stored_join(&b, S("[]"), S("[3]")) == 0
       && b.len == 3 && memcmp(b.data, "[3]", 3) == 0, "an empty first");
    b.len = 0;
    ok(ngx_http_moa_stored_join(&b, S("[1]"), "", 0) == 0
       && b.len == 3 && memcmp(b.data, "[1]", 3) == 0, "no second");
    b.len = 0;
    ok(ngx_http_moa_stored_join(&b, S("[ ]"), S("[]")) == 0
       && b.len == 2 && memcmp(b.data, "[]", 2) == 0, "both empty");
    b.len = 0;
    ok(ngx_http_moa_stored_join(&b, S("{}"), S("[]")) != 0,
       "an object is refused");
    b.len = 0;
    ngx_http_moa_stored_deleted(&b, S("resp_abc"));
    ok(b.len == sizeof("{\"id\":\"resp_abc\",\"object\":\"response\","
                       "\"deleted\":true}") - 1
       && memcmp(b.data, "{\"id\":\"resp_abc\",\"object\":\"response\","
                 "\"deleted\":true}", b.len) == 0, "the deletion object");
    ngx_http_moa_buf_free(&b);
}


static void
test_resolve(void)
{
    int                    rc;
    ngx_http_moa_buf_t     b;
    ngx_http_moa_error_t   err;

    static const char      prior[] =
        "[{\"id\":\"msg_a\",\"role\":\"user\",\"content\":\"A \\u0000\"},"
        "{\"id\":\"fc_b\",\"type\":\"function_call\",\"call_id\":\"c\","
        "\"name\":\"f\",\"arguments\":\"{}\"}]";

    memset(&b, 0, sizeof(b));

    rc = ngx_http_moa_stored_resolve(&b,
             S("{\"model\":\"m\",\"input\":[{\"type\":\"item_reference\","
               "\"id\":\"fc_b\"}, {\"role\":\"user\",\"content\":\"x\"},"
               "{\"type\":\"item_reference\",\"id\":\"msg_a\"}],\"x\":1}"),
             S(prior), &err);
    is_int(rc, 1, "two references resolved");
    is_mem(b.data, b.len,
           "{\"model\":\"m\",\"input\":[{\"id\":\"fc_b\",\"type\":"
           "\"function_call\",\"call_id\":\"c\",\"name\":\"f\","
           "\"arguments\":\"{}\"}, {\"role\":\"user\",\"content\":\"x\"},"
           "{\"id\":\"msg_a\",\"role\":\"user\",\"content\":\"A \\u0000\"}],"
           "\"x\":1}", "each in its place, with the item's own bytes");

    b.len = 0;
    rc = ngx_http_moa_stored_resolve(&b,
             S("{\"input\":[{\"role\":\"user\",\"content\":\"x\"},"
               "{\"type\":\"item_reference\",\"id\":\"msg_nope\"}]}"),
             S(prior), &err);
    is_int(rc, -1, "a reference to no item of the chain");
    is_int(err.status, 404, "404");
    is_str(err.param, "input[1].id", "param names it");
    ok(strstr(err.message, "msg_nope") != NULL, "the message names the id");

    b.len = 0;
    rc = ngx_http_moa_stored_resolve(&b, S("{\"input\":\"hello\"}"),
                                     S(prior), &err);
    ok(rc == 0 && b.len == 0, "no reference: nothing written");

    ngx_http_moa_buf_free(&b);
}


int
main(void)
{
    test_ids();
    test_record();
    test_join();
    test_resolve();

    return done_testing();
}
