
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


static ngx_http_request_body_t *ngx_http_moa_call_body_alloc(
    ngx_pool_t *pool, ngx_uint_t n);
static ngx_table_elt_t *ngx_http_moa_call_body_push_header(
    ngx_http_request_t *sr, ngx_uint_t i, ngx_str_t *value);


static ngx_str_t  ngx_http_moa_json_type = ngx_string("application/json");
static ngx_str_t  ngx_http_moa_sse_type = ngx_string("text/event-stream");


/* the headers a call sends, their hashes computed once */

#define NGX_HTTP_MOA_CALL_CONTENT_TYPE   0
#define NGX_HTTP_MOA_CALL_ACCEPT         1
#define NGX_HTTP_MOA_CALL_AUTHORIZATION  2

static struct {
    ngx_str_t    key;
    char        *lowcase;
    ngx_uint_t   hash;
} ngx_http_moa_call_headers[] = {
    { ngx_string("Content-Type"), "content-type", 0 },
    { ngx_string("Accept"), "accept", 0 },
    { ngx_string("Authorization"), "authorization", 0 }
};


/*
 * A new body of its own (the client's would be sent otherwise): one
 * buffer per part, referring to text the request keeps
 */
ngx_http_request_body_t *
ngx_http_moa_call_body(ngx_http_moa_ctx_t *ctx, ngx_http_moa_call_t *call)
{
    u_char                   *p;
    size_t                    i, len;
    ngx_uint_t                n;
    ngx_chain_t              *cl;
    ngx_http_moa_part_t      *part;
    ngx_http_request_body_t  *rb;

    /*
     * a passthrough sends the client's body as it came; a small body of
     * many parts is cheaper as one piece of the pool: each part costs two
     * buffers and two links (the proxy copies the chain)
     */

    p = NULL;
    len = 0;
    n = call->body.nparts;

    if (call == ctx->passthrough) {
        p = ctx->body.data;
        len = ctx->body.len;
        n = 1;

    } else if (call->body.nparts > 2
               && call->body.len <= NGX_HTTP_MOA_SMALL_BODY)
    {
        ngx_http_moa_body_flat(&call->body, &call->flat);
        ngx_http_moa_body_free(&call->body);

        if (call->flat.nomem) {
            return NULL;
        }

        p = (u_char *) call->flat.data;
        len = call->flat.len;
        n = 1;
    }

    /* in the subrequest's pool: a stage's bodies go with the stage */

    rb = ngx_http_moa_call_body_alloc(call->sr->pool, n);
    if (rb == NULL) {
        return NULL;
    }

    cl = rb->bufs;

    if (p) {
        cl->buf->pos = p;
        cl->buf->last = p + len;
        call->body_len = len;

    } else {
        for (i = 0; i < n; i++) {
            part = &call->body.parts[i];

            cl[i].buf->pos = (u_char *) part->p;
            cl[i].buf->last = (u_char *) part->p + part->len;
        }

        call->body_len = call->body.len;
    }

    for ( /* void */ ; cl; cl = cl->next) {
        cl->buf->start = cl->buf->pos;
        cl->buf->end = cl->buf->last;
        rb->buf = cl->buf;
    }

    rb->buf->last_buf = 1;
    rb->buf->last_in_chain = 1;

    return rb;
}


/*
 * A request body of n in-memory buffers, chained: the body, the links and
 * the buffers in one allocation of the pool (a critique's body has a
 * dozen parts, and an allocation each costs more than its memory)
 */
static ngx_http_request_body_t *
ngx_http_moa_call_body_alloc(ngx_pool_t *pool, ngx_uint_t n)
{
    ngx_buf_t                *b;
    ngx_uint_t                i;
    ngx_chain_t              *cl;
    ngx_http_request_body_t  *rb;

    if (n == 0) {
        return NULL;
    }

    rb = ngx_palloc(pool, sizeof(ngx_http_request_body_t)
                          + n * (sizeof(ngx_chain_t) + sizeof(ngx_buf_t)));
    if (rb == NULL) {
        return NULL;
    }

    cl = (ngx_chain_t *) &rb[1];
    b = (ngx_buf_t *) &cl[n];

    ngx_memzero(rb, sizeof(ngx_http_request_body_t));
    ngx_memzero(b, n * sizeof(ngx_buf_t));

    for (i = 0; i < n; i++) {
        b[i].memory = 1;
        cl[i].buf = &b[i];
        cl[i].next = (i + 1 < n) ? &cl[i + 1] : NULL;
    }

    rb->bufs = cl;

    return rb;
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

    h = ngx_http_moa_call_body_push_header(sr,
                                           NGX_HTTP_MOA_CALL_CONTENT_TYPE,
                                           &ngx_http_moa_json_type);
    if (h == NULL) {
        return NGX_ERROR;
    }

    sr->headers_in.content_type = h;

    accept = call->stream ? &ngx_http_moa_sse_type : &ngx_http_moa_json_type;

    if (ngx_http_moa_call_body_push_header(sr, NGX_HTTP_MOA_CALL_ACCEPT,
                                           accept)
        == NULL)
    {
        return NGX_ERROR;
    }

    auth = r->headers_in.authorization;

    if (ctx->conf->pass_client_authorization && auth && !call->raw) {
        h = ngx_http_moa_call_body_push_header(sr,
                                        NGX_HTTP_MOA_CALL_AUTHORIZATION,
                                        &auth->value);
        if (h == NULL) {
            return NGX_ERROR;
        }

        sr->headers_in.authorization = h;
    }

    return NGX_OK;
}


static ngx_table_elt_t *
ngx_http_moa_call_body_push_header(ngx_http_request_t *sr, ngx_uint_t i,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&sr->headers_in.headers);
    if (h == NULL) {
        return NULL;
    }

    h->key = ngx_http_moa_call_headers[i].key;
    h->lowcase_key = (u_char *) ngx_http_moa_call_headers[i].lowcase;

    /*
     * the real hash: the proxy leaves out a header the location sets
     * itself (proxy_set_header) by looking it up with this hash
     */

    if (ngx_http_moa_call_headers[i].hash == 0) {
        ngx_http_moa_call_headers[i].hash = ngx_hash_key(h->lowcase_key,
                                                         h->key.len);
    }

    h->hash = ngx_http_moa_call_headers[i].hash;
    h->value = *value;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return h;
}
