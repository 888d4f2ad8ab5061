
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the body of a call as a list of parts.  Most parts are
 * references to text that lives elsewhere (the client's body, a prompt
 * template, the rendered candidates); what the module writes itself is in
 * "glue".
 */


#ifndef _NGX_HTTP_MOA_BODY_H_INCLUDED_
#define _NGX_HTTP_MOA_BODY_H_INCLUDED_


#include <stddef.h>

#include "ngx_http_moa_buf.h"


typedef struct {
    const char                  *p;          /* NULL: at off in the glue */
    size_t                       off;
    size_t                       len;
} ngx_http_moa_part_t;


typedef struct {
    ngx_http_moa_part_t         *parts;
    size_t                       nparts;
    size_t                       size;
    size_t                       len;        /* of the whole body */
    ngx_http_moa_buf_t           glue;
    unsigned                     nomem:1;
} ngx_http_moa_body_t;


/* a reference shorter than this is copied into the glue: a part costs more */
#define NGX_HTTP_MOA_BODY_COPY  128

void ngx_http_moa_body_ref(ngx_http_moa_body_t *b, const char *p,
    size_t len);
void ngx_http_moa_body_add(ngx_http_moa_body_t *b, const char *p,
    size_t len);
void ngx_http_moa_body_glued(ngx_http_moa_body_t *b, size_t off);
int ngx_http_moa_body_done(ngx_http_moa_body_t *b);
void ngx_http_moa_body_flat(const ngx_http_moa_body_t *b,
    ngx_http_moa_buf_t *out);
void ngx_http_moa_body_free(ngx_http_moa_body_t *b);

#define ngx_http_moa_body_lit(b, s)                                          \
    ngx_http_moa_body_add(b, "" s, sizeof(s) - 1)


#endif /* _NGX_HTTP_MOA_BODY_H_INCLUDED_ */
