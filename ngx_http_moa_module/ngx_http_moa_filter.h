
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Header and body filters: replies kept, a synthesis stream rewritten, a
 * passthrough forwarded, nginx's error pages as OpenAI errors; and the
 * output sent past the module's own body filter.
 */


#ifndef _NGX_HTTP_MOA_FILTER_H_INCLUDED_
#define _NGX_HTTP_MOA_FILTER_H_INCLUDED_


#include "ngx_http_moa_common.h"


ngx_int_t ngx_http_moa_filter_init(ngx_conf_t *cf);
ngx_int_t ngx_http_moa_filter_send_sub(ngx_http_moa_ctx_t *ctx,
    ngx_http_request_t *sr, u_char *data, size_t len);


#endif /* _NGX_HTTP_MOA_FILTER_H_INCLUDED_ */
