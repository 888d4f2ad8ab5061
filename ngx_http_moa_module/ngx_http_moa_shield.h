
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The X-Accel shield of a call: its upstream ignores X-Accel-* headers.
 */


#ifndef _NGX_HTTP_MOA_SHIELD_H_INCLUDED_
#define _NGX_HTTP_MOA_SHIELD_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


void ngx_http_moa_shield_run(ngx_http_request_t *sr);


#endif /* _NGX_HTTP_MOA_SHIELD_H_INCLUDED_ */
