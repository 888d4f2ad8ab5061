
/*
 * Copyright (C) ngx_http_moa_module authors
 */


#include <string.h>

#include "ngx_http_moa_utf8.h"


size_t
ngx_http_moa_utf8_seq(const char *p, size_t n)
{
    size_t                i, len;
    unsigned char         c, lo, hi;
    const unsigned char  *s;

    if (n == 0) {
        return 0;
    }

    s = (const unsigned char *) p;
    c = s[0];

    if (c < 0x80) {
        return 1;
    }

    /* the bounds of the second byte, narrower after some lead bytes */

    lo = 0x80;
    hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;

    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;

        if (c == 0xe0) {
            lo = 0xa0;          /* overlong */

        } else if (c == 0xed) {
            hi = 0x9f;          /* UTF-16 surrogates */
        }

    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;

        if (c == 0xf0) {
            lo = 0x90;          /* overlong */

        } else if (c == 0xf4) {
            hi = 0x8f;          /* above U+10FFFF */
        }

    } else {
        return 0;
    }

    if (n < len || s[1] < lo || s[1] > hi) {
        return 0;
    }

    for (i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) {
            return 0;
        }
    }

    return len;
}


int
ngx_http_moa_utf8_valid(const char *p, size_t n)
{
    size_t  i, k;

    for (i = 0; i < n; i += k) {
        k = ngx_http_moa_utf8_seq(p + i, n - i);

        if (k == 0) {
            return 0;
        }
    }

    return 1;
}


size_t
ngx_http_moa_utf8_clean(char *p, size_t n)
{
    size_t  i, k, len;

    len = 0;

    for (i = 0; i < n; i += k) {
        k = ngx_http_moa_utf8_seq(p + i, n - i);

        if (k == 0) {
            k = 1;
            continue;
        }

        if (len != i) {
            memmove(p + len, p + i, k);
        }

        len += k;
    }

    return len;
}
