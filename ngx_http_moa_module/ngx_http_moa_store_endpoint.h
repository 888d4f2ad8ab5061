
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * GET and DELETE /v1/responses/{id}, GET /v1/responses/{id}/input_items.
 */


#ifndef _NGX_HTTP_MOA_STORE_ENDPOINT_H_INCLUDED_
#define _NGX_HTTP_MOA_STORE_ENDPOINT_H_INCLUDED_


#include "ngx_http_moa_common.h"


ngx_int_t ngx_http_moa_store_endpoint_match(ngx_http_request_t *r,
    ngx_str_t *id, ngx_uint_t *list);
ngx_int_t ngx_http_moa_store_endpoint_handler(ngx_http_request_t *r,
    ngx_str_t *id, ngx_uint_t list);


#endif /* _NGX_HTTP_MOA_STORE_ENDPOINT_H_INCLUDED_ */
