
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the items of a Responses request's input, checked on the
 * request's tokens and written as Chat Completions messages from the
 * client's own bytes (raw JSON spans, no decoding): a message and its
 * parts; function_call items as the tool_calls of an assistant turn
 * (merged with the assistant message before them, as OpenAI does);
 * function_call_output as a tool message, matched by call_id; reasoning
 * kept for the store only, never in a prompt.  Each item is also kept
 * normalized, with an id, for a response store.
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_field.h"
#include "ngx_http_moa_responses_parts.h"
#include "ngx_http_moa_responses_items.h"
#include "ngx_http_moa_json_find.h"


#define ngx_http_moa_responses_items_raw(b, j, i)                            \
    ngx_http_moa_buf_add(b, (j)->tok[i].p, (j)->tok[i].len)


static const char  *ngx_http_moa_responses_items_roles[] = {
    "user", "assistant", "system", "developer", NULL
};

/* items of OpenAI's built-in tools: a Chat Completions provider has none */
static const char  *ngx_http_moa_responses_items_hosted[] = {
    "web_search_call", "file_search_call", "computer_call",
    "computer_call_output", "code_interpreter_call", "image_generation_call",
    "local_shell_call", "local_shell_call_output", "shell_call",
    "shell_call_output", "apply_patch_call", "apply_patch_call_output",
    "mcp_list_tools", "mcp_approval_request", "mcp_approval_response",
    "mcp_call", "custom_tool_call", "custom_tool_call_output", NULL
};

static const char  *ngx_http_moa_responses_items_types[] = {
    "message", "function_call", "function_call_output", "reasoning",
    "item_reference", NULL
};


static int ngx_http_moa_responses_items_one(
    ngx_http_moa_responses_items_t *it, const ngx_http_moa_json_t *j, int i,
    const char *base, ngx_http_moa_error_t *err);
static int ngx_http_moa_responses_items_message(
    ngx_http_moa_responses_items_t *it, const ngx_http_moa_json_t *j, int m,
    const char *base, ngx_http_moa_error_t *err);
static int ngx_http_moa_responses_items_call(
    ngx_http_moa_responses_items_t *it, const ngx_http_moa_json_t *j, int c,
    const char *base, ngx_http_moa_error_t *err);
static int ngx_http_moa_responses_items_output(
    ngx_http_moa_responses_items_t *it, const ngx_http_moa_json_t *j, int c,
    const char *base, ngx_http_moa_error_t *err);
static void ngx_http_moa_responses_items_keep(
    ngx_http_moa_responses_items_t *it, const ngx_http_moa_json_t *j, int i,
    const char *prefix);
static void ngx_http_moa_responses_items_next(
    ngx_http_moa_responses_items_t *it);


void
ngx_http_moa_responses_items_id(uint64_t *seed, const char *prefix, char *id)
{
    int       k, d;
    size_t    n;
    uint64_t  z;

    static const char  hex[] = "0123456789abcdef";
    static char        pairs[512];

    /* two digits a byte: ids are made on every response's path */

    if (pairs[0] == '\0') {
        for (d = 0; d < 256; d++) {
            pairs[2 * d] = hex[d >> 4];
            pairs[2 * d + 1] = hex[d & 0xf];
        }
    }

    n = strlen(prefix);
    memcpy(id, prefix, n);

    /* splitmix64: three words of 16 digits */

    for (k = 0; k < 3; k++) {
        *seed += 0x9e3779b97f4a7c15ULL;
        z = *seed;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;

        for (d = 0; d < 8; d++) {
            memcpy(id + n, &pairs[2 * ((z >> (56 - 8 * d)) & 0xff)], 2);
            n += 2;
        }
    }

    id[n] = '\0';
}


void
ngx_http_moa_responses_items_unsupported(ngx_http_moa_responses_items_t *it,
    const char *param, const char *fmt, ...)
{
    va_list  args;

    if (it->unsupported[0] != '\0') {
        return;
    }

    snprintf(it->unsupported_param, NGX_HTTP_MOA_RESPONSES_UNSUPPORTED_PARAM,
             "%s", it->prior ? "previous_response_id" : param);

    va_start(args, fmt);
    vsnprintf(it->unsupported, NGX_HTTP_MOA_RESPONSES_UNSUPPORTED, fmt, args);
    va_end(args);
}


int
ngx_http_moa_responses_items_text(ngx_http_moa_responses_items_t *it,
    const ngx_http_moa_span_t *text)
{
    char  id[NGX_HTTP_MOA_RESPONSES_ID_LEN];

    ngx_http_moa_responses_items_next(it);

    ngx_http_moa_buf_lit(it->chat, "{\"role\":\"user\",\"content\":");
    ngx_http_moa_buf_add(it->chat, text->p, text->len);
    ngx_http_moa_buf_lit(it->chat, "}");

    if (it->input) {
        ngx_http_moa_responses_items_id(it->seed, "msg_", id);

        ngx_http_moa_buf_lit(it->input, "[{\"id\":\"");
        ngx_http_moa_buf_cstr(it->input, id);
        ngx_http_moa_buf_lit(it->input, "\",\"type\":\"message\",\"role\":"
                             "\"user\",\"content\":[{\"type\":\"input_text\","
                             "\"text\":");
        ngx_http_moa_buf_add(it->input, text->p, text->len);
        ngx_http_moa_buf_lit(it->input, "}]}]");
    }

    return it->chat->nomem || (it->input && it->input->nomem) ? -2 : 0;
}


int
ngx_http_moa_responses_items_add(ngx_http_moa_responses_items_t *it,
    const ngx_http_moa_json_t *j, int arr, const char *base,
    ngx_http_moa_error_t *err)
{
    int   i, k;
    char  name[NGX_HTTP_MOA_FIELD_PATH];

    if (it->input) {
        ngx_http_moa_buf_lit(it->input, "[");
    }

    k = 0;

    for (i = ngx_http_moa_json_first(j, arr); i >= 0;
         i = ngx_http_moa_json_after(j, arr, i), k++)
    {
        ngx_http_moa_field_path(err, name, "%s[%d]", base, k);

        if (it->input && k) {
            ngx_http_moa_buf_lit(it->input, ",");
        }

        if (ngx_http_moa_responses_items_one(it, j, i, name, err) != 0) {
            return -1;
        }
    }

    if (it->input) {
        ngx_http_moa_buf_lit(it->input, "]");
    }

    return it->chat->nomem || (it->input && it->input->nomem) ? -2 : 0;
}


static int
ngx_http_moa_responses_items_one(ngx_http_moa_responses_items_t *it,
    const ngx_http_moa_json_t *j, int i, const char *base,
    ngx_http_moa_error_t *err)
{
    int           t, v;
    char          name[NGX_HTTP_MOA_FIELD_PATH];
    const char  **h;

    if (j->tok[i].type != '{') {
        return ngx_http_moa_field_bad_type(j, i, base, "an object", err);
    }

    if (ngx_http_moa_field_member(j, i, "type", '"', base, 0, err, &t) != 0
        || ngx_http_moa_field_member(j, i, "id", '"', base, 0, err, &v) != 0)
    {
        return -1;
    }

    /* an "easy" message has a role and no type */

    if (t < 0 || ngx_http_moa_field_is(j, t, "message")) {
        return ngx_http_moa_responses_items_message(it, j, i, base, err);
    }

    if (ngx_http_moa_field_is(j, t, "function_call")) {
        return ngx_http_moa_responses_items_call(it, j, i, base, err);
    }

    if (ngx_http_moa_field_is(j, t, "function_call_output")) {
        return ngx_http_moa_responses_items_output(it, j, i, base, err);
    }

    if (ngx_http_moa_field_is(j, t, "reasoning")) {

        /* kept for the store and a Responses provider, never prompted */

        if (ngx_http_moa_field_member(j, i, "summary", '[', base, 1, err, &v)
            != 0)
        {
            return -1;
        }

        ngx_http_moa_responses_items_keep(it, j, i, "rs_");
        return 0;
    }

    if (ngx_http_moa_field_is(j, t, "item_reference")) {
        if (ngx_http_moa_field_member(j, i, "id", '"', base, 1, err, &v)
            != 0)
        {
            return -1;
        }

        ngx_http_moa_field_path(err, name, "%s.id", base);
        ngx_http_moa_responses_items_unsupported(it, err ? name : "",
                                    "An item_reference that is not an item "
                                    "of previous_response_id");
        ngx_http_moa_responses_items_keep(it, j, i, "ref_");
        return 0;
    }

    for (h = ngx_http_moa_responses_items_hosted; *h; h++) {
        if (ngx_http_moa_field_is(j, t, *h)) {
            ngx_http_moa_field_path(err, name, "%s.type", base);
            ngx_http_moa_responses_items_unsupported(it, err ? name : "",
                                                     "The input item type "
                                                     "'%s'", *h);
            ngx_http_moa_responses_items_keep(it, j, i, "item_");
            return 0;
        }
    }

    ngx_http_moa_field_path(err, name, "%s.type", base);

    return ngx_http_moa_field_one_of(j, t, name,
                                     ngx_http_moa_responses_items_types, err);
}


/* a comma before every message but the first; an open turn ends */
static void
ngx_http_moa_responses_items_next(ngx_http_moa_responses_items_t *it)
{
    ngx_http_moa_responses_items_close(it);

    if (it->nmessages++) {
        ngx_http_moa_buf_lit(it->chat, ",");
    }
}


void
ngx_http_moa_responses_items_close(ngx_http_moa_responses_items_t *it)
{
    if (it->open == 2) {
        ngx_http_moa_buf_lit(it->chat, "]}");

    } else if (it->open == 1) {
        ngx_http_moa_buf_lit(it->chat, "}");
    }

    it->open = 0;
}


static int
ngx_http_moa_responses_items_message(ngx_http_moa_responses_items_t *it,
    const ngx_http_moa_json_t *j, int m, const char *base,
    ngx_http_moa_error_t *err)
{
    int           role, content, p, k, assistant, texts;
    char          name[NGX_HTTP_MOA_FIELD_PATH];
    char          param[NGX_HTTP_MOA_FIELD_PATH];
    char          id[NGX_HTTP_MOA_RESPONSES_ID_LEN];
    size_t        at;
    const char   *r, *what;

    role = ngx_http_moa_json_find(j, m, "role");
    ngx_http_moa_field_path(err, name, "%s.role", base);

    if (role < 0) {
        return ngx_http_moa_field_missing(name, err);
    }

    if (ngx_http_moa_field_one_of(j, role, name,
                                  ngx_http_moa_responses_items_roles, err)
        != 0)
    {
        return -1;
    }

    assistant = ngx_http_moa_field_is(j, role, "assistant");

    content = ngx_http_moa_json_find(j, m, "content");
    ngx_http_moa_field_path(err, name, "%s.content", base);

    if (content < 0 || j->tok[content].type == 'n') {
        return ngx_http_moa_field_missing(name, err);
    }

    if (j->tok[content].type != '"' && j->tok[content].type != '[') {
        return ngx_http_moa_field_bad_type(j, content, name,
                                           "one of a string or array of "
                                           "input content parts", err);
    }

    if (j->tok[content].type == '['
        && ngx_http_moa_json_first(j, content) < 0)
    {
        return ngx_http_moa_field_fail(err, "empty_array", name,
                                       "Invalid '%s': empty array. "
                                       "Expected an array with minimum "
                                       "length 1, but got an empty array "
                                       "instead.", name);
    }

    /* the chat message: developer is system for every provider */

    r = assistant ? "assistant"
                  : ngx_http_moa_field_is(j, role, "user") ? "user"
                                                           : "system";

    ngx_http_moa_responses_items_next(it);

    ngx_http_moa_buf_lit(it->chat, "{\"role\":\"");
    ngx_http_moa_buf_cstr(it->chat, r);
    ngx_http_moa_buf_lit(it->chat, "\",\"content\":");

    if (j->tok[content].type == '"') {
        ngx_http_moa_responses_items_raw(it->chat, j, content);

    } else {
        at = it->chat->len;
        ngx_http_moa_buf_lit(it->chat, "[");
        texts = 0;
        k = 0;

        for (p = ngx_http_moa_json_first(j, content); p >= 0;
             p = ngx_http_moa_json_after(j, content, p), k++)
        {
            ngx_http_moa_field_path(err, name, "%s.content[%d]", base, k);

            what = NULL;

            switch (ngx_http_moa_responses_parts_part(it->chat, j, p, name,
                                                      assistant, &what,
                                                      param, err))
            {
            case -1:
                return -1;
            case 1:
                texts++;
                break;
            default:
                break;
            }

            if (what) {
                ngx_http_moa_responses_items_unsupported(it, err ? param : "",
                                                         "%s", what);
            }
        }

        if (texts) {
            ngx_http_moa_buf_lit(it->chat, "]");

        } else if (!it->chat->nomem) {
            /* an assistant's refusal alone */
            it->chat->len = at;
            ngx_http_moa_buf_lit(it->chat, "null");
        }

        /* the assistant's refusal, if any: the first */

        for (p = ngx_http_moa_json_first(j, content);
             assistant && p >= 0;
             p = ngx_http_moa_json_after(j, content, p))
        {
            k = ngx_http_moa_json_find(j, p, "refusal");

            if (k >= 0) {
                ngx_http_moa_buf_lit(it->chat, ",\"refusal\":");
                ngx_http_moa_responses_items_raw(it->chat, j, k);
                break;
            }
        }
    }

    if (assistant) {
        /* function_call items may follow: its tool_calls */
        it->open = 1;

    } else {
        ngx_http_moa_buf_lit(it->chat, "}");
    }

    if (it->input == NULL) {
        return 0;
    }

    ngx_http_moa_buf_lit(it->input, "{\"id\":");
    k = ngx_http_moa_json_find(j, m, "id");

    if (k >= 0) {
        ngx_http_moa_responses_items_raw(it->input, j, k);

    } else {
        ngx_http_moa_responses_items_id(it->seed, "msg_", id);
        ngx_http_moa_buf_lit(it->input, "\"");
        ngx_http_moa_buf_cstr(it->input, id);
        ngx_http_moa_buf_lit(it->input, "\"");
    }

    ngx_http_moa_buf_lit(it->input, ",\"type\":\"message\",\"role\":");
    ngx_http_moa_responses_items_raw(it->input, j, role);
    ngx_http_moa_buf_lit(it->input, ",\"content\":");

    if (j->tok[content].type == '"') {
        ngx_http_moa_buf_cstr(it->input, assistant
                              ? "[{\"type\":\"output_text\",\"text\":"
                              : "[{\"type\":\"input_text\",\"text\":");
        ngx_http_moa_responses_items_raw(it->input, j, content);
        ngx_http_moa_buf_lit(it->input, "}]}");

    } else {
        ngx_http_moa_responses_items_raw(it->input, j, content);
        ngx_http_moa_buf_lit(it->input, "}");
    }

    return 0;
}


/* a function_call: a tool call of the assistant's turn */
static int
ngx_http_moa_responses_items_call(ngx_http_moa_responses_items_t *it,
    const ngx_http_moa_json_t *j, int c, const char *base,
    ngx_http_moa_error_t *err)
{
    int                   id, name, args, v;
    char                  sub[NGX_HTTP_MOA_FIELD_PATH];
    ngx_http_moa_span_t  *calls;

    if (ngx_http_moa_field_member(j, c, "call_id", '"', base, 1, err, &id)
        != 0
        || ngx_http_moa_field_member(j, c, "name", '"', base, 1, err, &name)
           != 0
        || ngx_http_moa_field_member(j, c, "arguments", '"', base, 1, err,
                                     &args)
           != 0
        || ngx_http_moa_field_member(j, c, "status", '"', base, 0, err, &v)
           != 0)
    {
        return -1;
    }

    ngx_http_moa_field_path(err, sub, "%s.name", base);

    if (ngx_http_moa_field_name(j, name, sub, err) != 0) {
        return -1;
    }

    if (it->ncalls == it->calls_size) {
        it->calls_size = it->calls_size ? 2 * it->calls_size : 8;
        calls = realloc(it->calls,
                        it->calls_size * sizeof(ngx_http_moa_span_t));
        if (calls == NULL) {
            it->chat->nomem = 1;
            return -2;
        }

        it->calls = calls;
    }

    ngx_http_moa_json_span(j, id, &it->calls[it->ncalls]);
    it->ncalls++;

    switch (it->open) {

    case 0:
        ngx_http_moa_responses_items_next(it);
        ngx_http_moa_buf_lit(it->chat, "{\"role\":\"assistant\",\"content\":"
                             "null,\"tool_calls\":[");
        break;

    case 1:
        ngx_http_moa_buf_lit(it->chat, ",\"tool_calls\":[");
        break;

    default:
        ngx_http_moa_buf_lit(it->chat, ",");
    }

    it->open = 2;

    ngx_http_moa_buf_lit(it->chat, "{\"id\":");
    ngx_http_moa_responses_items_raw(it->chat, j, id);
    ngx_http_moa_buf_lit(it->chat, ",\"type\":\"function\",\"function\":"
                         "{\"name\":");
    ngx_http_moa_responses_items_raw(it->chat, j, name);
    ngx_http_moa_buf_lit(it->chat, ",\"arguments\":");
    ngx_http_moa_responses_items_raw(it->chat, j, args);
    ngx_http_moa_buf_lit(it->chat, "}}");

    ngx_http_moa_responses_items_keep(it, j, c, "fc_");

    return 0;
}


/* a function_call_output: the tool message answering the call_id */
static int
ngx_http_moa_responses_items_output(ngx_http_moa_responses_items_t *it,
    const ngx_http_moa_json_t *j, int c, const char *base,
    ngx_http_moa_error_t *err)
{
    int     id, out, p, k, t, v;
    char    sub[NGX_HTTP_MOA_FIELD_PATH];
    size_t  n;

    if (ngx_http_moa_field_member(j, c, "call_id", '"', base, 1, err, &id)
        != 0)
    {
        return -1;
    }

    out = ngx_http_moa_json_find(j, c, "output");
    ngx_http_moa_field_path(err, sub, "%s.output", base);

    if (out < 0 || j->tok[out].type == 'n') {
        return ngx_http_moa_field_missing(sub, err);
    }

    if (j->tok[out].type != '"' && j->tok[out].type != '[') {
        return ngx_http_moa_field_bad_type(j, out, sub, "one of a string or "
                                           "array of output content parts",
                                           err);
    }

    for (n = 0; n < it->ncalls; n++) {
        if (it->calls[n].len == j->tok[id].len
            && memcmp(it->calls[n].p, j->tok[id].p, j->tok[id].len) == 0)
        {
            break;
        }
    }

    if (n == it->ncalls) {
        ngx_http_moa_field_path(err, sub, "%s.call_id", base);
        return ngx_http_moa_field_fail(err, "invalid_value", sub,
                                       "No tool call found for function "
                                       "call output with call_id %.*s.",
                                       (int) (j->tok[id].len < 66
                                              ? j->tok[id].len - 2 : 64),
                                       j->tok[id].p + 1);
    }

    ngx_http_moa_responses_items_next(it);

    ngx_http_moa_buf_lit(it->chat, "{\"role\":\"tool\",\"tool_call_id\":");
    ngx_http_moa_responses_items_raw(it->chat, j, id);
    ngx_http_moa_buf_lit(it->chat, ",\"content\":");

    if (j->tok[out].type == '"') {
        ngx_http_moa_responses_items_raw(it->chat, j, out);

    } else {
        ngx_http_moa_buf_lit(it->chat, "[");
        k = 0;

        for (p = ngx_http_moa_json_first(j, out); p >= 0;
             p = ngx_http_moa_json_after(j, out, p), k++)
        {
            ngx_http_moa_field_path(err, sub, "%s.output[%d]", base, k);

            if (j->tok[p].type != '{') {
                return ngx_http_moa_field_bad_type(j, p, sub, "an object",
                                                   err);
            }

            if (ngx_http_moa_field_member(j, p, "type", '"', sub, 1, err, &t)
                != 0)
            {
                return -1;
            }

            if (!ngx_http_moa_field_is(j, t, "input_text")) {
                /* a tool message of Chat Completions holds text only */
                ngx_http_moa_responses_items_unsupported(it, err ? sub : "",
                                            "A function_call_output part "
                                            "other than input_text");
                continue;
            }

            if (ngx_http_moa_field_member(j, p, "text", '"', sub, 1, err, &v)
                != 0)
            {
                return -1;
            }

            if (it->chat->data[it->chat->len - 1] != '[') {
                ngx_http_moa_buf_lit(it->chat, ",");
            }

            ngx_http_moa_buf_lit(it->chat, "{\"type\":\"text\",\"text\":");
            ngx_http_moa_responses_items_raw(it->chat, j, v);
            ngx_http_moa_buf_lit(it->chat, "}");
        }

        if (it->chat->data[it->chat->len - 1] == '[') {
            /* the chat contract wants text: an empty output is "" */
            it->chat->len--;
            ngx_http_moa_buf_lit(it->chat, "\"\"");

        } else {
            ngx_http_moa_buf_lit(it->chat, "]");
        }
    }

    ngx_http_moa_buf_lit(it->chat, "}");

    ngx_http_moa_responses_items_keep(it, j, c, "fco_");

    return it->chat->nomem ? -2 : 0;
}


/* the item as it came, with an id of its own if it had none */
static void
ngx_http_moa_responses_items_keep(ngx_http_moa_responses_items_t *it,
    const ngx_http_moa_json_t *j, int i, const char *prefix)
{
    char  id[NGX_HTTP_MOA_RESPONSES_ID_LEN];

    if (it->input == NULL) {
        return;
    }

    if (ngx_http_moa_json_find(j, i, "id") >= 0) {
        ngx_http_moa_responses_items_raw(it->input, j, i);
        return;
    }

    ngx_http_moa_responses_items_id(it->seed, prefix, id);

    ngx_http_moa_buf_lit(it->input, "{\"id\":\"");
    ngx_http_moa_buf_cstr(it->input, id);
    ngx_http_moa_buf_lit(it->input, "\"");

    /* the members after the brace: "{}" has none */

    if (j->tok[i].next > (uint32_t) i + 1) {
        ngx_http_moa_buf_lit(it->input, ",");
    }

    ngx_http_moa_buf_add(it->input, j->tok[i].p + 1, j->tok[i].len - 1);
}


void
ngx_http_moa_responses_items_free(ngx_http_moa_responses_items_t *it)
{
    free(it->calls);
    it->calls = NULL;
    it->ncalls = 0;
    it->calls_size = 0;
}
