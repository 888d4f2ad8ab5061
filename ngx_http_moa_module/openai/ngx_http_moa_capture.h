
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: one line of a fine-tuning file (OpenAI chat format).
 */


#ifndef _NGX_HTTP_MOA_CAPTURE_H_INCLUDED_
#define _NGX_HTTP_MOA_CAPTURE_H_INCLUDED_


#include <cjson/cJSON.h>

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_request.h"


/* what a capture line says about the request besides the conversation */
typedef struct {
    const char                  *model;
    const char                  *base_model;  /* NULL for passthrough */
    const cJSON                 *usage;
    double                       time;        /* start, Unix seconds */
    double                       duration;    /* seconds */
    const char                  *request_id;
    size_t                       request_id_len;
    int                          fallback;    /* the answer is a candidate */
    const char                  *recipe;      /* synthesize, select, NULL */
    int                          layers;      /* of proposals run, or 0 */
    const char                  *shortcut;    /* agreement, or NULL */
    int                          selected;    /* the judge's pick, 1.., 0 */
} ngx_http_moa_capture_meta_t;


int ngx_http_moa_capture_line(ngx_http_moa_buf_t *out,
    ngx_http_moa_request_t *req, const cJSON *answer,
    const ngx_http_moa_capture_meta_t *meta);


#endif /* _NGX_HTTP_MOA_CAPTURE_H_INCLUDED_ */
