
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The Responses API front end (moa_api responses).  One engine: the
 * client's Responses request is translated into a Chat Completions body
 * (openai/ngx_http_moa_responses_request.c) and the stages, or a
 * passthrough, run on it as on a chat request; the answer is translated
 * back: a complete chat reply into the response object, a chat stream
 * chunk by chunk into typed events (openai/ngx_http_moa_responses_events.c).
 * A model that is not MoA goes byte for byte to moa_responses_pass when
 * the operator names one.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_moa_common.h"
#include "ngx_http_moa_responses.h"
#include "ngx_http_moa_output.h"
#include "ngx_http_moa_metrics.h"

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_error.h"
#include "ngx_http_moa_stream.h"
#include "ngx_http_moa_responses_forwarded.h"


static void ngx_http_moa_responses_cleanup(void *data);


ngx_int_t
ngx_http_moa_responses_parse(ngx_http_moa_ctx_t *ctx, const u_char *prior,
    size_t prior_len, ngx_http_moa_error_t *err)
{
    ngx_pool_cleanup_t         *cln;
    ngx_http_request_t         *r;
    ngx_http_moa_responses_t   *rs;

    r = ctx->request;
    rs = ctx->responses;

    if (rs == NULL) {
        rs = ngx_pcalloc(r->pool, sizeof(ngx_http_moa_responses_t));
        if (rs == NULL) {
            goto nomem;
        }

        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            goto nomem;
        }

        cln->handler = ngx_http_moa_responses_cleanup;
        cln->data = rs;

        ctx->responses = rs;
        rs->client_body = ctx->body;

        /* the ids: unpredictable enough, not a secret */
        rs->seed = ((uint64_t) ngx_random() << 32) ^ (uint64_t) ngx_random()
                   ^ ((uint64_t) ngx_time() << 20) ^ (uintptr_t) r
                   ^ ngx_current_msec;
        rs->req.seed = rs->seed;
    }

    if (ngx_http_moa_responses_request_parse(&rs->req,
                                             (char *) rs->client_body.data,
                                             rs->client_body.len,
                                             (const char *) prior, prior_len,
                                             (int) ctx->conf->unknown_params,
                                             err)
        != 0)
    {
        return NGX_ERROR;
    }

    /* previous_response_id: read from the store by the handler */

    ctx->body.data = (u_char *) rs->req.chat.data;
    ctx->body.len = rs->req.chat.len;

    return NGX_OK;

nomem:

    ngx_http_moa_error_set(err, 500, "server_error", NULL, NULL,
                           "out of memory");
    return NGX_ERROR;
}


ngx_int_t
ngx_http_moa_responses_route(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_error_t *err)
{
    ngx_http_moa_responses_t  *rs;

    rs = ctx->responses;

    if (ctx->model == NULL && ctx->conf->responses_pass.len) {

        /* a Responses provider gets the client's request as it came */

        rs->forward = 1;
        ctx->body = rs->client_body;

        /*
         * its reply passes as is; its usage and output are read from a
         * copy (or the stream's last event) as a Responses object
         */

        return NGX_OK;
    }

    if (ngx_http_moa_responses_request_check(&rs->req, ctx->req.model,
                                             ctx->model != NULL, err)
        != 0)
    {
        return NGX_ERROR;
    }

    ngx_http_moa_responses_items_id(&rs->seed, "resp_", rs->obj.id);
    rs->obj.created_at = (long long) ngx_time();
    rs->obj.echo = &rs->req.echo;
    rs->obj.seed = &rs->seed;

    if (ctx->model) {
        rs->obj.model = (char *) ctx->model->id.data;
        rs->obj.model_len = ctx->model->id.len;

    } else {
        rs->obj.model = ctx->req.model;
        rs->obj.model_len = ctx->req.model_len;
    }

    ngx_http_moa_responses_events_init(&rs->ev, &rs->obj);

    return NGX_OK;
}


void
ngx_http_moa_responses_passthrough(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_call_t *call)
{
    if (ctx->responses->forward) {
        call->uri = ctx->conf->responses_pass;
        return;
    }

    /* its reply is translated as a synthesis' is */
    call->forward = 0;
}


ngx_uint_t
ngx_http_moa_responses_translated(ngx_http_moa_ctx_t *ctx)
{
    return ctx->responses && !ctx->responses->forward;
}


int
ngx_http_moa_responses_forwarded_event(ngx_http_moa_ctx_t *ctx,
    const char *event, size_t len)
{
    ngx_http_moa_responses_t  *rs;

    rs = ctx->responses;

    if (!ngx_http_moa_responses_forwarded_final(event, len)) {
        return 0;
    }

    rs->final.len = 0;
    ngx_http_moa_buf_add(&rs->final, event, len);

    return rs->final.nomem ? -1 : 0;
}


cJSON *
ngx_http_moa_responses_forwarded_answer(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_call_t *call)
{
    cJSON                     *usage, *message;
    ngx_http_moa_buf_t        *b;
    ngx_http_moa_responses_t  *rs;

    rs = ctx->responses;

    if (call->observe) {
        b = &call->reply;

    } else if (call->observe_sse) {
        b = &rs->final;

    } else {
        return NULL;
    }

    if (b->len == 0
        || ngx_http_moa_responses_forwarded_read(b->data, b->len, &usage,
                                                 &message)
           != 0)
    {
        ngx_log_error(NGX_LOG_INFO, ctx->request->connection->log, 0,
                      "moa: the forwarded Responses reply has no response "
                      "object: no usage, nothing captured");
        return NULL;
    }

    if (ctx->capture && message) {
        cJSON_Delete(ctx->answer_owned);
        ctx->answer_owned = message;
        ctx->succeeded = 1;

    } else {
        cJSON_Delete(message);
    }

    return usage;
}


ngx_int_t
ngx_http_moa_responses_start(ngx_http_moa_ctx_t *ctx)
{
    ngx_int_t                  rc;
    ngx_http_moa_buf_t         out;
    ngx_http_moa_responses_t  *rs;

    rs = ctx->responses;

    if (rs == NULL || rs->forward || !ctx->req.stream) {
        return NGX_OK;
    }

    if (ngx_http_moa_output_sse_header(ctx) == NGX_ERROR) {
        return NGX_ERROR;
    }

    ngx_memzero(&out, sizeof(ngx_http_moa_buf_t));
    ngx_http_moa_responses_events_start(&rs->ev, &out);

    if (out.nomem) {
        ngx_http_moa_buf_free(&out);
        return NGX_ERROR;
    }

    rc = ngx_http_moa_output_send_buf(ctx, ctx->request, (u_char *) out.data,
                                      out.len, 0);
    ngx_http_moa_buf_free(&out);

    ctx->last_output = ngx_current_msec;

    return rc == NGX_ERROR ? NGX_ERROR : NGX_OK;
}


int
ngx_http_moa_responses_event(ngx_http_moa_ctx_t *ctx, const char *event,
    size_t len)
{
    int                        rc;
    ngx_http_moa_responses_t  *rs;

    rs = ctx->responses;

    /* the chat stream's own state: usage, [DONE], errors */

    rs->chunk.len = 0;

    rc = ngx_http_moa_stream_event(&ctx->stream, event, len, rs->obj.model,
                                   rs->obj.model_len, &rs->chunk);

    if (rc != NGX_HTTP_MOA_EVENT_OK) {
        return rc;
    }

    if (ngx_http_moa_responses_events_chunk(&rs->ev, event, len,
                                            &ctx->scratch)
        < 0 || ctx->scratch.nomem)
    {
        return NGX_HTTP_MOA_EVENT_NOMEM;
    }

    return NGX_HTTP_MOA_EVENT_OK;
}


ngx_int_t
ngx_http_moa_responses_reply(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_reply_t *rep, ngx_int_t choice, ngx_http_moa_buf_t *out)
{
    const char                   *reason;
    ngx_http_moa_responses_t     *rs;
    const ngx_http_moa_choice_t  *c;

    rs = ctx->responses;
    c = &rep->choices[choice < 0 ? 0 : choice];

    if (ctx->req.stream) {
        ngx_http_moa_responses_events_start(&rs->ev, out);

        return ngx_http_moa_responses_events_choice(&rs->ev, c, out) == 0
               && !out->nomem ? NGX_OK : NGX_ERROR;
    }

    /* the items are written in place, between the object's two halves */

    if (ngx_http_moa_buf_reserve(out, 1024 + rs->req.echo.len
                                      + c->span.len) != 0)
    {
        return NGX_ERROR;
    }

    reason = ngx_http_moa_responses_object_reason_of(c);
    rs->obj.completed_at = (long long) ngx_time();

    ngx_http_moa_responses_object_begin(out, &rs->obj,
                                        reason ? "incomplete" : "completed",
                                        reason, NULL);
    if (ngx_http_moa_responses_object_items(out, &rs->obj, c, &reason)
        != 0)
    {
        return NGX_ERROR;
    }

    ngx_http_moa_responses_object_end(out, &rs->obj,
                                      ngx_http_moa_ctx_usage(ctx));

    if (out->nomem) {
        return NGX_ERROR;
    }

    /* the buffer is the answer's: it lives as long as the request */
    rs->response.data = (u_char *) out->data;
    rs->response.len = out->len;

    return NGX_OK;
}


ngx_int_t
ngx_http_moa_responses_end(ngx_http_moa_ctx_t *ctx, ngx_http_moa_error_t *err,
    ngx_http_moa_buf_t *out)
{
    int                        rc;
    ngx_http_moa_error_t       provider;
    ngx_http_moa_responses_t  *rs;

    rs = ctx->responses;
    rs->obj.completed_at = (long long) ngx_time();

    /* the provider's own error event ("data: {...}"): its code, message */

    if (err && ctx->stream.error.len > 6
        && ngx_http_moa_error_from_reply(&provider, (int) err->status,
                                         ctx->stream.error.data + 6,
                                         ctx->stream.error.len - 6)
           == 0)
    {
        err = &provider;
    }

    if (err) {
        rc = ngx_http_moa_responses_events_fail(&rs->ev, err,
                                                ngx_http_moa_ctx_usage(ctx),
                                                out);

    } else {
        rc = ngx_http_moa_responses_events_end(&rs->ev,
                                               ngx_http_moa_ctx_usage(ctx),
                                               out);

        if (rc == 0) {
            rs->response.data = (u_char *) rs->ev.object.data;
            rs->response.len = rs->ev.object.len;
        }
    }

    return rc == 0 && !out->nomem ? NGX_OK : NGX_ERROR;
}


ngx_int_t
ngx_http_moa_responses_record(ngx_http_moa_ctx_t *ctx, ngx_str_t *input,
    ngx_str_t *response)
{
    ngx_http_moa_responses_t  *rs;

    rs = ctx->responses;

    if (rs == NULL || rs->forward || rs->response.len == 0) {
        return NGX_DECLINED;
    }

    input->data = (u_char *) rs->req.input.data;
    input->len = rs->req.input.len;
    *response = rs->response;

    return NGX_OK;
}


/* moa_not_found: the JSON 404 OpenAI answers for a path it does not serve */
ngx_int_t
ngx_http_moa_responses_not_found(ngx_http_request_t *r)
{
    size_t                len;
    ngx_int_t             rc;
    ngx_http_moa_buf_t    json;
    ngx_http_moa_error_t  err;

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    len = r->uri.len < 128 ? r->uri.len : 128;

    ngx_http_moa_error_set(&err, NGX_HTTP_NOT_FOUND, "invalid_request_error",
                           NULL, NULL, "Invalid URL (%.*s %.*s)",
                           (int) r->method_name.len, r->method_name.data,
                           (int) len, r->uri.data);

    ngx_memzero(&json, sizeof(ngx_http_moa_buf_t));
    ngx_http_moa_error_json(&json, &err);

    r->headers_out.status = NGX_HTTP_NOT_FOUND;
    r->headers_out.content_type_len = sizeof("application/json") - 1;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_lowcase = NULL;

    if (ngx_http_moa_output_request_id(r) != NGX_OK) {
        ngx_http_moa_buf_free(&json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_moa_output_send_text(r, &json);
}


static void
ngx_http_moa_responses_cleanup(void *data)
{
    ngx_http_moa_responses_t  *rs = data;

    ngx_http_moa_responses_request_free(&rs->req);
    ngx_http_moa_responses_events_free(&rs->ev);
    ngx_http_moa_buf_free(&rs->chunk);
    ngx_http_moa_buf_free(&rs->final);
}
