
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Agreement of the module's three JSON readers with each other and with
 * cJSON, shared by the unit tests and fuzz_json: the tokenizer
 * (ngx_http_moa_json_parse), the validating scanners (json_valid,
 * json_members) and the span helpers on validated text (json_get,
 * json_next, json_unescape; json_find_keys and json_tok_members on
 * tokens) must all see the same document, and cJSON (strict: nothing after
 * the value) must parse whatever the tokenizer accepts into the same tree.
 *
 * check_json_agree() returns NULL, or what disagrees.
 */


#ifndef _CHECK_JSON_H_INCLUDED_
#define _CHECK_JSON_H_INCLUDED_


#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_json_find.h"
#include "ngx_http_moa_json_text.h"


/* span helpers are checked on the first members of large containers only */
#define CHECK_JSON_MAX_GET  8


/* cJSON, strict: the text must end after the value (NUL-terminated copy) */
static inline cJSON *
check_json_cjson(const char *p, size_t len)
{
    char   *s;
    cJSON  *v;

    s = malloc(len + 1);
    if (s == NULL) {
        return NULL;
    }

    if (len) {
        memcpy(s, p, len);
    }

    s[len] = '\0';

    v = cJSON_ParseWithLengthOpts(s, len + 1, NULL, 1);
    free(s);

    return v;
}


/* a string token decoded equals cJSON's C string (cut at the first NUL) */
static inline int
check_json_string_is(const char *p, size_t len, const char *s)
{
    int                 rc;
    ngx_http_moa_buf_t  dec;

    memset(&dec, 0, sizeof(ngx_http_moa_buf_t));

    if (ngx_http_moa_json_text_unescape(&dec, p, len) != 0) {
        ngx_http_moa_buf_free(&dec);
        return 0;
    }

    rc = s != NULL
         && strlen(s) == strnlen(dec.len ? dec.data : "", dec.len)
         && memcmp(s, dec.len ? dec.data : "", strlen(s)) == 0;

    ngx_http_moa_buf_free(&dec);

    return rc;
}


/* an ASCII name shorter than 64 bytes: what key_is promises to match */
static inline int
check_json_findable(const char *s)
{
    size_t  n;

    for (n = 0; s[n]; n++) {
        if ((unsigned char) s[n] >= 0x80 || n >= 63) {
            return 0;
        }
    }

    return 1;
}


static inline int
check_json_span_is(const ngx_http_moa_span_t *v,
    const ngx_http_moa_json_tok_t *t)
{
    return v->p == t->p && v->len == t->len;
}


static inline const char *check_json_tok(const ngx_http_moa_json_t *j,
    uint32_t i, const cJSON *c, const char *start, const char *end);


static inline const char *
check_json_object(const ngx_http_moa_json_t *j, uint32_t i, const cJSON *c,
    const char *start, const char *end)
{
    int                             f;
    size_t                          n, m, nk;
    uint32_t                        k, *vals, kv[CHECK_JSON_MAX_GET];
    int                             at[CHECK_JSON_MAX_GET];
    const char                     *err;
    const cJSON                    *c2, *c3;
    ngx_http_moa_span_t             v;
    ngx_http_moa_json_key_t         keys[CHECK_JSON_MAX_GET];
    const ngx_http_moa_json_tok_t  *t;

    t = &j->tok[i];
    n = (size_t) cJSON_GetArraySize(c);

    vals = malloc((n ? n : 1) * sizeof(uint32_t));
    if (vals == NULL) {
        return "no memory";
    }

    err = NULL;
    m = 0;
    c2 = c->child;

    for (k = i + 1; k < t->next; k = j->tok[k + 1].next, m++) {
        if (c2 == NULL || m >= n) {
            err = "an object has more members than cJSON's";
            goto done;
        }

        if (j->tok[k].type != '"' || k + 1 >= t->next) {
            err = "an object's key token";
            goto done;
        }

        if (!check_json_string_is(j->tok[k].p, j->tok[k].len, c2->string)) {
            err = "a key token decodes to cJSON's key";
            goto done;
        }

        vals[m] = k + 1;

        err = check_json_tok(j, k + 1, c2, start, end);
        if (err) {
            goto done;
        }

        c2 = c2->next;
    }

    if (k != t->next || c2 != NULL || m != n) {
        err = "an object's members end at its next";
        goto done;
    }

    /* find returns the first member of a name, as cJSON does */

    nk = 0;

    for (m = 0, c2 = c->child; c2; c2 = c2->next, m++) {
        if (!check_json_findable(c2->string)) {
            continue;
        }

        for (f = 0, c3 = c->child; c3 != c2; c3 = c3->next, f++) {
            if (strcmp(c3->string, c2->string) == 0) {
                break;
            }
        }

        if (ngx_http_moa_json_find(j, (int) i, c2->string)
            != (int) vals[f])
        {
            err = "find returns the first member of a name";
            goto done;
        }

        if ((size_t) f != m || nk == CHECK_JSON_MAX_GET) {
            continue;
        }

        if (ngx_http_moa_json_text_get(t->p, t->len, c2->string, &v) != 1
            || !check_json_span_is(&v, &j->tok[vals[f]]))
        {
            err = "get returns find's value";
            goto done;
        }

        keys[nk].name = c2->string;
        keys[nk].len = strlen(c2->string);
        kv[nk] = vals[f];
        nk++;
    }

    /* several distinct names in one pass */

    ngx_http_moa_json_find_keys(j, (int) i, keys, (int) nk, at);

    for (m = 0; m < nk; m++) {
        if (at[m] != (int) kv[m]) {
            err = "find_keys returns find's values";
            goto done;
        }
    }

    if (ngx_http_moa_json_find(j, (int) i, "\x01no such key") != -1
        || ngx_http_moa_json_text_get(t->p, t->len, "\x01no such key", &v) != 0
        || v.p != NULL || v.len != 0)
    {
        err = "an absent key is not found";
    }

done:

    free(vals);

    return err;
}


static inline const char *
check_json_array(const ngx_http_moa_json_t *j, uint32_t i, const cJSON *c,
    const char *start, const char *end)
{
    int                             e;
    size_t                          pos;
    const char                     *err;
    const cJSON                    *c2;
    ngx_http_moa_span_t             v;
    const ngx_http_moa_json_tok_t  *t;

    t = &j->tok[i];
    c2 = c->child;
    pos = 0;

    e = ngx_http_moa_json_first(j, (int) i);

    if ((e < 0) != (c2 == NULL)) {
        return "first is -1 exactly for an empty array";
    }

    for ( /* void */ ; e >= 0;
         e = ngx_http_moa_json_after(j, (int) i, e), c2 = c2->next)
    {
        if (c2 == NULL) {
            return "an array has more elements than cJSON's";
        }

        err = check_json_tok(j, (uint32_t) e, c2, start, end);
        if (err) {
            return err;
        }

        if (ngx_http_moa_json_text_next(t->p, t->len, &pos, &v) != 1
            || !check_json_span_is(&v, &j->tok[e]))
        {
            return "next gives the elements' tokens";
        }

        if (j->tok[e].next > t->next) {
            return "an element ends within its array";
        }
    }

    if (c2 != NULL) {
        return "an array has fewer elements than cJSON's";
    }

    if (ngx_http_moa_json_text_next(t->p, t->len, &pos, &v) != 0) {
        return "next ends with the array";
    }

    return NULL;
}


static inline const char *
check_json_tok(const ngx_http_moa_json_t *j, uint32_t i, const cJSON *c,
    const char *start, const char *end)
{
    char                           *num;
    double                          d;
    ngx_http_moa_span_t             v;
    const ngx_http_moa_json_tok_t  *t;

    if (i >= j->n) {
        return "a token index beyond the tokens";
    }

    t = &j->tok[i];

    if (t->len == 0 || t->p < start || t->p + t->len > end
        || t->next <= i || t->next > j->n)
    {
        return "a token's span and next are within bounds";
    }

    ngx_http_moa_json_span(j, i, &v);

    if (v.p != t->p || v.len != t->len) {
        return "json_span is the token";
    }

    switch (t->type) {

    case '{':
        if (!cJSON_IsObject(c) || t->p[0] != '{' || t->p[t->len - 1] != '}') {
            return "an object token is cJSON's object";
        }

        return check_json_object(j, i, c, start, end);

    case '[':
        if (!cJSON_IsArray(c) || t->p[0] != '[' || t->p[t->len - 1] != ']') {
            return "an array token is cJSON's array";
        }

        return check_json_array(j, i, c, start, end);

    case '"':
        if (!cJSON_IsString(c)
            || t->escaped != (memchr(t->p, '\\', t->len) != NULL)
            || !check_json_string_is(t->p, t->len, c->valuestring))
        {
            return "a string token is cJSON's string";
        }

        break;

    case 't':
        if (!cJSON_IsTrue(c)
            || !ngx_http_moa_json_is_literal(v.p, v.len, "true"))
        {
            return "true is cJSON's true";
        }

        break;

    case 'f':
        if (!cJSON_IsFalse(c)
            || !ngx_http_moa_json_is_literal(v.p, v.len, "false"))
        {
            return "false is cJSON's false";
        }

        break;

    case 'n':
        if (!cJSON_IsNull(c)
            || !ngx_http_moa_json_is_literal(v.p, v.len, "null"))
        {
            return "null is cJSON's null";
        }

        break;

    case '0':
        if (!cJSON_IsNumber(c)) {
            return "a number token is cJSON's number";
        }

        num = malloc(t->len + 1);
        if (num == NULL) {
            return "no memory";
        }

        memcpy(num, t->p, t->len);
        num[t->len] = '\0';
        d = strtod(num, NULL);
        free(num);

        if (!(d == c->valuedouble)) {
            return "a number token has cJSON's value";
        }

        break;

    default:
        return "a token of an unknown type";
    }

    if (t->next != i + 1) {
        return "a scalar's next is the token after it";
    }

    if (ngx_http_moa_json_valid(t->p, t->len) != 0) {
        return "a scalar token is valid JSON alone";
    }

    return NULL;
}


/* members must be the tokenizer's top-level members */
static inline const char *
check_json_members(const ngx_http_moa_json_t *j, int parsed,
    const char *p, size_t len)
{
    int                          object;
    size_t                       n, m;
    uint32_t                     k;
    ngx_http_moa_json_member_t  *mb, *tm;

    object = (parsed == 0 && j->tok[0].type == '{');

    if (ngx_http_moa_json_members(p, len, &mb, &n) != 0) {
        if (mb != NULL || n != 0) {
            return "members leaves nothing on failure";
        }

        return object ? "members refuses an object the tokenizer accepts"
                      : NULL;
    }

    if (!object) {
        free(mb);
        return "members accepts what the tokenizer refuses";
    }

    m = 0;

    for (k = 1; k < j->tok[0].next; k = j->tok[k + 1].next, m++) {
        if (m >= n
            || mb[m].key != j->tok[k].p + 1
            || mb[m].key_len != j->tok[k].len - 2
            || mb[m].value != j->tok[k + 1].p
            || mb[m].value_len != j->tok[k + 1].len
            || mb[m].escaped != j->tok[k].escaped)
        {
            free(mb);
            return "a member is the tokenizer's key and value";
        }
    }

    if (m != n) {
        free(mb);
        return "as many members as the tokenizer's";
    }

    /* and json_tok_members gives them the same from the tokens */

    if (ngx_http_moa_json_tok_members(j, 0, &tm, &m) != 0 || m != n) {
        free(mb);
        free(tm);
        return "tok_members: as many members as members";
    }

    for (k = 0; k < n; k++) {
        if (tm[k].key != mb[k].key || tm[k].key_len != mb[k].key_len
            || tm[k].value != mb[k].value
            || tm[k].value_len != mb[k].value_len
            || tm[k].escaped != mb[k].escaped)
        {
            free(mb);
            free(tm);
            return "tok_members: each member is members'";
        }
    }

    free(mb);
    free(tm);

    return NULL;
}


static inline const char *
check_json_agree(const char *p, size_t len)
{
    int                   parsed, valid;
    cJSON                *root;
    const char           *err;
    ngx_http_moa_json_t   j;

    memset(&j, 0, sizeof(ngx_http_moa_json_t));

    parsed = ngx_http_moa_json_parse(&j, p, len);
    valid = ngx_http_moa_json_valid(p, len);

    if (parsed != valid) {
        ngx_http_moa_json_free(&j);
        return parsed == 0 ? "the tokenizer accepts what json_valid refuses"
                           : "the tokenizer refuses what json_valid accepts";
    }

    err = check_json_members(&j, parsed, p, len);

    if (err == NULL && parsed == 0) {
        root = check_json_cjson(p, len);

        if (root == NULL) {
            err = "cJSON refuses what the tokenizer accepts";

        } else if (j.n == 0 || j.tok[0].next != j.n) {
            err = "the first token spans the document";

        } else {
            err = check_json_tok(&j, 0, root, p, p + len);
        }

        cJSON_Delete(root);
    }

    ngx_http_moa_json_free(&j);

    return err;
}


#endif /* _CHECK_JSON_H_INCLUDED_ */
