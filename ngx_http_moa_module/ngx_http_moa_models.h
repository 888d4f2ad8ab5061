
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa_models: GET /v1/models and /v1/models/{id}.
 */


#ifndef _NGX_HTTP_MOA_MODELS_H_INCLUDED_
#define _NGX_HTTP_MOA_MODELS_H_INCLUDED_


#include "ngx_http_moa_common.h"


ngx_int_t ngx_http_moa_models_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_MOA_MODELS_H_INCLUDED_ */
