
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: GET /v1/responses/{id}/input_items, the list object of a
 * stored response's input items, paged as OpenAI pages it (limit, order,
 * after, before).
 */


#ifndef _NGX_HTTP_MOA_STORED_LIST_H_INCLUDED_
#define _NGX_HTTP_MOA_STORED_LIST_H_INCLUDED_


#include <stddef.h>

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_error.h"
#include "ngx_http_moa_stored.h"


#define NGX_HTTP_MOA_STORED_LIST_DEFAULT  20
#define NGX_HTTP_MOA_STORED_LIST_MAX      100


typedef struct {
    int                         limit;
    int                         desc;       /* order=desc, the default */
    size_t                      after_len;  /* 0: not given */
    size_t                      before_len;
    char                        after[NGX_HTTP_MOA_STORED_ID_MAX + 1];
    char                        before[NGX_HTTP_MOA_STORED_ID_MAX + 1];
} ngx_http_moa_stored_page_t;


int ngx_http_moa_stored_list_page(ngx_http_moa_stored_page_t *page,
    const char *args, size_t len, ngx_http_moa_error_t *err);
int ngx_http_moa_stored_list(ngx_http_moa_buf_t *out, const char *items,
    size_t len, const ngx_http_moa_stored_page_t *page,
    ngx_http_moa_error_t *err);


#endif /* _NGX_HTTP_MOA_STORED_LIST_H_INCLUDED_ */
