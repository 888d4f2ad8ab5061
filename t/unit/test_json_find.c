
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_json_find.c: the key compare that find and
 * find_keys rest on, with escaped keys (find and find_keys themselves are
 * checked against cJSON with the tokenizer in test_json.c).
 */


#include <stdio.h>

#include "tap.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_json_find.h"


#define S(s)  s, sizeof(s) - 1


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


/*
 * find_keys and find over names of every length the compare handles in
 * its own way (under 4, 4 to 7, 8, over 8, over 16), against names of the
 * same length that differ in one byte, first, middle or last.
 */
static void
test_find_lengths(void)
{
    int                       at[2];
    char                      name[40], other[40], text[128];
    size_t                    len, pos, where[3];
    ngx_http_moa_json_t       j;
    ngx_http_moa_json_key_t   keys[2];

    for (len = 1; len <= 33; len++) {
        for (pos = 0; pos < len; pos++) {
            name[pos] = (char) ('a' + pos % 26);
        }

        name[len] = '\0';

        where[0] = 0;
        where[1] = len / 2;
        where[2] = len - 1;

        for (pos = 0; pos < 3; pos++) {
            memcpy(other, name, len + 1);
            other[where[pos]] = 'Z';

            /* the one differing in a byte first, then the name itself */
            snprintf(text, sizeof(text), "{\"%s\":1,\"%s\":2}", other, name);
            memset(&j, 0, sizeof(j));

            if (!ok(ngx_http_moa_json_parse(&j, text, strlen(text)) == 0,
                    "parsed %s", text))
            {
                continue;
            }

            keys[0].name = name;
            keys[0].len = len;
            keys[1].name = "zz";
            keys[1].len = 2;

            ngx_http_moa_json_find_keys(&j, 0, keys, 2, at);

            ok(at[0] == 4 && at[1] == -1,
               "find_keys: %zu bytes, differing at %zu: the name's own",
               len, where[pos]);
            is_int(ngx_http_moa_json_find(&j, 0, name), 4,
                   "find: %zu bytes, differing at %zu", len, where[pos]);
            is_int(ngx_http_moa_json_find(&j, 0, other), 2,
                   "find: the other name");

            ngx_http_moa_json_free(&j);
        }
    }
}


/* find_keys: the first of duplicates, keys sought twice, escapes */
static void
test_find_keys(void)
{
    int                             at[4];
    ngx_http_moa_json_t             j;
    static const char               text[] =
        "{\"a\":1,\"\\u0062\":2,\"a\":3,\"\":4,\"b\":5,\"content\":6,"
        "\"refusal\":7}";
    static const ngx_http_moa_json_key_t  keys[4] = {
        ngx_http_moa_json_key("a"),
        ngx_http_moa_json_key("b"),
        ngx_http_moa_json_key(""),
        ngx_http_moa_json_key("a")
    };
    static const ngx_http_moa_json_key_t  seven[2] = {
        ngx_http_moa_json_key("refusal"),
        ngx_http_moa_json_key("content")
    };

    memset(&j, 0, sizeof(j));
    ok(ngx_http_moa_json_parse(&j, S(text)) == 0, "parsed");

    ngx_http_moa_json_find_keys(&j, 0, keys, 4, at);

    is_int(at[0], 2, "the first of duplicates");
    is_int(at[1], 4, "an escaped key, before its plain twin");
    is_int(at[2], 8, "the empty key");
    is_int(at[3], 6, "a key sought twice: the next duplicate");

    ngx_http_moa_json_find_keys(&j, 0, seven, 2, at);
    ok(at[0] == 14 && at[1] == 12, "two names of one length, in another "
       "order than the keys");

    ngx_http_moa_json_find_keys(&j, 2, seven, 2, at);
    ok(at[0] == -1 && at[1] == -1, "not an object: none");

    ngx_http_moa_json_find_keys(&j, -1, seven, 2, at);
    ok(at[0] == -1 && at[1] == -1, "no token: none");

    ngx_http_moa_json_free(&j);
}


/*
 * prepared sets: names of one length (one slot's chain or not), a key
 * sought twice, an escaped key, an absent one; the set reused, prepared
 * once
 */
static void
test_find_set(void)
{
    int                             at[6], i;
    ngx_http_moa_json_t             j;
    static const char               text[] =
        "{\"usage\":1,\"model\":2,\"error\":3,\"m\\u006fdel\":4,"
        "\"model\":5,\"\":6,\"a_name_longer_than_thirty_two_bytes\":7}";
    static const ngx_http_moa_json_key_t  five[6] = {
        ngx_http_moa_json_key("error"),
        ngx_http_moa_json_key("model"),
        ngx_http_moa_json_key("usage"),
        ngx_http_moa_json_key("model"),
        ngx_http_moa_json_key("absent"),
        ngx_http_moa_json_key("a_name_longer_than_thirty_two_bytes")
    };
    static ngx_http_moa_json_keys_t       set = ngx_http_moa_json_keys(five);
    static const ngx_http_moa_json_key_t  other[3] = {
        ngx_http_moa_json_key(""),
        ngx_http_moa_json_key("modem"),
        ngx_http_moa_json_key("model")
    };
    static ngx_http_moa_json_keys_t       oset = ngx_http_moa_json_keys(other);

    memset(&j, 0, sizeof(j));
    ok(ngx_http_moa_json_parse(&j, S(text)) == 0, "parsed");

    is_int(set.nkeys, 6, "set: its keys counted");
    is_int(set.ready, 0, "set: not prepared before its first lookup");

    for (i = 0; i < 2; i++) {
        memset(at, 0x55, sizeof(at));
        ngx_http_moa_json_find_set(&j, 0, &set, at);

        is_int(at[0], 6, "set: names of one length, each its own");
        is_int(at[1], 4, "set: the first of duplicates");
        is_int(at[2], 2, "set: the first member");
        is_int(at[3], 8, "set: a key sought twice takes the next (escaped)");
        is_int(at[4], -1, "set: an absent key, -1");
        is_int(at[5], 14, "set: a name of 35 bytes");
    }

    is_int(set.ready, 1, "set: prepared once");

    memset(at, 0x55, sizeof(at));
    ngx_http_moa_json_find_set(&j, 0, &oset, at);
    ok(at[0] == 12 && at[1] == -1 && at[2] == 4, "set: the empty key, a "
       "name of another's length and first byte absent");

    memset(at, 0x55, sizeof(at));
    ngx_http_moa_json_find_set(&j, 2, &oset, at);
    ok(at[0] == -1 && at[1] == -1 && at[2] == -1, "set: not an object");

    ngx_http_moa_json_find_set(&j, -1, &oset, at);
    ok(at[0] == -1 && at[1] == -1 && at[2] == -1, "set: no token");

    ngx_http_moa_json_free(&j);
}


/* keys_find: the set's index of each member of a client's object */
static void
test_keys_find(void)
{
    int                          got[8];
    size_t                       i, n;
    ngx_http_moa_json_member_t  *m;
    static const char            text[] =
        "{\"model\":1,\"modem\":2,\"n\":3,\"m\\u006fdel\":4,\"\":5,"
        "\"max_completion_tokens\":6,\"stream_options\":7,\"x\":8}";
    static const ngx_http_moa_json_key_t  keys[] = {
        ngx_http_moa_json_key("stream_options"),
        ngx_http_moa_json_key("n"),
        ngx_http_moa_json_key("model"),
        ngx_http_moa_json_key("max_completion_tokens"),
        ngx_http_moa_json_key("model")
    };
    static ngx_http_moa_json_keys_t       set = ngx_http_moa_json_keys(keys);
    static const ngx_http_moa_json_key_t  empty[] = {
        ngx_http_moa_json_key("x"),
        ngx_http_moa_json_key("")
    };
    static ngx_http_moa_json_keys_t       eset = ngx_http_moa_json_keys(empty);

    if (ngx_http_moa_json_members(text, sizeof(text) - 1, &m, &n) != 0
        || n != 8)
    {
        ok(0, "keys_find: members");
        return;
    }

    for (i = 0; i < n; i++) {
        got[i] = ngx_http_moa_json_keys_find(&set, &m[i]);
    }

    is_int(got[0], 2, "keys_find: a key, the first of its name");
    is_int(got[1], -1, "keys_find: a name of a key's length, absent");
    is_int(got[2], 1, "keys_find: one byte");
    is_int(got[3], 2, "keys_find: an escaped key, decoded");
    is_int(got[4], -1, "keys_find: the empty key, absent");
    is_int(got[5], 3, "keys_find: 21 bytes");
    is_int(got[6], 0, "keys_find: the first key");
    is_int(got[7], -1, "keys_find: a name of no key");

    is_int(ngx_http_moa_json_keys_find(&eset, &m[4]), 1,
           "keys_find: the empty key");
    is_int(ngx_http_moa_json_keys_find(&eset, &m[7]), 0,
           "keys_find: a one-byte key");

    free(m);
}


int
main(void)
{
    test_key_is();
    test_find_lengths();
    test_find_keys();
    test_find_set();
    test_keys_find();

    return done_testing();
}
