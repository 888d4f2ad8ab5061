
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the Chat Completions parameters the module knows, each
 * checked for type and range on the tokens the request's parse made (no
 * tree, no allocation), with OpenAI's error codes and parameter names.
 */


#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_moa_params.h"


#define NGX_HTTP_MOA_PARAMS_PATH       64
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


static int ngx_http_moa_params_messages(const ngx_http_moa_json_t *j, int i,
    const char *name, ngx_http_moa_error_t *err);
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
    ngx_http_moa_params_custom("messages", ngx_http_moa_params_messages),
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
    ngx_http_moa_params_kind("function_call", NGX_HTTP_MOA_PARAMS_ANY)
};


#define NGX_HTTP_MOA_PARAMS_N                                                \
    (sizeof(ngx_http_moa_params) / sizeof(ngx_http_moa_params[0]))


/*
 * A parameter's name, cut at NGX_HTTP_MOA_PARAMS_PATH bytes; on the silent
 * pass (err NULL) names are never read, so none is made.
 */
static void NGX_HTTP_MOA_PRINTF(3, 4)
ngx_http_moa_params_path(ngx_http_moa_error_t *err, char *buf,
    const char *fmt, ...)
{
    va_list  args;

    if (err == NULL) {
        return;
    }

    va_start(args, fmt);
    vsnprintf(buf, NGX_HTTP_MOA_PARAMS_PATH, fmt, args);
    va_end(args);
}


/* an error naming param, which is copied into err (it may be a local) */
static int NGX_HTTP_MOA_PRINTF(4, 5)
ngx_http_moa_params_fail(ngx_http_moa_error_t *err, const char *code,
    const char *param, const char *fmt, ...)
{
    va_list  args;

    if (err == NULL) {
        return -1;
    }

    ngx_http_moa_params_path(err, err->buf[2], "%s", param);

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
ngx_http_moa_params_type_name(int type)
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


static int
ngx_http_moa_params_bad_type(const ngx_http_moa_json_t *j, int i,
    const char *name, const char *expected, ngx_http_moa_error_t *err)
{
    return ngx_http_moa_params_fail(err, "invalid_type", name,
                                    "Invalid type for '%s': expected %s, "
                                    "but got %s instead.", name, expected,
                                    ngx_http_moa_params_type_name(
                                        j->tok[i].type));
}


static int
ngx_http_moa_params_missing(const char *name, ngx_http_moa_error_t *err)
{
    return ngx_http_moa_params_fail(err, "missing_required_parameter", name,
                                    "Missing required parameter: '%s'.",
                                    name);
}


/* a string token equals a plain ASCII text, escapes decoded if any */
static int
ngx_http_moa_params_is(const ngx_http_moa_json_t *j, int i, const char *text)
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
static size_t
ngx_http_moa_params_chars(const ngx_http_moa_json_t *j, int i)
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
static int
ngx_http_moa_params_name(const ngx_http_moa_json_t *j, int i,
    const char *name, ngx_http_moa_error_t *err)
{
    size_t       k, len;
    const char  *p;

    if (j->tok[i].type != '"') {
        return ngx_http_moa_params_bad_type(j, i, name, "a string", err);
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
        return ngx_http_moa_params_fail(err, "invalid_value", name,
                                        "Invalid '%s': string does not "
                                        "match pattern. Expected a string "
                                        "that matches the pattern "
                                        "'^[a-zA-Z0-9_-]{1,64}$'.", name);
    }

    return 0;
}


/* a string among values; the message lists them as OpenAI does */
static int
ngx_http_moa_params_one_of(const ngx_http_moa_json_t *j, int i,
    const char *name, const char **values, ngx_http_moa_error_t *err)
{
    char          list[160];
    size_t        len;
    const char  **v;

    if (j->tok[i].type != '"') {
        return ngx_http_moa_params_bad_type(j, i, name, "a string", err);
    }

    for (v = values; *v; v++) {
        if (ngx_http_moa_params_is(j, i, *v)) {
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

    return ngx_http_moa_params_fail(err, "invalid_value", name,
                                    "Invalid value for '%s': '%.*s'. "
                                    "Supported values are: %s.", name,
                                    (int) (j->tok[i].len < 66
                                           ? j->tok[i].len - 2 : 64),
                                    j->tok[i].p + 1, list);
}


/* a number within [min, max], an integer if asked */
static int
ngx_http_moa_params_number(const ngx_http_moa_json_t *j, int i,
    const char *name, int integer, double min, double max,
    ngx_http_moa_error_t *err)
{
    char         num[40];
    double       d;
    const char  *what;

    what = integer ? "integer" : "decimal";

    if (j->tok[i].type != '0') {
        return ngx_http_moa_params_bad_type(j, i, name,
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
        return ngx_http_moa_params_fail(err, "invalid_type", name,
                                        "Invalid type for '%s': expected "
                                        "an integer, but got a decimal "
                                        "instead.", name);
    }

    if (d < min) {
        return ngx_http_moa_params_fail(err, integer
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
        return ngx_http_moa_params_fail(err, integer
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
static int
ngx_http_moa_params_member(const ngx_http_moa_json_t *j, int obj,
    const char *key, int type, const char *base, int required,
    ngx_http_moa_error_t *err, int *at)
{
    int    i, t;
    char   name[NGX_HTTP_MOA_PARAMS_PATH];

    i = ngx_http_moa_json_find(j, obj, key);
    *at = i;

    ngx_http_moa_params_path(err, name, "%s.%s", base, key);

    if (i < 0 || j->tok[i].type == 'n') {
        *at = -1;
        return required ? ngx_http_moa_params_missing(name, err) : 0;
    }

    t = j->tok[i].type;

    if (type == 't' ? (t != 't' && t != 'f') : t != type) {
        return ngx_http_moa_params_bad_type(j, i, name,
                                            ngx_http_moa_params_type_name(
                                                type), err);
    }

    return 0;
}


static const char  *ngx_http_moa_params_part_types[] = {
    "text", "image_url", "input_audio", "file", "refusal", NULL
};


/* one content part of message base: {"type":..., <type>: ...} */
static int
ngx_http_moa_params_part(const ngx_http_moa_json_t *j, int i,
    const char *base, ngx_http_moa_error_t *err)
{
    int   t, v;
    char  name[NGX_HTTP_MOA_PARAMS_PATH];

    if (j->tok[i].type != '{') {
        return ngx_http_moa_params_bad_type(j, i, base, "an object", err);
    }

    if (ngx_http_moa_params_member(j, i, "type", '"', base, 1, err, &t)
        != 0)
    {
        return -1;
    }

    ngx_http_moa_params_path(err, name, "%s.type", base);

    if (ngx_http_moa_params_one_of(j, t, name, ngx_http_moa_params_part_types,
                                   err)
        != 0)
    {
        return -1;
    }

    if (ngx_http_moa_params_is(j, t, "text")) {
        return ngx_http_moa_params_member(j, i, "text", '"', base, 1, err,
                                          &v);
    }

    if (ngx_http_moa_params_is(j, t, "refusal")) {
        return ngx_http_moa_params_member(j, i, "refusal", '"', base, 1, err,
                                          &v);
    }

    if (ngx_http_moa_params_is(j, t, "image_url")) {
        if (ngx_http_moa_params_member(j, i, "image_url", '{', base, 1, err,
                                       &v)
            != 0)
        {
            return -1;
        }

        ngx_http_moa_params_path(err, name, "%s.image_url", base);

        return ngx_http_moa_params_member(j, v, "url", '"', name, 1, err, &v);
    }

    if (ngx_http_moa_params_is(j, t, "input_audio")) {
        return ngx_http_moa_params_member(j, i, "input_audio", '{', base, 1,
                                          err, &v);
    }

    return ngx_http_moa_params_member(j, i, "file", '{', base, 1, err, &v);
}


/* a message's content: a string, an array of parts, or null (assistant) */
static int
ngx_http_moa_params_content(const ngx_http_moa_json_t *j, int msg,
    const char *base, int assistant, ngx_http_moa_error_t *err)
{
    int   i, p, k;
    char  name[NGX_HTTP_MOA_PARAMS_PATH];

    i = ngx_http_moa_json_find(j, msg, "content");

    ngx_http_moa_params_path(err, name, "%s.content", base);

    if (i < 0 || j->tok[i].type == 'n') {
        /* an assistant's turn may be tool calls alone */
        return assistant ? 0 : ngx_http_moa_params_missing(name, err);
    }

    if (j->tok[i].type == '"') {
        return 0;
    }

    if (j->tok[i].type != '[') {
        return ngx_http_moa_params_bad_type(j, i, name,
                                            "one of a string or array of "
                                            "objects", err);
    }

    if (ngx_http_moa_json_first(j, i) < 0 && !assistant) {
        return ngx_http_moa_params_fail(err, "empty_array", name,
                                        "Invalid '%s': empty array. "
                                        "Expected an array with minimum "
                                        "length 1, but got an empty array "
                                        "instead.", name);
    }

    k = 0;

    for (p = ngx_http_moa_json_first(j, i); p >= 0;
         p = ngx_http_moa_json_after(j, i, p), k++)
    {
        ngx_http_moa_params_path(err, name, "%s.content[%d]", base, k);

        if (ngx_http_moa_params_part(j, p, name, err) != 0) {
            return -1;
        }
    }

    return 0;
}


/* an assistant's tool_calls: [{"id","type":"function","function":{...}}] */
static int
ngx_http_moa_params_tool_calls(const ngx_http_moa_json_t *j, int msg,
    const char *base, ngx_http_moa_error_t *err)
{
    int   i, c, k, t, f;
    char  name[NGX_HTTP_MOA_PARAMS_PATH];

    if (ngx_http_moa_params_member(j, msg, "tool_calls", '[', base, 0, err,
                                   &i)
        != 0)
    {
        return -1;
    }

    k = 0;

    for (c = ngx_http_moa_json_first(j, i); i >= 0 && c >= 0;
         c = ngx_http_moa_json_after(j, i, c), k++)
    {
        ngx_http_moa_params_path(err, name, "%s.tool_calls[%d]", base, k);

        if (j->tok[c].type != '{') {
            return ngx_http_moa_params_bad_type(j, c, name, "an object", err);
        }

        if (ngx_http_moa_params_member(j, c, "id", '"', name, 1, err, &t)
            != 0
            || ngx_http_moa_params_member(j, c, "type", '"', name, 1, err, &t)
               != 0
            || ngx_http_moa_params_member(j, c, "function", '{', name, 1, err,
                                          &f)
               != 0)
        {
            return -1;
        }

        if (!ngx_http_moa_params_is(j, t, "function")) {
            ngx_http_moa_params_path(err, name, "%s.tool_calls[%d].type",
                                     base, k);
            return ngx_http_moa_params_fail(err, "invalid_value", name,
                                            "Invalid value for '%s': "
                                            "expected 'function'.", name);
        }

        ngx_http_moa_params_path(err, name, "%s.tool_calls[%d].function",
                                 base, k);

        if (ngx_http_moa_params_member(j, f, "name", '"', name, 1, err, &t)
            != 0
            || ngx_http_moa_params_member(j, f, "arguments", '"', name, 1,
                                          err, &t)
               != 0)
        {
            return -1;
        }
    }

    return 0;
}


/*
 * Each message's content, parts, tool calls and tool_call_id; its role
 * (a known one) the request's parse checked already.
 */
static int
ngx_http_moa_params_messages(const ngx_http_moa_json_t *j, int i,
    const char *name, ngx_http_moa_error_t *err)
{
    int   m, k, role, assistant, tool, v;
    char  base[NGX_HTTP_MOA_PARAMS_PATH];

    if (j->tok[i].type != '[') {
        return ngx_http_moa_params_bad_type(j, i, name, "an array", err);
    }

    k = 0;

    for (m = ngx_http_moa_json_first(j, i); m >= 0;
         m = ngx_http_moa_json_after(j, i, m), k++)
    {
        ngx_http_moa_params_path(err, base, "%s[%d]", name, k);

        /* the parse checked the first "messages", not a duplicate key's */
        if (j->tok[m].type != '{') {
            return ngx_http_moa_params_bad_type(j, m, base, "an object", err);
        }

        role = ngx_http_moa_json_find(j, m, "role");
        assistant = ngx_http_moa_params_is(j, role, "assistant");
        tool = ngx_http_moa_params_is(j, role, "tool");

        if (ngx_http_moa_params_content(j, m, base, assistant, err) != 0
            || ngx_http_moa_params_member(j, m, "name", '"', base, 0, err, &v)
               != 0
            || ngx_http_moa_params_member(j, m, "tool_call_id", '"', base,
                                          tool, err, &v)
               != 0
            || (assistant
                && ngx_http_moa_params_tool_calls(j, m, base, err) != 0))
        {
            return -1;
        }
    }

    return 0;
}


/* {"include_usage": boolean, "include_obfuscation": boolean} */
static int
ngx_http_moa_params_stream_options(const ngx_http_moa_json_t *j, int i,
    const char *name, ngx_http_moa_error_t *err)
{
    int  v;

    if (j->tok[i].type != '{') {
        return ngx_http_moa_params_bad_type(j, i, name, "an object", err);
    }

    if (ngx_http_moa_params_member(j, i, "include_usage", 't', name, 0, err,
                                   &v)
        != 0
        || ngx_http_moa_params_member(j, i, "include_obfuscation", 't', name,
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
    char  elt[NGX_HTTP_MOA_PARAMS_PATH];

    if (j->tok[i].type == '"') {
        return 0;
    }

    if (j->tok[i].type != '[') {
        return ngx_http_moa_params_bad_type(j, i, name,
                                            "one of a string or array of "
                                            "strings", err);
    }

    k = 0;

    for (s = ngx_http_moa_json_first(j, i); s >= 0;
         s = ngx_http_moa_json_after(j, i, s), k++)
    {
        if (j->tok[s].type != '"') {
            ngx_http_moa_params_path(err, elt, "%s[%d]", name, k);
            return ngx_http_moa_params_bad_type(j, s, elt, "a string", err);
        }
    }

    if (k > NGX_HTTP_MOA_PARAMS_MAX_STOP) {
        return ngx_http_moa_params_fail(err, "array_above_max_length", name,
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
    char  base[NGX_HTTP_MOA_PARAMS_PATH], sub[NGX_HTTP_MOA_PARAMS_PATH];

    if (j->tok[i].type != '[') {
        return ngx_http_moa_params_bad_type(j, i, name, "an array", err);
    }

    k = 0;

    for (t = ngx_http_moa_json_first(j, i); t >= 0;
         t = ngx_http_moa_json_after(j, i, t), k++)
    {
        ngx_http_moa_params_path(err, base, "%s[%d]", name, k);

        if (j->tok[t].type != '{') {
            return ngx_http_moa_params_bad_type(j, t, base, "an object", err);
        }

        if (ngx_http_moa_params_member(j, t, "type", '"', base, 1, err, &type)
            != 0)
        {
            return -1;
        }

        if (ngx_http_moa_params_is(j, type, "custom")) {
            if (ngx_http_moa_params_member(j, t, "custom", '{', base, 1, err,
                                           &v)
                != 0)
            {
                return -1;
            }

            continue;
        }

        if (!ngx_http_moa_params_is(j, type, "function")) {
            ngx_http_moa_params_path(err, sub, "%s.type", base);
            return ngx_http_moa_params_fail(err, "invalid_value", sub,
                                            "Invalid value for '%s': "
                                            "expected 'function' or "
                                            "'custom'.", sub);
        }

        if (ngx_http_moa_params_member(j, t, "function", '{', base, 1, err,
                                       &f)
            != 0)
        {
            return -1;
        }

        ngx_http_moa_params_path(err, base, "%s[%d].function", name, k);

        if (ngx_http_moa_params_member(j, f, "name", '"', base, 1, err, &v)
            != 0)
        {
            return -1;
        }

        ngx_http_moa_params_path(err, sub, "%s.name", base);

        if (ngx_http_moa_params_name(j, v, sub, err) != 0
            || ngx_http_moa_params_member(j, f, "description", '"', base, 0,
                                          err, &v)
               != 0
            || ngx_http_moa_params_member(j, f, "parameters", '{', base, 0,
                                          err, &v)
               != 0
            || ngx_http_moa_params_member(j, f, "strict", 't', base, 0, err,
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
    char  sub[NGX_HTTP_MOA_PARAMS_PATH];

    if (j->tok[i].type == '"') {
        return ngx_http_moa_params_one_of(j, i, name,
                                          ngx_http_moa_params_choices, err);
    }

    if (j->tok[i].type != '{') {
        return ngx_http_moa_params_bad_type(j, i, name,
                                            "one of a string or object",
                                            err);
    }

    if (ngx_http_moa_params_member(j, i, "type", '"', name, 1, err, &t)
        != 0)
    {
        return -1;
    }

    /* the newer "allowed_tools" and "custom" choices: their shape only */
    if (ngx_http_moa_params_is(j, t, "allowed_tools")
        || ngx_http_moa_params_is(j, t, "custom"))
    {
        return 0;
    }

    if (!ngx_http_moa_params_is(j, t, "function")) {
        ngx_http_moa_params_path(err, sub, "%s.type", name);
        return ngx_http_moa_params_fail(err, "invalid_value", sub,
                                        "Invalid value for '%s': expected "
                                        "'function'.", sub);
    }

    if (ngx_http_moa_params_member(j, i, "function", '{', name, 1, err, &f)
        != 0)
    {
        return -1;
    }

    ngx_http_moa_params_path(err, sub, "%s.function", name);

    return ngx_http_moa_params_member(j, f, "name", '"', sub, 1, err, &t);
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
    char  sub[NGX_HTTP_MOA_PARAMS_PATH];

    if (j->tok[i].type != '{') {
        return ngx_http_moa_params_bad_type(j, i, name, "an object", err);
    }

    if (ngx_http_moa_params_member(j, i, "type", '"', name, 1, err, &t)
        != 0)
    {
        return -1;
    }

    ngx_http_moa_params_path(err, sub, "%s.type", name);

    if (ngx_http_moa_params_one_of(j, t, sub, ngx_http_moa_params_formats,
                                   err)
        != 0)
    {
        return -1;
    }

    if (!ngx_http_moa_params_is(j, t, "json_schema")) {
        return 0;
    }

    if (ngx_http_moa_params_member(j, i, "json_schema", '{', name, 1, err,
                                   &s)
        != 0)
    {
        return -1;
    }

    ngx_http_moa_params_path(err, sub, "%s.json_schema", name);

    if (ngx_http_moa_params_member(j, s, "name", '"', sub, 1, err, &v)
        != 0)
    {
        return -1;
    }

    ngx_http_moa_params_path(err, sub, "%s.json_schema.name", name);

    if (ngx_http_moa_params_name(j, v, sub, err) != 0) {
        return -1;
    }

    ngx_http_moa_params_path(err, sub, "%s.json_schema", name);

    if (ngx_http_moa_params_member(j, s, "description", '"', sub, 0, err, &v)
        != 0
        || ngx_http_moa_params_member(j, s, "schema", '{', sub, 0, err, &v)
           != 0
        || ngx_http_moa_params_member(j, s, "strict", 't', sub, 0, err, &v)
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
    char      sub[NGX_HTTP_MOA_PARAMS_PATH];

    if (j->tok[i].type != '{') {
        return ngx_http_moa_params_bad_type(j, i, name, "an object", err);
    }

    end = j->tok[i].next;
    n = 0;

    for (k = i + 1; k < end; k = j->tok[k + 1].next, n++) {
        len = ngx_http_moa_params_chars(j, k);

        ngx_http_moa_params_path(err, sub, "%s.%.*s", name,
                                 (int) (j->tok[k].len - 2 < 32
                                        ? j->tok[k].len - 2 : 32),
                                 j->tok[k].p + 1);

        if (len > NGX_HTTP_MOA_PARAMS_META_KEY) {
            return ngx_http_moa_params_fail(err, "string_above_max_length",
                                            name, "Invalid '%s': key too "
                                            "long. Expected a key with "
                                            "maximum length %d, but got a "
                                            "key with length %zu instead.",
                                            name,
                                            NGX_HTTP_MOA_PARAMS_META_KEY,
                                            len);
        }

        if (j->tok[k + 1].type != '"') {
            return ngx_http_moa_params_bad_type(j, k + 1, sub, "a string",
                                                err);
        }

        len = ngx_http_moa_params_chars(j, k + 1);

        if (len > NGX_HTTP_MOA_PARAMS_META_VALUE) {
            return ngx_http_moa_params_fail(err, "string_above_max_length",
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
        return ngx_http_moa_params_fail(err, "object_above_max_properties",
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
            return ngx_http_moa_params_bad_type(j, i, name, "a boolean",
                                                err);
        }

        return 0;

    case NGX_HTTP_MOA_PARAMS_STRING:
        if (j->tok[i].type != '"') {
            return ngx_http_moa_params_bad_type(j, i, name, "a string", err);
        }

        return 0;

    case NGX_HTTP_MOA_PARAMS_OBJECT:
        if (j->tok[i].type != '{') {
            return ngx_http_moa_params_bad_type(j, i, name, "an object",
                                                err);
        }

        return 0;

    case NGX_HTTP_MOA_PARAMS_ARRAY:
        if (j->tok[i].type != '[') {
            return ngx_http_moa_params_bad_type(j, i, name, "an array", err);
        }

        return 0;

    case NGX_HTTP_MOA_PARAMS_DECIMAL:
    case NGX_HTTP_MOA_PARAMS_INTEGER:
        integer = (p->kind == NGX_HTTP_MOA_PARAMS_INTEGER);

        return ngx_http_moa_params_number(j, i, name, integer, p->min, p->max,
                                          err);

    case NGX_HTTP_MOA_PARAMS_ENUM:
        return ngx_http_moa_params_one_of(j, i, name, p->values, err);

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
    char                          name[NGX_HTTP_MOA_PARAMS_PATH];
    uint32_t                      k, end;
    const ngx_http_moa_params_t  *p;

    end = j->tok[obj].next;

    for (k = obj + 1; k < end; k = j->tok[k + 1].next) {
        p = ngx_http_moa_params_find(j->tok[k].p + 1, j->tok[k].len - 2,
                                     j->tok[k].escaped);

        if (p == NULL) {
            if (unknown == NGX_HTTP_MOA_PARAMS_REJECT) {
                ngx_http_moa_params_path(err, name, "%.*s",
                                         (int) (j->tok[k].len - 2),
                                         j->tok[k].p + 1);

                return ngx_http_moa_params_fail(err, "unknown_parameter",
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
