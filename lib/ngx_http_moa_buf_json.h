
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code (no nginx types): JSON string escaping into a buffer.
 */


#ifndef _NGX_HTTP_MOA_BUF_JSON_H_INCLUDED_
#define _NGX_HTTP_MOA_BUF_JSON_H_INCLUDED_


#include <stddef.h>

#include "ngx_http_moa_buf.h"


/* the text escaped as the inside of a JSON string (no quotes) */
void ngx_http_moa_buf_json_inner(ngx_http_moa_buf_t *b, const char *p,
    size_t n);
/* the text as a JSON string, quotes included */
void ngx_http_moa_buf_json_str(ngx_http_moa_buf_t *b, const char *p,
    size_t n);


#endif /* _NGX_HTTP_MOA_BUF_JSON_H_INCLUDED_ */
