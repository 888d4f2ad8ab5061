
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The store of responses in memcached (moa_responses_store pass=URI): each
 * operation is a call, a background subrequest as the provider's calls
 * are, to an internal location of the operator's where
 * libnginx-mod-http-memc talks to an upstream of memcached servers.  The
 * call's arguments name the command, the key (the response's id) and, for
 * a save, the expiry (the TTL); a save's body is the record:
 *
 *     location = /_moa_store {
 *         internal;
 *         set $memc_cmd $arg_cmd;
 *         set $memc_key $arg_key;
 *         set $memc_exptime $arg_exptime;
 *         memc_pass memcached;
 *     }
 *
 * memc answers a get with 200 and the value or 404, a set with 201, a
 * delete with 200 or 404; anything else (502: no server, 504: too slow)
 * is a store that failed.  A delete reads the record first: only its
 * owner may delete it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_moa_common.h"
#include "ngx_http_moa_call.h"
#include "ngx_http_moa_store.h"
#include "ngx_http_moa_store_memc.h"

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_body.h"
#include "ngx_http_moa_stored.h"


/* memcached reads an expiry above 30 days as a unix time */
#define NGX_HTTP_MOA_STORE_MEMC_RELATIVE  (30 * 24 * 3600)


static ngx_int_t ngx_http_moa_store_memc_call(ngx_http_moa_store_op_t *op,
    const char *cmd);


ngx_int_t
ngx_http_moa_store_memc_start(ngx_http_moa_store_op_t *op)
{
    op->step = 0;

    switch (op->op) {

    case NGX_HTTP_MOA_STORE_SAVE:
        return ngx_http_moa_store_memc_call(op, "set");

    default:
        /* a load, or the first step of a delete */
        return ngx_http_moa_store_memc_call(op, "get");
    }
}


static ngx_int_t
ngx_http_moa_store_memc_call(ngx_http_moa_store_op_t *op, const char *cmd)
{
    u_char               *p;
    size_t                len;
    time_t                exptime;
    ngx_http_request_t   *r;
    ngx_http_moa_call_t  *call;

    r = op->ctx->request;
    call = &op->call;

    ngx_http_moa_buf_free(&call->reply);
    ngx_http_moa_body_free(&call->body);
    ngx_memzero(call, sizeof(ngx_http_moa_call_t));

    call->stage = NGX_HTTP_MOA_STORE;
    call->index = op->step;
    call->uri = op->store->pass;
    call->raw = 1;

    len = sizeof("cmd=delete&key=&exptime=") - 1 + op->id.len + NGX_TIME_T_LEN;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    call->args.data = p;

    p = ngx_sprintf(p, "cmd=%s&key=%V", cmd, &op->id);

    if (op->op == NGX_HTTP_MOA_STORE_SAVE) {
        exptime = 0;

        if (op->expires) {
            exptime = op->store->ttl <= NGX_HTTP_MOA_STORE_MEMC_RELATIVE
                      ? op->store->ttl : op->expires;
        }

        p = ngx_sprintf(p, "&exptime=%T", exptime);

        ngx_http_moa_body_ref(&call->body, op->record.data, op->record.len);

        if (ngx_http_moa_body_done(&call->body) != 0) {
            return NGX_ERROR;
        }
    }

    call->args.len = p - call->args.data;

    if (ngx_http_moa_call_start(op->ctx, call, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_AGAIN;
}


/*
 * A finished call read: NGX_OK with op->result set, or NGX_AGAIN when a
 * delete goes on with its second call.
 */
ngx_int_t
ngx_http_moa_store_memc_result(ngx_http_moa_store_op_t *op)
{
    ngx_uint_t             status;
    ngx_http_moa_call_t   *call;
    ngx_http_moa_stored_t  rec;

    call = &op->call;
    status = call->ok ? call->status : 0;

    op->result = NGX_HTTP_MOA_STORE_FAILED;

    if (op->op == NGX_HTTP_MOA_STORE_SAVE) {
        if (status == NGX_HTTP_CREATED) {
            op->result = NGX_HTTP_MOA_STORE_OK;
        }

        return NGX_OK;
    }

    if (status == NGX_HTTP_NOT_FOUND) {
        op->result = NGX_HTTP_MOA_STORE_MISS;
        return NGX_OK;
    }

    if (status != NGX_HTTP_OK) {
        return NGX_OK;
    }

    if (op->op == NGX_HTTP_MOA_STORE_LOAD) {
        /* the reply's buffer is the record now */
        op->record = call->reply;
        ngx_memzero(&call->reply, sizeof(ngx_http_moa_buf_t));
        op->result = NGX_HTTP_MOA_STORE_OK;
        return NGX_OK;
    }

    /* a delete: the record read first, deleted if it is the owner's */

    if (op->step == 1) {
        op->result = NGX_HTTP_MOA_STORE_OK;
        return NGX_OK;
    }

    if (ngx_http_moa_stored_decode(&rec, call->reply.data, call->reply.len)
        != 0
        || !ngx_http_moa_stored_owned(&rec, (char *) op->owner,
                                      NGX_HTTP_MOA_STORE_OWNER_LEN,
                                      ngx_time()))
    {
        op->result = NGX_HTTP_MOA_STORE_MISS;
        return NGX_OK;
    }

    op->step = 1;

    if (ngx_http_moa_store_memc_call(op, "delete") != NGX_AGAIN) {
        op->result = NGX_HTTP_MOA_STORE_FAILED;
        return NGX_OK;
    }

    return NGX_AGAIN;
}
