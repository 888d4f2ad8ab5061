
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The endpoints of stored responses, served in a location with moa_pass
 * for URIs that end in /responses/{id} or /responses/{id}/input_items:
 *
 *     GET    /v1/responses/{id}              the response object
 *     DELETE /v1/responses/{id}              {"id":..,"object":"response",
 *                                             "deleted":true}
 *     GET    /v1/responses/{id}/input_items  its input items, paged
 *
 * Only the owner (moa_responses_owner) sees or deletes a response; any
 * other gets the 404 of an unknown id.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_moa_common.h"
#include "ngx_http_moa_store.h"
#include "ngx_http_moa_store_endpoint.h"
#include "ngx_http_moa_output.h"

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_error.h"
#include "ngx_http_moa_stored.h"
#include "ngx_http_moa_stored_list.h"


static void ngx_http_moa_store_endpoint_done(ngx_http_moa_store_op_t *op);
static ngx_int_t ngx_http_moa_store_endpoint_answer(
    ngx_http_moa_store_op_t *op);
static ngx_int_t ngx_http_moa_store_endpoint_send(ngx_http_request_t *r,
    ngx_uint_t status, ngx_http_moa_buf_t *json);
static ngx_int_t ngx_http_moa_store_endpoint_error(ngx_http_request_t *r,
    ngx_http_moa_error_t *err);


typedef struct {
    ngx_uint_t                  list;          /* .../input_items */
    ngx_http_moa_stored_page_t  page;
} ngx_http_moa_store_endpoint_t;


/*
 * Whether the URI is one of these endpoints: "/responses/" then one
 * segment, or one and "/input_items"; the id is in *id then.
 */
ngx_int_t
ngx_http_moa_store_endpoint_match(ngx_http_request_t *r, ngx_str_t *id,
    ngx_uint_t *list)
{
    u_char  *p, *end, *seg;

    static u_char  tail[] = "/input_items";

    p = r->uri.data;
    end = r->uri.data + r->uri.len;
    *list = 0;

    /* every request of the location comes here: a byte first, then a call */

    if ((size_t) (end - p) > sizeof(tail) - 1
        && end[-6] == '_'
        && ngx_strncmp(end - (sizeof(tail) - 1), tail, sizeof(tail) - 1)
           == 0)
    {
        end -= sizeof(tail) - 1;
        *list = 1;
    }

    for (seg = end; seg > p && seg[-1] != '/'; seg--) { /* void */ }

    if (seg == end
        || (size_t) (seg - p) < sizeof("/responses/") - 1
        || seg[-2] != 's'
        || ngx_strncmp(seg - (sizeof("/responses/") - 1), "/responses/",
                       sizeof("/responses/") - 1)
           != 0)
    {
        return 0;
    }

    id->data = seg;
    id->len = end - seg;

    return 1;
}


ngx_int_t
ngx_http_moa_store_endpoint_handler(ngx_http_request_t *r, ngx_str_t *id,
    ngx_uint_t list)
{
    ngx_int_t                       rc;
    ngx_uint_t                      op;
    ngx_http_moa_ctx_t             *ctx;
    ngx_http_moa_error_t            err;
    ngx_http_moa_store_op_t        *o;
    ngx_http_moa_store_endpoint_t  *ep;

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_moa_module);

    /* the header filter leaves the module's own answers alone */
    ctx->own_response = 1;
    ctx->stored = 1;

    ep = ngx_pcalloc(r->pool, sizeof(ngx_http_moa_store_endpoint_t));
    if (ep == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ep->list = list;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))
        && !(r->method == NGX_HTTP_DELETE && !list))
    {
        if (ngx_http_moa_output_add_header(r, "Allow", list ? "GET, HEAD"
                                                 : "GET, HEAD, DELETE")
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_http_moa_error_set(&err, NGX_HTTP_NOT_ALLOWED,
                               "invalid_request_error", "method_not_allowed",
                               NULL, "Method not allowed: use %s.",
                               list ? "GET" : "GET or DELETE");
        return ngx_http_moa_store_endpoint_error(r, &err);
    }

    if (list
        && ngx_http_moa_stored_list_page(&ep->page, (char *) r->args.data,
                                         r->args.len, &err)
           != 0)
    {
        return ngx_http_moa_store_endpoint_error(r, &err);
    }

    if (ctx->conf->store == NULL
        || !ngx_http_moa_stored_id_valid((char *) id->data, id->len))
    {
        ngx_http_moa_stored_not_found(&err, (char *) id->data, id->len, 0);
        return ngx_http_moa_store_endpoint_error(r, &err);
    }

    op = (r->method == NGX_HTTP_DELETE) ? NGX_HTTP_MOA_STORE_DELETE
                                        : NGX_HTTP_MOA_STORE_LOAD;

    o = ngx_http_moa_store_op(ctx, op, id);
    if (o == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    o->handler = ngx_http_moa_store_endpoint_done;
    o->data = ep;

    if (ngx_http_moa_store_run(o) == NGX_AGAIN) {
        r->main->count++;
        return NGX_DONE;
    }

    return ngx_http_moa_store_endpoint_answer(o);
}


/* memcached answered */
static void
ngx_http_moa_store_endpoint_done(ngx_http_moa_store_op_t *op)
{
    ngx_http_request_t  *r;

    r = op->ctx->request;

    ngx_http_finalize_request(r, ngx_http_moa_store_endpoint_answer(op));
}


static ngx_int_t
ngx_http_moa_store_endpoint_answer(ngx_http_moa_store_op_t *op)
{
    ngx_http_request_t             *r;
    ngx_http_moa_buf_t              json;
    ngx_http_moa_error_t            err;
    ngx_http_moa_store_endpoint_t  *ep;

    r = op->ctx->request;
    ep = op->data;

    ngx_memzero(&json, sizeof(ngx_http_moa_buf_t));

    switch (op->result) {

    case NGX_HTTP_MOA_STORE_MISS:
        ngx_http_moa_stored_not_found(&err, (char *) op->id.data, op->id.len,
                                      0);
        return ngx_http_moa_store_endpoint_error(r, &err);

    case NGX_HTTP_MOA_STORE_FAILED:
        ngx_http_moa_stored_unavailable(&err, 0);
        return ngx_http_moa_store_endpoint_error(r, &err);
    }

    if (op->op == NGX_HTTP_MOA_STORE_DELETE) {
        ngx_http_moa_stored_deleted(&json, (char *) op->id.data, op->id.len);

    } else if (ep->list) {
        if (ngx_http_moa_stored_list(&json, op->rec.input.p,
                                     op->rec.input.len, &ep->page, &err)
            != 0)
        {
            ngx_http_moa_buf_free(&json);
            return ngx_http_moa_store_endpoint_error(r, &err);
        }

    } else {
        ngx_http_moa_buf_add(&json, op->rec.response.p, op->rec.response.len);
    }

    return ngx_http_moa_store_endpoint_send(r, NGX_HTTP_OK, &json);
}


static ngx_int_t
ngx_http_moa_store_endpoint_error(ngx_http_request_t *r,
    ngx_http_moa_error_t *err)
{
    ngx_http_moa_buf_t  json;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "moa: %V: %s", &r->uri, err->message);

    ngx_memzero(&json, sizeof(ngx_http_moa_buf_t));
    ngx_http_moa_error_json(&json, err);

    return ngx_http_moa_store_endpoint_send(r, err->status, &json);
}


static ngx_int_t
ngx_http_moa_store_endpoint_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_http_moa_buf_t *json)
{
    r->headers_out.status = status;
    r->headers_out.content_type_len = sizeof("application/json") - 1;
    ngx_str_set(&r->headers_out.content_type, "application/json");

    if (ngx_http_moa_output_request_id(r) != NGX_OK) {
        ngx_http_moa_buf_free(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_moa_output_send_text(r, json);
}
