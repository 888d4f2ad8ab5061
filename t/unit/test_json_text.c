
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_json_text.[ch]: the walker over validated
 * text (a key's value, an array's elements, a string decoded) and
 * is_literal.
 */


#include <cjson/cJSON.h>

#include "tap.h"
#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_buf_json.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_json_text.h"


#define S(s)  s, sizeof(s) - 1


static int
span_is(const ngx_http_moa_span_t *v, const char *expected)
{
    return v->p != NULL && v->len == strlen(expected)
           && memcmp(v->p, expected, v->len) == 0;
}


static void
test_spans(void)
{
    size_t               pos;
    const char          *s;
    ngx_http_moa_span_t  v;

    s = " { \"a\" : 1 , \"b\":\"x}\\\"\" ,\"c\":[1,{\"d\":2}],"
        " \"e\":{\"f\":[]} , \"g\" : null,\"a\":2,\"h\":-1.5e3}";

    ok(ngx_http_moa_json_text_get(s, strlen(s), "a", &v) == 1
       && span_is(&v, "1"),
       "get: a number, no whitespace around it");
    ok(ngx_http_moa_json_text_get(s, strlen(s), "b", &v) == 1
       && span_is(&v, "\"x}\\\"\""), "get: a string with } and \\\"");
    ok(ngx_http_moa_json_text_get(s, strlen(s), "c", &v) == 1
       && span_is(&v, "[1,{\"d\":2}]"), "get: an array");
    ok(ngx_http_moa_json_text_get(s, strlen(s), "e", &v) == 1
       && span_is(&v, "{\"f\":[]}"), "get: an object");
    ok(ngx_http_moa_json_text_get(s, strlen(s), "g", &v) == 1
       && span_is(&v, "null"), "get: null");
    ok(ngx_http_moa_json_text_get(s, strlen(s), "h", &v) == 1
       && span_is(&v, "-1.5e3"), "get: the last, before }");
    ok(ngx_http_moa_json_text_get(s, strlen(s), "d", &v) == 0 && v.p == NULL
       && v.len == 0, "get: not in children; absent is (NULL, 0)");
    ok(ngx_http_moa_json_text_get(S("[{\"a\":1}]"), "a", &v) == 0,
       "get on an array: 0");
    ok(ngx_http_moa_json_text_get(S("\"a\""), "a", &v) == 0, "get on a string");
    ok(ngx_http_moa_json_text_get(S("{}"), "a", &v) == 0, "get on {}");
    ok(ngx_http_moa_json_text_get(S("{\"\\u0061\":7}"), "a", &v) == 1
       && span_is(&v, "7"), "get: an escaped key");
    ok(ngx_http_moa_json_is_literal(v.p, v.len, "7")
       && !ngx_http_moa_json_is_literal(v.p, v.len, "77")
       && !ngx_http_moa_json_is_literal(v.p, v.len, ""), "is_literal");
    ok(ngx_http_moa_json_is_literal(S(" \r\n\tnull\n"), "null")
       && !ngx_http_moa_json_is_literal(S("nul"), "null")
       && !ngx_http_moa_json_is_literal(S("null,"), "null"),
       "is_literal: white space around it only");

    s = " [ 1 , \"a,b]\" , [2,3] , {\"x\":\"]\"} ,true ] ";
    pos = 0;
    ok(ngx_http_moa_json_text_next(s, strlen(s), &pos, &v) == 1
       && span_is(&v, "1"), "next: 1");
    ok(ngx_http_moa_json_text_next(s, strlen(s), &pos, &v) == 1
       && span_is(&v, "\"a,b]\""), "next: a string with , and ]");
    ok(ngx_http_moa_json_text_next(s, strlen(s), &pos, &v) == 1
       && span_is(&v, "[2,3]"), "next: an array");
    ok(ngx_http_moa_json_text_next(s, strlen(s), &pos, &v) == 1
       && span_is(&v, "{\"x\":\"]\"}"), "next: an object");
    ok(ngx_http_moa_json_text_next(s, strlen(s), &pos, &v) == 1
       && span_is(&v, "true"), "next: true before the ]");
    ok(ngx_http_moa_json_text_next(s, strlen(s), &pos, &v) == 0,
       "next: the end");
    pos = 0;
    ok(ngx_http_moa_json_text_next(S("[ ]"), &pos, &v) == 0,
       "next of [ ]: none");
    pos = 0;
    ok(ngx_http_moa_json_text_next(S("{\"a\":1}"), &pos, &v) == 0,
       "next of an object: none");
}


static int
unescaped(const char *json, size_t len, const char *expected, size_t n)
{
    int                 rc;
    ngx_http_moa_buf_t  out;

    memset(&out, 0, sizeof(out));

    rc = ngx_http_moa_json_text_unescape(&out, json, len) == 0
         && out.len == n && (n == 0 || memcmp(out.data, expected, n) == 0);

    if (!rc) {
        diag("    got '%.*s' (%zu bytes)", (int) out.len,
             out.data ? out.data : "", out.len);
    }

    ngx_http_moa_buf_free(&out);

    return rc;
}


static void
test_unescape(void)
{
    int                 i, c;
    char                all[255];
    cJSON              *v;
    size_t              k;
    const char         *s;
    ngx_http_moa_buf_t  b, out;

    static const char  *invalid[] = {
        "", "\"", "x", "\"a", "a\"", "\"\\\"", "\"\\x\"", "\"\\u12\"",
        "\"\\u12g4\"", "\"\\uD800\"", "\"\\uDBFF\\u0041\"", "\"\\uDC00\"",
        "\"\\uDFFF\\uDC00\"", "\"\\uD800\\uD800\"", "\"\\uD800\\\"",
        "\"\\uD800\\uDC0\"", "\"a\"b\"", "\"a\nb\"", "\"\x01\"", NULL
    };

    ok(unescaped(S("\"\""), "", 0), "unescape: empty");
    ok(unescaped(S("\"plain \xc3\xa9\""), S("plain \xc3\xa9")),
       "unescape: plain and UTF-8 bytes");
    ok(unescaped(S("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""), S("\"\\/\b\f\n\r\t")),
       "unescape: the eight short escapes");
    ok(unescaped(S("\"\\u0041\\u00e9\\u00E9\\u20ac\""),
                 S("A\xc3\xa9\xc3\xa9\xe2\x82\xac")),
       "unescape: one, two and three UTF-8 bytes, either case");
    ok(unescaped(S("\"\\u0000x\""), S("\0x")), "unescape: \\u0000 is NUL");
    ok(unescaped(S("\"\\u007f\\u0080\\u07ff\\u0800\\uffff\""),
                 S("\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf")),
       "unescape: the UTF-8 length boundaries");
    ok(unescaped(S("\"\\ud83d\\ude00\\uD800\\uDC00\\udbff\\udfff\""),
                 S("\xf0\x9f\x98\x80\xf0\x90\x80\x80\xf4\x8f\xbf\xbf")),
       "unescape: surrogate pairs, four bytes");
    ok(unescaped(S("\"a\\nb\\u003c/x\""), S("a\nb</x")),
       "unescape: escapes between text");

    for (k = 0; invalid[k]; k++) {
        memset(&out, 0, sizeof(out));
        ok(ngx_http_moa_json_text_unescape(&out, invalid[k], strlen(invalid[k]))
           == -1, "unescape refuses '%s'", invalid[k]);
        ngx_http_moa_buf_free(&out);
    }

    /* appends to what is there */
    memset(&out, 0, sizeof(out));
    ngx_http_moa_buf_lit(&out, ">");
    ok(ngx_http_moa_json_text_unescape(&out, S("\"\\t\"")) == 0, "appended");
    is_mem(out.data, out.len, ">\t", "unescape appends");
    ngx_http_moa_buf_free(&out);

    /* every byte, escaped by the module and by cJSON, decodes back */
    for (i = 0; i < 255; i++) {
        all[i] = (char) (i + 1);
    }

    memset(&b, 0, sizeof(b));
    ngx_http_moa_buf_json_str(&b, all, 255);
    ok(unescaped(b.data, b.len, all, 255), "json_str of 1..255 round-trips");

    v = cJSON_CreateString("");
    s = NULL;

    if (v) {
        cJSON_free(v->valuestring);
        v->valuestring = malloc(256);

        if (v->valuestring) {
            memcpy(v->valuestring, all, 255);
            v->valuestring[255] = '\0';
            s = cJSON_PrintUnformatted(v);
        }
    }

    ok(s && unescaped(s, strlen(s), all, 255),
       "cJSON's escaping of 1..255 decodes back");
    cJSON_free((void *) s);
    cJSON_Delete(v);

    /* every BMP code point but the surrogates, as \uXXXX, is cJSON's */
    c = 0;

    for (i = 1; i < 0x10000; i++) {
        char  esc[16];

        if (i >= 0xd800 && i <= 0xdfff) {
            continue;
        }

        snprintf(esc, sizeof(esc), "\"\\u%04x\"", i);

        out.len = 0;
        v = cJSON_Parse(esc);

        if (ngx_http_moa_json_text_unescape(&out, esc, 8) != 0
            || !cJSON_IsString(v) || strlen(v->valuestring) != out.len
            || memcmp(v->valuestring, out.data, out.len) != 0)
        {
            if (c++ == 0) {
                diag("    differs at U+%04X", i);
            }
        }

        cJSON_Delete(v);
    }

    ok(c == 0, "\\u0001..\\uffff decode as cJSON decodes them");

    ngx_http_moa_buf_free(&out);
    ngx_http_moa_buf_free(&b);
}


int
main(void)
{
    test_spans();
    test_unescape();

    return done_testing();
}
