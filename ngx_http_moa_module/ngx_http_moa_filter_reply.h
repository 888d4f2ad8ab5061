
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The body of a call's reply: kept, streamed (sniffed), observed.
 */


#ifndef _NGX_HTTP_MOA_FILTER_REPLY_H_INCLUDED_
#define _NGX_HTTP_MOA_FILTER_REPLY_H_INCLUDED_


#include "ngx_http_moa_common.h"


ngx_int_t ngx_http_moa_filter_reply_keep(ngx_http_request_t *r,
    ngx_http_moa_call_t *call, ngx_chain_t *in);
ngx_int_t ngx_http_moa_filter_reply_sniff(ngx_http_request_t *r,
    ngx_http_moa_call_t *call, ngx_http_output_body_filter_pt next);
ngx_int_t ngx_http_moa_filter_reply_stream(ngx_http_request_t *r,
    ngx_http_moa_call_t *call, ngx_chain_t *in,
    ngx_http_output_body_filter_pt next);
ngx_int_t ngx_http_moa_filter_reply_observe(ngx_http_request_t *r,
    ngx_http_moa_call_t *call, ngx_chain_t *in);


#endif /* _NGX_HTTP_MOA_FILTER_REPLY_H_INCLUDED_ */
