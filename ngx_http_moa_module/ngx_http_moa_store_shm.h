
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The store of responses in a shared memory zone: by id, LRU, with a TTL.
 */


#ifndef _NGX_HTTP_MOA_STORE_SHM_H_INCLUDED_
#define _NGX_HTTP_MOA_STORE_SHM_H_INCLUDED_


#include "ngx_http_moa_common.h"
#include "ngx_http_moa_store.h"


ngx_shm_zone_t *ngx_http_moa_store_shm_zone(ngx_conf_t *cf, ngx_str_t *name,
    ssize_t size);
void ngx_http_moa_store_shm_load(ngx_http_moa_store_op_t *op);
void ngx_http_moa_store_shm_save(ngx_http_moa_store_op_t *op);
void ngx_http_moa_store_shm_delete(ngx_http_moa_store_op_t *op);


#endif /* _NGX_HTTP_MOA_STORE_SHM_H_INCLUDED_ */
