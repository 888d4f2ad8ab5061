
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The content handler of a MoA location: the method, the client's body,
 * routing by model (to the stages or to a passthrough), and what watches
 * a request while its calls run: the wake-up per finished call, the
 * client's abort, the stream's keepalive and the proposals' deadline
 * timers, and the cleanup of the request's pool.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_moa_common.h"
#include "ngx_http_moa_handler.h"
#include "ngx_http_moa_stages.h"
#include "ngx_http_moa_recipes.h"
#include "ngx_http_moa_answer.h"
#include "ngx_http_moa_call.h"
#include "ngx_http_moa_output.h"
#include "ngx_http_moa_metrics.h"
#include "ngx_http_moa_responses.h"
#include "ngx_http_moa_store.h"
#include "ngx_http_moa_store_endpoint.h"

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_sse.h"
#include "ngx_http_moa_error.h"
#include "ngx_http_moa_body.h"
#include "ngx_http_moa_request.h"
#include "ngx_http_moa_reply.h"
#include "ngx_http_moa_collect.h"
#include "ngx_http_moa_stream.h"
#include "ngx_http_moa_stored.h"


static void ngx_http_moa_body_handler(ngx_http_request_t *r);
static ngx_uint_t ngx_http_moa_body_forwarded(ngx_http_moa_ctx_t *ctx);
static void ngx_http_moa_body_previous(ngx_http_moa_store_op_t *op);
static void ngx_http_moa_body_route(ngx_http_moa_ctx_t *ctx);
static void ngx_http_moa_wake(ngx_http_request_t *r);
static ngx_int_t ngx_http_moa_read_body(ngx_http_request_t *r,
    ngx_http_moa_ctx_t *ctx);
static ngx_http_moa_model_t *ngx_http_moa_find_model(
    ngx_http_moa_loc_conf_t *mlcf, const char *id, size_t len);
static void ngx_http_moa_check_broken(ngx_http_request_t *r);
static void ngx_http_moa_keepalive_handler(ngx_event_t *ev);
static void ngx_http_moa_deadline_handler(ngx_event_t *ev);
static void ngx_http_moa_cleanup(void *data);


ngx_int_t
ngx_http_moa_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_str_t                 id;
    ngx_uint_t                list;
    ngx_pool_cleanup_t       *cln;
    ngx_http_moa_ctx_t       *ctx;
    ngx_http_moa_loc_conf_t  *mlcf;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_moa_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_moa_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ctx->conf = mlcf;
    ctx->phase = NGX_HTTP_MOA_PHASE_BODY;

    ctx->keepalive.handler = ngx_http_moa_keepalive_handler;
    ctx->keepalive.data = ctx;
    ctx->keepalive.log = r->connection->log;

    ctx->deadline.handler = ngx_http_moa_deadline_handler;
    ctx->deadline.data = ctx;
    ctx->deadline.log = r->connection->log;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_moa_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_moa_module);

    ngx_http_moa_output_log_id(r);

    /* a stored response: /responses/{id}, /responses/{id}/input_items */

    if (ngx_http_moa_store_endpoint_match(r, &id, &list)) {
        return ngx_http_moa_store_endpoint_handler(r, &id, list);
    }

    if (r->method != NGX_HTTP_POST) {
        rc = ngx_http_discard_request_body(r);

        if (rc != NGX_OK) {
            return rc;
        }

        if (ngx_http_moa_output_add_header(r, "Allow", "POST") != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "moa: method %V not allowed", &r->method_name);

        return NGX_HTTP_NOT_ALLOWED;
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_moa_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_moa_body_handler(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_http_moa_ctx_t    *ctx;
    ngx_http_moa_error_t   err;

    ctx = ngx_http_get_module_ctx(r, ngx_http_moa_module);

    if (ngx_http_moa_read_body(r, ctx) != NGX_OK) {
        ngx_http_moa_answer_finalize(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* a Responses request: its Chat Completions body is parsed below */

    if (ctx->conf->api == NGX_HTTP_MOA_API_RESPONSES) {
        if (ngx_http_moa_responses_parse(ctx, NULL, 0, &err) != NGX_OK) {
            goto invalid;
        }

        /*
         * previous_response_id: the stored response is read first; a
         * request forwarded as is to moa_responses_pass keeps it for the
         * provider's own store
         */

        if (ctx->responses->req.previous_response_id.len
            && !ngx_http_moa_body_forwarded(ctx))
        {
            rc = ngx_http_moa_store_previous(ctx,
                                    &ctx->responses->req.previous_response_id,
                                    ngx_http_moa_body_previous, NULL, &err);

            if (rc == NGX_ERROR) {
                goto invalid;
            }

            if (rc == NGX_OK) {
                ngx_http_moa_body_previous(ctx->store_prev);
            }

            return;
        }
    }

    ngx_http_moa_body_route(ctx);

    return;

invalid:

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "moa: invalid request: %s", err.message);

    ngx_http_moa_answer_fail(ctx, &err, NULL, 0);
}


/* a Responses request that goes as it came to moa_responses_pass */
static ngx_uint_t
ngx_http_moa_body_forwarded(ngx_http_moa_ctx_t *ctx)
{
    ngx_http_moa_span_t  *model;

    model = &ctx->responses->req.model;

    if (ctx->conf->responses_pass.len == 0 || model->len < 2) {
        return 0;
    }

    return ngx_http_moa_find_model(ctx->conf, model->p + 1, model->len - 2)
           == NULL;
}


/*
 * The previous response read (now, or when memcached answered): the
 * request translated again, its items first, or its error (404 unknown,
 * 503 the store could not be read).
 */
static void
ngx_http_moa_body_previous(ngx_http_moa_store_op_t *op)
{
    int                    rc;
    ngx_http_moa_ctx_t    *ctx;
    ngx_http_moa_error_t   err;

    ctx = op->ctx;

    if (ngx_http_moa_store_prior(op, &err) != NGX_OK) {
        goto failed;
    }

    /* item_reference: an item of the previous responses, in its place */

    rc = ngx_http_moa_stored_resolve(&op->body,
                                (char *) ctx->responses->client_body.data,
                                ctx->responses->client_body.len,
                                op->prior.data, op->prior.len, &err);
    if (rc < 0) {
        goto failed;
    }

    if (rc == 1) {
        ctx->responses->client_body.data = (u_char *) op->body.data;
        ctx->responses->client_body.len = op->body.len;
    }

    if (ngx_http_moa_responses_parse(ctx, (u_char *) op->prior.data,
                                     op->prior.len, &err)
        != NGX_OK)
    {
        goto failed;
    }

    ngx_http_moa_body_route(ctx);

    return;

failed:

    ngx_log_error(NGX_LOG_INFO, ctx->request->connection->log, 0,
                  "moa: invalid request: %s", err.message);

    ngx_http_moa_answer_fail(ctx, &err, NULL, 0);
}


/* the request parsed, routed by its model and started */
static void
ngx_http_moa_body_route(ngx_http_moa_ctx_t *ctx)
{
    ngx_http_request_t        *r;
    ngx_http_moa_error_t       err;
    ngx_http_moa_main_conf_t  *mcf;

    r = ctx->request;

    if (ngx_http_moa_request_parse(&ctx->req, (char *) ctx->body.data,
                                   ctx->body.len, &err)
        != 0)
    {
        goto invalid;
    }

    ctx->model = ngx_http_moa_find_model(ctx->conf, ctx->req.model,
                                         ctx->req.model_len);

    if (ctx->model) {
        if (ngx_http_moa_request_check_moa(&ctx->req,
                                           ctx->conf->unknown_params, &err)
            != 0)
        {
            goto invalid;
        }

        switch (ngx_http_moa_recipes_init(ctx, &err)) {
        case NGX_OK:
            break;
        case NGX_DECLINED:
            goto invalid;
        default:
            ngx_http_moa_answer_finalize(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

    } else if (!ctx->conf->passthrough || ctx->conf->pass.len == 0) {
        ngx_http_moa_error_set(&err, NGX_HTTP_NOT_FOUND,
                               "invalid_request_error", "model_not_found",
                               "model", "The model '%.128s' does not exist "
                               "or you do not have access to it.",
                               ctx->req.model);
        goto invalid;
    }

    ngx_http_moa_request_compact(&ctx->req);

    mcf = ngx_http_get_module_main_conf(r, ngx_http_moa_module);
    ctx->capture = mcf->capture;
    ctx->pass_usage = mcf->usage;

    if (ctx->responses && ngx_http_moa_responses_route(ctx, &err) != NGX_OK) {
        goto invalid;
    }

    /*
     * apart from the context, and not zeroed: usage_init() clears its root,
     * and a node is cleared when it is taken
     */

    ctx->usage = ngx_palloc(r->pool, sizeof(ngx_http_moa_usage_t));
    if (ctx->usage == NULL) {
        ngx_http_moa_answer_finalize(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_moa_usage_record_init(ctx->usage);

    ngx_http_moa_stream_init(&ctx->stream, ctx->req.include_usage);

    /* the content phase left an empty handler: the parent is woken here */

    r->write_event_handler = ngx_http_moa_wake;
    r->read_event_handler = ngx_http_moa_check_broken;

    if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
        ngx_http_moa_answer_finalize(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->start = ngx_current_msec;
    ctx->last_output = ctx->start;

    ngx_http_moa_metrics_start(ctx);

    /* a Responses stream: response.created goes out at once */

    if (ngx_http_moa_responses_start(ctx) != NGX_OK) {
        ngx_http_moa_answer_finalize(ctx, NGX_ERROR);
        return;
    }

    if (ctx->model == NULL) {
        ctx->phase = NGX_HTTP_MOA_PHASE_PASSTHROUGH;

        if (ngx_http_moa_stages_start_passthrough(ctx) != NGX_OK) {
            ngx_http_moa_answer_finalize(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        }

        return;
    }

    ctx->phase = NGX_HTTP_MOA_PHASE_PROPOSALS;

    if (ngx_http_moa_stages_start_proposals(ctx) != NGX_OK) {
        ngx_http_moa_answer_finalize(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ctx->req.stream && ctx->conf->stream_keepalive) {
        ngx_add_timer(&ctx->keepalive, ctx->conf->stream_keepalive);
    }

    return;

invalid:

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "moa: invalid request: %s", err.message);

    ngx_http_moa_answer_fail(ctx, &err, NULL, 0);
}


/* the client's body as one piece of memory; it may be in a temp file */
static ngx_int_t
ngx_http_moa_read_body(ngx_http_request_t *r, ngx_http_moa_ctx_t *ctx)
{
    off_t         len;
    u_char       *p;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    cl = r->request_body->bufs;

    if (cl->next == NULL && ngx_buf_in_memory(cl->buf)) {
        ctx->body.data = cl->buf->pos;
        ctx->body.len = cl->buf->last - cl->buf->pos;
        return NGX_OK;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_in_memory(cl->buf) ? cl->buf->last - cl->buf->pos
                                          : cl->buf->file_last
                                            - cl->buf->file_pos;
    }

    if (len == 0) {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, (size_t) len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ctx->body.data = p;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
            continue;
        }

        if (!b->in_file) {
            /* the empty last_buf that ends a chunked body */
            continue;
        }

        n = ngx_read_file(b->file, p, (size_t) (b->file_last - b->file_pos),
                          b->file_pos);

        if (n != b->file_last - b->file_pos) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "moa: could not read the request body from "
                          "\"%V\"", &b->file->name);
            return NGX_ERROR;
        }

        p += n;
    }

    ctx->body.len = p - ctx->body.data;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "moa request body read from file, %uz bytes",
                   ctx->body.len);

    return NGX_OK;
}


static ngx_http_moa_model_t *
ngx_http_moa_find_model(ngx_http_moa_loc_conf_t *mlcf, const char *id,
    size_t len)
{
    ngx_uint_t             i;
    ngx_http_moa_model_t  *m;

    if (mlcf->models == NULL) {
        return NULL;
    }

    /* the whole id: "moa-x\u0000y" is not "moa-x" */
    m = mlcf->models->elts;

    for (i = 0; i < mlcf->models->nelts; i++) {
        if (m[i].id.len == len && ngx_strncmp(m[i].id.data, id, len) == 0) {
            return &m[i];
        }
    }

    return NULL;
}


/* the main request's write handler: woken per finished call */
static void
ngx_http_moa_wake(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_event_t               *wev;
    ngx_connection_t          *c;
    ngx_http_moa_ctx_t        *ctx;
    ngx_http_core_loc_conf_t  *clcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_moa_module);
    c = r->connection;
    wev = c->write;

    if (ctx == NULL || ctx->finalized) {
        return;
    }

    if (wev->timedout) {
        ngx_log_error(NGX_LOG_INFO, c->log, NGX_ETIMEDOUT,
                      "moa: client timed out");
        c->timedout = 1;
        ngx_http_moa_answer_finalize(ctx, NGX_HTTP_REQUEST_TIME_OUT);
        return;
    }

    if (c->buffered && c->data == r) {
        rc = ngx_http_output_filter(r, NULL);

        if (rc == NGX_ERROR) {
            ngx_http_moa_answer_finalize(ctx, NGX_ERROR);
            return;
        }

        if (c->buffered) {
            clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

            if (!wev->delayed) {
                ngx_add_timer(wev, clcf->send_timeout);
            }

            if (ngx_handle_write_event(wev, clcf->send_lowat) != NGX_OK) {
                ngx_http_moa_answer_finalize(ctx, NGX_ERROR);
                return;
            }

        } else if (wev->timer_set) {
            ngx_del_timer(wev);
        }
    }

    ngx_http_moa_stages_advance(ctx);
}


/*
 * While background subrequests run, the main request gets the client's
 * read events: an abort is finalized at once, which runs every upstream
 * cleanup and closes all provider connections.  Pipelined bytes are not
 * an abort.
 */
static void
ngx_http_moa_check_broken(ngx_http_request_t *r)
{
    int                  n;
    char                 buf[1];
    ngx_err_t            err;
    ngx_event_t         *ev;
    ngx_connection_t    *c;
    ngx_http_moa_ctx_t  *ctx;

    c = r->connection;
    ev = c->read;
    ctx = ngx_http_get_module_ctx(r, ngx_http_moa_module);

    if (ctx == NULL || ctx->finalized) {
        return;
    }

    err = 0;

    if (c->error) {
        goto aborted;
    }

#if (NGX_HTTP_V2)
    if (r->stream) {
        return;
    }
#endif

#if (NGX_HAVE_EPOLLRDHUP)

    if ((ngx_event_flags & NGX_USE_EPOLL_EVENT) && ngx_use_epoll_rdhup) {
        socklen_t  len;

        if (!ev->pending_eof) {
            return;
        }

        ev->eof = 1;
        c->error = 1;

        len = sizeof(ngx_err_t);

        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len)
            == -1)
        {
            err = ngx_socket_errno;
        }

        goto aborted;
    }

#endif

    n = recv(c->fd, buf, 1, MSG_PEEK);

    err = ngx_socket_errno;

    if ((ngx_event_flags & NGX_USE_LEVEL_EVENT) && ev->active) {
        if (ngx_del_event(ev, NGX_READ_EVENT, 0) != NGX_OK) {
            ngx_http_moa_answer_finalize(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    if (n > 0) {
        return;
    }

    if (n == -1) {
        if (err == NGX_EAGAIN) {
            return;
        }

        ev->error = 1;

    } else {
        err = 0;
    }

    ev->eof = 1;
    c->error = 1;

aborted:

    ngx_log_error(NGX_LOG_INFO, c->log, err,
                  "moa: client prematurely closed connection");

    ngx_http_moa_answer_finalize(ctx, NGX_HTTP_CLIENT_CLOSED_REQUEST);
}


static void
ngx_http_moa_keepalive_handler(ngx_event_t *ev)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;
    ngx_http_moa_ctx_t  *ctx;

    ctx = ev->data;
    r = ctx->request;
    c = r->connection;

    if (ctx->finalized) {
        return;
    }

    ngx_http_set_log_request(c->log, r);

    if (ngx_current_msec - ctx->last_output + 10
        >= ctx->conf->stream_keepalive
        && ngx_http_moa_answer_progress(ctx, 1) != NGX_OK)
    {
        ngx_http_moa_answer_finalize(ctx, NGX_ERROR);

    } else {
        ngx_add_timer(ev, ctx->conf->stream_keepalive);
    }

    ngx_http_run_posted_requests(c);
}


/*
 * moa_proposal_timeout: go on with the candidates that are in, if enough;
 * the stragglers are cancelled.
 */
static void
ngx_http_moa_deadline_handler(ngx_event_t *ev)
{
    ngx_uint_t            i;
    ngx_connection_t     *c;
    ngx_http_request_t   *r;
    ngx_http_moa_ctx_t   *ctx;
    ngx_http_moa_call_t  *call;

    ctx = ev->data;
    r = ctx->request;
    c = r->connection;

    if (ctx->finalized || ctx->phase != NGX_HTTP_MOA_PHASE_PROPOSALS) {
        return;
    }

    ngx_http_set_log_request(c->log, r);

    ctx->deadline_passed = 1;

    /* the proposals of the layer running (moa_layers) */

    call = ctx->layer_calls;

    ngx_log_error(NGX_LOG_INFO, c->log, 0,
                  "moa: moa_proposal_timeout: going on with %ui of %ui "
                  "proposals", ctx->per_layer - ctx->pending,
                  ctx->per_layer);

    for (i = 0; i < ctx->per_layer; i++) {
        if (!call[i].done) {
            ngx_http_moa_error_set(ngx_http_moa_call_error(&call[i]), 504,
                                   "upstream_error", "upstream_timeout",
                                   NULL, "the proposal did not arrive "
                                   "within moa_proposal_timeout");
            call[i].status = NGX_HTTP_GATEWAY_TIME_OUT;
            ngx_http_moa_call_cancel(&call[i]);
        }
    }

    ngx_http_moa_stages_advance(ctx);

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_moa_cleanup(void *data)
{
    ngx_http_moa_ctx_t  *ctx = data;

    ngx_uint_t            i, n;
    ngx_http_moa_call_t  *call;

    if (ctx->keepalive.timer_set) {
        ngx_del_timer(&ctx->keepalive);
    }

    if (ctx->deadline.timer_set) {
        ngx_del_timer(&ctx->deadline);
    }

    n = ctx->passthrough ? 1 : (ctx->calls ? ctx->nproposals + 2 : 0);

    for (i = 0; i < n; i++) {
        call = &ctx->calls[i];

        ngx_http_moa_body_free(&call->body);
        ngx_http_moa_buf_free(&call->reply);
        ngx_http_moa_buf_free(&call->flat);
        ngx_http_moa_reply_free(&call->parsed);
    }

    ngx_http_moa_request_free(&ctx->req);
    ngx_http_moa_sse_free(&ctx->sse);
    ngx_http_moa_buf_free(&ctx->spool);
    ngx_http_moa_buf_free(&ctx->cands_text);
    ngx_http_moa_stream_free(&ctx->stream);
    ngx_http_moa_collect_free(&ctx->collect);
    cJSON_Delete(ctx->answer_owned);
    ngx_http_moa_buf_free(&ctx->scratch);

    if (ctx->usage) {
        ngx_http_moa_usage_record_free(ctx->usage);
    }
}
