
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the client's request, validated in one pass over its text
 * (as OpenAI answers invalid requests), and what the chain reads of it.
 */


#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_moa_request.h"
#include "ngx_http_moa_json_text.h"
#include "ngx_http_moa_params.h"
#include "ngx_http_moa_json_find.h"


#define NGX_HTTP_MOA_REQUEST_MAX_N     128


static const char  *ngx_http_moa_request_roles[] = {
    "system", "developer", "user", "assistant", "tool", "function", NULL
};


static int
ngx_http_moa_request_invalid_type(ngx_http_moa_error_t *err, const char *param,
    const char *expected)
{
    ngx_http_moa_error_set(err, 400, "invalid_request_error", "invalid_type",
                           param, "Invalid type for '%s': expected %s.",
                           param, expected);
    return -1;
}


/* a token as a NUL-terminated number, for strtod(); 0 or -1 */
static int
ngx_http_moa_request_number(const ngx_http_moa_json_t *j, int i, double *d)
{
    char  num[40];

    if (j->tok[i].type != '0' || j->tok[i].len >= sizeof(num)) {
        return -1;
    }

    memcpy(num, j->tok[i].p, j->tok[i].len);
    num[j->tok[i].len] = '\0';

    *d = strtod(num, NULL);

    return 0;
}


/* a string token equals a plain ASCII text, escapes decoded if any */
static int
ngx_http_moa_request_tok_is(const ngx_http_moa_json_t *j, int i,
    const char *text)
{
    ngx_http_moa_json_member_t  m;

    if (j->tok[i].type != '"') {
        return 0;
    }

    m.key = j->tok[i].p + 1;
    m.key_len = j->tok[i].len - 2;
    m.escaped = j->tok[i].escaped;

    return ngx_http_moa_json_key_is(&m, text);
}


static int
ngx_http_moa_request_check_messages(ngx_http_moa_request_t *req,
    ngx_http_moa_error_t *err)
{
    int                   i, n, role;
    const char          **r;
    ngx_http_moa_buf_t    text;
    ngx_http_moa_json_t  *j;

    j = &req->json;
    n = 0;

    for (i = ngx_http_moa_json_first(j, req->messages); i >= 0;
         i = ngx_http_moa_json_after(j, req->messages, i), n++)
    {
        /*
         * the param as OpenAI names it (messages[1].role), formatted only
         * for an error: a valid request pays nothing for it
         */

        if (j->tok[i].type != '{') {
            snprintf(err->buf[2], sizeof(err->buf[2]), "messages[%d]", n);
            ngx_http_moa_error_set(err, 400, "invalid_request_error",
                                   "invalid_type", err->buf[2],
                                   "Invalid type for 'messages[%d]': "
                                   "expected an object.", n);
            return -1;
        }

        role = ngx_http_moa_json_find(j, i, "role");

        if (role < 0 || j->tok[role].type != '"') {
            snprintf(err->buf[2], sizeof(err->buf[2]), "messages[%d].role", n);
            ngx_http_moa_error_set(err, 400, "invalid_request_error",
                                   role >= 0 ? "invalid_type"
                                             : "missing_required_parameter",
                                   err->buf[2],
                                   "Missing or invalid 'messages[%d].role': "
                                   "expected a string.", n);
            return -1;
        }

        for (r = ngx_http_moa_request_roles; *r; r++) {
            if (ngx_http_moa_request_tok_is(j, role, *r)) {
                break;
            }
        }

        if (*r == NULL) {
            snprintf(err->buf[2], sizeof(err->buf[2]), "messages[%d].role", n);
            memset(&text, 0, sizeof(ngx_http_moa_buf_t));
            (void) ngx_http_moa_json_text_unescape(&text, j->tok[role].p,
                                                   j->tok[role].len);
            ngx_http_moa_buf_add(&text, "", 1);

            ngx_http_moa_error_set(err, 400, "invalid_request_error",
                                   "invalid_value", err->buf[2],
                                   "Invalid value for 'messages[%d].role': "
                                   "'%.64s' is not one of 'system', "
                                   "'developer', 'user', 'assistant', "
                                   "'tool'.", n,
                                   text.nomem ? "" : text.data);
            ngx_http_moa_buf_free(&text);
            return -1;
        }
    }

    return 0;
}


/* the request's top-level members read by the module, found in one pass */
enum {
    NGX_HTTP_MOA_REQ_MODEL = 0,
    NGX_HTTP_MOA_REQ_MESSAGES,
    NGX_HTTP_MOA_REQ_STREAM,
    NGX_HTTP_MOA_REQ_STREAM_OPTIONS,
    NGX_HTTP_MOA_REQ_N,
    NGX_HTTP_MOA_REQ_SEED,
    NGX_HTTP_MOA_REQ_TOOLS,
    NGX_HTTP_MOA_REQ_MAX_COMPLETION_TOKENS,
    NGX_HTTP_MOA_REQ_AUDIO,
    NGX_HTTP_MOA_REQ_MODALITIES,
    NGX_HTTP_MOA_REQ_PREDICTION,
    NGX_HTTP_MOA_REQ_MAX_TOKENS,
    NGX_HTTP_MOA_REQ_RESPONSE_FORMAT,
    NGX_HTTP_MOA_REQ_MOA,
    NGX_HTTP_MOA_REQ_NKEYS
};


static const ngx_http_moa_json_key_t
    ngx_http_moa_request_keys[NGX_HTTP_MOA_REQ_NKEYS] =
{
    ngx_http_moa_json_key("model"),
    ngx_http_moa_json_key("messages"),
    ngx_http_moa_json_key("stream"),
    ngx_http_moa_json_key("stream_options"),
    ngx_http_moa_json_key("n"),
    ngx_http_moa_json_key("seed"),
    ngx_http_moa_json_key("tools"),
    ngx_http_moa_json_key("max_completion_tokens"),
    ngx_http_moa_json_key("audio"),
    ngx_http_moa_json_key("modalities"),
    ngx_http_moa_json_key("prediction"),
    ngx_http_moa_json_key("max_tokens"),
    ngx_http_moa_json_key("response_format"),
    ngx_http_moa_json_key("moa")
};

/* prepared by its first lookup: the keys by length */
static ngx_http_moa_json_keys_t  ngx_http_moa_request_set =
    ngx_http_moa_json_keys(ngx_http_moa_request_keys);

_Static_assert(NGX_HTTP_MOA_REQ_NKEYS <= NGX_HTTP_MOA_JSON_KEYS_MAX,
               "the request's keys fit a set");


/* "model": a string, required; decoded into req->model */
static int
ngx_http_moa_request_model(ngx_http_moa_request_t *req, int i,
    ngx_http_moa_error_t *err)
{
    ngx_http_moa_json_t  *j;

    j = &req->json;

    if (i < 0 || j->tok[i].type == 'n') {
        ngx_http_moa_error_set(err, 400, "invalid_request_error",
                               "missing_required_parameter", "model",
                               "you must provide a model parameter");
        return -1;
    }

    if (j->tok[i].type != '"') {
        return ngx_http_moa_request_invalid_type(err, "model", "a string");
    }

    if (!j->tok[i].escaped && j->tok[i].len - 2 < sizeof(req->model_text)) {
        /* without escapes a string's text is its value */
        memcpy(req->model_text, j->tok[i].p + 1, j->tok[i].len - 2);
        req->model_text[j->tok[i].len - 2] = '\0';
        req->model = req->model_text;
        req->model_len = j->tok[i].len - 2;
        return 0;
    }

    (void) ngx_http_moa_buf_reserve(&req->model_buf, j->tok[i].len);

    if (ngx_http_moa_json_text_unescape(&req->model_buf, j->tok[i].p,
                                        j->tok[i].len)
        != 0)
    {
        ngx_http_moa_error_set(err, 500, "server_error", NULL, NULL,
                               "out of memory");
        return -1;
    }

    req->model_len = req->model_buf.len;
    ngx_http_moa_buf_add(&req->model_buf, "", 1);

    if (req->model_buf.nomem) {
        ngx_http_moa_error_set(err, 500, "server_error", NULL, NULL,
                               "out of memory");
        return -1;
    }

    req->model = req->model_buf.data;

    return 0;
}


/* "messages": a non-empty array of messages with known roles, required */
static int
ngx_http_moa_request_messages(ngx_http_moa_request_t *req, int i,
    ngx_http_moa_error_t *err)
{
    size_t                k;
    ngx_http_moa_json_t  *j;

    j = &req->json;

    if (i < 0 || j->tok[i].type == 'n') {
        ngx_http_moa_error_set(err, 400, "invalid_request_error",
                               "missing_required_parameter", "messages",
                               "Missing required parameter: 'messages'.");
        return -1;
    }

    if (j->tok[i].type != '[') {
        return ngx_http_moa_request_invalid_type(err, "messages", "an array");
    }

    if (ngx_http_moa_json_first(j, i) < 0) {
        ngx_http_moa_error_set(err, 400, "invalid_request_error",
                               "empty_array", "messages",
                               "Invalid 'messages': empty array. Expected an "
                               "array with minimum length 1, but got an "
                               "empty array instead.");
        return -1;
    }

    req->messages = i;

    if (ngx_http_moa_request_check_messages(req, err) != 0) {
        return -1;
    }

    for (k = 0; k < req->nmembers; k++) {
        if (req->members[k].value == j->tok[i].p) {
            req->raw_messages = &req->members[k];
            break;
        }
    }

    return 0;
}


/* "stream": a boolean */
static int
ngx_http_moa_request_stream(ngx_http_moa_request_t *req, int i,
    ngx_http_moa_error_t *err)
{
    ngx_http_moa_json_t  *j;

    j = &req->json;

    if (i >= 0 && j->tok[i].type != 'n') {
        if (j->tok[i].type != 't' && j->tok[i].type != 'f') {
            return ngx_http_moa_request_invalid_type(err, "stream",
                                                     "a boolean");
        }

        req->stream = (j->tok[i].type == 't');
    }

    return 0;
}


/* "stream_options": an object, only with "stream"; kept for the synthesis */
static int
ngx_http_moa_request_stream_options(ngx_http_moa_request_t *req, int i,
    ngx_http_moa_error_t *err)
{
    int                   o;
    ngx_http_moa_json_t  *j;

    j = &req->json;

    if (i < 0 || j->tok[i].type == 'n') {
        return 0;
    }

    if (j->tok[i].type != '{') {
        return ngx_http_moa_request_invalid_type(err, "stream_options",
                                                 "an object");
    }

    if (!req->stream) {
        ngx_http_moa_error_set(err, 400, "invalid_request_error",
                               "invalid_value", "stream_options",
                               "The 'stream_options' parameter is only "
                               "allowed when 'stream' is enabled.");
        return -1;
    }

    ngx_http_moa_json_span(j, i, &req->stream_options);

    o = ngx_http_moa_json_find(j, i, "include_usage");
    req->include_usage = (o >= 0 && j->tok[o].type == 't');

    return 0;
}


/* "n": an integer from 1 to NGX_HTTP_MOA_REQUEST_MAX_N */
static int
ngx_http_moa_request_n(ngx_http_moa_request_t *req, int i,
    ngx_http_moa_error_t *err)
{
    double                d;
    ngx_http_moa_json_t  *j;

    j = &req->json;

    if (i < 0 || j->tok[i].type == 'n') {
        return 0;
    }

    /* range first: casting a double out of range is undefined */
    if (ngx_http_moa_request_number(j, i, &d) != 0
        || d < INT_MIN || d > INT_MAX || d != (double) (int) d)
    {
        return ngx_http_moa_request_invalid_type(err, "n", "an integer");
    }

    if (d < 1 || d > NGX_HTTP_MOA_REQUEST_MAX_N) {
        ngx_http_moa_error_set(err, 400, "invalid_request_error",
                               "invalid_value", "n",
                               "Invalid 'n': must be between 1 and %d.",
                               NGX_HTTP_MOA_REQUEST_MAX_N);
        return -1;
    }

    req->n = (int) d;

    return 0;
}


/* "seed": an integer that fits a long long */
static int
ngx_http_moa_request_seed(ngx_http_moa_request_t *req, int i,
    ngx_http_moa_error_t *err)
{
    double                d;
    ngx_http_moa_json_t  *j;

    j = &req->json;

    if (i < 0 || j->tok[i].type == 'n') {
        return 0;
    }

    /* range first: casting a double out of range is undefined */
    if (ngx_http_moa_request_number(j, i, &d) != 0
        || d < -9223372036854775808.0 || d >= 9223372036854775808.0
        || d != (double) (long long) d)
    {
        return ngx_http_moa_request_invalid_type(err, "seed", "an integer");
    }

    req->has_seed = 1;
    req->seed = (long long) d;

    return 0;
}


/* "tools": an array */
static int
ngx_http_moa_request_tools(ngx_http_moa_request_t *req, int i,
    ngx_http_moa_error_t *err)
{
    ngx_http_moa_json_t  *j;

    j = &req->json;

    if (i >= 0 && j->tok[i].type != 'n') {
        if (j->tok[i].type != '[') {
            return ngx_http_moa_request_invalid_type(err, "tools",
                                                     "an array");
        }

        req->has_tools = (ngx_http_moa_json_first(j, i) >= 0);
    }

    return 0;
}


/* a body that is not JSON: where it stops being JSON, as a byte offset */
static void
ngx_http_moa_request_bad_json(const ngx_http_moa_json_t *j, size_t len,
    ngx_http_moa_error_t *err)
{
    if (len == 0) {
        ngx_http_moa_error_set(err, 400, "invalid_request_error", NULL, NULL,
                               "We could not parse the JSON body of your "
                               "request: the body is empty.");

    } else if (j->error_at >= len) {
        ngx_http_moa_error_set(err, 400, "invalid_request_error", NULL, NULL,
                               "We could not parse the JSON body of your "
                               "request: the JSON ends early (at byte %zu, "
                               "the end of the body).", len);

    } else {
        ngx_http_moa_error_set(err, 400, "invalid_request_error", NULL, NULL,
                               "We could not parse the JSON body of your "
                               "request: invalid JSON at byte %zu.",
                               j->error_at);
    }
}


/*
 * What the recipes read: the client's token limit (for a reasoning model's
 * max_completion_tokens and the cost cap; its range is checked later with
 * every parameter), a json_schema response_format, the "moa" member.
 */
static void
ngx_http_moa_request_recipe(ngx_http_moa_request_t *req, const int *at)
{
    int                   i, t;
    double                d;
    ngx_http_moa_json_t  *j;

    j = &req->json;

    i = at[NGX_HTTP_MOA_REQ_MAX_COMPLETION_TOKENS];

    if (i < 0 || j->tok[i].type != '0') {
        i = at[NGX_HTTP_MOA_REQ_MAX_TOKENS];
    }

    /* a number token ends where the JSON text goes on: strtod stops */
    if (i >= 0 && j->tok[i].type == '0'
        && ngx_http_moa_request_number(j, i, &d) == 0
        && d >= 1 && d <= INT_MAX)
    {
        req->max_tokens = (long long) d;
    }

    i = at[NGX_HTTP_MOA_REQ_RESPONSE_FORMAT];

    if (i >= 0 && j->tok[i].type == '{') {
        t = ngx_http_moa_json_find(j, i, "type");
        req->json_schema = (t >= 0
                            && ngx_http_moa_request_tok_is(j, t,
                                                           "json_schema"));
    }

    /* "moa": null is not given, as any null */
    i = at[NGX_HTTP_MOA_REQ_MOA];
    req->moa = (i >= 0 && j->tok[i].type != 'n') ? i : -1;
}


/*
 * Validates the client's request in one pass over its text (a tree is made
 * only when a capture line needs one) and reads what the chain uses.  The
 * fields are checked in this order: the first error is the one answered.
 */
int
ngx_http_moa_request_parse(ngx_http_moa_request_t *req, const char *body,
    size_t len, ngx_http_moa_error_t *err)
{
    int                   i;
    int                   at[NGX_HTTP_MOA_REQ_NKEYS];
    ngx_http_moa_json_t  *j;

    memset(req, 0, sizeof(ngx_http_moa_request_t));
    req->body = body;
    req->len = len;
    req->n = 1;

    j = &req->json;

    if (ngx_http_moa_json_parse(j, body, len) != 0) {
        ngx_http_moa_request_bad_json(j, len, err);
        return -1;
    }

    if (j->tok[0].type != '{') {
        ngx_http_moa_error_set(err, 400, "invalid_request_error", NULL, NULL,
                               "We could not parse the JSON body of your "
                               "request: expected a JSON object.");
        return -1;
    }

    /* the top-level members, for the stage bodies spliced from them */

    if (ngx_http_moa_json_tok_members(j, 0, &req->members, &req->nmembers)
        != 0)
    {
        ngx_http_moa_error_set(err, 500, "server_error", NULL, NULL,
                               "out of memory");
        return -1;
    }

    ngx_http_moa_json_find_set(j, 0, &ngx_http_moa_request_set, at);

    req->audio = at[NGX_HTTP_MOA_REQ_AUDIO];
    req->modalities = at[NGX_HTTP_MOA_REQ_MODALITIES];
    req->prediction = at[NGX_HTTP_MOA_REQ_PREDICTION];

    if (ngx_http_moa_request_model(req, at[NGX_HTTP_MOA_REQ_MODEL], err) != 0
        || ngx_http_moa_request_messages(req, at[NGX_HTTP_MOA_REQ_MESSAGES],
                                         err) != 0
        || ngx_http_moa_request_stream(req, at[NGX_HTTP_MOA_REQ_STREAM], err)
           != 0
        || ngx_http_moa_request_stream_options(req,
               at[NGX_HTTP_MOA_REQ_STREAM_OPTIONS], err) != 0
        || ngx_http_moa_request_n(req, at[NGX_HTTP_MOA_REQ_N], err) != 0
        || ngx_http_moa_request_seed(req, at[NGX_HTTP_MOA_REQ_SEED], err) != 0
        || ngx_http_moa_request_tools(req, at[NGX_HTTP_MOA_REQ_TOOLS], err)
           != 0)
    {
        return -1;
    }

    i = at[NGX_HTTP_MOA_REQ_MAX_COMPLETION_TOKENS];
    req->max_completion_tokens = (i >= 0 && j->tok[i].type != 'n');

    ngx_http_moa_request_recipe(req, at);

    return 0;
}


/* unknown top-level members left out of the stage bodies */
static void
ngx_http_moa_request_drop_unknown(ngx_http_moa_request_t *req)
{
    size_t  k, n;

    n = 0;

    for (k = 0; k < req->nmembers; k++) {
        if (ngx_http_moa_params_known(req->members[k].key,
                                      req->members[k].key_len,
                                      req->members[k].escaped))
        {
            req->members[n++] = req->members[k];
        }
    }

    req->nmembers = n;

    for (k = 0; k < n; k++) {
        if (req->members[k].value == req->json.tok[req->messages].p) {
            req->raw_messages = &req->members[k];
            break;
        }
    }
}


/* the "moa" member is the gateway's: it never reaches the provider */
static void
ngx_http_moa_request_drop_moa(ngx_http_moa_request_t *req)
{
    size_t  k, n;

    n = 0;

    for (k = 0; k < req->nmembers; k++) {
        if (!ngx_http_moa_json_key_is(&req->members[k], "moa")) {
            req->members[n++] = req->members[k];
        }
    }

    req->nmembers = n;

    for (k = 0; k < n; k++) {
        if (req->members[k].value == req->json.tok[req->messages].p) {
            req->raw_messages = &req->members[k];
            break;
        }
    }
}


/*
 * A request for a MoA model: what a pipeline cannot honour, then every
 * parameter's type and range (before any paid call), and unknown
 * parameters as the operator wants them.
 */
int
ngx_http_moa_request_check_moa(ngx_http_moa_request_t *req, int unknown,
    ngx_http_moa_error_t *err)
{
    int                   i, m;
    ngx_http_moa_json_t  *j;

    j = &req->json;

    i = req->audio;

    if (i >= 0 && j->tok[i].type != 'n') {
        goto audio;
    }

    i = req->modalities;

    for (m = ngx_http_moa_json_first(j, i); m >= 0;
         m = ngx_http_moa_json_after(j, i, m))
    {
        if (ngx_http_moa_request_tok_is(j, m, "audio")) {
            goto audio;
        }
    }

    i = req->prediction;

    if (i >= 0 && j->tok[i].type != 'n') {
        ngx_http_moa_error_set(err, 400, "invalid_request_error",
                               "unsupported_parameter", "prediction",
                               "Predicted outputs ('prediction') are not "
                               "supported by the Mixture-of-Agents model "
                               "'%.64s'.", req->model);
        return -1;
    }

    if (ngx_http_moa_params_check(j, 0, unknown, err) != 0) {
        return -1;
    }

    if (unknown == NGX_HTTP_MOA_PARAMS_DROP) {
        ngx_http_moa_request_drop_unknown(req);
    }

    if (req->moa >= 0) {
        ngx_http_moa_request_drop_moa(req);
    }

    return 0;

audio:

    ngx_http_moa_error_set(err, 400, "invalid_request_error",
                           "unsupported_parameter", "audio",
                           "Audio output is not supported by the "
                           "Mixture-of-Agents model '%.64s'.", req->model);
    return -1;
}


/* the tokens are not needed once the request is checked */
void
ngx_http_moa_request_compact(ngx_http_moa_request_t *req)
{
    ngx_http_moa_json_free(&req->json);
}


/* the request as a tree, for capture lines */
cJSON *
ngx_http_moa_request_root(ngx_http_moa_request_t *req)
{
    if (req->root == NULL && req->body) {
        req->root = cJSON_ParseWithLength(req->body, req->len);
    }

    return req->root;
}


void
ngx_http_moa_request_free(ngx_http_moa_request_t *req)
{
    ngx_http_moa_json_free(&req->json);
    ngx_http_moa_buf_free(&req->model_buf);
    cJSON_Delete(req->root);
    free(req->members);
    req->root = NULL;
    req->members = NULL;
}
