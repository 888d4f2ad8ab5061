
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Fuzz target: the recipes' pure code.  The input is split at NUL bytes:
 * a client's "moa" member (JSON text), then candidates (a JSON message,
 * or else plain text as its content).  An accepted "moa" stays within the
 * bounds, a refused one is a 400 naming a moa field; agreement is
 * reflexive and symmetric; the judge's pick is a candidate or none; the
 * budget is 0 or at least the minimum and fits the cap.
 */


#include "fuzz.h"
#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_buf_json.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_error.h"
#include "ngx_http_moa_reply.h"
#include "ngx_http_moa_recipe.h"


#define FUZZ_MAX_CANDS  6


typedef struct {
    ngx_http_moa_buf_t     text;
    ngx_http_moa_reply_t   rep;
    int                    ok;
} fuzz_cand_t;


static void
fuzz_override(const char *p, size_t len)
{
    int                    rc;
    ngx_http_moa_json_t    j;
    ngx_http_moa_error_t   err;
    ngx_http_moa_recipe_t  r;

    memset(&j, 0, sizeof(j));
    memset(&r, 0, sizeof(r));
    r.proposers = 3;
    r.layers = 1;

    if (ngx_http_moa_json_parse(&j, p, len) != 0) {
        ngx_http_moa_json_free(&j);
        return;
    }

    memset(&err, 0, sizeof(err));
    rc = ngx_http_moa_recipe_override(&r, &j, 0, 5, 2, &err);

    if (rc == 0) {
        fuzz_assert(r.proposers >= 1 && r.proposers <= 5, "proposers");
        fuzz_assert(r.layers >= 1 && r.layers <= 2, "layers");
        fuzz_assert(r.proposal_timeout_ms >= 0
                    && r.proposal_timeout_ms
                       <= NGX_HTTP_MOA_RECIPE_MAX_TIMEOUT_MS, "timeout");

    } else {
        fuzz_assert(err.status == 400 || err.status == 500, "a status");

        if (err.status == 400) {
            fuzz_assert(err.param && strncmp(err.param, "moa", 3) == 0,
                        "the error names a moa field");
        }
    }

    ngx_http_moa_json_free(&j);
}


/* a candidate: the part as a message, or else as its text */
static void
fuzz_candidate(fuzz_cand_t *c, const char *p, size_t len)
{
    ngx_http_moa_error_t  err;

    memset(c, 0, sizeof(fuzz_cand_t));

    ngx_http_moa_buf_lit(&c->text, "{\"choices\":[{\"message\":");

    if (ngx_http_moa_json_valid(p, len) == 0 && len && p[0] == '{') {
        ngx_http_moa_buf_add(&c->text, p, len);

    } else {
        ngx_http_moa_buf_lit(&c->text, "{\"content\":");
        ngx_http_moa_buf_json_str(&c->text, p, len);
        ngx_http_moa_buf_lit(&c->text, "}");
    }

    ngx_http_moa_buf_lit(&c->text, "}]}");

    c->ok = !c->text.nomem
            && ngx_http_moa_reply_parse(&c->rep, c->text.data, c->text.len,
                                        &err) == 0
            && c->rep.nchoices == 1;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                           i, n, a, b, k;
    size_t                        len;
    long long                     m;
    const char                   *p, *end, *z;
    fuzz_cand_t                   cand[FUZZ_MAX_CANDS];
    ngx_http_moa_recipe_t         r;
    ngx_http_moa_recipe_cost_t    cost;
    const ngx_http_moa_choice_t  *c[FUZZ_MAX_CANDS], *pair[2];

    p = (const char *) data;
    end = p + size;

    z = memchr(p, '\0', size);
    len = z ? (size_t) (z - p) : size;

    fuzz_override(p, len);

    p = z ? z + 1 : end;
    n = 0;

    while (p < end && n < FUZZ_MAX_CANDS) {
        z = memchr(p, '\0', end - p);
        len = z ? (size_t) (z - p) : (size_t) (end - p);

        fuzz_candidate(&cand[n], p, len);

        if (cand[n].ok) {
            c[n] = &cand[n].rep.choices[0];
            n++;

        } else {
            ngx_http_moa_reply_free(&cand[n].rep);
            ngx_http_moa_buf_free(&cand[n].text);
        }

        p = z ? z + 1 : end;
    }

    for (i = 0; i < n; i++) {
        pair[0] = c[i];
        pair[1] = c[i];
        fuzz_assert(ngx_http_moa_recipe_agree(pair, 2) == 1,
                    "a candidate agrees with itself");

        k = ngx_http_moa_recipe_best(c[i], n);
        fuzz_assert(k >= -1 && k < n, "the pick is a candidate or none");
    }

    if (n >= 2) {
        pair[0] = c[0];
        pair[1] = c[1];
        a = ngx_http_moa_recipe_agree(pair, 2);
        pair[0] = c[1];
        pair[1] = c[0];
        b = ngx_http_moa_recipe_agree(pair, 2);
        fuzz_assert(a == b, "agreement is symmetric");
        fuzz_assert(ngx_http_moa_recipe_agree(c, n) != 1 || a == 1,
                    "all agree: the first two agree");
    }

    /* the budget for sizes taken from the input */

    memset(&r, 0, sizeof(r));
    r.proposers = 1 + (int) (fuzz_hash(data, size) % 64);
    r.layers = 1 + (int) (size % NGX_HTTP_MOA_RECIPE_MAX_LAYERS);
    r.critique = (int) (size & 1);
    r.aggregate = (int) ((size >> 1) & 1);

    memset(&cost, 0, sizeof(cost));
    cost.total = (long long) (fuzz_hash(data, size) % 1000000000);
    cost.body = size * 97;
    cost.layer_tpl = size;
    cost.critique_tpl = size * 3;
    cost.synthesis_tpl = size * 5;
    cost.select_tpl = size * 7;
    cost.n = 1 + (int) (size % 4);

    m = ngx_http_moa_recipe_budget(&r, &cost);
    fuzz_assert(m == 0 || (m >= NGX_HTTP_MOA_RECIPE_MIN_TOKENS
                           && m <= cost.total), "the budget");

    for (i = 0; i < n; i++) {
        ngx_http_moa_reply_free(&cand[i].rep);
        ngx_http_moa_buf_free(&cand[i].text);
    }

    return 0;
}
