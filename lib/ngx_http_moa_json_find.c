
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Members of an object found by their key: one key (find), several in one
 * pass (find_keys), over the tokens of ngx_http_moa_json_parse(), and the
 * key comparison both rest on (a key with escapes is decoded first).
 */


#include <string.h>

#include "ngx_http_moa_json.h"
#include "ngx_http_moa_json_find.h"


int
ngx_http_moa_json_find(const ngx_http_moa_json_t *j, int obj,
    const char *key)
{
    size_t                       len;
    uint32_t                     k, end;
    ngx_http_moa_json_member_t   m;

    if (obj < 0 || j->tok[obj].type != '{') {
        return -1;
    }

    len = strlen(key) + 2;
    end = j->tok[obj].next;

    for (k = obj + 1; k < end; k = j->tok[k + 1].next) {

        if (!j->tok[k].escaped) {
            /* the key's text with its quotes */
            if (j->tok[k].len == len
                && ngx_http_moa_json_find_eq(j->tok[k].p + 1, key, len - 2))
            {
                return (int) k + 1;
            }

            continue;
        }

        m.key = j->tok[k].p + 1;
        m.key_len = j->tok[k].len - 2;
        m.escaped = 1;

        if (ngx_http_moa_json_key_is(&m, key)) {
            return (int) k + 1;
        }
    }

    return -1;
}


/*
 * The first key of a set not found yet (a bit of found each) that a key
 * with escapes (its text of len bytes at key, between its quotes) is,
 * decoded: its index, or -1.  Rare: apart (not inlined, or its locals
 * crowd find_set()'s loop out of registers).
 */
static __attribute__((noinline)) int
ngx_http_moa_json_keys_escaped(const ngx_http_moa_json_keys_t *set,
    const char *key, size_t len, uint32_t found)
{
    int                          i;
    ngx_http_moa_json_member_t   m;

    m.key = key;
    m.key_len = len;
    m.escaped = 1;

    for (i = 0; i < set->nkeys; i++) {
        if (!(found & ((uint32_t) 1 << i))
            && ngx_http_moa_json_key_decoded(&m, set->keys[i].name))
        {
            return i;
        }
    }

    return -1;
}


/*
 * The same for a plain key: p[1..len] is its text between its quotes,
 * p[1] its first byte and p[len] its last (the quotes when it is empty);
 * only the keys of its slot are compared
 */
static inline int
ngx_http_moa_json_keys_plain(const ngx_http_moa_json_keys_t *set,
    const unsigned char *p, size_t len, uint32_t found)
{
    int  i;

    for (i = set->slot[ngx_http_moa_json_keys_hash(len, p[1], p[len])];
         i;
         i = set->next[i])
    {
        i--;

        if (set->keys[i].len == len && !(found & ((uint32_t) 1 << i))
            && ngx_http_moa_json_find_eq((const char *) p + 1,
                                         set->keys[i].name, len))
        {
            return i;
        }
    }

    return -1;
}


void
ngx_http_moa_json_find_keys(const ngx_http_moa_json_t *j, int obj,
    const ngx_http_moa_json_key_t *keys, int nkeys, int *at)
{
    int                        i;
    ngx_http_moa_json_keys_t   set;

    /* callers with keys of their own (tools, tests): a set for the call */

    set.keys = keys;
    set.nkeys = nkeys < NGX_HTTP_MOA_JSON_KEYS_MAX
                ? nkeys : NGX_HTTP_MOA_JSON_KEYS_MAX;
    set.ready = 0;

    ngx_http_moa_json_find_set(j, obj, &set, at);

    for (i = set.nkeys; i < nkeys; i++) {
        at[i] = -1;
    }
}


void
ngx_http_moa_json_keys_prepare(ngx_http_moa_json_keys_t *set)
{
    int                             i;
    size_t                          h;
    const unsigned char            *p;
    const ngx_http_moa_json_key_t  *key;

    memset(set->slot, 0, sizeof(set->slot));
    memset(set->next, 0, sizeof(set->next));

    /* each chain in the keys' order: a key sought twice takes the next */

    for (i = set->nkeys - 1; i >= 0; i--) {
        key = &set->keys[i];

        p = (const unsigned char *) key->name;

        h = (key->len == 0)
            ? ngx_http_moa_json_keys_hash(0, '"', '"')
            : ngx_http_moa_json_keys_hash(key->len, p[0], p[key->len - 1]);

        set->next[i] = set->slot[h];
        set->slot[h] = (uint8_t) (i + 1);
    }

    set->ready = 1;
}


/* a member's key in a set (m->key is its text, after its opening quote) */
int
ngx_http_moa_json_keys_find(ngx_http_moa_json_keys_t *set,
    const ngx_http_moa_json_member_t *m)
{
    if (!set->ready) {
        ngx_http_moa_json_keys_prepare(set);
    }

    return m->escaped
           ? ngx_http_moa_json_keys_escaped(set, m->key, m->key_len, 0)
           : ngx_http_moa_json_keys_plain(set,
                                   (const unsigned char *) m->key - 1,
                                   m->key_len, 0);
}


void
ngx_http_moa_json_find_set(const ngx_http_moa_json_t *j, int obj,
    ngx_http_moa_json_keys_t *set, int *at)
{
    int                             i;
    uint32_t                        k, end, found, all, miss;
    const ngx_http_moa_json_tok_t  *tok, *t;

    if (!set->ready) {
        ngx_http_moa_json_keys_prepare(set);
    }

    /* a bit a key found: no array to clear first, -1 written at the end */

    found = 0;
    all = (set->nkeys >= 32) ? 0xffffffff
                             : ((uint32_t) 1 << set->nkeys) - 1;

    if (obj >= 0 && j->tok[obj].type == '{') {
        tok = j->tok;
        end = tok[obj].next;

        for (k = obj + 1; k < end && found != all; k = t[1].next) {
            t = &tok[k];

            i = t->escaped
                ? ngx_http_moa_json_keys_escaped(set, t->p + 1, t->len - 2,
                                                 found)
                : ngx_http_moa_json_keys_plain(set,
                                        (const unsigned char *) t->p,
                                        t->len - 2, found);

            if (i >= 0) {
                found |= (uint32_t) 1 << i;
                at[i] = (int) k + 1;
            }
        }
    }

    for (miss = all & ~found; miss; miss &= miss - 1) {
        at[__builtin_ctz(miss)] = -1;
    }
}


int
ngx_http_moa_json_key_decoded(const ngx_http_moa_json_member_t *m,
    const char *name)
{
    int          v;
    char         dec[64];
    size_t       i, n, len;
    const char  *k;

    len = strlen(name);

    /* rare: decode the escapes; names compared here are plain ASCII */

    k = m->key;
    n = 0;

    for (i = 0; i < m->key_len; i++) {
        if (n == sizeof(dec)) {
            return 0;
        }

        if (k[i] != '\\') {
            dec[n++] = k[i];
            continue;
        }

        i++;

        switch (k[i]) {
        case 'u':
            v = ngx_http_moa_json_hex4(&k[i + 1]);
            i += 4;

            if (v == 0) {
                /* cJSON's keys are C strings: \u0000 ends them there */
                goto done;
            }

            if (v < 0 || v > 0x7f) {
                return 0;
            }

            dec[n++] = (char) v;
            break;

        case 'b':
            dec[n++] = '\b';
            break;
        case 'f':
            dec[n++] = '\f';
            break;
        case 'n':
            dec[n++] = '\n';
            break;
        case 'r':
            dec[n++] = '\r';
            break;
        case 't':
            dec[n++] = '\t';
            break;
        default:
            dec[n++] = k[i];
        }
    }

done:

    return n == len && memcmp(dec, name, len) == 0;
}
