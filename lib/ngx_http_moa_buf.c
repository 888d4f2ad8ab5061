
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

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define ngx_http_moa_buf_poison(p, n)    ASAN_POISON_MEMORY_REGION(p, n)
#define ngx_http_moa_buf_unpoison(p, n)  ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define ngx_http_moa_buf_poison(p, n)
#define ngx_http_moa_buf_unpoison(p, n)
#endif


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

    /* a first allocation may find a buffer of the cache big enough */

    p = b->data ? realloc(b->data, size)
                : ngx_http_moa_buf_cache_alloc(size, &size);
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

    ngx_http_moa_buf_cache_free(b->data, b->size);
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


/*
 * The cache: freed blocks of 256 bytes to 16 KiB by size class (the
 * power of two at or under their size), NGX_HTTP_MOA_BUF_CACHE a class at
 * most (a MoA request's dozen buffers are of 0.5 to 8 KiB: malloc() and
 * free() cost 400 to 600 instructions for such a block, the cache a tenth
 * of that).  A block is taken for a size it holds without wasting more
 * than it, from the size's class or the next, so a buffer in use holds no
 * more than it would from malloc() and one doubling.  Under
 * AddressSanitizer a cached block is poisoned: a use after its free is
 * reported as it would be without the cache.
 */

#define NGX_HTTP_MOA_BUF_CACHE        8
#define NGX_HTTP_MOA_BUF_CACHE_SHIFT  8          /* the first class: 256 */
#define NGX_HTTP_MOA_BUF_CACHE_CLASSES  6        /* the last: 8 to 16 KiB */


typedef struct {
    void        *p[NGX_HTTP_MOA_BUF_CACHE];
    size_t       size[NGX_HTTP_MOA_BUF_CACHE];
    size_t       n;
} ngx_http_moa_buf_class_t;


static int                       ngx_http_moa_buf_cache_on;
static ngx_http_moa_buf_class_t  ngx_http_moa_buf_cache[
                                     NGX_HTTP_MOA_BUF_CACHE_CLASSES];


/* the class of a size, or -1: none under 256 bytes or from 16 KiB on */
static int
ngx_http_moa_buf_cache_class(size_t size)
{
    size_t  k;

    k = size >> NGX_HTTP_MOA_BUF_CACHE_SHIFT;

    if (k == 0 || k >> NGX_HTTP_MOA_BUF_CACHE_CLASSES) {
        return -1;
    }

    /* the highest bit set, of at most 6 */
    return (int) (sizeof(unsigned long) * 8 - 1
                  - __builtin_clzl((unsigned long) k));
}


void
ngx_http_moa_buf_cache_enable(int on)
{
    int                        k;
    ngx_http_moa_buf_class_t  *c;

    ngx_http_moa_buf_cache_on = on;

    if (on) {
        return;
    }

    for (k = 0; k < NGX_HTTP_MOA_BUF_CACHE_CLASSES; k++) {
        c = &ngx_http_moa_buf_cache[k];

        while (c->n) {
            c->n--;
            ngx_http_moa_buf_unpoison(c->p[c->n], c->size[c->n]);
            free(c->p[c->n]);
        }
    }
}


void *
ngx_http_moa_buf_cache_alloc(size_t size, size_t *got)
{
    int                        k, last;
    void                      *p;
    ngx_http_moa_buf_class_t  *c;

    k = ngx_http_moa_buf_cache_class(size);

    if (k >= 0) {
        last = (k + 1 < NGX_HTTP_MOA_BUF_CACHE_CLASSES) ? k + 1 : k;

        /*
         * the last freed of the size's class, else of the next: one look
         * at each (a walk over the classes' blocks cost more than it
         * saved); the last freed is also the likeliest in the CPU cache
         */

        for ( /* void */ ; k <= last; k++) {
            c = &ngx_http_moa_buf_cache[k];

            if (c->n == 0) {
                continue;
            }

            *got = c->size[c->n - 1];

            if (*got < size || *got / 2 > size) {
                continue;
            }

            c->n--;
            p = c->p[c->n];

            ngx_http_moa_buf_unpoison(p, *got);

            return p;
        }
    }

    *got = size;

    return malloc(size);
}


void
ngx_http_moa_buf_cache_free(void *p, size_t size)
{
    int                        k;
    ngx_http_moa_buf_class_t  *c;

    if (p == NULL) {
        return;
    }

    k = ngx_http_moa_buf_cache_on ? ngx_http_moa_buf_cache_class(size) : -1;

    if (k < 0 || ngx_http_moa_buf_cache[k].n == NGX_HTTP_MOA_BUF_CACHE) {
        free(p);
        return;
    }

    c = &ngx_http_moa_buf_cache[k];

    c->p[c->n] = p;
    c->size[c->n] = size;
    c->n++;

    ngx_http_moa_buf_poison(p, size);
}
