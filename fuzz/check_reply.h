
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Oracles shared by the unit tests and fuzz_reply: the usage of a reply
 * as a tree, and the two ways build_response answers: a reply already in
 * shape is answered with its own bytes (model and usage replaced), any
 * other normalised member by member.  For the same reply both must give the same
 * JSON once parsed: check_response_paths() builds the answer, then forces
 * the tree path on the same reply and compares them.
 */


#ifndef _CHECK_REPLY_H_INCLUDED_
#define _CHECK_REPLY_H_INCLUDED_


#include <math.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check_json.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_json_find.h"
#include "ngx_http_moa_json_text.h"
#include "ngx_http_moa_response.h"
#include "ngx_http_moa_usage.h"


/*
 * a and b are the same JSON, members in order (duplicates included); a
 * number that is not finite in a (the reply's own "1e999") equals null in
 * b, which is how cJSON prints it, or the same number kept as written
 */
static inline int
check_json_equal(const cJSON *a, const cJSON *b)
{
    const cJSON  *x, *y;

    if (a == NULL || b == NULL) {
        return a == b;
    }

    if (cJSON_IsNumber(a) && !isfinite(a->valuedouble)) {
        return cJSON_IsNull(b)
               || (cJSON_IsNumber(b) && !isfinite(b->valuedouble));
    }

    if ((a->type & 0xff) != (b->type & 0xff)) {
        return 0;
    }

    if (cJSON_IsNumber(a)) {
        return a->valuedouble == b->valuedouble;
    }

    if (cJSON_IsString(a)) {
        return strcmp(a->valuestring, b->valuestring) == 0;
    }

    if (!cJSON_IsArray(a) && !cJSON_IsObject(a)) {
        return 1;
    }

    for (x = a->child, y = b->child; x && y; x = x->next, y = y->next) {
        if (cJSON_IsObject(a) && strcmp(x->string, y->string) != 0) {
            return 0;
        }

        if (!check_json_equal(x, y)) {
            return 0;
        }
    }

    return x == NULL && y == NULL;
}


/* members named name in obj (cJSON keeps duplicates) */
static inline int
check_count_key(const cJSON *obj, const char *name)
{
    int           n;
    const cJSON  *c;

    n = 0;

    for (c = obj ? obj->child : NULL; c; c = c->next) {
        if (c->string && strcmp(c->string, name) == 0) {
            n++;
        }
    }

    return n;
}


/*
 * OpenAI's CompletionUsage: the three counts, integers from 0 to 2^53 - 1,
 * first and in order; other members numbers or objects of numbers
 */
static inline int
check_completion_usage(const cJSON *u)
{
    int                 i;
    const cJSON        *c;
    static const char  *required[] = {
        "prompt_tokens", "completion_tokens", "total_tokens"
    };

    if (!cJSON_IsObject(u)) {
        return 0;
    }

    for (i = 0, c = u->child; i < 3; i++, c = c->next) {
        if (c == NULL || strcmp(c->string, required[i]) != 0
            || !cJSON_IsNumber(c) || c->valuedouble < 0
            || c->valuedouble > NGX_HTTP_MOA_USAGE_MAX
            || c->valuedouble != (double) (long long) c->valuedouble
            || check_count_key(u, required[i]) != 1)
        {
            return 0;
        }
    }

    return 1;
}


/*
 * The reply's usage as a cJSON tree (NULL when none; the caller deletes
 * it): the oracle that the sums made from the reply's tokens are checked
 * against.
 */
static inline cJSON *
check_reply_usage(const ngx_http_moa_reply_t *rep)
{
    const ngx_http_moa_json_tok_t  *t;

    if (rep->usage_at <= 0) {
        return NULL;
    }

    t = &rep->json.tok[rep->usage_at];

    return cJSON_ParseWithLength(t->p, t->len);
}


/* the reply's first created is a finite number */
static inline int
check_reply_created(const ngx_http_moa_reply_t *rep)
{
    int                   i;
    char                  num[512];
    ngx_http_moa_span_t   v;

    i = ngx_http_moa_json_find(&rep->json, 0, "created");

    if (i < 0 || rep->json.tok[i].type != '0'
        || rep->json.tok[i].len >= sizeof(num))
    {
        return 0;
    }

    ngx_http_moa_json_span(&rep->json, i, &v);
    memcpy(num, v.p, v.len);
    num[v.len] = '\0';

    return isfinite(strtod(num, NULL));
}


/*
 * build_response(rep, -1) into out, then the tree path on the same reply
 * (a choice marked not plain forces it) into tree: both valid JSON (the
 * tokenizer and cJSON), equal once parsed.  *fast tells whether the first
 * answer kept the reply's own bytes (its choices verbatim).  The reply's
 * tree is dropped before and after: the tree path edits it.
 */
static inline const char *
check_response_paths(ngx_http_moa_reply_t *rep, const char *model,
    const cJSON *usage, ngx_http_moa_buf_t *out, ngx_http_moa_buf_t *tree,
    int *fast)
{
    int                   rc, plain;
    cJSON                *a, *b;
    const char           *err;

    *fast = 0;
    out->len = 0;
    tree->len = 0;

    cJSON_Delete(rep->root);
    rep->root = NULL;

    if (ngx_http_moa_response_build(out, rep, -1, model, usage) != 0) {
        return "the answer is built";
    }

    plain = rep->choices[0].plain;
    rep->choices[0].plain = 0;

    rc = ngx_http_moa_response_build(tree, rep, -1, model, usage);

    rep->choices[0].plain = plain;
    cJSON_Delete(rep->root);
    rep->root = NULL;

    if (rc != 0) {
        return "the tree path's answer is built";
    }

    if (ngx_http_moa_json_valid(out->data, out->len) != 0
        || ngx_http_moa_json_valid(tree->data, tree->len) != 0)
    {
        return "both answers are valid JSON";
    }

    /*
     * the tree path splices the provider's bytes too: which path was
     * taken is the module's own decision
     */
    *fast = ngx_http_moa_response_plain(rep);

    a = check_json_cjson(out->data, out->len);
    b = check_json_cjson(tree->data, tree->len);

    /* created is a finite number, whatever the reply had */
    if (a && b
        && (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(a, "created"))
            || !isfinite(cJSON_GetObjectItemCaseSensitive(a, "created")
                         ->valuedouble)))
    {
        cJSON_Delete(a);
        cJSON_Delete(b);
        return "the answer's created is a finite number";
    }

    /* a reply without a usable created gets "now" in each answer */
    if (a && b && !check_reply_created(rep)) {
        cJSON_DeleteItemFromObjectCaseSensitive(a, "created");
        cJSON_DeleteItemFromObjectCaseSensitive(b, "created");
    }

    err = (a == NULL || b == NULL) ? "cJSON parses both answers"
          : !check_json_equal(a, b) ? "the fast path's answer is the tree's"
          : NULL;

    cJSON_Delete(a);
    cJSON_Delete(b);

    return err;
}


#endif /* _CHECK_REPLY_H_INCLUDED_ */
