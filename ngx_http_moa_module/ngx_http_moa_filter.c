
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Header and body filters.  For the module's subrequests: keep a reply
 * in memory, rewrite a streamed synthesis event by event, or forward a
 * passthrough reply as is.  For the main request: turn an error page that
 * nginx itself generates in a MoA or moa_models location into an OpenAI
 * error.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_moa_common.h"
#include "ngx_http_moa_filter.h"
#include "ngx_http_moa_output.h"
#include "ngx_http_moa_call.h"
#include "ngx_http_moa_credentials.h"
#include "ngx_http_moa_metrics.h"


static ngx_int_t ngx_http_moa_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_moa_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_moa_error_header(ngx_http_request_t *r,
    ngx_http_moa_ctx_t *ctx);
static ngx_int_t ngx_http_moa_error_body(ngx_http_request_t *r,
    ngx_http_moa_ctx_t *ctx, ngx_chain_t *in);
static ngx_int_t ngx_http_moa_forward_header(ngx_http_request_t *sr,
    ngx_http_moa_call_t *call);
static ngx_int_t ngx_http_moa_filter_keep_reply(ngx_http_request_t *r,
    ngx_http_moa_call_t *call, ngx_chain_t *in);
static ngx_int_t ngx_http_moa_filter_stream(ngx_http_request_t *r,
    ngx_http_moa_call_t *call, ngx_chain_t *in);
static int ngx_http_moa_feed(ngx_http_request_t *r,
    ngx_http_moa_call_t *call, ngx_buf_t *b,
    ngx_http_moa_sse_event_pt handler);
static int ngx_http_moa_stream_event_handler(void *data, const char *event,
    size_t len);
static ngx_int_t ngx_http_moa_observe(ngx_http_request_t *r,
    ngx_http_moa_call_t *call, ngx_chain_t *in);
static int ngx_http_moa_collect_handler(void *data, const char *event,
    size_t len);
static ngx_int_t ngx_http_moa_buf_data(ngx_http_request_t *r, ngx_buf_t *b,
    ngx_http_moa_buf_t *to, size_t max);
static size_t ngx_http_moa_busy_size(ngx_http_moa_ctx_t *ctx);


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

            } else if (call->ctx->capture || call->ctx->req.include_usage) {
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
            && ngx_http_moa_observe(r, call, in) != NGX_OK)
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
            }
        }

        return ngx_http_next_body_filter(r, in);
    }

    if (call->sse_reply) {
        return ngx_http_moa_filter_stream(r, call, in);
    }

    return ngx_http_moa_filter_keep_reply(r, call, in);
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


/* a reply kept in memory, up to moa_max_response_size */
static ngx_int_t
ngx_http_moa_filter_keep_reply(ngx_http_request_t *r, ngx_http_moa_call_t *call,
    ngx_chain_t *in)
{
    size_t        max;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    max = call->ctx->conf->max_response_size;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (!call->too_big) {
            if (ngx_http_moa_buf_data(r, b, &call->reply, max) != NGX_OK) {
                call->too_big = 1;
                ngx_http_moa_buf_free(&call->reply);
            }
        }

        b->pos = b->last;

        if (b->in_file) {
            b->file_pos = b->file_last;
        }

        if (b->last_buf || b->last_in_chain) {
            call->complete = 1;
        }
    }

    return NGX_OK;
}


/* appends a buffer's bytes (memory or file) to "to", within max */
static ngx_int_t
ngx_http_moa_buf_data(ngx_http_request_t *r, ngx_buf_t *b,
    ngx_http_moa_buf_t *to, size_t max)
{
    off_t    size;
    ssize_t  n;

    if (ngx_buf_in_memory(b)) {
        size = b->last - b->pos;

    } else if (b->in_file) {
        size = b->file_last - b->file_pos;

    } else {
        return NGX_OK;
    }

    if (size == 0) {
        return NGX_OK;
    }

    if ((off_t) (max - to->len) < size
        || ngx_http_moa_buf_reserve(to, (size_t) size) != 0)
    {
        return NGX_DECLINED;
    }

    if (ngx_buf_in_memory(b)) {
        ngx_memcpy(to->data + to->len, b->pos, (size_t) size);

    } else {
        n = ngx_read_file(b->file, (u_char *) to->data + to->len,
                          (size_t) size, b->file_pos);

        if (n != size) {
            return NGX_DECLINED;
        }
    }

    to->len += (size_t) size;

    return NGX_OK;
}


/* one buffer of a streamed reply (in memory or in a file) to the parser */
static int
ngx_http_moa_feed(ngx_http_request_t *r, ngx_http_moa_call_t *call,
    ngx_buf_t *b, ngx_http_moa_sse_event_pt handler)
{
    if (ngx_buf_in_memory(b)) {
        return ngx_http_moa_sse_feed(&call->ctx->sse, (char *) b->pos,
                                     b->last - b->pos, handler, call);
    }

    if (!b->in_file || b->file_last == b->file_pos) {
        return 0;
    }

    call->ctx->spool.len = 0;

    if (ngx_http_moa_buf_data(r, b, &call->ctx->spool,
                              call->ctx->conf->max_response_size)
        != NGX_OK)
    {
        return NGX_HTTP_MOA_SSE_TOO_BIG;
    }

    return ngx_http_moa_sse_feed(&call->ctx->sse, call->ctx->spool.data,
                                 call->ctx->spool.len, handler, call);
}


/*
 * A streamed synthesis.  Input is copied and consumed at once unless more
 * than NGX_HTTP_MOA_STREAM_BUSY_MAX of output is unsent: then it is held,
 * so that the upstream stops reading and a slow client slows the provider.
 */
static ngx_int_t
ngx_http_moa_filter_stream(ngx_http_request_t *r, ngx_http_moa_call_t *call,
    ngx_chain_t *in)
{
    int                  rc;
    size_t               size;
    ngx_int_t            rv;
    ngx_buf_t           *b;
    ngx_chain_t         *cl, *out;
    ngx_http_moa_ctx_t  *ctx;

    ctx = call->ctx;

    if (in && ngx_chain_add_copy(r->pool, &call->ctx->held, in) != NGX_OK) {
        return NGX_ERROR;
    }

    rv = NGX_OK;

    if (in == NULL || ctx->busy) {
        rv = ngx_http_next_body_filter(r, NULL);

        if (rv == NGX_ERROR) {
            return NGX_ERROR;
        }

        out = NULL;
        ngx_chain_update_chains(r->pool, &ctx->free, &ctx->busy, &out,
                                (ngx_buf_tag_t) &ngx_http_moa_module);
    }

    while (call->ctx->held && ngx_http_moa_busy_size(ctx)
                         <= NGX_HTTP_MOA_STREAM_BUSY_MAX)
    {
        cl = call->ctx->held;
        b = cl->buf;
        call->ctx->held = cl->next;

        if (!ctx->stream.failed && !ctx->stream.done) {
            ctx->scratch.len = 0;

            rc = ngx_http_moa_feed(r, call, b,
                                   ngx_http_moa_stream_event_handler);

            if (rc != 0) {
                ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                              "moa synthesis stream failed: %s",
                              rc == NGX_HTTP_MOA_SSE_TOO_BIG
                              ? "event over moa_max_response_size"
                              : rc < 0 ? "out of memory"
                              : ctx->stream.error.len
                              ? "the provider sent an error event"
                              : "the provider sent a malformed event");
                ctx->stream.failed = 1;
            }

            size = ctx->scratch.len;

            if (size) {
                ngx_http_moa_metrics_first_event(ctx);

                out = ngx_http_moa_output_chain_buf(ctx, r->pool,
                                        (u_char *) ctx->scratch.data,
                                        size, 0);
                if (out == NULL) {
                    return NGX_ERROR;
                }

                ctx->last_output = ngx_current_msec;

                rv = ngx_http_next_body_filter(r, out);

                if (rv == NGX_ERROR) {
                    return NGX_ERROR;
                }

                ngx_chain_update_chains(r->pool, &ctx->free, &ctx->busy,
                                        &out,
                                        (ngx_buf_tag_t) &ngx_http_moa_module);
            }
        }

        b->pos = b->last;

        if (b->in_file) {
            b->file_pos = b->file_last;
        }

        if (b->last_buf || b->last_in_chain) {
            call->complete = 1;
        }

        ngx_free_chain(r->pool, cl);
    }

    return rv;
}


static int
ngx_http_moa_stream_event_handler(void *data, const char *event, size_t len)
{
    ngx_http_moa_call_t  *call = data;

    int                  rc;
    ngx_http_moa_ctx_t  *ctx;

    ctx = call->ctx;

    if (len == 0 || ctx->stream.done) {
        return 0;
    }

    rc = ngx_http_moa_stream_event(&ctx->stream, event, len,
                                   (char *) ctx->model->id.data,
                                   ctx->model->id.len, &ctx->scratch);

    switch (rc) {

    case NGX_HTTP_MOA_EVENT_OK:
        if (ctx->capture) {
            (void) ngx_http_moa_collect_chunk(&ctx->collect, event, len);
        }

        return 0;

    case NGX_HTTP_MOA_EVENT_DONE:
        return 0;

    case NGX_HTTP_MOA_EVENT_ERROR:
        return 1;

    default:
        return NGX_HTTP_MOA_SSE_NOMEM;
    }
}


static size_t
ngx_http_moa_busy_size(ngx_http_moa_ctx_t *ctx)
{
    size_t        size;
    ngx_chain_t  *cl;

    size = 0;

    for (cl = ctx->busy; cl; cl = cl->next) {
        size += cl->buf->last - cl->buf->pos;
    }

    return size;
}


/* output of the main request's own, while the synthesis call is active */
ngx_int_t
ngx_http_moa_filter_send_sub(ngx_http_moa_ctx_t *ctx, ngx_http_request_t *sr,
    u_char *data, size_t len)
{
    return ngx_http_moa_output_chain(ctx, sr, ngx_http_next_body_filter,
                                     data, len, 0);
}


/*
 * A passthrough reply passes as is; a copy (within moa_max_response_size)
 * or, for a stream, its events give the usage and the captured answer.
 */
static ngx_int_t
ngx_http_moa_observe(ngx_http_request_t *r, ngx_http_moa_call_t *call,
    ngx_chain_t *in)
{
    int          rc;
    size_t       max;
    ngx_buf_t   *b;
    ngx_chain_t *cl;

    max = call->ctx->conf->max_response_size;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (call->observe) {
            if (ngx_http_moa_buf_data(r, b, &call->reply, max) != NGX_OK) {
                call->observe = 0;
                ngx_http_moa_buf_free(&call->reply);
            }

            continue;
        }

        if (!call->observe_sse) {
            break;
        }

        rc = ngx_http_moa_feed(r, call, b, ngx_http_moa_collect_handler);

        if (rc != 0) {
            call->observe_sse = 0;
            call->ctx->collect.failed = 1;
        }
    }

    return NGX_OK;
}


static int
ngx_http_moa_collect_handler(void *data, const char *event, size_t len)
{
    ngx_http_moa_call_t  *call = data;

    if (len == 0 || (len == 6 && ngx_strncmp(event, "[DONE]", 6) == 0)) {
        return 0;
    }

    return ngx_http_moa_collect_chunk(&call->ctx->collect, event, len);
}
