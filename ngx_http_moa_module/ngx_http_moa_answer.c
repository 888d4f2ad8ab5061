
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * How a request ends: the answer from a complete reply (one chat
 * completion, or the same as a stream), the tail of a stream, the error
 * when calls failed, a whole JSON body, the progress comments of a stream
 * while it waits, and the request's finalization.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_moa_common.h"
#include "ngx_http_moa_answer.h"
#include "ngx_http_moa_call.h"
#include "ngx_http_moa_filter.h"
#include "ngx_http_moa_output.h"
#include "ngx_http_moa_metrics.h"
#include "ngx_http_moa_responses.h"
#include "ngx_http_moa_store.h"

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_error.h"
#include "ngx_http_moa_response.h"
#include "ngx_http_moa_stream.h"
#include "ngx_http_moa_usage.h"


static void ngx_http_moa_answer_send(ngx_http_moa_ctx_t *ctx, ngx_uint_t status,
    ngx_http_moa_buf_t *json);
static void ngx_http_moa_answer_responses(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_reply_t *rep, ngx_int_t choice);
static ngx_int_t ngx_http_moa_answer_keep(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_buf_t *out);
static void ngx_http_moa_answer_kept(ngx_http_moa_store_op_t *op);
static void ngx_http_moa_answer_held(void *data);


/* the final answer from a complete reply: JSON, or chunks when streamed */
void
ngx_http_moa_answer(ngx_http_moa_ctx_t *ctx, ngx_http_moa_reply_t *rep,
    ngx_int_t choice)
{
    ngx_int_t            rc;
    ngx_http_moa_buf_t   out;

    ngx_memzero(&out, sizeof(ngx_http_moa_buf_t));

    /* a candidate answered by a recipe is no fallback */
    ctx->fallback_used = (choice >= 0 && !ctx->shortcut && !ctx->selected);
    ctx->answer = &rep->choices[choice < 0 ? 0 : choice];

    if (ctx->responses) {
        ngx_http_moa_answer_responses(ctx, rep, choice);
        return;
    }

    if (ctx->req.stream) {
        if (ngx_http_moa_output_sse_header(ctx) == NGX_ERROR) {
            ngx_http_moa_answer_finalize(ctx, NGX_ERROR);
            return;
        }

        if (ngx_http_moa_stream_from_reply(&ctx->stream, rep, (int) choice,
                                           (char *) ctx->model->id.data,
                                           ctx->model->id.len, &out)
            != 0)
        {
            ngx_http_moa_buf_free(&out);
            ngx_http_moa_answer_finalize(ctx, NGX_ERROR);
            return;
        }

        ngx_http_moa_metrics_first_event(ctx);

        rc = ngx_http_moa_output_send_buf(ctx, ctx->request,
                                          (u_char *) out.data, out.len, 0);
        ngx_http_moa_buf_free(&out);

        if (rc == NGX_ERROR) {
            ngx_http_moa_answer_finalize(ctx, NGX_ERROR);
            return;
        }

        ngx_http_moa_answer_stream_end(ctx, NULL);
        return;
    }

    if (ngx_http_moa_response_build(&out, rep, (int) choice,
                                    (char *) ctx->model->id.data,
                                    ngx_http_moa_ctx_usage(ctx))
        != 0)
    {
        ngx_http_moa_buf_free(&out);
        ngx_http_moa_answer_finalize(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->succeeded = 1;

    ngx_http_moa_answer_send(ctx, NGX_HTTP_OK, &out);
}


/* the answer of a Responses request: the response object, or its events */
static void
ngx_http_moa_answer_responses(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_reply_t *rep, ngx_int_t choice)
{
    ngx_int_t           rc;
    ngx_http_moa_buf_t  out;

    ngx_memzero(&out, sizeof(ngx_http_moa_buf_t));

    if (ctx->req.stream
        && ngx_http_moa_output_sse_header(ctx) == NGX_ERROR)
    {
        ngx_http_moa_answer_finalize(ctx, NGX_ERROR);
        return;
    }

    if (ngx_http_moa_responses_reply(ctx, rep, choice, &out) != NGX_OK) {
        ngx_http_moa_buf_free(&out);
        ngx_http_moa_answer_finalize(ctx, ctx->req.stream
                                          ? NGX_ERROR
                                          : NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (!ctx->req.stream) {
        ctx->succeeded = 1;

        if (ngx_http_moa_answer_keep(ctx, &out) == NGX_AGAIN) {
            return;
        }

        ngx_http_moa_answer_send(ctx, NGX_HTTP_OK, &out);
        return;
    }

    ngx_http_moa_metrics_first_event(ctx);

    rc = ngx_http_moa_output_send_buf(ctx, ctx->request,
                                      (u_char *) out.data, out.len, 0);
    ngx_http_moa_buf_free(&out);

    if (rc == NGX_ERROR) {
        ngx_http_moa_answer_finalize(ctx, NGX_ERROR);
        return;
    }

    ngx_http_moa_answer_stream_end(ctx, NULL);
}


/*
 * A complete Responses answer is kept (moa_responses_store, unless the
 * request said store: false) before it goes out, so that a client that
 * continues from it at once finds it.  NGX_OK: out goes out now, kept or
 * not (a store that failed is logged and counted, the answer is not held
 * back); NGX_AGAIN: out is held until memcached answered, then
 * ngx_http_moa_answer_kept() sends it.
 */
static ngx_int_t
ngx_http_moa_answer_keep(ngx_http_moa_ctx_t *ctx, ngx_http_moa_buf_t *out)
{
    ngx_str_t            id, input, response;
    ngx_pool_cleanup_t  *cln;
    ngx_http_moa_buf_t  *held;

    if (ctx->conf->store == NULL || !ctx->responses->req.store
        || ngx_http_moa_responses_record(ctx, &input, &response) != NGX_OK)
    {
        return NGX_OK;
    }

    /* the answer, held by the request's pool while the store is asked */

    held = ngx_pcalloc(ctx->request->pool, sizeof(ngx_http_moa_buf_t));
    cln = ngx_pool_cleanup_add(ctx->request->pool, 0);

    if (held == NULL || cln == NULL) {
        return NGX_OK;
    }

    cln->handler = ngx_http_moa_answer_held;
    cln->data = held;

    id.data = (u_char *) ctx->responses->obj.id;
    id.len = ngx_strlen(ctx->responses->obj.id);

    if (ngx_http_moa_store_keep(ctx, &id, &input, &response,
                                ngx_http_moa_answer_kept, held)
        != NGX_AGAIN)
    {
        return NGX_OK;
    }

    *held = *out;
    ngx_memzero(out, sizeof(ngx_http_moa_buf_t));

    return NGX_AGAIN;
}


/* the store answered: the held answer goes out */
static void
ngx_http_moa_answer_kept(ngx_http_moa_store_op_t *op)
{
    ngx_int_t            rc;
    ngx_http_moa_ctx_t  *ctx;
    ngx_http_moa_buf_t  *held, out;

    ctx = op->ctx;
    held = op->data;

    out = *held;
    ngx_memzero(held, sizeof(ngx_http_moa_buf_t));

    if (!ctx->req.stream) {
        ngx_http_moa_answer_send(ctx, NGX_HTTP_OK, &out);
        return;
    }

    rc = ngx_http_moa_output_send_buf(ctx, ctx->request, (u_char *) out.data,
                                      out.len, 1);
    ngx_http_moa_buf_free(&out);

    ngx_http_moa_answer_finalize(ctx, rc);
}


static void
ngx_http_moa_answer_held(void *data)
{
    ngx_http_moa_buf_free(data);
}


/*
 * A passthrough translated for a Responses request: its reply is answered
 * as a synthesis' is (a stream ended, a complete reply translated, or the
 * call's error).
 */
void
ngx_http_moa_answer_translated(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_call_t *call)
{
    ngx_http_moa_error_t  err;

    if (call->sse_reply) {
        if (ctx->stream.usage
            && ngx_http_moa_usage_add(ctx->usage, ctx->stream.usage) < 0)
        {
            ngx_http_moa_answer_finalize(ctx, NGX_ERROR);
            return;
        }

        if (ctx->stream.done && !ctx->stream.failed && call->status == 200) {
            ngx_http_moa_answer_stream_end(ctx, NULL);
            return;
        }

        ngx_http_moa_error_set(&err, 502, "upstream_error", "upstream_error",
                               NULL, "the passthrough stream was cut short");
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
                               "the passthrough reply was empty");
    }

    ngx_http_moa_answer_calls_error(ctx, call, 1, 0, "passthrough");
}


/* the tail of a stream: the summed usage if asked, or an error; [DONE] */
void
ngx_http_moa_answer_stream_end(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_error_t *err)
{
    ngx_int_t            rc;
    ngx_http_moa_buf_t   out;

    ngx_memzero(&out, sizeof(ngx_http_moa_buf_t));

    if (ctx->responses) {

        /* response.completed, or error and response.failed: no [DONE] */

        if (err) {
            ctx->error_status = err->status;

        } else {
            ctx->succeeded = 1;
        }

        if (ngx_http_moa_responses_end(ctx, err, &out) != NGX_OK) {
            ngx_http_moa_buf_free(&out);
            ngx_http_moa_answer_finalize(ctx, NGX_ERROR);
            return;
        }

        if (err == NULL && ngx_http_moa_answer_keep(ctx, &out) == NGX_AGAIN) {
            return;
        }

        rc = ngx_http_moa_output_send_buf(ctx, ctx->request,
                                          (u_char *) out.data, out.len, 1);
        ngx_http_moa_buf_free(&out);

        ngx_http_moa_answer_finalize(ctx, rc);
        return;
    }

    if (err) {
        ctx->error_status = err->status;

        if (ctx->stream.error.len) {
            ngx_http_moa_buf_add(&out, ctx->stream.error.data,
                                 ctx->stream.error.len);

        } else {
            ngx_http_moa_error_event(&out, err);
        }

    } else {
        ctx->succeeded = 1;
    }

    if (err == NULL && ctx->req.include_usage) {
        if (ngx_http_moa_stream_usage_chunk(&ctx->stream,
                                            (char *) ctx->model->id.data,
                                            ctx->model->id.len,
                                            ngx_http_moa_ctx_usage(ctx),
                                            &out)
            != 0)
        {
            ngx_http_moa_buf_free(&out);
            ngx_http_moa_answer_finalize(ctx, NGX_ERROR);
            return;
        }
    }

    ngx_http_moa_buf_lit(&out, "data: [DONE]\n\n");

    if (out.nomem) {
        ngx_http_moa_buf_free(&out);
        ngx_http_moa_answer_finalize(ctx, NGX_ERROR);
        return;
    }

    rc = ngx_http_moa_output_send_buf(ctx, ctx->request,
                                      (u_char *) out.data, out.len, 1);
    ngx_http_moa_buf_free(&out);

    ngx_http_moa_answer_finalize(ctx, rc);
}


/*
 * What the client gets when calls failed: a status the client can act on.
 * The provider's 4xx that are the client's own are relayed; 401/403 mean
 * the gateway's credentials are wrong (502, not retried); 429 keeps its
 * Retry-After; timeouts are 504; everything else is 502.
 */
void
ngx_http_moa_answer_calls_error(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_call_t *calls, ngx_uint_t n, ngx_uint_t ok, const char *what)
{
    u_char                *p, *last;
    ngx_uint_t             i, status, same, no_retry;
    ngx_str_t             *retry_after;
    ngx_http_moa_call_t   *first;
    ngx_http_moa_error_t   err;
    u_char                 statuses[128];

    first = &calls[0];
    status = first->status;
    same = 1;
    retry_after = NULL;
    no_retry = 0;

    p = statuses;
    last = statuses + sizeof(statuses) - 1;

    for (i = 0; i < n; i++) {
        if (calls[i].status != status) {
            same = 0;
        }

        if (calls[i].retry_after.len && retry_after == NULL) {
            retry_after = &calls[i].retry_after;
        }

        if (!calls[i].ok) {
            p = ngx_slprintf(p, last, "%s%ui", p == statuses ? "" : ", ",
                             calls[i].status);
        }
    }

    *p = '\0';

    if (ok) {
        ngx_http_moa_error_set(&err, 502, "upstream_error",
                               "not_enough_candidates", NULL,
                               "only %lu of %lu %s calls gave a usable "
                               "candidate (moa_min_proposals is %lu)",
                               (unsigned long) ctx->ncands,
                               (unsigned long) ctx->expected, what,
                               (unsigned long) ctx->conf->min_proposals);

    } else if (!same) {
        ngx_http_moa_error_set(&err, 502, "upstream_error", "upstream_error",
                               NULL, "all %lu %s calls failed (upstream "
                               "statuses %s): %s", (unsigned long) n, what,
                               statuses,
                               ngx_http_moa_call_error(first)->message);

    } else if (status == NGX_HTTP_UNAUTHORIZED
               || status == NGX_HTTP_FORBIDDEN)
    {
        /*
         * never relay: the provider's text may quote the key; a
         * passthrough keeps the status (ngx_http_moa_credentials_hide)
         */
        ngx_http_moa_error_set(&err, first == ctx->passthrough
                                     ? (int) status : 502,
                               "upstream_error",
                               "upstream_auth_error", NULL,
                               "the provider rejected the gateway's "
                               "credentials (upstream status %lu): check "
                               "the API key configured for the provider",
                               (unsigned long) status);
        no_retry = 1;

    } else if (status >= 400 && status < 500
               && status != NGX_HTTP_REQUEST_TIME_OUT)
    {
        err = *ngx_http_moa_call_error(first);
        err.status = (int) status;

        if (status == NGX_HTTP_TOO_MANY_REQUESTS && err.type
            && ngx_strcmp(err.type, "upstream_error") == 0)
        {
            err.type = "rate_limit_error";
        }

    } else if (status == NGX_HTTP_GATEWAY_TIME_OUT
               || status == NGX_HTTP_REQUEST_TIME_OUT)
    {
        err = *ngx_http_moa_call_error(first);
        err.status = NGX_HTTP_GATEWAY_TIME_OUT;
        err.type = "upstream_error";
        err.code = "upstream_timeout";

    } else if (n > 1) {
        ngx_http_moa_error_set(&err, 502, "upstream_error", "upstream_error",
                               NULL, "all %lu %s calls failed: upstream "
                               "status %lu: %s", (unsigned long) n, what,
                               (unsigned long) status,
                               ngx_http_moa_call_error(first)->message);

    } else {
        ngx_http_moa_error_set(&err, 502, "upstream_error", "upstream_error",
                               NULL, "the %s call failed: upstream status "
                               "%lu: %s", what, (unsigned long) status,
                               ngx_http_moa_call_error(first)->message);
    }

    ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                  "moa request failed: %s", err.message);

    ngx_http_moa_answer_fail(ctx, &err,
                             err.status == NGX_HTTP_TOO_MANY_REQUESTS
                             ? retry_after : NULL, no_retry);
}


void
ngx_http_moa_answer_fail(ngx_http_moa_ctx_t *ctx, ngx_http_moa_error_t *err,
    ngx_str_t *retry_after, ngx_uint_t no_retry)
{
    ngx_http_request_t  *r;
    ngx_http_moa_buf_t   json;

    r = ctx->request;

    if (ctx->sse_header) {
        ngx_http_moa_answer_stream_end(ctx, err);
        return;
    }

    if (ctx->header_sent) {
        ngx_http_moa_answer_finalize(ctx, NGX_ERROR);
        return;
    }

    if (retry_after && retry_after->len
        && ngx_http_moa_output_header(r, "Retry-After", retry_after)
           != NGX_OK)
    {
        ngx_http_moa_answer_finalize(ctx, NGX_ERROR);
        return;
    }

    if (no_retry
        && ngx_http_moa_output_add_header(r, "X-Should-Retry", "false")
           != NGX_OK)
    {
        ngx_http_moa_answer_finalize(ctx, NGX_ERROR);
        return;
    }

    ngx_memzero(&json, sizeof(ngx_http_moa_buf_t));
    ngx_http_moa_error_json(&json, err);

    if (json.nomem) {
        ngx_http_moa_buf_free(&json);
        ngx_http_moa_answer_finalize(ctx, NGX_ERROR);
        return;
    }

    ngx_http_moa_answer_send(ctx, err->status, &json);
}


/*
 * A whole JSON answer.  Its buffer is handed over: sent from where it is
 * and freed with the request (to the buffers' cache), no copy.
 */
static void
ngx_http_moa_answer_send(ngx_http_moa_ctx_t *ctx, ngx_uint_t status,
    ngx_http_moa_buf_t *json)
{
    ngx_int_t            rc;
    ngx_buf_t           *b;
    ngx_chain_t          out;
    ngx_pool_cleanup_t  *cln;
    ngx_http_request_t  *r;

    r = ctx->request;

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_moa_buf_t));
    if (cln == NULL) {
        ngx_http_moa_buf_free(json);
        ngx_http_moa_answer_finalize(ctx, NGX_ERROR);
        return;
    }

    cln->handler = ngx_http_moa_answer_held;
    ngx_memcpy(cln->data, json, sizeof(ngx_http_moa_buf_t));

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        ngx_http_moa_answer_finalize(ctx, NGX_ERROR);
        return;
    }

    b->start = (u_char *) json->data;
    b->pos = b->start;
    b->last = b->start + json->len;
    b->end = b->last;
    b->memory = 1;
    b->last_buf = 1;

    ctx->own_response = 1;
    ctx->header_sent = 1;

    r->headers_out.status = status;
    r->headers_out.content_type_len = sizeof("application/json") - 1;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = json->len;

    if (ngx_http_moa_output_request_id(r) != NGX_OK) {
        ngx_http_moa_answer_finalize(ctx, NGX_ERROR);
        return;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        ngx_http_moa_answer_finalize(ctx, rc);
        return;
    }

    out.buf = b;
    out.next = NULL;

    ngx_http_moa_answer_finalize(ctx, ngx_http_output_filter(r, &out));
}


void
ngx_http_moa_answer_finalize(ngx_http_moa_ctx_t *ctx, ngx_int_t rc)
{
    ngx_uint_t  i;

    if (ctx->finalized) {
        return;
    }

    ctx->finalized = 1;
    ctx->phase = NGX_HTTP_MOA_PHASE_DONE;

    if (ctx->keepalive.timer_set) {
        ngx_del_timer(&ctx->keepalive);
    }

    if (ctx->deadline.timer_set) {
        ngx_del_timer(&ctx->deadline);
    }

    /* stragglers (there are none on a normal path) */

    if (rc != NGX_HTTP_CLIENT_CLOSED_REQUEST && ctx->calls) {
        for (i = 0; i < ctx->nproposals; i++) {
            ngx_http_moa_call_cancel(&ctx->calls[i]);
        }
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                   "moa finalize: rc %i, %ui upstream calls", rc,
                   ctx->ncalls);

    ngx_http_finalize_request(ctx->request, rc);
}


/*
 * SSE comment lines while the answer is being prepared: progress for a
 * person watching, and traffic for clients and proxies that time out.
 */
ngx_int_t
ngx_http_moa_answer_progress(ngx_http_moa_ctx_t *ctx, ngx_uint_t keepalive)
{
    u_char               *p;
    ngx_int_t             rc;
    ngx_uint_t            done, i;
    ngx_connection_t     *c;
    ngx_http_request_t   *r, *target;
    u_char                line[64];

    r = ctx->request;
    c = r->connection;

    if (!ctx->req.stream || ctx->finalized
        || (!keepalive && !ctx->header_sent))
    {
        return NGX_OK;
    }

    if (c->data == r) {
        target = r;

    } else if (ctx->synthesis && ctx->synthesis->sr
               && c->data == ctx->synthesis->sr && !ctx->synthesis->done)
    {
        target = ctx->synthesis->sr;

    } else {
        return NGX_OK;
    }

    if (ngx_http_moa_output_sse_header(ctx) == NGX_ERROR) {
        return NGX_ERROR;
    }

    switch (ctx->phase) {

    case NGX_HTTP_MOA_PHASE_PROPOSALS:
        done = 0;

        for (i = 0; i < ctx->per_layer; i++) {
            done += ctx->layer_calls[i].done;
        }

        if (ctx->recipe.layers > 1) {
            p = ngx_snprintf(line, sizeof(line),
                             ": moa layer %ui proposals %ui/%ui\n\n",
                             ctx->layer, done, ctx->per_layer);

        } else {
            p = ngx_snprintf(line, sizeof(line),
                             ": moa proposals %ui/%ui\n\n", done,
                             ctx->per_layer);
        }

        break;

    case NGX_HTTP_MOA_PHASE_CRITIQUE:
        if (ctx->recipe.aggregate == NGX_HTTP_MOA_AGGREGATE_SELECT) {
            p = ngx_snprintf(line, sizeof(line), ": moa select\n\n");
            break;
        }

        p = ngx_snprintf(line, sizeof(line), ": moa critique\n\n");
        break;

    default:
        p = ngx_snprintf(line, sizeof(line), ": moa synthesis\n\n");
    }

    if (target == r) {
        rc = ngx_http_moa_output_send_buf(ctx, r, line, p - line, 0);

    } else {
        rc = ngx_http_moa_filter_send_sub(ctx, target, line, p - line);
    }

    return rc == NGX_ERROR ? NGX_ERROR : NGX_OK;
}
