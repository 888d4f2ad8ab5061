
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel --batch: the MoA recipe, built with the module's own pure
 * code (ngx_http_moa_module/openai/: request, stage bodies, prompts,
 * replies), so that a stage body in a batch file is byte for byte the body
 * the module sends its provider for the same request and settings.
 */


#ifndef _MOA_RELABEL_BATCH_RECIPE_H_INCLUDED_
#define _MOA_RELABEL_BATCH_RECIPE_H_INCLUDED_


#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_request.h"
#include "ngx_http_moa_reply.h"
#include "ngx_http_moa_recipe.h"

#include "relabel.h"
#include "relabel_batch.h"


/* a proposer of --proposer (moa_proposer): its model and temperature */
typedef struct {
    char                        *model;         /* NULL: the base model */
    char                        *temperature;   /* NULL: the stage's */
} relabel_batch_target_t;


typedef struct {
    const relabel_batch_conf_t  *bc;
    const char                  *client_model;  /* the request's model */
    const char                  *model;         /* the stages' base model */
    const relabel_param_t       *params;
    size_t                       nparams;
    char                        *critique_tpl;  /* escaped for JSON */
    size_t                       critique_len;
    char                        *synthesis_tpl;
    size_t                       synthesis_len;
    char                        *layer_tpl;
    size_t                       layer_len;
    char                        *select_tpl;
    size_t                       select_len;
    ngx_http_moa_recipe_cost_t   cost;          /* the templates' sizes */
    ngx_http_moa_recipe_t        recipe;        /* layers, aggregate... */
    int                          select_format; /* SELECT_FORMAT_* */
    int                          unknown;       /* NGX_HTTP_MOA_PARAMS_* */
    int                          fallback;      /* answer with a candidate */
    int                          ncalls;        /* proposal calls a row */
    int                          expected;      /* candidates asked for */
    int                          need;          /* the quorum */
    relabel_batch_target_t      *targets;       /* --proposer, or NULL */
} relabel_batch_recipe_t;


/* a row's request, parsed and checked as the module does it */
typedef struct {
    relabel_record_t             rec;
    ngx_http_moa_buf_t           body;          /* the online request */
    ngx_http_moa_request_t       req;
    int                          select;        /* its aggregation */
    int                          agreement;     /* early agreement on */
    long long                    budget;        /* moa_max_total_tokens */
} relabel_batch_request_t;


int relabel_batch_recipe_init(relabel_batch_recipe_t *rc,
    const relabel_batch_conf_t *bc, const char *model,
    const relabel_param_t *params, size_t nparams, char *err, size_t errlen);
void relabel_batch_recipe_free(relabel_batch_recipe_t *rc);
const char *relabel_batch_recipe_stage_model(const relabel_batch_recipe_t *rc,
    int stage);
const char *relabel_batch_recipe_call_model(const relabel_batch_recipe_t *rc,
    int stage, int call);
int relabel_batch_recipe_settings(const relabel_batch_recipe_t *rc,
    ngx_http_moa_buf_t *b);

int relabel_batch_recipe_request(const relabel_batch_recipe_t *rc,
    const char *text, size_t len, relabel_batch_request_t *r, char *err,
    size_t errlen);
void relabel_batch_recipe_request_free(relabel_batch_request_t *r);

int relabel_batch_recipe_proposal(const relabel_batch_recipe_t *rc,
    relabel_batch_request_t *r, int call, ngx_http_moa_buf_t *out);
/* relabel_batch_cands.c: nreplies are a layer's */
int relabel_batch_cands_text(const relabel_batch_recipe_t *rc,
    ngx_http_moa_reply_t *replies, int nreplies, ngx_http_moa_buf_t *text,
    int *ncands, int *first_call, int *first_choice);
int relabel_batch_cands_agree(const relabel_batch_recipe_t *rc,
    ngx_http_moa_reply_t *replies, int nreplies);
int relabel_batch_cands_pick(const relabel_batch_recipe_t *rc,
    ngx_http_moa_reply_t *replies, int nreplies, int k, int *call,
    int *choice);
int relabel_batch_recipe_layer(const relabel_batch_recipe_t *rc,
    relabel_batch_request_t *r, int call, const ngx_http_moa_buf_t *cands,
    int ncands, ngx_http_moa_buf_t *out);
int relabel_batch_recipe_select(const relabel_batch_recipe_t *rc,
    relabel_batch_request_t *r, const ngx_http_moa_buf_t *cands, int ncands,
    ngx_http_moa_buf_t *out);
int relabel_batch_recipe_critique(const relabel_batch_recipe_t *rc,
    relabel_batch_request_t *r, const ngx_http_moa_buf_t *cands, int ncands,
    ngx_http_moa_buf_t *out);
int relabel_batch_recipe_synthesis(const relabel_batch_recipe_t *rc,
    relabel_batch_request_t *r, const ngx_http_moa_buf_t *cands, int ncands,
    const ngx_http_moa_choice_t *critique, ngx_http_moa_buf_t *out);


#endif /* _MOA_RELABEL_BATCH_RECIPE_H_INCLUDED_ */
