
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the recipes beyond the three-prompt chain.  A request's recipe
 * (proposers, layers, critique, aggregation, early agreement, proposal
 * timeout), the client's "moa" member checked against the operator's
 * bounds, whether the candidates agree, the judge's {"best": k} read, and
 * the token budget of moa_max_total_tokens.
 */


#ifndef _NGX_HTTP_MOA_RECIPE_H_INCLUDED_
#define _NGX_HTTP_MOA_RECIPE_H_INCLUDED_


#include <stddef.h>

#include "ngx_http_moa_json.h"
#include "ngx_http_moa_error.h"
#include "ngx_http_moa_reply.h"


#define NGX_HTTP_MOA_RECIPE_MAX_LAYERS      8
#define NGX_HTTP_MOA_RECIPE_MAX_PROPOSERS   64
#define NGX_HTTP_MOA_RECIPE_MAX_TIMEOUT_MS  600000

#define NGX_HTTP_MOA_AGGREGATE_SYNTHESIZE   0
#define NGX_HTTP_MOA_AGGREGATE_SELECT       1

/* a stage's completion limit below this is no answer: refused up front */
#define NGX_HTTP_MOA_RECIPE_MIN_TOKENS      16
/* estimated tokens of a body's bytes: one token per this many bytes */
#define NGX_HTTP_MOA_RECIPE_TOKEN_BYTES     3
/* estimated tokens of a candidate's delimiters in a prompt */
#define NGX_HTTP_MOA_RECIPE_CAND_TOKENS     16


typedef struct {
    int                          proposers;  /* 1..64 */
    int                          layers;     /* 1..MAX_LAYERS */
    int                          critique;   /* 0, 1 */
    int                          aggregate;  /* NGX_HTTP_MOA_AGGREGATE_* */
    int                          agreement;  /* 0, 1 */
    long long                    proposal_timeout_ms;  /* 0: none */
} ngx_http_moa_recipe_t;


/* what moa_max_total_tokens weighs: the prompts' sizes, in bytes */
typedef struct {
    long long                    total;      /* the cap */
    size_t                       body;       /* the client's body */
    size_t                       layer_tpl;
    size_t                       critique_tpl;
    size_t                       synthesis_tpl;
    size_t                       select_tpl;
    int                          n;          /* choices of the answer */
} ngx_http_moa_recipe_cost_t;


/*
 * The client's "moa" object (token obj of j) applied to rc: each member
 * within 1..max_proposers, 1..max_layers; an unknown member, a wrong type
 * or a value out of bounds is a 400 naming the field ("moa.layers").
 */
int ngx_http_moa_recipe_override(ngx_http_moa_recipe_t *rc,
    const ngx_http_moa_json_t *j, int obj, int max_proposers, int max_layers,
    ngx_http_moa_error_t *err);

/*
 * 1 when two or more candidates are one answer: the same text once white
 * space is normalised (and the same refusal), or the same tool calls (same
 * names, JSON-equal arguments); 0 otherwise, -1 without memory.
 */
int ngx_http_moa_recipe_agree(const ngx_http_moa_choice_t *const *c, int n);

/* the judge's pick, 0-based, from {"best": k} or a text naming k; or -1 */
int ngx_http_moa_recipe_best(const ngx_http_moa_choice_t *c, int ncands);

/*
 * The completion limit of every stage call so that the summed usage of the
 * whole recipe stays within cost->total (the prompts estimated from their
 * sizes), or 0 when even NGX_HTTP_MOA_RECIPE_MIN_TOKENS do not fit.
 */
long long ngx_http_moa_recipe_budget(const ngx_http_moa_recipe_t *rc,
    const ngx_http_moa_recipe_cost_t *cost);


#endif /* _NGX_HTTP_MOA_RECIPE_H_INCLUDED_ */
