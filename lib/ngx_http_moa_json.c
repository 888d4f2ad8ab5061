
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The validating JSON scanner: a text checked as one value, an object's
 * top-level members, and a text cut into tokens in one pass (first/after
 * over them).  Lookups by key are a layer above, in the json_find file.
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
