
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: checks of one JSON field of a request on its tokens (type,
 * range, pattern, one of some values), and the OpenAI error naming it.
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_moa_field.h"
#include "ngx_http_moa_json_find.h"


/*
 * A parameter's name, cut at NGX_HTTP_MOA_FIELD_PATH bytes; on the silent
 * pass (err NULL) names are never read, so none is made.
 */
void
ngx_http_moa_field_path(ngx_http_moa_error_t *err, char *buf,
    const char *fmt, ...)
{
    va_list  args;

    if (err == NULL) {
        return;
    }

    va_start(args, fmt);
    vsnprintf(buf, NGX_HTTP_MOA_FIELD_PATH, fmt, args);
    va_end(args);
}


/* an error naming param, which is copied into err (it may be a local) */
int
ngx_http_moa_field_fail(ngx_http_moa_error_t *err, const char *code,
    const char *param, const char *fmt, ...)
{
    va_list  args;

    if (err == NULL) {
        return -1;
    }

    ngx_http_moa_field_path(err, err->buf[2], "%s", param);

    err->status = 400;
    err->type = "invalid_request_error";
    err->code = code;
    err->param = err->buf[2];

    va_start(args, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, args);
    va_end(args);

    return -1;
}


static const char *
ngx_http_moa_field_type_name(int type)
{
    switch (type) {
    case '{':
        return "an object";
    case '[':
        return "an array";
    case '"':
        return "a string";
    case 't':
    case 'f':
        return "a boolean";
    case '0':
        return "a number";
    default:
        return "null";
    }
}


int
ngx_http_moa_field_bad_type(const ngx_http_moa_json_t *j, int i,
    const char *name, const char *expected, ngx_http_moa_error_t *err)
{
    return ngx_http_moa_field_fail(err, "invalid_type", name,
                                   "Invalid type for '%s': expected %s, "
                                   "but got %s instead.", name, expected,
                                   ngx_http_moa_field_type_name(
                                        j->tok[i].type));
}


int
ngx_http_moa_field_missing(const char *name, ngx_http_moa_error_t *err)
{
    return ngx_http_moa_field_fail(err, "missing_required_parameter", name,
                                   "Missing required parameter: '%s'.",
                                   name);
}


/* a string token equals a plain ASCII text, escapes decoded if any */
int
ngx_http_moa_field_is(const ngx_http_moa_json_t *j, int i, const char *text)
{
    ngx_http_moa_json_member_t  m;

    if (i < 0 || j->tok[i].type != '"') {
        return 0;
    }

    if (!j->tok[i].escaped) {
        return j->tok[i].len - 2 == strlen(text)
               && memcmp(j->tok[i].p + 1, text, j->tok[i].len - 2) == 0;
    }

    m.key = j->tok[i].p + 1;
    m.key_len = j->tok[i].len - 2;
    m.escaped = 1;

    return ngx_http_moa_json_key_is(&m, text);
}


/* the characters of a string token: escapes and UTF-8 sequences count 1 */
size_t
ngx_http_moa_field_chars(const ngx_http_moa_json_t *j, int i)
{
    size_t       n;
    const char  *p, *end;

    n = 0;
    p = j->tok[i].p + 1;
    end = j->tok[i].p + j->tok[i].len - 1;

    while (p < end) {
        if (*p == '\\') {
            p += (p[1] == 'u') ? 6 : 2;

        } else {
            p++;

            while (p < end && ((unsigned char) *p & 0xc0) == 0x80) {
                p++;
            }
        }

        n++;
    }

    return n;
}


/* ^[a-zA-Z0-9_-]{1,64}$, on the raw text (an escape never matches) */
int
ngx_http_moa_field_name(const ngx_http_moa_json_t *j, int i,
    const char *name, ngx_http_moa_error_t *err)
{
    size_t       k, len;
    const char  *p;

    if (j->tok[i].type != '"') {
        return ngx_http_moa_field_bad_type(j, i, name, "a string", err);
    }

    p = j->tok[i].p + 1;
    len = j->tok[i].len - 2;

    for (k = 0; k < len; k++) {
        if (!((p[k] >= 'a' && p[k] <= 'z') || (p[k] >= 'A' && p[k] <= 'Z')
              || (p[k] >= '0' && p[k] <= '9') || p[k] == '_' || p[k] == '-'))
        {
            break;
        }
    }

    if (len == 0 || len > 64 || k < len) {
        return ngx_http_moa_field_fail(err, "invalid_value", name,
                                       "Invalid '%s': string does not "
                                       "match pattern. Expected a string "
                                       "that matches the pattern "
                                       "'^[a-zA-Z0-9_-]{1,64}$'.", name);
    }

    return 0;
}


/* a string among values; the message lists them as OpenAI does */
int
ngx_http_moa_field_one_of(const ngx_http_moa_json_t *j, int i,
    const char *name, const char **values, ngx_http_moa_error_t *err)
{
    char          list[160];
    size_t        len;
    const char  **v;

    if (j->tok[i].type != '"') {
        return ngx_http_moa_field_bad_type(j, i, name, "a string", err);
    }

    for (v = values; *v; v++) {
        if (ngx_http_moa_field_is(j, i, *v)) {
            return 0;
        }
    }

    if (err == NULL) {
        return -1;
    }

    len = 0;
    list[0] = '\0';

    for (v = values; *v && len < sizeof(list); v++) {
        len += snprintf(list + len, sizeof(list) - len, "%s'%s'",
                        v == values ? "" : (v[1] ? ", " : ", and "), *v);
    }

    return ngx_http_moa_field_fail(err, "invalid_value", name,
                                   "Invalid value for '%s': '%.*s'. "
                                   "Supported values are: %s.", name,
                                   (int) (j->tok[i].len < 66
                                           ? j->tok[i].len - 2 : 64),
                                   j->tok[i].p + 1, list);
}


/* a number within [min, max], an integer if asked */
int
ngx_http_moa_field_number(const ngx_http_moa_json_t *j, int i,
    const char *name, int integer, double min, double max,
    ngx_http_moa_error_t *err)
{
    char         num[40];
    double       d;
    const char  *what;

    what = integer ? "integer" : "decimal";

    if (j->tok[i].type != '0') {
        return ngx_http_moa_field_bad_type(j, i, name,
                                           integer ? "an integer"
                                                    : "a decimal", err);
    }

    if (j->tok[i].len >= sizeof(num)) {
        d = (j->tok[i].p[0] == '-') ? -1e300 : 1e300;

    } else {
        memcpy(num, j->tok[i].p, j->tok[i].len);
        num[j->tok[i].len] = '\0';
        d = strtod(num, NULL);
    }

    /* range first: casting a double out of range is undefined */
    if (integer && d >= -1e18 && d <= 1e18 && d != (double) (long long) d) {
        return ngx_http_moa_field_fail(err, "invalid_type", name,
                                       "Invalid type for '%s': expected "
                                       "an integer, but got a decimal "
                                       "instead.", name);
    }

    if (d < min) {
        return ngx_http_moa_field_fail(err, integer
                                       ? "integer_below_min_value"
                                       : "decimal_below_min_value", name,
                                       "Invalid '%s': %s below minimum "
                                       "value. Expected a value >= %g, but "
                                       "got %.*s instead.", name, what, min,
                                       (int) (j->tok[i].len < 32
                                               ? j->tok[i].len : 32),
                                       j->tok[i].p);
    }

    if (d > max) {
        return ngx_http_moa_field_fail(err, integer
                                       ? "integer_above_max_value"
                                       : "decimal_above_max_value", name,
                                       "Invalid '%s': %s above maximum "
                                       "value. Expected a value <= %g, but "
                                       "got %.*s instead.", name, what, max,
                                       (int) (j->tok[i].len < 32
                                               ? j->tok[i].len : 32),
                                       j->tok[i].p);
    }

    return 0;
}


/* an optional member of object token obj of one JSON type; its token */
int
ngx_http_moa_field_member(const ngx_http_moa_json_t *j, int obj,
    const char *key, int type, const char *base, int required,
    ngx_http_moa_error_t *err, int *at)
{
    int    i, t;
    char   name[NGX_HTTP_MOA_FIELD_PATH];

    i = ngx_http_moa_json_find(j, obj, key);
    *at = i;

    ngx_http_moa_field_path(err, name, "%s.%s", base, key);

    if (i < 0 || j->tok[i].type == 'n') {
        *at = -1;
        return required ? ngx_http_moa_field_missing(name, err) : 0;
    }

    t = j->tok[i].type;

    if (type == 't' ? (t != 't' && t != 'f') : t != type) {
        return ngx_http_moa_field_bad_type(j, i, name,
                                           ngx_http_moa_field_type_name(
                                                type), err);
    }

    return 0;
}
