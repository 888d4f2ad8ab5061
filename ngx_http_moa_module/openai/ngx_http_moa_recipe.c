
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the recipes beyond the three-prompt chain.  The client's
 * "moa" member checked and applied within the operator's bounds, the
 * early agreement of the candidates (white space normalised, tool calls
 * with JSON-equal arguments), the judge's {"best": k} read tolerantly, and
 * the arithmetic of moa_max_total_tokens.
 */


#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "ngx_http_moa_recipe.h"
#include "ngx_http_moa_field.h"
#include "ngx_http_moa_json_text.h"
#include "ngx_http_moa_json_find.h"


static const char  *ngx_http_moa_recipe_keys[] = {
    "proposers", "layers", "critique", "aggregate", "agreement",
    "proposal_timeout_ms", NULL
};

static const char  *ngx_http_moa_recipe_aggregates[] = {
    "synthesize", "select", NULL
};


/* a member of "moa" the module does not know: 400 naming it */
static int
ngx_http_moa_recipe_unknown(const ngx_http_moa_json_member_t *m,
    ngx_http_moa_error_t *err)
{
    char  name[NGX_HTTP_MOA_FIELD_PATH];

    ngx_http_moa_field_path(err, name, "moa.%.*s",
                            (int) (m->key_len < 48 ? m->key_len : 48),
                            m->key);

    return ngx_http_moa_field_fail(err, "unknown_parameter", name,
                                   "Unrecognized request argument "
                                   "supplied: %s (the members of 'moa' "
                                   "are proposers, layers, critique, "
                                   "aggregate, agreement and "
                                   "proposal_timeout_ms).", name);
}


static int
ngx_http_moa_recipe_bool(const ngx_http_moa_json_t *j, int i,
    const char *name, int *out, ngx_http_moa_error_t *err)
{
    if (j->tok[i].type != 't' && j->tok[i].type != 'f') {
        return ngx_http_moa_field_bad_type(j, i, name, "a boolean", err);
    }

    *out = (j->tok[i].type == 't');

    return 0;
}


static int
ngx_http_moa_recipe_int(const ngx_http_moa_json_t *j, int i,
    const char *name, long long max, long long *out,
    ngx_http_moa_error_t *err)
{
    if (ngx_http_moa_field_number(j, i, name, 1, 1, (double) max, err)
        != 0)
    {
        return -1;
    }

    /* a JSON integer may be written 2e0: read as a number, in range now */
    *out = (long long) strtod(j->tok[i].p, NULL);

    return 0;
}


int
ngx_http_moa_recipe_override(ngx_http_moa_recipe_t *rc,
    const ngx_http_moa_json_t *j, int obj, int max_proposers, int max_layers,
    ngx_http_moa_error_t *err)
{
    int                          i, rv;
    size_t                       k, n;
    long long                    v;
    const char                 **key;
    ngx_http_moa_json_member_t  *m;

    if (j->tok[obj].type != '{') {
        return ngx_http_moa_field_bad_type(j, obj, "moa", "an object", err);
    }

    if (ngx_http_moa_json_tok_members(j, obj, &m, &n) != 0) {
        ngx_http_moa_error_set(err, 500, "server_error", NULL, NULL,
                               "out of memory");
        return -1;
    }

    for (k = 0; k < n; k++) {
        for (key = ngx_http_moa_recipe_keys; *key; key++) {
            if (ngx_http_moa_json_key_is(&m[k], *key)) {
                break;
            }
        }

        if (*key == NULL) {
            rv = ngx_http_moa_recipe_unknown(&m[k], err);
            free(m);
            return rv;
        }
    }

    free(m);

    i = ngx_http_moa_json_find(j, obj, "proposers");

    if (i >= 0) {
        if (ngx_http_moa_recipe_int(j, i, "moa.proposers", max_proposers, &v,
                                    err) != 0)
        {
            return -1;
        }

        rc->proposers = (int) v;
    }

    i = ngx_http_moa_json_find(j, obj, "layers");

    if (i >= 0) {
        if (ngx_http_moa_recipe_int(j, i, "moa.layers", max_layers, &v, err)
            != 0)
        {
            return -1;
        }

        rc->layers = (int) v;
    }

    i = ngx_http_moa_json_find(j, obj, "critique");

    if (i >= 0
        && ngx_http_moa_recipe_bool(j, i, "moa.critique", &rc->critique, err)
           != 0)
    {
        return -1;
    }

    i = ngx_http_moa_json_find(j, obj, "agreement");

    if (i >= 0
        && ngx_http_moa_recipe_bool(j, i, "moa.agreement", &rc->agreement,
                                    err)
           != 0)
    {
        return -1;
    }

    i = ngx_http_moa_json_find(j, obj, "aggregate");

    if (i >= 0) {
        if (ngx_http_moa_field_one_of(j, i, "moa.aggregate",
                                      ngx_http_moa_recipe_aggregates, err)
            != 0)
        {
            return -1;
        }

        rc->aggregate = ngx_http_moa_field_is(j, i, "select")
                        ? NGX_HTTP_MOA_AGGREGATE_SELECT
                        : NGX_HTTP_MOA_AGGREGATE_SYNTHESIZE;
    }

    i = ngx_http_moa_json_find(j, obj, "proposal_timeout_ms");

    if (i >= 0) {
        if (ngx_http_moa_recipe_int(j, i, "moa.proposal_timeout_ms",
                                    NGX_HTTP_MOA_RECIPE_MAX_TIMEOUT_MS, &v,
                                    err)
            != 0)
        {
            return -1;
        }

        rc->proposal_timeout_ms = v;
    }

    return 0;
}


/*
 * A string value's text with white space normalised: runs of white space
 * are one space, none at either end.  Another value (an array of parts, a
 * number) is normalised as its raw text.
 */
static int
ngx_http_moa_recipe_text(ngx_http_moa_buf_t *out,
    const ngx_http_moa_span_t *v)
{
    int                  rc;
    size_t               i, n;
    ngx_http_moa_buf_t   raw;

    out->len = 0;

    if (v->len == 0 || (v->len == 4 && memcmp(v->p, "null", 4) == 0)) {
        return 0;
    }

    memset(&raw, 0, sizeof(ngx_http_moa_buf_t));

    if (v->p[0] == '"') {
        if (ngx_http_moa_json_text_unescape(&raw, v->p, v->len) != 0) {
            ngx_http_moa_buf_free(&raw);
            return -1;
        }

    } else {
        ngx_http_moa_buf_add(&raw, v->p, v->len);
    }

    (void) ngx_http_moa_buf_reserve(out, raw.len + 1);

    n = 0;

    for (i = 0; i < raw.len; i++) {
        if (isspace((unsigned char) raw.data[i])) {
            n++;
            continue;
        }

        if (n && out->len) {
            ngx_http_moa_buf_lit(out, " ");
        }

        n = 0;
        ngx_http_moa_buf_add(out, &raw.data[i], 1);
    }

    rc = (raw.nomem || out->nomem) ? -1 : 0;
    ngx_http_moa_buf_free(&raw);

    return rc;
}


/* two texts that are JSON values equal as JSON (1), else 0 */
static int
ngx_http_moa_recipe_same_json(const char *a, size_t alen, const char *b,
    size_t blen)
{
    int     rc;
    cJSON  *x, *y;

    x = cJSON_ParseWithLength(a, alen);
    y = cJSON_ParseWithLength(b, blen);

    rc = (x && y && cJSON_Compare(x, y, 1));

    cJSON_Delete(x);
    cJSON_Delete(y);

    return rc;
}


static int
ngx_http_moa_recipe_same_text(const ngx_http_moa_span_t *a,
    const ngx_http_moa_span_t *b)
{
    int                  rc;
    ngx_http_moa_buf_t   x, y;

    memset(&x, 0, sizeof(ngx_http_moa_buf_t));
    memset(&y, 0, sizeof(ngx_http_moa_buf_t));

    if (ngx_http_moa_recipe_text(&x, a) != 0
        || ngx_http_moa_recipe_text(&y, b) != 0)
    {
        rc = -1;

    } else {
        rc = (x.len == y.len && (x.len == 0
                                 || memcmp(x.data, y.data, x.len) == 0));

        /* JSON answers (response_format) are the same when equal as JSON */
        if (!rc && x.len && y.len && (x.data[0] == '{' || x.data[0] == '[')
            && y.data[0] == x.data[0])
        {
            rc = ngx_http_moa_recipe_same_json(x.data, x.len, y.data, y.len);
        }
    }

    ngx_http_moa_buf_free(&x);
    ngx_http_moa_buf_free(&y);

    return rc;
}


/* two members equal as JSON, or both absent */
static int
ngx_http_moa_recipe_same_item(const cJSON *a, const cJSON *b)
{
    return (a == NULL && b == NULL) || cJSON_Compare(a, b, 1);
}


/* two function calls' arguments: equal as JSON, or as text if not JSON */
static int
ngx_http_moa_recipe_same_args(const cJSON *a, const cJSON *b)
{
    int     rc;
    cJSON  *x, *y;

    if (!cJSON_IsString(a) || !cJSON_IsString(b)) {
        return ngx_http_moa_recipe_same_item(a, b);
    }

    if (strcmp(a->valuestring, b->valuestring) == 0) {
        return 1;
    }

    x = cJSON_Parse(a->valuestring);
    y = cJSON_Parse(b->valuestring);

    if (x && y) {
        rc = cJSON_Compare(x, y, 1);

    } else {
        rc = (x == NULL && y == NULL
              && strcmp(a->valuestring, b->valuestring) == 0);
    }

    cJSON_Delete(x);
    cJSON_Delete(y);

    return rc;
}


/* the same tool calls: names and arguments in order (ids may differ) */
static int
ngx_http_moa_recipe_same_calls(const ngx_http_moa_span_t *a,
    const ngx_http_moa_span_t *b)
{
    int           rc, na, nb, i;
    cJSON        *x, *y;
    const cJSON  *fa, *fb;

    na = ngx_http_moa_json_text_array_nonempty(a);
    nb = ngx_http_moa_json_text_array_nonempty(b);

    if (!na || !nb) {
        return na == nb;
    }

    /*
     * the same text is the same calls (cJSON_Compare is not reflexive on
     * objects with duplicate names)
     */
    if (a->len == b->len && memcmp(a->p, b->p, a->len) == 0) {
        return 1;
    }

    x = cJSON_ParseWithLength(a->p, a->len);
    y = cJSON_ParseWithLength(b->p, b->len);

    if (x == NULL || y == NULL) {
        /* text cJSON does not take (or no memory): compared as text */
        rc = (a->len == b->len && memcmp(a->p, b->p, a->len) == 0);
        goto done;
    }

    rc = (cJSON_GetArraySize(x) == cJSON_GetArraySize(y));

    for (i = 0; rc && i < cJSON_GetArraySize(x); i++) {
        fa = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(x, i),
                                              "function");
        fb = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(y, i),
                                              "function");

        if (!cJSON_IsObject(fa) || !cJSON_IsObject(fb)) {
            /* not a function call: the same element, ids and all */
            rc = ngx_http_moa_recipe_same_item(cJSON_GetArrayItem(x, i),
                                               cJSON_GetArrayItem(y, i));
            continue;
        }

        rc = ngx_http_moa_recipe_same_item(
                    cJSON_GetObjectItemCaseSensitive(fa, "name"),
                    cJSON_GetObjectItemCaseSensitive(fb, "name"))
             && ngx_http_moa_recipe_same_args(
                    cJSON_GetObjectItemCaseSensitive(fa, "arguments"),
                    cJSON_GetObjectItemCaseSensitive(fb, "arguments"));
    }

done:

    cJSON_Delete(x);
    cJSON_Delete(y);

    return rc;
}


int
ngx_http_moa_recipe_agree(const ngx_http_moa_choice_t *const *c, int n)
{
    int  i, rc;

    if (n < 2) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        rc = ngx_http_moa_recipe_same_text(&c[0]->content, &c[i]->content);

        if (rc == 1) {
            rc = ngx_http_moa_recipe_same_text(&c[0]->refusal,
                                               &c[i]->refusal);
        }

        if (rc == 1) {
            rc = ngx_http_moa_recipe_same_calls(&c[0]->tool_calls,
                                                &c[i]->tool_calls);
        }

        if (rc != 1) {
            return rc;
        }
    }

    return 1;
}


/* a number in 1..ncands at p (digits only), or 0 */
static int
ngx_http_moa_recipe_number(const char *p, const char *end, int ncands)
{
    long  k;

    if (p >= end || !isdigit((unsigned char) *p)) {
        return 0;
    }

    k = 0;

    while (p < end && isdigit((unsigned char) *p) && k <= ncands) {
        k = k * 10 + (*p++ - '0');
    }

    if (p < end && isdigit((unsigned char) *p)) {
        return 0;
    }

    return (k >= 1 && k <= ncands) ? (int) k : 0;
}


/* the first number in 1..ncands within a few bytes after a word, or 0 */
static int
ngx_http_moa_recipe_after(const char *text, size_t len, const char *word,
    int ncands)
{
    int          k;
    size_t       wl, i, s;
    const char  *end;

    wl = strlen(word);
    end = text + len;

    for (i = 0; i + wl <= len; i++) {
        if (strncasecmp(text + i, word, wl) != 0) {
            continue;
        }

        /* "best": 2, best = "2", Candidate #2, candidate number 2 */

        for (s = i + wl; s < len && s < i + wl + 16; s++) {
            if (isdigit((unsigned char) text[s])) {
                k = ngx_http_moa_recipe_number(text + s, end, ncands);

                if (k) {
                    return k;
                }

                break;
            }
        }
    }

    return 0;
}


int
ngx_http_moa_recipe_best(const ngx_http_moa_choice_t *c, int ncands)
{
    int                  k;
    size_t               s;
    double               d;
    cJSON               *root;
    const cJSON         *best;
    ngx_http_moa_buf_t   text;

    if (c->content.len == 0 || c->content.p[0] != '"') {
        return -1;
    }

    memset(&text, 0, sizeof(ngx_http_moa_buf_t));

    if (ngx_http_moa_json_text_unescape(&text, c->content.p, c->content.len)
        != 0
        || text.len == 0)
    {
        ngx_http_moa_buf_free(&text);
        return -1;
    }

    k = 0;

    /* strict: {"best": k}, as response_format asked */

    root = cJSON_ParseWithLength(text.data, text.len);
    best = cJSON_GetObjectItemCaseSensitive(root, "best");

    if (cJSON_IsNumber(best)) {
        d = best->valuedouble;

        if (d >= 1 && d <= ncands && d == (double) (int) d) {
            k = (int) d;
        }

    } else if (cJSON_IsString(best)) {
        k = ngx_http_moa_recipe_number(best->valuestring,
                                       best->valuestring
                                       + strlen(best->valuestring), ncands);
    }

    cJSON_Delete(root);

    /* tolerant: a fenced or chatty answer that still names its pick */

    if (k == 0) {
        k = ngx_http_moa_recipe_after(text.data, text.len, "best", ncands);
    }

    if (k == 0) {
        k = ngx_http_moa_recipe_after(text.data, text.len, "candidate",
                                      ncands);
    }

    for (s = 0; k == 0 && s < text.len; s++) {
        if (!isspace((unsigned char) text.data[s])) {
            k = ngx_http_moa_recipe_number(text.data + s,
                                           text.data + text.len, ncands);
            break;
        }
    }

    ngx_http_moa_buf_free(&text);

    return k - 1;
}


static long long
ngx_http_moa_recipe_tokens(size_t bytes)
{
    return (long long) ((bytes + NGX_HTTP_MOA_RECIPE_TOKEN_BYTES - 1)
                        / NGX_HTTP_MOA_RECIPE_TOKEN_BYTES);
}


/*
 * Every call's prompt and completion as a + b * m, m the completion limit
 * of each call (a candidate rendered into a later prompt is at most m
 * tokens and its delimiters), solved for the largest m within the cap:
 *
 *   layer 1        N x (P, m)
 *   layer k > 1    N x (P + layer prompt + N (m + d), m)
 *   select         P + select prompt + N (m + d), m
 *   critique       P + critique prompt + N (m + d), m
 *   synthesis      P + synthesis prompt + N (m + d) [+ m + d], n m
 */
long long
ngx_http_moa_recipe_budget(const ngx_http_moa_recipe_t *rc,
    const ngx_http_moa_recipe_cost_t *cost)
{
    long long  a, b, p, d, np, nl, m;

    p = ngx_http_moa_recipe_tokens(cost->body);
    d = NGX_HTTP_MOA_RECIPE_CAND_TOKENS;
    np = rc->proposers;
    nl = rc->layers;

    a = np * nl * p
        + (nl - 1) * np * (ngx_http_moa_recipe_tokens(cost->layer_tpl)
                           + np * d);
    b = np * nl + (nl - 1) * np * np;

    if (rc->aggregate == NGX_HTTP_MOA_AGGREGATE_SELECT) {
        a += p + ngx_http_moa_recipe_tokens(cost->select_tpl) + np * d;
        b += np + 1;

    } else {
        if (rc->critique) {
            a += p + ngx_http_moa_recipe_tokens(cost->critique_tpl) + np * d
                 + d;
            b += np + 1 + 1;
        }

        a += p + ngx_http_moa_recipe_tokens(cost->synthesis_tpl) + np * d;
        b += np + (cost->n > 1 ? cost->n : 1);
    }

    if (cost->total <= a) {
        return 0;
    }

    m = (cost->total - a) / b;

    return m >= NGX_HTTP_MOA_RECIPE_MIN_TOKENS ? m : 0;
}
