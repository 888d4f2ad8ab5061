
/*
 * Copyright (C) ngx_http_moa_module authors
 */


#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "ngx_http_moa_json.h"


#define NGX_HTTP_MOA_JSON_MAX_DEPTH  1000


typedef struct {
    const char  *p;
    const char  *end;
    int          depth;
} ngx_http_moa_json_scan_t;


static int ngx_http_moa_json_value(ngx_http_moa_json_scan_t *s);
static int ngx_http_moa_json_string(ngx_http_moa_json_scan_t *s);


int
ngx_http_moa_buf_reserve(ngx_http_moa_buf_t *b, size_t n)
{
    char    *p;
    size_t   size;

    if (b->nomem) {
        return -1;
    }

    if (b->size - b->len >= n) {
        return 0;
    }

    size = b->size ? b->size : 256;

    while (size - b->len < n) {
        if (size > (size_t) -1 / 2) {
            b->nomem = 1;
            return -1;
        }

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
ngx_http_moa_buf_add(ngx_http_moa_buf_t *b, const void *p, size_t n)
{
    if (n == 0 || ngx_http_moa_buf_reserve(b, n) != 0) {
        return;
    }

    memcpy(b->data + b->len, p, n);
    b->len += n;
}


void
ngx_http_moa_buf_cstr(ngx_http_moa_buf_t *b, const char *s)
{
    ngx_http_moa_buf_add(b, s, strlen(s));
}


void
ngx_http_moa_buf_int(ngx_http_moa_buf_t *b, long long v)
{
    int   n;
    char  tmp[32];

    n = snprintf(tmp, sizeof(tmp), "%lld", v);
    ngx_http_moa_buf_add(b, tmp, (size_t) n);
}


void
ngx_http_moa_buf_json_str(ngx_http_moa_buf_t *b, const char *p, size_t n)
{
    char                 *d;
    size_t                i;
    unsigned char         c;
    static const char     hex[] = "0123456789abcdef";

    /* worst case: every byte becomes \u00XX */
    if (n > ((size_t) -1 - 2) / 6
        || ngx_http_moa_buf_reserve(b, n * 6 + 2) != 0)
    {
        b->nomem = 1;
        return;
    }

    d = b->data + b->len;
    *d++ = '"';

    for (i = 0; i < n; i++) {
        c = (unsigned char) p[i];

        if (c >= 0x20 && c != '"' && c != '\\') {
            *d++ = (char) c;
            continue;
        }

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
    }

    *d++ = '"';
    b->len = d - b->data;
}


void
ngx_http_moa_buf_free(ngx_http_moa_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->size = 0;
    b->nomem = 0;
}


static void
ngx_http_moa_json_ws(ngx_http_moa_json_scan_t *s)
{
    while (s->p < s->end
           && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n'
               || *s->p == '\r'))
    {
        s->p++;
    }
}


static int
ngx_http_moa_json_literal(ngx_http_moa_json_scan_t *s, const char *lit,
    size_t n)
{
    if ((size_t) (s->end - s->p) < n || memcmp(s->p, lit, n) != 0) {
        return -1;
    }

    s->p += n;
    return 0;
}


static int
ngx_http_moa_json_is_digit(ngx_http_moa_json_scan_t *s)
{
    return s->p < s->end && *s->p >= '0' && *s->p <= '9';
}


static int
ngx_http_moa_json_number(ngx_http_moa_json_scan_t *s)
{
    if (s->p < s->end && *s->p == '-') {
        s->p++;
    }

    if (!ngx_http_moa_json_is_digit(s)) {
        return -1;
    }

    if (*s->p == '0') {
        s->p++;

    } else {
        while (ngx_http_moa_json_is_digit(s)) {
            s->p++;
        }
    }

    if (s->p < s->end && *s->p == '.') {
        s->p++;

        if (!ngx_http_moa_json_is_digit(s)) {
            return -1;
        }

        while (ngx_http_moa_json_is_digit(s)) {
            s->p++;
        }
    }

    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;

        if (s->p < s->end && (*s->p == '+' || *s->p == '-')) {
            s->p++;
        }

        if (!ngx_http_moa_json_is_digit(s)) {
            return -1;
        }

        while (ngx_http_moa_json_is_digit(s)) {
            s->p++;
        }
    }

    return 0;
}


static int
ngx_http_moa_json_hex4(const char *p)
{
    int  i, c, v;

    v = 0;

    for (i = 0; i < 4; i++) {
        c = p[i];
        v <<= 4;

        if (c >= '0' && c <= '9') {
            v |= c - '0';

        } else if (c >= 'a' && c <= 'f') {
            v |= c - 'a' + 10;

        } else if (c >= 'A' && c <= 'F') {
            v |= c - 'A' + 10;

        } else {
            return -1;
        }
    }

    return v;
}


static int
ngx_http_moa_json_string(ngx_http_moa_json_scan_t *s)
{
    int            v;
    unsigned char  c;

    if (s->p >= s->end || *s->p != '"') {
        return -1;
    }

    s->p++;

    while (s->p < s->end) {
        c = (unsigned char) *s->p++;

        if (c == '"') {
            return 0;
        }

        if (c < 0x20) {
            return -1;
        }

        if (c != '\\') {
            continue;
        }

        if (s->p >= s->end) {
            return -1;
        }

        c = (unsigned char) *s->p++;

        switch (c) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n':
        case 'r': case 't':
            break;

        case 'u':
            if (s->end - s->p < 4) {
                return -1;
            }

            v = ngx_http_moa_json_hex4(s->p);
            s->p += 4;

            /*
             * as cJSON, which must parse whatever is accepted here:
             * a surrogate only as a high one followed by a low one
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

            break;

        default:
            return -1;
        }
    }

    return -1;
}


static int
ngx_http_moa_json_container(ngx_http_moa_json_scan_t *s, char close)
{
    if (++s->depth > NGX_HTTP_MOA_JSON_MAX_DEPTH) {
        return -1;
    }

    s->p++;
    ngx_http_moa_json_ws(s);

    if (s->p < s->end && *s->p == close) {
        s->p++;
        s->depth--;
        return 0;
    }

    for ( ;; ) {

        if (close == '}') {
            if (ngx_http_moa_json_string(s) != 0) {
                return -1;
            }

            ngx_http_moa_json_ws(s);

            if (s->p >= s->end || *s->p != ':') {
                return -1;
            }

            s->p++;
        }

        if (ngx_http_moa_json_value(s) != 0) {
            return -1;
        }

        ngx_http_moa_json_ws(s);

        if (s->p >= s->end) {
            return -1;
        }

        if (*s->p == ',') {
            s->p++;
            ngx_http_moa_json_ws(s);
            continue;
        }

        if (*s->p == close) {
            s->p++;
            s->depth--;
            return 0;
        }

        return -1;
    }
}


static int
ngx_http_moa_json_value(ngx_http_moa_json_scan_t *s)
{
    ngx_http_moa_json_ws(s);

    if (s->p >= s->end) {
        return -1;
    }

    switch (*s->p) {
    case '{':
        return ngx_http_moa_json_container(s, '}');
    case '[':
        return ngx_http_moa_json_container(s, ']');
    case '"':
        return ngx_http_moa_json_string(s);
    case 't':
        return ngx_http_moa_json_literal(s, "true", 4);
    case 'f':
        return ngx_http_moa_json_literal(s, "false", 5);
    case 'n':
        return ngx_http_moa_json_literal(s, "null", 4);
    default:
        return ngx_http_moa_json_number(s);
    }
}


int
ngx_http_moa_json_valid(const char *p, size_t len)
{
    ngx_http_moa_json_scan_t  s;

    /* no text (an empty body is (NULL, 0): NULL + 0 is undefined) */
    if (len == 0) {
        return -1;
    }

    s.p = p;
    s.end = p + len;
    s.depth = 0;

    if (ngx_http_moa_json_value(&s) != 0) {
        return -1;
    }

    ngx_http_moa_json_ws(&s);

    return s.p == s.end ? 0 : -1;
}


int
ngx_http_moa_json_members(const char *p, size_t len,
    ngx_http_moa_json_member_t **members, size_t *n)
{
    size_t                       nalloc;
    const char                  *start;
    ngx_http_moa_json_member_t  *m, *nm;
    ngx_http_moa_json_scan_t     s;

    *members = NULL;
    *n = 0;

    if (len == 0) {
        return -1;
    }

    s.p = p;
    s.end = p + len;
    s.depth = 1;

    ngx_http_moa_json_ws(&s);

    if (s.p >= s.end || *s.p != '{') {
        return -1;
    }

    s.p++;
    ngx_http_moa_json_ws(&s);

    m = NULL;
    nalloc = 0;

    if (s.p < s.end && *s.p == '}') {
        s.p++;
        goto done;
    }

    for ( ;; ) {

        if (*n == nalloc) {
            nalloc = nalloc ? nalloc * 2 : 16;

            nm = realloc(m, nalloc * sizeof(ngx_http_moa_json_member_t));
            if (nm == NULL) {
                goto failed;
            }

            m = nm;
        }

        start = s.p;

        if (ngx_http_moa_json_string(&s) != 0) {
            goto failed;
        }

        m[*n].key = start + 1;
        m[*n].key_len = s.p - start - 2;
        m[*n].escaped = memchr(m[*n].key, '\\', m[*n].key_len) != NULL;

        ngx_http_moa_json_ws(&s);

        if (s.p >= s.end || *s.p != ':') {
            goto failed;
        }

        s.p++;
        ngx_http_moa_json_ws(&s);

        start = s.p;

        if (ngx_http_moa_json_value(&s) != 0) {
            goto failed;
        }

        m[*n].value = start;
        m[*n].value_len = s.p - start;
        (*n)++;

        ngx_http_moa_json_ws(&s);

        if (s.p >= s.end) {
            goto failed;
        }

        if (*s.p == ',') {
            s.p++;
            ngx_http_moa_json_ws(&s);
            continue;
        }

        if (*s.p == '}') {
            s.p++;
            break;
        }

        goto failed;
    }

done:

    ngx_http_moa_json_ws(&s);

    if (s.p != s.end) {
        goto failed;
    }

    *members = m;
    return 0;

failed:

    free(m);
    *n = 0;
    return -1;
}


int
ngx_http_moa_json_key_is(const ngx_http_moa_json_member_t *m,
    const char *name)
{
    int          v;
    char         dec[64];
    size_t       i, n, len;
    const char  *k;

    len = strlen(name);

    if (!m->escaped) {
        return m->key_len == len && memcmp(m->key, name, len) == 0;
    }

    /* rare: decode the escapes; names compared here are plain ASCII */

    k = m->key;
    n = 0;

    for (i = 0; i < m->key_len; i++) {
        if (n == sizeof(dec)) {
            return 0;
        }

        if (k[i] != '\\') {
            dec[n++] = k[i];
            continue;
        }

        i++;

        switch (k[i]) {
        case 'u':
            v = ngx_http_moa_json_hex4(&k[i + 1]);
            i += 4;

            if (v == 0) {
                /* cJSON's keys are C strings: \u0000 ends them there */
                goto done;
            }

            if (v < 0 || v > 0x7f) {
                return 0;
            }

            dec[n++] = (char) v;
            break;

        case 'b':
            dec[n++] = '\b';
            break;
        case 'f':
            dec[n++] = '\f';
            break;
        case 'n':
            dec[n++] = '\n';
            break;
        case 'r':
            dec[n++] = '\r';
            break;
        case 't':
            dec[n++] = '\t';
            break;
        default:
            dec[n++] = k[i];
        }
    }

done:

    return n == len && memcmp(dec, name, len) == 0;
}
