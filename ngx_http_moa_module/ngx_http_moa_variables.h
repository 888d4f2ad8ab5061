
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The $moa_* variables, $moa_capture among them.
 */


#ifndef _NGX_HTTP_MOA_VARIABLES_H_INCLUDED_
#define _NGX_HTTP_MOA_VARIABLES_H_INCLUDED_


#include "ngx_http_moa_common.h"


ngx_int_t ngx_http_moa_variables_add(ngx_conf_t *cf);


#endif /* _NGX_HTTP_MOA_VARIABLES_H_INCLUDED_ */
