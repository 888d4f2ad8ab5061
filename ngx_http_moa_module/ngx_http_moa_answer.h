
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * How a request ends: the answer, a stream's end, errors, progress.
 */


#ifndef _NGX_HTTP_MOA_ANSWER_H_INCLUDED_
#define _NGX_HTTP_MOA_ANSWER_H_INCLUDED_


#include "ngx_http_moa_common.h"


void ngx_http_moa_answer(ngx_http_moa_ctx_t *ctx, ngx_http_moa_reply_t *rep,
    ngx_int_t choice);
void ngx_http_moa_answer_translated(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_call_t *call);
void ngx_http_moa_answer_stream_end(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_error_t *err);
void ngx_http_moa_answer_calls_error(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_call_t *calls, ngx_uint_t n, ngx_uint_t ok,
    const char *what);
void ngx_http_moa_answer_fail(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_error_t *err, ngx_str_t *retry_after, ngx_uint_t no_retry);
void ngx_http_moa_answer_finalize(ngx_http_moa_ctx_t *ctx, ngx_int_t rc);
ngx_int_t ngx_http_moa_answer_progress(ngx_http_moa_ctx_t *ctx,
    ngx_uint_t keepalive);


#endif /* _NGX_HTTP_MOA_ANSWER_H_INCLUDED_ */
