
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * One upstream call's body and headers.
 */


#ifndef _NGX_HTTP_MOA_CALL_BODY_H_INCLUDED_
#define _NGX_HTTP_MOA_CALL_BODY_H_INCLUDED_


#include "ngx_http_moa_common.h"


/* a body of its own for the call's subrequest, or NULL without memory */
ngx_http_request_body_t *ngx_http_moa_call_body(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_call_t *call);
/* the subrequest's headers rebuilt: NGX_OK or NGX_ERROR */
ngx_int_t ngx_http_moa_call_body_headers(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_call_t *call);


#endif /* _NGX_HTTP_MOA_CALL_BODY_H_INCLUDED_ */
