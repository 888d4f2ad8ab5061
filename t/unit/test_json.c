
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_json.[ch]: the strict scanner, the
 * tokenizer (against the scanner and cJSON); the string scan's steps are
 * tested in test_json_scan.c.
 */


#include <limits.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "tap.h"
#include "check_json.h"
#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_json_find.h"


#define S(s)  s, sizeof(s) - 1


static const char  *json_good[] = {
    "{}", "[]", "0", "-0", "1", "-1", "10", "1.5", "-0.25", "1e5",
    "1E+5", "1e-5", "0.0e0", "123456789012345678901234567890",
    "true", "false", "null", "\"\"", "\"a\"", " \t\r\n{} \t\r\n",
    "{\"a\":1}", "{ \"a\" : [ 1 , 2 , { } ] , \"b\" : null }",
    "[[[]]]", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\u00e9\\uABCD\"",
    "\"\\ud83d\\ude00\"", "\"\\uD800\\uDC00x\\udbff\\udfff\"",
    "\"\xc3\xa9\"", "{\"\":\"\"}",
    "{\"a\":1,\"a\":2}", NULL
};

static const char  *json_bad[] = {
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


static void
test_valid(void)
{
    size_t       i;
    char        *deep;
    const char  *s;

    for (i = 0; json_good[i]; i++) {
        ok(ngx_http_moa_json_valid(json_good[i], strlen(json_good[i])) == 0,
           "valid: %s", json_good[i]);
    }

    for (i = 0; json_bad[i]; i++) {
        ok(ngx_http_moa_json_valid(json_bad[i], strlen(json_bad[i])) == -1,
           "invalid: '%s'", json_bad[i]);
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


/* valid documents beyond json_good: what the tokenizer must cut as cJSON */
static const char  *json_more[] = {
    "{\"a\":[1,{\"b\":null}],\"c\":\"x\\ny\",\"d\":true,\"e\":false}",
    " [ 1 , -2.5e+3 , \"\" , [ ] , { } , [ [ ] , { \"k\" : [ ] } ] ] ",
    "{\"a\":1,\"a\":2,\"b\":{\"a\":3,\"a\":4},\"a\":5}",
    "{\"a\\u0000b\":1,\"a\":2}", "{\"\\u0000\":1,\"\":2}",
    "{\"\\u0061\":1,\"a\":2,\"\\u0041\":3}",
    "{\"\\ud83d\\ude00\":\"\\ud83d\\ude00\",\"\xf0\x9f\x98\x80\":1}",
    "{\"\\/\\\\\\\"\\b\\f\\n\\r\\t\":\"\\/\\\\\\\"\\b\\f\\n\\r\\t\"}",
    "[1e400,-1e400,4.9e-324,1e-400,-0.0,0E0,1E-0]",
    "[1234567890123456789012345678901234567890123456789012345678901234567"
    "890]",
    "{\"x\":\"}]\\\"{[,:\",\"y\":[\"]\",\"}\"]}",
    "\"\xff\xfe\x80 bytes that are not UTF-8 pass\"",
    "[true,false,null,true]", "{\"deep\":[[[[[[[[[[{}]]]]]]]]]]}",
    NULL
};


/* which of json_bad cJSON (strict) accepts: it is laxer, never stricter */
static const char  *json_bad_cjson_accepts[] = {
    "01", "1.", "1.e5", "\"a\nb\"", "\"a\tb\"", "\"\x01\"", "\"\\u12g4\"",
    "\xef\xbb\xbf{}", "{\"a\":1}\x0b", NULL
};


static int
in_list(const char *s, const char **list)
{
    for ( /* void */ ; *list; list++) {
        if (strcmp(s, *list) == 0) {
            return 1;
        }
    }

    return 0;
}


/* json_find and json_find_keys (with a key before it) must agree: -3 */
static int
tok_find(const char *json, const char *key)
{
    int                      rc, at[2];
    ngx_http_moa_json_t      j;
    ngx_http_moa_json_key_t  keys[2];

    memset(&j, 0, sizeof(j));

    if (ngx_http_moa_json_parse(&j, json, strlen(json)) != 0) {
        ngx_http_moa_json_free(&j);
        return -2;
    }

    rc = ngx_http_moa_json_find(&j, 0, key);

    keys[0].name = "zz";
    keys[0].len = 2;
    keys[1].name = key;
    keys[1].len = strlen(key);

    ngx_http_moa_json_find_keys(&j, 0, keys, 2, at);

    if (at[1] != rc || at[0] != ngx_http_moa_json_find(&j, 0, "zz")) {
        rc = -3;
    }

    ngx_http_moa_json_free(&j);

    return rc;
}


static void
test_tokens(void)
{
    int                   i, e, n;
    char                 *deep;
    cJSON                *v;
    size_t                k;
    const char           *s, *why;
    ngx_http_moa_buf_t    b;
    ngx_http_moa_json_t   j;

    /* agreement on every valid document */
    for (k = 0; json_good[k]; k++) {
        why = check_json_agree(json_good[k], strlen(json_good[k]));
        ok(why == NULL, "tokens agree: %s", json_good[k]);

        if (why) {
            diag("    %s", why);
        }
    }

    for (k = 0; json_more[k]; k++) {
        why = check_json_agree(json_more[k], strlen(json_more[k]));
        ok(why == NULL, "tokens agree: %s", json_more[k]);

        if (why) {
            diag("    %s", why);
        }
    }

    /* ... and on every invalid one: all refuse; cJSON only the lax ones */
    memset(&j, 0, sizeof(j));

    for (k = 0; json_bad[k]; k++) {
        s = json_bad[k];

        ok(ngx_http_moa_json_parse(&j, s, strlen(s)) == -1,
           "the tokenizer refuses '%s'", s);
        ok(check_json_agree(s, strlen(s)) == NULL,
           "scanner and members refuse '%s' too", s);

        v = check_json_cjson(s, strlen(s));
        ok((v != NULL) == in_list(s, json_bad_cjson_accepts),
           "cJSON %s '%s'", in_list(s, json_bad_cjson_accepts)
                            ? "accepts (laxer)" : "refuses", s);
        cJSON_Delete(v);
    }

    ngx_http_moa_json_free(&j);
    ok(j.tok == NULL && j.n == 0 && j.size == 0, "json_free clears");

    /* the tokens of one document */
    s = "{\"a\":[1,{\"b\":null}],\"c\":\"x\\ny\",\"d\":true}";
    ok(ngx_http_moa_json_parse(&j, s, strlen(s)) == 0, "parsed");
    is_int(j.n, 11, "eleven tokens: keys are tokens");

    if (j.n == 11) {
        ok(j.tok[0].type == '{' && j.tok[0].next == 11 && j.tok[0].p == s
           && j.tok[0].len == strlen(s), "0: the object, all of it");
        is_mem(j.tok[1].p, j.tok[1].len, "\"a\"", "1: key a, quoted");
        ok(j.tok[1].type == '"' && j.tok[1].next == 2 && !j.tok[1].escaped,
           "1: a string token");
        is_mem(j.tok[2].p, j.tok[2].len, "[1,{\"b\":null}]", "2: the array");
        ok(j.tok[2].type == '[' && j.tok[2].next == 7, "2: next is 7");
        ok(j.tok[3].type == '0' && j.tok[3].next == 4, "3: the number");
        ok(j.tok[4].type == '{' && j.tok[4].next == 7, "4: inner object");
        ok(j.tok[6].type == 'n' && j.tok[6].len == 4, "6: null");
        is_mem(j.tok[8].p, j.tok[8].len, "\"x\\ny\"", "8: raw string");
        ok(j.tok[8].escaped, "8: escaped");
        ok(j.tok[10].type == 't' && j.tok[10].next == 11, "10: true");

        is_int(ngx_http_moa_json_find(&j, 0, "a"), 2, "find a");
        is_int(ngx_http_moa_json_find(&j, 0, "c"), 8, "find c");
        is_int(ngx_http_moa_json_find(&j, 0, "d"), 10, "find d, the last");
        is_int(ngx_http_moa_json_find(&j, 0, "b"), -1,
               "find does not look into children");
        is_int(ngx_http_moa_json_find(&j, 4, "b"), 6, "find in a child");
        is_int(ngx_http_moa_json_find(&j, 2, "a"), -1, "find in an array");
        is_int(ngx_http_moa_json_find(&j, 3, "a"), -1, "find in a number");
        is_int(ngx_http_moa_json_find(&j, -1, "a"), -1, "find in -1");
        {
            int                            at[4];
            static const ngx_http_moa_json_key_t  keys[4] = {
                ngx_http_moa_json_key("d"),
                ngx_http_moa_json_key("b"),
                ngx_http_moa_json_key("a"),
                ngx_http_moa_json_key("c")
            };

            ngx_http_moa_json_find_keys(&j, 0, keys, 4, at);
            ok(at[0] == 10 && at[1] == -1 && at[2] == 2 && at[3] == 8,
               "find_keys: d a c found in one pass, b not (a child's)");

            ngx_http_moa_json_find_keys(&j, 4, keys, 4, at);
            ok(at[0] == -1 && at[1] == 6 && at[2] == -1 && at[3] == -1,
               "find_keys in a child");

            at[0] = 5;
            ngx_http_moa_json_find_keys(&j, 2, keys, 1, at);
            is_int(at[0], -1, "find_keys in an array: -1");
            at[0] = 5;
            ngx_http_moa_json_find_keys(&j, -1, keys, 1, at);
            is_int(at[0], -1, "find_keys in -1: -1");
        }

        is_int(ngx_http_moa_json_first(&j, 2), 3, "first of the array");
        is_int(ngx_http_moa_json_after(&j, 2, 3), 4, "after skips nothing");
        is_int(ngx_http_moa_json_after(&j, 2, 4), -1,
               "after the inner object (a subtree): the end");
        is_int(ngx_http_moa_json_first(&j, 0), -1, "first of an object");
        is_int(ngx_http_moa_json_first(&j, 3), -1, "first of a number");
        is_int(ngx_http_moa_json_first(&j, -1), -1, "first of -1");
    }

    /* parsed again into the same tokens: n starts over */
    ok(ngx_http_moa_json_parse(&j, S("[]")) == 0 && j.n == 1
       && ngx_http_moa_json_first(&j, 0) == -1, "reused: an empty array");
    ok(ngx_http_moa_json_parse(&j, S("{}")) == 0 && j.n == 1
       && ngx_http_moa_json_find(&j, 0, "") == -1, "reused: an empty object");
    ok(ngx_http_moa_json_parse(&j, S("  7  ")) == 0 && j.n == 1
       && j.tok[0].len == 1 && j.tok[0].type == '0',
       "a bare number, whitespace around it not in its span");
    ngx_http_moa_json_free(&j);

    /* duplicates: the first, at every level; \u0000 ends a key */
    is_int(tok_find("{\"a\":1,\"a\":2}", "a"), 2, "duplicate: the first");
    is_int(tok_find("{\"b\":0,\"\\u0061\":1,\"a\":2}", "a"), 4,
           "duplicate: the first, escaped");
    is_int(tok_find("{\"a\\u0000b\":1,\"a\":2}", "a"), 2,
           "\\u0000 ends a key: the first is \"a\"");
    is_int(tok_find("{\"a\\u0000b\":1,\"a\":2}", "a\0b"), 2,
           "... and what follows is no part of it");
    is_int(tok_find("{\"\\u0000\":1}", ""), 2, "\\u0000 alone: the empty key");
    is_int(tok_find("{\"A\":1}", "a"), -1, "case matters");
    is_int(tok_find("{\"\\ud83d\\ude00\":1}", "\xf0\x9f\x98\x80"), -1,
           "escaped non-ASCII names are never found (names are ASCII)");
    is_int(tok_find("{\"\xf0\x9f\x98\x80\":1}", "\xf0\x9f\x98\x80"), 2,
           "raw non-ASCII names are");

    /* (NULL, 0), as an empty body */
    memset(&j, 0, sizeof(j));
    ok(ngx_http_moa_json_parse(&j, NULL, 0) == -1, "parse (NULL, 0): -1");
    ok(ngx_http_moa_json_parse(&j, "", 0) == -1, "parse (\"\", 0): -1");
    ngx_http_moa_json_free(&j);

    /* depth: 1000 levels, as cJSON; 1001 refused by both */
    deep = malloc(8192);

    for (i = 0; i < 1001; i++) {
        deep[i] = '[';
        deep[2001 - i] = ']';
    }

    ok(check_json_agree(deep + 1, 2000) == NULL,
       "1000 nested arrays: all agree");
    ok(ngx_http_moa_json_parse(&j, deep + 1, 2000) == 0 && j.n == 1000
       && j.tok[0].next == 1000 && j.tok[999].next == 1000,
       "1000 nested arrays: 1000 tokens, all ending together");
    ok(ngx_http_moa_json_parse(&j, deep, 2002) == -1, "1001: refused");
    v = check_json_cjson(deep, 2002);
    ok(v == NULL, "1001: cJSON refuses too");
    cJSON_Delete(v);
    ok(check_json_agree(deep, 2002) == NULL, "1001: the scanners agree");
    ok(ngx_http_moa_json_parse(&j, deep, 1001) == -1,
       "1001 unclosed: refused, no overflow");

    /* objects count as levels too */
    n = 0;

    for (i = 0; i < 999; i++) {
        memcpy(deep + n, "{\"k\":", 5);
        n += 5;
    }

    memcpy(deep + n, "[]", 2);
    n += 2;

    for (i = 0; i < 999; i++) {
        deep[n++] = '}';
    }

    ok(check_json_agree(deep, n) == NULL
       && ngx_http_moa_json_parse(&j, deep, n) == 0,
       "999 objects and an array: 1000 levels");
    memmove(deep + 5, deep, n);
    memcpy(deep, "{\"k\":", 5);
    deep[n + 5] = '}';
    ok(ngx_http_moa_json_parse(&j, deep, n + 6) == -1
       && check_json_agree(deep, n + 6) == NULL,
       "1000 objects and an array: refused by all");

    free(deep);

    /* many tokens: the array grows, next stays right */
    memset(&b, 0, sizeof(b));
    ngx_http_moa_buf_lit(&b, "[");

    for (i = 0; i < 5000; i++) {
        ngx_http_moa_buf_cstr(&b, i ? ",{\"i\":[1]}" : "{\"i\":[1]}");
    }

    ngx_http_moa_buf_lit(&b, "]");

    ok(ngx_http_moa_json_parse(&j, b.data, b.len) == 0
       && j.n == 1 + 5000 * 4, "20001 tokens");

    n = 0;

    for (e = ngx_http_moa_json_first(&j, 0); e >= 0;
         e = ngx_http_moa_json_after(&j, 0, e))
    {
        n++;
    }

    is_int(n, 5000, "5000 elements, one step each");
    ok(check_json_agree(b.data, b.len) == NULL, "20001 tokens: all agree");

    ngx_http_moa_json_free(&j);
    ngx_http_moa_buf_free(&b);
}


static void
test_tok_members(void)
{
    int                          c;
    size_t                       n;
    const char                  *s;
    ngx_http_moa_json_t          j;
    ngx_http_moa_json_member_t  *m;

    memset(&j, 0, sizeof(j));

    s = "{\"a\":1, \"\\u0062\" : [2,3],\"c\":{},\"a\":{\"d\":null}}";

    ok(ngx_http_moa_json_parse(&j, s, strlen(s)) == 0, "tok_members: parsed");
    ok(ngx_http_moa_json_tok_members(&j, 0, &m, &n) == 0 && n == 4,
       "tok_members: four members, duplicates kept");

    if (n == 4) {
        ok(m[0].key == s + 2 && m[0].key_len == 1 && !m[0].escaped
           && m[0].value == s + 5 && m[0].value_len == 1,
           "tok_members: spans of the text");
        ok(m[1].escaped && m[1].key_len == 6
           && m[1].value_len == 5 && memcmp(m[1].value, "[2,3]", 5) == 0,
           "tok_members: an escaped key, raw; the value without spaces");
        ok(m[3].value_len == 10 && memcmp(m[3].value, "{\"d\":null}", 10) == 0,
           "tok_members: the second a");
    }

    free(m);

    c = ngx_http_moa_json_find(&j, 0, "c");
    ok(c > 0 && ngx_http_moa_json_tok_members(&j, c, &m, &n) == 0 && n == 0
       && m == NULL, "tok_members of {}: none, NULL");

    c = ngx_http_moa_json_tok_members(&j, ngx_http_moa_json_find(&j, 0, "a"),
                                      &m, &n);
    ok(c == 0 && n == 0, "tok_members of a number: none");

    c = ngx_http_moa_json_tok_members(&j, 4, &m, &n);
    ok(c == 0 && n == 0 && m == NULL && j.tok[4].type == '[',
       "tok_members of an array: none");

    c = j.tok[0].next - 3;
    ok(ngx_http_moa_json_tok_members(&j, c, &m, &n) == 0 && n == 1
       && m[0].key_len == 1 && m[0].key[0] == 'd',
       "tok_members of an inner object");
    free(m);

    ngx_http_moa_json_free(&j);
}


int
main(void)
{
    test_valid();
    test_members();
    test_tokens();
    test_tok_members();

    return done_testing();
}
