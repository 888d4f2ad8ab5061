
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the Responses API's response object, written with the buffer
 * writers from the spans of a chat choice (no tree of the reply): a message
 * item with output_text parts and a refusal part, a function_call item per
 * tool call, the status a finish_reason gives, the usage renamed, and the
 * request's parameters echoed as the request's translation rendered them.
 */


#include <string.h>

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_buf_json.h"
#include "ngx_http_moa_json_text.h"
#include "ngx_http_moa_responses_object.h"


#define ngx_http_moa_responses_object_inner(b, v)                            \
    ngx_http_moa_buf_add(b, (v)->p + 1, (v)->len - 2)


void
ngx_http_moa_responses_object_write(ngx_http_moa_buf_t *out,
    const ngx_http_moa_responses_object_t *o, const char *status,
    const char *reason, const ngx_http_moa_error_t *error,
    const char *output, size_t output_len, const cJSON *usage)
{
    (void) ngx_http_moa_buf_reserve(out, 512 + output_len
                                         + (o->echo ? o->echo->len : 0));

    ngx_http_moa_responses_object_begin(out, o, status, reason, error);
    ngx_http_moa_buf_add(out, output, output_len);
    ngx_http_moa_responses_object_end(out, o, usage);
}


/* the object up to its output items: "...,"output":[" */
void
ngx_http_moa_responses_object_begin(ngx_http_moa_buf_t *out,
    const ngx_http_moa_responses_object_t *o, const char *status,
    const char *reason, const ngx_http_moa_error_t *error)
{
    ngx_http_moa_buf_lit(out, "{\"id\":\"");
    ngx_http_moa_buf_cstr(out, o->id);
    ngx_http_moa_buf_lit(out, "\",\"object\":\"response\",\"created_at\":");
    ngx_http_moa_buf_int(out, o->created_at);

    /* when it completed: null in the snapshots and the other ends */
    ngx_http_moa_buf_lit(out, ",\"completed_at\":");

    if (strcmp(status, "completed") == 0) {
        ngx_http_moa_buf_int(out, o->completed_at ? o->completed_at
                                                  : o->created_at);

    } else {
        ngx_http_moa_buf_lit(out, "null");
    }

    ngx_http_moa_buf_lit(out, ",\"status\":\"");
    ngx_http_moa_buf_cstr(out, status);
    ngx_http_moa_buf_lit(out, "\",\"background\":false,\"error\":");

    if (error) {
        ngx_http_moa_buf_lit(out, "{\"code\":");

        if (error->code) {
            ngx_http_moa_buf_json_str(out, error->code, strlen(error->code));

        } else {
            ngx_http_moa_buf_lit(out, "\"server_error\"");
        }

        ngx_http_moa_buf_lit(out, ",\"message\":");
        ngx_http_moa_buf_json_str(out, error->message,
                                  strlen(error->message));
        ngx_http_moa_buf_lit(out, "}");

    } else {
        ngx_http_moa_buf_lit(out, "null");
    }

    ngx_http_moa_buf_lit(out, ",\"incomplete_details\":");

    if (reason) {
        ngx_http_moa_buf_lit(out, "{\"reason\":\"");
        ngx_http_moa_buf_cstr(out, reason);
        ngx_http_moa_buf_lit(out, "\"}");

    } else {
        ngx_http_moa_buf_lit(out, "null");
    }

    ngx_http_moa_buf_lit(out, ",\"model\":");
    ngx_http_moa_buf_json_str(out, o->model, o->model_len);
    ngx_http_moa_buf_lit(out, ",\"output\":[");
}


/* the object after its output items: the echo, the usage */
void
ngx_http_moa_responses_object_end(ngx_http_moa_buf_t *out,
    const ngx_http_moa_responses_object_t *o, const cJSON *usage)
{
    ngx_http_moa_buf_lit(out, "]");

    if (o->echo && o->echo->len) {
        ngx_http_moa_buf_lit(out, ",");
        ngx_http_moa_buf_add(out, o->echo->data, o->echo->len);
    }

    ngx_http_moa_buf_lit(out, ",\"usage\":");

    if (usage) {
        ngx_http_moa_responses_object_usage(out, usage);

    } else {
        ngx_http_moa_buf_lit(out, "null");
    }

    ngx_http_moa_buf_lit(out, "}");
}


static long long
ngx_http_moa_responses_object_count(const cJSON *obj, const char *name,
    const char *sub)
{
    const cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(obj, name);

    if (sub && cJSON_IsObject(v)) {
        v = cJSON_GetObjectItemCaseSensitive(v, sub);
    }

    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e15) {
        return 0;
    }

    return (long long) v->valuedouble;
}


void
ngx_http_moa_responses_object_usage(ngx_http_moa_buf_t *out,
    const cJSON *usage)
{
    long long  in, o, total;

    in = ngx_http_moa_responses_object_count(usage, "prompt_tokens", NULL);
    o = ngx_http_moa_responses_object_count(usage, "completion_tokens", NULL);
    total = ngx_http_moa_responses_object_count(usage, "total_tokens", NULL);

    ngx_http_moa_buf_lit(out, "{\"input_tokens\":");
    ngx_http_moa_buf_int(out, in);
    ngx_http_moa_buf_lit(out, ",\"input_tokens_details\":{\"cached_tokens\":");
    ngx_http_moa_buf_int(out, ngx_http_moa_responses_object_count(usage,
                                   "prompt_tokens_details", "cached_tokens"));
    ngx_http_moa_buf_lit(out, "},\"output_tokens\":");
    ngx_http_moa_buf_int(out, o);
    ngx_http_moa_buf_lit(out, ",\"output_tokens_details\":"
                         "{\"reasoning_tokens\":");
    ngx_http_moa_buf_int(out, ngx_http_moa_responses_object_count(usage,
                              "completion_tokens_details",
                              "reasoning_tokens"));
    ngx_http_moa_buf_lit(out, "},\"total_tokens\":");
    ngx_http_moa_buf_int(out, total ? total : in + o);
    ngx_http_moa_buf_lit(out, "}");
}


const char *
ngx_http_moa_responses_object_reason(const char *finish, size_t len)
{
    if (len == 6 && memcmp(finish, "length", 6) == 0) {
        return "max_output_tokens";
    }

    if (len == 14 && memcmp(finish, "content_filter", 14) == 0) {
        return "content_filter";
    }

    return NULL;
}


const char *
ngx_http_moa_responses_object_reason_of(const ngx_http_moa_choice_t *choice)
{
    const ngx_http_moa_span_t  *f;

    /* the reply's parse found it: no walk past the message's text */
    f = &choice->finish_reason;

    if (f->len >= 2 && f->p[0] == '"') {
        return ngx_http_moa_responses_object_reason(f->p + 1, f->len - 2);
    }

    return NULL;
}


void
ngx_http_moa_responses_object_part(ngx_http_moa_buf_t *out, const char *text,
    size_t len, int refusal)
{
    if (refusal) {
        ngx_http_moa_buf_lit(out, "{\"type\":\"refusal\",\"refusal\":\"");
        ngx_http_moa_buf_add(out, text, len);
        ngx_http_moa_buf_lit(out, "\"}");
        return;
    }

    ngx_http_moa_buf_lit(out, "{\"type\":\"output_text\",\"annotations\":[],"
                         "\"logprobs\":[],\"text\":\"");
    ngx_http_moa_buf_add(out, text, len);
    ngx_http_moa_buf_lit(out, "\"}");
}


void
ngx_http_moa_responses_object_message(ngx_http_moa_buf_t *out,
    const char *id, const char *status, const char *text, size_t len,
    const char *refusal, size_t refusal_len, int refusal_first)
{
    ngx_http_moa_buf_lit(out, "{\"id\":\"");
    ngx_http_moa_buf_cstr(out, id);
    ngx_http_moa_buf_lit(out, "\",\"type\":\"message\",\"status\":\"");
    ngx_http_moa_buf_cstr(out, status);
    ngx_http_moa_buf_lit(out, "\",\"content\":[");

    if (refusal && refusal_first) {
        ngx_http_moa_responses_object_part(out, refusal, refusal_len, 1);
    }

    if (text) {
        if (refusal && refusal_first) {
            ngx_http_moa_buf_lit(out, ",");
        }

        ngx_http_moa_responses_object_part(out, text, len, 0);
    }

    if (refusal && !refusal_first) {
        if (text) {
            ngx_http_moa_buf_lit(out, ",");
        }

        ngx_http_moa_responses_object_part(out, refusal, refusal_len, 1);
    }

    ngx_http_moa_buf_lit(out, "],\"role\":\"assistant\"}");
}


void
ngx_http_moa_responses_object_call(ngx_http_moa_buf_t *out, const char *id,
    const char *status, const char *call_id, size_t call_id_len,
    const char *name, size_t name_len, const char *args, size_t args_len)
{
    ngx_http_moa_buf_lit(out, "{\"id\":\"");
    ngx_http_moa_buf_cstr(out, id);
    ngx_http_moa_buf_lit(out, "\",\"type\":\"function_call\",\"status\":\"");
    ngx_http_moa_buf_cstr(out, status);
    ngx_http_moa_buf_lit(out, "\",\"arguments\":\"");
    ngx_http_moa_buf_add(out, args, args_len);
    ngx_http_moa_buf_lit(out, "\",\"call_id\":\"");
    ngx_http_moa_buf_add(out, call_id, call_id_len);
    ngx_http_moa_buf_lit(out, "\",\"name\":\"");
    ngx_http_moa_buf_add(out, name, name_len);
    ngx_http_moa_buf_lit(out, "\"}");
}


/* a string span's inner text, or empty when it is not a string */
static void
ngx_http_moa_responses_object_str(const ngx_http_moa_span_t *v,
    ngx_http_moa_span_t *s)
{
    if (v->len >= 2 && v->p[0] == '"') {
        s->p = v->p + 1;
        s->len = v->len - 2;

    } else {
        s->p = "";
        s->len = 0;
    }
}


int
ngx_http_moa_responses_object_items(ngx_http_moa_buf_t *out,
    const ngx_http_moa_responses_object_t *o,
    const ngx_http_moa_choice_t *choice, const char **reason)
{
    int                   n, text, refusal;
    size_t                pos, at;
    const char           *status;
    ngx_http_moa_span_t   v, r, f, call, fn, id, name, args;
    char                  item[NGX_HTTP_MOA_RESPONSES_ID_LEN];

    *reason = ngx_http_moa_responses_object_reason_of(choice);

    status = *reason ? "incomplete" : "completed";
    n = 0;

    /*
     * the message: the text (a string, or text parts) and the refusal, as
     * two parts of one item when the provider gave both (an empty text
     * beside a refusal is no part)
     */

    v = choice->content;
    r = choice->refusal;
    refusal = r.len >= 2 && r.p[0] == '"';
    text = (v.len >= 2 && v.p[0] == '"' && !(refusal && v.len == 2))
           || (v.len && v.p[0] == '[');

    if ((text || refusal) && !out->nomem) {
        ngx_http_moa_responses_items_id(o->seed, "msg_", item);
        ngx_http_moa_responses_object_message(out, item, status, NULL, 0,
                                              NULL, 0, 0);

        /* the parts go before the message's "]": rewritten in place */
        at = out->len - sizeof("],\"role\":\"assistant\"}") + 1;
        out->len = at;
        pos = 0;

        if (text && v.p[0] == '"') {
            ngx_http_moa_responses_object_part(out, v.p + 1, v.len - 2, 0);
        }

        while (text && v.p[0] == '[' && !out->nomem
               && ngx_http_moa_json_text_next(v.p, v.len, &pos, &call))
        {
            (void) ngx_http_moa_json_text_get(call.p, call.len, "text", &fn);

            if (fn.len < 2 || fn.p[0] != '"') {
                continue;
            }

            if (out->len > at) {
                ngx_http_moa_buf_lit(out, ",");
            }

            ngx_http_moa_responses_object_part(out, fn.p + 1, fn.len - 2, 0);
        }

        if (refusal) {
            if (out->len > at) {
                ngx_http_moa_buf_lit(out, ",");
            }

            ngx_http_moa_responses_object_part(out, r.p + 1, r.len - 2, 1);
        }

        ngx_http_moa_buf_lit(out, "],\"role\":\"assistant\"}");
        n++;
    }

    /* the tool calls: each a function_call item */

    v = choice->tool_calls;
    pos = 0;

    while (v.len && v.p[0] == '['
           && ngx_http_moa_json_text_next(v.p, v.len, &pos, &call))
    {
        (void) ngx_http_moa_json_text_get(call.p, call.len, "function", &fn);
        (void) ngx_http_moa_json_text_get(call.p, call.len, "id", &f);
        ngx_http_moa_responses_object_str(&f, &id);
        (void) ngx_http_moa_json_text_get(fn.p, fn.len, "name", &f);
        ngx_http_moa_responses_object_str(&f, &name);
        (void) ngx_http_moa_json_text_get(fn.p, fn.len, "arguments", &f);
        ngx_http_moa_responses_object_str(&f, &args);

        if (n++) {
            ngx_http_moa_buf_lit(out, ",");
        }

        ngx_http_moa_responses_items_id(o->seed, "fc_", item);
        ngx_http_moa_responses_object_call(out, item, status, id.p, id.len,
                                           name.p, name.len, args.p,
                                           args.len);
    }

    return out->nomem ? -1 : 0;
}
