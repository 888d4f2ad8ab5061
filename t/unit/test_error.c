
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_error.[ch]: the OpenAI error object, read
 * from a provider's error reply or set by the module, and written as a
 * body or as a stream's error event.
 */


#include "util.h"
#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_error.h"
#include "ngx_http_moa_utf8.h"


#define S(s)  s, sizeof(s) - 1


static ngx_http_moa_error_t  err;


static void
test_errors(void)
{
    cJSON               *v;
    ngx_http_moa_buf_t   out;

    memset(&out, 0, sizeof(out));

    ngx_http_moa_error_set(&err, 400, "invalid_request_error", "c", "p",
                           "bad '%s' %d", "x\"y", 7);
    is_int(err.status, 400, "error_set: status");
    is_str(err.message, "bad 'x\"y' 7", "error_set: formatted message");

    ngx_http_moa_error_json(&out, &err);
    is_mem(out.data, out.len, "{\"error\":{\"message\":\"bad 'x\\\"y' 7\","
           "\"type\":\"invalid_request_error\",\"param\":\"p\","
           "\"code\":\"c\"}}", "error_json: the four keys");

    out.len = 0;
    ngx_http_moa_error_set(&err, 502, "upstream_error", NULL, NULL, "m");
    ngx_http_moa_error_json(&out, &err);
    is_mem(out.data, out.len, "{\"error\":{\"message\":\"m\",\"type\":"
           "\"upstream_error\",\"param\":null,\"code\":null}}",
           "error_json: param and code null");

    out.len = 0;
    ngx_http_moa_error_event(&out, &err);
    is_mem(out.data, out.len, "data: {\"error\":{\"message\":\"m\",\"type\":"
           "\"upstream_error\",\"param\":null,\"code\":null}}\n\n",
           "error_event: one SSE event");

    /* a long message is cut, never overflows */
    {
        char  big[1000];

        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';

        ngx_http_moa_error_set(&err, 400, "t", NULL, NULL, "%s", big);
        is_int(strlen(err.message), sizeof(err.message) - 1,
               "error_set: a long message is truncated");
    }

    /* error_from_reply */
    ok(ngx_http_moa_error_from_reply(&err, 429,
           S("{\"error\":{\"message\":\"Rate limit reached\",\"type\":"
             "\"requests\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}"))
       == 0, "error_from_reply: an OpenAI error");
    is_int(err.status, 429, "error_from_reply: the status given");
    is_str(err.message, "Rate limit reached", "error_from_reply: message");
    is_str(err.type, "requests", "error_from_reply: type");
    is_str(err.code, "rate_limit_exceeded", "error_from_reply: code");
    ok(err.param == NULL, "error_from_reply: param null");

    out.len = 0;
    ngx_http_moa_error_json(&out, &err);
    v = json_ok(out.data, out.len, "error_from_reply as JSON");
    is_str(jstr(v, "error.code"), "rate_limit_exceeded",
           "error_from_reply as JSON: code");
    cJSON_Delete(v);

    ok(ngx_http_moa_error_from_reply(&err, 400,
           S("{\"error\":{\"message\":\"bad\",\"param\":\"messages\","
             "\"code\":400}}")) == 0,
       "error_from_reply: no type, numeric code");
    is_str(err.type, "upstream_error", "error_from_reply: default type");
    ok(err.code == NULL, "error_from_reply: a numeric code is dropped");
    is_str(err.param, "messages", "error_from_reply: param");

    {
        char                big[300];
        ngx_http_moa_buf_t  b;

        memset(&b, 0, sizeof(b));
        memset(big, 'c', sizeof(big));
        ngx_http_moa_buf_lit(&b, "{\"error\":{\"message\":\"m\",\"code\":\"");
        ngx_http_moa_buf_add(&b, big, sizeof(big));
        ngx_http_moa_buf_lit(&b, "\",\"type\":\"");
        ngx_http_moa_buf_add(&b, big, sizeof(big));
        ngx_http_moa_buf_lit(&b, "\"}}");

        ok(ngx_http_moa_error_from_reply(&err, 500, b.data, b.len) == 0,
           "error_from_reply: long type and code");
        is_int(strlen(err.code), sizeof(err.buf[1]) - 1,
               "error_from_reply: code truncated");
        is_int(strlen(err.type), sizeof(err.buf[0]) - 1,
               "error_from_reply: type truncated");
        ngx_http_moa_buf_free(&b);
    }

    ok(ngx_http_moa_error_from_reply(&err, 503, S("<html>oops</html>")) == -1,
       "error_from_reply: not JSON");
    is_str(err.message, "the provider answered 503",
           "error_from_reply: a generic message");
    is_str(err.type, "upstream_error", "error_from_reply: generic type");
    ok(err.code == NULL && err.param == NULL,
       "error_from_reply: generic code and param null");
    is_int(err.status, 503, "error_from_reply: generic status");

    ok(ngx_http_moa_error_from_reply(&err, 500, NULL, 0) == -1,
       "error_from_reply: no body");
    ok(ngx_http_moa_error_from_reply(&err, 500, S("{\"error\":\"str\"}"))
       == -1, "error_from_reply: error is a string");
    ok(ngx_http_moa_error_from_reply(&err, 500,
           S("{\"error\":{\"message\":5}}")) == -1,
       "error_from_reply: message not a string");
    ok(ngx_http_moa_error_from_reply(&err, 500, S("[1]")) == -1,
       "error_from_reply: an array");

    ngx_http_moa_buf_free(&out);
}


/*
 * Messages cut at a length limit (a "%.64s", the message buffer, a
 * provider's error copied) end on a character boundary: the body stays
 * valid UTF-8, which strict JSON parsers require.
 */
static void
test_utf8_cuts(void)
{
    int                  i;
    char                 name[400];
    ngx_http_moa_buf_t   b, out;

    memset(&b, 0, sizeof(b));
    memset(&out, 0, sizeof(out));

    /* "a" then two-byte characters: the 64th byte is half of one */
    name[0] = 'a';

    for (i = 1; i < 399; i += 2) {
        name[i] = (char) 0xc3;
        name[i + 1] = (char) 0xa9;
    }

    name[399] = '\0';

    ngx_http_moa_error_set(&err, 400, "t", NULL, NULL,
                           "'%.64s' is not one of", name);
    ok(ngx_http_moa_utf8_valid(err.message, strlen(err.message)),
       "error_set: a %%.64s cut mid-character is valid UTF-8");
    is_int(strlen(err.message), 1 + 62 + 2 + 14,
           "error_set: the half character goes, no more");

    ngx_http_moa_error_set(&err, 400, "t", NULL, NULL, "%s", name + 1);
    ok(ngx_http_moa_utf8_valid(err.message, strlen(err.message)),
       "error_set: a message cut at its buffer is valid UTF-8");
    is_int(strlen(err.message), 254, "error_set: whole characters kept");

    ngx_http_moa_buf_lit(&b, "{\"error\":{\"message\":\"");
    ngx_http_moa_buf_add(&b, name, 399);
    ngx_http_moa_buf_lit(&b, "\",\"code\":\"");
    ngx_http_moa_buf_add(&b, name, 399);
    ngx_http_moa_buf_lit(&b, "\",\"type\":\"");
    ngx_http_moa_buf_add(&b, name + 1, 398);
    ngx_http_moa_buf_lit(&b, "\"}}");

    ok(ngx_http_moa_error_from_reply(&err, 400, b.data, b.len) == 0,
       "error_from_reply: long non-ASCII texts");
    ok(ngx_http_moa_utf8_valid(err.message, strlen(err.message))
       && ngx_http_moa_utf8_valid(err.code, strlen(err.code))
       && ngx_http_moa_utf8_valid(err.type, strlen(err.type)),
       "error_from_reply: message, code and type cut on a boundary");

    ngx_http_moa_error_json(&out, &err);
    ok(ngx_http_moa_utf8_valid(out.data, out.len),
       "error_json: the body is valid UTF-8");

    ngx_http_moa_buf_free(&b);
    ngx_http_moa_buf_free(&out);
}


int
main(void)
{
    test_errors();
    test_utf8_cuts();

    return done_testing();
}
