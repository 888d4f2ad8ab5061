
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The stage machine of a request: the proposals (in parallel), the
 * candidates gathered from their replies, the critique and the synthesis,
 * or one passthrough call; each stage starts its calls and, when they are
 * done, starts the next stage or ends the request (ngx_http_moa_answer.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_moa_common.h"
#include "ngx_http_moa_stages.h"
#include "ngx_http_moa_answer.h"
#include "ngx_http_moa_call.h"
#include "ngx_http_moa_output.h"
#include "ngx_http_moa_responses.h"

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_error.h"
#include "ngx_http_moa_reply.h"
#include "ngx_http_moa_usage.h"
#include "ngx_http_moa_prompt.h"
#include "ngx_http_moa_stage_body.h"


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


/*
 * Where a call goes and what it asks for: the target's own location, model
 * and temperature where given, else the moa_pass location, the base model
 * and the stage's default temperature (none: the client's).
 */
static void
ngx_http_moa_target_params(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_call_t *call, ngx_http_moa_target_t *t,
    ngx_str_t *temperature, ngx_http_moa_stage_body_params_t *cp)
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
}


ngx_int_t
ngx_http_moa_stages_start_proposals(ngx_http_moa_ctx_t *ctx)
{
    ngx_uint_t                        i, n;
    ngx_http_moa_call_t              *call;
    ngx_http_moa_target_t            *t;
    ngx_http_moa_loc_conf_t          *mlcf;
    ngx_http_moa_stage_body_params_t  cp;

    mlcf = ctx->conf;

    if (mlcf->proposer_list) {
        n = mlcf->proposer_list->nelts;
        ctx->expected = n;
        t = mlcf->proposer_list->elts;

    } else {
        ctx->expected = mlcf->proposers;
        n = mlcf->proposer_n ? 1 : mlcf->proposers;
        t = NULL;
    }

    /* the proposals, then the critique and the synthesis */

    ctx->calls = ngx_pcalloc(ctx->request->pool,
                             (n + 2) * sizeof(ngx_http_moa_call_t));
    if (ctx->calls == NULL) {
        return NGX_ERROR;
    }

    ctx->nproposals = n;
    ctx->critique = &ctx->calls[n];
    ctx->synthesis = &ctx->calls[n + 1];
    ctx->stage_start = ngx_current_msec;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                   "moa proposals: %ui calls for %ui candidates",
                   n, ctx->expected);

    for (i = 0; i < n; i++) {
        call = &ctx->calls[i];
        call->stage = NGX_HTTP_MOA_PROPOSAL;
        call->index = i;

        ngx_http_moa_target_params(ctx, call, t ? &t[i] : NULL,
                                   &mlcf->proposer_temperature, &cp);

        cp.max_tokens = mlcf->proposer_max_tokens;
        cp.n = (t == NULL && mlcf->proposer_n) ? (int) mlcf->proposers : 0;
        cp.index = (int) i;

        if (ngx_http_moa_stage_body_proposal(&call->body, &ctx->req, &cp) != 0
            || ngx_http_moa_call_start(ctx, call, 1) != NGX_OK)
        {
            return NGX_ERROR;
        }

        ctx->pending++;
    }

    if (mlcf->proposal_timeout) {
        ngx_add_timer(&ctx->deadline, mlcf->proposal_timeout);
    }

    return NGX_OK;
}


/* the candidates' block of both prompts, rendered once */
static ngx_int_t
ngx_http_moa_candidates_text(ngx_http_moa_ctx_t *ctx)
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

    ngx_http_moa_target_params(ctx, call, mlcf->critic,
                               &mlcf->critique_temperature, &cp);

    cp.max_tokens = mlcf->critic_max_tokens;

    rc = NGX_ERROR;

    if (ngx_http_moa_candidates_text(ctx) == NGX_OK
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

    ngx_http_moa_target_params(ctx, call, mlcf->aggregator, NULL, &cp);

    critique = ctx->critique->ok ? &ctx->critique->parsed.choices[0] : NULL;

    rc = NGX_ERROR;

    if (ngx_http_moa_candidates_text(ctx) == NGX_OK
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
        if (ctx->critique->done) {
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


/* usable candidates of the proposals that are in, in proposal order */
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
    asked = (int) (ctx->expected / ctx->nproposals);

    for (i = 0; i < ctx->nproposals; i++) {
        call = &ctx->calls[i];

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


static void
ngx_http_moa_stages_proposals_done(ngx_http_moa_ctx_t *ctx)
{
    ngx_uint_t            i, n, ok, need;
    ngx_http_request_t   *r;

    r = ctx->request;

    if (ctx->deadline.timer_set) {
        ngx_del_timer(&ctx->deadline);
    }

    ctx->proposal_time = ngx_current_msec - ctx->stage_start;
    ctx->proposals_timed = 1;

    n = ngx_http_moa_candidates_gather(ctx);

    ctx->cands = ngx_palloc(r->pool,
                     (n ? n : 1) * sizeof(ngx_http_moa_prompt_candidate_t));
    if (ctx->cands == NULL) {
        ngx_http_moa_answer_finalize(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->ncands = ngx_http_moa_candidates_gather(ctx);

    need = ngx_min(ctx->conf->min_proposals, ctx->expected);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "moa proposals done: %ui of %ui candidates, %M ms",
                   ctx->ncands, ctx->expected, ctx->proposal_time);

    if (ctx->ncands < need) {
        ok = 0;

        for (i = 0; i < ctx->nproposals; i++) {
            ok += ctx->calls[i].ok;
        }

        ngx_http_moa_answer_calls_error(ctx, ctx->calls, ctx->nproposals, ok,
                                        "proposal");
        return;
    }

    if (ngx_http_moa_answer_progress(ctx, 0) != NGX_OK) {
        ngx_http_moa_answer_finalize(ctx, NGX_ERROR);
        return;
    }

    if (ctx->conf->critique) {
        if (ngx_http_moa_stages_start_critique(ctx) != NGX_OK) {
            ngx_http_moa_answer_finalize(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        }

        return;
    }

    if (ngx_http_moa_stages_start_synthesis(ctx) != NGX_OK) {
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
