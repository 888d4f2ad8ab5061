
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * One upstream call: start, result, cancel; the stage names (its body
 * and headers: ngx_http_moa_call_body.c).
 */


#ifndef _NGX_HTTP_MOA_CALL_H_INCLUDED_
#define _NGX_HTTP_MOA_CALL_H_INCLUDED_


#include "ngx_http_moa_common.h"


ngx_int_t ngx_http_moa_call_start(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_call_t *call, ngx_uint_t background);
void ngx_http_moa_call_cancel(ngx_http_moa_call_t *call);
ngx_int_t ngx_http_moa_call_preaccess(ngx_http_request_t *r);
ngx_http_moa_call_t *ngx_http_moa_call_get(ngx_http_request_t *r);
ngx_http_moa_error_t *ngx_http_moa_call_error(ngx_http_moa_call_t *call);
ngx_str_t *ngx_http_moa_call_stage_name(ngx_uint_t stage);


#endif /* _NGX_HTTP_MOA_CALL_H_INCLUDED_ */
