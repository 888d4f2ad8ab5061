
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the client's chat completion request, validated in one pass
 * over its text, what the chain reads of it, and the MoA model's limits.
 */


#ifndef _NGX_HTTP_MOA_REQUEST_H_INCLUDED_
#define _NGX_HTTP_MOA_REQUEST_H_INCLUDED_


#include <cjson/cJSON.h>

#include "ngx_http_moa_json.h"
#include "ngx_http_moa_error.h"


typedef struct {
    const char                  *body;       /* the raw body, not owned */
    size_t                       len;
    ngx_http_moa_json_t          json;       /* its tokens */
    ngx_http_moa_json_member_t  *members;    /* raw top-level members */
    size_t                       nmembers;
    cJSON                       *root;       /* parsed on demand */

    const char                  *model;      /* decoded, NUL-terminated */
    size_t                       model_len;  /* decoded: may hold a NUL */
    ngx_http_moa_buf_t           model_buf;  /* model with escapes or long */
    char                         model_text[48];
    const ngx_http_moa_json_member_t  *raw_messages;
    int                          messages;   /* token of the array */
    int                          audio;      /* tokens of values, or -1 */
    int                          modalities;
    int                          prediction;
    ngx_http_moa_span_t          stream_options;   /* len 0: none */

    long long                    seed;
    long long                    max_tokens; /* the client's limit, or 0 */
    int                          n;
    int                          moa;        /* token of "moa", or -1 */
    unsigned                     stream:1;
    unsigned                     include_usage:1;
    unsigned                     has_seed:1;
    unsigned                     has_tools:1;
    unsigned                     max_completion_tokens:1;
    unsigned                     json_schema:1;  /* response_format */
} ngx_http_moa_request_t;


int ngx_http_moa_request_parse(ngx_http_moa_request_t *req, const char *body,
    size_t len, ngx_http_moa_error_t *err);
int ngx_http_moa_request_check_moa(ngx_http_moa_request_t *req,
    int unknown, ngx_http_moa_error_t *err);
void ngx_http_moa_request_free(ngx_http_moa_request_t *req);
cJSON *ngx_http_moa_request_root(ngx_http_moa_request_t *req);
void ngx_http_moa_request_compact(ngx_http_moa_request_t *req);


#endif /* _NGX_HTTP_MOA_REQUEST_H_INCLUDED_ */
