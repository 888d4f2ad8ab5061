
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The stage machine of a request: the proposals (in parallel, in one or
 * more layers), the candidates gathered from their replies, the critique
 * and the synthesis (or a select judge, ngx_http_moa_recipes.c), or one
 * passthrough call; each stage starts its calls and, when they are
 * done, starts the next stage or ends the request (ngx_http_moa_answer.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_moa_common.h"
#include "ngx_http_moa_stages.h"
#include "ngx_http_moa_answer.h"
#include "ngx_http_moa_call.h"
#include "ngx_http_moa_call_pool.h"
#include "ngx_http_moa_output.h"
#include "ngx_http_moa_recipes.h"
#include "ngx_http_moa_responses.h"

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_error.h"
#include "ngx_http_moa_reply.h"
#include "ngx_http_moa_usage.h"
#include "ngx_http_moa_prompt.h"
#include "ngx_http_moa_stage_body.h"


static ngx_int_t ngx_http_moa_stages_start_layer(ngx_http_moa_ctx_t *ctx);
static ngx_int_t ngx_http_moa_stages_start_critique(ngx_http_moa_ctx_t *ctx);
static ngx_int_t ngx_http_moa_stages_start_synthesis(ngx_http_moa_ctx_t *ctx);
static void ngx_http_moa_stages_proposals_done(ngx_http_moa_ctx_t *ctx);
static void ngx_http_moa_stages_critique_done(ngx_http_moa_ctx_t *ctx);
static void ngx_http_moa_stages_synthesis_done(ngx_http_moa_ctx_t *ctx);
static void ngx_http_moa_stages_passthrough_done(ngx_http_moa_ctx_t *ctx);
static void ngx_http_moa_stages_passthrough_answer(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_call_t *call);
static ngx_uint_t ngx_http_moa_candidates_gather(ngx_http_moa_ctx_t *ctx);
static ngx_int_t ngx_http_moa_stages_usage(ngx_http_moa_ctx_t *ctx,
    const cJSON *usage, const char *what);


ngx_int_t
ngx_http_moa_stages_start_proposals(ngx_http_moa_ctx_t *ctx)
{
    ngx_uint_t                n;
    ngx_http_moa_loc_conf_t  *mlcf;

    mlcf = ctx->conf;

    /* moa_proposer targets: the first k of them (k: the request's) */
    ctx->expected = (ngx_uint_t) ctx->recipe.proposers;
    n = (mlcf->proposer_list == NULL && mlcf->proposer_n) ? 1
                                                          : ctx->expected;

    /* every layer's proposals, then the critique and the synthesis */

    ctx->per_layer = n;
    ctx->nproposals = n * ctx->recipe.layers;

    ctx->calls = ngx_pcalloc(ctx->request->pool,
                             (ctx->nproposals + 2)
                             * sizeof(ngx_http_moa_call_t));
    if (ctx->calls == NULL) {
        return NGX_ERROR;
    }

    ctx->critique = &ctx->calls[ctx->nproposals];
    ctx->synthesis = &ctx->calls[ctx->nproposals + 1];
    ctx->layer = 1;
    ctx->layer_calls = ctx->calls;

    return ngx_http_moa_stages_start_layer(ctx);
}


/*
 * The proposals of a layer: the first sees the conversation, the others
 * also the previous layer's candidates (ctx->cands_text), as references
 */
static ngx_int_t
ngx_http_moa_stages_start_layer(ngx_http_moa_ctx_t *ctx)
{
    int                               rc;
    ngx_uint_t                        i;
    ngx_http_moa_call_t              *call;
    ngx_http_moa_target_t            *t;
    ngx_http_moa_loc_conf_t          *mlcf;
    ngx_http_moa_stage_body_params_t  cp;

    mlcf = ctx->conf;
    t = mlcf->proposer_list ? mlcf->proposer_list->elts : NULL;

    ctx->stage_start = ngx_current_msec;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                   "moa layer %ui proposals: %ui calls for %ui candidates",
                   ctx->layer, ctx->per_layer, ctx->expected);

    for (i = 0; i < ctx->per_layer; i++) {
        call = &ctx->layer_calls[i];
        call->stage = NGX_HTTP_MOA_PROPOSAL;
        call->index = i;

        ngx_http_moa_recipes_params(ctx, call, t ? &t[i] : NULL,
                                    &mlcf->proposer_temperature,
                                    mlcf->proposer_max_tokens, 1, &cp);

        cp.n = (t == NULL && mlcf->proposer_n) ? (int) ctx->expected : 0;
        cp.index = (int) i;

        if (ctx->layer == 1) {
            rc = ngx_http_moa_stage_body_proposal(&call->body, &ctx->req,
                                                  &cp);

        } else {
            rc = ngx_http_moa_stage_body_layer(&call->body, &ctx->req, &cp,
                                      (char *) mlcf->layer_prompt_json.data,
                                      mlcf->layer_prompt_json.len,
                                      &ctx->cands_text, (int) ctx->ncands);
        }

        if (rc != 0 || ngx_http_moa_call_start(ctx, call, 1) != NGX_OK) {
            return NGX_ERROR;
        }

        ctx->pending++;
    }

    /* quorum and moa_proposal_timeout apply to each layer */

    if (ctx->recipe.proposal_timeout_ms) {
        ngx_add_timer(&ctx->deadline,
                      (ngx_msec_t) ctx->recipe.proposal_timeout_ms);
    }

    return NGX_OK;
}


/*
 * Once the candidates are rendered, the proposals' replies are needed only
 * for a fallback answer: the others are given back.
 */
static void
ngx_http_moa_release_candidates(ngx_http_moa_ctx_t *ctx)
{
    ngx_uint_t  i;

    for (i = 0; i < ctx->nproposals; i++) {
        if (&ctx->calls[i] == ctx->fallback
            && ctx->conf->fallback == NGX_HTTP_MOA_FALLBACK_CANDIDATE)
        {
            continue;
        }

        ngx_http_moa_reply_free(&ctx->calls[i].parsed);
        ngx_http_moa_buf_free(&ctx->calls[i].reply);
    }

    ctx->cands = NULL;
}


static ngx_int_t
ngx_http_moa_stages_start_critique(ngx_http_moa_ctx_t *ctx)
{
    ngx_int_t                         rc;
    ngx_http_moa_call_t              *call;
    ngx_http_moa_loc_conf_t          *mlcf;
    ngx_http_moa_stage_body_params_t  cp;

    mlcf = ctx->conf;
    call = ctx->critique;
    call->stage = NGX_HTTP_MOA_CRITIQUE;

    ngx_http_moa_recipes_params(ctx, call, mlcf->critic,
                                &mlcf->critique_temperature,
                                mlcf->critic_max_tokens, 0, &cp);

    rc = NGX_ERROR;

    if (ngx_http_moa_recipes_candidates_text(ctx) == NGX_OK
        && ngx_http_moa_stage_body_critique(&call->body, &ctx->req, &cp,
                              (char *) mlcf->critique_prompt_json.data,
                              mlcf->critique_prompt_json.len,
                              &ctx->cands_text, (int) ctx->ncands)
           == 0)
    {
        rc = ngx_http_moa_call_start(ctx, call, 1);
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_moa_release_candidates(ctx);

    ctx->phase = NGX_HTTP_MOA_PHASE_CRITIQUE;
    ctx->stage_start = ngx_current_msec;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                   "moa critique of %ui candidates", ctx->ncands);

    return ngx_http_moa_answer_progress(ctx, 0);
}


static ngx_int_t
ngx_http_moa_stages_start_synthesis(ngx_http_moa_ctx_t *ctx)
{
    ngx_int_t                         rc;
    const ngx_http_moa_choice_t      *critique;
    ngx_http_moa_call_t              *call;
    ngx_http_moa_loc_conf_t          *mlcf;
    ngx_http_moa_stage_body_params_t  cp;

    mlcf = ctx->conf;
    call = ctx->synthesis;
    call->stage = NGX_HTTP_MOA_SYNTHESIS;
    call->stream = ctx->req.stream;

    ngx_http_moa_recipes_params(ctx, call, mlcf->aggregator, NULL, 0, 1,
                                &cp);

    critique = ctx->critique->ok ? &ctx->critique->parsed.choices[0] : NULL;

    rc = NGX_ERROR;

    if (ngx_http_moa_recipes_candidates_text(ctx) == NGX_OK
        && ngx_http_moa_stage_body_synthesis(&call->body, &ctx->req, &cp,
                              (char *) mlcf->synthesis_prompt_json.data,
                              mlcf->synthesis_prompt_json.len,
                              &ctx->cands_text, (int) ctx->ncands, critique)
           == 0)
    {
        /* streamed: a normal subrequest, its output flows in order */
        rc = ngx_http_moa_call_start(ctx, call, !call->stream);
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    /* the critique and the candidates are in the synthesis body now */

    ngx_http_moa_release_candidates(ctx);
    ngx_http_moa_reply_free(&ctx->critique->parsed);
    ngx_http_moa_buf_free(&ctx->critique->reply);

    ctx->phase = NGX_HTTP_MOA_PHASE_SYNTHESIS;
    ctx->stage_start = ngx_current_msec;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                   "moa synthesis of %ui candidates, critiques: %d",
                   ctx->ncands, critique != NULL);

    return ngx_http_moa_answer_progress(ctx, 0);
}


ngx_int_t
ngx_http_moa_stages_start_passthrough(ngx_http_moa_ctx_t *ctx)
{
    ngx_http_moa_call_t  *call;

    call = ngx_pcalloc(ctx->request->pool, sizeof(ngx_http_moa_call_t));
    if (call == NULL) {
        return NGX_ERROR;
    }

    ctx->calls = call;
    ctx->passthrough = call;

    call->stage = NGX_HTTP_MOA_PASSTHROUGH;
    call->uri = ctx->conf->pass;
    call->stream = ctx->req.stream;
    call->forward = 1;

    if (ctx->responses) {
        ngx_http_moa_responses_passthrough(ctx, call);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                   "moa passthrough of model \"%s\"", ctx->req.model);

    return ngx_http_moa_call_start(ctx, call, 0);
}


/* the stage machine, run when a call is done or the deadline passed */
void
ngx_http_moa_stages_advance(ngx_http_moa_ctx_t *ctx)
{
    ngx_http_moa_call_t  *call;

    switch (ctx->phase) {

    case NGX_HTTP_MOA_PHASE_PROPOSALS:
        if (ctx->pending == 0) {
            ngx_http_moa_stages_proposals_done(ctx);
        }

        return;

    case NGX_HTTP_MOA_PHASE_CRITIQUE:
        if (!ctx->critique->done) {
            return;
        }

        ngx_http_moa_call_pool_stage_over(ctx, ctx->critique, 1);

        if (ctx->recipe.aggregate == NGX_HTTP_MOA_AGGREGATE_SELECT) {
            ngx_http_moa_recipes_select_done(ctx);

        } else {
            ngx_http_moa_stages_critique_done(ctx);
        }

        return;

    case NGX_HTTP_MOA_PHASE_SYNTHESIS:
        call = ctx->synthesis;

        /* a normal subrequest is over once nginx marks it done */
        if (call->done && (call->sr->background || call->sr->done)) {
            ngx_http_moa_stages_synthesis_done(ctx);
        }

        return;

    case NGX_HTTP_MOA_PHASE_PASSTHROUGH:
        call = ctx->passthrough;

        if (call->done && call->sr->done) {
            ngx_http_moa_stages_passthrough_done(ctx);
        }

        return;

    default:
        return;
    }
}


/* usable candidates of the layer's proposals that are in, in order */
static ngx_uint_t
ngx_http_moa_candidates_gather(ngx_http_moa_ctx_t *ctx)
{
    int                           j, asked;
    ngx_uint_t                    i, n;
    ngx_http_moa_call_t          *call;
    const ngx_http_moa_choice_t  *choice;

    n = 0;

    /*
     * the choices each proposal asked for (n = 1 each, or one call with
     * n = all of them): a provider's extra choices are no candidates
     */
    asked = (int) (ctx->expected / ctx->per_layer);

    for (i = 0; i < ctx->per_layer; i++) {
        call = &ctx->layer_calls[i];

        if (!call->ok) {
            continue;
        }

        for (j = 0; j < call->parsed.nchoices && j < asked; j++) {
            choice = &call->parsed.choices[j];

            if (!ngx_http_moa_reply_choice_usable(choice)) {
                continue;
            }

            if (ctx->cands) {
                ctx->cands[n].choice = choice;
                ctx->cand_src[n].call = call;
                ctx->cand_src[n].choice = j;

                if (ctx->fallback == NULL) {
                    ctx->fallback = call;
                    ctx->fallback_choice = j;
                }
            }

            n++;
        }
    }

    return n;
}


/*
 * Layers 2..n: the layer's candidates rendered for the next one's prompts,
 * their replies given back, the next layer's proposals started
 */
static ngx_int_t
ngx_http_moa_stages_next_layer(ngx_http_moa_ctx_t *ctx)
{
    ngx_uint_t  i;

    if (ngx_http_moa_recipes_candidates_text(ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    for (i = 0; i < ctx->per_layer; i++) {
        ngx_http_moa_reply_free(&ctx->layer_calls[i].parsed);
        ngx_http_moa_buf_free(&ctx->layer_calls[i].reply);
    }

    ctx->cands = NULL;
    ctx->fallback = NULL;
    ctx->layer++;
    ctx->layer_calls += ctx->per_layer;
    ctx->phase = NGX_HTTP_MOA_PHASE_PROPOSALS;

    if (ngx_http_moa_stages_start_layer(ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_moa_answer_progress(ctx, 0);
}


/* a layer's proposals are in: the next layer, or the aggregation */
static void
ngx_http_moa_stages_proposals_done(ngx_http_moa_ctx_t *ctx)
{
    ngx_int_t             rc;
    ngx_uint_t            i, n, ok, need;
    ngx_msec_t            elapsed;
    ngx_http_request_t   *r;

    r = ctx->request;

    if (ctx->deadline.timer_set) {
        ngx_del_timer(&ctx->deadline);
    }

    elapsed = ngx_current_msec - ctx->stage_start;
    ctx->layer_time[ctx->layer - 1] = elapsed;
    ctx->proposal_time += elapsed;
    ctx->proposals_timed = 1;
    ctx->layers_done = ctx->layer;

    ctx->fallback = NULL;
    ctx->cands_text.len = 0;

    n = ngx_http_moa_candidates_gather(ctx);

    ctx->cands = ngx_palloc(r->pool,
                     (n ? n : 1) * sizeof(ngx_http_moa_prompt_candidate_t));
    ctx->cand_src = ngx_palloc(r->pool,
                     (n ? n : 1) * sizeof(ngx_http_moa_cand_src_t));

    if (ctx->cands == NULL || ctx->cand_src == NULL) {
        ngx_http_moa_answer_finalize(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->ncands = ngx_http_moa_candidates_gather(ctx);

    /* the candidates are spans of the replies, which are not in the pool */

    ngx_http_moa_call_pool_stage_over(ctx, ctx->layer_calls, ctx->per_layer);

    need = ngx_min(ctx->conf->min_proposals, ctx->expected);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "moa layer %ui proposals done: %ui of %ui candidates, "
                   "%M ms", ctx->layer, ctx->ncands, ctx->expected, elapsed);

    if (ctx->ncands < need) {
        ok = 0;

        for (i = 0; i < ctx->per_layer; i++) {
            ok += ctx->layer_calls[i].ok;
        }

        ngx_http_moa_answer_calls_error(ctx, ctx->layer_calls,
                                        ctx->per_layer, ok, "proposal");
        return;
    }

    if (ngx_http_moa_answer_progress(ctx, 0) != NGX_OK) {
        ngx_http_moa_answer_finalize(ctx, NGX_ERROR);
        return;
    }

    rc = ngx_http_moa_recipes_agreement(ctx);

    if (rc != NGX_DECLINED) {
        if (rc == NGX_ERROR) {
            ngx_http_moa_answer_finalize(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        }

        return;
    }

    if (ctx->layer < (ngx_uint_t) ctx->recipe.layers) {
        rc = ngx_http_moa_stages_next_layer(ctx);

    } else if (ctx->recipe.aggregate == NGX_HTTP_MOA_AGGREGATE_SELECT) {
        rc = ngx_http_moa_recipes_start_select(ctx);

    } else if (ctx->recipe.critique) {
        rc = ngx_http_moa_stages_start_critique(ctx);

    } else {
        rc = ngx_http_moa_stages_start_synthesis(ctx);
    }

    if (rc != NGX_OK) {
        ngx_http_moa_answer_finalize(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static void
ngx_http_moa_stages_critique_done(ngx_http_moa_ctx_t *ctx)
{
    ngx_http_moa_call_t  *call;

    call = ctx->critique;

    ctx->critique_time = ngx_current_msec - ctx->stage_start;
    ctx->critique_timed = 1;

    if (call->ok
        && !ngx_http_moa_reply_choice_usable(&call->parsed.choices[0]))
    {
        call->ok = 0;
    }

    if (!call->ok) {
        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "moa critique failed, synthesis without critiques");
    }

    if (ngx_http_moa_stages_start_synthesis(ctx) != NGX_OK) {
        ngx_http_moa_answer_finalize(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static void
ngx_http_moa_stages_synthesis_done(ngx_http_moa_ctx_t *ctx)
{
    ngx_http_moa_call_t   *call;
    ngx_http_moa_error_t   err;

    call = ctx->synthesis;

    ctx->synthesis_time = ngx_current_msec - ctx->stage_start;
    ctx->synthesis_timed = 1;

    if (call->sse_reply) {

        /* a stream: its usage, then the end or an error event */

        if (ngx_http_moa_stages_usage(ctx, ctx->stream.usage, "synthesis")
            != NGX_OK)
        {
            ngx_http_moa_answer_finalize(ctx, NGX_ERROR);
            return;
        }

        if (ctx->stream.done && !ctx->stream.failed && call->status == 200) {
            ngx_http_moa_answer_stream_end(ctx, NULL);
            return;
        }

        if (!ctx->stream.error.len) {
            ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                          "moa synthesis stream ended before [DONE]");
        }

        ngx_http_moa_error_set(&err, 502, "upstream_error", "upstream_error",
                               NULL, "the synthesis stream was cut short");
        ngx_http_moa_answer_stream_end(ctx, &err);
        return;
    }

    if (call->ok
        && ngx_http_moa_reply_choice_usable(&call->parsed.choices[0]))
    {
        ngx_http_moa_answer(ctx, &call->parsed, -1);
        return;
    }

    if (call->ok) {
        call->ok = 0;
        ngx_http_moa_error_set(ngx_http_moa_call_error(call), 502,
                               "upstream_error", "bad_upstream_reply", NULL,
                               "the synthesis reply was empty");
    }

    if (ctx->conf->fallback == NGX_HTTP_MOA_FALLBACK_CANDIDATE
        && ctx->fallback)
    {
        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "moa synthesis failed, answering with candidate %ui",
                      ctx->fallback->index);

        if (!ctx->header_sent
            && ngx_http_moa_output_add_header(ctx->request, "X-MoA-Fallback",
                                              "candidate")
               != NGX_OK)
        {
            ngx_http_moa_answer_finalize(ctx, NGX_ERROR);
            return;
        }

        ngx_http_moa_answer(ctx, &ctx->fallback->parsed,
                            ctx->fallback_choice);
        return;
    }

    ngx_http_moa_answer_calls_error(ctx, call, 1, 0, "synthesis");
}


/* a streamed or passthrough call's usage into the sum; what it lacks, logged */
static ngx_int_t
ngx_http_moa_stages_usage(ngx_http_moa_ctx_t *ctx, const cJSON *usage,
    const char *what)
{
    int  ignored;

    if (usage == NULL) {
        return NGX_OK;
    }

    ignored = ngx_http_moa_usage_add(ctx->usage, usage);

    if (ignored < 0) {
        return NGX_ERROR;
    }

    if (ignored) {
        ngx_log_error(NGX_LOG_INFO, ctx->request->connection->log, 0,
                      "moa %s call: %d usage members not summed "
                      "(not a count, or over the bound)", what, ignored);
    }

    return NGX_OK;
}


/* the usage and the answer of a passthrough, from what was observed */
static void
ngx_http_moa_stages_passthrough_answer(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_call_t *call)
{
    cJSON                 *usage;
    ngx_http_moa_error_t   err;

    if (call->status != NGX_HTTP_OK) {
        return;
    }

    if (ctx->responses) {
        /* forwarded to moa_responses_pass: a Responses object */
        usage = ngx_http_moa_responses_forwarded_answer(ctx, call);
        (void) ngx_http_moa_stages_usage(ctx, usage, "passthrough");
        cJSON_Delete(usage);
        return;
    }

    if (call->observe_sse) {
        (void) ngx_http_moa_stages_usage(ctx, ctx->collect.usage,
                                         "passthrough");
        ctx->succeeded = ctx->capture && !ctx->collect.failed;
        return;
    }

    if (!call->observe) {
        return;
    }

    if (ngx_http_moa_usage_scan(call->reply.data, call->reply.len, &usage)
        == 0)
    {
        (void) ngx_http_moa_stages_usage(ctx, usage, "passthrough");
        cJSON_Delete(usage);
    }

    if (ctx->capture
        && ngx_http_moa_reply_parse(&call->parsed, call->reply.data,
                                    call->reply.len, &err)
           == 0)
    {
        ctx->answer = &call->parsed.choices[0];
        ctx->succeeded = 1;
    }

}


static void
ngx_http_moa_stages_passthrough_done(ngx_http_moa_ctx_t *ctx)
{
    ngx_int_t             rc;
    ngx_http_moa_call_t  *call;

    call = ctx->passthrough;

    if (ngx_http_moa_responses_translated(ctx)) {
        ngx_http_moa_answer_translated(ctx, call);
        return;
    }

    if (call->ok) {
        ngx_http_moa_stages_passthrough_answer(ctx, call);

        rc = ctx->last_sent ? NGX_OK
                            : ngx_http_moa_output_send_buf(ctx, ctx->request,
                                                           NULL, 0, 1);
        ngx_http_moa_answer_finalize(ctx, rc);
        return;
    }

    if (ctx->header_sent) {
        /* cut short after the header: the client must see it broken */
        ngx_http_moa_answer_finalize(ctx, NGX_ERROR);
        return;
    }

    ngx_http_moa_answer_calls_error(ctx, call, 1, 0, "passthrough");
}
