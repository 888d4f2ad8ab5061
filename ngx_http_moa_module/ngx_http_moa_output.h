
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Output to the client: headers, the module's output buffers, whole bodies.
 */


#ifndef _NGX_HTTP_MOA_OUTPUT_H_INCLUDED_
#define _NGX_HTTP_MOA_OUTPUT_H_INCLUDED_


#include "ngx_http_moa_common.h"


ngx_int_t ngx_http_moa_output_header(ngx_http_request_t *r, char *key,
    ngx_str_t *value);
ngx_int_t ngx_http_moa_output_add_header(ngx_http_request_t *r, char *key,
    char *value);
ngx_int_t ngx_http_moa_output_request_id(ngx_http_request_t *r);
ngx_int_t ngx_http_moa_output_request_id_init(ngx_conf_t *cf);
void ngx_http_moa_output_log_id(ngx_http_request_t *r);
ngx_int_t ngx_http_moa_output_sse_header(ngx_http_moa_ctx_t *ctx);
ngx_chain_t *ngx_http_moa_output_chain_buf(ngx_http_moa_ctx_t *ctx,
    ngx_pool_t *pool, u_char *data, size_t len, ngx_uint_t last);
ngx_int_t ngx_http_moa_output_chain(ngx_http_moa_ctx_t *ctx,
    ngx_http_request_t *r, ngx_http_output_body_filter_pt filter,
    u_char *data, size_t len, ngx_uint_t last);
ngx_int_t ngx_http_moa_output_send_buf(ngx_http_moa_ctx_t *ctx,
    ngx_http_request_t *r, u_char *data, size_t len, ngx_uint_t last);
ngx_int_t ngx_http_moa_output_send_text(ngx_http_request_t *r,
    ngx_http_moa_buf_t *text);


#endif /* _NGX_HTTP_MOA_OUTPUT_H_INCLUDED_ */
