
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
                && memcmp(j->tok[k].p + 1, key, len - 2) == 0)
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


void
ngx_http_moa_json_find_keys(const ngx_http_moa_json_t *j, int obj,
    const ngx_http_moa_json_key_t *keys, int nkeys, int *at)
{
    int                          i, left;
    size_t                       len;
    uint32_t                     k, end;
    ngx_http_moa_json_member_t   m;

    for (i = 0; i < nkeys; i++) {
        at[i] = -1;
    }

    if (obj < 0 || j->tok[obj].type != '{') {
        return;
    }

    left = nkeys;
    end = j->tok[obj].next;

    for (k = obj + 1; k < end && left; k = j->tok[k + 1].next) {

        if (!j->tok[k].escaped) {
            /* the key's text without its quotes */
            len = j->tok[k].len - 2;

            for (i = 0; i < nkeys; i++) {
                /* most names differ in length or first byte: no call */
                if (keys[i].len == len && at[i] < 0
                    && (len == 0 || j->tok[k].p[1] == keys[i].name[0])
                    && memcmp(j->tok[k].p + 1, keys[i].name, len) == 0)
                {
                    at[i] = (int) k + 1;
                    left--;
                    break;
                }
            }

            continue;
        }

        m.key = j->tok[k].p + 1;
        m.key_len = j->tok[k].len - 2;
        m.escaped = 1;

        for (i = 0; i < nkeys; i++) {
            if (at[i] < 0 && ngx_http_moa_json_key_is(&m, keys[i].name)) {
                at[i] = (int) k + 1;
                left--;
                break;
            }
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
