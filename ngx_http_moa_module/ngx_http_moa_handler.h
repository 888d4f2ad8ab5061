
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The content handler of a MoA location (registered by moa_pass).
 */


#ifndef _NGX_HTTP_MOA_HANDLER_H_INCLUDED_
#define _NGX_HTTP_MOA_HANDLER_H_INCLUDED_


#include "ngx_http_moa_common.h"


ngx_int_t ngx_http_moa_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_MOA_HANDLER_H_INCLUDED_ */
