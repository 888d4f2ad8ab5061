
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The walker over JSON text already validated: a key's value and an
 * array's next element (without allocating), a string literal decoded.
 */


#include <string.h>

#include "ngx_http_moa_json_text.h"
#include "ngx_http_moa_json_find.h"


static const char *ngx_http_moa_json_text_skip_ws(const char *p,
    const char *end);
static const char *ngx_http_moa_json_text_skip_string(const char *p,
    const char *end);
static const char *ngx_http_moa_json_text_skip(const char *p, const char *end);


static const char *
ngx_http_moa_json_text_skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    {
        p++;
    }

    return p;
}


/* past a string literal that starts at p (text already validated) */
static const char *
ngx_http_moa_json_text_skip_string(const char *p, const char *end)
{
    p++;

    while (p < end) {
        p = ngx_http_moa_json_plain(p, end);

        if (p >= end) {
            break;
        }

        if (*p == '"') {
            return p + 1;
        }

        p += (*p == '\\') ? 2 : 1;
    }

    return end;
}


/* past the value that starts at p (text already validated) */
static const char *
ngx_http_moa_json_text_skip(const char *p, const char *end)
{
    int  depth;

    if (p >= end) {
        return end;
    }

    if (*p == '"') {
        return ngx_http_moa_json_text_skip_string(p, end);
    }

    if (*p != '{' && *p != '[') {
        while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' '
               && *p != '\t' && *p != '\n' && *p != '\r')
        {
            p++;
        }

        return p;
    }

    depth = 0;

    while (p < end) {
        switch (*p) {

        case '"':
            p = ngx_http_moa_json_text_skip_string(p, end);
            continue;

        case '{':
        case '[':
            depth++;
            break;

        case '}':
        case ']':
            if (--depth == 0) {
                return p + 1;
            }

            break;
        }

        p++;
    }

    return end;
}


int
ngx_http_moa_json_text_get(const char *p, size_t len, const char *key,
    ngx_http_moa_span_t *v)
{
    const char                  *end, *k;
    ngx_http_moa_json_member_t   m;

    v->p = NULL;
    v->len = 0;

    end = p + len;
    p = ngx_http_moa_json_text_skip_ws(p, end);

    if (p >= end || *p != '{') {
        return 0;
    }

    p++;

    for ( ;; ) {
        p = ngx_http_moa_json_text_skip_ws(p, end);

        if (p >= end || *p != '"') {
            return 0;
        }

        k = p;
        p = ngx_http_moa_json_text_skip_string(p, end);

        m.key = k + 1;
        m.key_len = p - k - 2;
        m.escaped = memchr(m.key, '\\', m.key_len) != NULL;

        p = ngx_http_moa_json_text_skip_ws(p, end);

        if (p >= end || *p != ':') {
            return 0;
        }

        p = ngx_http_moa_json_text_skip_ws(p + 1, end);

        m.value = p;
        p = ngx_http_moa_json_text_skip(p, end);
        m.value_len = p - m.value;

        if (ngx_http_moa_json_key_is(&m, key)) {
            v->p = m.value;
            v->len = m.value_len;
            return 1;
        }

        p = ngx_http_moa_json_text_skip_ws(p, end);

        if (p >= end || *p != ',') {
            return 0;
        }

        p++;
    }
}


int
ngx_http_moa_json_text_next(const char *p, size_t len, size_t *pos,
    ngx_http_moa_span_t *v)
{
    const char  *start, *end, *q;

    start = p;
    end = p + len;

    if (*pos == 0) {
        p = ngx_http_moa_json_text_skip_ws(p, end);

        if (p >= end || *p != '[') {
            return 0;
        }

        p++;

    } else {
        p = ngx_http_moa_json_text_skip_ws(start + *pos, end);

        if (p >= end || *p != ',') {
            return 0;
        }

        p++;
    }

    p = ngx_http_moa_json_text_skip_ws(p, end);

    if (p >= end || *p == ']') {
        return 0;
    }

    q = ngx_http_moa_json_text_skip(p, end);

    v->p = p;
    v->len = q - p;
    *pos = q - start;

    return 1;
}


static void
ngx_http_moa_json_text_utf8(ngx_http_moa_buf_t *out, unsigned long c)
{
    char    u[4];
    size_t  n;

    if (c < 0x80) {
        u[0] = (char) c;
        n = 1;

    } else if (c < 0x800) {
        u[0] = (char) (0xc0 | (c >> 6));
        u[1] = (char) (0x80 | (c & 0x3f));
        n = 2;

    } else if (c < 0x10000) {
        u[0] = (char) (0xe0 | (c >> 12));
        u[1] = (char) (0x80 | ((c >> 6) & 0x3f));
        u[2] = (char) (0x80 | (c & 0x3f));
        n = 3;

    } else {
        u[0] = (char) (0xf0 | (c >> 18));
        u[1] = (char) (0x80 | ((c >> 12) & 0x3f));
        u[2] = (char) (0x80 | ((c >> 6) & 0x3f));
        u[3] = (char) (0x80 | (c & 0x3f));
        n = 4;
    }

    ngx_http_moa_buf_add(out, u, n);
}


int
ngx_http_moa_json_text_unescape(ngx_http_moa_buf_t *out, const char *p,
    size_t len)
{
    int            hi, lo;
    const char    *end, *run;
    unsigned long  c;

    if (len < 2 || p[0] != '"' || p[len - 1] != '"') {
        return -1;
    }

    end = p + len - 1;
    p++;

    while (p < end) {
        run = p;
        p = ngx_http_moa_json_plain(p, end);
        ngx_http_moa_buf_add(out, run, p - run);

        if (p >= end) {
            break;
        }

        if (*p != '\\' || p + 1 >= end) {
            return -1;
        }

        p++;

        switch (*p++) {
        case '"':
            ngx_http_moa_buf_lit(out, "\"");
            break;
        case '\\':
            ngx_http_moa_buf_lit(out, "\\");
            break;
        case '/':
            ngx_http_moa_buf_lit(out, "/");
            break;
        case 'b':
            ngx_http_moa_buf_lit(out, "\b");
            break;
        case 'f':
            ngx_http_moa_buf_lit(out, "\f");
            break;
        case 'n':
            ngx_http_moa_buf_lit(out, "\n");
            break;
        case 'r':
            ngx_http_moa_buf_lit(out, "\r");
            break;
        case 't':
            ngx_http_moa_buf_lit(out, "\t");
            break;

        case 'u':
            if (end - p < 4 || (hi = ngx_http_moa_json_hex4(p)) < 0) {
                return -1;
            }

            p += 4;
            c = (unsigned long) hi;

            if (hi >= 0xd800 && hi <= 0xdbff) {
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u'
                    || (lo = ngx_http_moa_json_hex4(p + 2)) < 0xdc00
                    || lo > 0xdfff)
                {
                    return -1;
                }

                p += 6;
                c = 0x10000 + (((unsigned long) hi - 0xd800) << 10)
                    + ((unsigned long) lo - 0xdc00);

            } else if (hi >= 0xdc00 && hi <= 0xdfff) {
                return -1;
            }

            ngx_http_moa_json_text_utf8(out, c);
            break;

        default:
            return -1;
        }
    }

    return out->nomem ? -1 : 0;
}
