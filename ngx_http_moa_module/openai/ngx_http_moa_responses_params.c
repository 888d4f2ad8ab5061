
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the parameters of a Responses request written where they go
 * once the request is checked (ngx_http_moa_responses_request.c): into the
 * Chat Completions body (tools in the chat shape, tool_choice, text.format
 * as response_format, reasoning.effort, max_output_tokens as
 * max_completion_tokens, the stream's usage chunk), and into the echo a
 * response object carries, with OpenAI's defaults.
 */


#include <string.h>

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_field.h"
#include "ngx_http_moa_responses_params.h"
#include "ngx_http_moa_json_find.h"


#define ngx_http_moa_responses_params_raw(b, j, i)                          \
    ngx_http_moa_buf_add(b, (j)->tok[i].p, (j)->tok[i].len)


/* a member "name":value copied as it came, if given */
static void
ngx_http_moa_responses_params_copy(ngx_http_moa_buf_t *b,
    const ngx_http_moa_json_t *j, int i, const char *name)
{
    if (i < 0) {
        return;
    }

    ngx_http_moa_buf_lit(b, ",\"");
    ngx_http_moa_buf_cstr(b, name);
    ngx_http_moa_buf_lit(b, "\":");
    ngx_http_moa_responses_params_raw(b, j, i);
}


/* the chat body's parameters, after its messages */
void
ngx_http_moa_responses_params_chat(ngx_http_moa_buf_t *b,
    const ngx_http_moa_json_t *j, const int *at, int stream)
{
    int  t, v, f, n;

    if (at[R_TOOLS] >= 0) {
        n = 0;

        for (t = ngx_http_moa_json_first(j, at[R_TOOLS]); t >= 0;
             t = ngx_http_moa_json_after(j, at[R_TOOLS], t))
        {
            if (!ngx_http_moa_field_is(j, ngx_http_moa_json_find(j, t, "type"),
                                       "function"))
            {
                continue;
            }

            ngx_http_moa_buf_cstr(b, n++ ? "," : ",\"tools\":[");
            ngx_http_moa_buf_lit(b, "{\"type\":\"function\",\"function\":{"
                                 "\"name\":");
            ngx_http_moa_responses_params_raw(b, j,
                                        ngx_http_moa_json_find(j, t, "name"));

            v = ngx_http_moa_json_find(j, t, "description");
            if (v >= 0 && j->tok[v].type != 'n') {
                ngx_http_moa_responses_params_copy(b, j, v, "description");
            }

            v = ngx_http_moa_json_find(j, t, "parameters");
            if (v >= 0 && j->tok[v].type != 'n') {
                ngx_http_moa_responses_params_copy(b, j, v, "parameters");
            }

            v = ngx_http_moa_json_find(j, t, "strict");
            if (v >= 0 && j->tok[v].type != 'n') {
                ngx_http_moa_responses_params_copy(b, j, v, "strict");
            }

            ngx_http_moa_buf_lit(b, "}}");
        }

        if (n) {
            ngx_http_moa_buf_lit(b, "]");
        }
    }

    v = at[R_TOOL_CHOICE];

    if (v >= 0 && j->tok[v].type == '"') {
        ngx_http_moa_responses_params_copy(b, j, v, "tool_choice");

    } else if (v >= 0
               && ngx_http_moa_field_is(j, ngx_http_moa_json_find(j, v, "type"),
                                        "function"))
    {
        /* a built-in tool's choice is refused, never translated */
        ngx_http_moa_buf_lit(b, ",\"tool_choice\":{\"type\":\"function\","
                             "\"function\":{\"name\":");
        ngx_http_moa_responses_params_raw(b, j,
                                           ngx_http_moa_json_find(j, v,
                                                                  "name"));
        ngx_http_moa_buf_lit(b, "}}");
    }

    ngx_http_moa_responses_params_copy(b, j, at[R_PARALLEL],
                                        "parallel_tool_calls");

    if (at[R_TEXT] >= 0) {
        f = ngx_http_moa_json_find(j, at[R_TEXT], "format");
        t = (f >= 0 && j->tok[f].type == '{')
            ? ngx_http_moa_json_find(j, f, "type") : -1;

        if (ngx_http_moa_field_is(j, t, "json_object")) {
            ngx_http_moa_buf_lit(b, ",\"response_format\":{\"type\":"
                                 "\"json_object\"}");

        } else if (ngx_http_moa_field_is(j, t, "json_schema")) {
            ngx_http_moa_buf_lit(b, ",\"response_format\":{\"type\":"
                                 "\"json_schema\",\"json_schema\":{\"name\":");
            ngx_http_moa_responses_params_raw(b, j,
                                        ngx_http_moa_json_find(j, f, "name"));
            ngx_http_moa_responses_params_copy(b, j,
                                      ngx_http_moa_json_find(j, f, "schema"),
                                      "schema");

            v = ngx_http_moa_json_find(j, f, "strict");
            if (v >= 0 && j->tok[v].type != 'n') {
                ngx_http_moa_responses_params_copy(b, j, v, "strict");
            }

            v = ngx_http_moa_json_find(j, f, "description");
            if (v >= 0 && j->tok[v].type != 'n') {
                ngx_http_moa_responses_params_copy(b, j, v, "description");
            }

            ngx_http_moa_buf_lit(b, "}}");
        }

        v = ngx_http_moa_json_find(j, at[R_TEXT], "verbosity");
        if (v >= 0 && j->tok[v].type != 'n') {
            ngx_http_moa_responses_params_copy(b, j, v, "verbosity");
        }
    }

    if (at[R_REASONING] >= 0) {
        v = ngx_http_moa_json_find(j, at[R_REASONING], "effort");
        if (v >= 0 && j->tok[v].type != 'n') {
            ngx_http_moa_responses_params_copy(b, j, v, "reasoning_effort");
        }
    }

    ngx_http_moa_responses_params_copy(b, j, at[R_MAX_OUTPUT],
                                        "max_completion_tokens");
    ngx_http_moa_responses_params_copy(b, j, at[R_TEMPERATURE],
                                        "temperature");
    ngx_http_moa_responses_params_copy(b, j, at[R_TOP_P], "top_p");
    ngx_http_moa_responses_params_copy(b, j, at[R_METADATA], "metadata");
    ngx_http_moa_responses_params_copy(b, j, at[R_USER], "user");
    ngx_http_moa_responses_params_copy(b, j, at[R_SAFETY],
                                        "safety_identifier");
    ngx_http_moa_responses_params_copy(b, j, at[R_CACHE_KEY],
                                        "prompt_cache_key");
    ngx_http_moa_responses_params_copy(b, j, at[R_SERVICE_TIER],
                                        "service_tier");

    if (stream) {
        ngx_http_moa_buf_lit(b, ",\"stream\":true,\"stream_options\":"
                             "{\"include_usage\":true}");
    }

    ngx_http_moa_buf_lit(b, "}");
}


/*
 * A value of the client's as the echo holds it: on one line, because the
 * echo goes into the data line of stream events.  Outside strings a JSON
 * text's CR and LF are white space (inside, they are escaped).
 */
static void
ngx_http_moa_responses_params_line(ngx_http_moa_buf_t *b,
    const ngx_http_moa_json_t *j, int i)
{
    size_t  at, k;

    at = b->len;
    ngx_http_moa_responses_params_raw(b, j, i);

    if (b->nomem || j->tok[i].type == '"') {
        return;
    }

    for (k = at; k < b->len; k++) {
        if (b->data[k] == '\n' || b->data[k] == '\r') {
            b->data[k] = ' ';
        }
    }
}


/* a member of the echo (key: ,"name":): the value given, or the default */
static void
ngx_http_moa_responses_params_put(ngx_http_moa_buf_t *b,
    const ngx_http_moa_json_t *j, int i, const char *key, const char *dflt)
{
    /* two appends a member: the echo is on every response's path */

    ngx_http_moa_buf_cstr(b, key);

    if (i >= 0 && j->tok[i].type != 'n') {
        ngx_http_moa_responses_params_line(b, j, i);

    } else {
        ngx_http_moa_buf_cstr(b, dflt);
    }
}


/*
 * The tools as a response echoes them: a function tool with every member
 * OpenAI returns (description and parameters null when not given, strict
 * true by default, as OpenAI echoes it); another tool as it came (only a
 * passthrough gets one this far).
 */
static void
ngx_http_moa_responses_params_tools(ngx_http_moa_buf_t *b,
    const ngx_http_moa_json_t *j, int tools)
{
    int          t, v, n;
    size_t       k;
    const char  *names[] = { ",\"description\":", ",\"parameters\":",
                             ",\"strict\":" };
    const char  *keys[] = { "description", "parameters", "strict" };
    const char  *dflt[] = { "null", "null", "true" };

    if (tools < 0 || j->tok[tools].type != '[') {
        ngx_http_moa_buf_lit(b, ",\"tools\":[]");
        return;
    }

    ngx_http_moa_buf_lit(b, ",\"tools\":[");
    n = 0;

    for (t = ngx_http_moa_json_first(j, tools); t >= 0;
         t = ngx_http_moa_json_after(j, tools, t))
    {
        if (n++) {
            ngx_http_moa_buf_lit(b, ",");
        }

        if (!ngx_http_moa_field_is(j, ngx_http_moa_json_find(j, t, "type"),
                                   "function"))
        {
            ngx_http_moa_responses_params_line(b, j, t);
            continue;
        }

        ngx_http_moa_buf_lit(b, "{\"type\":\"function\",\"name\":");
        ngx_http_moa_responses_params_raw(b, j,
                                        ngx_http_moa_json_find(j, t, "name"));

        for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
            v = ngx_http_moa_json_find(j, t, keys[k]);
            ngx_http_moa_responses_params_put(b, j, v, names[k], dflt[k]);
        }

        ngx_http_moa_buf_lit(b, "}");
    }

    ngx_http_moa_buf_lit(b, "]");
}


/* the echo when no parameter is given: what the code below writes then */
#define NGX_HTTP_MOA_RESPONSES_PARAMS_DEFAULTS                               \
    "\"instructions\":null,\"max_output_tokens\":null,"                     \
    "\"max_tool_calls\":null,\"parallel_tool_calls\":true,"                 \
    "\"previous_response_id\":null,\"reasoning\":{\"effort\":null,"          \
    "\"summary\":null},\"service_tier\":\"default\",\"store\":true,"         \
    "\"temperature\":1.0,\"text\":{\"format\":{\"type\":\"text\"},"          \
    "\"verbosity\":\"medium\"},\"tool_choice\":\"auto\",\"tools\":[],"       \
    "\"top_logprobs\":0,\"top_p\":1.0,\"truncation\":\"disabled\","          \
    "\"user\":null,\"metadata\":{},\"safety_identifier\":null,"            \
    "\"prompt_cache_key\":null,\"presence_penalty\":0,"                   \
    "\"frequency_penalty\":0"


/* the request's parameters as a response object echoes them */
void
ngx_http_moa_responses_params_echo(ngx_http_moa_buf_t *b,
    const ngx_http_moa_json_t *j, const int *at)
{
    int  v;
    int  m;

    static const int  echoed[] = {
        R_INSTRUCTIONS, R_MAX_OUTPUT, R_MAX_TOOL_CALLS, R_PARALLEL,
        R_PREVIOUS, R_REASONING, R_SERVICE_TIER, R_STORE, R_TEMPERATURE,
        R_TEXT, R_TOOL_CHOICE, R_TOOLS, R_TOP_LOGPROBS, R_TOP_P,
        R_TRUNCATION, R_USER, R_METADATA, R_SAFETY, R_CACHE_KEY
    };

    /* none given (as often): the defaults, in one piece */

    for (m = 0; m < (int) (sizeof(echoed) / sizeof(echoed[0])); m++) {
        if (at[echoed[m]] >= 0) {
            break;
        }
    }

    if (m == (int) (sizeof(echoed) / sizeof(echoed[0]))) {
        ngx_http_moa_buf_lit(b, NGX_HTTP_MOA_RESPONSES_PARAMS_DEFAULTS);
        return;
    }

    ngx_http_moa_responses_params_put(b, j, at[R_INSTRUCTIONS],
                                       "\"instructions\":", "null");
    ngx_http_moa_responses_params_put(b, j, at[R_MAX_OUTPUT],
                                       ",\"max_output_tokens\":", "null");
    ngx_http_moa_responses_params_put(b, j, at[R_MAX_TOOL_CALLS],
                                       ",\"max_tool_calls\":", "null");
    ngx_http_moa_responses_params_put(b, j, at[R_PARALLEL],
                                       ",\"parallel_tool_calls\":", "true");
    ngx_http_moa_responses_params_put(b, j, at[R_PREVIOUS],
                                       ",\"previous_response_id\":", "null");

    ngx_http_moa_buf_lit(b, ",\"reasoning\":{\"effort\":");
    v = at[R_REASONING] >= 0
        ? ngx_http_moa_json_find(j, at[R_REASONING], "effort") : -1;

    if (v >= 0 && j->tok[v].type != 'n') {
        ngx_http_moa_responses_params_line(b, j, v);

    } else {
        ngx_http_moa_buf_lit(b, "null");
    }

    v = at[R_REASONING] >= 0
        ? ngx_http_moa_json_find(j, at[R_REASONING], "summary") : -1;
    ngx_http_moa_responses_params_put(b, j, v, ",\"summary\":", "null");
    ngx_http_moa_buf_lit(b, "}");

    ngx_http_moa_responses_params_put(b, j, at[R_SERVICE_TIER],
                                       ",\"service_tier\":", "\"default\"");
    ngx_http_moa_responses_params_put(b, j, at[R_STORE], ",\"store\":",
                                      "true");
    ngx_http_moa_responses_params_put(b, j, at[R_TEMPERATURE],
                                       ",\"temperature\":", "1.0");

    ngx_http_moa_buf_lit(b, ",\"text\":{\"format\":");
    v = at[R_TEXT] >= 0 ? ngx_http_moa_json_find(j, at[R_TEXT], "format")
                        : -1;

    if (v >= 0 && j->tok[v].type != 'n') {
        ngx_http_moa_responses_params_line(b, j, v);

    } else {
        ngx_http_moa_buf_lit(b, "{\"type\":\"text\"}");
    }

    v = at[R_TEXT] >= 0 ? ngx_http_moa_json_find(j, at[R_TEXT], "verbosity")
                        : -1;
    ngx_http_moa_responses_params_put(b, j, v, ",\"verbosity\":",
                                      "\"medium\"");
    ngx_http_moa_buf_lit(b, "}");

    ngx_http_moa_responses_params_put(b, j, at[R_TOOL_CHOICE],
                                       ",\"tool_choice\":", "\"auto\"");
    ngx_http_moa_responses_params_tools(b, j, at[R_TOOLS]);
    ngx_http_moa_responses_params_put(b, j, at[R_TOP_LOGPROBS],
                                       ",\"top_logprobs\":", "0");
    ngx_http_moa_responses_params_put(b, j, at[R_TOP_P], ",\"top_p\":",
                                      "1.0");
    ngx_http_moa_responses_params_put(b, j, at[R_TRUNCATION],
                                      ",\"truncation\":", "\"disabled\"");
    ngx_http_moa_responses_params_put(b, j, at[R_USER], ",\"user\":", "null");
    ngx_http_moa_responses_params_put(b, j, at[R_METADATA],
                                      ",\"metadata\":", "{}");
    ngx_http_moa_responses_params_put(b, j, at[R_SAFETY],
                                       ",\"safety_identifier\":", "null");
    ngx_http_moa_responses_params_put(b, j, at[R_CACHE_KEY],
                                       ",\"prompt_cache_key\":", "null");

    /* the Responses API takes neither: a response echoes their defaults */
    ngx_http_moa_buf_lit(b, ",\"presence_penalty\":0,"
                         "\"frequency_penalty\":0");
}
