
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The growable byte buffer's out-of-line parts: growing, numbers, printf.
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_moa_buf.h"


/* 4G on 64-bit platforms, 1G on 32-bit ones */
#define NGX_HTTP_MOA_BUF_MAX                                                 \
    (((size_t) -1 >> 2) < (size_t) 0xffffffffu ? ((size_t) -1 >> 2)         \
                                              : (size_t) 0xffffffffu)


int
ngx_http_moa_buf_grow(ngx_http_moa_buf_t *b, size_t n)
{
    char    *p;
    size_t   size;

    if (b->nomem) {
        return -1;
    }

    if (b->size - b->len >= n) {
        return 0;
    }

    /* far beyond any reply or body the module keeps */
    if (n > NGX_HTTP_MOA_BUF_MAX - b->len) {
        b->nomem = 1;
        return -1;
    }

    /*
     * 512 first: a MoA request's texts and bodies mostly outgrow 128 (four
     * reallocs fewer per request); the heap at 500 in flight is the same
     */
    size = b->size ? b->size : (n > 512 ? n : 512);

    while (size - b->len < n) {
        size *= 2;
    }

    p = realloc(b->data, size);
    if (p == NULL) {
        b->nomem = 1;
        return -1;
    }

    b->data = p;
    b->size = size;

    return 0;
}


void
ngx_http_moa_buf_cstr(ngx_http_moa_buf_t *b, const char *s)
{
    ngx_http_moa_buf_add(b, s, strlen(s));
}


void
ngx_http_moa_buf_int(ngx_http_moa_buf_t *b, long long v)
{
    char                *d;
    char                 tmp[24];
    unsigned long long   u;

    /* digits from the right, without printf; LLONG_MIN negated unsigned */

    u = v < 0 ? 0ULL - (unsigned long long) v : (unsigned long long) v;
    d = tmp + sizeof(tmp);

    do {
        *--d = (char) ('0' + u % 10);
        u /= 10;
    } while (u);

    if (v < 0) {
        *--d = '-';
    }

    ngx_http_moa_buf_add(b, d, tmp + sizeof(tmp) - d);
}


void
ngx_http_moa_buf_free(ngx_http_moa_buf_t *b)
{
    if (b->data == NULL) {
        b->nomem = 0;
        return;
    }

    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->size = 0;
    b->nomem = 0;
}


void
ngx_http_moa_buf_printf(ngx_http_moa_buf_t *b, const char *fmt, ...)
{
    int      n;
    va_list  ap;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);

    /* room for the NUL that vsnprintf() writes, which len does not count */

    if (n < 0) {
        b->nomem = 1;
        return;
    }

    if (ngx_http_moa_buf_reserve(b, (size_t) n + 1) != 0) {
        return;
    }

    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
    va_end(ap);

    b->len += n;
}


char *
ngx_http_moa_buf_cstring(ngx_http_moa_buf_t *b)
{
    if (ngx_http_moa_buf_reserve(b, 1) != 0) {
        return NULL;
    }

    b->data[b->len] = '\0';

    return b->data;
}
