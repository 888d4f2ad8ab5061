
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The stage machine: proposals, critique, synthesis, or a passthrough.
 */


#ifndef _NGX_HTTP_MOA_STAGES_H_INCLUDED_
#define _NGX_HTTP_MOA_STAGES_H_INCLUDED_


#include "ngx_http_moa_common.h"


ngx_int_t ngx_http_moa_stages_start_proposals(ngx_http_moa_ctx_t *ctx);
ngx_int_t ngx_http_moa_stages_start_passthrough(ngx_http_moa_ctx_t *ctx);
void ngx_http_moa_stages_advance(ngx_http_moa_ctx_t *ctx);


#endif /* _NGX_HTTP_MOA_STAGES_H_INCLUDED_ */
