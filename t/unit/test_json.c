
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_json.[ch]: the growable buffer, JSON string
 * escaping, the strict scanner and the escaped-key compare.
 */


#include <limits.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "tap.h"
#include "ngx_http_moa_json.h"


#define S(s)  s, sizeof(s) - 1


static void
test_buf(void)
{
    size_t              i, size;
    ngx_http_moa_buf_t  b;

    memset(&b, 0, sizeof(b));

    ok(ngx_http_moa_buf_reserve(&b, 0) == 0, "reserve 0 on an empty buffer");

    ngx_http_moa_buf_add(&b, "", 0);
    ok(b.len == 0 && b.data == NULL, "adding nothing allocates nothing");

    ngx_http_moa_buf_add(&b, NULL, 0);
    ok(b.len == 0 && !b.nomem, "adding (NULL, 0) is harmless");

    ngx_http_moa_buf_add(&b, "abc", 3);
    is_mem(b.data, b.len, "abc", "add");
    is_int(b.size, 256, "the first allocation is 256 bytes");

    ngx_http_moa_buf_cstr(&b, "def");
    ngx_http_moa_buf_cstr(&b, "");
    is_mem(b.data, b.len, "abcdef", "cstr");

    ngx_http_moa_buf_lit(&b, "-lit-");
    is_mem(b.data, b.len, "abcdef-lit-", "lit");

    b.len = 0;
    ngx_http_moa_buf_int(&b, 0);
    ngx_http_moa_buf_lit(&b, " ");
    ngx_http_moa_buf_int(&b, -42);
    ngx_http_moa_buf_lit(&b, " ");
    ngx_http_moa_buf_int(&b, LLONG_MAX);
    ngx_http_moa_buf_lit(&b, " ");
    ngx_http_moa_buf_int(&b, LLONG_MIN);
    is_mem(b.data, b.len,
           "0 -42 9223372036854775807 -9223372036854775808", "int");

    /* growth keeps the contents */
    b.len = 0;

    for (i = 0; i < 10000; i++) {
        ngx_http_moa_buf_add(&b, (i % 2) ? "y" : "x", 1);
    }

    ok(b.len == 10000 && !b.nomem, "10000 single-byte adds");
    ok(b.size >= 10000 && (b.size & (b.size - 1)) == 0,
       "size grows by doubling (%zu)", b.size);
    ok(b.data[0] == 'x' && b.data[1] == 'y' && b.data[9998] == 'x'
       && b.data[9999] == 'y', "contents survive the reallocations");

    size = b.size;
    ok(ngx_http_moa_buf_reserve(&b, size - b.len) == 0 && b.size == size,
       "reserve of exactly the free space does not grow");
    ok(ngx_http_moa_buf_reserve(&b, size - b.len + 1) == 0
       && b.size == size * 2, "one more byte doubles");

    /* an impossible size: nomem, sticky, contents kept */
    ok(ngx_http_moa_buf_reserve(&b, SIZE_MAX - 10) == -1, "huge reserve fails");
    ok(b.nomem, "nomem is set");
    ok(b.len == 10000 && b.data[0] == 'x', "the buffer is left alone");

    ngx_http_moa_buf_add(&b, "z", 1);
    is_int(b.len, 10000, "nomem is sticky: add does nothing");
    ok(ngx_http_moa_buf_reserve(&b, 1) == -1, "reserve fails once nomem");

    ngx_http_moa_buf_free(&b);
    ok(b.data == NULL && b.len == 0 && b.size == 0 && b.nomem == 0,
       "free resets every field");

    ngx_http_moa_buf_free(&b);
    ok(1, "free twice is harmless");

    /* json_str on a huge length: nomem, no overflow */
    memset(&b, 0, sizeof(b));
    ngx_http_moa_buf_json_str(&b, "x", SIZE_MAX / 4);
    ok(b.nomem && b.len == 0, "json_str of an impossible length: nomem");
    ngx_http_moa_buf_free(&b);
}


static void
test_json_str(void)
{
    int                 i;
    char                all[256];
    cJSON              *v;
    ngx_http_moa_buf_t  b;

    memset(&b, 0, sizeof(b));

    ngx_http_moa_buf_json_str(&b, "", 0);
    is_mem(b.data, b.len, "\"\"", "empty string");

    b.len = 0;
    ngx_http_moa_buf_json_str(&b, S("plain text"));
    is_mem(b.data, b.len, "\"plain text\"", "plain");

    b.len = 0;
    ngx_http_moa_buf_json_str(&b, S("q\"b\\s/n\nr\rt\tb\bf\f"));
    is_mem(b.data, b.len, "\"q\\\"b\\\\s/n\\nr\\rt\\tb\\bf\\f\"",
           "the short escapes; '/' is left alone");

    b.len = 0;
    ngx_http_moa_buf_json_str(&b, S("\x01\x1f\x00z"));
    is_mem(b.data, b.len, "\"\\u0001\\u001f\\u0000z\"",
           "other control bytes as \\u00XX, NUL included");

    b.len = 0;
    ngx_http_moa_buf_json_str(&b, S("\x7f\xc3\xa9\xf0\x9f\x98\x80"));
    is_mem(b.data, b.len, "\"\x7f\xc3\xa9\xf0\x9f\x98\x80\"",
           "DEL and UTF-8 bytes pass through");

    b.len = 0;
    ngx_http_moa_buf_lit(&b, "prefix:");
    ngx_http_moa_buf_json_str(&b, S("x"));
    is_mem(b.data, b.len, "prefix:\"x\"", "appends to what is there");

    /* every byte value round-trips through cJSON */
    for (i = 0; i < 255; i++) {
        all[i] = (char) (i + 1);
    }

    b.len = 0;
    ngx_http_moa_buf_json_str(&b, all, 255);
    ok(ngx_http_moa_json_valid(b.data, b.len) == 0,
       "bytes 1..255 escaped: the scanner accepts it");

    v = cJSON_ParseWithLength(b.data, b.len);
    ok(cJSON_IsString(v) && strlen(v->valuestring) == 255
       && memcmp(v->valuestring, all, 255) == 0,
       "bytes 1..255 escaped: cJSON decodes the same bytes");
    cJSON_Delete(v);

    ngx_http_moa_buf_free(&b);
}


static void
test_valid(void)
{
    size_t       i;
    char        *deep;
    const char  *s;

    static const char  *good[] = {
        "{}", "[]", "0", "-0", "1", "-1", "10", "1.5", "-0.25", "1e5",
        "1E+5", "1e-5", "0.0e0", "123456789012345678901234567890",
        "true", "false", "null", "\"\"", "\"a\"", " \t\r\n{} \t\r\n",
        "{\"a\":1}", "{ \"a\" : [ 1 , 2 , { } ] , \"b\" : null }",
        "[[[]]]", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\u00e9\\uABCD\"",
        "\"\\ud83d\\ude00\"", "\"\\uD800\\uDC00x\\udbff\\udfff\"",
        "\"\xc3\xa9\"", "{\"\":\"\"}",
        "{\"a\":1,\"a\":2}", NULL
    };

    static const char  *bad[] = {
        "", " ", "{", "}", "[", "]", "{]", "[}", "{\"a\"}", "{\"a\":}",
        "{\"a\" 1}", "{a:1}", "{'a':1}", "{\"a\":1,}", "[1,]", "[,1]",
        "[1 2]", "{\"a\":1 \"b\":2}", "01", "-", "+1", ".5", "1.", "1.e5",
        "1e", "1e+", "0x10", "NaN", "Infinity", "-Infinity", "tru", "nul",
        "True", "nulll", "\"", "\"abc", "\"\\x\"", "\"\\u12\"",
        "\"\\u12g4\"", "\"\\\"", "\"a\nb\"", "\"a\tb\"", "\"\x01\"",
        "{} {}", "1 2", "{}x", "[1]]", "\xef\xbb\xbf{}", "/* c */ {}",
        "{\"a\":1}\x0b",
        /* unpaired surrogates: cJSON refuses them, so must the scanner */
        "\"\\ud800\"", "\"\\udbff\"", "\"\\udc00\"", "\"\\udfff\"",
        "\"\\ud800x\"", "\"\\ud800\\n\"", "\"\\ud800\\u0041\"",
        "\"\\ud800\\ud800\"", "\"\\udc00\\ud800\"", "\"\\ud800\\udc0\"",
        "\"\\ud800\\", "{\"\\ud800\":1}", NULL
    };

    for (i = 0; good[i]; i++) {
        ok(ngx_http_moa_json_valid(good[i], strlen(good[i])) == 0,
           "valid: %s", good[i]);
    }

    for (i = 0; bad[i]; i++) {
        ok(ngx_http_moa_json_valid(bad[i], strlen(bad[i])) == -1,
           "invalid: '%s'", bad[i]);
    }

    /* no text at all, as an empty request body: (NULL, 0) */
    ok(ngx_http_moa_json_valid(NULL, 0) == -1, "(NULL, 0) is not JSON");

    /* a NUL inside or after the text is not JSON */
    ok(ngx_http_moa_json_valid(S("{}\0")) == -1, "trailing NUL");
    ok(ngx_http_moa_json_valid(S("\"a\0b\"")) == -1, "NUL in a string");

    /* the length bounds the scan: text beyond it is not looked at */
    s = "{\"a\":1}garbage";
    ok(ngx_http_moa_json_valid(s, 7) == 0, "length bounds the scan");
    ok(ngx_http_moa_json_valid(s, 6) == -1, "a cut object is invalid");
    ok(ngx_http_moa_json_valid("truex", 4) == 0, "literal at the very end");
    ok(ngx_http_moa_json_valid("123", 2) == 0, "number at the very end");
    ok(ngx_http_moa_json_valid("\"\\u00", 5) == -1,
       "\\u cut short at the end");

    /* nesting: 1000 levels are accepted, 1001 are not (as cJSON) */
    deep = malloc(2002);

    for (i = 0; i < 1001; i++) {
        deep[i] = '[';
        deep[2001 - i] = ']';
    }

    ok(ngx_http_moa_json_valid(deep + 1, 2000) == 0, "1000 levels");
    ok(ngx_http_moa_json_valid(deep, 2002) == -1, "1001 levels");

    for (i = 0; i < 1001; i++) {
        deep[i] = '[';
    }

    ok(ngx_http_moa_json_valid(deep, 1001) == -1,
       "1001 unclosed brackets: refused, no overflow");

    free(deep);
}


static void
test_members(void)
{
    size_t                       n, i;
    const char                  *s;
    ngx_http_moa_json_member_t  *m;

    s = " {\"model\" : \"gpt\", \"messages\":[1, {\"a\":[]}],"
        " \"n\":-1.5e3 ,\"x\":null,\"t\":true,\"f\":false,"
        "\"o\":{\"k\":\"}\"}} ";

    ok(ngx_http_moa_json_members(s, strlen(s), &m, &n) == 0, "members: ok");
    is_int(n, 7, "seven members");

    if (n == 7) {
        is_mem(m[0].key, m[0].key_len, "model", "key 0");
        is_mem(m[0].value, m[0].value_len, "\"gpt\"", "value 0 with quotes");
        is_mem(m[1].key, m[1].key_len, "messages", "key 1");
        is_mem(m[1].value, m[1].value_len, "[1, {\"a\":[]}]",
               "value 1: raw bytes, inner spaces kept");
        is_mem(m[2].value, m[2].value_len, "-1.5e3",
               "value 2: no surrounding whitespace");
        is_mem(m[3].value, m[3].value_len, "null", "null");
        is_mem(m[4].value, m[4].value_len, "true", "true");
        is_mem(m[5].value, m[5].value_len, "false", "false");
        is_mem(m[6].value, m[6].value_len, "{\"k\":\"}\"}",
               "a brace inside a string does not end the object");

        for (i = 0; i < n; i++) {
            ok(!m[i].escaped, "key %zu is not escaped", i);
        }
    }

    free(m);

    ok(ngx_http_moa_json_members(NULL, 0, &m, &n) == -1 && m == NULL
       && n == 0, "members of (NULL, 0): -1");

    ok(ngx_http_moa_json_members(S("{}"), &m, &n) == 0 && n == 0,
       "empty object: zero members");
    free(m);

    ok(ngx_http_moa_json_members(S(" \n{ \t}\r\n"), &m, &n) == 0 && n == 0,
       "empty object with whitespace");
    free(m);

    /* duplicates are kept, in order */
    s = "{\"a\":1,\"a\":2,\"a\":3}";
    ok(ngx_http_moa_json_members(s, strlen(s), &m, &n) == 0 && n == 3
       && m[0].value[0] == '1' && m[2].value[0] == '3',
       "duplicate keys: all kept, in order");
    free(m);

    /* escaped keys are flagged and kept raw */
    s = "{\"\\u006dodel\":1,\"a\\\"b\":2,\"plain\":3}";
    ok(ngx_http_moa_json_members(s, strlen(s), &m, &n) == 0 && n == 3,
       "escaped keys: ok");

    if (n == 3) {
        is_mem(m[0].key, m[0].key_len, "\\u006dodel", "raw escaped key");
        ok(m[0].escaped && m[1].escaped && !m[2].escaped, "escaped flags");
        is_mem(m[1].key, m[1].key_len, "a\\\"b", "a key with \\\"");
    }

    free(m);

    /* more than 16 members: the array grows */
    {
        char                buf[4096];
        ngx_http_moa_buf_t  b;

        memset(&b, 0, sizeof(b));
        ngx_http_moa_buf_lit(&b, "{");

        for (i = 0; i < 100; i++) {
            snprintf(buf, sizeof(buf), "%s\"k%zu\":%zu", i ? "," : "", i, i);
            ngx_http_moa_buf_cstr(&b, buf);
        }

        ngx_http_moa_buf_lit(&b, "}");

        ok(ngx_http_moa_json_members(b.data, b.len, &m, &n) == 0 && n == 100,
           "100 members");
        ok(n == 100 && m[99].key_len == 3 && memcmp(m[99].key, "k99", 3) == 0
           && m[99].value_len == 2 && memcmp(m[99].value, "99", 2) == 0,
           "the 100th member");
        free(m);
        ngx_http_moa_buf_free(&b);
    }

    /* not an object, or invalid: -1, NULL, 0 */
    {
        static const char  *bad[] = {
            "", "[]", "1", "\"s\"", "null", "{", "{\"a\":1", "{\"a\":1,}",
            "{\"a\":1}x", "{\"a\":1} {}", "{\"a\":[}", "{1:2}",
            "{\"a\":1,,\"b\":2}", "{\"a\":\"\\q\"}", "{\"a\"\n:\n}", NULL
        };

        for (i = 0; bad[i]; i++) {
            m = (void *) 1;
            n = 42;
            ok(ngx_http_moa_json_members(bad[i], strlen(bad[i]), &m, &n) == -1
               && m == NULL && n == 0, "members refuses '%s'", bad[i]);
        }
    }

    /* a failure after some members were found frees them (ASan checks) */
    s = "{\"a\":1,\"b\":2,\"c\":3,\"d\":[";
    ok(ngx_http_moa_json_members(s, strlen(s), &m, &n) == -1 && m == NULL,
       "a late failure returns nothing");

    /* nested depth counts the object itself */
    {
        char  *deep;

        deep = malloc(6 + 2 * 1000);
        memcpy(deep, "{\"a\":", 5);

        for (i = 0; i < 999; i++) {
            deep[5 + i] = '[';
            deep[5 + 999 + i] = ']';
        }

        deep[5 + 1998] = '}';

        ok(ngx_http_moa_json_members(deep, 5 + 1999, &m, &n) == 0 && n == 1,
           "object + 999 nested arrays: 1000 levels");
        free(m);

        memcpy(deep, "{\"a\":", 5);

        for (i = 0; i < 1000; i++) {
            deep[5 + i] = '[';
            deep[5 + 1000 + i] = ']';
        }

        deep[5 + 2000] = '}';

        ok(ngx_http_moa_json_members(deep, 5 + 2001, &m, &n) == -1,
           "object + 1000 nested arrays: refused");

        free(deep);
    }
}


static int
key_is(const char *json, const char *name)
{
    int                          rc;
    size_t                       n;
    ngx_http_moa_json_member_t  *m;

    if (ngx_http_moa_json_members(json, strlen(json), &m, &n) != 0 || n != 1) {
        free(m);
        return -1;
    }

    rc = ngx_http_moa_json_key_is(&m[0], name);
    free(m);

    return rc;
}


static void
test_key_is(void)
{
    char                        *s;
    size_t                       i;
    ngx_http_moa_json_member_t   m;

    is_int(key_is("{\"model\":1}", "model"), 1, "plain key matches");
    is_int(key_is("{\"model\":1}", "mode"), 0, "a prefix does not match");
    is_int(key_is("{\"mode\":1}", "model"), 0, "a longer name does not");
    is_int(key_is("{\"Model\":1}", "model"), 0, "case matters");
    is_int(key_is("{\"\":1}", ""), 1, "the empty key");
    is_int(key_is("{\"\\u006dodel\":1}", "model"), 1, "\\u006d decoded");
    is_int(key_is("{\"\\u006Dodel\":1}", "model"), 1, "upper-case hex");
    is_int(key_is("{\"\\u006d\\u006f\\u0064\\u0065\\u006c\":1}", "model"), 1,
           "every character escaped");
    is_int(key_is("{\"mod\\u0065l\":1}", "model"), 1, "escape in the middle");
    is_int(key_is("{\"mo\\/del\":1}", "mo/del"), 1, "\\/");
    is_int(key_is("{\"a\\\"b\":1}", "a\"b"), 1, "\\\"");
    is_int(key_is("{\"a\\\\b\":1}", "a\\b"), 1, "\\\\");
    is_int(key_is("{\"\\b\\f\\n\\r\\t\":1}", "\b\f\n\r\t"), 1,
           "\\b \\f \\n \\r \\t");
    is_int(key_is("{\"\\n\":1}", "n"), 0, "\\n is not 'n'");
    is_int(key_is("{\"\\u00e9\":1}", "\xc3\xa9"), 0,
           "non-ASCII escapes never match (names are ASCII)");
    is_int(key_is("{\"\\ud83d\\ude00\":1}", "x"), 0, "surrogates: no match");
    is_int(key_is("{\"model\\u0020\":1}", "model"), 0, "trailing escape");
    is_int(key_is("{\"\\u006dodelx\":1}", "model"), 0,
           "escaped key longer than the name");

    /* cJSON ends a key at \u0000: the compare sees the same key */
    is_int(key_is("{\"model\\u0000\":1}", "model"), 1,
           "\\u0000 ends the key, as for cJSON");
    is_int(key_is("{\"model\\u0000x\":1}", "model"), 1,
           "what follows \\u0000 is not part of the key");
    is_int(key_is("{\"mo\\u0000del\":1}", "model"), 0,
           "\\u0000 in the middle cuts the key short");
    is_int(key_is("{\"mo\\u0000del\":1}", "mo"), 1,
           "... to what precedes it");
    is_int(key_is("{\"\\u0000\":1}", ""), 1, "\\u0000 alone is the empty key");

    /* a decoded key over 64 bytes never matches, no overflow */
    s = malloc(2 + 6 * 100 + 8);
    strcpy(s, "{\"");

    for (i = 0; i < 100; i++) {
        strcat(s, "\\u0061");
    }

    strcat(s, "\":1}");
    is_int(key_is(s, "aaaa"), 0, "100 escaped characters: no match");
    free(s);

    /* a plain key, no scanner involved */
    m.key = "stream";
    m.key_len = 6;
    m.value = "true";
    m.value_len = 4;
    m.escaped = 0;
    ok(ngx_http_moa_json_key_is(&m, "stream"), "hand-made member");
}


int
main(void)
{
    test_buf();
    test_json_str();
    test_valid();
    test_members();
    test_key_is();

    return done_testing();
}
