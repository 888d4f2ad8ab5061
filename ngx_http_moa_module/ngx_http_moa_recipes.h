
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The recipes in the glue: a request's recipe, a stage call's parameters,
 * early agreement, the select judge.
 */


#ifndef _NGX_HTTP_MOA_RECIPES_H_INCLUDED_
#define _NGX_HTTP_MOA_RECIPES_H_INCLUDED_


#include "ngx_http_moa_common.h"
#include "ngx_http_moa_stage_body.h"


ngx_int_t ngx_http_moa_recipes_init(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_error_t *err);
void ngx_http_moa_recipes_params(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_call_t *call, ngx_http_moa_target_t *t,
    ngx_str_t *temperature, long long limit, ngx_uint_t answer,
    ngx_http_moa_stage_body_params_t *cp);
ngx_int_t ngx_http_moa_recipes_candidates_text(ngx_http_moa_ctx_t *ctx);
ngx_int_t ngx_http_moa_recipes_agreement(ngx_http_moa_ctx_t *ctx);
ngx_int_t ngx_http_moa_recipes_start_select(ngx_http_moa_ctx_t *ctx);
void ngx_http_moa_recipes_select_done(ngx_http_moa_ctx_t *ctx);


#endif /* _NGX_HTTP_MOA_RECIPES_H_INCLUDED_ */
