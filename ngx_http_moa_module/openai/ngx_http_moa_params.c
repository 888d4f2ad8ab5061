
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the Chat Completions parameters the module knows, each
 * checked for type and range on the tokens the request's parse made (no
 * tree, no allocation), with OpenAI's error codes and parameter names.
 */


#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_moa_field.h"
#include "ngx_http_moa_messages.h"
#include "ngx_http_moa_params.h"
#include "ngx_http_moa_json_find.h"


#define NGX_HTTP_MOA_PARAMS_MAX_STOP   4
#define NGX_HTTP_MOA_PARAMS_META_KEYS  16
#define NGX_HTTP_MOA_PARAMS_META_KEY   64
#define NGX_HTTP_MOA_PARAMS_META_VALUE 512


typedef int (*ngx_http_moa_params_check_pt)(const ngx_http_moa_json_t *j,
    int i, const char *name, ngx_http_moa_error_t *err);


enum {
    NGX_HTTP_MOA_PARAMS_ANY = 0,       /* checked by the request's parse */
    NGX_HTTP_MOA_PARAMS_BOOL,
    NGX_HTTP_MOA_PARAMS_STRING,
    NGX_HTTP_MOA_PARAMS_OBJECT,
    NGX_HTTP_MOA_PARAMS_ARRAY,
    NGX_HTTP_MOA_PARAMS_DECIMAL,
    NGX_HTTP_MOA_PARAMS_INTEGER,
    NGX_HTTP_MOA_PARAMS_ENUM,
    NGX_HTTP_MOA_PARAMS_CUSTOM
};


typedef struct {
    ngx_http_moa_json_key_t        key;
    int                            kind;
    double                         min;
    double                         max;
    const char                   **values;    /* ENUM */
    ngx_http_moa_params_check_pt   check;     /* CUSTOM */
} ngx_http_moa_params_t;


static int ngx_http_moa_params_stream_options(const ngx_http_moa_json_t *j,
    int i, const char *name, ngx_http_moa_error_t *err);
static int ngx_http_moa_params_stop(const ngx_http_moa_json_t *j, int i,
    const char *name, ngx_http_moa_error_t *err);
static int ngx_http_moa_params_tools(const ngx_http_moa_json_t *j, int i,
    const char *name, ngx_http_moa_error_t *err);
static int ngx_http_moa_params_tool_choice(const ngx_http_moa_json_t *j,
    int i, const char *name, ngx_http_moa_error_t *err);
static int ngx_http_moa_params_response_format(const ngx_http_moa_json_t *j,
    int i, const char *name, ngx_http_moa_error_t *err);
static int ngx_http_moa_params_metadata(const ngx_http_moa_json_t *j, int i,
    const char *name, ngx_http_moa_error_t *err);


static const char  *ngx_http_moa_params_efforts[] = {
    "none", "minimal", "low", "medium", "high", "xhigh", NULL
};

static const char  *ngx_http_moa_params_verbosities[] = {
    "low", "medium", "high", NULL
};


#define ngx_http_moa_params_kind(k, kind)                                    \
    { ngx_http_moa_json_key(k), kind, 0, 0, NULL, NULL }
#define ngx_http_moa_params_range(k, kind, lo, hi)                           \
    { ngx_http_moa_json_key(k), kind, lo, hi, NULL, NULL }
#define ngx_http_moa_params_enum(k, v)                                       \
    { ngx_http_moa_json_key(k), NGX_HTTP_MOA_PARAMS_ENUM, 0, 0, v, NULL }
#define ngx_http_moa_params_custom(k, f)                                     \
    { ngx_http_moa_json_key(k), NGX_HTTP_MOA_PARAMS_CUSTOM, 0, 0, NULL, f }


/* every top-level parameter the module knows, as OpenAI documents it */
static const ngx_http_moa_params_t  ngx_http_moa_params[] = {
    ngx_http_moa_params_kind("model", NGX_HTTP_MOA_PARAMS_ANY),
    ngx_http_moa_params_custom("messages", ngx_http_moa_messages_check),
    ngx_http_moa_params_kind("stream", NGX_HTTP_MOA_PARAMS_BOOL),
    ngx_http_moa_params_custom("stream_options",
                               ngx_http_moa_params_stream_options),
    ngx_http_moa_params_kind("n", NGX_HTTP_MOA_PARAMS_ANY),
    ngx_http_moa_params_range("temperature", NGX_HTTP_MOA_PARAMS_DECIMAL,
                              0, 2),
    ngx_http_moa_params_range("top_p", NGX_HTTP_MOA_PARAMS_DECIMAL, 0, 1),
    ngx_http_moa_params_range("max_tokens", NGX_HTTP_MOA_PARAMS_INTEGER,
                              1, INT_MAX),
    ngx_http_moa_params_range("max_completion_tokens",
                              NGX_HTTP_MOA_PARAMS_INTEGER, 1, INT_MAX),
    ngx_http_moa_params_range("presence_penalty",
                              NGX_HTTP_MOA_PARAMS_DECIMAL, -2, 2),
    ngx_http_moa_params_range("frequency_penalty",
                              NGX_HTTP_MOA_PARAMS_DECIMAL, -2, 2),
    ngx_http_moa_params_custom("stop", ngx_http_moa_params_stop),
    ngx_http_moa_params_custom("tools", ngx_http_moa_params_tools),
    ngx_http_moa_params_custom("tool_choice",
                               ngx_http_moa_params_tool_choice),
    ngx_http_moa_params_kind("parallel_tool_calls", NGX_HTTP_MOA_PARAMS_BOOL),
    ngx_http_moa_params_custom("response_format",
                               ngx_http_moa_params_response_format),
    ngx_http_moa_params_kind("logprobs", NGX_HTTP_MOA_PARAMS_BOOL),
    ngx_http_moa_params_range("top_logprobs", NGX_HTTP_MOA_PARAMS_INTEGER,
                              0, 20),
    ngx_http_moa_params_kind("seed", NGX_HTTP_MOA_PARAMS_ANY),
    ngx_http_moa_params_kind("user", NGX_HTTP_MOA_PARAMS_STRING),
    ngx_http_moa_params_custom("metadata", ngx_http_moa_params_metadata),
    ngx_http_moa_params_enum("reasoning_effort", ngx_http_moa_params_efforts),
    ngx_http_moa_params_enum("verbosity", ngx_http_moa_params_verbosities),
    ngx_http_moa_params_kind("modalities", NGX_HTTP_MOA_PARAMS_ARRAY),
    ngx_http_moa_params_kind("prediction", NGX_HTTP_MOA_PARAMS_OBJECT),
    ngx_http_moa_params_kind("service_tier", NGX_HTTP_MOA_PARAMS_STRING),
    ngx_http_moa_params_kind("store", NGX_HTTP_MOA_PARAMS_BOOL),
    ngx_http_moa_params_kind("audio", NGX_HTTP_MOA_PARAMS_OBJECT),
    ngx_http_moa_params_kind("web_search_options",
                             NGX_HTTP_MOA_PARAMS_OBJECT),
    ngx_http_moa_params_kind("logit_bias", NGX_HTTP_MOA_PARAMS_OBJECT),
    ngx_http_moa_params_kind("safety_identifier", NGX_HTTP_MOA_PARAMS_STRING),
    ngx_http_moa_params_kind("prompt_cache_key", NGX_HTTP_MOA_PARAMS_STRING),
    ngx_http_moa_params_kind("prompt_cache_retention",
                             NGX_HTTP_MOA_PARAMS_STRING),
    ngx_http_moa_params_kind("functions", NGX_HTTP_MOA_PARAMS_ARRAY),
    ngx_http_moa_params_kind("function_call", NGX_HTTP_MOA_PARAMS_ANY),
    /* the gateway's own: the request's recipe (ngx_http_moa_recipe.c) */
    ngx_http_moa_params_kind("moa", NGX_HTTP_MOA_PARAMS_OBJECT)
};


#define NGX_HTTP_MOA_PARAMS_N                                                \
    (sizeof(ngx_http_moa_params) / sizeof(ngx_http_moa_params[0]))



/* {"include_usage": boolean, "include_obfuscation": boolean} */
static int
ngx_http_moa_params_stream_options(const ngx_http_moa_json_t *j, int i,
    const char *name, ngx_http_moa_error_t *err)
{
    int  v;

    if (j->tok[i].type != '{') {
        return ngx_http_moa_field_bad_type(j, i, name, "an object", err);
    }

    if (ngx_http_moa_field_member(j, i, "include_usage", 't', name, 0, err,
                                  &v)
        != 0
        || ngx_http_moa_field_member(j, i, "include_obfuscation", 't', name,
                                     0, err, &v)
           != 0)
    {
        return -1;
    }

    return 0;
}


/* a string, or an array of at most 4 strings */
static int
ngx_http_moa_params_stop(const ngx_http_moa_json_t *j, int i,
    const char *name, ngx_http_moa_error_t *err)
{
    int   s, k;
    char  elt[NGX_HTTP_MOA_FIELD_PATH];

    if (j->tok[i].type == '"') {
        return 0;
    }

    if (j->tok[i].type != '[') {
        return ngx_http_moa_field_bad_type(j, i, name,
                                           "one of a string or array of "
                                           "strings", err);
    }

    k = 0;

    for (s = ngx_http_moa_json_first(j, i); s >= 0;
         s = ngx_http_moa_json_after(j, i, s), k++)
    {
        if (j->tok[s].type != '"') {
            ngx_http_moa_field_path(err, elt, "%s[%d]", name, k);
            return ngx_http_moa_field_bad_type(j, s, elt, "a string", err);
        }
    }

    if (k > NGX_HTTP_MOA_PARAMS_MAX_STOP) {
        return ngx_http_moa_field_fail(err, "array_above_max_length", name,
                                       "Invalid '%s': array too long. "
                                       "Expected an array with maximum "
                                       "length %d, but got an array with "
                                       "length %d instead.", name,
                                       NGX_HTTP_MOA_PARAMS_MAX_STOP, k);
    }

    return 0;
}


/* [{"type":"function","function":{"name","description","parameters",
 *   "strict"}}]; a "custom" tool is checked for its object only */
static int
ngx_http_moa_params_tools(const ngx_http_moa_json_t *j, int i,
    const char *name, ngx_http_moa_error_t *err)
{
    int   t, k, type, f, v;
    char  base[NGX_HTTP_MOA_FIELD_PATH], sub[NGX_HTTP_MOA_FIELD_PATH];

    if (j->tok[i].type != '[') {
        return ngx_http_moa_field_bad_type(j, i, name, "an array", err);
    }

    k = 0;

    for (t = ngx_http_moa_json_first(j, i); t >= 0;
         t = ngx_http_moa_json_after(j, i, t), k++)
    {
        ngx_http_moa_field_path(err, base, "%s[%d]", name, k);

        if (j->tok[t].type != '{') {
            return ngx_http_moa_field_bad_type(j, t, base, "an object", err);
        }

        if (ngx_http_moa_field_member(j, t, "type", '"', base, 1, err, &type)
            != 0)
        {
            return -1;
        }

        if (ngx_http_moa_field_is(j, type, "custom")) {
            if (ngx_http_moa_field_member(j, t, "custom", '{', base, 1, err,
                                          &v)
                != 0)
            {
                return -1;
            }

            continue;
        }

        if (!ngx_http_moa_field_is(j, type, "function")) {
            ngx_http_moa_field_path(err, sub, "%s.type", base);
            return ngx_http_moa_field_fail(err, "invalid_value", sub,
                                           "Invalid value for '%s': "
                                           "expected 'function' or "
                                           "'custom'.", sub);
        }

        if (ngx_http_moa_field_member(j, t, "function", '{', base, 1, err,
                                      &f)
            != 0)
        {
            return -1;
        }

        ngx_http_moa_field_path(err, base, "%s[%d].function", name, k);

        if (ngx_http_moa_field_member(j, f, "name", '"', base, 1, err, &v)
            != 0)
        {
            return -1;
        }

        ngx_http_moa_field_path(err, sub, "%s.name", base);

        if (ngx_http_moa_field_name(j, v, sub, err) != 0
            || ngx_http_moa_field_member(j, f, "description", '"', base, 0,
                                         err, &v)
               != 0
            || ngx_http_moa_field_member(j, f, "parameters", '{', base, 0,
                                         err, &v)
               != 0
            || ngx_http_moa_field_member(j, f, "strict", 't', base, 0, err,
                                         &v)
               != 0)
        {
            return -1;
        }
    }

    return 0;
}


static const char  *ngx_http_moa_params_choices[] = {
    "none", "auto", "required", NULL
};


/* "none", "auto", "required", or {"type":"function","function":{"name"}} */
static int
ngx_http_moa_params_tool_choice(const ngx_http_moa_json_t *j, int i,
    const char *name, ngx_http_moa_error_t *err)
{
    int   t, f;
    char  sub[NGX_HTTP_MOA_FIELD_PATH];

    if (j->tok[i].type == '"') {
        return ngx_http_moa_field_one_of(j, i, name,
                                         ngx_http_moa_params_choices, err);
    }

    if (j->tok[i].type != '{') {
        return ngx_http_moa_field_bad_type(j, i, name,
                                           "one of a string or object",
                                           err);
    }

    if (ngx_http_moa_field_member(j, i, "type", '"', name, 1, err, &t)
        != 0)
    {
        return -1;
    }

    /* the newer "allowed_tools" and "custom" choices: their shape only */
    if (ngx_http_moa_field_is(j, t, "allowed_tools")
        || ngx_http_moa_field_is(j, t, "custom"))
    {
        return 0;
    }

    if (!ngx_http_moa_field_is(j, t, "function")) {
        ngx_http_moa_field_path(err, sub, "%s.type", name);
        return ngx_http_moa_field_fail(err, "invalid_value", sub,
                                       "Invalid value for '%s': expected "
                                       "'function'.", sub);
    }

    if (ngx_http_moa_field_member(j, i, "function", '{', name, 1, err, &f)
        != 0)
    {
        return -1;
    }

    ngx_http_moa_field_path(err, sub, "%s.function", name);

    return ngx_http_moa_field_member(j, f, "name", '"', sub, 1, err, &t);
}


static const char  *ngx_http_moa_params_formats[] = {
    "text", "json_object", "json_schema", NULL
};


/* {"type":"text"|"json_object"|"json_schema","json_schema":{...}} */
static int
ngx_http_moa_params_response_format(const ngx_http_moa_json_t *j, int i,
    const char *name, ngx_http_moa_error_t *err)
{
    int   t, s, v;
    char  sub[NGX_HTTP_MOA_FIELD_PATH];

    if (j->tok[i].type != '{') {
        return ngx_http_moa_field_bad_type(j, i, name, "an object", err);
    }

    if (ngx_http_moa_field_member(j, i, "type", '"', name, 1, err, &t)
        != 0)
    {
        return -1;
    }

    ngx_http_moa_field_path(err, sub, "%s.type", name);

    if (ngx_http_moa_field_one_of(j, t, sub, ngx_http_moa_params_formats,
                                  err)
        != 0)
    {
        return -1;
    }

    if (!ngx_http_moa_field_is(j, t, "json_schema")) {
        return 0;
    }

    if (ngx_http_moa_field_member(j, i, "json_schema", '{', name, 1, err,
                                  &s)
        != 0)
    {
        return -1;
    }

    ngx_http_moa_field_path(err, sub, "%s.json_schema", name);

    if (ngx_http_moa_field_member(j, s, "name", '"', sub, 1, err, &v)
        != 0)
    {
        return -1;
    }

    ngx_http_moa_field_path(err, sub, "%s.json_schema.name", name);

    if (ngx_http_moa_field_name(j, v, sub, err) != 0) {
        return -1;
    }

    ngx_http_moa_field_path(err, sub, "%s.json_schema", name);

    if (ngx_http_moa_field_member(j, s, "description", '"', sub, 0, err, &v)
        != 0
        || ngx_http_moa_field_member(j, s, "schema", '{', sub, 0, err, &v)
           != 0
        || ngx_http_moa_field_member(j, s, "strict", 't', sub, 0, err, &v)
           != 0)
    {
        return -1;
    }

    return 0;
}


/* at most 16 string values, keys up to 64 characters, values up to 512 */
static int
ngx_http_moa_params_metadata(const ngx_http_moa_json_t *j, int i,
    const char *name, ngx_http_moa_error_t *err)
{
    int       n;
    size_t    len;
    uint32_t  k, end;
    char      sub[NGX_HTTP_MOA_FIELD_PATH];

    if (j->tok[i].type != '{') {
        return ngx_http_moa_field_bad_type(j, i, name, "an object", err);
    }

    end = j->tok[i].next;
    n = 0;

    for (k = i + 1; k < end; k = j->tok[k + 1].next, n++) {
        len = ngx_http_moa_field_chars(j, k);

        ngx_http_moa_field_path(err, sub, "%s.%.*s", name,
                                (int) (j->tok[k].len - 2 < 32
                                        ? j->tok[k].len - 2 : 32),
                                j->tok[k].p + 1);

        if (len > NGX_HTTP_MOA_PARAMS_META_KEY) {
            return ngx_http_moa_field_fail(err, "string_above_max_length",
                                           name, "Invalid '%s': key too "
                                           "long. Expected a key with "
                                           "maximum length %d, but got a "
                                           "key with length %zu instead.",
                                           name,
                                           NGX_HTTP_MOA_PARAMS_META_KEY,
                                           len);
        }

        if (j->tok[k + 1].type != '"') {
            return ngx_http_moa_field_bad_type(j, k + 1, sub, "a string",
                                               err);
        }

        len = ngx_http_moa_field_chars(j, k + 1);

        if (len > NGX_HTTP_MOA_PARAMS_META_VALUE) {
            return ngx_http_moa_field_fail(err, "string_above_max_length",
                                           sub, "Invalid '%s': string too "
                                           "long. Expected a string with "
                                           "maximum length %d, but got a "
                                           "string with length %zu "
                                           "instead.", sub,
                                           NGX_HTTP_MOA_PARAMS_META_VALUE,
                                           len);
        }
    }

    if (n > NGX_HTTP_MOA_PARAMS_META_KEYS) {
        return ngx_http_moa_field_fail(err, "object_above_max_properties",
                                       name, "Invalid '%s': too many "
                                       "properties. Expected an object "
                                       "with at most %d properties, but "
                                       "got an object with %d properties "
                                       "instead.", name,
                                       NGX_HTTP_MOA_PARAMS_META_KEYS, n);
    }

    return 0;
}


static const ngx_http_moa_params_t *
ngx_http_moa_params_find(const char *key, size_t len, int escaped)
{
    size_t                      k;
    ngx_http_moa_json_member_t  m;

    m.key = key;
    m.key_len = len;
    m.escaped = escaped;

    for (k = 0; k < NGX_HTTP_MOA_PARAMS_N; k++) {
        if (escaped ? ngx_http_moa_json_key_is(&m, ngx_http_moa_params[k]
                                                    .key.name)
                    : (len == ngx_http_moa_params[k].key.len
                       && memcmp(key, ngx_http_moa_params[k].key.name, len)
                          == 0))
        {
            return &ngx_http_moa_params[k];
        }
    }

    return NULL;
}


int
ngx_http_moa_params_known(const char *key, size_t len, int escaped)
{
    return ngx_http_moa_params_find(key, len, escaped) != NULL;
}


/* one top-level parameter, its value token i */
static int
ngx_http_moa_params_value(const ngx_http_moa_json_t *j, int i,
    const ngx_http_moa_params_t *p, ngx_http_moa_error_t *err)
{
    int          integer;
    const char  *name;

    name = p->key.name;

    switch (p->kind) {

    case NGX_HTTP_MOA_PARAMS_BOOL:
        if (j->tok[i].type != 't' && j->tok[i].type != 'f') {
            return ngx_http_moa_field_bad_type(j, i, name, "a boolean",
                                               err);
        }

        return 0;

    case NGX_HTTP_MOA_PARAMS_STRING:
        if (j->tok[i].type != '"') {
            return ngx_http_moa_field_bad_type(j, i, name, "a string", err);
        }

        return 0;

    case NGX_HTTP_MOA_PARAMS_OBJECT:
        if (j->tok[i].type != '{') {
            return ngx_http_moa_field_bad_type(j, i, name, "an object",
                                               err);
        }

        return 0;

    case NGX_HTTP_MOA_PARAMS_ARRAY:
        if (j->tok[i].type != '[') {
            return ngx_http_moa_field_bad_type(j, i, name, "an array", err);
        }

        return 0;

    case NGX_HTTP_MOA_PARAMS_DECIMAL:
    case NGX_HTTP_MOA_PARAMS_INTEGER:
        integer = (p->kind == NGX_HTTP_MOA_PARAMS_INTEGER);

        return ngx_http_moa_field_number(j, i, name, integer, p->min, p->max,
                                         err);

    case NGX_HTTP_MOA_PARAMS_ENUM:
        return ngx_http_moa_field_one_of(j, i, name, p->values, err);

    case NGX_HTTP_MOA_PARAMS_CUSTOM:
        return p->check(j, i, name, err);

    default:
        return 0;
    }
}


/*
 * Every member of the request in document order: the first error is the
 * one answered.  null is taken for "not given", as OpenAI does.
 */
static int
ngx_http_moa_params_walk(const ngx_http_moa_json_t *j, int obj,
    int unknown, ngx_http_moa_error_t *err)
{
    char                          name[NGX_HTTP_MOA_FIELD_PATH];
    uint32_t                      k, end;
    const ngx_http_moa_params_t  *p;

    end = j->tok[obj].next;

    for (k = obj + 1; k < end; k = j->tok[k + 1].next) {
        p = ngx_http_moa_params_find(j->tok[k].p + 1, j->tok[k].len - 2,
                                     j->tok[k].escaped);

        if (p == NULL) {
            if (unknown == NGX_HTTP_MOA_PARAMS_REJECT) {
                ngx_http_moa_field_path(err, name, "%.*s",
                                        (int) (j->tok[k].len - 2),
                                        j->tok[k].p + 1);

                return ngx_http_moa_field_fail(err, "unknown_parameter",
                                               name, "Unrecognized request "
                                               "argument supplied: %s",
                                               name);
            }

            continue;
        }

        if (j->tok[k + 1].type == 'n') {
            continue;
        }

        if (ngx_http_moa_params_value(j, k + 1, p, err) != 0) {
            return -1;
        }
    }

    return 0;
}


/*
 * A valid request is walked once without naming anything (no formatting
 * on the accept path); a refused one again, to name the first error.
 */
int
ngx_http_moa_params_check(const ngx_http_moa_json_t *j, int obj,
    int unknown, ngx_http_moa_error_t *err)
{
    if (ngx_http_moa_params_walk(j, obj, unknown, NULL) == 0) {
        return 0;
    }

    (void) ngx_http_moa_params_walk(j, obj, unknown, err);

    return -1;
}
