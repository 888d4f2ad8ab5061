
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: a Responses provider's reply read back into Chat Completions
 * terms.  input_tokens / output_tokens become prompt_tokens /
 * completion_tokens (cached_tokens and reasoning_tokens in their
 * details), so the usage is summed as a translated passthrough's; the
 * output's message items (their output_text and refusal parts) and
 * function_call items become one assistant message, the final turn of a
 * capture record.  Reasoning and built-in tools' items have no chat form:
 * they are left out.
 */


#include <string.h>

#include "ngx_http_moa_responses_forwarded.h"


static cJSON *ngx_http_moa_responses_forwarded_usage(const cJSON *u);
static cJSON *ngx_http_moa_responses_forwarded_message(const cJSON *output);
static int ngx_http_moa_responses_forwarded_append(char **text, size_t *len,
    const char *s, size_t n);
static int ngx_http_moa_responses_forwarded_count(cJSON *to,
    const char *name, const cJSON *from, const char *from_name);


int
ngx_http_moa_responses_forwarded_final(const char *data, size_t len)
{
    static const char  *names[] = { "\"response.completed\"",
                                    "\"response.incomplete\"",
                                    "\"response.failed\"" };
    size_t              i, n, k;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        n = strlen(names[i]);

        for (k = 0; k + n <= len; k++) {
            if (memcmp(data + k, names[i], n) == 0) {
                return 1;
            }
        }
    }

    return 0;
}


int
ngx_http_moa_responses_forwarded_read(const char *p, size_t len,
    cJSON **usage, cJSON **message)
{
    cJSON        *root, *resp, *u, *output;
    const cJSON  *object;

    *usage = NULL;
    *message = NULL;

    root = cJSON_ParseWithLength(p, len);
    if (root == NULL) {
        return -1;
    }

    /* an event: {"type":"response.completed","response":{...}} */

    resp = cJSON_GetObjectItemCaseSensitive(root, "response");
    resp = cJSON_IsObject(resp) ? resp : root;

    object = cJSON_GetObjectItemCaseSensitive(resp, "object");

    if (!cJSON_IsString(object) || strcmp(object->valuestring, "response")) {
        cJSON_Delete(root);
        return -1;
    }

    u = cJSON_GetObjectItemCaseSensitive(resp, "usage");

    if (cJSON_IsObject(u)) {
        *usage = ngx_http_moa_responses_forwarded_usage(u);

        if (*usage == NULL) {
            cJSON_Delete(root);
            return -1;
        }
    }

    output = cJSON_GetObjectItemCaseSensitive(resp, "output");

    if (cJSON_IsArray(output)) {
        *message = ngx_http_moa_responses_forwarded_message(output);
    }

    cJSON_Delete(root);

    return 0;
}


/* the usage in chat names; a member that is no count is left out */
static cJSON *
ngx_http_moa_responses_forwarded_usage(const cJSON *u)
{
    int           rc;
    cJSON        *usage, *d;
    const cJSON  *from;

    usage = cJSON_CreateObject();
    if (usage == NULL) {
        return NULL;
    }

    rc = ngx_http_moa_responses_forwarded_count(usage, "prompt_tokens", u,
                                                "input_tokens");
    rc |= ngx_http_moa_responses_forwarded_count(usage, "completion_tokens",
                                                 u, "output_tokens");
    rc |= ngx_http_moa_responses_forwarded_count(usage, "total_tokens", u,
                                                 "total_tokens");

    from = cJSON_GetObjectItemCaseSensitive(u, "input_tokens_details");

    if (cJSON_IsObject(from)) {
        d = cJSON_AddObjectToObject(usage, "prompt_tokens_details");
        rc |= d == NULL;
        rc |= d ? ngx_http_moa_responses_forwarded_count(d, "cached_tokens",
                                                         from,
                                                         "cached_tokens")
                : 0;
    }

    from = cJSON_GetObjectItemCaseSensitive(u, "output_tokens_details");

    if (cJSON_IsObject(from)) {
        d = cJSON_AddObjectToObject(usage, "completion_tokens_details");
        rc |= d == NULL;
        rc |= d ? ngx_http_moa_responses_forwarded_count(d,
                                                         "reasoning_tokens",
                                                         from,
                                                         "reasoning_tokens")
                : 0;
    }

    if (rc) {
        cJSON_Delete(usage);
        return NULL;
    }

    return usage;
}


/* to.name = from.from_name when that is a number: 0, or 1 without memory */
static int
ngx_http_moa_responses_forwarded_count(cJSON *to, const char *name,
    const cJSON *from, const char *from_name)
{
    const cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(from, from_name);

    if (!cJSON_IsNumber(v)) {
        return 0;
    }

    return cJSON_AddNumberToObject(to, name, v->valuedouble) == NULL;
}


/* the output items as one assistant message, or NULL when none is one */
static cJSON *
ngx_http_moa_responses_forwarded_message(const cJSON *output)
{
    int           any, fail;
    char         *text, *refusal;
    size_t        tlen, rlen, n;
    cJSON        *msg, *calls, *call, *fn;
    const cJSON  *item, *type, *part, *v, *s;

    any = 0;
    fail = 0;
    text = NULL;
    refusal = NULL;
    tlen = 0;
    rlen = 0;

    msg = cJSON_CreateObject();
    calls = cJSON_CreateArray();

    if (msg == NULL || calls == NULL
        || cJSON_AddStringToObject(msg, "role", "assistant") == NULL)
    {
        goto failed;
    }

    cJSON_ArrayForEach(item, output) {
        type = cJSON_GetObjectItemCaseSensitive(item, "type");

        if (!cJSON_IsString(type)) {
            continue;
        }

        if (strcmp(type->valuestring, "function_call") == 0) {
            call = cJSON_CreateObject();

            if (call == NULL || !cJSON_AddItemToArray(calls, call)) {
                cJSON_Delete(call);
                goto failed;
            }

            v = cJSON_GetObjectItemCaseSensitive(item, "call_id");
            fail |= cJSON_AddStringToObject(call, "id", cJSON_IsString(v)
                                            ? v->valuestring : "") == NULL;
            fail |= cJSON_AddStringToObject(call, "type", "function") == NULL;

            fn = cJSON_AddObjectToObject(call, "function");
            if (fn == NULL) {
                goto failed;
            }

            v = cJSON_GetObjectItemCaseSensitive(item, "name");
            fail |= cJSON_AddStringToObject(fn, "name", cJSON_IsString(v)
                                            ? v->valuestring : "") == NULL;
            v = cJSON_GetObjectItemCaseSensitive(item, "arguments");
            fail |= cJSON_AddStringToObject(fn, "arguments",
                                            cJSON_IsString(v)
                                            ? v->valuestring : "") == NULL;
            any = 1;
            continue;
        }

        if (strcmp(type->valuestring, "message") != 0) {
            continue;
        }

        v = cJSON_GetObjectItemCaseSensitive(item, "content");

        cJSON_ArrayForEach(part, v) {
            type = cJSON_GetObjectItemCaseSensitive(part, "type");

            if (!cJSON_IsString(type)) {
                continue;
            }

            if (strcmp(type->valuestring, "output_text") == 0) {
                s = cJSON_GetObjectItemCaseSensitive(part, "text");

            } else if (strcmp(type->valuestring, "refusal") == 0) {
                s = cJSON_GetObjectItemCaseSensitive(part, "refusal");

            } else {
                continue;
            }

            if (!cJSON_IsString(s)) {
                continue;
            }

            /* the texts of every part, one after the other */

            n = strlen(s->valuestring);

            if (ngx_http_moa_responses_forwarded_append(
                    type->valuestring[0] == 'o' ? &text : &refusal,
                    type->valuestring[0] == 'o' ? &tlen : &rlen,
                    s->valuestring, n)
                != 0)
            {
                goto failed;
            }

            any = 1;
        }
    }

    if (!any || fail) {
        goto failed;
    }

    fail |= (text ? cJSON_AddStringToObject(msg, "content", text)
                  : cJSON_AddNullToObject(msg, "content")) == NULL;

    if (refusal) {
        fail |= cJSON_AddStringToObject(msg, "refusal", refusal) == NULL;
    }

    if (cJSON_GetArraySize(calls)) {
        fail |= !cJSON_AddItemToObject(msg, "tool_calls", calls);
        calls = NULL;
    }

    if (fail) {
        goto failed;
    }

    cJSON_free(text);
    cJSON_free(refusal);
    cJSON_Delete(calls);

    return msg;

failed:

    cJSON_free(text);
    cJSON_free(refusal);
    cJSON_Delete(calls);
    cJSON_Delete(msg);

    return NULL;
}


/* s[0..n) after *text (cJSON's allocator, NUL-terminated): 0, or -1 */
static int
ngx_http_moa_responses_forwarded_append(char **text, size_t *len,
    const char *s, size_t n)
{
    char  *t;

    t = cJSON_malloc(*len + n + 1);
    if (t == NULL) {
        return -1;
    }

    if (*len) {
        memcpy(t, *text, *len);
    }

    memcpy(t + *len, s, n + 1);
    cJSON_free(*text);
    *text = t;
    *len += n;

    return 0;
}
