
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code (no nginx types): JSON string escaping into a buffer, and a
 * strict scanner that finds the raw text of an object's top-level
 * members, so that stage bodies are spliced from the client's own bytes
 * instead of being re-serialised.
 */


#ifndef _NGX_HTTP_MOA_JSON_H_INCLUDED_
#define _NGX_HTTP_MOA_JSON_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "ngx_http_moa_buf.h"


typedef struct {
    const char  *p;            /* raw JSON text */
    size_t       len;          /* 0: absent */
} ngx_http_moa_span_t;


typedef struct {
    const char  *key;          /* raw key text between the quotes */
    size_t       key_len;
    const char  *value;        /* raw value text */
    size_t       value_len;
    int          escaped;      /* the key contains a backslash */
} ngx_http_moa_json_member_t;


void ngx_http_moa_buf_json_inner(ngx_http_moa_buf_t *b, const char *p,
    size_t n);
void ngx_http_moa_buf_json_str(ngx_http_moa_buf_t *b, const char *p,
    size_t n);

/*
 * Validates that p[0..len) holds exactly one JSON object (surrounding
 * whitespace allowed) and returns its top-level members in a malloc()ed
 * array (free() it).  Returns 0, or -1 on invalid JSON or no memory.
 */
int ngx_http_moa_json_members(const char *p, size_t len,
    ngx_http_moa_json_member_t **members, size_t *n);

/*
 * A JSON text validated and cut into tokens in one pass: every value (and
 * every object key) is a token, in document order; a container's "next" is
 * the token after its last descendant, so siblings are one step apart.
 */
typedef struct {
    const char  *p;            /* raw text of the value */
    size_t       len;
    uint32_t     next;         /* the token after this value's subtree */
    uint8_t      type;         /* '{' '[' '"' 't' 'f' 'n' (null), '0' */
    uint8_t      escaped;      /* a string with a backslash */
} ngx_http_moa_json_tok_t;


typedef struct {
    ngx_http_moa_json_tok_t  *tok;
    uint32_t                  n;
    uint32_t                  size;
} ngx_http_moa_json_t;


int ngx_http_moa_json_parse(ngx_http_moa_json_t *j, const char *p,
    size_t len);
void ngx_http_moa_json_free(ngx_http_moa_json_t *j);

/* the value of key in object token obj, or -1 */
int ngx_http_moa_json_find(const ngx_http_moa_json_t *j, int obj,
    const char *key);

/*
 * The values of several keys of object token obj in one pass over its
 * members: at[i] for keys[i], -1 when absent; as for ngx_http_moa_json_find,
 * the first of duplicate keys counts.
 */
typedef struct {
    const char  *name;
    size_t       len;
} ngx_http_moa_json_key_t;

#define ngx_http_moa_json_key(s)  { "" s, sizeof(s) - 1 }

void ngx_http_moa_json_find_keys(const ngx_http_moa_json_t *j, int obj,
    const ngx_http_moa_json_key_t *keys, int nkeys, int *at);

/* elements of array token arr: first, then each next; -1 at the end */
int ngx_http_moa_json_first(const ngx_http_moa_json_t *j, int arr);
int ngx_http_moa_json_after(const ngx_http_moa_json_t *j, int arr, int i);

/* a token as a span */
#define ngx_http_moa_json_span(j, i, v)                                      \
    ((v)->p = (j)->tok[i].p, (v)->len = (j)->tok[i].len)


/* validates that p[0..len) is exactly one JSON value: 0 or -1 */
int ngx_http_moa_json_valid(const char *p, size_t len);

/*
 * compares a member's key with a plain name, decoding escapes if needed;
 * as for cJSON, whose view request validation uses, \u0000 ends the key
 */
int ngx_http_moa_json_key_is(const ngx_http_moa_json_member_t *m,
    const char *name);

/* the first byte from p on that a string must escape, or end */
const char *ngx_http_moa_json_plain(const char *p, const char *end);

/*
 * On text already validated (a member's value, say), without allocating:
 * the value of key in an object (1, or 0 when absent), the next element of
 * an array (*pos 0 at first; 1, or 0 at the end), a string literal decoded
 * (0, or -1), whether a value is a given literal, e.g. "null".
 */
int ngx_http_moa_json_get(const char *p, size_t len, const char *key,
    ngx_http_moa_span_t *v);
int ngx_http_moa_json_next(const char *p, size_t len, size_t *pos,
    ngx_http_moa_span_t *v);

/* several keys of an object in one pass: v[i] for keys[i] (NULL-ended) */
void ngx_http_moa_json_fields(const char *p, size_t len, const char **keys,
    ngx_http_moa_span_t *v);
int ngx_http_moa_json_unescape(ngx_http_moa_buf_t *out, const char *p,
    size_t len);
int ngx_http_moa_json_is(const ngx_http_moa_span_t *v, const char *lit);


#endif /* _NGX_HTTP_MOA_JSON_H_INCLUDED_ */
