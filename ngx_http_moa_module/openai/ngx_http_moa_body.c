
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the body of a call as a list of parts, most of them
 * references to text that outlives it, so that nothing is copied twice.
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_http_moa_body.h"


static void ngx_http_moa_body_part(ngx_http_moa_body_t *b, const char *p,
    size_t len);
static int ngx_http_moa_body_grow(ngx_http_moa_body_t *b);


/*
 * A reference to text that outlives the body.  A short one is copied into
 * the glue instead: a part costs more than its text (two buffers and two
 * chain links when it is sent).
 */
void
ngx_http_moa_body_ref(ngx_http_moa_body_t *b, const char *p, size_t len)
{
    if (len && len < NGX_HTTP_MOA_BODY_COPY) {
        ngx_http_moa_body_add(b, p, len);
        return;
    }

    ngx_http_moa_body_part(b, p, len);
}


static void
ngx_http_moa_body_part(ngx_http_moa_body_t *b, const char *p, size_t len)
{
    ngx_http_moa_part_t  *part;

    if (len == 0 || b->nomem) {
        return;
    }

    b->len += len;

    if (b->nparts) {
        part = &b->parts[b->nparts - 1];

        if (part->p && part->p + part->len == p) {
            part->len += len;
            return;
        }
    }

    if (b->nparts == b->size && ngx_http_moa_body_grow(b) != 0) {
        return;
    }

    part = &b->parts[b->nparts++];
    part->p = p;
    part->off = 0;
    part->len = len;
}


/* room for more parts: 0, or -1 (nomem set) */
static int
ngx_http_moa_body_grow(ngx_http_moa_body_t *b)
{
    size_t                got;
    ngx_http_moa_part_t  *part;

    /* the first array may be one the buffers' cache holds */

    if (b->parts == NULL) {
        part = ngx_http_moa_buf_cache_alloc(16 * sizeof(ngx_http_moa_part_t),
                                            &got);
        got /= sizeof(ngx_http_moa_part_t);

    } else {
        got = b->size * 2;
        part = realloc(b->parts, got * sizeof(ngx_http_moa_part_t));
    }

    if (part == NULL) {
        b->nomem = 1;
        return -1;
    }

    b->parts = part;
    b->size = got;

    return 0;
}


/* the glue written from off on becomes (or extends) a part */
void
ngx_http_moa_body_glued(ngx_http_moa_body_t *b, size_t off)
{
    size_t                len;
    ngx_http_moa_part_t  *part;

    if (b->glue.nomem) {
        b->nomem = 1;
        return;
    }

    len = b->glue.len - off;

    if (len == 0 || b->nomem) {
        return;
    }

    if (b->nparts) {
        part = &b->parts[b->nparts - 1];

        if (part->p == NULL && part->off + part->len == off) {
            part->len += len;
            b->len += len;
            return;
        }
    }

    ngx_http_moa_body_part(b, b->glue.data + off, len);

    if (!b->nomem) {
        part = &b->parts[b->nparts - 1];

        /* the glue may still move: remember where, not the address */
        part->p = NULL;
        part->off = off;
    }
}


void
ngx_http_moa_body_add(ngx_http_moa_body_t *b, const char *p, size_t len)
{
    size_t  off;

    off = b->glue.len;
    ngx_http_moa_buf_add(&b->glue, p, len);
    ngx_http_moa_body_glued(b, off);
}


int
ngx_http_moa_body_done(ngx_http_moa_body_t *b)
{
    size_t  i;

    if (b->nomem || b->glue.nomem) {
        return -1;
    }

    for (i = 0; i < b->nparts; i++) {
        if (b->parts[i].p == NULL) {
            b->parts[i].p = b->glue.data + b->parts[i].off;
        }
    }

    return 0;
}


void
ngx_http_moa_body_flat(const ngx_http_moa_body_t *b, ngx_http_moa_buf_t *out)
{
    size_t  i;

    /* one allocation: the length is known */
    (void) ngx_http_moa_buf_reserve(out, b->len);

    for (i = 0; i < b->nparts; i++) {
        ngx_http_moa_buf_add(out, b->parts[i].p ? b->parts[i].p
                                  : b->glue.data + b->parts[i].off,
                             b->parts[i].len);
    }
}


void
ngx_http_moa_body_free(ngx_http_moa_body_t *b)
{
    ngx_http_moa_buf_cache_free(b->parts,
                                b->size * sizeof(ngx_http_moa_part_t));
    ngx_http_moa_buf_free(&b->glue);
    memset(b, 0, sizeof(ngx_http_moa_body_t));
}
