
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code (no nginx types): the JSON scanner's steps over a text, for
 * the tokenizer and validator (ngx_http_moa_json.c): white space, literals,
 * numbers, strings.  Strings are read a block a step (json.h's mask).
 */


#ifndef _NGX_HTTP_MOA_JSON_SCAN_H_INCLUDED_
#define _NGX_HTTP_MOA_JSON_SCAN_H_INCLUDED_


#include <stddef.h>
#include <string.h>

#include "ngx_http_moa_json.h"


typedef struct {
    const char  *p;
    const char  *end;
    const char  *start;      /* the text's first byte */
    int          depth;
    int          escaped;    /* the last string read: ESC_* bits */
} ngx_http_moa_json_scan_t;


/* what the byte after a backslash makes of it in a string */
#define NGX_HTTP_MOA_JSON_ESC_PLAIN  1    /* \" \\ \b \f \n \r \t */
#define NGX_HTTP_MOA_JSON_ESC_HIDE   2    /* \/ and \u: "hidden" */
#define NGX_HTTP_MOA_JSON_ESC_HEX    4    /* \u: four hex digits follow */


/* a number from s->p on: 0 with s->p past it, or -1 with s->p at the fault */
int ngx_http_moa_json_scan_number(ngx_http_moa_json_scan_t *s);

/*
 * A string's rest after its opening quote: 0 with s->p past the closing
 * quote and s->escaped set, or -1 with s->p where the text stops being a
 * string.
 */
int ngx_http_moa_json_scan_string_rest(ngx_http_moa_json_scan_t *s);


static inline void
ngx_http_moa_json_scan_ws(ngx_http_moa_json_scan_t *s)
{
    /* most calls find none (a provider's JSON is compact): one compare */
    if (s->p < s->end && (unsigned char) *s->p > ' ') {
        return;
    }

    while (s->p < s->end
           && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n'
               || *s->p == '\r'))
    {
        s->p++;
    }
}


static inline int
ngx_http_moa_json_scan_literal(ngx_http_moa_json_scan_t *s, const char *lit,
    size_t n)
{
    if ((size_t) (s->end - s->p) < n || memcmp(s->p, lit, n) != 0) {
        return -1;
    }

    s->p += n;
    return 0;
}


static inline int
ngx_http_moa_json_scan_string(ngx_http_moa_json_scan_t *s)
{
    if (s->p >= s->end || *s->p != '"') {
        return -1;
    }

    s->p++;

    return ngx_http_moa_json_scan_string_rest(s);
}


#endif /* _NGX_HTTP_MOA_JSON_SCAN_H_INCLUDED_ */
