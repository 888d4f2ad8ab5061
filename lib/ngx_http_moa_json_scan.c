
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The JSON scanner's steps that are not inline: numbers, and strings with
 * their escapes, a block of bytes a step.
 */


#include <stdint.h>
#include <string.h>

#include "ngx_http_moa_json.h"
#include "ngx_http_moa_json_scan.h"


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


static int
ngx_http_moa_json_scan_digit(ngx_http_moa_json_scan_t *s)
{
    return s->p < s->end && *s->p >= '0' && *s->p <= '9';
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
 * as one; 0 with s->p past it, or -1 with s->p where it went wrong.
 */
static int
ngx_http_moa_json_scan_unicode(ngx_http_moa_json_scan_t *s)
{
    int  v;

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

        v = ngx_http_moa_json_hex4(s->p + 2);

        if (v < 0xdc00 || v > 0xdfff) {
            return -1;
        }

        s->p += 6;
    }

    return 0;
}


/*
 * The mask of the block at p (ngx_http_moa_json_mask()) when fewer than a
 * block's bytes are left: the text's last block, shifted to start at p, or
 * a copy padded with spaces when the whole text is shorter than a block.
 */
static uint64_t
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
 * A string's rest after its opening quote: 0 with s->p past the closing
 * quote and s->escaped set, or -1 with s->p where the text stops being a
 * string.  A block's mask of special bytes is read bit by bit, so that a
 * plain escape (a "\n" every line of a reply) costs a few instructions and
 * no new block; a \u escape (rare) starts a new block after it.
 */
int
ngx_http_moa_json_scan_string_rest(ngx_http_moa_json_scan_t *s)
{
    int            k, esc, e;
    uint64_t       m;
    const char    *p, *end;

    p = s->p;
    end = s->end;
    esc = 0;

    for ( ;; ) {

        /* plain bytes: a tight loop over whole blocks */

        m = 0;

        while (end - p >= NGX_HTTP_MOA_JSON_BLOCK) {
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

        if (e == 0
            || ((e & NGX_HTTP_MOA_JSON_ESC_HEX)
                && ngx_http_moa_json_scan_unicode(s) != 0))
        {
            return -1;
        }

        p = s->p;
    }
}
