
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * JSON string escaping into a buffer.
 */


#include <string.h>

#include "ngx_http_moa_buf_json.h"
#include "ngx_http_moa_json.h"


/* the text as the inside of a JSON string: escaped, without quotes */
void
ngx_http_moa_buf_json_inner(ngx_http_moa_buf_t *b, const char *p, size_t n)
{
    char                 *d;
    const char           *end, *run;
    unsigned char         c;
    static const char     hex[] = "0123456789abcdef";

    /* runs of plain bytes are copied whole; room grows per escape */

    if (ngx_http_moa_buf_reserve(b, n + 1) != 0) {
        return;
    }

    end = p + n;

    while (p < end) {
        run = p;
        p = ngx_http_moa_json_plain(p, end);

        if (p > run) {
            memcpy(b->data + b->len, run, p - run);
            b->len += p - run;
        }

        if (p == end) {
            break;
        }

        /* 6 for \u00XX, plus a closing quote and what remains */
        if (ngx_http_moa_buf_reserve(b, 6 + 1 + (end - p)) != 0) {
            return;
        }

        c = (unsigned char) *p++;
        d = b->data + b->len;
        *d++ = '\\';

        switch (c) {
        case '"':
            *d++ = '"';
            break;
        case '\\':
            *d++ = '\\';
            break;
        case '\n':
            *d++ = 'n';
            break;
        case '\r':
            *d++ = 'r';
            break;
        case '\t':
            *d++ = 't';
            break;
        case '\b':
            *d++ = 'b';
            break;
        case '\f':
            *d++ = 'f';
            break;
        default:
            *d++ = 'u';
            *d++ = '0';
            *d++ = '0';
            *d++ = hex[c >> 4];
            *d++ = hex[c & 0xf];
        }

        b->len = d - b->data;
    }
}


void
ngx_http_moa_buf_json_str(ngx_http_moa_buf_t *b, const char *p, size_t n)
{
    if (ngx_http_moa_buf_reserve(b, n + 2) != 0) {
        return;
    }

    b->data[b->len++] = '"';
    ngx_http_moa_buf_json_inner(b, p, n);

    if (ngx_http_moa_buf_reserve(b, 1) == 0) {
        b->data[b->len++] = '"';
    }
}
