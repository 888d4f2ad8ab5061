
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code (no nginx types): a walker over JSON text already validated
 * (a member's value, say), without allocating.
 */


#ifndef _NGX_HTTP_MOA_JSON_TEXT_H_INCLUDED_
#define _NGX_HTTP_MOA_JSON_TEXT_H_INCLUDED_


#include <stddef.h>

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_json.h"


/*
 * The value of key in an object (1, or 0 when absent), the next element of
 * an array (*pos 0 at first; 1, or 0 at the end), a string literal decoded
 * (0, or -1).
 */
int ngx_http_moa_json_text_get(const char *p, size_t len, const char *key,
    ngx_http_moa_span_t *v);
int ngx_http_moa_json_text_next(const char *p, size_t len, size_t *pos,
    ngx_http_moa_span_t *v);

int ngx_http_moa_json_text_unescape(ngx_http_moa_buf_t *out, const char *p,
    size_t len);


/* inline: on the hot path of the reply and the prompt */

/* a string value with something other than white space in it */
static inline int
ngx_http_moa_json_text_nonempty(const ngx_http_moa_span_t *v)
{
    const char  *p, *end;

    if (v->len < 2 || v->p[0] != '"') {
        return 0;
    }

    p = v->p + 1;
    end = v->p + v->len - 1;

    while (p < end) {
        if (*p == ' ') {
            p++;
            continue;
        }

        if (*p == '\\' && p + 1 < end
            && (p[1] == 'n' || p[1] == 'r' || p[1] == 't'))
        {
            p += 2;
            continue;
        }

        return 1;
    }

    return 0;
}


static inline int
ngx_http_moa_json_text_array_nonempty(const ngx_http_moa_span_t *v)
{
    size_t               pos;
    ngx_http_moa_span_t  e;

    pos = 0;

    return v->len && v->p[0] == '['
           && ngx_http_moa_json_text_next(v->p, v->len, &pos, &e);
}


#endif /* _NGX_HTTP_MOA_JSON_TEXT_H_INCLUDED_ */
