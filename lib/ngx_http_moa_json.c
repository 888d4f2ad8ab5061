
/*
 * Copyright (C) ngx_http_moa_module authors
 */


#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "ngx_http_moa_json.h"


#define NGX_HTTP_MOA_JSON_MAX_DEPTH  1000


typedef struct {
    const char  *p;
    const char  *end;
    int          depth;
    int          escaped;    /* the last string read had a backslash */
} ngx_http_moa_json_scan_t;


/* the scanner, and where its tokens go: j NULL only validates */
typedef struct {
    ngx_http_moa_json_scan_t   s;
    ngx_http_moa_json_t       *j;
} ngx_http_moa_json_tokens_t;


static int ngx_http_moa_json_tok_value(ngx_http_moa_json_tokens_t *t);
static int ngx_http_moa_json_run(ngx_http_moa_json_t *j, const char *p,
    size_t len);
static int ngx_http_moa_json_string(ngx_http_moa_json_scan_t *s);


/* bytes that JSON strings must escape: control characters, '"', '\\' */
static const unsigned char  ngx_http_moa_json_esc[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0
};


#define NGX_HTTP_MOA_ONES   0x0101010101010101ULL
#define NGX_HTTP_MOA_HIGHS  0x8080808080808080ULL


/*
 * The first byte from p on that a JSON string cannot hold as is ('"', '\\'
 * or a control character), or end: eight bytes a step while there is none
 * (a word has such a byte when one of its bytes is zero after an xor with
 * '"' or '\\', or is below 0x20).
 */
const char *
ngx_http_moa_json_plain(const char *p, const char *end)
{
    uint64_t  w, q, s;

#if defined(__SSE2__)
    int       m;
    __m128i   v, t;

    /* sixteen bytes a step: unsigned "< 0x20" as a signed compare */

    while (end - p >= 16) {
        v = _mm_loadu_si128((const __m128i *) p);
        t = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                         _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
        t = _mm_or_si128(t, _mm_cmplt_epi8(
                                _mm_xor_si128(v, _mm_set1_epi8((char) 0x80)),
                                _mm_set1_epi8((char) (0x20 ^ 0x80))));
        m = _mm_movemask_epi8(t);

        if (m) {
            return p + __builtin_ctz((unsigned) m);
        }

        p += 16;
    }
#endif

    while (end - p >= 8) {
        memcpy(&w, p, 8);

        q = w ^ (NGX_HTTP_MOA_ONES * '"');
        s = w ^ (NGX_HTTP_MOA_ONES * '\\');

        if ((((q - NGX_HTTP_MOA_ONES) & ~q)
             | ((s - NGX_HTTP_MOA_ONES) & ~s)
             | ((w - NGX_HTTP_MOA_ONES * 0x20) & ~w))
            & NGX_HTTP_MOA_HIGHS)
        {
            break;
        }

        p += 8;
    }

    while (p < end && !ngx_http_moa_json_esc[(unsigned char) *p]) {
        p++;
    }

    return p;
}


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
        s->p = ngx_http_moa_json_plain(s->p, s->end);

        if (s->p == s->end) {
            break;
        }

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

        s->escaped = 1;

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


/*
 * One JSON value over p[0..len) and nothing else around it but white
 * space: validated, and cut into tokens when j is not NULL.  0 or -1.
 */
static int
ngx_http_moa_json_run(ngx_http_moa_json_t *j, const char *p, size_t len)
{
    ngx_http_moa_json_tokens_t  t;

    /* no text (an empty body is (NULL, 0): NULL + 0 is undefined) */
    if (len == 0) {
        if (j) {
            j->error_at = 0;
        }

        return -1;
    }

    t.j = j;
    t.s.p = p;
    t.s.end = p + len;
    t.s.depth = 0;

    ngx_http_moa_json_ws(&t.s);

    if (ngx_http_moa_json_tok_value(&t) == 0) {
        ngx_http_moa_json_ws(&t.s);

        if (t.s.p == t.s.end) {
            return 0;
        }
    }

    /* where the text stops being JSON (len: it ends early) */
    if (j) {
        j->error_at = t.s.p - p;
    }

    return -1;
}


int
ngx_http_moa_json_valid(const char *p, size_t len)
{
    return ngx_http_moa_json_run(NULL, p, len);
}


int
ngx_http_moa_json_members(const char *p, size_t len,
    ngx_http_moa_json_member_t **members, size_t *n)
{
    size_t                       nalloc;
    const char                  *start;
    ngx_http_moa_json_member_t  *m, *nm;
    ngx_http_moa_json_tokens_t   t;

    *members = NULL;
    *n = 0;

    if (len == 0) {
        return -1;
    }

    t.j = NULL;
    t.s.p = p;
    t.s.end = p + len;
    t.s.depth = 1;

    ngx_http_moa_json_ws(&t.s);

    if (t.s.p >= t.s.end || *t.s.p != '{') {
        return -1;
    }

    t.s.p++;
    ngx_http_moa_json_ws(&t.s);

    m = NULL;
    nalloc = 0;

    if (t.s.p < t.s.end && *t.s.p == '}') {
        t.s.p++;
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

        start = t.s.p;

        t.s.escaped = 0;

        if (ngx_http_moa_json_string(&t.s) != 0) {
            goto failed;
        }

        m[*n].key = start + 1;
        m[*n].key_len = t.s.p - start - 2;
        m[*n].escaped = t.s.escaped;

        ngx_http_moa_json_ws(&t.s);

        if (t.s.p >= t.s.end || *t.s.p != ':') {
            goto failed;
        }

        t.s.p++;
        ngx_http_moa_json_ws(&t.s);

        start = t.s.p;

        if (ngx_http_moa_json_tok_value(&t) != 0) {
            goto failed;
        }

        m[*n].value = start;
        m[*n].value_len = t.s.p - start;
        (*n)++;

        ngx_http_moa_json_ws(&t.s);

        if (t.s.p >= t.s.end) {
            goto failed;
        }

        if (*t.s.p == ',') {
            t.s.p++;
            ngx_http_moa_json_ws(&t.s);
            continue;
        }

        if (*t.s.p == '}') {
            t.s.p++;
            break;
        }

        goto failed;
    }

done:

    ngx_http_moa_json_ws(&t.s);

    if (t.s.p != t.s.end) {
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

    if (!m->escaped) {
        /* most keys differ at once: no strlen() for them */
        return (m->key_len == 0 || m->key[0] == name[0])
               && m->key_len == strlen(name)
               && memcmp(m->key, name, m->key_len) == 0;
    }

    len = strlen(name);

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


static const char *ngx_http_moa_json_skip_ws(const char *p,
    const char *end);
static const char *ngx_http_moa_json_skip_string(const char *p,
    const char *end);
static const char *ngx_http_moa_json_skip(const char *p, const char *end);


static const char *
ngx_http_moa_json_skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    {
        p++;
    }

    return p;
}


/* past a string literal that starts at p (text already validated) */
static const char *
ngx_http_moa_json_skip_string(const char *p, const char *end)
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
ngx_http_moa_json_skip(const char *p, const char *end)
{
    int  depth;

    if (p >= end) {
        return end;
    }

    if (*p == '"') {
        return ngx_http_moa_json_skip_string(p, end);
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
            p = ngx_http_moa_json_skip_string(p, end);
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
ngx_http_moa_json_get(const char *p, size_t len, const char *key,
    ngx_http_moa_span_t *v)
{
    const char                  *end, *k;
    ngx_http_moa_json_member_t   m;

    v->p = NULL;
    v->len = 0;

    end = p + len;
    p = ngx_http_moa_json_skip_ws(p, end);

    if (p >= end || *p != '{') {
        return 0;
    }

    p++;

    for ( ;; ) {
        p = ngx_http_moa_json_skip_ws(p, end);

        if (p >= end || *p != '"') {
            return 0;
        }

        k = p;
        p = ngx_http_moa_json_skip_string(p, end);

        m.key = k + 1;
        m.key_len = p - k - 2;
        m.escaped = memchr(m.key, '\\', m.key_len) != NULL;

        p = ngx_http_moa_json_skip_ws(p, end);

        if (p >= end || *p != ':') {
            return 0;
        }

        p = ngx_http_moa_json_skip_ws(p + 1, end);

        m.value = p;
        p = ngx_http_moa_json_skip(p, end);
        m.value_len = p - m.value;

        if (ngx_http_moa_json_key_is(&m, key)) {
            v->p = m.value;
            v->len = m.value_len;
            return 1;
        }

        p = ngx_http_moa_json_skip_ws(p, end);

        if (p >= end || *p != ',') {
            return 0;
        }

        p++;
    }
}


int
ngx_http_moa_json_next(const char *p, size_t len, size_t *pos,
    ngx_http_moa_span_t *v)
{
    const char  *start, *end, *q;

    start = p;
    end = p + len;

    if (*pos == 0) {
        p = ngx_http_moa_json_skip_ws(p, end);

        if (p >= end || *p != '[') {
            return 0;
        }

        p++;

    } else {
        p = ngx_http_moa_json_skip_ws(start + *pos, end);

        if (p >= end || *p != ',') {
            return 0;
        }

        p++;
    }

    p = ngx_http_moa_json_skip_ws(p, end);

    if (p >= end || *p == ']') {
        return 0;
    }

    q = ngx_http_moa_json_skip(p, end);

    v->p = p;
    v->len = q - p;
    *pos = q - start;

    return 1;
}


static void
ngx_http_moa_json_utf8(ngx_http_moa_buf_t *out, unsigned long c)
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
ngx_http_moa_json_unescape(ngx_http_moa_buf_t *out, const char *p, size_t len)
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

            ngx_http_moa_json_utf8(out, c);
            break;

        default:
            return -1;
        }
    }

    return out->nomem ? -1 : 0;
}


/* room for more tokens: 0, or -1 when too many or out of memory */
static int
ngx_http_moa_json_tok_grow(ngx_http_moa_json_tokens_t *t)
{
    uint32_t                  size;
    ngx_http_moa_json_t      *j;
    ngx_http_moa_json_tok_t  *tok;

    j = t->j;

    if (j->size >= 1u << 24) {
        return -1;
    }

    /* about a token per 40 bytes of chat JSON */
    size = j->size ? j->size * 2 : (uint32_t) ((t->s.end - t->s.p) / 40 + 16);

    tok = realloc(j->tok, size * sizeof(ngx_http_moa_json_tok_t));
    if (tok == NULL) {
        return -1;
    }

    j->tok = tok;
    j->size = size;

    return 0;
}


/* called once per value and key: the growing is kept out of line */
static inline int
ngx_http_moa_json_tok_push(ngx_http_moa_json_tokens_t *t, uint8_t type)
{
    ngx_http_moa_json_t      *j;
    ngx_http_moa_json_tok_t  *tok;

    j = t->j;

    if (j == NULL) {
        return 0;
    }

    if (j->n == j->size && ngx_http_moa_json_tok_grow(t) != 0) {
        return -1;
    }

    tok = &j->tok[j->n];
    tok->p = t->s.p;
    tok->len = 0;
    tok->next = 0;
    tok->type = type;
    tok->escaped = 0;

    return (int) j->n++;
}


static void
ngx_http_moa_json_tok_close(ngx_http_moa_json_tokens_t *t, int i)
{
    ngx_http_moa_json_tok_t  *tok;

    if (t->j == NULL) {
        return;
    }

    tok = &t->j->tok[i];
    tok->len = t->s.p - tok->p;
    tok->next = t->j->n;
}


static int
ngx_http_moa_json_tok_string(ngx_http_moa_json_tokens_t *t)
{
    int                       i;
    ngx_http_moa_json_tok_t  *tok;

    i = ngx_http_moa_json_tok_push(t, '"');

    t->s.escaped = 0;

    if (i < 0 || ngx_http_moa_json_string(&t->s) != 0) {
        return -1;
    }

    ngx_http_moa_json_tok_close(t, i);

    if (t->j) {
        tok = &t->j->tok[i];
        tok->escaped = (uint8_t) t->s.escaped;
    }

    return 0;
}


static int
ngx_http_moa_json_tok_container(ngx_http_moa_json_tokens_t *t, char close)
{
    int                        i;
    ngx_http_moa_json_scan_t  *s;

    s = &t->s;

    i = ngx_http_moa_json_tok_push(t, (uint8_t) *s->p);

    if (i < 0 || ++s->depth > NGX_HTTP_MOA_JSON_MAX_DEPTH) {
        return -1;
    }

    s->p++;
    ngx_http_moa_json_ws(s);

    if (s->p < s->end && *s->p == close) {
        s->p++;
        goto done;
    }

    for ( ;; ) {

        if (close == '}') {
            if (s->p >= s->end || *s->p != '"'
                || ngx_http_moa_json_tok_string(t) != 0)
            {
                return -1;
            }

            ngx_http_moa_json_ws(s);

            if (s->p >= s->end || *s->p != ':') {
                return -1;
            }

            s->p++;
            ngx_http_moa_json_ws(s);
        }

        if (ngx_http_moa_json_tok_value(t) != 0) {
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
            break;
        }

        return -1;
    }

done:

    s->depth--;
    ngx_http_moa_json_tok_close(t, i);

    return 0;
}


static int
ngx_http_moa_json_tok_value(ngx_http_moa_json_tokens_t *t)
{
    int                        i, rc;
    ngx_http_moa_json_scan_t  *s;

    s = &t->s;

    if (s->p >= s->end) {
        return -1;
    }

    switch (*s->p) {

    case '{':
        return ngx_http_moa_json_tok_container(t, '}');

    case '[':
        return ngx_http_moa_json_tok_container(t, ']');

    case '"':
        return ngx_http_moa_json_tok_string(t);

    case 't':
        i = ngx_http_moa_json_tok_push(t, 't');
        rc = ngx_http_moa_json_literal(s, "true", 4);
        break;

    case 'f':
        i = ngx_http_moa_json_tok_push(t, 'f');
        rc = ngx_http_moa_json_literal(s, "false", 5);
        break;

    case 'n':
        i = ngx_http_moa_json_tok_push(t, 'n');
        rc = ngx_http_moa_json_literal(s, "null", 4);
        break;

    default:
        i = ngx_http_moa_json_tok_push(t, '0');
        rc = ngx_http_moa_json_number(s);
    }

    if (i < 0 || rc != 0) {
        return -1;
    }

    ngx_http_moa_json_tok_close(t, i);

    return 0;
}


/* validates p[0..len) as one JSON value and cuts it into tokens: 0 or -1 */
int
ngx_http_moa_json_parse(ngx_http_moa_json_t *j, const char *p, size_t len)
{
    j->n = 0;

    return ngx_http_moa_json_run(j, p, len);
}


void
ngx_http_moa_json_free(ngx_http_moa_json_t *j)
{
    free(j->tok);
    j->tok = NULL;
    j->n = 0;
    j->size = 0;
}


int
ngx_http_moa_json_find(const ngx_http_moa_json_t *j, int obj,
    const char *key)
{
    size_t                       len;
    uint32_t                     k, end;
    ngx_http_moa_json_member_t   m;

    if (obj < 0 || j->tok[obj].type != '{') {
        return -1;
    }

    len = strlen(key) + 2;
    end = j->tok[obj].next;

    for (k = obj + 1; k < end; k = j->tok[k + 1].next) {

        if (!j->tok[k].escaped) {
            /* the key's text with its quotes */
            if (j->tok[k].len == len
                && memcmp(j->tok[k].p + 1, key, len - 2) == 0)
            {
                return (int) k + 1;
            }

            continue;
        }

        m.key = j->tok[k].p + 1;
        m.key_len = j->tok[k].len - 2;
        m.escaped = 1;

        if (ngx_http_moa_json_key_is(&m, key)) {
            return (int) k + 1;
        }
    }

    return -1;
}


void
ngx_http_moa_json_find_keys(const ngx_http_moa_json_t *j, int obj,
    const ngx_http_moa_json_key_t *keys, int nkeys, int *at)
{
    int                          i, left;
    size_t                       len;
    uint32_t                     k, end;
    ngx_http_moa_json_member_t   m;

    for (i = 0; i < nkeys; i++) {
        at[i] = -1;
    }

    if (obj < 0 || j->tok[obj].type != '{') {
        return;
    }

    left = nkeys;
    end = j->tok[obj].next;

    for (k = obj + 1; k < end && left; k = j->tok[k + 1].next) {

        if (!j->tok[k].escaped) {
            /* the key's text without its quotes */
            len = j->tok[k].len - 2;

            for (i = 0; i < nkeys; i++) {
                if (keys[i].len == len && at[i] < 0
                    && memcmp(j->tok[k].p + 1, keys[i].name, len) == 0)
                {
                    at[i] = (int) k + 1;
                    left--;
                    break;
                }
            }

            continue;
        }

        m.key = j->tok[k].p + 1;
        m.key_len = j->tok[k].len - 2;
        m.escaped = 1;

        for (i = 0; i < nkeys; i++) {
            if (at[i] < 0 && ngx_http_moa_json_key_is(&m, keys[i].name)) {
                at[i] = (int) k + 1;
                left--;
                break;
            }
        }
    }
}


/*
 * The members of object token obj as spans of its text, as
 * ngx_http_moa_json_members() gives them from text: a malloc()ed array
 * (free() it), NULL for an empty object or a token that is not an object;
 * 0, or -1 without memory.
 */
int
ngx_http_moa_json_tok_members(const ngx_http_moa_json_t *j, int obj,
    ngx_http_moa_json_member_t **members, size_t *n)
{
    size_t                       k;
    uint32_t                     t, end;
    ngx_http_moa_json_member_t  *m;

    *members = NULL;
    *n = 0;

    if (obj < 0 || j->tok[obj].type != '{') {
        return 0;
    }

    end = j->tok[obj].next;

    for (t = obj + 1; t < end; t = j->tok[t + 1].next) {
        (*n)++;
    }

    if (*n == 0) {
        return 0;
    }

    m = malloc(*n * sizeof(ngx_http_moa_json_member_t));
    if (m == NULL) {
        *n = 0;
        return -1;
    }

    k = 0;

    for (t = obj + 1; t < end; t = j->tok[t + 1].next) {
        m[k].key = j->tok[t].p + 1;
        m[k].key_len = j->tok[t].len - 2;
        m[k].escaped = j->tok[t].escaped;
        m[k].value = j->tok[t + 1].p;
        m[k].value_len = j->tok[t + 1].len;
        k++;
    }

    *members = m;

    return 0;
}


int
ngx_http_moa_json_first(const ngx_http_moa_json_t *j, int arr)
{
    if (arr < 0 || j->tok[arr].type != '['
        || (uint32_t) arr + 1 >= j->tok[arr].next)
    {
        return -1;
    }

    return arr + 1;
}


int
ngx_http_moa_json_after(const ngx_http_moa_json_t *j, int arr, int i)
{
    uint32_t  k;

    k = j->tok[i].next;

    return k < j->tok[arr].next ? (int) k : -1;
}
