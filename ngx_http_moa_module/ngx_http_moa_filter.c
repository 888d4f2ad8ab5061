
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Header and body filters.  For the module's subrequests: keep a reply
 * in memory, rewrite a streamed synthesis event by event, or forward a
 * passthrough reply as is (the reply's body is handled by
 * ngx_http_moa_filter_reply.c).  For the main request: turn an error page
 * that nginx itself generates in a MoA or moa_models location into an
 * OpenAI error.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_moa_common.h"
#include "ngx_http_moa_filter.h"
#include "ngx_http_moa_filter_reply.h"
#include "ngx_http_moa_output.h"
#include "ngx_http_moa_call.h"
#include "ngx_http_moa_credentials.h"
#include "ngx_http_moa_metrics.h"

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_sse.h"
#include "ngx_http_moa_error.h"


static ngx_int_t ngx_http_moa_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_moa_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_moa_error_header(ngx_http_request_t *r,
    ngx_http_moa_ctx_t *ctx);
static ngx_int_t ngx_http_moa_error_body(ngx_http_request_t *r,
    ngx_http_moa_ctx_t *ctx, ngx_chain_t *in);
static ngx_int_t ngx_http_moa_forward_header(ngx_http_request_t *sr,
    ngx_http_moa_call_t *call);

static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


ngx_int_t
ngx_http_moa_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_moa_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_moa_body_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_http_moa_is_sse(ngx_http_request_t *r)
{
    ngx_str_t  *ct;

    ct = &r->headers_out.content_type;

    return ct->len >= sizeof("text/event-stream") - 1
           && ngx_strncasecmp(ct->data, (u_char *) "text/event-stream",
                              sizeof("text/event-stream") - 1) == 0;
}


static ngx_int_t
ngx_http_moa_header_filter(ngx_http_request_t *r)
{
    ngx_http_moa_ctx_t       *ctx;
    ngx_http_moa_call_t      *call;
    ngx_http_moa_loc_conf_t  *mlcf;

    if (r == r->main) {
        if (r->headers_out.status < NGX_HTTP_BAD_REQUEST) {
            return ngx_http_next_header_filter(r);
        }

        ctx = ngx_http_get_module_ctx(r, ngx_http_moa_module);

        if (ctx == NULL) {

            /* e.g. 413 before the content phase, in a MoA location */

            mlcf = ngx_http_get_module_loc_conf(r, ngx_http_moa_module);

            if (mlcf->pass.len == 0 && !mlcf->models_list) {
                return ngx_http_next_header_filter(r);
            }

            ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_moa_ctx_t));
            if (ctx == NULL) {
                return NGX_ERROR;
            }

            ctx->request = r;
            ctx->conf = mlcf;

            ngx_http_set_ctx(r, ctx, ngx_http_moa_module);
            ngx_http_moa_output_log_id(r);
        }

        if (!ctx->own_response) {
            return ngx_http_moa_error_header(r, ctx);
        }

        return ngx_http_next_header_filter(r);
    }

    call = ngx_http_moa_call_get(r);

    if (call == NULL || call->header) {
        return ngx_http_next_header_filter(r);
    }

    /* nothing of a subrequest's header goes further */

    call->header = 1;
    r->header_sent = 1;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "moa %V call %ui header: status %ui",
                   ngx_http_moa_call_stage_name(call->stage), call->index,
                   r->headers_out.status);

    if (call->forward && ngx_http_moa_credentials_hide(call)) {
        /* kept, for the operator: the client gets a message of its own */
        call->forward = 0;
    }

    if (call->forward) {

        /* what a passthrough answered, for usage and capture */

        if (r->headers_out.status == NGX_HTTP_OK && call->ctx->pass_usage) {
            if (!ngx_http_moa_is_sse(r)) {
                call->observe = 1;

            } else if (call->ctx->capture || call->ctx->req.include_usage
                       || call->ctx->responses)
            {
                /* a Responses stream ends with its usage, always */
                call->observe_sse = 1;
                ngx_http_moa_sse_init(&call->ctx->sse,
                                      call->ctx->conf->max_response_size);
            }
        }

        return ngx_http_moa_forward_header(r, call);
    }

    if (call->stream && r->headers_out.status == NGX_HTTP_OK
        && ngx_http_moa_is_sse(r))
    {
        call->sse_reply = 1;
        ngx_http_moa_sse_init(&call->ctx->sse,
                              call->ctx->conf->max_response_size);

        return ngx_http_moa_output_sse_header(call->ctx);
    }

    /* a reply of a known length is kept in one allocation of that size */

    if (r->headers_out.content_length_n > 0
        && r->headers_out.content_length_n
           <= (off_t) call->ctx->conf->max_response_size)
    {
        (void) ngx_http_moa_buf_reserve(&call->reply,
                                    (size_t) r->headers_out.content_length_n);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_moa_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_chain_t          *cl;
    ngx_http_moa_ctx_t   *ctx;
    ngx_http_moa_call_t  *call;

    if (r == r->main) {
        ctx = ngx_http_get_module_ctx(r, ngx_http_moa_module);

        if (ctx && ctx->rewrite_error) {
            return ngx_http_moa_error_body(r, ctx, in);
        }

        return ngx_http_next_body_filter(r, in);
    }

    call = ngx_http_moa_call_get(r);

    if (call == NULL || !call->header) {
        return ngx_http_next_body_filter(r, in);
    }

    if (call->forward) {
        if (call->stream && in && ngx_buf_size(in->buf)
            && r->headers_out.status == NGX_HTTP_OK)
        {
            ngx_http_moa_metrics_first_event(call->ctx);
        }

        if ((call->observe || call->observe_sse)
            && ngx_http_moa_filter_reply_observe(r, call, in) != NGX_OK)
        {
            return NGX_ERROR;
        }

        /*
         * the reply's end (the subrequest's last buffer, sent only once the
         * provider's reply is complete) ends the client's response as well:
         * a pass of the main request through the filters less
         */

        for (cl = in; cl; cl = cl->next) {
            if (cl->buf->last_in_chain && cl->next == NULL) {
                cl->buf->last_buf = 1;
                call->ctx->last_sent = 1;
                call->complete = 1;
            }
        }

        return ngx_http_next_body_filter(r, in);
    }

    if (call->sse_reply) {
        return ngx_http_moa_filter_reply_stream(r, call, in,
                                               ngx_http_next_body_filter);
    }

    if (ngx_http_moa_filter_reply_keep(r, call, in) != NGX_OK) {
        return NGX_ERROR;
    }

    if (call->stream && r->headers_out.status == NGX_HTTP_OK
        && !call->too_big)
    {
        return ngx_http_moa_filter_reply_sniff(r, call,
                                              ngx_http_next_body_filter);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_moa_error_header(ngx_http_request_t *r, ngx_http_moa_ctx_t *ctx)
{
    const char            *msg, *code;
    ngx_http_moa_buf_t     json;
    ngx_http_moa_error_t   err;

    code = NULL;

    switch (r->headers_out.status) {

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        msg = "The request body is too large (client_max_body_size).";
        code = "request_too_large";
        break;

    case NGX_HTTP_NOT_ALLOWED:
        msg = "Method not allowed: use POST.";
        code = "method_not_allowed";
        break;

    case NGX_HTTP_REQUEST_TIME_OUT:
        msg = "The request body was not received in time.";
        break;

    case NGX_HTTP_BAD_REQUEST:
        msg = "The request could not be read.";
        break;

    case NGX_HTTP_LENGTH_REQUIRED:
        msg = "A request body is required.";
        break;

    default:
        msg = r->headers_out.status >= NGX_HTTP_INTERNAL_SERVER_ERROR
              ? "The server had an error while processing your request."
              : "The request was rejected.";
    }

    ngx_http_moa_error_set(&err, (int) r->headers_out.status,
                           r->headers_out.status
                           >= NGX_HTTP_INTERNAL_SERVER_ERROR
                           ? "server_error" : "invalid_request_error",
                           code, NULL, "%s", msg);

    ngx_memzero(&json, sizeof(ngx_http_moa_buf_t));
    ngx_http_moa_error_json(&json, &err);

    if (json.nomem) {
        ngx_http_moa_buf_free(&json);
        return NGX_ERROR;
    }

    ctx->error_body.data = ngx_pnalloc(r->pool, json.len);
    if (ctx->error_body.data == NULL) {
        ngx_http_moa_buf_free(&json);
        return NGX_ERROR;
    }

    ctx->error_body.len = json.len;
    ngx_memcpy(ctx->error_body.data, json.data, json.len);
    ngx_http_moa_buf_free(&json);

    ctx->rewrite_error = 1;

    r->headers_out.content_type_len = sizeof("application/json") - 1;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.charset.len = 0;
    r->headers_out.content_length_n = ctx->error_body.len;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);

    /* nginx's own error pages (405, 413...) carry the id as ours do */
    if (ngx_http_moa_output_request_id(r) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_moa_error_body(ngx_http_request_t *r, ngx_http_moa_ctx_t *ctx,
    ngx_chain_t *in)
{
    ngx_buf_t    *b;
    ngx_uint_t    last;
    ngx_chain_t  *cl, out;

    /* nginx's own page is dropped; ours goes with the last buffer */

    last = 0;

    for (cl = in; cl; cl = cl->next) {
        if (cl->buf->last_buf) {
            last = 1;
        }

        cl->buf->pos = cl->buf->last;
    }

    if (!last) {
        return in ? NGX_OK : ngx_http_next_body_filter(r, in);
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = ctx->error_body.data;
    b->last = b->pos + ctx->error_body.len;
    b->memory = 1;
    b->last_buf = 1;

    out.buf = b;
    out.next = NULL;

    ctx->rewrite_error = 0;

    return ngx_http_next_body_filter(r, &out);
}


/* a passthrough reply: the provider's status and headers, as is */
static ngx_int_t
ngx_http_moa_forward_header(ngx_http_request_t *sr, ngx_http_moa_call_t *call)
{
    ngx_uint_t           i;
    ngx_list_part_t     *part;
    ngx_table_elt_t     *h, *ho;
    ngx_http_request_t  *r;
    ngx_http_moa_ctx_t  *ctx;

    ctx = call->ctx;
    r = ctx->request;

    ctx->own_response = 1;
    ctx->header_sent = 1;

    r->headers_out.status = sr->headers_out.status;
    r->headers_out.status_line.len = 0;
    r->headers_out.content_type = sr->headers_out.content_type;
    r->headers_out.content_type_len = sr->headers_out.content_type_len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = sr->headers_out.content_length_n;

    part = &sr->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash == 0) {
            continue;
        }

        ho = ngx_list_push(&r->headers_out.headers);
        if (ho == NULL) {
            return NGX_ERROR;
        }

        *ho = h[i];
#if (nginx_version >= 1023000)
        ho->next = NULL;
#endif
    }

    if (ngx_http_moa_is_sse(sr)) {
#if (NGX_HTTP_GZIP)
        r->gzip_tested = 1;
        r->gzip_ok = 0;
#endif
    }

    return ngx_http_send_header(r);
}


/* output of the main request's own, while the synthesis call is active */
ngx_int_t
ngx_http_moa_filter_send_sub(ngx_http_moa_ctx_t *ctx, ngx_http_request_t *sr,
    u_char *data, size_t len)
{
    return ngx_http_moa_output_chain(ctx, sr, ngx_http_next_body_filter,
                                     data, len, 0);
}
