
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * What one upstream call sends: its request body (its own, one buffer
 * per part of the text the request keeps) and its headers, rebuilt so
 * that no client header reaches the provider unless asked for.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_moa_common.h"
#include "ngx_http_moa_call_body.h"
#include "ngx_http_moa_credentials.h"
#include "ngx_http_moa_shield.h"

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_error.h"
#include "ngx_http_moa_body.h"


static ngx_chain_t *ngx_http_moa_call_body_buf(ngx_pool_t *pool,
    u_char *p, size_t len);
static ngx_table_elt_t *ngx_http_moa_call_body_push_header(
    ngx_http_request_t *sr, char *key, char *lowcase, ngx_str_t *value);


static ngx_str_t  ngx_http_moa_json_type = ngx_string("application/json");
static ngx_str_t  ngx_http_moa_sse_type = ngx_string("text/event-stream");


/*
 * A new body of its own (the client's would be sent otherwise): one
 * buffer per part, referring to text the request keeps
 */
ngx_http_request_body_t *
ngx_http_moa_call_body(ngx_http_moa_ctx_t *ctx, ngx_http_moa_call_t *call)
{
    size_t                    i;
    ngx_pool_t               *pool;
    ngx_chain_t              *cl, **ll;
    ngx_http_moa_part_t      *part;
    ngx_http_request_body_t  *rb;

    /* the subrequest's pool: a stage's goes with the stage */

    pool = call->sr->pool;

    rb = ngx_pcalloc(pool, sizeof(ngx_http_request_body_t));
    if (rb == NULL) {
        return NULL;
    }

    /*
     * a passthrough sends the client's body as it came; a small body of
     * many parts is cheaper as one piece of the pool: each part costs two
     * buffers and two links (the proxy copies the chain)
     */

    call->body_len = (call == ctx->passthrough) ? ctx->body.len
                                                : call->body.len;

    if (call == ctx->passthrough) {
        rb->bufs = ngx_http_moa_call_body_buf(pool, ctx->body.data,
                                              ctx->body.len);

    } else if (call->body.nparts > 2
               && call->body.len <= NGX_HTTP_MOA_SMALL_BODY)
    {
        ngx_http_moa_body_flat(&call->body, &call->flat);
        ngx_http_moa_body_free(&call->body);

        if (call->flat.nomem) {
            return NULL;
        }

        rb->bufs = ngx_http_moa_call_body_buf(pool,
                                              (u_char *) call->flat.data,
                                              call->flat.len);

    } else {
        ll = &rb->bufs;

        for (i = 0; i < call->body.nparts; i++) {
            part = &call->body.parts[i];

            *ll = ngx_http_moa_call_body_buf(pool, (u_char *) part->p,
                                             part->len);
            if (*ll == NULL) {
                return NULL;
            }

            ll = &(*ll)->next;
        }
    }

    if (rb->bufs == NULL) {
        return NULL;
    }

    for (cl = rb->bufs; cl->next; cl = cl->next) { /* void */ }

    rb->buf = cl->buf;
    rb->buf->last_buf = 1;
    rb->buf->last_in_chain = 1;

    return rb;
}


static ngx_chain_t *
ngx_http_moa_call_body_buf(ngx_pool_t *pool, u_char *p, size_t len)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    b = ngx_calloc_buf(pool);
    if (b == NULL) {
        return NULL;
    }

    b->start = p;
    b->pos = p;
    b->last = p + len;
    b->end = b->last;
    b->memory = 1;

    cl = ngx_alloc_chain_link(pool);
    if (cl == NULL) {
        return NULL;
    }

    cl->buf = b;
    cl->next = NULL;

    return cl;
}


/*
 * The subrequest's headers are a struct copy of the client's: rebuild them,
 * so that no client header (Authorization, Cookie, Accept-Encoding...)
 * reaches the provider unless asked for.
 */
ngx_int_t
ngx_http_moa_call_body_headers(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_call_t *call)
{
    ngx_str_t            *accept;
    ngx_table_elt_t      *h, *auth;
    ngx_http_request_t   *r, *sr;

    r = ctx->request;
    sr = call->sr;

    ngx_memzero(&sr->headers_in, sizeof(ngx_http_headers_in_t));

    sr->headers_in.server = r->headers_in.server;
    sr->headers_in.keep_alive_n = -1;

    /*
     * the length is set once the call has found its location: nginx holds
     * every request (subrequests too) whose length it knows at that moment
     * to the location's client_max_body_size, and a limit on what clients
     * send does not apply to the bodies the module built (a critique
     * carries the conversation and every candidate); see
     * ngx_http_moa_call_preaccess()
     */

    sr->headers_in.content_length_n = -1;

    if (ngx_list_init(&sr->headers_in.headers, sr->pool, 4,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    h = ngx_http_moa_call_body_push_header(sr, "Content-Type",
                                           "content-type",
                                           &ngx_http_moa_json_type);
    if (h == NULL) {
        return NGX_ERROR;
    }

    sr->headers_in.content_type = h;

    accept = call->stream ? &ngx_http_moa_sse_type : &ngx_http_moa_json_type;

    if (ngx_http_moa_call_body_push_header(sr, "Accept", "accept", accept)
        == NULL)
    {
        return NGX_ERROR;
    }

    auth = r->headers_in.authorization;

    if (ctx->conf->pass_client_authorization && auth && !call->raw) {
        h = ngx_http_moa_call_body_push_header(sr, "Authorization",
                                               "authorization",
                                               &auth->value);
        if (h == NULL) {
            return NGX_ERROR;
        }

        sr->headers_in.authorization = h;
    }

    return NGX_OK;
}


static ngx_table_elt_t *
ngx_http_moa_call_body_push_header(ngx_http_request_t *sr, char *key,
    char *lowcase, ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&sr->headers_in.headers);
    if (h == NULL) {
        return NULL;
    }

    /*
     * the real hash: the proxy leaves out a header the location sets
     * itself (proxy_set_header) by looking it up with this hash
     */

    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->lowcase_key = (u_char *) lowcase;
    h->hash = ngx_hash_key(h->lowcase_key, h->key.len);
    h->value = *value;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return h;
}
