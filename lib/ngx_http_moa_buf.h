
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code (no nginx types): a growable byte buffer whose allocation
 * failure is sticky, so that a run of appends is checked once at its end.
 */


#ifndef _NGX_HTTP_MOA_BUF_H_INCLUDED_
#define _NGX_HTTP_MOA_BUF_H_INCLUDED_


#include <stddef.h>
#include <string.h>


typedef struct {
    char        *data;
    size_t       len;
    size_t       size;
    int          nomem;        /* an allocation failed: contents invalid */
} ngx_http_moa_buf_t;


/* room for n more bytes, out of line: 0, or -1 (nomem set) */
int ngx_http_moa_buf_grow(ngx_http_moa_buf_t *b, size_t n);
void ngx_http_moa_buf_cstr(ngx_http_moa_buf_t *b, const char *s);
void ngx_http_moa_buf_int(ngx_http_moa_buf_t *b, long long v);
void ngx_http_moa_buf_free(ngx_http_moa_buf_t *b);

/* cold paths only (a CLI's lines, messages): vsnprintf twice */
void ngx_http_moa_buf_printf(ngx_http_moa_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* the contents as a C string (a NUL after len, not counted), or NULL */
char *ngx_http_moa_buf_cstring(ngx_http_moa_buf_t *b);

/*
 * A cache of freed buffers, off until enabled (one thread only): the
 * memory of buffers and arrays that a process frees and takes again and
 * again, of a few sizes (the module: a MoA request's replies, bodies,
 * candidates and answer).  Disabling frees what it holds.
 */
void ngx_http_moa_buf_cache_enable(int on);

/* at least size bytes (*got: how many), from the cache or malloc() */
void *ngx_http_moa_buf_cache_alloc(size_t size, size_t *got);

/* p of size bytes (from either, or realloc()) to the cache or free() */
void ngx_http_moa_buf_cache_free(void *p, size_t size);

/*
 * Room for n more bytes: 0, or -1 when an allocation failed (now or
 * before).  Inline with ngx_http_moa_buf_add(): a MoA request appends a
 * hundred times, nearly always into room it has.
 */
static inline int
ngx_http_moa_buf_reserve(ngx_http_moa_buf_t *b, size_t n)
{
    if (b->size - b->len >= n && !b->nomem) {
        return 0;
    }

    return ngx_http_moa_buf_grow(b, n);
}


static inline void
ngx_http_moa_buf_add(ngx_http_moa_buf_t *b, const void *p, size_t n)
{
    if (n == 0 || ngx_http_moa_buf_reserve(b, n) != 0) {
        return;
    }

    memcpy(b->data + b->len, p, n);
    b->len += n;
}


/* string literals only ("" s refuses anything else) */
#define ngx_http_moa_buf_lit(b, s)                                           \
    ngx_http_moa_buf_add(b, "" s, sizeof(s) - 1)


#endif /* _NGX_HTTP_MOA_BUF_H_INCLUDED_ */
