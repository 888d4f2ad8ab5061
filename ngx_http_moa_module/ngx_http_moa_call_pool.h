
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The pools of a request's calls: the request's and a stage's.
 */


#ifndef _NGX_HTTP_MOA_CALL_POOL_H_INCLUDED_
#define _NGX_HTTP_MOA_CALL_POOL_H_INCLUDED_


#include "ngx_http_moa_common.h"


ngx_pool_t *ngx_http_moa_call_pool_get(ngx_http_moa_ctx_t *ctx,
    ngx_pool_t **slot, size_t size);
size_t ngx_http_moa_call_pool_size(ngx_http_moa_call_t *call,
    ngx_uint_t ncalls, ngx_uint_t staged);
void ngx_http_moa_call_pool_stage_over(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_call_t *calls, ngx_uint_t n);


#endif /* _NGX_HTTP_MOA_CALL_POOL_H_INCLUDED_ */
