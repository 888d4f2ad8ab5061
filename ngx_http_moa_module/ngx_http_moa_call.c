
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * One upstream call of a request: a subrequest to an internal location,
 * with its own body and headers, in the calls' own pool; its result when
 * it is done (the reply parsed, or why it failed), its cancellation, and
 * the names of the stages a call belongs to.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_moa_common.h"
#include "ngx_http_moa_call.h"
#include "ngx_http_moa_call_body.h"
#include "ngx_http_moa_call_pool.h"
#include "ngx_http_moa_credentials.h"
#include "ngx_http_moa_shield.h"

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_error.h"
#include "ngx_http_moa_body.h"
#include "ngx_http_moa_reply.h"
#include "ngx_http_moa_usage.h"


static ngx_int_t ngx_http_moa_call_done(ngx_http_request_t *sr, void *data,
    ngx_int_t rc);
static void ngx_http_moa_call_result(ngx_http_moa_call_t *call,
    ngx_http_request_t *sr, ngx_int_t rc);
static void ngx_http_moa_call_raw_result(ngx_http_moa_call_t *call,
    ngx_http_request_t *sr, ngx_int_t rc);
static void ngx_http_moa_call_failed(ngx_http_moa_call_t *call,
    ngx_http_request_t *sr, ngx_int_t rc, const char *what);
static void ngx_http_moa_call_retry_after(ngx_http_moa_call_t *call,
    ngx_http_request_t *sr);
static void ngx_http_moa_call_release(ngx_http_moa_call_t *call,
    ngx_http_request_t *sr);


static ngx_str_t  ngx_http_moa_post = ngx_string("POST ");


static ngx_str_t  ngx_http_moa_stage_names[] = {
    ngx_string("proposal"),
    ngx_string("critique"),
    ngx_string("synthesis"),
    ngx_string("passthrough"),
    ngx_string("store")
};


ngx_str_t *
ngx_http_moa_call_stage_name(ngx_uint_t stage)
{
    return &ngx_http_moa_stage_names[stage];
}


/* why a call failed: allocated only for calls that fail */
ngx_http_moa_error_t *
ngx_http_moa_call_error(ngx_http_moa_call_t *call)
{
    static ngx_http_moa_error_t  nomem = {
        502, "upstream_error", NULL, NULL, "the call failed", { "" }
    };

    if (call->error == NULL) {
        call->error = ngx_pcalloc(call->ctx->request->pool,
                                  sizeof(ngx_http_moa_error_t));
        if (call->error == NULL) {
            return &nomem;
        }
    }

    return call->error;
}


ngx_http_moa_call_t *
ngx_http_moa_call_get(ngx_http_request_t *r)
{
    ngx_http_moa_call_t  *call;

    if (r == r->main) {
        return NULL;
    }

    call = ngx_http_get_module_ctx(r, ngx_http_moa_module);

    if (call == NULL || call->sr != r) {
        return NULL;
    }

    return call;
}


ngx_int_t
ngx_http_moa_call_start(ngx_http_moa_ctx_t *ctx, ngx_http_moa_call_t *call,
    ngx_uint_t background)
{
    ngx_int_t                    rc;
    ngx_uint_t                   flags, staged;
    ngx_pool_t                  *pool, *main_pool;
    ngx_http_request_t          *r, *sr;
    ngx_http_request_body_t     *rb;
    ngx_http_post_subrequest_t  *ps;

    r = ctx->request;

    /*
     * the work of the calls (upstream, proxy state, request and header
     * buffers) goes to a pool of their own: in the client's small request
     * pool, which already holds the request, its context and the
     * subrequests, it would take more blocks, and every allocation would
     * walk them (a MoA request's calls would take a dozen).  The calls of
     * a stage that another follows (the proposals, the critique) get a
     * pool of the stage, subrequests included, destroyed once the stage
     * is over (ngx_http_moa_call_pool.c)
     */

    staged = background && !call->raw
             && (call->stage == NGX_HTTP_MOA_PROPOSAL
                 || call->stage == NGX_HTTP_MOA_CRITIQUE);

    /* a layer's proposals share the pool the first of them makes */

    pool = ngx_http_moa_call_pool_get(ctx,
                         staged ? &ctx->stage_pool : &ctx->calls_pool,
                         ngx_http_moa_call_pool_size(call,
                             call->stage == NGX_HTTP_MOA_PROPOSAL && staged
                             ? ctx->per_layer : 1, staged));
    if (pool == NULL) {
        return NGX_ERROR;
    }

    ps = ngx_palloc(staged ? pool : r->pool,
                    sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        return NGX_ERROR;
    }

    ps->handler = ngx_http_moa_call_done;
    ps->data = call;

    flags = background ? NGX_HTTP_SUBREQUEST_BACKGROUND : 0;

    /*
     * nginx makes a subrequest (the request, its module contexts, header
     * lists, its posting) in the parent's pool: a staged call's is made
     * in the stage's, the parent's pool set to it for the while
     */

    main_pool = r->pool;

    if (staged) {
        r->pool = pool;
    }

    rc = ngx_http_subrequest(r, &call->uri, call->args.len ? &call->args
                                                           : NULL,
                             &sr, ps, flags);

    r->pool = main_pool;

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    sr->pool = pool;

    call->ctx = ctx;
    call->sr = sr;
    call->start = ngx_current_msec;
    call->started = 1;

    ngx_http_set_ctx(sr, call, ngx_http_moa_module);

    /* its first run, posted by ngx_http_subrequest(), goes through ours */
    sr->write_event_handler = ngx_http_moa_shield_run;

    if (call->raw && call->body.nparts == 0) {
        /* a store's read or delete: a GET without a body */
        sr->request_body = NULL;
        call->body_len = 0;

    } else {
        sr->method = NGX_HTTP_POST;
        sr->method_name = ngx_http_moa_post;
        sr->method_name.len--;

        rb = ngx_http_moa_call_body(ctx, call);
        if (rb == NULL) {
            return NGX_ERROR;
        }

        sr->request_body = rb;
    }

    if (ngx_http_moa_call_body_headers(ctx, call) != NGX_OK) {
        return NGX_ERROR;
    }

    /* $moa_upstream_calls: the provider's */

    if (!call->raw) {
        ctx->ncalls++;
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "moa %V call %ui to \"%V\", body %uz bytes",
                   ngx_http_moa_call_stage_name(call->stage), call->index,
                   &call->uri, call->body_len);

    return NGX_OK;
}


/*
 * A call gets its body's length here, in the first phase after the last
 * lookup of its location (the rewrite phases may look it up again) and
 * before its content handler: the proxy sends the length as the call's
 * Content-Length ($proxy_internal_body_length), a call abandoned before
 * it started included.  The handlers of a phase run in the reverse order
 * of their registration, and a dynamic module registers after the static
 * ones: this one runs first, before any handler that could end the phase.
 */
ngx_int_t
ngx_http_moa_call_preaccess(ngx_http_request_t *r)
{
    ngx_http_moa_call_t  *call;

    if (r == r->main) {
        return NGX_DECLINED;
    }

    call = ngx_http_moa_call_get(r);

    if (call != NULL) {
        r->headers_in.content_length_n = call->body_len;
    }

    return NGX_DECLINED;
}


/*
 * post_subrequest: may run more than once, and must never return an
 * error (that would terminate the client's request): record, wake, OK.
 */
static ngx_int_t
ngx_http_moa_call_done(ngx_http_request_t *sr, void *data, ngx_int_t rc)
{
    ngx_http_moa_call_t  *call = data;

    ngx_http_moa_ctx_t  *ctx;

    if (call->done) {
        return NGX_OK;
    }

    call->done = 1;
    call->elapsed = ngx_current_msec - call->start;
    call->client_closed = (rc == NGX_HTTP_CLIENT_CLOSED_REQUEST);

    ctx = call->ctx;

    ngx_http_moa_call_result(call, sr, rc);

    if (call->stage == NGX_HTTP_MOA_PROPOSAL) {
        ctx->pending--;
    }

    ngx_log_debug6(NGX_LOG_DEBUG_HTTP, sr->connection->log, 0,
                   "moa %V call %ui done: rc %i, status %ui, ok %ud, "
                   "%M ms", ngx_http_moa_call_stage_name(call->stage),
                   call->index, rc, call->status, call->ok, call->elapsed);

    /* nginx does not wake the parent of a background subrequest */

    if (sr->background) {
        ngx_http_moa_call_release(call, sr);
        (void) ngx_http_post_request(ctx->request, NULL);
    }

    return NGX_OK;
}


/*
 * What a finished background call no longer needs is given back at once,
 * not when the client's request ends: its request body, the upstream's
 * buffer (a large allocation in the main pool), and the reply's tokens
 * (the candidates are spans of the reply's text).  Not for calls whose
 * output went to the client: their buffers may still be queued.
 */
static void
ngx_http_moa_call_release(ngx_http_moa_call_t *call, ngx_http_request_t *sr)
{
    ngx_http_upstream_t  *u;

    ngx_http_moa_body_free(&call->body);
    ngx_http_moa_buf_free(&call->flat);

    u = sr->upstream;

    if (u && u->buffer.start) {
        (void) ngx_pfree(sr->pool, u->buffer.start);
        u->buffer.start = NULL;
        u->buffer.pos = NULL;
        u->buffer.last = NULL;
        u->buffer.end = NULL;
    }

    if (call->stage != NGX_HTTP_MOA_SYNTHESIS) {
        ngx_http_moa_json_free(&call->parsed.json);
    }
}


static void
ngx_http_moa_call_result(ngx_http_moa_call_t *call, ngx_http_request_t *sr,
    ngx_int_t rc)
{
    int                    shaped, ignored;
    const char            *what;
    ngx_http_moa_ctx_t    *ctx;
    ngx_http_moa_error_t   err, *e;

    ctx = call->ctx;
    what = (const char *) ngx_http_moa_call_stage_name(call->stage)->data;

    if (call->raw) {
        ngx_http_moa_call_raw_result(call, sr, rc);
        return;
    }

    ngx_http_moa_call_retry_after(call, sr);

    if (rc == NGX_ERROR || rc >= NGX_HTTP_SPECIAL_RESPONSE || !call->header) {
        ngx_http_moa_call_failed(call, sr, rc, what);
        return;
    }

    call->status = sr->headers_out.status;

    if (call->too_big) {
        ngx_http_moa_error_set(ngx_http_moa_call_error(call), 502,
                               "upstream_error", "upstream_reply_too_large",
                               NULL,
                               "the %s call's reply is over "
                               "moa_max_response_size (%lu bytes)", what,
                               (unsigned long) ctx->conf->max_response_size);
        ngx_log_error(NGX_LOG_WARN, sr->connection->log, 0,
                      "moa %s call %ui failed: reply over "
                      "moa_max_response_size", what, call->index);
        return;
    }

    /*
     * nginx finalizes a reply cut short after its header ("upstream
     * prematurely closed connection", a reset) with rc 0 as well: only the
     * last buffer, which it sends for a whole reply alone, tells them
     * apart.  A cut reply is a failed call, whatever its bytes look like;
     * a cut passthrough then reaches the client as a cut.  (Only for
     * upstreams: nginx ends an empty reply of its own, "return 204" in the
     * location, without a last buffer.)
     */

    if (sr->upstream && !sr->header_only && !call->complete
        && !call->sse_reply)
    {
        call->status = NGX_HTTP_BAD_GATEWAY;
        ngx_http_moa_error_set(ngx_http_moa_call_error(call), 502,
                               "upstream_error", "upstream_error", NULL,
                               "the %s call's reply was cut short", what);
        ngx_log_error(NGX_LOG_WARN, sr->connection->log, 0,
                      "moa %s call %ui failed: reply cut short", what,
                      call->index);
        return;
    }

    if (call->forward) {
        call->ok = 1;
        return;
    }

    if (call->sse_reply) {
        /* the stream's own state decides */
        return;
    }

    if (call->status != NGX_HTTP_OK) {

        /* the provider's own error, relayed when it is the client's */

        shaped = ngx_http_moa_error_from_reply(ngx_http_moa_call_error(call),
                                               (int) call->status,
                                               call->reply.data,
                                               call->reply.len);

        if (call == ctx->passthrough) {
            /* a passthrough's reply kept from the client */
            ngx_http_moa_credentials_log(call, sr, shaped == 0
                                ? ngx_http_moa_call_error(call)->message
                                : NULL);
        }

        ngx_http_moa_buf_free(&call->reply);

        ngx_log_error(NGX_LOG_WARN, sr->connection->log, 0,
                      "moa %s call %ui failed: upstream status %ui", what,
                      call->index, call->status);
        return;
    }

    /* the error is kept (allocated) only for a reply that fails */

    if (ngx_http_moa_reply_parse(&call->parsed, call->reply.data,
                                 call->reply.len, &err)
        != 0)
    {
        e = ngx_http_moa_call_error(call);
        ngx_http_moa_error_move(e, &err);

        ngx_log_error(NGX_LOG_WARN, sr->connection->log, 0,
                      "moa %s call %ui failed: %s", what, call->index,
                      e->message);
        ngx_http_moa_reply_free(&call->parsed);
        return;
    }

    /* tokens were spent whether or not the reply is usable */

    ignored = ngx_http_moa_usage_add_reply(ctx->usage, &call->parsed);

    if (ignored < 0) {
        ngx_http_moa_error_set(ngx_http_moa_call_error(call), 500,
                               "server_error", NULL, NULL, "out of memory");
        return;
    }

    if (ignored) {
        ngx_log_error(NGX_LOG_INFO, sr->connection->log, 0,
                      "moa %s call %ui: %d usage members not summed "
                      "(not a count, or over the bound)", what,
                      call->index, ignored);
    }

    /* the reply's text stays: the parsed reply points into it */

    call->ok = 1;
}


/*
 * A store's call (memcached through its location): the status, and the
 * reply's bytes when they came whole; what they mean is the store's.
 */
static void
ngx_http_moa_call_raw_result(ngx_http_moa_call_t *call,
    ngx_http_request_t *sr, ngx_int_t rc)
{
    /* memc ends a miss with 404 and no header */

    if (rc == NGX_HTTP_NOT_FOUND && !call->header) {
        call->status = NGX_HTTP_NOT_FOUND;
        call->ok = 1;
        return;
    }

    if (rc == NGX_ERROR || rc >= NGX_HTTP_SPECIAL_RESPONSE || !call->header) {
        call->status = (rc == NGX_HTTP_GATEWAY_TIME_OUT)
                       ? NGX_HTTP_GATEWAY_TIME_OUT : NGX_HTTP_BAD_GATEWAY;
        return;
    }

    call->status = sr->headers_out.status;

    if (call->too_big
        || (sr->upstream && !sr->header_only && !call->complete))
    {
        call->status = NGX_HTTP_BAD_GATEWAY;
        return;
    }

    call->ok = 1;
}


/* no reply, or one cut short: nginx's error, a timeout, a lost provider */
static void
ngx_http_moa_call_failed(ngx_http_moa_call_t *call, ngx_http_request_t *sr,
    ngx_int_t rc, const char *what)
{
    ngx_http_moa_error_t  *e;

    call->status = (rc == NGX_HTTP_GATEWAY_TIME_OUT
                    || rc == NGX_HTTP_REQUEST_TIME_OUT)
                   ? NGX_HTTP_GATEWAY_TIME_OUT : NGX_HTTP_BAD_GATEWAY;

    e = ngx_http_moa_call_error(call);

    if (call->header && call->status == NGX_HTTP_BAD_GATEWAY) {
        ngx_http_moa_error_set(e, 502, "upstream_error",
                               "upstream_error", NULL,
                               "the %s call's reply was cut short",
                               what);

    } else {
        ngx_http_moa_error_set(e, (int) call->status, "upstream_error",
                               call->status == NGX_HTTP_GATEWAY_TIME_OUT
                               ? "upstream_timeout" : "upstream_error",
                               NULL, "the %s call failed: %s", what,
                               call->status == NGX_HTTP_GATEWAY_TIME_OUT
                               ? "the provider timed out"
                               : "the provider could not be reached");
    }

    ngx_log_error(NGX_LOG_WARN, sr->connection->log, 0,
                  "moa %s call %ui failed: %s", what, call->index,
                  e->message);
}


static void
ngx_http_moa_call_retry_after(ngx_http_moa_call_t *call,
    ngx_http_request_t *sr)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    /*
     * the copies in headers_out vanish under proxy_hide_header; only an
     * error is relayed with its Retry-After (a 429 of every call, see
     * ngx_http_moa_answer_calls_error()): a reply of 2xx or 3xx is not
     * searched
     */

    if (sr->upstream == NULL
        || sr->headers_out.status < NGX_HTTP_BAD_REQUEST)
    {
        return;
    }

    part = &sr->upstream->headers_in.headers.part;
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

        if (h[i].hash == 0 || h[i].key.len != sizeof("Retry-After") - 1
            || ngx_strncasecmp(h[i].key.data, (u_char *) "Retry-After",
                               sizeof("Retry-After") - 1) != 0)
        {
            continue;
        }

        call->retry_after.data = ngx_pstrdup(call->ctx->request->pool,
                                             &h[i].value);
        if (call->retry_after.data) {
            call->retry_after.len = h[i].value.len;
        }

        return;
    }
}


/*
 * Stops a call that is still running: the upstream's own cleanup closes the
 * provider connection (never kept alive) and releases the subrequest's
 * reference on the main request; post_subrequest is not called then.
 */
void
ngx_http_moa_call_cancel(ngx_http_moa_call_t *call)
{
    ngx_http_request_t   *sr, *pr;
    ngx_http_moa_ctx_t   *ctx;
    ngx_http_postponed_request_t  **pp;

    if (!call->started || call->done) {
        return;
    }

    ctx = call->ctx;
    sr = call->sr;

    call->done = 1;
    call->canceled = 1;
    call->elapsed = ngx_current_msec - call->start;

    if (call->stage == NGX_HTTP_MOA_PROPOSAL) {
        ctx->pending--;
    }

    if (sr->upstream == NULL || sr->upstream->cleanup == NULL) {
        /* not at the provider: it ends on its own, and is ignored */
        call->abandoned = 1;
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, sr->connection->log, 0,
                       "moa %V call %ui abandoned",
                       ngx_http_moa_call_stage_name(call->stage), call->index);
        return;
    }

    if (!sr->background) {
        pr = sr->parent;

        for (pp = &pr->postponed; *pp; pp = &(*pp)->next) {
            if ((*pp)->request == sr) {
                *pp = (*pp)->next;
                break;
            }
        }

        if (sr->connection->data == sr) {
            sr->connection->data = pr;
        }
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, sr->connection->log, 0,
                   "moa %V call %ui canceled",
                   ngx_http_moa_call_stage_name(call->stage), call->index);

    (*sr->upstream->cleanup)(sr);
}
