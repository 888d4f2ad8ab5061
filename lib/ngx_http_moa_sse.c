
/*
 * Copyright (C) ngx_http_moa_module authors
 */


#include <string.h>

#include "ngx_http_moa_sse.h"


void
ngx_http_moa_sse_init(ngx_http_moa_sse_t *s, size_t max)
{
    memset(s, 0, sizeof(ngx_http_moa_sse_t));
    s->max = max;
}


static int
ngx_http_moa_sse_line(ngx_http_moa_sse_t *s, ngx_http_moa_sse_event_pt handler,
    void *data)
{
    int          rc;
    size_t       len;
    const char  *p;

    p = s->line.data;
    len = s->line.len;
    s->line.len = 0;

    if (len == 0) {

        /* an empty line dispatches the event */

        if (!s->has_data) {
            return 0;
        }

        s->has_data = 0;
        rc = handler(data, s->data.data, s->data.len);
        s->data.len = 0;

        return rc;
    }

    if (len < 4 || memcmp(p, "data", 4) != 0
        || (len > 4 && p[4] != ':'))
    {
        /* comments, "event", "id", "retry" and unknown fields */
        return 0;
    }

    p += 4;
    len -= 4;

    if (len && *p == ':') {
        p++;
        len--;
    }

    if (len && *p == ' ') {
        p++;
        len--;
    }

    if (s->has_data) {
        ngx_http_moa_buf_lit(&s->data, "\n");
    }

    if (s->data.len + len > s->max) {
        return NGX_HTTP_MOA_SSE_TOO_BIG;
    }

    ngx_http_moa_buf_add(&s->data, p, len);
    s->has_data = 1;

    return s->data.nomem ? NGX_HTTP_MOA_SSE_NOMEM : 0;
}


int
ngx_http_moa_sse_feed(ngx_http_moa_sse_t *s, const char *p, size_t len,
    ngx_http_moa_sse_event_pt handler, void *data)
{
    int          rc;
    const char  *end, *q;

    if (len == 0) {
        return 0;
    }

    end = p + len;

    while (p < end) {

        if (s->cr) {
            s->cr = 0;

            if (*p == '\n') {
                p++;
                continue;
            }
        }

        for (q = p; q < end && *q != '\n' && *q != '\r'; q++) {
            /* void */
        }

        if (s->line.len + (q - p) > s->max) {
            return NGX_HTTP_MOA_SSE_TOO_BIG;
        }

        ngx_http_moa_buf_add(&s->line, p, q - p);

        if (s->line.nomem) {
            return NGX_HTTP_MOA_SSE_NOMEM;
        }

        if (q == end) {
            return 0;
        }

        s->cr = (*q == '\r');
        p = q + 1;

        rc = ngx_http_moa_sse_line(s, handler, data);
        if (rc != 0) {
            return rc;
        }
    }

    return 0;
}


int
ngx_http_moa_sse_pending(ngx_http_moa_sse_t *s)
{
    return s->line.len > 0 || s->has_data;
}


void
ngx_http_moa_sse_free(ngx_http_moa_sse_t *s)
{
    ngx_http_moa_buf_free(&s->line);
    ngx_http_moa_buf_free(&s->data);
}
