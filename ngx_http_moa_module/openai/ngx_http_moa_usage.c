
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: usage summed over the calls (from trees or straight from a
 * reply's tokens), found in a reply, and printed.
 */


#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_moa_usage.h"
#include "ngx_http_moa_buf_json.h"
#include "ngx_http_moa_json_text.h"


static int
ngx_http_moa_usage_merge(cJSON *acc, const cJSON *usage)
{
    cJSON        *a;
    const cJSON  *u;

    cJSON_ArrayForEach(u, usage) {

        if (u->string == NULL) {
            continue;
        }

        a = cJSON_GetObjectItemCaseSensitive(acc, u->string);

        if (cJSON_IsNumber(u)) {
            if (a == NULL) {
                if (cJSON_AddNumberToObject(acc, u->string, u->valuedouble)
                    == NULL)
                {
                    return -1;
                }

            } else if (cJSON_IsNumber(a)) {
                cJSON_SetNumberValue(a, a->valuedouble + u->valuedouble);
            }

            continue;
        }

        if (cJSON_IsObject(u)) {
            if (a == NULL) {
                a = cJSON_AddObjectToObject(acc, u->string);
                if (a == NULL) {
                    return -1;
                }
            }

            if (cJSON_IsObject(a) && ngx_http_moa_usage_merge(a, u) != 0) {
                return -1;
            }
        }
    }

    return 0;
}


/*
 * Adds every number of a usage object (nested details included) into acc,
 * so that fields a provider adds are summed too; a call that reports no
 * total_tokens still adds prompt + completion to the total.
 */
int
ngx_http_moa_usage_add(cJSON *acc, const cJSON *usage)
{
    double        t;
    cJSON        *total;
    const cJSON  *p, *c;

    if (!cJSON_IsObject(usage)) {
        return 0;
    }

    if (ngx_http_moa_usage_merge(acc, usage) != 0) {
        return -1;
    }

    if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(usage,
                                                        "total_tokens")))
    {
        return 0;
    }

    p = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens");
    c = cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens");

    t = (cJSON_IsNumber(p) ? p->valuedouble : 0)
        + (cJSON_IsNumber(c) ? c->valuedouble : 0);

    total = cJSON_GetObjectItemCaseSensitive(acc, "total_tokens");

    if (total == NULL) {
        return cJSON_AddNumberToObject(acc, "total_tokens", t) ? 0 : -1;
    }

    if (cJSON_IsNumber(total)) {
        cJSON_SetNumberValue(total, total->valuedouble + t);
    }

    return 0;
}


/*
 * A number token as a double, as cJSON reads it: up to 15 digits are exact
 * in a double and need no strtod() (nor its locale look-ups).
 */
static double
ngx_http_moa_usage_tok_double(const ngx_http_moa_json_tok_t *t)
{
    char        num[64], *s;
    double      d;
    size_t      i;
    long long   v;

    if (t->len <= 15) {
        v = 0;

        for (i = 0; i < t->len; i++) {
            if (t->p[i] < '0' || t->p[i] > '9') {
                break;
            }

            v = v * 10 + (t->p[i] - '0');
        }

        if (i == t->len) {
            return (double) v;
        }
    }

    s = t->len < sizeof(num) ? num : malloc(t->len + 1);
    if (s == NULL) {
        return 0;
    }

    memcpy(s, t->p, t->len);
    s[t->len] = '\0';

    d = strtod(s, NULL);

    if (s != num) {
        free(s);
    }

    return d;
}


/* a key token as a C string in b (reset), decoded if it has escapes */
static const char *
ngx_http_moa_usage_tok_key(ngx_http_moa_buf_t *b,
    const ngx_http_moa_json_tok_t *t)
{
    b->len = 0;

    if (t->escaped) {
        if (ngx_http_moa_json_text_unescape(b, t->p, t->len) != 0) {
            return NULL;
        }

    } else {
        ngx_http_moa_buf_add(b, t->p + 1, t->len - 2);
    }

    ngx_http_moa_buf_add(b, "", 1);

    return b->nomem ? NULL : b->data;
}


/* usage_merge() on tokens: object obj of j added into acc */
static int
ngx_http_moa_usage_merge_tok(cJSON *acc, const ngx_http_moa_json_t *j,
    uint32_t obj, ngx_http_moa_buf_t *key)
{
    double       d;
    cJSON       *a;
    uint32_t     k, v, end;
    const char  *name;

    end = j->tok[obj].next;

    for (k = obj + 1; k < end; k = j->tok[v].next) {
        v = k + 1;

        if (j->tok[v].type != '0' && j->tok[v].type != '{') {
            continue;
        }

        name = ngx_http_moa_usage_tok_key(key, &j->tok[k]);
        if (name == NULL) {
            return -1;
        }

        a = cJSON_GetObjectItemCaseSensitive(acc, name);

        if (j->tok[v].type == '0') {
            d = ngx_http_moa_usage_tok_double(&j->tok[v]);

            if (a == NULL) {
                if (cJSON_AddNumberToObject(acc, name, d) == NULL) {
                    return -1;
                }

            } else if (cJSON_IsNumber(a)) {
                cJSON_SetNumberValue(a, a->valuedouble + d);
            }

            continue;
        }

        if (a == NULL) {
            a = cJSON_AddObjectToObject(acc, name);
            if (a == NULL) {
                return -1;
            }
        }

        if (cJSON_IsObject(a)
            && ngx_http_moa_usage_merge_tok(a, j, v, key) != 0)
        {
            return -1;
        }
    }

    return 0;
}


/* usage_add() of a parsed reply's usage, from its tokens */
int
ngx_http_moa_usage_add_reply(cJSON *acc, const ngx_http_moa_reply_t *rep)
{
    int                         i, rc;
    double                      t;
    cJSON                      *total;
    ngx_http_moa_buf_t          key;
    const ngx_http_moa_json_t  *j;

    if (rep->usage_at <= 0) {
        return 0;
    }

    j = &rep->json;

    memset(&key, 0, sizeof(ngx_http_moa_buf_t));

    rc = ngx_http_moa_usage_merge_tok(acc, j, rep->usage_at, &key);

    ngx_http_moa_buf_free(&key);

    if (rc != 0) {
        return -1;
    }

    i = ngx_http_moa_json_find(j, rep->usage_at, "total_tokens");

    if (i >= 0 && j->tok[i].type == '0') {
        return 0;
    }

    t = 0;

    i = ngx_http_moa_json_find(j, rep->usage_at, "prompt_tokens");

    if (i >= 0 && j->tok[i].type == '0') {
        t += ngx_http_moa_usage_tok_double(&j->tok[i]);
    }

    i = ngx_http_moa_json_find(j, rep->usage_at, "completion_tokens");

    if (i >= 0 && j->tok[i].type == '0') {
        t += ngx_http_moa_usage_tok_double(&j->tok[i]);
    }

    total = cJSON_GetObjectItemCaseSensitive(acc, "total_tokens");

    if (total == NULL) {
        return cJSON_AddNumberToObject(acc, "total_tokens", t) ? 0 : -1;
    }

    if (cJSON_IsNumber(total)) {
        cJSON_SetNumberValue(total, total->valuedouble + t);
    }

    return 0;
}


long long
ngx_http_moa_usage_get(const cJSON *acc, const char *name)
{
    const cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(acc, name);

    return cJSON_IsNumber(item) ? ngx_http_moa_usage_clamp(item->valuedouble)
                                : 0;
}


/* a usage object (numbers and nested objects) without printf's "%g" */
void
ngx_http_moa_usage_print(ngx_http_moa_buf_t *out, const cJSON *usage)
{
    int           first;
    char          num[32];
    const cJSON  *u;

    if (!cJSON_IsObject(usage)) {
        ngx_http_moa_buf_lit(out, "{}");
        return;
    }

    ngx_http_moa_buf_lit(out, "{");
    first = 1;

    cJSON_ArrayForEach(u, usage) {
        if (u->string == NULL
            || !(cJSON_IsNumber(u) || cJSON_IsObject(u)))
        {
            continue;
        }

        if (!first) {
            ngx_http_moa_buf_lit(out, ",");
        }

        first = 0;
        ngx_http_moa_buf_json_str(out, u->string, strlen(u->string));
        ngx_http_moa_buf_lit(out, ":");

        if (cJSON_IsObject(u)) {
            ngx_http_moa_usage_print(out, u);

        } else if (u->valuedouble > -9e15 && u->valuedouble < 9e15
                   && u->valuedouble == (double) (long long) u->valuedouble)
        {
            ngx_http_moa_buf_int(out, (long long) u->valuedouble);

        } else if (isfinite(u->valuedouble)) {
            snprintf(num, sizeof(num), "%.17g", u->valuedouble);
            ngx_http_moa_buf_cstr(out, num);

        } else {
            ngx_http_moa_buf_lit(out, "0");
        }
    }

    ngx_http_moa_buf_lit(out, "}");
}


/*
 * The usage object of a complete reply, found without parsing the rest:
 * 0 and *usage set (NULL when there is none), or -1 on invalid JSON.
 */
int
ngx_http_moa_usage_scan(const char *p, size_t len, cJSON **usage)
{
    size_t                       i, n;
    ngx_http_moa_json_member_t  *m;

    *usage = NULL;

    if (ngx_http_moa_json_members(p, len, &m, &n) != 0) {
        return -1;
    }

    for (i = 0; i < n; i++) {
        if (ngx_http_moa_json_key_is(&m[i], "usage") && m[i].value[0] == '{')
        {
            *usage = cJSON_ParseWithLength(m[i].value, m[i].value_len);
            break;
        }
    }

    free(m);

    return 0;
}
