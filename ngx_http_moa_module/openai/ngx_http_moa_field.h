
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: checks of one JSON field of a request on its tokens, each
 * answering 0, or -1 with a 400 in err naming the field as OpenAI does
 * ("messages[1].role").  With err NULL nothing is formatted: a check that
 * only has to tell whether a request is valid costs no names.
 */


#ifndef _NGX_HTTP_MOA_FIELD_H_INCLUDED_
#define _NGX_HTTP_MOA_FIELD_H_INCLUDED_


#include "ngx_http_moa_json.h"
#include "ngx_http_moa_error.h"


/* the longest parameter name kept (the error's own copy is as long) */
#define NGX_HTTP_MOA_FIELD_PATH  64


void ngx_http_moa_field_path(ngx_http_moa_error_t *err, char *buf,
    const char *fmt, ...) NGX_HTTP_MOA_PRINTF(3, 4);
int ngx_http_moa_field_fail(ngx_http_moa_error_t *err, const char *code,
    const char *param, const char *fmt, ...) NGX_HTTP_MOA_PRINTF(4, 5);
int ngx_http_moa_field_bad_type(const ngx_http_moa_json_t *j, int i,
    const char *name, const char *expected, ngx_http_moa_error_t *err);
int ngx_http_moa_field_missing(const char *name, ngx_http_moa_error_t *err);
int ngx_http_moa_field_is(const ngx_http_moa_json_t *j, int i,
    const char *text);
size_t ngx_http_moa_field_chars(const ngx_http_moa_json_t *j, int i);
int ngx_http_moa_field_name(const ngx_http_moa_json_t *j, int i,
    const char *name, ngx_http_moa_error_t *err);
int ngx_http_moa_field_one_of(const ngx_http_moa_json_t *j, int i,
    const char *name, const char **values, ngx_http_moa_error_t *err);
int ngx_http_moa_field_number(const ngx_http_moa_json_t *j, int i,
    const char *name, int integer, double min, double max,
    ngx_http_moa_error_t *err);
int ngx_http_moa_field_member(const ngx_http_moa_json_t *j, int obj,
    const char *key, int type, const char *base, int required,
    ngx_http_moa_error_t *err, int *at);


#endif /* _NGX_HTTP_MOA_FIELD_H_INCLUDED_ */
