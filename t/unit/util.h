
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * JSON helpers for the unit tests: parse a produced body and assert it is
 * valid for both the module's scanner and cJSON, and look fields up by a
 * dotted path ("messages.1.content", "choices.0.delta.tool_calls").
 */


#ifndef _UTIL_H_INCLUDED_
#define _UTIL_H_INCLUDED_


#include <cjson/cJSON.h>

#include "tap.h"
#include "ngx_http_moa_json.h"


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


#endif /* _UTIL_H_INCLUDED_ */
