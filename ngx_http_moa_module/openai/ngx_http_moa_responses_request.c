
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: a Responses API request validated on its tokens (one pass,
 * no tree) and translated into a Chat Completions body: instructions ->
 * a system message, input items -> messages (ngx_http_moa_responses_items.c),
 * flat function tools -> chat tools, tool_choice, text.format ->
 * response_format, text.verbosity, reasoning.effort -> reasoning_effort,
 * max_output_tokens -> max_completion_tokens, stream -> stream with the
 * usage chunk (written by ngx_http_moa_responses_params.c, as is the
 * echo of the parameters).
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_field.h"
#include "ngx_http_moa_params.h"
#include "ngx_http_moa_responses_params.h"
#include "ngx_http_moa_responses_request.h"




/* the members, and the JSON type each must have ('t' boolean, 0 any) */
static const struct {
    const char  *name;
    int          type;
} ngx_http_moa_responses_request_keys[R_NKEYS] = {
    { "model", '"' }, { "input", 0 }, { "instructions", '"' },
    { "tools", '[' }, { "tool_choice", 0 }, { "parallel_tool_calls", 't' },
    { "text", '{' }, { "max_output_tokens", '0' }, { "temperature", '0' },
    { "top_p", '0' }, { "reasoning", '{' }, { "metadata", '{' },
    { "user", '"' }, { "safety_identifier", '"' },
    { "prompt_cache_key", '"' }, { "prompt_cache_retention", '"' },
    { "service_tier", '"' }, { "stream", 't' }, { "stream_options", '{' },
    { "store", 't' }, { "previous_response_id", '"' }, { "include", '[' },
    { "truncation", '"' }, { "background", 't' },
    { "max_tool_calls", '0' }, { "top_logprobs", '0' },
    { "conversation", 0 }, { "prompt", 0 }
};


static const char  *ngx_http_moa_responses_request_modes[] = {
    "none", "auto", "required", NULL
};

static const char  *ngx_http_moa_responses_request_formats[] = {
    "text", "json_object", "json_schema", NULL
};

static const char  *ngx_http_moa_responses_request_verbosities[] = {
    "low", "medium", "high", NULL
};

static const char  *ngx_http_moa_responses_request_efforts[] = {
    "none", "minimal", "low", "medium", "high", "xhigh", NULL
};

static const char  *ngx_http_moa_responses_request_summaries[] = {
    "auto", "concise", "detailed", NULL
};

static const char  *ngx_http_moa_responses_request_truncations[] = {
    "auto", "disabled", NULL
};

/*
 * include values that need nothing of the module: the items they concern
 * (built-in tools' calls, computer calls, reasoning) never come out of a
 * Chat Completions provider, and input images keep their URL anyway
 */
static const char  *ngx_http_moa_responses_request_includes[] = {
    "web_search_call.action.sources", "web_search_call.results",
    "code_interpreter_call.outputs", "computer_call_output.output.image_url",
    "file_search_call.results", "message.input_image.image_url",
    "reasoning.encrypted_content", NULL
};


static int ngx_http_moa_responses_request_run(
    ngx_http_moa_responses_request_t *req, const char *prior,
    size_t prior_len, int unknown, ngx_http_moa_error_t *err);
static int ngx_http_moa_responses_request_members(
    ngx_http_moa_responses_request_t *req, int *at, int unknown,
    ngx_http_moa_error_t *err);
static int ngx_http_moa_responses_request_values(
    ngx_http_moa_responses_request_t *req, const int *at,
    ngx_http_moa_responses_items_t *it, ngx_http_moa_error_t *err);
static int ngx_http_moa_responses_request_tools(
    ngx_http_moa_responses_request_t *req, int tools,
    ngx_http_moa_responses_items_t *it, ngx_http_moa_error_t *err);
static int ngx_http_moa_responses_request_choice(
    ngx_http_moa_responses_request_t *req, int i,
    ngx_http_moa_responses_items_t *it, ngx_http_moa_error_t *err);
static int ngx_http_moa_responses_request_text(
    ngx_http_moa_responses_request_t *req, int i, ngx_http_moa_error_t *err);
static int ngx_http_moa_responses_request_include(
    ngx_http_moa_responses_request_t *req, int i,
    ngx_http_moa_responses_items_t *it, ngx_http_moa_error_t *err);


/*
 * A valid request is translated once without naming anything (no
 * formatting on the accept path); a refused one again, to name the first
 * error.
 */
int
ngx_http_moa_responses_request_parse(ngx_http_moa_responses_request_t *req,
    const char *body, size_t len, const char *prior, size_t prior_len,
    int unknown, ngx_http_moa_error_t *err)
{
    int  rc;

    req->body = body;
    req->len = len;

    if (ngx_http_moa_json_parse(&req->json, body, len) != 0) {
        if (len && ngx_http_moa_json_valid(body, len) == 0) {
            ngx_http_moa_error_set(err, 500, "server_error", NULL, NULL,
                                   "out of memory");
            return -1;
        }

        ngx_http_moa_error_set(err, 400, "invalid_request_error", NULL, NULL,
                               "We could not parse the JSON body of your "
                               "request: %s.", len == 0
                               ? "the body is empty" : "invalid JSON");
        return -1;
    }

    if (req->json.n == 0 || req->json.tok[0].type != '{') {
        ngx_http_moa_error_set(err, 400, "invalid_request_error", NULL, NULL,
                               "We could not parse the JSON body of your "
                               "request: it is not a JSON object.");
        return -1;
    }

    rc = ngx_http_moa_responses_request_run(req, prior, prior_len, unknown,
                                            NULL);

    /*
     * again with names: for the error, or for what translation cannot
     * carry (rare: a MoA model refuses it, a Responses provider takes it)
     */

    if (rc == -1 || (rc == 0 && req->unsupported[0] != '\0')) {
        rc = ngx_http_moa_responses_request_run(req, prior, prior_len,
                                                unknown, err);
    }

    if (rc == -2) {
        ngx_http_moa_error_set(err, 500, "server_error", NULL, NULL,
                               "out of memory");
    }

    return rc ? -1 : 0;
}


static int
ngx_http_moa_responses_request_run(ngx_http_moa_responses_request_t *req,
    const char *prior, size_t prior_len, int unknown,
    ngx_http_moa_error_t *err)
{
    int                             rc, arr;
    int                             at[R_NKEYS];
    ngx_http_moa_json_t             pj;
    ngx_http_moa_responses_items_t  it;

    req->chat.len = 0;
    req->chat.nomem = 0;
    req->input.len = 0;
    req->input.nomem = 0;
    req->echo.len = 0;
    req->echo.nomem = 0;
    req->unsupported[0] = '\0';
    req->unsupported_param[0] = '\0';
    req->stream = 0;
    req->store = 1;

    /* room for all at once: the body translated is about as long */

    if (ngx_http_moa_buf_reserve(&req->chat, req->len + 256) != 0
        || ngx_http_moa_buf_reserve(&req->input, req->len + 128) != 0
        || ngx_http_moa_buf_reserve(&req->echo, 640) != 0)
    {
        return -2;
    }

    memset(&it, 0, sizeof(ngx_http_moa_responses_items_t));
    it.chat = &req->chat;
    it.seed = &req->seed;
    it.unsupported = req->unsupported;
    it.unsupported_param = req->unsupported_param;

    if (ngx_http_moa_responses_request_members(req, at, unknown, err) != 0) {
        return -1;
    }

    ngx_http_moa_buf_lit(&req->chat, "{\"model\":");
    ngx_http_moa_buf_add(&req->chat, req->model.p, req->model.len);
    ngx_http_moa_buf_lit(&req->chat, ",\"messages\":[");

    if (at[R_INSTRUCTIONS] >= 0) {
        ngx_http_moa_buf_lit(&req->chat, "{\"role\":\"system\",\"content\":");
        ngx_http_moa_buf_add(&req->chat, req->json.tok[at[R_INSTRUCTIONS]].p,
                             req->json.tok[at[R_INSTRUCTIONS]].len);
        ngx_http_moa_buf_lit(&req->chat, "}");
        it.nmessages = 1;
    }

    rc = 0;

    /* a previous response's items: checked once, named as its id */

    if (prior && prior_len) {
        memset(&pj, 0, sizeof(ngx_http_moa_json_t));
        it.prior = 1;

        if (ngx_http_moa_json_parse(&pj, prior, prior_len) != 0
            || pj.n == 0 || pj.tok[0].type != '[')
        {
            ngx_http_moa_json_free(&pj);
            rc = ngx_http_moa_field_fail(err, "invalid_value",
                                         "previous_response_id",
                                         "The previous response's items "
                                         "could not be read.");
            goto done;
        }

        rc = ngx_http_moa_responses_items_add(&it, &pj, 0,
                                              "previous_response_id", err);
        it.prior = 0;

        if (rc != 0) {
            ngx_http_moa_json_free(&pj);
            goto done;
        }

        ngx_http_moa_json_free(&pj);
    }

    it.input = &req->input;
    arr = at[R_INPUT];

    if (arr < 0) {
        ngx_http_moa_buf_lit(&req->input, "[]");

        if (it.nmessages == 0) {
            rc = ngx_http_moa_field_missing("input", err);
            goto done;
        }

    } else if (req->json.tok[arr].type == '"') {
        ngx_http_moa_span_t  text;

        ngx_http_moa_json_span(&req->json, arr, &text);
        rc = ngx_http_moa_responses_items_text(&it, &text);

    } else {
        rc = ngx_http_moa_responses_items_add(&it, &req->json, arr, "input",
                                              err);
    }

    if (rc != 0) {
        goto done;
    }

    ngx_http_moa_responses_items_close(&it);

    if (it.nmessages == 0) {
        rc = ngx_http_moa_field_fail(err, "empty_array", "input",
                                     "Invalid 'input': no message to "
                                     "answer.");
        goto done;
    }

    ngx_http_moa_buf_lit(&req->chat, "]");

    rc = ngx_http_moa_responses_request_values(req, at, &it, err);

    if (rc == 0) {
        ngx_http_moa_responses_params_chat(&req->chat, &req->json, at,
                                           req->stream);
        ngx_http_moa_responses_params_echo(&req->echo, &req->json, at);
    }

done:

    ngx_http_moa_responses_items_free(&it);

    if (rc == 0 && (req->chat.nomem || req->input.nomem || req->echo.nomem))
    {
        rc = -2;
    }

    return rc;
}


/* each top-level member: known, of its type; the first of duplicates */
static int
ngx_http_moa_responses_request_members(ngx_http_moa_responses_request_t *req,
    int *at, int unknown, ngx_http_moa_error_t *err)
{
    int                   k, m, type, t;
    char                  name[NGX_HTTP_MOA_FIELD_PATH];
    uint32_t              end;
    ngx_http_moa_json_t  *j;

    j = &req->json;

    for (m = 0; m < R_NKEYS; m++) {
        at[m] = -1;
    }

    end = j->tok[0].next;

    for (k = 1; (uint32_t) k < end; k = j->tok[k + 1].next) {

        for (m = 0; m < R_NKEYS; m++) {
            if (ngx_http_moa_field_is(j, k,
                                  ngx_http_moa_responses_request_keys[m].name))
            {
                break;
            }
        }

        if (m == R_NKEYS) {
            if (unknown == NGX_HTTP_MOA_PARAMS_REJECT) {
                ngx_http_moa_field_path(err, name, "%.*s",
                                        (int) (j->tok[k].len - 2),
                                        j->tok[k].p + 1);

                return ngx_http_moa_field_fail(err, "unknown_parameter",
                                               name, "Unknown parameter: "
                                               "'%s'.", name);
            }

            continue;
        }

        /* null is "not given", as OpenAI takes it */

        if (at[m] >= 0 || j->tok[k + 1].type == 'n') {
            continue;
        }

        type = ngx_http_moa_responses_request_keys[m].type;
        t = j->tok[k + 1].type;

        if (type && (type == 't' ? (t != 't' && t != 'f') : t != type)) {
            return ngx_http_moa_field_bad_type(j, k + 1,
                                  ngx_http_moa_responses_request_keys[m].name,
                                  type == '"' ? "a string"
                                  : type == '[' ? "an array"
                                  : type == '{' ? "an object"
                                  : type == 't' ? "a boolean"
                                  : "a number", err);
        }

        at[m] = k + 1;
    }

    if (at[R_MODEL] < 0) {
        return ngx_http_moa_field_missing("model", err);
    }

    ngx_http_moa_json_span(j, at[R_MODEL], &req->model);

    if (at[R_INPUT] >= 0 && j->tok[at[R_INPUT]].type != '"'
        && j->tok[at[R_INPUT]].type != '[')
    {
        return ngx_http_moa_field_bad_type(j, at[R_INPUT], "input",
                                           "one of a string or array of "
                                           "input items", err);
    }

    req->previous_response_id.len = 0;

    if (at[R_PREVIOUS] >= 0) {
        ngx_http_moa_json_span(j, at[R_PREVIOUS], &req->previous_response_id);
    }

    return 0;
}


/* the parameters' values, after the input */
static int
ngx_http_moa_responses_request_values(ngx_http_moa_responses_request_t *req,
    const int *at, ngx_http_moa_responses_items_t *it,
    ngx_http_moa_error_t *err)
{
    int                   i, v;
    ngx_http_moa_json_t  *j;

    j = &req->json;

    if ((at[R_TOOLS] >= 0
         && ngx_http_moa_responses_request_tools(req, at[R_TOOLS], it, err)
            != 0)
        || (at[R_TOOL_CHOICE] >= 0
            && ngx_http_moa_responses_request_choice(req, at[R_TOOL_CHOICE],
                                                     it, err)
               != 0)
        || (at[R_TEXT] >= 0
            && ngx_http_moa_responses_request_text(req, at[R_TEXT], err)
               != 0)
        || (at[R_MAX_OUTPUT] >= 0
            && ngx_http_moa_field_number(j, at[R_MAX_OUTPUT],
                                         "max_output_tokens", 1, 16, 1e9,
                                         err)
               != 0)
        || (at[R_TEMPERATURE] >= 0
            && ngx_http_moa_field_number(j, at[R_TEMPERATURE], "temperature",
                                         0, 0, 2, err)
               != 0)
        || (at[R_TOP_P] >= 0
            && ngx_http_moa_field_number(j, at[R_TOP_P], "top_p", 0, 0, 1,
                                         err)
               != 0)
        || (at[R_MAX_TOOL_CALLS] >= 0
            && ngx_http_moa_field_number(j, at[R_MAX_TOOL_CALLS],
                                         "max_tool_calls", 1, 1, 1e9, err)
               != 0)
        || (at[R_TOP_LOGPROBS] >= 0
            && ngx_http_moa_field_number(j, at[R_TOP_LOGPROBS],
                                         "top_logprobs", 1, 0, 20, err)
               != 0)
        || (at[R_TRUNCATION] >= 0
            && ngx_http_moa_field_one_of(j, at[R_TRUNCATION], "truncation",
                                   ngx_http_moa_responses_request_truncations,
                                   err)
               != 0))
    {
        return -1;
    }

    i = at[R_REASONING];

    if (i >= 0) {
        if (ngx_http_moa_field_member(j, i, "effort", '"', "reasoning", 0,
                                      err, &v)
            != 0
            || (v >= 0
                && ngx_http_moa_field_one_of(j, v, "reasoning.effort",
                                      ngx_http_moa_responses_request_efforts,
                                      err)
                   != 0)
            || ngx_http_moa_field_member(j, i, "summary", '"', "reasoning", 0,
                                         err, &v)
               != 0
            || (v >= 0
                && ngx_http_moa_field_one_of(j, v, "reasoning.summary",
                                    ngx_http_moa_responses_request_summaries,
                                    err)
                   != 0))
        {
            return -1;
        }
    }

    if (at[R_INCLUDE] >= 0
        && ngx_http_moa_responses_request_include(req, at[R_INCLUDE], it, err)
           != 0)
    {
        return -1;
    }

    if (at[R_STREAM] >= 0 && j->tok[at[R_STREAM]].type == 't') {
        req->stream = 1;
    }

    if (at[R_STORE] >= 0 && j->tok[at[R_STORE]].type == 'f') {
        req->store = 0;
    }

    if (at[R_BACKGROUND] >= 0 && j->tok[at[R_BACKGROUND]].type == 't') {
        ngx_http_moa_responses_items_unsupported(it, "background",
                                            "Background mode "
                                            "('background': true)");
    }

    if (at[R_CONVERSATION] >= 0) {
        ngx_http_moa_responses_items_unsupported(it, "conversation",
                                                 "A conversation");
    }

    if (at[R_PROMPT] >= 0) {
        ngx_http_moa_responses_items_unsupported(it, "prompt",
                                                 "A prompt template");
    }

    return 0;
}


/* flat function tools; a built-in tool is noted, not translated */
static int
ngx_http_moa_responses_request_tools(ngx_http_moa_responses_request_t *req,
    int tools, ngx_http_moa_responses_items_t *it, ngx_http_moa_error_t *err)
{
    int                   t, type, v, k;
    char                  base[NGX_HTTP_MOA_FIELD_PATH];
    char                  name[NGX_HTTP_MOA_FIELD_PATH];
    ngx_http_moa_json_t  *j;

    j = &req->json;
    k = 0;

    for (t = ngx_http_moa_json_first(j, tools); t >= 0;
         t = ngx_http_moa_json_after(j, tools, t), k++)
    {
        ngx_http_moa_field_path(err, base, "tools[%d]", k);

        if (j->tok[t].type != '{') {
            return ngx_http_moa_field_bad_type(j, t, base, "an object", err);
        }

        if (ngx_http_moa_field_member(j, t, "type", '"', base, 1, err, &type)
            != 0)
        {
            return -1;
        }

        if (!ngx_http_moa_field_is(j, type, "function")) {
            ngx_http_moa_field_path(err, name, "%s.type", base);
            ngx_http_moa_responses_items_unsupported(it, err ? name : "tools",
                                  "The built-in tool '%.*s'",
                                  (int) (j->tok[type].len < 34
                                         ? j->tok[type].len - 2 : 32),
                                  j->tok[type].p + 1);
            continue;
        }

        if (ngx_http_moa_field_member(j, t, "name", '"', base, 1, err, &v)
            != 0)
        {
            return -1;
        }

        ngx_http_moa_field_path(err, name, "%s.name", base);

        if (ngx_http_moa_field_name(j, v, name, err) != 0
            || ngx_http_moa_field_member(j, t, "description", '"', base, 0,
                                         err, &v)
               != 0
            || ngx_http_moa_field_member(j, t, "parameters", '{', base, 0,
                                         err, &v)
               != 0
            || ngx_http_moa_field_member(j, t, "strict", 't', base, 0, err,
                                         &v)
               != 0)
        {
            return -1;
        }
    }

    return 0;
}


/* "none" | "auto" | "required" | {"type":"function","name":...} */
static int
ngx_http_moa_responses_request_choice(ngx_http_moa_responses_request_t *req,
    int i, ngx_http_moa_responses_items_t *it, ngx_http_moa_error_t *err)
{
    int                   t, v;
    ngx_http_moa_json_t  *j;

    j = &req->json;

    if (j->tok[i].type == '"') {
        return ngx_http_moa_field_one_of(j, i, "tool_choice",
                                         ngx_http_moa_responses_request_modes,
                                         err);
    }

    if (j->tok[i].type != '{') {
        return ngx_http_moa_field_bad_type(j, i, "tool_choice",
                                           "one of a string or object", err);
    }

    if (ngx_http_moa_field_member(j, i, "type", '"', "tool_choice", 1, err,
                                  &t)
        != 0)
    {
        return -1;
    }

    if (!ngx_http_moa_field_is(j, t, "function")) {
        ngx_http_moa_responses_items_unsupported(it, "tool_choice.type",
                                  "The tool_choice '%.*s'",
                                  (int) (j->tok[t].len < 34
                                         ? j->tok[t].len - 2 : 32),
                                  j->tok[t].p + 1);
        return 0;
    }

    if (ngx_http_moa_field_member(j, i, "name", '"', "tool_choice", 1, err,
                                  &v)
        != 0)
    {
        return -1;
    }

    return ngx_http_moa_field_name(j, v, "tool_choice.name", err);
}


/* {"format": {"type", "name", "schema", "strict"}, "verbosity"} */
static int
ngx_http_moa_responses_request_text(ngx_http_moa_responses_request_t *req,
    int i, ngx_http_moa_error_t *err)
{
    int                   f, t, v;
    ngx_http_moa_json_t  *j;

    j = &req->json;

    if (ngx_http_moa_field_member(j, i, "verbosity", '"', "text", 0, err, &v)
        != 0
        || (v >= 0
            && ngx_http_moa_field_one_of(j, v, "text.verbosity",
                                  ngx_http_moa_responses_request_verbosities,
                                  err)
               != 0)
        || ngx_http_moa_field_member(j, i, "format", '{', "text", 0, err, &f)
           != 0)
    {
        return -1;
    }

    if (f < 0) {
        return 0;
    }

    if (ngx_http_moa_field_member(j, f, "type", '"', "text.format", 1, err,
                                  &t)
        != 0
        || ngx_http_moa_field_one_of(j, t, "text.format.type",
                                     ngx_http_moa_responses_request_formats,
                                     err)
           != 0)
    {
        return -1;
    }

    if (!ngx_http_moa_field_is(j, t, "json_schema")) {
        return 0;
    }

    if (ngx_http_moa_field_member(j, f, "name", '"', "text.format", 1, err,
                                  &v)
        != 0
        || ngx_http_moa_field_name(j, v, "text.format.name", err) != 0
        || ngx_http_moa_field_member(j, f, "schema", '{', "text.format", 1,
                                     err, &v)
           != 0
        || ngx_http_moa_field_member(j, f, "strict", 't', "text.format", 0,
                                     err, &v)
           != 0
        || ngx_http_moa_field_member(j, f, "description", '"', "text.format",
                                     0, err, &v)
           != 0)
    {
        return -1;
    }

    return 0;
}


/*
 * include: an array of strings; a value the module cannot honour through
 * Chat Completions is refused for a MoA model or a translated passthrough
 * (moa_responses_pass forwards it)
 */
static int
ngx_http_moa_responses_request_include(ngx_http_moa_responses_request_t *req,
    int i, ngx_http_moa_responses_items_t *it, ngx_http_moa_error_t *err)
{
    int                   v, k, n;
    size_t                len;
    const char           *p, **name;
    ngx_http_moa_json_t  *j;
    char                  param[NGX_HTTP_MOA_RESPONSES_UNSUPPORTED_PARAM];

    j = &req->json;
    n = 0;

    for (v = ngx_http_moa_json_first(j, i); v >= 0;
         v = ngx_http_moa_json_after(j, i, v), n++)
    {
        if (j->tok[v].type != '"') {
            return ngx_http_moa_field_bad_type(j, v, "include",
                                               "an array of strings", err);
        }

        p = j->tok[v].p + 1;
        len = j->tok[v].len - 2;
        k = 0;

        for (name = ngx_http_moa_responses_request_includes; *name; name++) {
            if (strlen(*name) == len && memcmp(*name, p, len) == 0) {
                k = 1;
                break;
            }
        }

        if (k) {
            continue;
        }

        snprintf(param, sizeof(param), "include[%d]", n);

        if (len == sizeof("message.output_text.logprobs") - 1
            && memcmp(p, "message.output_text.logprobs", len) == 0)
        {
            ngx_http_moa_responses_items_unsupported(it, param,
                                          "include "
                                          "'message.output_text.logprobs' "
                                          "(log probabilities)");
            continue;
        }

        ngx_http_moa_responses_items_unsupported(it, param,
                                          "The include value '%.*s'",
                                          (int) (len > 40 ? 40 : len), p);
    }

    return 0;
}


int
ngx_http_moa_responses_request_check(ngx_http_moa_responses_request_t *req,
    const char *model, int moa, ngx_http_moa_error_t *err)
{
    if (req->unsupported[0] == '\0') {
        return 0;
    }

    if (moa) {
        return ngx_http_moa_field_fail(err, "unsupported_parameter",
                                       req->unsupported_param,
                                       "%s is not supported by the "
                                       "Mixture-of-Agents model '%.64s'.",
                                       req->unsupported, model);
    }

    return ngx_http_moa_field_fail(err, "unsupported_parameter",
                                   req->unsupported_param,
                                   "%s is not supported for the model "
                                   "'%.64s': this gateway serves it through "
                                   "Chat Completions.", req->unsupported,
                                   model);
}


void
ngx_http_moa_responses_request_free(ngx_http_moa_responses_request_t *req)
{
    ngx_http_moa_json_free(&req->json);
    ngx_http_moa_buf_free(&req->chat);
    ngx_http_moa_buf_free(&req->input);
    ngx_http_moa_buf_free(&req->echo);
}
