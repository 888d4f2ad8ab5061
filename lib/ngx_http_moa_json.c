
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The validating JSON scanner: a text checked as one value, an object's
 * top-level members, and a text cut into tokens in one pass (first/after
 * over them).  Lookups by key are a layer above, in the json_find file;
 * the steps over white space, literals, numbers and strings are in the
 * json_scan file.
 */


#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "ngx_http_moa_json.h"
#include "ngx_http_moa_json_scan.h"
#include "ngx_http_moa_buf.h"


#define NGX_HTTP_MOA_JSON_MAX_DEPTH  1000

#define NGX_HTTP_MOA_JSON_FIRST_TOKENS                                        \
    (1024 / sizeof(ngx_http_moa_json_tok_t))


/* the scanner, and where its tokens go: j NULL only validates */
typedef struct {
    ngx_http_moa_json_scan_t   s;
    ngx_http_moa_json_t       *j;
} ngx_http_moa_json_tokens_t;


/* white space at s->p skipped */
#define ngx_http_moa_json_skip_ws(s)                                          \
    ((s)->p = ngx_http_moa_json_scan_ws((s)->p, (s)->end))


static int ngx_http_moa_json_check_value(ngx_http_moa_json_tokens_t *t);
static int ngx_http_moa_json_tok_value(ngx_http_moa_json_tokens_t *t);
static int ngx_http_moa_json_run(ngx_http_moa_json_t *j, const char *p,
    size_t len);


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
    t.s.start = p;
    t.s.depth = 0;

    ngx_http_moa_json_skip_ws(&t.s);

    if ((j ? ngx_http_moa_json_tok_value(&t)
           : ngx_http_moa_json_check_value(&t)) == 0)
    {
        ngx_http_moa_json_skip_ws(&t.s);

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
    t.s.start = p;
    t.s.depth = 1;

    ngx_http_moa_json_skip_ws(&t.s);

    if (t.s.p >= t.s.end || *t.s.p != '{') {
        return -1;
    }

    t.s.p++;
    ngx_http_moa_json_skip_ws(&t.s);

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

        if (ngx_http_moa_json_scan_string(&t.s) != 0) {
            goto failed;
        }

        m[*n].key = start + 1;
        m[*n].key_len = t.s.p - start - 2;
        m[*n].escaped = t.s.escaped != 0;

        ngx_http_moa_json_skip_ws(&t.s);

        if (t.s.p >= t.s.end || *t.s.p != ':') {
            goto failed;
        }

        t.s.p++;
        ngx_http_moa_json_skip_ws(&t.s);

        start = t.s.p;

        if (ngx_http_moa_json_check_value(&t) != 0) {
            goto failed;
        }

        m[*n].value = start;
        m[*n].value_len = t.s.p - start;
        (*n)++;

        ngx_http_moa_json_skip_ws(&t.s);

        if (t.s.p >= t.s.end) {
            goto failed;
        }

        if (*t.s.p == ',') {
            t.s.p++;
            ngx_http_moa_json_skip_ws(&t.s);
            continue;
        }

        if (*t.s.p == '}') {
            t.s.p++;
            break;
        }

        goto failed;
    }

done:

    ngx_http_moa_json_skip_ws(&t.s);

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


/*
 * Room for more tokens: 0, or -1 when too many or out of memory.  left is
 * the text's bytes from the next token on, to size the first array from.
 */
static int
ngx_http_moa_json_tok_grow(ngx_http_moa_json_t *j, size_t left)
{
    size_t                    got;
    uint32_t                  size;
    ngx_http_moa_json_tok_t  *tok;

    if (j->size >= 1u << 24) {
        return -1;
    }

    /*
     * about a token per 40 bytes of chat JSON, the first array 1 KiB at
     * most: the size glibc's per-thread cache serves from a list, where a
     * larger one has malloc and free search their bins (a 2 KB reply has
     * 36 tokens; a larger text doubles the array as it goes)
     */
    if (j->size) {
        size = j->size * 2;

    } else {
        size = left / 40 + 16;

        if (size > NGX_HTTP_MOA_JSON_FIRST_TOKENS) {
            size = NGX_HTTP_MOA_JSON_FIRST_TOKENS;
        }
    }

    /* a first array may be one that a reply before left (buf's cache) */

    if (j->tok == NULL) {
        tok = ngx_http_moa_buf_cache_alloc(
                  size * sizeof(ngx_http_moa_json_tok_t), &got);
        size = got / sizeof(ngx_http_moa_json_tok_t);

    } else {
        tok = realloc(j->tok, size * sizeof(ngx_http_moa_json_tok_t));
    }

    if (tok == NULL) {
        return -1;
    }

    j->tok = tok;
    j->size = size;

    return 0;
}


/*
 * A string token's type and flags by the scan's ESC_* bits (four of them),
 * so that they are one copy of four bytes rather than three tests and
 * four stores: type, escaped, hidden and hidden_lt follow each other in
 * the token.
 */
#define ngx_http_moa_json_string_flags(e)                                     \
    { '"', (e) != 0, ((e) & NGX_HTTP_MOA_JSON_ESC_HIDE) != 0,                \
      ((e) & NGX_HTTP_MOA_JSON_ESC_LT) != 0 }

static const uint8_t  ngx_http_moa_json_string_type[16][4] = {
    ngx_http_moa_json_string_flags(0), ngx_http_moa_json_string_flags(1),
    ngx_http_moa_json_string_flags(2), ngx_http_moa_json_string_flags(3),
    ngx_http_moa_json_string_flags(4), ngx_http_moa_json_string_flags(5),
    ngx_http_moa_json_string_flags(6), ngx_http_moa_json_string_flags(7),
    ngx_http_moa_json_string_flags(8), ngx_http_moa_json_string_flags(9),
    ngx_http_moa_json_string_flags(10), ngx_http_moa_json_string_flags(11),
    ngx_http_moa_json_string_flags(12), ngx_http_moa_json_string_flags(13),
    ngx_http_moa_json_string_flags(14), ngx_http_moa_json_string_flags(15)
};

_Static_assert(offsetof(ngx_http_moa_json_tok_t, escaped)
               == offsetof(ngx_http_moa_json_tok_t, type) + 1
               && offsetof(ngx_http_moa_json_tok_t, hidden)
                  == offsetof(ngx_http_moa_json_tok_t, type) + 2
               && offsetof(ngx_http_moa_json_tok_t, hidden_lt)
                  == offsetof(ngx_http_moa_json_tok_t, type) + 3,
               "a token's type and flags are four bytes in a row");


/* string token n: from its opening quote p to q, after its closing one */
static inline __attribute__((always_inline)) void
ngx_http_moa_json_tok_string(ngx_http_moa_json_tok_t *tok, const char *p,
    const char *q, uint32_t n, int esc)
{
    tok->p = p;
    tok->len = q - p;
    tok->next = n + 1;
    memcpy(&tok->type, ngx_http_moa_json_string_type[esc & 15], 4);
}


/*
 * A number at p, as JSON writes it: the byte after it, or NULL with s->p
 * at the fault.  Most are short integers (an index, a count, a time):
 * read here; a fraction, an exponent or a sign goes to scan_number.
 */
static inline const char *
ngx_http_moa_json_walk_number(ngx_http_moa_json_scan_t *s, const char *p)
{
    const char  *q, *end;

    end = s->end;
    q = p;

    if (*q == '0') {
        q++;

    } else if (*q >= '1' && *q <= '9') {
        do {
            q++;
        } while (q < end && *q >= '0' && *q <= '9');

    } else {
        goto slow;
    }

    if (q == end || (*q != '.' && *q != 'e' && *q != 'E')) {
        return q;
    }

slow:

    s->p = p;

    if (ngx_http_moa_json_scan_number(s) != 0) {
        return NULL;
    }

    return s->p;
}


/*
 * true, false, null or a number at p: the byte after it with *type set,
 * or NULL with s->p at the fault
 */
static inline const char *
ngx_http_moa_json_walk_scalar(ngx_http_moa_json_scan_t *s, const char *p,
    uint8_t *type)
{
    size_t  left;

    left = s->end - p;
    *type = *p;

    switch (*p) {

    case 't':
        if (left >= 4 && memcmp(p, "true", 4) == 0) {
            return p + 4;
        }

        break;

    case 'f':
        if (left >= 5 && memcmp(p, "false", 5) == 0) {
            return p + 5;
        }

        break;

    case 'n':
        if (left >= 4 && memcmp(p, "null", 4) == 0) {
            return p + 4;
        }

        break;

    default:
        *type = '0';
        return ngx_http_moa_json_walk_number(s, p);
    }

    s->p = p;

    return NULL;
}


/*
 * One value from s->p on, containers and all, in a loop rather than by
 * recursion (a call per value cost more than the value's own scan): while
 * a container is open, its token's "next" holds the container around it
 * (set to the token after its subtree when it closes), and a bit per depth
 * says whether the container at that depth is an object.  s->p is left
 * where the text stops being JSON on failure.  Inlined twice: cutting
 * tokens (tokens 1) and only validating (tokens 0).
 *
 * The scan's place, the token array and its count live in locals (written
 * back at the end): a token's byte fields may alias anything, and through
 * pointers each of their stores had the next step read them all again.
 * Few other locals (the depth counts from the walk's start, keys have a
 * string scan of their own), so that the hot ones stay in registers.  A
 * token is written whole, once, when its value is read (a container's
 * length and next when it closes).
 */
static inline __attribute__((always_inline)) int
ngx_http_moa_json_walk(ngx_http_moa_json_tokens_t *t, int tokens)
{
    int                        open, depth, obj, esc;
    uint8_t                    type;
    uint32_t                   n, size;
    uint64_t                   objects[NGX_HTTP_MOA_JSON_MAX_DEPTH / 64 + 1];
    const char                *p, *q, *end;
    ngx_http_moa_json_tok_t   *tok, *c;
    ngx_http_moa_json_scan_t  *s;

    s = &t->s;
    p = s->p;
    end = s->end;
    depth = 0;
    open = -1;
    obj = 0;

    tok = NULL;
    n = 0;
    size = 0;

    if (tokens) {
        tok = t->j->tok;
        n = t->j->n;
        size = t->j->size;
    }

value:

    if (p >= end) {
        goto failed;
    }

    if (tokens && n == size) {
        if (ngx_http_moa_json_tok_grow(t->j, end - p) != 0) {
            goto failed;
        }

        tok = t->j->tok;
        size = t->j->size;
    }

    if (*p == '"') {
        q = ngx_http_moa_json_scan_string_rest(s, p + 1, end, &esc);

        if (q == NULL) {
            p = s->p;
            goto failed;
        }

        if (tokens) {
            ngx_http_moa_json_tok_string(&tok[n], p, q, n, esc);
            n++;
        }

        p = q;
        goto done;
    }

    if (*p == '{' || *p == '[') {
        obj = (*p == '{');

        if (tokens) {
            tok[n] = (ngx_http_moa_json_tok_t) {
                         .p = p, .next = (uint32_t) open, .type = *p };
            open = n++;
        }

        if (++depth + s->depth > NGX_HTTP_MOA_JSON_MAX_DEPTH) {
            goto failed;
        }

        objects[depth / 64] = (objects[depth / 64] & ~(1ULL << depth % 64))
                              | (uint64_t) obj << depth % 64;

        p = ngx_http_moa_json_scan_ws(p + 1, end);

        if (p < end && *p == (obj ? '}' : ']')) {
            p++;
            goto close;
        }

        if (obj) {
            goto member;
        }

        goto value;
    }

    q = ngx_http_moa_json_walk_scalar(s, p, &type);

    if (q == NULL) {
        p = s->p;
        goto failed;
    }

    if (tokens) {
        tok[n] = (ngx_http_moa_json_tok_t) {
                     .p = p, .len = q - p, .next = n + 1, .type = type };
        n++;
    }

    p = q;

done:

    if (depth == 0) {
        goto out;
    }

    /* after a value inside a container: a comma next first (compact JSON) */

    if (p >= end || *p != ',') {
        p = ngx_http_moa_json_scan_ws(p, end);

        if (p >= end) {
            goto failed;
        }
    }

    if (*p == ',') {
        p = ngx_http_moa_json_scan_ws(p + 1, end);

        if (obj) {
            goto member;
        }

        goto value;
    }

    if (*p != (obj ? '}' : ']')) {
        goto failed;
    }

    p++;

close:

    depth--;

    if (tokens) {
        c = &tok[open];
        open = (int) c->next;
        c->len = p - c->p;
        c->next = n;
    }

    if (depth) {
        obj = (objects[depth / 64] >> depth % 64) & 1;
    }

    goto done;

member:

    /* a key: a string scan of its own (no "is it a key" to keep) */

    if (p >= end || *p != '"') {
        goto failed;
    }

    if (tokens && n == size) {
        if (ngx_http_moa_json_tok_grow(t->j, end - p) != 0) {
            goto failed;
        }

        tok = t->j->tok;
        size = t->j->size;
    }

    q = ngx_http_moa_json_scan_string_rest(s, p + 1, end, &esc);

    if (q == NULL) {
        p = s->p;
        goto failed;
    }

    if (tokens) {
        ngx_http_moa_json_tok_string(&tok[n], p, q, n, esc);
        n++;
    }

    /* the colon next first (compact JSON) */

    p = q;

    if (p >= end || *p != ':') {
        p = ngx_http_moa_json_scan_ws(p, end);

        if (p >= end || *p != ':') {
            goto failed;
        }
    }

    p = ngx_http_moa_json_scan_ws(p + 1, end);

    goto value;

out:

    s->p = p;

    if (tokens) {
        t->j->n = n;
    }

    return 0;

failed:

    s->p = p;

    if (tokens) {
        t->j->n = n;
    }

    return -1;
}


/* one value cut into tokens (t->j set) */
static int
ngx_http_moa_json_tok_value(ngx_http_moa_json_tokens_t *t)
{
    return ngx_http_moa_json_walk(t, 1);
}


/* one value only validated */
static int
ngx_http_moa_json_check_value(ngx_http_moa_json_tokens_t *t)
{
    return ngx_http_moa_json_walk(t, 0);
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
    ngx_http_moa_buf_cache_free(j->tok,
                                j->size * sizeof(ngx_http_moa_json_tok_t));
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
