
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code (no nginx types): the JSON scanner's steps over a text, for
 * the tokenizer and validator (ngx_http_moa_json.c): white space, numbers,
 * strings.  Strings are read a block a step (json_bytes.h's masks).
 */


#ifndef _NGX_HTTP_MOA_JSON_SCAN_H_INCLUDED_
#define _NGX_HTTP_MOA_JSON_SCAN_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ngx_http_moa_json_bytes.h"


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
#define NGX_HTTP_MOA_JSON_ESC_LT     8    /* \u003c: a '<' (not a table's) */


/* a number from s->p on: 0 with s->p past it, or -1 with s->p at the fault */
int ngx_http_moa_json_scan_number(ngx_http_moa_json_scan_t *s);

/*
 * After "\u" (s->p on the first hex digit): the escape, a surrogate pair
 * as one; its first code unit (0..0xdbff) with s->p past it, or -1 with
 * s->p where it went wrong.
 */
int ngx_http_moa_json_scan_unicode(ngx_http_moa_json_scan_t *s);

/* the mask of the block at p when fewer than a block's bytes are left */
uint64_t ngx_http_moa_json_scan_tail(const ngx_http_moa_json_scan_t *s,
    const char *p);

/* white space from p on, out of line: the first byte after it */
const char *ngx_http_moa_json_scan_spaces(const char *p, const char *end);

/*
 * a string's rest from p on, any string: as scan_string_rest() below; a
 * pointer to the version of the scan that the CPU runs best, chosen at its
 * first call (AVX2's where there is one)
 */
extern const char *(*ngx_http_moa_json_scan_string_long)(
    ngx_http_moa_json_scan_t *s, const char *p, int *escaped);

/* the versions of the long string scan */
#define NGX_HTTP_MOA_JSON_SCAN_AUTO  0    /* the best the CPU runs */
#define NGX_HTTP_MOA_JSON_SCAN_BASE  1    /* the build's: SSE2 or portable */
#define NGX_HTTP_MOA_JSON_SCAN_AVX2  2    /* x86 CPUs with AVX2 */

/*
 * The long string scan's version from now on (the tests run each): the
 * one used (BASE or AVX2), or -1 if path is not one this build and CPU
 * have.  Without a call, the first long string chooses AUTO.
 */
int ngx_http_moa_json_scan_use(int path);


static const unsigned char  ngx_http_moa_json_scan_escapes[256] = {
    ['"'] = NGX_HTTP_MOA_JSON_ESC_PLAIN,
    ['\\'] = NGX_HTTP_MOA_JSON_ESC_PLAIN,
    ['/'] = NGX_HTTP_MOA_JSON_ESC_HIDE,
    ['b'] = NGX_HTTP_MOA_JSON_ESC_PLAIN,
    ['f'] = NGX_HTTP_MOA_JSON_ESC_PLAIN,
    ['n'] = NGX_HTTP_MOA_JSON_ESC_PLAIN,
    ['r'] = NGX_HTTP_MOA_JSON_ESC_PLAIN,
    ['t'] = NGX_HTTP_MOA_JSON_ESC_PLAIN,
    ['u'] = NGX_HTTP_MOA_JSON_ESC_HIDE | NGX_HTTP_MOA_JSON_ESC_HEX
};


/* white space from p on: the first byte after it */
static inline const char *
ngx_http_moa_json_scan_ws(const char *p, const char *end)
{
    /* most calls find none (a provider's JSON is compact): one compare */
    if (p < end && (unsigned char) *p > ' ') {
        return p;
    }

    return ngx_http_moa_json_scan_spaces(p, end);
}


/*
 * A string's rest after its opening quote, from p on: the byte after its
 * closing quote with *escaped set (ESC_* bits), or NULL with s->p where
 * the text stops being a string.  Inline, the common case only: a key or
 * a short value whose closing quote is the first special byte of its
 * first block (a compare and a mask); the rest (escapes, longer strings,
 * the text's last bytes) is scan_string_long's, out of line, so that the
 * walk it is inlined into keeps its own values in registers.
 */
static inline __attribute__((always_inline)) const char *
ngx_http_moa_json_scan_string_rest(ngx_http_moa_json_scan_t *s,
    const char *p, const char *end, int *escaped)
{
    int       k;
    uint64_t  m;

    if ((uintptr_t) p <= (uintptr_t) end - NGX_HTTP_MOA_JSON_BLOCK) {
        m = ngx_http_moa_json_mask(p);

        if (m) {
            k = __builtin_ctzll(m);

            if (p[k] == '"') {
                *escaped = 0;
                return p + k + 1;
            }
        }
    }

    return ngx_http_moa_json_scan_string_long(s, p, escaped);
}


/* a string at s->p: 0 with s->p past it and s->escaped set, or -1 */
static inline int
ngx_http_moa_json_scan_string(ngx_http_moa_json_scan_t *s)
{
    const char  *q;

    if (s->p >= s->end || *s->p != '"') {
        return -1;
    }

    q = ngx_http_moa_json_scan_string_rest(s, s->p + 1, s->end,
                                           &s->escaped);

    if (q == NULL) {
        return -1;
    }

    s->p = q;

    return 0;
}


#endif /* _NGX_HTTP_MOA_JSON_SCAN_H_INCLUDED_ */
