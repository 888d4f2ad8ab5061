
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
#include "ngx_http_moa_json_find.h"


/* the usage members every answer carries, in OpenAI's order */
static const char  *ngx_http_moa_usage_required[] = {
    "prompt_tokens", "completion_tokens", "total_tokens", NULL
};


/* what one call's usage brought, for a missing total and the log */
typedef struct {
    double        prompt;
    double        completion;
    unsigned      counts:1;        /* a valid prompt or completion count */
    unsigned      total:1;         /* a valid total_tokens */
    int           ignored;         /* members not summed */
} ngx_http_moa_usage_walk_t;


/* a name of len bytes (not NUL-terminated) is the literal s */
#define ngx_http_moa_usage_is(name, len, s)                                  \
    ((len) == sizeof(s) - 1 && memcmp(name, s, sizeof(s) - 1) == 0)


/*
 * Names that are always kept in the usage object itself; any other name
 * is kept only while its object has room (NGX_HTTP_MOA_USAGE_MEMBERS).
 */
static int
ngx_http_moa_usage_known(const char *name, size_t len)
{
    return ngx_http_moa_usage_is(name, len, "prompt_tokens")
           || ngx_http_moa_usage_is(name, len, "completion_tokens")
           || ngx_http_moa_usage_is(name, len, "total_tokens")
           || ngx_http_moa_usage_is(name, len, "prompt_tokens_details")
           || ngx_http_moa_usage_is(name, len, "completion_tokens_details");
}


/* a name kept as it is printed: up to 64 bytes of [A-Za-z0-9_.-] */
static int
ngx_http_moa_usage_name(const char *name, size_t len)
{
    size_t  i;

    if (len == 0 || len > NGX_HTTP_MOA_USAGE_NAME) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((name[i] >= 'a' && name[i] <= 'z')
              || (name[i] >= 'A' && name[i] <= 'Z')
              || (name[i] >= '0' && name[i] <= '9')
              || name[i] == '_' || name[i] == '.' || name[i] == '-'))
        {
            return 0;
        }
    }

    return 1;
}


/* a count: an integer from 0 to 2^53 - 1, exact in a double and in JSON */
static int
ngx_http_moa_usage_count(double d)
{
    return d >= 0 && d <= NGX_HTTP_MOA_USAGE_MAX
           && d == (double) (long long) d;
}


/*
 * One member of a call's usage added into acc, the object at depth (1:
 * the usage itself): name has len bytes, NUL-terminated only if
 * terminated (else it is copied on the stack when kept: a kept name is
 * short); type is '0' for a number d,
 * '{' for an object, which is returned in *obj to be walked, 'n' for null
 * (absent), anything else is not a count.  Members that are not counts,
 * mismatched, too deep or over the bound are counted in w->ignored.  Each
 * call costs at most one pass over acc, which the bound keeps short: the
 * merge stays linear.
 */
static int
ngx_http_moa_usage_put(cJSON *acc, int depth, const char *name, size_t len,
    int terminated, int type, double d, ngx_http_moa_usage_walk_t *w,
    cJSON **obj)
{
    int     n;
    char    key[NGX_HTTP_MOA_USAGE_NAME + 1];
    cJSON  *a;

    *obj = NULL;

    if (type == 'n') {
        return 0;
    }

    if ((type == '0' && !ngx_http_moa_usage_count(d))
        || (type == '{' && depth >= NGX_HTTP_MOA_USAGE_DEPTH)
        || (type != '0' && type != '{'))
    {
        w->ignored++;
        return 0;
    }

    if (depth == 1 && type == '0') {
        if (ngx_http_moa_usage_is(name, len, "total_tokens")) {
            w->total = 1;

        } else if (ngx_http_moa_usage_is(name, len, "prompt_tokens")) {
            w->prompt += d;
            w->counts = 1;

        } else if (ngx_http_moa_usage_is(name, len, "completion_tokens")) {
            w->completion += d;
            w->counts = 1;
        }
    }

    n = 0;

    /* the first byte tells most names apart without a call */

    for (a = acc->child; a; a = a->next) {
        if ((len == 0 || a->string[0] == name[0])
            && strncmp(a->string, name, len) == 0 && a->string[len] == '\0')
        {
            break;
        }

        n++;
    }

    if (a == NULL) {
        if (!(depth == 1 && ngx_http_moa_usage_known(name, len))
            && (n >= NGX_HTTP_MOA_USAGE_MEMBERS
                || !ngx_http_moa_usage_name(name, len)))
        {
            w->ignored++;
            return 0;
        }

        /*
         * a new member: the name as a C string, for cJSON; a kept name has
         * at most NGX_HTTP_MOA_USAGE_NAME bytes (the known ones fewer)
         */

        if (!terminated) {
            memcpy(key, name, len);
            key[len] = '\0';
            name = key;
        }

        if (type == '0') {
            return cJSON_AddNumberToObject(acc, name, d) ? 0 : -1;
        }

        *obj = cJSON_AddObjectToObject(acc, name);

        return *obj ? 0 : -1;
    }

    if (type == '0' && cJSON_IsNumber(a)) {
        d += a->valuedouble;
        cJSON_SetNumberValue(a, d < NGX_HTTP_MOA_USAGE_MAX
                                ? d : NGX_HTTP_MOA_USAGE_MAX);
        return 0;
    }

    if (type == '{' && cJSON_IsObject(a)) {
        *obj = a;
        return 0;
    }

    w->ignored++;

    return 0;
}


static int
ngx_http_moa_usage_merge(cJSON *acc, const cJSON *usage, int depth,
    ngx_http_moa_usage_walk_t *w)
{
    int           type;
    cJSON        *obj;
    const cJSON  *u;

    cJSON_ArrayForEach(u, usage) {

        if (u->string == NULL) {
            continue;
        }

        type = cJSON_IsNumber(u) ? '0'
               : cJSON_IsObject(u) ? '{'
               : cJSON_IsNull(u) ? 'n' : '"';

        if (ngx_http_moa_usage_put(acc, depth, u->string, strlen(u->string),
                                   1, type, u->valuedouble, w, &obj)
            != 0)
        {
            return -1;
        }

        if (obj && ngx_http_moa_usage_merge(obj, u, depth + 1, w) != 0) {
            return -1;
        }
    }

    return 0;
}


/*
 * A call's total when it reported none: its prompt + completion, if it
 * reported either; a call without any count adds no total.
 */
static int
ngx_http_moa_usage_total(cJSON *acc, ngx_http_moa_usage_walk_t *w)
{
    cJSON  *obj;

    if (w->total || !w->counts) {
        return 0;
    }

    /* the sum of two counts, each at most 2^53 - 1, clamped by put() */
    return ngx_http_moa_usage_put(acc, 1, "total_tokens",
                                  sizeof("total_tokens") - 1, 1, '0',
                                  ngx_http_moa_usage_count(w->prompt
                                                           + w->completion)
                                  ? w->prompt + w->completion
                                  : NGX_HTTP_MOA_USAGE_MAX, w, &obj);
}


/*
 * Adds every count of a usage object (nested details included) into acc,
 * so that fields a provider adds are summed too; a call that reports no
 * total_tokens still adds prompt + completion to the total.  Returns the
 * number of members that were not summed (not counts, or over the bound),
 * or -1 without memory.
 */
int
ngx_http_moa_usage_add(cJSON *acc, const cJSON *usage)
{
    ngx_http_moa_usage_walk_t  w;

    if (!cJSON_IsObject(usage)) {
        return 0;
    }

    memset(&w, 0, sizeof(ngx_http_moa_usage_walk_t));

    if (ngx_http_moa_usage_merge(acc, usage, 1, &w) != 0
        || ngx_http_moa_usage_total(acc, &w) != 0)
    {
        return -1;
    }

    return w.ignored;
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


/* a key token with escapes as a C string in b (reset), decoded */
static const char *
ngx_http_moa_usage_tok_key(ngx_http_moa_buf_t *b,
    const ngx_http_moa_json_tok_t *t)
{
    b->len = 0;

    if (ngx_http_moa_json_text_unescape(b, t->p, t->len) != 0) {
        return NULL;
    }

    ngx_http_moa_buf_add(b, "", 1);

    return b->nomem ? NULL : b->data;
}


/* usage_merge() on tokens: object obj of j added into acc */
static int
ngx_http_moa_usage_merge_tok(cJSON *acc, const ngx_http_moa_json_t *j,
    uint32_t obj, int depth, ngx_http_moa_buf_t *key,
    ngx_http_moa_usage_walk_t *w)
{
    int          type, terminated;
    double       d;
    cJSON       *a;
    size_t       len;
    uint32_t     k, v, end;
    const char  *name;

    end = j->tok[obj].next;

    for (k = obj + 1; k < end; k = j->tok[v].next) {
        v = k + 1;
        type = j->tok[v].type;

        /* a plain key is compared in place, copied only to be kept */

        if (j->tok[k].escaped) {
            name = ngx_http_moa_usage_tok_key(key, &j->tok[k]);
            if (name == NULL) {
                return -1;
            }

            len = strlen(name);
            terminated = 1;

        } else {
            name = j->tok[k].p + 1;
            len = j->tok[k].len - 2;
            terminated = 0;
        }

        d = (type == '0') ? ngx_http_moa_usage_tok_double(&j->tok[v]) : 0;

        if (ngx_http_moa_usage_put(acc, depth, name, len, terminated, type,
                                   d, w, &a)
            != 0)
        {
            return -1;
        }

        if (a && ngx_http_moa_usage_merge_tok(a, j, v, depth + 1, key, w)
                 != 0)
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
    int                         rc;
    ngx_http_moa_buf_t          key;
    ngx_http_moa_usage_walk_t   w;

    if (rep->usage_at <= 0) {
        return 0;
    }

    memset(&key, 0, sizeof(ngx_http_moa_buf_t));
    memset(&w, 0, sizeof(ngx_http_moa_usage_walk_t));

    rc = ngx_http_moa_usage_merge_tok(acc, &rep->json, rep->usage_at, 1,
                                      &key, &w);

    ngx_http_moa_buf_free(&key);

    if (rc != 0 || ngx_http_moa_usage_total(acc, &w) != 0) {
        return -1;
    }

    return w.ignored;
}


/* whether a call reported a count: else the answer has no usage to give */
int
ngx_http_moa_usage_reported(const cJSON *acc)
{
    int  i;

    for (i = 0; ngx_http_moa_usage_required[i]; i++) {
        if (cJSON_GetObjectItemCaseSensitive(acc,
                                             ngx_http_moa_usage_required[i]))
        {
            return 1;
        }
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


/* a count as JSON: an integer when it is one, 0 when not finite */
static void
ngx_http_moa_usage_print_number(ngx_http_moa_buf_t *out, double d)
{
    char  num[32];

    if (d > -9e15 && d < 9e15 && d == (double) (long long) d) {
        ngx_http_moa_buf_int(out, (long long) d);

    } else if (isfinite(d)) {
        snprintf(num, sizeof(num), "%.17g", d);
        ngx_http_moa_buf_cstr(out, num);

    } else {
        ngx_http_moa_buf_lit(out, "0");
    }
}


/* the members of a usage object (numbers and objects), skip[] left out */
static void
ngx_http_moa_usage_print_members(ngx_http_moa_buf_t *out, const cJSON *usage,
    int first, const char **skip)
{
    int           i;
    const cJSON  *u;

    cJSON_ArrayForEach(u, usage) {
        if (u->string == NULL
            || !(cJSON_IsNumber(u) || cJSON_IsObject(u)))
        {
            continue;
        }

        for (i = 0; skip && skip[i]; i++) {
            if (u->string[0] == skip[i][0] && strcmp(u->string, skip[i]) == 0)
            {
                break;
            }
        }

        if (skip && skip[i]) {
            continue;
        }

        if (!first) {
            ngx_http_moa_buf_lit(out, ",");
        }

        first = 0;
        ngx_http_moa_buf_json_str(out, u->string, strlen(u->string));
        ngx_http_moa_buf_lit(out, ":");

        if (cJSON_IsObject(u)) {
            ngx_http_moa_buf_lit(out, "{");
            ngx_http_moa_usage_print_members(out, u, 1, NULL);
            ngx_http_moa_buf_lit(out, "}");

        } else {
            ngx_http_moa_usage_print_number(out, u->valuedouble);
        }
    }
}


/*
 * A usage object without printf's "%g": OpenAI's CompletionUsage, whose
 * three counts are required and come first, in its order, 0 for a count
 * no call reported; or null when no call reported any (usage_reported()).
 * The three are found in one pass over the members (the first of a name,
 * as cJSON_GetObjectItemCaseSensitive() would).
 */
void
ngx_http_moa_usage_print(ngx_http_moa_buf_t *out, const cJSON *usage)
{
    int           i, found;
    const cJSON  *u, *obj, *req[3];

    found = 0;
    req[0] = req[1] = req[2] = NULL;
    obj = cJSON_IsObject(usage) ? usage : NULL;

    cJSON_ArrayForEach(u, obj) {
        if (u->string == NULL) {
            continue;
        }

        for (i = 0; i < 3; i++) {
            if (req[i] == NULL
                && u->string[0] == ngx_http_moa_usage_required[i][0]
                && strcmp(u->string, ngx_http_moa_usage_required[i]) == 0)
            {
                req[i] = u;
                found++;
                break;
            }
        }
    }

    if (found == 0) {
        ngx_http_moa_buf_lit(out, "null");
        return;
    }

    ngx_http_moa_buf_lit(out, "{\"prompt_tokens\":");
    ngx_http_moa_usage_print_number(out, cJSON_IsNumber(req[0])
                                         ? req[0]->valuedouble : 0);
    ngx_http_moa_buf_lit(out, ",\"completion_tokens\":");
    ngx_http_moa_usage_print_number(out, cJSON_IsNumber(req[1])
                                         ? req[1]->valuedouble : 0);
    ngx_http_moa_buf_lit(out, ",\"total_tokens\":");
    ngx_http_moa_usage_print_number(out, cJSON_IsNumber(req[2])
                                         ? req[2]->valuedouble : 0);

    ngx_http_moa_usage_print_members(out, usage, 0,
                                     ngx_http_moa_usage_required);
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
