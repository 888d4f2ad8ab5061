
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the OpenAI error object (status, type, code, param, message),
 * made by the module or read from a provider's error reply, and written as
 * a JSON body or as a stream's error event.
 */


#ifndef _NGX_HTTP_MOA_ERROR_H_INCLUDED_
#define _NGX_HTTP_MOA_ERROR_H_INCLUDED_


#include <stddef.h>

#include "ngx_http_moa_buf.h"


typedef struct {
    int                          status;     /* HTTP status */
    const char                  *type;       /* e.g. invalid_request_error */
    const char                  *code;       /* or NULL */
    const char                  *param;      /* or NULL */
    char                         message[256];
    char                         buf[3][64];  /* type, code, param copied
                                                 from a provider's error */
} ngx_http_moa_error_t;


#if defined(__GNUC__)
#define NGX_HTTP_MOA_PRINTF(f, a)  __attribute__((format(printf, f, a)))
#else
#define NGX_HTTP_MOA_PRINTF(f, a)
#endif

void ngx_http_moa_error_set(ngx_http_moa_error_t *err, int status,
    const char *type, const char *code, const char *param,
    const char *fmt, ...) NGX_HTTP_MOA_PRINTF(6, 7);
void ngx_http_moa_error_move(ngx_http_moa_error_t *dst,
    const ngx_http_moa_error_t *src);
int ngx_http_moa_error_from_reply(ngx_http_moa_error_t *err, int status,
    const char *p, size_t len);
void ngx_http_moa_error_json(ngx_http_moa_buf_t *out,
    const ngx_http_moa_error_t *err);
void ngx_http_moa_error_event(ngx_http_moa_buf_t *out,
    const ngx_http_moa_error_t *err);


#endif /* _NGX_HTTP_MOA_ERROR_H_INCLUDED_ */
