
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Output to the client: response headers (one push for all of them, the
 * request id, the event stream's header), the module's own recycled output
 * buffers, and a whole body sent at once.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_moa_common.h"
#include "ngx_http_moa_output.h"

#include "ngx_http_moa_buf.h"


/* one response header; key and value must live as long as the request */
ngx_int_t
ngx_http_moa_output_header(ngx_http_request_t *r, char *key, ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value = *value;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}


ngx_int_t
ngx_http_moa_output_add_header(ngx_http_request_t *r, char *key, char *value)
{
    ngx_str_t  v;

    v.data = (u_char *) value;
    v.len = ngx_strlen(value);

    return ngx_http_moa_output_header(r, key, &v);
}


ngx_int_t
ngx_http_moa_output_request_id(ngx_http_request_t *r)
{
    ngx_str_t                   id;
    ngx_http_variable_value_t  *v;
    ngx_http_moa_main_conf_t   *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_moa_module);

    if (mcf->request_id == NGX_ERROR) {
        return NGX_OK;
    }

    v = ngx_http_get_indexed_variable(r, mcf->request_id);

    if (v == NULL || v->not_found) {
        return NGX_OK;
    }

    id.data = v->data;
    id.len = v->len;

    return ngx_http_moa_output_header(r, "X-Request-Id", &id);
}


/*
 * $request_id of a request the module handles: 16 bytes of OpenSSL's
 * generator in 32 hex digits, as nginx's own, but drawn for 256 ids at a
 * time: a call of RAND_bytes() costs some 6,600 instructions for the 16
 * bytes of one id (a third of what a proxied call costs), 17,500 for the
 * 4 KiB of 256 (70 an id).  The bytes are drawn in the worker that hands
 * them out (a new process draws its own); every other request keeps
 * nginx's handler, and a value already evaluated (an earlier phase read
 * it) stays what it is.
 */

#if (NGX_OPENSSL)

#define NGX_HTTP_MOA_OUTPUT_IDS  256

static ngx_http_get_variable_pt  ngx_http_moa_output_request_id_next;
static ngx_pid_t                 ngx_http_moa_output_ids_pid;
static ngx_uint_t                ngx_http_moa_output_ids_left;
static u_char                    ngx_http_moa_output_ids[
                                     NGX_HTTP_MOA_OUTPUT_IDS * 16];


static ngx_int_t
ngx_http_moa_output_request_id_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char  *id;

    if (ngx_http_get_module_ctx(r->main, ngx_http_moa_module) == NULL) {
        return ngx_http_moa_output_request_id_next(r, v, data);
    }

    if (ngx_http_moa_output_ids_left == 0
        || ngx_http_moa_output_ids_pid != ngx_pid)
    {
        if (RAND_bytes(ngx_http_moa_output_ids,
                       sizeof(ngx_http_moa_output_ids))
            != 1)
        {
            /* nginx's handler logs the failure and goes on without */
            ngx_http_moa_output_ids_left = 0;
            return ngx_http_moa_output_request_id_next(r, v, data);
        }

        ngx_http_moa_output_ids_left = NGX_HTTP_MOA_OUTPUT_IDS;
        ngx_http_moa_output_ids_pid = ngx_pid;
    }

    id = ngx_pnalloc(r->pool, 32);
    if (id == NULL) {
        return NGX_ERROR;
    }

    ngx_http_moa_output_ids_left--;
    ngx_hex_dump(id, ngx_http_moa_output_ids
                     + ngx_http_moa_output_ids_left * 16, 16);

    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->len = 32;
    v->data = id;

    return NGX_OK;
}

#endif


/* at configuration: the handler of $request_id wrapped by the module's */
ngx_int_t
ngx_http_moa_output_request_id_init(ngx_conf_t *cf)
{
#if (NGX_OPENSSL)
    ngx_uint_t                  i;
    ngx_hash_key_t             *key;
    ngx_http_variable_t        *v;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    if (cmcf->variables_keys == NULL) {
        return NGX_OK;
    }

    key = cmcf->variables_keys->keys.elts;

    for (i = 0; i < cmcf->variables_keys->keys.nelts; i++) {
        if (key[i].key.len != sizeof("request_id") - 1
            || ngx_strncmp(key[i].key.data, "request_id",
                           sizeof("request_id") - 1) != 0)
        {
            continue;
        }

        v = key[i].value;

        if (v->get_handler != NULL
            && v->get_handler != ngx_http_moa_output_request_id_variable)
        {
            ngx_http_moa_output_request_id_next = v->get_handler;
            v->get_handler = ngx_http_moa_output_request_id_variable;
        }

        break;
    }
#endif

    return NGX_OK;
}


/*
 * nginx's error log handler (the same for every request): kept here, not
 * in the module's context, which an internal redirect clears
 */
static ngx_http_log_handler_pt  ngx_http_moa_output_log_next;


/* nginx's context of an error log line, then the request id */
static u_char *
ngx_http_moa_output_log_handler(ngx_http_request_t *r, ngx_http_request_t *sr,
    u_char *buf, size_t len)
{
    u_char                     *p;
    ngx_http_variable_value_t  *v;
    ngx_http_moa_main_conf_t   *mcf;

    p = ngx_http_moa_output_log_next(r, sr, buf, len);
    len -= p - buf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_moa_module);

    if (mcf == NULL || mcf->request_id == NGX_ERROR) {
        return p;
    }

    v = ngx_http_get_indexed_variable(r, mcf->request_id);

    if (v == NULL || v->not_found) {
        return p;
    }

    return ngx_snprintf(p, len, ", request_id: %v", v);
}


/*
 * The request id on every error log line of the request from now on, as
 * the X-Request-Id header and the capture record carry it.
 */
void
ngx_http_moa_output_log_id(ngx_http_request_t *r)
{
    if (r->log_handler == NULL
        || r->log_handler == ngx_http_moa_output_log_handler)
    {
        return;
    }

    ngx_http_moa_output_log_next = r->log_handler;
    r->log_handler = ngx_http_moa_output_log_handler;
}


ngx_int_t
ngx_http_moa_output_sse_header(ngx_http_moa_ctx_t *ctx)
{
    ngx_http_request_t  *r;

    if (ctx->header_sent) {
        return NGX_OK;
    }

    r = ctx->request;

    ctx->header_sent = 1;
    ctx->sse_header = 1;
    ctx->own_response = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_type_len = sizeof("text/event-stream") - 1;
    ngx_str_set(&r->headers_out.content_type,
                "text/event-stream; charset=utf-8");
    r->headers_out.content_type_lowcase = NULL;

    ngx_http_clear_content_length(r);
    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);

    if (ngx_http_moa_output_add_header(r, "Cache-Control", "no-cache")
        != NGX_OK
        || ngx_http_moa_output_add_header(r, "X-Accel-Buffering", "no")
           != NGX_OK
        || ngx_http_moa_output_request_id(r) != NGX_OK)
    {
        return NGX_ERROR;
    }

#if (NGX_HTTP_GZIP)
    /* never compressed: every event must leave at once */
    r->gzip_tested = 1;
    r->gzip_ok = 0;
#endif

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "moa stream header");

    return ngx_http_send_header(r);
}


/* one of the module's own output buffers, recycled through ctx->free */
ngx_chain_t *
ngx_http_moa_output_chain_buf(ngx_http_moa_ctx_t *ctx, ngx_pool_t *pool,
    u_char *data, size_t len, ngx_uint_t last)
{
    size_t        size;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    cl = ngx_chain_get_free_buf(pool, &ctx->free);
    if (cl == NULL) {
        return NULL;
    }

    b = cl->buf;

    /* a special buffer (len 0, the end) needs no memory */

    if (len && (b->start == NULL || (size_t) (b->end - b->start) < len)) {
        size = ngx_max(len, 4096);

        b->start = ngx_palloc(pool, size);
        if (b->start == NULL) {
            return NULL;
        }

        b->end = b->start + size;
    }

    b->pos = b->start;
    b->last = len ? ngx_cpymem(b->pos, data, len) : b->pos;
    b->temporary = (len > 0);         /* else a special buffer */
    b->tag = (ngx_buf_tag_t) &ngx_http_moa_module;
    b->flush = 1;
    b->last_buf = last ? 1 : 0;
    b->last_in_chain = 0;
    b->sync = (len == 0) ? 1 : 0;

    return cl;
}


/*
 * Data in one of the module's buffers, through a body filter: the whole
 * chain for the main request's own output, or, for output that goes out
 * while the synthesis subrequest is active, the filters after the
 * module's own (ngx_http_moa_filter_send_sub).
 */
ngx_int_t
ngx_http_moa_output_chain(ngx_http_moa_ctx_t *ctx, ngx_http_request_t *r,
    ngx_http_output_body_filter_pt filter, u_char *data, size_t len,
    ngx_uint_t last)
{
    ngx_int_t     rc;
    ngx_chain_t  *out;

    out = ngx_http_moa_output_chain_buf(ctx, r->pool, data, len, last);
    if (out == NULL) {
        return NGX_ERROR;
    }

    ctx->last_output = ngx_current_msec;

    rc = filter(r, out);

    ngx_chain_update_chains(r->pool, &ctx->free, &ctx->busy, &out,
                            (ngx_buf_tag_t) &ngx_http_moa_module);

    return rc;
}


ngx_int_t
ngx_http_moa_output_send_buf(ngx_http_moa_ctx_t *ctx, ngx_http_request_t *r,
    u_char *data, size_t len, ngx_uint_t last)
{
    return ngx_http_moa_output_chain(ctx, r, ngx_http_output_filter, data,
                                     len, last);
}


/*
 * A whole body of the module's own pages (moa_models, moa_metrics): the
 * status and content type are set by the caller; the text is copied into
 * the request's pool and freed.
 */
ngx_int_t
ngx_http_moa_output_send_text(ngx_http_request_t *r, ngx_http_moa_buf_t *text)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    if (text->nomem) {
        ngx_http_moa_buf_free(text);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_create_temp_buf(r->pool, text->len);
    if (b == NULL) {
        ngx_http_moa_buf_free(text);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->pos, text->data, text->len);
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    ngx_http_moa_buf_free(text);

    r->headers_out.content_length_n = b->last - b->pos;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
