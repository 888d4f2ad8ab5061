
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: a content part of a Responses message checked and written as
 * a Chat Completions part.
 */


#ifndef _NGX_HTTP_MOA_RESPONSES_PARTS_H_INCLUDED_
#define _NGX_HTTP_MOA_RESPONSES_PARTS_H_INCLUDED_


#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_error.h"


/* 1 a chat part, 0 a refusal, -1 with err; *what: not translatable */
int ngx_http_moa_responses_parts_part(ngx_http_moa_buf_t *b,
    const ngx_http_moa_json_t *j, int p, const char *base, int assistant,
    const char **what, char *param, ngx_http_moa_error_t *err);


#endif /* _NGX_HTTP_MOA_RESPONSES_PARTS_H_INCLUDED_ */
