
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The JSON scanner's steps that are not inline: numbers, strings past
 * their first block or with escapes, \u escapes, a string's last bytes.
 */


#include <stdint.h>
#include <string.h>

#include "ngx_http_moa_json_bytes.h"
#include "ngx_http_moa_json_scan.h"


static int
ngx_http_moa_json_scan_digit(ngx_http_moa_json_scan_t *s)
{
    return s->p < s->end && *s->p >= '0' && *s->p <= '9';
}


const char *
ngx_http_moa_json_scan_spaces(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
        p++;
    }

    return p;
}


int
ngx_http_moa_json_scan_number(ngx_http_moa_json_scan_t *s)
{
    if (s->p < s->end && *s->p == '-') {
        s->p++;
    }

    if (!ngx_http_moa_json_scan_digit(s)) {
        return -1;
    }

    if (*s->p == '0') {
        s->p++;

    } else {
        while (ngx_http_moa_json_scan_digit(s)) {
            s->p++;
        }
    }

    if (s->p < s->end && *s->p == '.') {
        s->p++;

        if (!ngx_http_moa_json_scan_digit(s)) {
            return -1;
        }

        while (ngx_http_moa_json_scan_digit(s)) {
            s->p++;
        }
    }

    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;

        if (s->p < s->end && (*s->p == '+' || *s->p == '-')) {
            s->p++;
        }

        if (!ngx_http_moa_json_scan_digit(s)) {
            return -1;
        }

        while (ngx_http_moa_json_scan_digit(s)) {
            s->p++;
        }
    }

    return 0;
}


/*
 * After "\u" (s->p on the first hex digit): the escape, a surrogate pair
 * as one; its first code unit with s->p past it, or -1 with s->p where it
 * went wrong.
 */
int
ngx_http_moa_json_scan_unicode(ngx_http_moa_json_scan_t *s)
{
    int  v, w;

    if (s->end - s->p < 4) {
        return -1;
    }

    v = ngx_http_moa_json_hex4(s->p);
    s->p += 4;

    /*
     * as cJSON, which must parse whatever is accepted here: a surrogate
     * only as a high one followed by a low one
     */

    if (v < 0 || (v >= 0xdc00 && v <= 0xdfff)) {
        return -1;
    }

    if (v >= 0xd800 && v <= 0xdbff) {
        if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u') {
            return -1;
        }

        w = ngx_http_moa_json_hex4(s->p + 2);

        if (w < 0xdc00 || w > 0xdfff) {
            return -1;
        }

        s->p += 6;
    }

    return v;
}


/*
 * The mask of the block at p (ngx_http_moa_json_mask()) when fewer than a
 * block's bytes are left: the text's last block, shifted to start at p, or
 * a copy padded with spaces when the whole text is shorter than a block.
 */
uint64_t
ngx_http_moa_json_scan_tail(const ngx_http_moa_json_scan_t *s,
    const char *p)
{
    char    pad[NGX_HTTP_MOA_JSON_BLOCK];
    size_t  left;

    left = s->end - p;

    if (left == 0) {
        return 0;
    }

    if (s->end - s->start >= NGX_HTTP_MOA_JSON_BLOCK) {
        return ngx_http_moa_json_mask(s->end - NGX_HTTP_MOA_JSON_BLOCK)
               >> (NGX_HTTP_MOA_JSON_BLOCK - left);
    }

    memset(pad, ' ', NGX_HTTP_MOA_JSON_BLOCK);
    memcpy(pad, p, left);

    return ngx_http_moa_json_mask(pad);
}


/*
 * From *at on, the first block that holds a byte a string cannot hold as
 * is: its mask, with *at moved to its start and *w set to its width; 0 at
 * the text's end.  Wide blocks while they fit (the string is a long one:
 * its first block was read inline), then blocks, then the text's tail.
 */
static uint64_t
ngx_http_moa_json_scan_block(const ngx_http_moa_json_scan_t *s,
    const char **at, int *w)
{
    uint64_t     m;
    uintptr_t    last;
    const char  *p;

    p = *at;

    /*
     * the last place a whole block starts at, as a number: one compare a
     * step, none at all when the text is shorter
     */
    last = (uintptr_t) s->end - NGX_HTTP_MOA_JSON_WIDE;

    while ((uintptr_t) p <= last) {
        m = ngx_http_moa_json_mask_wide(p);

        if (m) {
            *at = p;
            *w = NGX_HTTP_MOA_JSON_WIDE;
            return m;
        }

        p += NGX_HTTP_MOA_JSON_WIDE;
    }

    last = (uintptr_t) s->end - NGX_HTTP_MOA_JSON_BLOCK;

    *at = p;
    *w = NGX_HTTP_MOA_JSON_BLOCK;

    while ((uintptr_t) p <= last) {
        m = ngx_http_moa_json_mask(p);

        if (m) {
            *at = p;
            return m;
        }

        p += NGX_HTTP_MOA_JSON_BLOCK;
    }

    *at = p;

    return ngx_http_moa_json_scan_tail(s, p);
}


/*
 * A string's rest after its opening quote, from p on (scan_string_rest()'s
 * general case).  A block's mask of special bytes is read bit by bit, so
 * that a plain escape (a "\n" every line of a reply) costs a few
 * instructions and no new block; a \u escape (rare) starts a new block
 * after it.
 */
const char *
ngx_http_moa_json_scan_string_long(ngx_http_moa_json_scan_t *s,
    const char *p, int *escaped)
{
    int          k, w, esc, e, u;
    uint64_t     m;
    const char  *end;

    end = s->end;
    esc = 0;

    for ( ;; ) {

        m = ngx_http_moa_json_scan_block(s, &p, &w);

        if (m == 0) {
            s->p = end;
            return NULL;
        }

        /* the block's special bytes, in order */

        do {
            k = __builtin_ctzll(m);

            if (p[k] == '"') {
                *escaped = esc;
                return p + k + 1;
            }

            if (p[k] != '\\') {
                /* a control character */
                s->p = p + k + 1;
                return NULL;
            }

            if (end - p <= k + 1) {
                s->p = end;
                return NULL;
            }

            e = ngx_http_moa_json_scan_escapes[(unsigned char) p[k + 1]];
            esc |= e;

            if (e == 0 || (e & NGX_HTTP_MOA_JSON_ESC_HEX) || k + 2 >= w) {
                break;
            }

            /* the escape's two bytes, the second maybe '"' or '\\' */
            m &= ~(uint64_t) 0 << (k + 2);

        } while (m);

        if (m == 0) {
            /* the block is done (the text too if it was its last) */

            if (end - p <= w) {
                s->p = end;
                return NULL;
            }

            p += w;
            continue;
        }

        /* a bad escape, a \u one, or one across the block's end */

        p += k + 2;
        s->p = p;

        if (e == 0) {
            return NULL;
        }

        if (e & NGX_HTTP_MOA_JSON_ESC_HEX) {
            u = ngx_http_moa_json_scan_unicode(s);

            if (u < 0) {
                return NULL;
            }

            /* a '<' written so: the prompt decodes such a text */
            if (u == '<') {
                esc |= NGX_HTTP_MOA_JSON_ESC_LT;
            }

            p = s->p;
        }
    }
}
