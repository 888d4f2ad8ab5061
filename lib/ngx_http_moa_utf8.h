
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code (no nginx types): UTF-8 validation, strict as RFC 3629 (no
 * overlong forms, no UTF-16 surrogates, nothing above U+10FFFF).
 */


#ifndef _NGX_HTTP_MOA_UTF8_H_INCLUDED_
#define _NGX_HTTP_MOA_UTF8_H_INCLUDED_


#include <stddef.h>


/* the length of the valid UTF-8 sequence at p[0..n), 0 if there is none */
size_t ngx_http_moa_utf8_seq(const char *p, size_t n);

/* 1 if p[0..n) is valid UTF-8, else 0 */
int ngx_http_moa_utf8_valid(const char *p, size_t n);

/*
 * drops in place every byte of p[0..n) that starts no valid sequence (the
 * rest of a character cut by a length limit, say); returns the new length
 */
size_t ngx_http_moa_utf8_clean(char *p, size_t n);


#endif /* _NGX_HTTP_MOA_UTF8_H_INCLUDED_ */
