
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


/*
 * A string's rest after its opening quote: 0 with s->p past the closing
 * quote and s->escaped set, or -1 with s->p where the text stops being a
 * string.  A block's mask of special bytes is read bit by bit, so that a
 * plain escape (a "\n" every line of a reply) costs a few instructions and
 * no new block; a \u escape (rare) starts a new block after it.  Inline:
 * a call per string cost more than a short key's scan.
 */
static inline __attribute__((always_inline)) int
ngx_http_moa_json_scan_string_rest(ngx_http_moa_json_scan_t *s)
{
    int            k, esc, e, u;
    uint64_t       m;
    uintptr_t      last;
    const char    *p, *end;

    p = s->p;
    end = s->end;
    esc = 0;

    /*
     * the last place a whole block starts at, as a number: one compare a
     * step, and none at all when the text is shorter than a block
     */
    last = (uintptr_t) end - NGX_HTTP_MOA_JSON_BLOCK;

    for ( ;; ) {

        /* plain bytes: a tight loop over whole blocks */

        m = 0;

        while ((uintptr_t) p <= last) {
            m = ngx_http_moa_json_mask(p);

            if (m) {
                break;
            }

            p += NGX_HTTP_MOA_JSON_BLOCK;
        }

        if (m == 0) {
            m = ngx_http_moa_json_scan_tail(s, p);

            if (m == 0) {
                s->p = end;
                return -1;
            }
        }

        /* the block's special bytes, in order */

        do {
            k = __builtin_ctzll(m);

            if (p[k] == '"') {
                s->p = p + k + 1;
                s->escaped = esc;
                return 0;
            }

            if (p[k] != '\\') {
                /* a control character */
                s->p = p + k + 1;
                return -1;
            }

            if (end - p <= k + 1) {
                s->p = end;
                return -1;
            }

            e = ngx_http_moa_json_scan_escapes[(unsigned char) p[k + 1]];
            esc |= e;

            if (e == 0 || (e & NGX_HTTP_MOA_JSON_ESC_HEX)
                || k + 2 >= NGX_HTTP_MOA_JSON_BLOCK)
            {
                break;
            }

            /* the escape's two bytes, the second maybe '"' or '\\' */
            m &= ~(uint64_t) 0 << (k + 2);

        } while (m);

        if (m == 0) {
            /* the block is done (the text too if it was its last) */

            if (end - p <= NGX_HTTP_MOA_JSON_BLOCK) {
                s->p = end;
                return -1;
            }

            p += NGX_HTTP_MOA_JSON_BLOCK;
            continue;
        }

        /* a bad escape, a \u one, or one across the block's end */

        s->p = p + k + 2;

        if (e == 0) {
            return -1;
        }

        if (e & NGX_HTTP_MOA_JSON_ESC_HEX) {
            u = ngx_http_moa_json_scan_unicode(s);

            if (u < 0) {
                return -1;
            }

            /* a '<' written so: the prompt decodes such a text */
            if (u == '<') {
                esc |= NGX_HTTP_MOA_JSON_ESC_LT;
            }
        }

        p = s->p;
    }
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
