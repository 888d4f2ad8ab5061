
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The store of responses in memcached, through an internal location.
 */


#ifndef _NGX_HTTP_MOA_STORE_MEMC_H_INCLUDED_
#define _NGX_HTTP_MOA_STORE_MEMC_H_INCLUDED_


#include "ngx_http_moa_common.h"
#include "ngx_http_moa_store.h"


ngx_int_t ngx_http_moa_store_memc_start(ngx_http_moa_store_op_t *op);
ngx_int_t ngx_http_moa_store_memc_result(ngx_http_moa_store_op_t *op);


#endif /* _NGX_HTTP_MOA_STORE_MEMC_H_INCLUDED_ */
