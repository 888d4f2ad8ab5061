
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: each message of a request checked on its tokens: content
 * (a string or parts), name, tool_call_id and an assistant's tool calls.
 */


#include <stdio.h>

#include "ngx_http_moa_field.h"
#include "ngx_http_moa_messages.h"
#include "ngx_http_moa_json_find.h"


static const char  *ngx_http_moa_messages_part_types[] = {
    "text", "image_url", "input_audio", "file", "refusal", NULL
};


/* one content part of message base: {"type":..., <type>: ...} */
static int
ngx_http_moa_messages_part(const ngx_http_moa_json_t *j, int i,
    const char *base, ngx_http_moa_error_t *err)
{
    int   t, v;
    char  name[NGX_HTTP_MOA_FIELD_PATH];

    if (j->tok[i].type != '{') {
        return ngx_http_moa_field_bad_type(j, i, base, "an object", err);
    }

    if (ngx_http_moa_field_member(j, i, "type", '"', base, 1, err, &t)
        != 0)
    {
        return -1;
    }

    ngx_http_moa_field_path(err, name, "%s.type", base);

    if (ngx_http_moa_field_one_of(j, t, name, ngx_http_moa_messages_part_types,
                                  err)
        != 0)
    {
        return -1;
    }

    if (ngx_http_moa_field_is(j, t, "text")) {
        return ngx_http_moa_field_member(j, i, "text", '"', base, 1, err,
                                         &v);
    }

    if (ngx_http_moa_field_is(j, t, "refusal")) {
        return ngx_http_moa_field_member(j, i, "refusal", '"', base, 1, err,
                                         &v);
    }

    if (ngx_http_moa_field_is(j, t, "image_url")) {
        if (ngx_http_moa_field_member(j, i, "image_url", '{', base, 1, err,
                                      &v)
            != 0)
        {
            return -1;
        }

        ngx_http_moa_field_path(err, name, "%s.image_url", base);

        return ngx_http_moa_field_member(j, v, "url", '"', name, 1, err, &v);
    }

    if (ngx_http_moa_field_is(j, t, "input_audio")) {
        return ngx_http_moa_field_member(j, i, "input_audio", '{', base, 1,
                                         err, &v);
    }

    return ngx_http_moa_field_member(j, i, "file", '{', base, 1, err, &v);
}


/* a message's content: a string, an array of parts, or null (assistant) */
static int
ngx_http_moa_messages_content(const ngx_http_moa_json_t *j, int msg,
    const char *base, int assistant, ngx_http_moa_error_t *err)
{
    int   i, p, k;
    char  name[NGX_HTTP_MOA_FIELD_PATH];

    i = ngx_http_moa_json_find(j, msg, "content");

    ngx_http_moa_field_path(err, name, "%s.content", base);

    if (i < 0 || j->tok[i].type == 'n') {
        /* an assistant's turn may be tool calls alone */
        return assistant ? 0 : ngx_http_moa_field_missing(name, err);
    }

    if (j->tok[i].type == '"') {
        return 0;
    }

    if (j->tok[i].type != '[') {
        return ngx_http_moa_field_bad_type(j, i, name,
                                           "one of a string or array of "
                                           "objects", err);
    }

    if (ngx_http_moa_json_first(j, i) < 0 && !assistant) {
        return ngx_http_moa_field_fail(err, "empty_array", name,
                                       "Invalid '%s': empty array. "
                                       "Expected an array with minimum "
                                       "length 1, but got an empty array "
                                       "instead.", name);
    }

    k = 0;

    for (p = ngx_http_moa_json_first(j, i); p >= 0;
         p = ngx_http_moa_json_after(j, i, p), k++)
    {
        ngx_http_moa_field_path(err, name, "%s.content[%d]", base, k);

        if (ngx_http_moa_messages_part(j, p, name, err) != 0) {
            return -1;
        }
    }

    return 0;
}


/* an assistant's tool_calls: [{"id","type":"function","function":{...}}] */
static int
ngx_http_moa_messages_tool_calls(const ngx_http_moa_json_t *j, int msg,
    const char *base, ngx_http_moa_error_t *err)
{
    int   i, c, k, t, f;
    char  name[NGX_HTTP_MOA_FIELD_PATH];

    if (ngx_http_moa_field_member(j, msg, "tool_calls", '[', base, 0, err,
                                  &i)
        != 0)
    {
        return -1;
    }

    k = 0;

    for (c = ngx_http_moa_json_first(j, i); i >= 0 && c >= 0;
         c = ngx_http_moa_json_after(j, i, c), k++)
    {
        ngx_http_moa_field_path(err, name, "%s.tool_calls[%d]", base, k);

        if (j->tok[c].type != '{') {
            return ngx_http_moa_field_bad_type(j, c, name, "an object", err);
        }

        if (ngx_http_moa_field_member(j, c, "id", '"', name, 1, err, &t)
            != 0
            || ngx_http_moa_field_member(j, c, "type", '"', name, 1, err, &t)
               != 0
            || ngx_http_moa_field_member(j, c, "function", '{', name, 1, err,
                                         &f)
               != 0)
        {
            return -1;
        }

        if (!ngx_http_moa_field_is(j, t, "function")) {
            ngx_http_moa_field_path(err, name, "%s.tool_calls[%d].type",
                                    base, k);
            return ngx_http_moa_field_fail(err, "invalid_value", name,
                                           "Invalid value for '%s': "
                                           "expected 'function'.", name);
        }

        ngx_http_moa_field_path(err, name, "%s.tool_calls[%d].function",
                                base, k);

        if (ngx_http_moa_field_member(j, f, "name", '"', name, 1, err, &t)
            != 0
            || ngx_http_moa_field_member(j, f, "arguments", '"', name, 1,
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
int
ngx_http_moa_messages_check(const ngx_http_moa_json_t *j, int i,
    const char *name, ngx_http_moa_error_t *err)
{
    int   m, k, role, assistant, tool, v;
    char  base[NGX_HTTP_MOA_FIELD_PATH];

    if (j->tok[i].type != '[') {
        return ngx_http_moa_field_bad_type(j, i, name, "an array", err);
    }

    k = 0;

    for (m = ngx_http_moa_json_first(j, i); m >= 0;
         m = ngx_http_moa_json_after(j, i, m), k++)
    {
        ngx_http_moa_field_path(err, base, "%s[%d]", name, k);

        /* the parse checked the first "messages", not a duplicate key's */
        if (j->tok[m].type != '{') {
            return ngx_http_moa_field_bad_type(j, m, base, "an object", err);
        }

        role = ngx_http_moa_json_find(j, m, "role");
        assistant = ngx_http_moa_field_is(j, role, "assistant");
        tool = ngx_http_moa_field_is(j, role, "tool");

        if (ngx_http_moa_messages_content(j, m, base, assistant, err) != 0
            || ngx_http_moa_field_member(j, m, "name", '"', base, 0, err, &v)
               != 0
            || ngx_http_moa_field_member(j, m, "tool_call_id", '"', base,
                                         tool, err, &v)
               != 0
            || (assistant
                && ngx_http_moa_messages_tool_calls(j, m, base, err) != 0))
        {
            return -1;
        }
    }

    return 0;
}
