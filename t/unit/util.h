
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Helpers for the unit tests: parse a produced body and assert it is valid
 * for both the module's scanner and cJSON, look fields up by a dotted path
 * ("messages.1.content", "choices.0.delta.tool_calls"); and what several
 * tests of the protocol share: a request accepted, a body's parts checked,
 * the one choice of a reply made around a message.
 */


#ifndef _UTIL_H_INCLUDED_
#define _UTIL_H_INCLUDED_


#include <cjson/cJSON.h>

#include "tap.h"
#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_body.h"
#include "ngx_http_moa_request.h"
#include "ngx_http_moa_reply.h"


/* NULL (and a failed assertion) unless p[0..len) is valid JSON */
static inline cJSON *
json_ok(const char *p, size_t len, const char *what)
{
    cJSON  *v;

    v = (p && len) ? cJSON_ParseWithLength(p, len) : NULL;

    if (!ok(v != NULL && ngx_http_moa_json_valid(p, len) == 0,
            "%s is valid JSON", what))
    {
        diag("    '%.*s'", p ? (int) len : 4, p ? p : "NULL");
        cJSON_Delete(v);
        return NULL;
    }

    return v;
}


static inline const cJSON *
jget(const cJSON *v, const char *path)
{
    char         name[128];
    size_t       n;
    const char  *p, *dot;

    for (p = path; v && *p; p = *dot ? dot + 1 : dot) {
        dot = strchr(p, '.');

        if (dot == NULL) {
            dot = p + strlen(p);
        }

        n = (size_t) (dot - p);

        if (n >= sizeof(name)) {
            return NULL;
        }

        memcpy(name, p, n);
        name[n] = '\0';

        if (cJSON_IsArray(v)) {
            v = cJSON_GetArrayItem(v, atoi(name));

        } else {
            v = cJSON_GetObjectItemCaseSensitive(v, name);
        }
    }

    return v;
}


/* the string at path, or NULL */
static inline const char *
jstr(const cJSON *v, const char *path)
{
    v = jget(v, path);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}


/* the number at path, or -12345 */
static inline double
jnum(const cJSON *v, const char *path)
{
    v = jget(v, path);

    return cJSON_IsNumber(v) ? v->valuedouble : -12345;
}


static inline int
jhas(const cJSON *v, const char *path)
{
    return jget(v, path) != NULL;
}


static inline int
jsize(const cJSON *v, const char *path)
{
    v = jget(v, path);

    return cJSON_IsArray(v) || cJSON_IsObject(v) ? cJSON_GetArraySize(v) : -1;
}


/* how many times needle occurs in hay[0..len) */
static inline int
count_of(const char *hay, size_t len, const char *needle)
{
    int          n;
    size_t       nl;
    const char  *p, *end;

    n = 0;
    nl = strlen(needle);
    end = hay + len;

    for (p = hay; p && (size_t) (end - p) >= nl; p++) {
        p = tap_memmem(p, end - p, needle);

        if (p == NULL) {
            break;
        }

        n++;
    }

    return n;
}


/* a request that must be accepted (its error shown if not) */
static inline int
accepted(const char *name, ngx_http_moa_request_t *req, const char *body)
{
    ngx_http_moa_error_t  err;

    memset(&err, 0, sizeof(err));

    if (!ok(ngx_http_moa_request_parse(req, body, strlen(body), &err) == 0,
            "%s: accepted", name))
    {
        diag("    %s", err.message);
        return 0;
    }

    return 1;
}


/* a body flattens to expected[0..n), its length counted right */
static inline int
flat_is(const ngx_http_moa_body_t *b, const char *expected, size_t n)
{
    int                 rc;
    ngx_http_moa_buf_t  out;

    memset(&out, 0, sizeof(out));

    ngx_http_moa_body_flat(b, &out);

    rc = !out.nomem && out.len == n && b->len == n
         && (n == 0 || memcmp(out.data, expected, n) == 0);

    if (!rc) {
        diag("    flat '%.*s' (%zu bytes, len %zu)", (int) out.len,
             out.data ? out.data : "", out.len, b->len);
    }

    ngx_http_moa_buf_free(&out);

    return rc;
}


/* no two parts in a row are contiguous: they would have been merged */
static inline int
merged(const ngx_http_moa_body_t *b)
{
    size_t  i;

    for (i = 0; i + 1 < b->nparts; i++) {
        if (b->parts[i].len == 0
            || b->parts[i].p + b->parts[i].len == b->parts[i + 1].p)
        {
            return 0;
        }
    }

    return b->nparts == 0 || b->parts[b->nparts - 1].len > 0;
}


/* the one choice of a reply made around a message (freed by one_free) */
typedef struct {
    ngx_http_moa_buf_t      text;
    ngx_http_moa_reply_t    rep;
} one_t;


static inline const ngx_http_moa_choice_t *
one(one_t *o, const char *message)
{
    ngx_http_moa_error_t  err;

    memset(o, 0, sizeof(one_t));

    ngx_http_moa_buf_lit(&o->text, "{\"choices\":[{\"message\":");
    ngx_http_moa_buf_cstr(&o->text, message);
    ngx_http_moa_buf_lit(&o->text, "}]}");

    if (ngx_http_moa_reply_parse(&o->rep, o->text.data, o->text.len, &err)
        != 0)
    {
        return NULL;
    }

    return &o->rep.choices[0];
}


static inline void
one_free(one_t *o)
{
    ngx_http_moa_reply_free(&o->rep);
    ngx_http_moa_buf_free(&o->text);
}


#endif /* _UTIL_H_INCLUDED_ */
