
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
 * The sought key an escaped key (token t) is, decoded, of those not found
 * yet: its index, or -1.  Rare: apart, to keep find_keys()' loop short.
 */
static int
ngx_http_moa_json_find_escaped(const ngx_http_moa_json_tok_t *t,
    const ngx_http_moa_json_key_t *keys, int nkeys, const int *at)
{
    int                          i;
    ngx_http_moa_json_member_t   m;

    m.key = t->p + 1;
    m.key_len = t->len - 2;
    m.escaped = 1;

    for (i = 0; i < nkeys; i++) {
        if (at[i] < 0 && ngx_http_moa_json_key_decoded(&m, keys[i].name)) {
            return i;
        }
    }

    return -1;
}


void
ngx_http_moa_json_find_keys(const ngx_http_moa_json_t *j, int obj,
    const ngx_http_moa_json_key_t *keys, int nkeys, int *at)
{
    int                             i, left;
    size_t                          len;
    uint32_t                        k, end;
    const char                     *key;
    const ngx_http_moa_json_tok_t  *tok, *t;

    for (i = 0; i < nkeys; i++) {
        at[i] = -1;
    }

    if (obj < 0 || j->tok[obj].type != '{') {
        return;
    }

    tok = j->tok;
    left = nkeys;
    end = tok[obj].next;

    for (k = obj + 1; k < end && left; k = t[1].next) {
        t = &tok[k];

        if (t->escaped) {
            i = ngx_http_moa_json_find_escaped(t, keys, nkeys, at);

        } else {
            /* the key's text without its quotes */
            key = t->p + 1;
            len = t->len - 2;

            for (i = 0; i < nkeys; i++) {
                /* most keys differ in length: the one test for them */
                if (keys[i].len == len && at[i] < 0
                    && ngx_http_moa_json_find_eq(key, keys[i].name, len))
                {
                    break;
                }
            }
        }

        if (i >= 0 && i < nkeys) {
            at[i] = (int) k + 1;
            left--;
        }
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
