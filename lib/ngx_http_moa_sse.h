
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: an incremental Server-Sent Events parser.  Bytes arrive split
 * anywhere; lines end with LF, CRLF or CR; "data" lines of one event are
 * joined with LF; comments and other fields are ignored.
 */


#ifndef _NGX_HTTP_MOA_SSE_H_INCLUDED_
#define _NGX_HTTP_MOA_SSE_H_INCLUDED_


#include "ngx_http_moa_buf.h"


typedef int (*ngx_http_moa_sse_event_pt)(void *data, const char *event,
    size_t len);


typedef struct {
    ngx_http_moa_buf_t      line;      /* the line being received */
    ngx_http_moa_buf_t      data;      /* data of the event being received */
    size_t                  max;       /* bound on line and event size */
    unsigned                has_data:1;
    unsigned                cr:1;      /* the last byte seen was CR */
} ngx_http_moa_sse_t;


#define NGX_HTTP_MOA_SSE_TOO_BIG  -2
#define NGX_HTTP_MOA_SSE_NOMEM    -1


void ngx_http_moa_sse_init(ngx_http_moa_sse_t *s, size_t max);

/*
 * Feeds bytes; calls handler for every complete event with data.  Returns
 * 0, a negative NGX_HTTP_MOA_SSE_* error, or the first non-zero value
 * returned by the handler (parsing stops there).
 */
int ngx_http_moa_sse_feed(ngx_http_moa_sse_t *s, const char *p, size_t len,
    ngx_http_moa_sse_event_pt handler, void *data);

/* bytes received but not yet part of a complete event */
int ngx_http_moa_sse_pending(ngx_http_moa_sse_t *s);

void ngx_http_moa_sse_free(ngx_http_moa_sse_t *s);


#endif /* _NGX_HTTP_MOA_SSE_H_INCLUDED_ */
