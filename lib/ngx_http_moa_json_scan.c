
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The JSON scanner's steps that are not inline: numbers, \u escapes, a
 * string's last bytes.
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
