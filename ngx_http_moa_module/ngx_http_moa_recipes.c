
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The recipes beyond the three-prompt chain, in the glue: a request's
 * recipe (the location's, the client's "moa" within bounds, select for a
 * json_schema answer, the token budget of moa_max_total_tokens), what
 * each stage call asks for (target, temperature, reasoning model, token
 * limit), the candidates' block of the prompts, early agreement, and the
 * select judge that picks the answer among the candidates.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_moa_common.h"
#include "ngx_http_moa_recipes.h"
#include "ngx_http_moa_answer.h"
#include "ngx_http_moa_call.h"
#include "ngx_http_moa_output.h"

#include "ngx_http_moa_error.h"
#include "ngx_http_moa_reply.h"
#include "ngx_http_moa_prompt.h"
#include "ngx_http_moa_recipe.h"
#include "ngx_http_moa_stage_body.h"


static ngx_str_t  ngx_http_moa_recipes_zero = ngx_string("0");


/*
 * The request's recipe: the location's, then select for a json_schema
 * answer (moa_select_json_schema), then the client's "moa" member within
 * moa_max_proposers and moa_max_layers (moa_request_overrides on), then
 * the token budget.  NGX_DECLINED with err set: a 400 for the client.
 */
ngx_int_t
ngx_http_moa_recipes_init(ngx_http_moa_ctx_t *ctx, ngx_http_moa_error_t *err)
{
    ngx_uint_t                   max_p, max_l;
    ngx_http_moa_recipe_t       *rc;
    ngx_http_moa_loc_conf_t     *mlcf;
    ngx_http_moa_recipe_cost_t   cost;

    mlcf = ctx->conf;
    rc = &ctx->recipe;

    rc->proposers = (int) (mlcf->proposer_list ? mlcf->proposer_list->nelts
                                               : mlcf->proposers);
    rc->layers = (int) mlcf->layers;
    rc->critique = (int) mlcf->critique;
    rc->aggregate = (int) mlcf->aggregate;
    rc->agreement = (int) mlcf->agreement;
    rc->proposal_timeout_ms = (long long) mlcf->proposal_timeout;

    /* a candidate verbatim keeps a json_schema answer valid */
    if (ctx->req.json_schema && mlcf->select_json_schema) {
        rc->aggregate = NGX_HTTP_MOA_AGGREGATE_SELECT;
    }

    if (ctx->req.moa >= 0) {
        if (!mlcf->request_overrides) {
            ngx_http_moa_error_set(err, 400, "invalid_request_error",
                                   "unsupported_parameter", "moa",
                                   "Per-request Mixture-of-Agents settings "
                                   "('moa') are not enabled for the model "
                                   "'%.64s'.", ctx->req.model);
            return NGX_DECLINED;
        }

        /* by default, the location's own; of moa_proposer targets, k */
        max_p = mlcf->max_proposers ? mlcf->max_proposers
                                    : (ngx_uint_t) rc->proposers;
        max_l = mlcf->max_layers ? mlcf->max_layers : mlcf->layers;

        if (mlcf->proposer_list && max_p > mlcf->proposer_list->nelts) {
            max_p = mlcf->proposer_list->nelts;
        }

        if (ngx_http_moa_recipe_override(rc, &ctx->req.json, ctx->req.moa,
                                         (int) max_p, (int) max_l, err)
            != 0)
        {
            return err->status == 500 ? NGX_ERROR : NGX_DECLINED;
        }
    }

    /* n answers are made by a synthesis: a candidate is one answer */
    if (ctx->req.n > 1) {
        rc->aggregate = NGX_HTTP_MOA_AGGREGATE_SYNTHESIZE;
        rc->agreement = 0;
    }

    if (mlcf->max_total_tokens <= 0) {
        return NGX_OK;
    }

    cost.total = mlcf->max_total_tokens;
    cost.body = ctx->body.len;
    cost.layer_tpl = mlcf->layer_prompt.len;
    cost.critique_tpl = mlcf->critique_prompt.len;
    cost.synthesis_tpl = mlcf->synthesis_prompt.len;
    cost.select_tpl = mlcf->select_prompt.len;
    cost.n = ctx->req.n;

    ctx->budget = ngx_http_moa_recipe_budget(rc, &cost);

    if (ctx->budget == 0) {
        ngx_http_moa_error_set(err, 400, "invalid_request_error",
                               "token_budget_exceeded", NULL,
                               "The request cannot be answered within "
                               "moa_max_total_tokens (%lld tokens for "
                               "every call of the model '%.64s', the "
                               "prompts estimated at one token per %d "
                               "bytes): send a shorter conversation or "
                               "fewer proposers or layers.",
                               (long long) mlcf->max_total_tokens,
                               ctx->req.model,
                               NGX_HTTP_MOA_RECIPE_TOKEN_BYTES);
        return NGX_DECLINED;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                   "moa budget: %L tokens per call", ctx->budget);

    return NGX_OK;
}


/*
 * Where a call goes and what it asks for: the target's own location, model
 * and temperature where given, else the moa_pass location, the base model
 * and the stage's default temperature (none: the client's); a reasoning
 * model gets none at all.  limit is the stage's own token limit (0: the
 * client's, if the call writes an answer), cut to the budget of
 * moa_max_total_tokens.
 */
void
ngx_http_moa_recipes_params(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_call_t *call, ngx_http_moa_target_t *t,
    ngx_str_t *temperature, long long limit, ngx_uint_t answer,
    ngx_http_moa_stage_body_params_t *cp)
{
    ngx_memzero(cp, sizeof(ngx_http_moa_stage_body_params_t));

    call->uri = t ? t->uri : ctx->conf->pass;

    if (t && t->model.len) {
        cp->model = (char *) t->model.data;
        cp->model_len = t->model.len;

    } else {
        cp->model = (char *) ctx->model->base.data;
        cp->model_len = ctx->model->base.len;
    }

    if (t && t->temperature.len) {
        temperature = &t->temperature;
    }

    if (temperature) {
        cp->temperature = (char *) temperature->data;
        cp->temperature_len = temperature->len;
    }

    cp->reasoning = (int) ctx->model->reasoning;

    if (ctx->budget) {
        if (limit <= 0 && answer) {
            limit = ctx->req.max_tokens;
        }

        if (limit <= 0 || limit > ctx->budget) {
            limit = ctx->budget;
        }
    }

    cp->max_tokens = limit;
}


/* the candidates' block of the prompts, rendered once a layer */
ngx_int_t
ngx_http_moa_recipes_candidates_text(ngx_http_moa_ctx_t *ctx)
{
    if (ctx->cands_text.len == 0
        && ngx_http_moa_prompt_candidates(&ctx->cands_text, ctx->cands,
                                          (int) ctx->ncands)
           != 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the answer is candidate k itself (0-based): a shortcut or the pick */
static void
ngx_http_moa_recipes_answer(ngx_http_moa_ctx_t *ctx, ngx_uint_t k,
    char *header, char *value)
{
    ngx_http_moa_cand_src_t  *src;

    src = &ctx->cand_src[k];

    if (!ctx->header_sent
        && ngx_http_moa_output_add_header(ctx->request, header, value)
           != NGX_OK)
    {
        ngx_http_moa_answer_finalize(ctx, NGX_ERROR);
        return;
    }

    ngx_http_moa_answer(ctx, &src->call->parsed, src->choice);
}


/*
 * Early agreement: every candidate of the layer is one answer, which is
 * the answer; the critique, the synthesis and the layers left are
 * skipped.  NGX_OK when answered, NGX_DECLINED when they differ.
 */
ngx_int_t
ngx_http_moa_recipes_agreement(ngx_http_moa_ctx_t *ctx)
{
    int                            rc;
    ngx_uint_t                     i;
    const ngx_http_moa_choice_t  **c;

    if (!ctx->recipe.agreement || ctx->ncands < 2) {
        return NGX_DECLINED;
    }

    c = ngx_palloc(ctx->request->pool,
                   ctx->ncands * sizeof(ngx_http_moa_choice_t *));
    if (c == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < ctx->ncands; i++) {
        c[i] = ctx->cands[i].choice;
    }

    rc = ngx_http_moa_recipe_agree(c, (int) ctx->ncands);

    if (rc < 0) {
        return NGX_ERROR;
    }

    if (rc == 0) {
        return NGX_DECLINED;
    }

    ngx_log_error(NGX_LOG_INFO, ctx->request->connection->log, 0,
                  "moa: the %ui candidates of layer %ui agree: answering "
                  "without critique and synthesis", ctx->ncands, ctx->layer);

    ctx->shortcut = NGX_HTTP_MOA_SHORTCUT_AGREEMENT;
    ctx->phase = NGX_HTTP_MOA_PHASE_SYNTHESIS;

    ngx_http_moa_recipes_answer(ctx, 0, "X-MoA-Shortcut", "agreement");

    return NGX_OK;
}


/*
 * moa_aggregate select: the critique call is the judge, at temperature 0,
 * asked for {"best": k} (in the reply format the provider supports).
 */
ngx_int_t
ngx_http_moa_recipes_start_select(ngx_http_moa_ctx_t *ctx)
{
    ngx_http_moa_call_t              *call;
    ngx_http_moa_loc_conf_t          *mlcf;
    ngx_http_moa_stage_body_params_t  cp;

    mlcf = ctx->conf;
    call = ctx->critique;
    call->stage = NGX_HTTP_MOA_CRITIQUE;

    ngx_http_moa_recipes_params(ctx, call, mlcf->critic,
                                &ngx_http_moa_recipes_zero,
                                mlcf->critic_max_tokens, 0, &cp);

    if (ngx_http_moa_recipes_candidates_text(ctx) != NGX_OK
        || ngx_http_moa_stage_body_select(&call->body, &ctx->req, &cp,
                                   (char *) mlcf->select_prompt_json.data,
                                   mlcf->select_prompt_json.len,
                                   &ctx->cands_text, (int) ctx->ncands,
                                   (int) mlcf->select_format)
           != 0
        || ngx_http_moa_call_start(ctx, call, 1) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the candidates' replies stay: the pick is answered from its own */

    ctx->phase = NGX_HTTP_MOA_PHASE_CRITIQUE;
    ctx->stage_start = ngx_current_msec;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                   "moa select among %ui candidates", ctx->ncands);

    return ngx_http_moa_answer_progress(ctx, 0);
}


/*
 * The judge's pick is the answer; a judge that failed or named no
 * candidate leaves the first one (the answer is a valid candidate all the
 * same), which the log says.
 */
void
ngx_http_moa_recipes_select_done(ngx_http_moa_ctx_t *ctx)
{
    u_char               *p;
    ngx_int_t             k;
    ngx_http_moa_call_t  *call;

    call = ctx->critique;

    ctx->critique_time = ngx_current_msec - ctx->stage_start;
    ctx->critique_timed = 1;

    k = -1;

    if (call->ok && call->parsed.nchoices > 0) {
        k = ngx_http_moa_recipe_best(&call->parsed.choices[0],
                                     (int) ctx->ncands);
    }

    if (k < 0) {
        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "moa select: the judge %s, answering with "
                      "candidate 1", call->ok ? "named no candidate"
                                              : "failed");
        k = 0;
    }

    ctx->selected = k + 1;
    ctx->phase = NGX_HTTP_MOA_PHASE_SYNTHESIS;

    p = ngx_pnalloc(ctx->request->pool, NGX_INT_T_LEN + 1);
    if (p == NULL) {
        ngx_http_moa_answer_finalize(ctx, NGX_ERROR);
        return;
    }

    *ngx_sprintf(p, "%ui", ctx->selected) = '\0';

    ngx_http_moa_recipes_answer(ctx, k, "X-MoA-Selected", (char *) p);
}
