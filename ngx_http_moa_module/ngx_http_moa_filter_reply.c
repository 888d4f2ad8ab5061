
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The body of a call's reply, in the body filter: kept in memory, a
 * synthesis stream rewritten event by event (or a reply found to be a
 * stream), a passthrough's observed for its usage and captured answer.
 * The next body filter is the caller's (ngx_http_moa_filter.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_moa_common.h"
#include "ngx_http_moa_filter_reply.h"
#include "ngx_http_moa_output.h"
#include "ngx_http_moa_call.h"
#include "ngx_http_moa_metrics.h"
#include "ngx_http_moa_responses.h"

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_sse.h"
#include "ngx_http_moa_collect.h"
#include "ngx_http_moa_stream.h"


static ngx_int_t ngx_http_moa_filter_reply_buf_data(ngx_http_request_t *r,
    ngx_buf_t *b, ngx_http_moa_buf_t *to, size_t max);
static int ngx_http_moa_filter_reply_feed(ngx_http_request_t *r,
    ngx_http_moa_call_t *call, ngx_buf_t *b,
    ngx_http_moa_sse_event_pt handler);
static int ngx_http_moa_filter_reply_event(void *data, const char *event,
    size_t len);
static void ngx_http_moa_filter_reply_stop(ngx_http_request_t *r);
static size_t ngx_http_moa_filter_reply_busy_size(ngx_http_moa_ctx_t *ctx);
static int ngx_http_moa_filter_reply_collect(void *data, const char *event,
    size_t len);


/* a reply kept in memory, up to moa_max_response_size */
ngx_int_t
ngx_http_moa_filter_reply_keep(ngx_http_request_t *r,
    ngx_http_moa_call_t *call, ngx_chain_t *in)
{
    size_t        max;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    max = call->ctx->conf->max_response_size;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (!call->too_big) {
            if (ngx_http_moa_filter_reply_buf_data(r, b, &call->reply, max)
                != NGX_OK)
            {
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


/*
 * A streamed call's reply without "Content-Type: text/event-stream" (none,
 * or a wrong one: openai-api-mock sends none) is an event stream all the
 * same when its first non-blank bytes are a field of one: what was kept
 * so far goes to the stream, and the rest follows it.
 */
ngx_int_t
ngx_http_moa_filter_reply_sniff(ngx_http_request_t *r,
    ngx_http_moa_call_t *call, ngx_http_output_body_filter_pt next)
{
    size_t        len;
    u_char       *p, *last;
    ngx_buf_t    *b;
    ngx_uint_t    i;
    ngx_chain_t   cl;

    static ngx_str_t  fields[] = {
        ngx_string("data:"), ngx_string("event:"), ngx_string("id:"),
        ngx_string(":")
    };

    p = (u_char *) call->reply.data;
    last = p + call->reply.len;

    while (p < last && (*p == ' ' || *p == '\t' || *p == CR || *p == LF)) {
        p++;
    }

    len = last - p;

    for (i = 0; i < sizeof(fields) / sizeof(ngx_str_t); i++) {
        if (len >= fields[i].len
            && ngx_strncmp(p, fields[i].data, fields[i].len) == 0)
        {
            break;
        }
    }

    /* not (or not yet: "da" may be followed by "ta:") an event stream */

    if (i == sizeof(fields) / sizeof(ngx_str_t)) {
        return NGX_OK;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "moa %V call %ui reply is an event stream",
                   ngx_http_moa_call_stage_name(call->stage), call->index);

    call->sse_reply = 1;
    ngx_http_moa_sse_init(&call->ctx->sse, call->ctx->conf->max_response_size);

    if (ngx_http_moa_output_sse_header(call->ctx) == NGX_ERROR) {
        return NGX_ERROR;
    }

    /* the reply's memory stays until the request ends */

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = (u_char *) call->reply.data;
    b->last = last;
    b->memory = 1;

    cl.buf = b;
    cl.next = NULL;

    return ngx_http_moa_filter_reply_stream(r, call, &cl, next);
}


/* appends a buffer's bytes (memory or file) to "to", within max */
static ngx_int_t
ngx_http_moa_filter_reply_buf_data(ngx_http_request_t *r, ngx_buf_t *b,
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
ngx_http_moa_filter_reply_feed(ngx_http_request_t *r,
    ngx_http_moa_call_t *call, ngx_buf_t *b, ngx_http_moa_sse_event_pt handler)
{
    if (ngx_buf_in_memory(b)) {
        return ngx_http_moa_sse_feed(&call->ctx->sse, (char *) b->pos,
                                     b->last - b->pos, handler, call);
    }

    if (!b->in_file || b->file_last == b->file_pos) {
        return 0;
    }

    call->ctx->spool.len = 0;

    if (ngx_http_moa_filter_reply_buf_data(r, b, &call->ctx->spool,
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
ngx_int_t
ngx_http_moa_filter_reply_stream(ngx_http_request_t *r,
    ngx_http_moa_call_t *call, ngx_chain_t *in,
    ngx_http_output_body_filter_pt next)
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
        rv = next(r, NULL);

        if (rv == NGX_ERROR) {
            return NGX_ERROR;
        }

        out = NULL;
        ngx_chain_update_chains(r->pool, &ctx->free, &ctx->busy, &out,
                                (ngx_buf_tag_t) &ngx_http_moa_module);
    }

    while (call->ctx->held && ngx_http_moa_filter_reply_busy_size(ctx)
                         <= NGX_HTTP_MOA_STREAM_BUSY_MAX)
    {
        cl = call->ctx->held;
        b = cl->buf;
        call->ctx->held = cl->next;

        if (!ctx->stream.failed && !ctx->stream.done) {
            ctx->scratch.len = 0;

            rc = ngx_http_moa_filter_reply_feed(r, call, b,
                                            ngx_http_moa_filter_reply_event);

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

            if (ctx->stream.done || ctx->stream.failed) {
                ngx_http_moa_filter_reply_stop(r);
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

                rv = next(r, out);

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


/*
 * After [DONE], or a malformed or an error event, nothing the provider may
 * still send is read: its reply is ended here as nginx ends a whole one
 * (the upstream is finalized at once and its connection not kept), so
 * that the client's stream is finished now, not when the provider closes
 * or proxy_read_timeout runs out.  A reply already read whole (its last
 * chunk came with [DONE]) is left as it is: its connection may be kept.
 */
static void
ngx_http_moa_filter_reply_stop(ngx_http_request_t *r)
{
    ngx_http_upstream_t  *u;

    u = r->upstream;

    if (u == NULL) {
        return;
    }

    if (u->pipe && u->buffering) {
        if (!u->pipe->upstream_done) {
            u->pipe->upstream_done = 1;
            u->keepalive = 0;
        }

        return;
    }

    if (u->length != 0) {
        u->length = 0;
        u->keepalive = 0;
    }
}


static int
ngx_http_moa_filter_reply_event(void *data, const char *event, size_t len)
{
    ngx_http_moa_call_t  *call = data;

    int                  rc;
    ngx_http_moa_ctx_t  *ctx;

    ctx = call->ctx;

    if (len == 0 || ctx->stream.done) {
        return 0;
    }

    rc = ctx->responses
         ? ngx_http_moa_responses_event(ctx, event, len)
         : ngx_http_moa_stream_event(&ctx->stream, event, len,
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
ngx_http_moa_filter_reply_busy_size(ngx_http_moa_ctx_t *ctx)
{
    size_t        size;
    ngx_chain_t  *cl;

    size = 0;

    for (cl = ctx->busy; cl; cl = cl->next) {
        size += cl->buf->last - cl->buf->pos;
    }

    return size;
}


/*
 * A passthrough reply passes as is; a copy (within moa_max_response_size)
 * or, for a stream, its events give the usage and the captured answer.
 */
ngx_int_t
ngx_http_moa_filter_reply_observe(ngx_http_request_t *r,
    ngx_http_moa_call_t *call, ngx_chain_t *in)
{
    int          rc;
    size_t       max;
    ngx_buf_t   *b;
    ngx_chain_t *cl;

    max = call->ctx->conf->max_response_size;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (call->observe) {
            if (ngx_http_moa_filter_reply_buf_data(r, b, &call->reply, max)
                != NGX_OK)
            {
                call->observe = 0;
                ngx_http_moa_buf_free(&call->reply);
            }

            continue;
        }

        if (!call->observe_sse) {
            break;
        }

        rc = ngx_http_moa_filter_reply_feed(r, call, b,
                                            ngx_http_moa_filter_reply_collect);

        if (rc != 0) {
            call->observe_sse = 0;
            call->ctx->collect.failed = 1;
        }
    }

    return NGX_OK;
}


static int
ngx_http_moa_filter_reply_collect(void *data, const char *event, size_t len)
{
    ngx_http_moa_call_t  *call = data;

    if (len == 0 || (len == 6 && ngx_strncmp(event, "[DONE]", 6) == 0)) {
        return 0;
    }

    if (call->ctx->responses) {
        /* forwarded to moa_responses_pass: typed events */
        return ngx_http_moa_responses_forwarded_event(call->ctx, event, len);
    }

    return ngx_http_moa_collect_chunk(&call->ctx->collect, event, len);
}
