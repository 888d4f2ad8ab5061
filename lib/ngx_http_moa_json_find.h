
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: lookups by key in tokenized JSON (ngx_http_moa_json.h): one
 * key, several keys in one pass, a member's key against a plain name.
 */


#ifndef _NGX_HTTP_MOA_JSON_FIND_H_INCLUDED_
#define _NGX_HTTP_MOA_JSON_FIND_H_INCLUDED_


#include <stdint.h>
#include <string.h>

#include "ngx_http_moa_json.h"


/* the value of key in object token obj, or -1 */
int ngx_http_moa_json_find(const ngx_http_moa_json_t *j, int obj,
    const char *key);

/*
 * The values of several keys of object token obj in one pass over its
 * members: at[i] for keys[i], -1 when absent; as for ngx_http_moa_json_find,
 * the first of duplicate keys counts.  Up to NGX_HTTP_MOA_JSON_KEYS_MAX
 * keys are looked for (a set made for the call): at[] of the others is -1.
 */
typedef struct {
    const char  *name;
    size_t       len;
} ngx_http_moa_json_key_t;

#define ngx_http_moa_json_key(s)  { "" s, sizeof(s) - 1 }

void ngx_http_moa_json_find_keys(const ngx_http_moa_json_t *j, int obj,
    const ngx_http_moa_json_key_t *keys, int nkeys, int *at);

/*
 * A fixed set of keys prepared once for the lookups of a hot path: a table
 * of 64 slots by a hash of a name's length, first and last bytes, each the
 * head of a chain of the keys in it in the keys' order, so that most
 * members' keys meet an empty slot and are compared with no name.  Declare
 * one static (not const) with ngx_http_moa_json_keys(array); the first
 * lookup prepares it.  At most NGX_HTTP_MOA_JSON_KEYS_MAX keys.
 */
#define NGX_HTTP_MOA_JSON_KEYS_MAX    32
#define NGX_HTTP_MOA_JSON_KEYS_SLOTS  64

typedef struct {
    const ngx_http_moa_json_key_t  *keys;
    int                             nkeys;
    int                             ready;
    /* 1 + the first key of a slot, 0 none */
    uint8_t                         slot[NGX_HTTP_MOA_JSON_KEYS_SLOTS];
    /* 1 + the next key of the same slot, 0 none */
    uint8_t                         next[NGX_HTTP_MOA_JSON_KEYS_MAX];
} ngx_http_moa_json_keys_t;

/*
 * the slot of a name of len bytes whose first and last bytes are f and l
 * (both '"' for the empty name: its quotes, as in the JSON text)
 */
#define ngx_http_moa_json_keys_hash(len, f, l)                               \
    (((len) * 7 + (f) * 3 + (l)) & (NGX_HTTP_MOA_JSON_KEYS_SLOTS - 1))

#define ngx_http_moa_json_keys(k)                                            \
    { k, (int) (sizeof(k) / sizeof(k[0])), 0, { 0 }, { 0 } }

void ngx_http_moa_json_keys_prepare(ngx_http_moa_json_keys_t *set);

/* as ngx_http_moa_json_find_keys, with a set: at[i] for set->keys[i] */
void ngx_http_moa_json_find_set(const ngx_http_moa_json_t *j, int obj,
    ngx_http_moa_json_keys_t *set, int *at);

/*
 * compares a member's key with a plain name, decoding escapes if needed;
 * as for cJSON, whose view request validation uses, \u0000 ends the key
 */
static inline int ngx_http_moa_json_key_is(
    const ngx_http_moa_json_member_t *m, const char *name);

/* the same for a key with escapes (m->escaped), decoded first */
int ngx_http_moa_json_key_decoded(const ngx_http_moa_json_member_t *m,
    const char *name);

/* which key of a set a member's key is (the first of its name), or -1 */
int ngx_http_moa_json_keys_find(ngx_http_moa_json_keys_t *set,
    const ngx_http_moa_json_member_t *m);


/*
 * Inline for a plain key: callers pass names as literals, whose length
 * and compare the compiler works out; most keys differ at the first byte.
 */
static inline int
ngx_http_moa_json_key_is(const ngx_http_moa_json_member_t *m,
    const char *name)
{
    if (m->escaped) {
        return ngx_http_moa_json_key_decoded(m, name);
    }

    return (m->key_len == 0 || m->key[0] == name[0])
           && m->key_len == strlen(name)
           && memcmp(m->key, name, m->key_len) == 0;
}


/*
 * n bytes of a and b are equal: names are short, and loads of 8 or 4
 * bytes (the last one overlapping) cost less than a call to memcmp();
 * inline for the usage's names too
 */
static inline int
ngx_http_moa_json_find_eq(const char *a, const char *b, size_t n)
{
    size_t    i;
    uint32_t  x4, y4;
    uint64_t  x8, y8;

    if (n >= 8) {
        for (i = 0; i + 8 < n; i += 8) {
            memcpy(&x8, a + i, 8);
            memcpy(&y8, b + i, 8);

            if (x8 != y8) {
                return 0;
            }
        }

        memcpy(&x8, a + n - 8, 8);
        memcpy(&y8, b + n - 8, 8);

        return x8 == y8;
    }

    if (n >= 4) {
        memcpy(&x4, a, 4);
        memcpy(&y4, b, 4);

        if (x4 != y4) {
            return 0;
        }

        memcpy(&x4, a + n - 4, 4);
        memcpy(&y4, b + n - 4, 4);

        return x4 == y4;
    }

    for (i = 0; i < n; i++) {
        if (a[i] != b[i]) {
            return 0;
        }
    }

    return 1;
}


/* the value of key in object token obj as a span (len 0 when absent) */
static inline int
ngx_http_moa_json_tok_get(const ngx_http_moa_json_t *j, int obj,
    const char *key, ngx_http_moa_span_t *v)
{
    int  i;

    i = ngx_http_moa_json_find(j, obj, key);

    ngx_http_moa_json_tok_span(j, i, v);

    return i;
}


#endif /* _NGX_HTTP_MOA_JSON_FIND_H_INCLUDED_ */
