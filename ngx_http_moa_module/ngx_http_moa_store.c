
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Stored responses: the directives (moa_responses_store, where they are
 * kept; moa_responses_owner, whose they are), and one operation on the
 * store as the Responses endpoints ask for it, whichever keeps them: the
 * owner's digest made, the shared memory zone asked at once or memcached
 * through its location (the request waits for that call as for a
 * provider's), a loaded record read and checked (the owner's, not
 * expired), every outcome logged and counted in the metrics.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_sha1.h>

#include "ngx_http_moa_common.h"
#include "ngx_http_moa_store.h"
#include "ngx_http_moa_store_shm.h"
#include "ngx_http_moa_store_memc.h"
#include "ngx_http_moa_metrics.h"

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_body.h"
#include "ngx_http_moa_stored.h"


/* OpenAI keeps a stored response 30 days */
#define NGX_HTTP_MOA_STORE_TTL  (30 * 24 * 3600)


static void ngx_http_moa_store_owner(ngx_http_moa_store_op_t *op);
static void ngx_http_moa_store_wake(ngx_http_request_t *r);
static void ngx_http_moa_store_finish(ngx_http_moa_store_op_t *op);
static void ngx_http_moa_store_cleanup(void *data);


static const char  *ngx_http_moa_store_ops[] = { "load", "save", "delete" };


/*
 * moa_responses_store off;
 * moa_responses_store zone=NAME[:SIZE] [ttl=TIME];
 * moa_responses_store pass=URI [ttl=TIME];
 */
char *
ngx_http_moa_store_conf(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_moa_loc_conf_t  *mlcf = conf;

    u_char                *p;
    ssize_t                size;
    ngx_str_t             *value, name, s;
    ngx_uint_t             i;
    ngx_http_moa_store_t  *store;

    if (mlcf->store != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2
        && ngx_strcmp(value[1].data, "off") == 0)
    {
        mlcf->store = NULL;
        return NGX_CONF_OK;
    }

    store = ngx_pcalloc(cf->pool, sizeof(ngx_http_moa_store_t));
    if (store == NULL) {
        return NGX_CONF_ERROR;
    }

    store->ttl = NGX_HTTP_MOA_STORE_TTL;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0 && i == 1) {
            name.data = value[i].data + 5;
            p = (u_char *) ngx_strchr(name.data, ':');
            size = 0;

            if (p) {
                name.len = p - name.data;
                s.data = p + 1;
                s.len = value[i].data + value[i].len - s.data;

                size = ngx_parse_size(&s);

                if (size == NGX_ERROR) {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "invalid zone size \"%V\"",
                                       &value[i]);
                    return NGX_CONF_ERROR;
                }

                if (size < (ssize_t) (8 * ngx_pagesize)) {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "zone \"%V\" is too small: at "
                                       "least %uzk", &name,
                                       8 * ngx_pagesize / 1024);
                    return NGX_CONF_ERROR;
                }

            } else {
                name.len = value[i].len - 5;
            }

            if (name.len == 0) {
                goto invalid;
            }

            store->kind = NGX_HTTP_MOA_STORE_ZONE;
            store->shm_zone = ngx_http_moa_store_shm_zone(cf, &name, size);

            if (store->shm_zone == NULL) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "pass=", 5) == 0 && i == 1) {
            store->kind = NGX_HTTP_MOA_STORE_MEMC;
            store->pass.data = value[i].data + 5;
            store->pass.len = value[i].len - 5;

            if (store->pass.len == 0 || store->pass.data[0] != '/') {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"pass=\" needs the URI of an internal "
                                   "location, as in \"pass=/_moa_store\"");
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "ttl=", 4) == 0 && i > 1) {
            s.data = value[i].data + 4;
            s.len = value[i].len - 4;

            store->ttl = ngx_parse_time(&s, 1);

            if (store->ttl == (time_t) NGX_ERROR) {
                goto invalid;
            }

            continue;
        }

        goto invalid;
    }

    mlcf->store = store;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\": expected \"off\", "
                       "\"zone=NAME[:SIZE]\" or \"pass=URI\", then "
                       "\"ttl=TIME\"", &value[i]);

    return NGX_CONF_ERROR;
}


/* moa_responses_owner VALUE (variables allowed, e.g. $remote_user) */
char *
ngx_http_moa_store_conf_owner(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_moa_loc_conf_t  *mlcf = conf;

    ngx_str_t                         *value;
    ngx_http_compile_complex_value_t   ccv;

    if (mlcf->store_owner != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    mlcf->store_owner = ngx_palloc(cf->pool,
                                   sizeof(ngx_http_complex_value_t));
    if (mlcf->store_owner == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = mlcf->store_owner;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * An operation of the request on its location's store (there must be
 * one), on a response's id, for the request's owner.  NULL without memory.
 */
ngx_http_moa_store_op_t *
ngx_http_moa_store_op(ngx_http_moa_ctx_t *ctx, ngx_uint_t op, ngx_str_t *id)
{
    ngx_pool_cleanup_t       *cln;
    ngx_http_request_t       *r;
    ngx_http_moa_store_op_t  *o;

    r = ctx->request;

    o = ngx_pcalloc(r->pool, sizeof(ngx_http_moa_store_op_t));
    if (o == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_moa_store_cleanup;
    cln->data = o;

    o->ctx = ctx;
    o->store = ctx->conf->store;
    o->op = op;

    o->id.data = ngx_pstrdup(r->pool, id);
    if (o->id.data == NULL) {
        return NULL;
    }

    o->id.len = id->len;

    ngx_http_moa_store_owner(o);

    return o;
}


/*
 * The owner's value, never kept: its SHA-1, so that neither the zone nor
 * memcached hold a key or a user name.  Without moa_responses_owner, the
 * client's Authorization header (its API key) is the owner.
 */
static void
ngx_http_moa_store_owner(ngx_http_moa_store_op_t *op)
{
    u_char               digest[20];
    ngx_str_t            value;
    ngx_sha1_t           sha1;
    ngx_http_request_t  *r;

    r = op->ctx->request;

    ngx_str_null(&value);

    if (op->ctx->conf->store_owner) {
        if (ngx_http_complex_value(r, op->ctx->conf->store_owner, &value)
            != NGX_OK)
        {
            ngx_str_null(&value);
        }

    } else if (r->headers_in.authorization) {
        value = r->headers_in.authorization->value;
    }

    ngx_sha1_init(&sha1);
    ngx_sha1_update(&sha1, "moa-owner:", sizeof("moa-owner:") - 1);
    ngx_sha1_update(&sha1, value.data, value.len);
    ngx_sha1_final(digest, &sha1);

    ngx_hex_dump(op->owner, digest, sizeof(digest));
}


static void
ngx_http_moa_store_cleanup(void *data)
{
    ngx_http_moa_store_op_t  *op = data;

    ngx_http_moa_buf_free(&op->record);
    ngx_http_moa_buf_free(&op->prior);
    ngx_http_moa_buf_free(&op->body);
    ngx_http_moa_buf_free(&op->call.reply);
    ngx_http_moa_buf_free(&op->call.flat);
    ngx_http_moa_body_free(&op->call.body);
}


/*
 * Runs the operation: NGX_OK when it is done (op->result tells how),
 * NGX_AGAIN when memcached answers later (op->handler is called then;
 * the request waits for it, as for a provider's call).
 */
ngx_int_t
ngx_http_moa_store_run(ngx_http_moa_store_op_t *op)
{
    ngx_int_t            rc;
    ngx_http_request_t  *r;

    r = op->ctx->request;

    if (op->op == NGX_HTTP_MOA_STORE_SAVE && op->store->ttl) {
        op->expires = ngx_time() + op->store->ttl;
    }

    if (op->store->kind == NGX_HTTP_MOA_STORE_ZONE) {

        switch (op->op) {
        case NGX_HTTP_MOA_STORE_LOAD:
            ngx_http_moa_store_shm_load(op);
            break;
        case NGX_HTTP_MOA_STORE_SAVE:
            ngx_http_moa_store_shm_save(op);
            break;
        default:
            ngx_http_moa_store_shm_delete(op);
        }

        ngx_http_moa_store_finish(op);
        return NGX_OK;
    }

    rc = ngx_http_moa_store_memc_start(op);

    if (rc != NGX_AGAIN) {
        op->result = NGX_HTTP_MOA_STORE_FAILED;
        ngx_http_moa_store_finish(op);
        return NGX_OK;
    }

    /* the call wakes the request: its handler is ours until it is done */

    op->pending = 1;
    op->write_handler = r->write_event_handler;
    op->ctx->store_op = op;
    r->write_event_handler = ngx_http_moa_store_wake;

    return NGX_AGAIN;
}


static void
ngx_http_moa_store_wake(ngx_http_request_t *r)
{
    ngx_http_moa_ctx_t       *ctx;
    ngx_http_moa_store_op_t  *op;

    ctx = ngx_http_get_module_ctx(r, ngx_http_moa_module);

    if (ctx == NULL || ctx->store_op == NULL) {
        return;
    }

    op = ctx->store_op;

    if (!op->call.done) {
        return;
    }

    if (ngx_http_moa_store_memc_result(op) == NGX_AGAIN) {
        return;
    }

    ctx->store_op = NULL;
    op->pending = 0;
    r->write_event_handler = op->write_handler;

    ngx_http_moa_store_finish(op);

    /* a request that ended meanwhile (the client went away) goes no further */

    if (!ctx->finalized) {
        op->handler(op);
    }
}


/* a loaded record read and checked; the outcome logged and counted */
static void
ngx_http_moa_store_finish(ngx_http_moa_store_op_t *op)
{
    ngx_uint_t           level;
    ngx_http_request_t  *r;

    r = op->ctx->request;

    if (op->op == NGX_HTTP_MOA_STORE_LOAD
        && op->result == NGX_HTTP_MOA_STORE_OK)
    {
        if (ngx_http_moa_stored_decode(&op->rec, op->record.data,
                                       op->record.len)
            != 0)
        {
            /* another version's, or cut: as if it were not there */
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "moa store: the record of \"%V\" is not one this "
                          "module reads", &op->id);
            op->result = NGX_HTTP_MOA_STORE_MISS;

        } else if (!ngx_http_moa_stored_owned(&op->rec, (char *) op->owner,
                                              NGX_HTTP_MOA_STORE_OWNER_LEN,
                                              ngx_time()))
        {
            op->result = NGX_HTTP_MOA_STORE_MISS;
        }
    }

    if (op->evicted) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "moa store: %ui responses evicted for room",
                      op->evicted);
    }

    level = NGX_LOG_INFO;

    if (op->result == NGX_HTTP_MOA_STORE_FAILED) {
        level = NGX_LOG_ERR;
    }

    if (op->result == NGX_HTTP_MOA_STORE_OK) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "moa store: %s \"%V\" done",
                       ngx_http_moa_store_ops[op->op], &op->id);

    } else {
        ngx_log_error(level, r->connection->log, 0,
                      "moa store: %s \"%V\" %s",
                      ngx_http_moa_store_ops[op->op], &op->id,
                      op->result == NGX_HTTP_MOA_STORE_MISS
                      ? "found nothing (unknown, expired, evicted or "
                        "another owner's)"
                      : op->store->kind == NGX_HTTP_MOA_STORE_ZONE
                        ? "failed: the record is larger than half the zone"
                        : op->call.status == NGX_HTTP_GATEWAY_TIME_OUT
                          ? "failed: memcached timed out"
                          : "failed: memcached could not be reached or "
                            "did not answer as expected");
    }

    ngx_http_moa_metrics_store(r, op->op, op->result, op->evicted);
}


/*
 * previous_response_id (raw_id: its JSON string) of a Responses request:
 * the stored response read for the request's owner.  NGX_OK when it is
 * read (then ngx_http_moa_store_prior()), NGX_AGAIN when handler(op) is
 * called once memcached answered (then the same), NGX_ERROR with err: no
 * store here (400), an id that cannot be one (400).
 */
ngx_int_t
ngx_http_moa_store_previous(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_span_t *raw_id, ngx_http_moa_store_handler_pt handler,
    void *data, ngx_http_moa_error_t *err)
{
    ngx_str_t                 id;
    ngx_http_moa_store_op_t  *op;

    if (ctx->conf->store == NULL) {
        ngx_http_moa_error_set(err, 400, "invalid_request_error",
                               "invalid_value", "previous_response_id",
                               "previous_response_id is not supported: no "
                               "response store is configured "
                               "(moa_responses_store).");
        return NGX_ERROR;
    }

    /* the string's text: an id has no escapes */

    id.data = (u_char *) raw_id->p + 1;
    id.len = raw_id->len >= 2 ? raw_id->len - 2 : 0;

    if (!ngx_http_moa_stored_id_valid((char *) id.data, id.len)) {
        ngx_http_moa_stored_bad_id(err, (char *) id.data, id.len);
        return NGX_ERROR;
    }

    op = ngx_http_moa_store_op(ctx, NGX_HTTP_MOA_STORE_LOAD, &id);
    if (op == NULL) {
        ngx_http_moa_error_set(err, 500, "server_error", NULL, NULL,
                               "out of memory");
        return NGX_ERROR;
    }

    op->handler = handler;
    op->data = data;
    ctx->store_prev = op;

    return ngx_http_moa_store_run(op);
}


/*
 * The items a continuation starts from (op->prior): the stored response's
 * input items, then its output items.  NGX_OK, or NGX_ERROR with err: 404
 * for a response that is not there (or not the owner's), 503 when the
 * store could not be read: never a continuation from a wrong context.
 */
ngx_int_t
ngx_http_moa_store_prior(ngx_http_moa_store_op_t *op,
    ngx_http_moa_error_t *err)
{
    switch (op->result) {

    case NGX_HTTP_MOA_STORE_MISS:
        ngx_http_moa_stored_not_found(err, (char *) op->id.data, op->id.len,
                                      1);
        return NGX_ERROR;

    case NGX_HTTP_MOA_STORE_FAILED:
        ngx_http_moa_stored_unavailable(err, 1);
        return NGX_ERROR;
    }

    if (ngx_http_moa_stored_prior(&op->prior, &op->rec) != 0) {
        ngx_log_error(NGX_LOG_ERR, op->ctx->request->connection->log, 0,
                      "moa store: the items of \"%V\" could not be read",
                      &op->id);
        ngx_http_moa_stored_unavailable(err, 1);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * A complete response kept: its record made of the input items (those of
 * the response it continued first) and the response object.  NGX_OK when
 * it is done or failed (the response is answered either way: a failure is
 * logged and counted), NGX_AGAIN when handler(op) is called later.
 */
ngx_int_t
ngx_http_moa_store_keep(ngx_http_moa_ctx_t *ctx, ngx_str_t *id,
    ngx_str_t *input, ngx_str_t *response,
    ngx_http_moa_store_handler_pt handler, void *data)
{
    ngx_http_moa_buf_t        items;
    ngx_http_moa_store_op_t  *op;

    if (ctx->conf->store == NULL) {
        return NGX_OK;
    }

    op = ngx_http_moa_store_op(ctx, NGX_HTTP_MOA_STORE_SAVE, id);
    if (op == NULL) {
        return NGX_OK;
    }

    op->handler = handler;
    op->data = data;

    ngx_memzero(&items, sizeof(ngx_http_moa_buf_t));

    if (ctx->store_prev
        && ngx_http_moa_stored_join(&items, ctx->store_prev->prior.data,
                                    ctx->store_prev->prior.len,
                                    (char *) input->data, input->len)
           != 0)
    {
        goto failed;
    }

    if (ngx_http_moa_stored_encode(&op->record,
                                   op->store->ttl ? ngx_time()
                                                    + op->store->ttl : 0,
                                   (char *) op->owner,
                                   NGX_HTTP_MOA_STORE_OWNER_LEN,
                                   (char *) id->data, id->len,
                                   ctx->store_prev ? items.data
                                                   : (char *) input->data,
                                   ctx->store_prev ? items.len : input->len,
                                   (char *) response->data, response->len,
                                   NGX_HTTP_MOA_STORED_IDS_GIVEN)
        != 0)
    {
        goto failed;
    }

    ngx_http_moa_buf_free(&items);

    /* what could not be read back (moa_max_response_size) is not stored */

    if (op->store->kind == NGX_HTTP_MOA_STORE_MEMC
        && op->record.len > ctx->conf->max_response_size)
    {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "moa store: the response \"%V\" is not stored: its "
                      "record of %uz bytes is over moa_max_response_size",
                      id, op->record.len);
        op->result = NGX_HTTP_MOA_STORE_FAILED;
        ngx_http_moa_metrics_store(ctx->request, op->op, op->result, 0);
        return NGX_OK;
    }

    return ngx_http_moa_store_run(op);

failed:

    ngx_http_moa_buf_free(&items);

    ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                  "moa store: the response \"%V\" could not be recorded",
                  id);

    op->result = NGX_HTTP_MOA_STORE_FAILED;
    ngx_http_moa_metrics_store(ctx->request, op->op, op->result, 0);

    return NGX_OK;
}
