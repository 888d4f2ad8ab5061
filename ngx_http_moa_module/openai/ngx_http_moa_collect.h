
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: a streamed answer put back together from its chunks (choice
 * 0: content, refusal, tool calls, and the usage), for the capture line.
 */


#ifndef _NGX_HTTP_MOA_COLLECT_H_INCLUDED_
#define _NGX_HTTP_MOA_COLLECT_H_INCLUDED_


#include <cjson/cJSON.h>

#include "ngx_http_moa_buf.h"


/* a streamed answer put back together from its deltas (choice 0) */
typedef struct {
    ngx_http_moa_buf_t           content;
    ngx_http_moa_buf_t           refusal;
    cJSON                       *tool_calls;  /* by index, or NULL */
    cJSON                       *usage;       /* from a usage chunk */
    unsigned                     has_content:1;
    unsigned                     has_refusal:1;
    unsigned                     failed:1;
} ngx_http_moa_collect_t;


int ngx_http_moa_collect_chunk(ngx_http_moa_collect_t *col, const char *data,
    size_t len);
cJSON *ngx_http_moa_collect_message(ngx_http_moa_collect_t *col);
void ngx_http_moa_collect_free(ngx_http_moa_collect_t *col);


#endif /* _NGX_HTTP_MOA_COLLECT_H_INCLUDED_ */
