
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: usage summed over the calls (from trees or straight from a
 * reply's tokens) and found in a reply; printed by usage_print.c.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_moa_usage.h"
#include "ngx_http_moa_buf_json.h"
#include "ngx_http_moa_json_text.h"
#include "ngx_http_moa_json_find.h"


/*
 * The names providers send, in a table: a member of one of these names is
 * kept with the table's string as its key (cJSON's "const" key: no copy
 * to make nor free), so that a later call's member is matched against it
 * knowing its length (usage_index()).  The first three are the counts
 * every answer carries, in OpenAI's order; the first five are always kept
 * in the usage itself.  Each name has 32 bytes: its index is its offset.
 */
#define NGX_HTTP_MOA_USAGE_KEY  32

static const char  ngx_http_moa_usage_names[][NGX_HTTP_MOA_USAGE_KEY] = {
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "prompt_tokens_details",
    "completion_tokens_details",
    "cached_tokens",
    "audio_tokens",
    "reasoning_tokens",
    "accepted_prediction_tokens",
    "rejected_prediction_tokens"
};

static const uint8_t  ngx_http_moa_usage_lens[] = {
    13, 17, 12, 21, 25, 13, 12, 16, 26, 26
};

#define NGX_HTTP_MOA_USAGE_PROMPT      0
#define NGX_HTTP_MOA_USAGE_COMPLETION  1
#define NGX_HTTP_MOA_USAGE_TOTAL       2
#define NGX_HTTP_MOA_USAGE_ALWAYS      5     /* kept past the bound */
#define NGX_HTTP_MOA_USAGE_REQUIRED    3     /* printed first, always */

#define ngx_http_moa_usage_key(k)  ngx_http_moa_usage_names[k]


/* what one call's usage brought, for a missing total and the log */
typedef struct {
    double        prompt;
    double        completion;
    unsigned      counts:1;        /* a valid prompt or completion count */
    unsigned      total:1;         /* a valid total_tokens */
    int           ignored;         /* members not summed */
} ngx_http_moa_usage_walk_t;


/* the index of the table's name a key points to, or -1 */
static int
ngx_http_moa_usage_index(const char *s)
{
    uintptr_t  off;

    off = (uintptr_t) s - (uintptr_t) ngx_http_moa_usage_names;

    if (off >= sizeof(ngx_http_moa_usage_names)
        || off % NGX_HTTP_MOA_USAGE_KEY)
    {
        return -1;
    }

    return (int) (off / NGX_HTTP_MOA_USAGE_KEY);
}


/*
 * Which name of the table a name of len bytes (not NUL-terminated) is, or
 * -1: its length and first byte leave one candidate, compared once.
 */
static int
ngx_http_moa_usage_known(const char *name, size_t len)
{
    int  k;

    switch (len) {
    case 12:
        k = (name[0] == 't') ? NGX_HTTP_MOA_USAGE_TOTAL : 6;
        break;
    case 13:
        k = (name[0] == 'p') ? NGX_HTTP_MOA_USAGE_PROMPT : 5;
        break;
    case 16:
        k = 7;
        break;
    case 17:
        k = NGX_HTTP_MOA_USAGE_COMPLETION;
        break;
    case 21:
        k = 3;
        break;
    case 25:
        k = 4;
        break;
    case 26:
        k = (name[0] == 'a') ? 8 : 9;
        break;
    default:
        return -1;
    }

    return ngx_http_moa_json_find_eq(name, ngx_http_moa_usage_key(k), len)
           ? k : -1;
}


/*
 * Whether member a of the accumulator has the name of len bytes, which is
 * the table's name k (-1: none): a key the table gave is its pointer.
 */
static int
ngx_http_moa_usage_same(const cJSON *a, const char *name, size_t len, int k)
{
    if (k >= 0 && a->string == ngx_http_moa_usage_key(k)) {
        return 1;
    }

    /* the first byte tells most names apart without a call */

    return (len == 0 || a->string[0] == name[0])
           && strncmp(a->string, name, len) == 0 && a->string[len] == '\0';
}


/*
 * Which of the three required counts (prompt, completion, total) a
 * member's name is, or -1: a key the table gave is its pointer.
 */
int
ngx_http_moa_usage_required(const char *s)
{
    int  i;

    for (i = 0; i < NGX_HTTP_MOA_USAGE_REQUIRED; i++) {
        if (s == ngx_http_moa_usage_key(i)
            || (s[0] == ngx_http_moa_usage_key(i)[0]
                && strcmp(s, ngx_http_moa_usage_key(i)) == 0))
        {
            return i;
        }
    }

    return -1;
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


/* a count d added into member a: the sum stops at 2^53 - 1 */
static void
ngx_http_moa_usage_sum(cJSON *a, double d)
{
    d += a->valuedouble;

    ngx_http_moa_usage_record_set(a, d > NGX_HTTP_MOA_USAGE_MAX
                              ? NGX_HTTP_MOA_USAGE_MAX : d);
}


/* a count of the usage itself (the table's name k, -1: none) seen */
static void
ngx_http_moa_usage_seen(ngx_http_moa_usage_walk_t *w, int k, double d)
{
    if (k == NGX_HTTP_MOA_USAGE_TOTAL) {
        w->total = 1;

    } else if (k == NGX_HTTP_MOA_USAGE_PROMPT) {
        w->prompt += d;
        w->counts = 1;

    } else if (k == NGX_HTTP_MOA_USAGE_COMPLETION) {
        w->completion += d;
        w->counts = 1;
    }
}


/*
 * A new member of acc: the name as a C string for cJSON (known: the
 * table's, never copied; else copied on the stack, a kept name being
 * short), a number d or an object (type '{').  Returns it, or NULL
 * without memory.
 */
static cJSON *
ngx_http_moa_usage_new(ngx_http_moa_usage_t *u, cJSON *acc,
    const char *name, size_t len, int terminated, int k, int type, double d)
{
    char    key[NGX_HTTP_MOA_USAGE_NAME + 1];
    cJSON  *a;

    a = ngx_http_moa_usage_record_node(u, type, d);
    if (a == NULL) {
        return NULL;
    }

    if (k >= 0) {
        if (!cJSON_AddItemToObjectCS(acc, ngx_http_moa_usage_key(k), a)) {
            ngx_http_moa_usage_record_drop(u, a);
            return NULL;
        }

        return a;
    }

    if (!terminated) {
        memcpy(key, name, len);
        key[len] = '\0';
        name = key;
    }

    if (!cJSON_AddItemToObject(acc, name, a)) {
        ngx_http_moa_usage_record_drop(u, a);
        return NULL;
    }

    return a;
}


/*
 * One member of a call's usage added into acc, the object at depth (1:
 * the usage itself): name has len bytes, NUL-terminated only if
 * terminated; type is '0' for a number d, '{' for an object, which is
 * returned in *obj to be walked, 'n' for null (absent), anything else is
 * not a count.  Members that are not counts, mismatched, too deep or over
 * the bound are counted in w->ignored.
 *
 * *cursor is the member of acc after the one the previous member of this
 * call went to: calls send their usage in the same order, so it is
 * nearly always the one sought, found without a walk.  acc's names are
 * unique (only this function adds to it), so the cursor finds what the
 * walk would.  Otherwise each call costs at most one pass over acc, which
 * the bound keeps short: the merge stays linear.
 */
static int
ngx_http_moa_usage_put(ngx_http_moa_usage_t *u, cJSON *acc, cJSON **cursor,
    int depth, const char *name, size_t len, int terminated, int type,
    double d, ngx_http_moa_usage_walk_t *w, cJSON **obj)
{
    int     n, k;
    cJSON  *a;

    *obj = NULL;
    n = 0;

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

    k = ngx_http_moa_usage_known(name, len);

    if (depth == 1 && type == '0') {
        ngx_http_moa_usage_seen(w, k, d);
    }

    a = *cursor;

    if (a == NULL || !ngx_http_moa_usage_same(a, name, len, k)) {
        for (a = acc->child; a; a = a->next) {
            if (ngx_http_moa_usage_same(a, name, len, k)) {
                break;
            }

            n++;
        }
    }

    if (a == NULL) {
        if (!(depth == 1 && k >= 0 && k < NGX_HTTP_MOA_USAGE_ALWAYS)
            && (n >= NGX_HTTP_MOA_USAGE_MEMBERS
                || !ngx_http_moa_usage_name(name, len)))
        {
            w->ignored++;
            return 0;
        }

        a = ngx_http_moa_usage_new(u, acc, name, len, terminated, k, type,
                                   d);
        if (a == NULL) {
            return -1;
        }

        *cursor = NULL;
        *obj = (type == '{') ? a : NULL;

        return 0;
    }

    *cursor = a->next;

    if (type == '0' && cJSON_IsNumber(a)) {
        ngx_http_moa_usage_sum(a, d);
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
ngx_http_moa_usage_merge(ngx_http_moa_usage_t *u, cJSON *acc,
    const cJSON *usage, int depth, ngx_http_moa_usage_walk_t *w)
{
    int           type;
    cJSON        *obj, *cursor;
    const cJSON  *m;

    cursor = acc->child;

    cJSON_ArrayForEach(m, usage) {

        if (m->string == NULL) {
            continue;
        }

        type = cJSON_IsNumber(m) ? '0'
               : cJSON_IsObject(m) ? '{'
               : cJSON_IsNull(m) ? 'n' : '"';

        if (ngx_http_moa_usage_put(u, acc, &cursor, depth, m->string,
                                   strlen(m->string), 1, type,
                                   m->valuedouble, w, &obj)
            != 0)
        {
            return -1;
        }

        if (obj && ngx_http_moa_usage_merge(u, obj, m, depth + 1, w) != 0) {
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
ngx_http_moa_usage_total(ngx_http_moa_usage_t *u,
    ngx_http_moa_usage_walk_t *w)
{
    cJSON  *obj, *cursor;

    if (w->total || !w->counts) {
        return 0;
    }

    cursor = NULL;

    /* the sum of two counts, each at most 2^53 - 1, clamped by put() */
    return ngx_http_moa_usage_put(u, &u->root, &cursor, 1, "total_tokens",
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
ngx_http_moa_usage_add(ngx_http_moa_usage_t *u, const cJSON *usage)
{
    ngx_http_moa_usage_walk_t  w;

    if (!cJSON_IsObject(usage)) {
        return 0;
    }

    memset(&w, 0, sizeof(ngx_http_moa_usage_walk_t));

    if (ngx_http_moa_usage_merge(u, &u->root, usage, 1, &w) != 0
        || ngx_http_moa_usage_total(u, &w) != 0)
    {
        return -1;
    }

    return w.ignored;
}


/*
 * A number token of up to 15 digits (no sign, fraction nor exponent) in
 * *d: a count, exact in a double.  Returns 0 for any other number.
 */
static int
ngx_http_moa_usage_tok_digits(const ngx_http_moa_json_tok_t *t, double *d)
{
    size_t    i;
    uint64_t  v;

    if (t->len > 15) {
        return 0;
    }

    v = 0;

    for (i = 0; i < t->len; i++) {
        if ((unsigned char) (t->p[i] - '0') > 9) {
            return 0;
        }

        v = v * 10 + (unsigned char) (t->p[i] - '0');
    }

    *d = (double) v;

    return 1;
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

    if (ngx_http_moa_usage_tok_digits(t, &d)) {
        return d;
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
ngx_http_moa_usage_merge_tok(ngx_http_moa_usage_t *u, cJSON *acc,
    const ngx_http_moa_json_t *j, uint32_t obj, int depth,
    ngx_http_moa_buf_t *key, ngx_http_moa_usage_walk_t *w)
{
    int          type, terminated, i;
    double       d;
    cJSON       *a, *cursor;
    size_t       len;
    uint32_t     k, v, end;
    const char  *name;

    end = j->tok[obj].next;
    cursor = acc->child;

    for (k = obj + 1; k < end; k = j->tok[v].next) {
        v = k + 1;
        type = j->tok[v].type;
        a = cursor;

        /*
         * the usual member, summed here without a walk or a call: a count
         * of plain digits under a plain key, of the name of the table the
         * accumulator holds next (the previous calls sent the same)
         */

        if (a && type == '0' && !j->tok[k].escaped
            && (a->type & 0xff) == cJSON_Number
            && (i = ngx_http_moa_usage_index(a->string)) >= 0
            && j->tok[k].len - 2 == ngx_http_moa_usage_lens[i]
            && ngx_http_moa_json_find_eq(j->tok[k].p + 1, a->string,
                                         ngx_http_moa_usage_lens[i])
            && ngx_http_moa_usage_tok_digits(&j->tok[v], &d))
        {
            if (depth == 1) {
                ngx_http_moa_usage_seen(w, i, d);
            }

            ngx_http_moa_usage_sum(a, d);
            cursor = a->next;
            continue;
        }

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

        if (ngx_http_moa_usage_put(u, acc, &cursor, depth, name, len,
                                   terminated, type, d, w, &a)
            != 0)
        {
            return -1;
        }

        if (a
            && ngx_http_moa_usage_merge_tok(u, a, j, v, depth + 1, key, w)
               != 0)
        {
            return -1;
        }
    }

    return 0;
}


/* usage_add() of a parsed reply's usage, from its tokens */
int
ngx_http_moa_usage_add_reply(ngx_http_moa_usage_t *u,
    const ngx_http_moa_reply_t *rep)
{
    int                         rc;
    ngx_http_moa_buf_t          key;
    ngx_http_moa_usage_walk_t   w;

    if (rep->usage_at <= 0) {
        return 0;
    }

    memset(&key, 0, sizeof(ngx_http_moa_buf_t));
    memset(&w, 0, sizeof(ngx_http_moa_usage_walk_t));

    rc = ngx_http_moa_usage_merge_tok(u, &u->root, &rep->json, rep->usage_at,
                                      1, &key, &w);

    ngx_http_moa_buf_free(&key);

    if (rc != 0 || ngx_http_moa_usage_total(u, &w) != 0) {
        return -1;
    }

    return w.ignored;
}


/* whether a call reported a count: else the answer has no usage to give */
int
ngx_http_moa_usage_reported(const cJSON *acc)
{
    const cJSON  *u;

    cJSON_ArrayForEach(u, acc) {
        if (u->string && ngx_http_moa_usage_required(u->string) >= 0) {
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
