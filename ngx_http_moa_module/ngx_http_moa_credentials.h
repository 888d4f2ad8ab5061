
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * A provider's refusal of the operator's credentials, kept from the client.
 */


#ifndef _NGX_HTTP_MOA_CREDENTIALS_H_INCLUDED_
#define _NGX_HTTP_MOA_CREDENTIALS_H_INCLUDED_


#include "ngx_http_moa_common.h"


ngx_uint_t ngx_http_moa_credentials_hide(ngx_http_moa_call_t *call);
void ngx_http_moa_credentials_log(ngx_http_moa_call_t *call,
    ngx_http_request_t *sr, const char *message);


#endif /* _NGX_HTTP_MOA_CREDENTIALS_H_INCLUDED_ */
