
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the final chat.completion, the provider's own bytes with
 * model and usage replaced when the reply is in shape, else from a tree.
 */


#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ngx_http_moa_response.h"
#include "ngx_http_moa_usage.h"
#include "ngx_http_moa_buf_json.h"


static const char  *ngx_http_moa_response_keys[] = {
    "id", "object", "created", "model", "choices", "usage", NULL
};

static const char  *ngx_http_moa_choice_keys[] = {
    "index", "message", "logprobs", "finish_reason", NULL
};

static const char  *ngx_http_moa_message_keys[] = {
    "role", "content", "refusal", "tool_calls", NULL
};


static int
ngx_http_moa_response_choice(cJSON *choice, int index)
{
    cJSON  *msg, *tc;

    ngx_http_moa_reply_first_only(choice, ngx_http_moa_choice_keys);
    ngx_http_moa_reply_first_only(cJSON_GetObjectItemCaseSensitive(choice,
                                                                   "message"),
                                  ngx_http_moa_message_keys);

    if (index >= 0
        && ngx_http_moa_reply_set(choice, "index", cJSON_CreateNumber(index))
           != 0)
    {
        return -1;
    }

    if (cJSON_GetObjectItemCaseSensitive(choice, "logprobs") == NULL
        && cJSON_AddNullToObject(choice, "logprobs") == NULL)
    {
        return -1;
    }

    if (cJSON_GetObjectItemCaseSensitive(choice, "finish_reason") == NULL
        && cJSON_AddStringToObject(choice, "finish_reason", "stop") == NULL)
    {
        return -1;
    }

    msg = cJSON_GetObjectItemCaseSensitive(choice, "message");

    if (cJSON_GetObjectItemCaseSensitive(msg, "role") == NULL
        && cJSON_AddStringToObject(msg, "role", "assistant") == NULL)
    {
        return -1;
    }

    if (cJSON_GetObjectItemCaseSensitive(msg, "content") == NULL
        && cJSON_AddNullToObject(msg, "content") == NULL)
    {
        return -1;
    }

    if (cJSON_GetObjectItemCaseSensitive(msg, "refusal") == NULL
        && cJSON_AddNullToObject(msg, "refusal") == NULL)
    {
        return -1;
    }

    /* SDKs expect tool_calls only when there are some */
    tc = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");

    if (tc && cJSON_GetArraySize(tc) == 0) {
        cJSON_DeleteItemFromObjectCaseSensitive(msg, "tool_calls");
    }

    return 0;
}


/*
 * The usage as usage_print() writes it, as on the fast path: cJSON would
 * print a sum that is not finite as null, which no SDK takes for a count.
 */
static cJSON *
ngx_http_moa_response_usage_raw(const cJSON *usage)
{
    cJSON               *item;
    ngx_http_moa_buf_t   b;

    memset(&b, 0, sizeof(ngx_http_moa_buf_t));

    ngx_http_moa_usage_print(&b, usage);
    ngx_http_moa_buf_add(&b, "", 1);

    item = b.nomem ? NULL : cJSON_CreateRaw(b.data);
    ngx_http_moa_buf_free(&b);

    return item;
}


/*
 * The final chat.completion from a provider reply: model is the MoA id,
 * usage the sum.  choice >= 0 keeps that one choice only (a candidate
 * returned as the answer), as index 0.
 */
static int
ngx_http_moa_response_tree(ngx_http_moa_buf_t *out, cJSON *root,
    int choice, const char *model, const cJSON *usage)
{
    char   *s;
    cJSON  *choices, *c, *keep;

    ngx_http_moa_reply_first_only(root, ngx_http_moa_response_keys);

    choices = cJSON_GetObjectItemCaseSensitive(root, "choices");

    if (choice >= 0) {
        keep = cJSON_DetachItemFromArray(choices, choice);
        if (keep == NULL) {
            return -1;
        }

        while (choices->child) {
            cJSON_DeleteItemFromArray(choices, 0);
        }

        cJSON_AddItemToArray(choices, keep);

        if (ngx_http_moa_response_choice(keep, 0) != 0) {
            return -1;
        }

    } else {
        cJSON_ArrayForEach(c, choices) {
            if (ngx_http_moa_response_choice(c, -1) != 0) {
                return -1;
            }
        }
    }

    if (cJSON_GetObjectItemCaseSensitive(root, "id") == NULL
        && ngx_http_moa_reply_set(root, "id",
                                  cJSON_CreateString("chatcmpl-moa"))
           != 0)
    {
        return -1;
    }

    if (ngx_http_moa_reply_set(root, "object",
                               cJSON_CreateString("chat.completion")) != 0
        || ngx_http_moa_reply_set(root, "model", cJSON_CreateString(model))
           != 0)
    {
        return -1;
    }

    /* usage is optional: none when no call reported a count */
    if (!ngx_http_moa_usage_reported(usage)) {
        cJSON_DeleteItemFromObjectCaseSensitive(root, "usage");

    } else if (ngx_http_moa_reply_set(root, "usage",
                                      ngx_http_moa_response_usage_raw(usage))
               != 0)
    {
        return -1;
    }

    /* an infinite created (1e999) would be printed as null */
    c = cJSON_GetObjectItemCaseSensitive(root, "created");

    if ((!cJSON_IsNumber(c) || !isfinite(c->valuedouble))
        && ngx_http_moa_reply_set(root, "created",
                                  cJSON_CreateNumber((double) time(NULL))) != 0)
    {
        return -1;
    }

    s = cJSON_PrintUnformatted(root);
    if (s == NULL) {
        return -1;
    }

    ngx_http_moa_buf_cstr(out, s);
    free(s);

    return out->nomem ? -1 : 0;
}


/*
 * Digits only, as a Unix time: "1e999" also starts with a digit, but is
 * infinite, which the tree path replaces (cJSON would print it as null).
 */
static int
ngx_http_moa_response_time(const ngx_http_moa_span_t *v)
{
    size_t  i;

    if (v->len == 0 || v->len > 12) {
        return 0;
    }

    for (i = 0; i < v->len; i++) {
        if (v->p[i] < '0' || v->p[i] > '9') {
            return 0;
        }
    }

    return 1;
}


/*
 * Whether a reply is already what clients expect, so that the answer can
 * be its own text with model and usage replaced: no duplicate top-level
 * keys, an id, object "chat.completion", an integer created, and choices
 * with index, message (role, content, refusal, no empty tool_calls),
 * logprobs and finish_reason, without duplicate keys in either.
 */
static int
ngx_http_moa_response_plain(const ngx_http_moa_reply_t *rep)
{
    int                         i;
    ngx_http_moa_span_t         v;
    const ngx_http_moa_json_t  *j;

    j = &rep->json;

    if (!ngx_http_moa_json_unique(j, 0)) {
        return 0;
    }

    if (ngx_http_moa_json_tok_get(j, 0, "object", &v) < 0
        || !ngx_http_moa_json_is_literal(v.p, v.len, "\"chat.completion\"")
        || ngx_http_moa_json_tok_get(j, 0, "created", &v) < 0
        || !ngx_http_moa_response_time(&v)
        || ngx_http_moa_json_find(j, 0, "id") < 0)
    {
        return 0;
    }

    for (i = 0; i < rep->nchoices; i++) {
        if (!rep->choices[i].plain) {
            return 0;
        }
    }

    return 1;
}


/*
 * The final chat.completion from a provider reply: model is the MoA id,
 * usage the sum.  choice >= 0 keeps that one choice only (a candidate
 * returned as the answer), as index 0.  A reply already in shape is
 * answered with its own bytes; others are normalised through a tree.
 */
int
ngx_http_moa_response_build(ngx_http_moa_buf_t *out,
    ngx_http_moa_reply_t *rep, int choice, const char *model,
    const cJSON *usage)
{
    int                          has_model, has_usage, first;
    cJSON                       *root;
    uint32_t                     k, end;
    ngx_http_moa_json_member_t   m;
    const ngx_http_moa_json_t   *j;

    if (choice >= 0 || !ngx_http_moa_response_plain(rep)) {
        root = ngx_http_moa_reply_root(rep);

        if (root == NULL || !cJSON_IsObject(root)) {
            return -1;
        }

        return ngx_http_moa_response_tree(out, root, choice, model,
                                          usage);
    }

    (void) ngx_http_moa_buf_reserve(out, rep->len + 256);

    has_model = 0;
    has_usage = 0;
    first = 1;

    ngx_http_moa_buf_lit(out, "{");

    j = &rep->json;
    end = j->tok[0].next;

    for (k = 1; k < end; k = j->tok[k + 1].next) {
        m.key = j->tok[k].p + 1;
        m.key_len = j->tok[k].len - 2;
        m.escaped = 0;

        /* usage is optional: none when no call reported a count */
        if (ngx_http_moa_json_key_is(&m, "usage")
            && !ngx_http_moa_usage_reported(usage))
        {
            continue;
        }

        if (!first) {
            ngx_http_moa_buf_lit(out, ",");
        }

        first = 0;

        ngx_http_moa_buf_add(out, j->tok[k].p, j->tok[k].len);
        ngx_http_moa_buf_lit(out, ":");

        if (ngx_http_moa_json_key_is(&m, "model")) {
            ngx_http_moa_buf_json_str(out, model, strlen(model));
            has_model = 1;

        } else if (ngx_http_moa_json_key_is(&m, "usage")) {
            ngx_http_moa_usage_print(out, usage);
            has_usage = 1;

        } else {
            ngx_http_moa_buf_add(out, j->tok[k + 1].p, j->tok[k + 1].len);
        }
    }

    if (!has_model) {
        ngx_http_moa_buf_lit(out, ",\"model\":");
        ngx_http_moa_buf_json_str(out, model, strlen(model));
    }

    if (!has_usage && ngx_http_moa_usage_reported(usage)) {
        ngx_http_moa_buf_lit(out, ",\"usage\":");
        ngx_http_moa_usage_print(out, usage);
    }

    ngx_http_moa_buf_lit(out, "}");

    return out->nomem ? -1 : 0;
}
