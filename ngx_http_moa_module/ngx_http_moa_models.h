
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa_models: GET /v1/models and /v1/models/{id}.
 */


#ifndef _NGX_HTTP_MOA_MODELS_H_INCLUDED_
#define _NGX_HTTP_MOA_MODELS_H_INCLUDED_


#include "ngx_http_moa_common.h"


char *ngx_http_moa_models(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);


#endif /* _NGX_HTTP_MOA_MODELS_H_INCLUDED_ */
