
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The validating JSON scanner: a text checked as one value, an object's
 * top-level members, and a text cut into tokens in one pass (first/after
 * over them).  Lookups by key are a layer above, in the json_find file;
 * the steps over white space, literals, numbers and strings are in the
 * json_scan file.
 */


#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "ngx_http_moa_json.h"
#include "ngx_http_moa_json_scan.h"


#define NGX_HTTP_MOA_JSON_MAX_DEPTH  1000


/* the scanner, and where its tokens go: j NULL only validates */
typedef struct {
    ngx_http_moa_json_scan_t   s;
    ngx_http_moa_json_t       *j;
} ngx_http_moa_json_tokens_t;


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

    ngx_http_moa_json_scan_ws(&t.s);

    if ((j ? ngx_http_moa_json_tok_value(&t)
           : ngx_http_moa_json_check_value(&t)) == 0)
    {
        ngx_http_moa_json_scan_ws(&t.s);

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

    ngx_http_moa_json_scan_ws(&t.s);

    if (t.s.p >= t.s.end || *t.s.p != '{') {
        return -1;
    }

    t.s.p++;
    ngx_http_moa_json_scan_ws(&t.s);

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

        ngx_http_moa_json_scan_ws(&t.s);

        if (t.s.p >= t.s.end || *t.s.p != ':') {
            goto failed;
        }

        t.s.p++;
        ngx_http_moa_json_scan_ws(&t.s);

        start = t.s.p;

        if (ngx_http_moa_json_check_value(&t) != 0) {
            goto failed;
        }

        m[*n].value = start;
        m[*n].value_len = t.s.p - start;
        (*n)++;

        ngx_http_moa_json_scan_ws(&t.s);

        if (t.s.p >= t.s.end) {
            goto failed;
        }

        if (*t.s.p == ',') {
            t.s.p++;
            ngx_http_moa_json_scan_ws(&t.s);
            continue;
        }

        if (*t.s.p == '}') {
            t.s.p++;
            break;
        }

        goto failed;
    }

done:

    ngx_http_moa_json_scan_ws(&t.s);

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


/*
 * A token at s->p, its length and next set when it closes: its index, or
 * -1 (too many, no memory).  Called once per value and key: the growing
 * is kept out of line.
 */
static inline int
ngx_http_moa_json_tok_push(ngx_http_moa_json_tokens_t *t, uint8_t type)
{
    ngx_http_moa_json_t      *j;
    ngx_http_moa_json_tok_t  *tok;

    j = t->j;

    if (j->n == j->size && ngx_http_moa_json_tok_grow(t) != 0) {
        return -1;
    }

    tok = &j->tok[j->n];
    tok->p = t->s.p;
    tok->type = type;
    tok->escaped = 0;
    tok->hidden = 0;
    tok->hidden_lt = 0;

    return (int) j->n++;
}


/* a string, as a token when tokens is set: 0 or -1 */
static inline __attribute__((always_inline)) int
ngx_http_moa_json_walk_string(ngx_http_moa_json_tokens_t *t, int tokens)
{
    int                       i;
    ngx_http_moa_json_tok_t  *tok;

    if (!tokens) {
        return ngx_http_moa_json_scan_string(&t->s);
    }

    i = ngx_http_moa_json_tok_push(t, '"');

    /* s->p is on the opening quote */
    if (i < 0 || (t->s.p++, ngx_http_moa_json_scan_string_rest(&t->s)) != 0) {
        return -1;
    }

    tok = &t->j->tok[i];
    tok->len = t->s.p - tok->p;
    tok->next = i + 1;
    tok->escaped = t->s.escaped != 0;
    tok->hidden = (t->s.escaped & NGX_HTTP_MOA_JSON_ESC_HIDE) != 0;
    tok->hidden_lt = (t->s.escaped & NGX_HTTP_MOA_JSON_ESC_LT) != 0;

    return 0;
}


/* true, false, null or a number, as a token when tokens is set: 0 or -1 */
static inline int
ngx_http_moa_json_walk_scalar(ngx_http_moa_json_tokens_t *t, int tokens)
{
    int                        i, rc;
    ngx_http_moa_json_tok_t   *tok;
    ngx_http_moa_json_scan_t  *s;

    s = &t->s;
    i = 0;

    switch (*s->p) {

    case 't':
        i = tokens ? ngx_http_moa_json_tok_push(t, 't') : 0;
        rc = ngx_http_moa_json_scan_literal(s, "true", 4);
        break;

    case 'f':
        i = tokens ? ngx_http_moa_json_tok_push(t, 'f') : 0;
        rc = ngx_http_moa_json_scan_literal(s, "false", 5);
        break;

    case 'n':
        i = tokens ? ngx_http_moa_json_tok_push(t, 'n') : 0;
        rc = ngx_http_moa_json_scan_literal(s, "null", 4);
        break;

    default:
        i = tokens ? ngx_http_moa_json_tok_push(t, '0') : 0;
        rc = ngx_http_moa_json_scan_number(s);
    }

    if (i < 0 || rc != 0) {
        return -1;
    }

    if (tokens) {
        tok = &t->j->tok[i];
        tok->len = s->p - tok->p;
        tok->next = i + 1;
    }

    return 0;
}


/*
 * One value from s->p on, containers and all, in a loop rather than by
 * recursion (a call per value cost more than the value's own scan): while
 * a container is open, its token's "next" holds the container around it
 * (set to the token after its subtree when it closes), and a bit per depth
 * says whether the container at that depth is an object.  s->p is left
 * where the text stops being JSON on failure.  Inlined twice: cutting
 * tokens (tokens 1) and only validating (tokens 0).
 */
static inline __attribute__((always_inline)) int
ngx_http_moa_json_walk(ngx_http_moa_json_tokens_t *t, int tokens)
{
    int                        i, open, depth, base, obj, key;
    uint64_t                   objects[NGX_HTTP_MOA_JSON_MAX_DEPTH / 64 + 1];
    ngx_http_moa_json_tok_t   *tok;
    ngx_http_moa_json_scan_t  *s;

    s = &t->s;
    depth = base = s->depth;
    open = -1;
    obj = 0;

value:

    if (s->p >= s->end) {
        return -1;
    }

    if (*s->p == '"') {
        key = 0;
        goto string;

    } else if (*s->p == '{' || *s->p == '[') {
        obj = (*s->p == '{');
        i = tokens ? ngx_http_moa_json_tok_push(t, (uint8_t) *s->p) : 0;

        if (i < 0 || ++depth > NGX_HTTP_MOA_JSON_MAX_DEPTH) {
            return -1;
        }

        objects[depth / 64] = (objects[depth / 64] & ~(1ULL << depth % 64))
                              | (uint64_t) obj << depth % 64;

        if (tokens) {
            t->j->tok[i].next = (uint32_t) open;
            open = i;
        }

        s->p++;
        ngx_http_moa_json_scan_ws(s);

        if (s->p < s->end && *s->p == (obj ? '}' : ']')) {
            s->p++;
            goto close;
        }

        if (obj) {
            goto member;
        }

        goto value;

    } else if (ngx_http_moa_json_walk_scalar(t, tokens) != 0) {
        return -1;
    }

done:

    if (depth == base) {
        return 0;
    }

    /* after a value inside a container */

    ngx_http_moa_json_scan_ws(s);

    if (s->p >= s->end) {
        return -1;
    }

    if (*s->p == ',') {
        s->p++;
        ngx_http_moa_json_scan_ws(s);

        if (obj) {
            goto member;
        }

        goto value;
    }

    if (*s->p != (obj ? '}' : ']')) {
        return -1;
    }

    s->p++;

close:

    depth--;

    if (tokens) {
        tok = &t->j->tok[open];
        open = (int) tok->next;
        tok->len = s->p - tok->p;
        tok->next = t->j->n;
    }

    if (depth != base) {
        obj = (objects[depth / 64] >> depth % 64) & 1;
    }

    goto done;

member:

    if (s->p >= s->end || *s->p != '"') {
        return -1;
    }

    key = 1;

string:

    /* keys and string values: one place, the string scan inlined once */

    if (ngx_http_moa_json_walk_string(t, tokens) != 0) {
        return -1;
    }

    if (!key) {
        goto done;
    }

    ngx_http_moa_json_scan_ws(s);

    if (s->p >= s->end || *s->p != ':') {
        return -1;
    }

    s->p++;
    ngx_http_moa_json_scan_ws(s);

    goto value;
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
