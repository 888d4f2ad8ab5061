
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code (no nginx types): a strict JSON scanner that validates a text,
 * finds the raw text of an object's top-level members (so that stage
 * bodies are spliced from the client's own bytes instead of being
 * re-serialised) and cuts a text into tokens; the string scan it shares
 * with the escaper and the walker, inline.
 */


#ifndef _NGX_HTTP_MOA_JSON_H_INCLUDED_
#define _NGX_HTTP_MOA_JSON_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <string.h>

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
    uint8_t      hidden;       /* a string with a \u or \/ escape */
    uint8_t      hidden_lt;    /* a string with a \u003c escape ('<') */
} ngx_http_moa_json_tok_t;

/*
 * "hidden" tells the escapes apart for a code that looks for characters in
 * a string's raw text: a string whose only escapes are \" \\ \b \f \n \r
 * \t (hidden 0) holds any other character as itself, so a byte scan of its
 * raw text finds every '<' or '/'; \u and \/ can write one differently.
 * "hidden_lt" says whether one of them wrote a '<' (\u003c or \u003C), so
 * that the prompt needs no scan of its own for that either.
 */


typedef struct {
    ngx_http_moa_json_tok_t  *tok;
    uint32_t                  n;
    uint32_t                  size;
    size_t                    error_at;  /* after a failed parse: the byte
                                            the scan stopped at */
} ngx_http_moa_json_t;


/* j zeroed before its first parse (its token array is reused after) */
int ngx_http_moa_json_parse(ngx_http_moa_json_t *j, const char *p,
    size_t len);
void ngx_http_moa_json_free(ngx_http_moa_json_t *j);

/*
 * the members of object token obj, as ngx_http_moa_json_members() gives
 * them (free() the array): 0, or -1 without memory
 */
int ngx_http_moa_json_tok_members(const ngx_http_moa_json_t *j, int obj,
    ngx_http_moa_json_member_t **members, size_t *n);

/* elements of array token arr: first, then each next; -1 at the end */
int ngx_http_moa_json_first(const ngx_http_moa_json_t *j, int arr);
int ngx_http_moa_json_after(const ngx_http_moa_json_t *j, int arr, int i);

/* a token as a span */
#define ngx_http_moa_json_span(j, i, v)                                      \
    ((v)->p = (j)->tok[i].p, (v)->len = (j)->tok[i].len)


/* validates that p[0..len) is exactly one JSON value: 0 or -1 */
int ngx_http_moa_json_valid(const char *p, size_t len);


/*
 * Helpers over tokens and spans of validated text, inline: they are on the
 * hot path of the reply, the prompt and the stream (a call each costs more
 * than most of them do).
 */

/* keys of an object answered as the provider wrote it */
#define NGX_HTTP_MOA_JSON_MAX_KEYS  64


/* a token as a span, len 0 when absent (-1) */
static inline void
ngx_http_moa_json_tok_span(const ngx_http_moa_json_t *j, int i,
    ngx_http_moa_span_t *v)
{
    if (i < 0) {
        v->p = NULL;
        v->len = 0;
        return;
    }

    ngx_http_moa_json_span(j, i, v);
}


/*
 * An object's keys are written plainly (no escapes) and all differ.  The
 * compare is quadratic: an object with more keys than any reply in shape
 * has (a 1 MB reply of 100000 keys took half a minute) is not in shape.
 */
static inline int
ngx_http_moa_json_unique(const ngx_http_moa_json_t *j, int obj)
{
    uint32_t  k, l, n, end;

    end = j->tok[obj].next;
    n = 0;

    for (k = obj + 1; k < end; k = j->tok[k + 1].next) {
        if (j->tok[k].escaped || ++n > NGX_HTTP_MOA_JSON_MAX_KEYS) {
            return 0;
        }

        for (l = j->tok[k + 1].next; l < end; l = j->tok[l + 1].next) {
            if (j->tok[k].len == j->tok[l].len
                && memcmp(j->tok[k].p, j->tok[l].p, j->tok[k].len) == 0)
            {
                return 0;
            }
        }
    }

    return 1;
}


static inline int
ngx_http_moa_json_is_literal(const char *p, size_t len, const char *lit)
{
    size_t  n;

    n = strlen(lit);

    while (len && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
        p++;
        len--;
    }

    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'
                   || p[len - 1] == '\r' || p[len - 1] == '\n'))
    {
        len--;
    }

    return len == n && memcmp(p, lit, n) == 0;
}


/* the byte-level steps of the string scan, inline */
#include "ngx_http_moa_json_bytes.h"


#endif /* _NGX_HTTP_MOA_JSON_H_INCLUDED_ */
