
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: a streamed answer put back together from its chunks, for
 * the capture line.
 */


#include <string.h>

#include "ngx_http_moa_collect.h"
#include "ngx_http_moa_reply.h"
#include "ngx_http_moa_buf_json.h"
#include "ngx_http_moa_json_text.h"


static int
ngx_http_moa_collect_call(ngx_http_moa_collect_t *col, const cJSON *tc)
{
    int                  index, rc;
    cJSON               *call, *fn;
    const char          *s;
    const cJSON         *v, *f;
    ngx_http_moa_buf_t   args;

    v = cJSON_GetObjectItemCaseSensitive(tc, "index");
    index = cJSON_IsNumber(v) ? v->valueint : 0;

    if (index < 0 || index > 127) {
        return -1;
    }

    if (col->tool_calls == NULL) {
        col->tool_calls = cJSON_CreateArray();
        if (col->tool_calls == NULL) {
            return -1;
        }
    }

    while (cJSON_GetArraySize(col->tool_calls) <= index) {
        call = cJSON_CreateObject();
        fn = cJSON_AddObjectToObject(call, "function");

        if (fn == NULL
            || cJSON_AddStringToObject(call, "id", "") == NULL
            || cJSON_AddStringToObject(call, "type", "function") == NULL
            || cJSON_AddStringToObject(fn, "name", "") == NULL
            || cJSON_AddStringToObject(fn, "arguments", "") == NULL
            || !cJSON_AddItemToArray(col->tool_calls, call))
        {
            cJSON_Delete(call);
            return -1;
        }
    }

    call = cJSON_GetArrayItem(col->tool_calls, index);
    fn = cJSON_GetObjectItemCaseSensitive(call, "function");

    /* id, type and name come once; arguments come in pieces */

    v = cJSON_GetObjectItemCaseSensitive(tc, "id");

    if (cJSON_IsString(v) && v->valuestring[0]
        && ngx_http_moa_reply_set(call, "id",
                                  cJSON_CreateString(v->valuestring))
           != 0)
    {
        return -1;
    }

    f = cJSON_GetObjectItemCaseSensitive(tc, "function");
    v = cJSON_GetObjectItemCaseSensitive(f, "name");

    if (cJSON_IsString(v) && v->valuestring[0]
        && ngx_http_moa_reply_set(fn, "name",
                                  cJSON_CreateString(v->valuestring))
           != 0)
    {
        return -1;
    }

    v = cJSON_GetObjectItemCaseSensitive(f, "arguments");

    if (cJSON_IsString(v) && v->valuestring[0]) {
        memset(&args, 0, sizeof(ngx_http_moa_buf_t));

        s = cJSON_GetObjectItemCaseSensitive(fn, "arguments")->valuestring;
        ngx_http_moa_buf_cstr(&args, s);
        ngx_http_moa_buf_cstr(&args, v->valuestring);
        ngx_http_moa_buf_add(&args, "", 1);

        rc = ngx_http_moa_reply_set(fn, "arguments", args.nomem
                                    ? NULL : cJSON_CreateString(args.data));
        ngx_http_moa_buf_free(&args);

        if (rc != 0) {
            return -1;
        }
    }

    return 0;
}


/*
 * A string of the delta of the nth choice of a chunk, decoded from the
 * chunk's own text into b, whole (cJSON's strings end at a \u0000): 0, or
 * -1 when the chunk's text is not what its tree says.
 */
static int
ngx_http_moa_collect_text(const char *data, size_t len, int nth,
    const char *name, ngx_http_moa_buf_t *b)
{
    size_t               pos;
    ngx_http_moa_span_t  v, e;

    if (!ngx_http_moa_json_text_get(data, len, "choices", &v)) {
        return -1;
    }

    pos = 0;

    do {
        if (!ngx_http_moa_json_text_next(v.p, v.len, &pos, &e)) {
            return -1;
        }
    } while (nth--);

    if (!ngx_http_moa_json_text_get(e.p, e.len, "delta", &v)
        || !ngx_http_moa_json_text_get(v.p, v.len, name, &e))
    {
        return -1;
    }

    return ngx_http_moa_json_text_unescape(b, e.p, e.len);
}


/*
 * Merges one chunk of a stream into the answer: the content, refusal and
 * tool call pieces of choice 0, and the usage of a usage chunk.
 */
int
ngx_http_moa_collect_chunk(ngx_http_moa_collect_t *col, const char *data,
    size_t len)
{
    int           nth, raw;
    cJSON        *chunk;
    const cJSON  *choices, *c, *delta, *v, *tc;

    if (col->failed) {
        return -1;
    }

    chunk = cJSON_ParseWithLength(data, len);

    if (!cJSON_IsObject(chunk)) {
        cJSON_Delete(chunk);
        return 0;
    }

    v = cJSON_GetObjectItemCaseSensitive(chunk, "usage");

    if (cJSON_IsObject(v)) {
        cJSON_Delete(col->usage);
        col->usage = cJSON_Duplicate(v, 1);

        if (col->usage == NULL) {
            goto failed;
        }
    }

    choices = cJSON_GetObjectItemCaseSensitive(chunk, "choices");

    /* the strings from the text itself, when it is strict JSON */
    raw = ngx_http_moa_json_valid(data, len) == 0;
    nth = -1;

    cJSON_ArrayForEach(c, choices) {
        nth++;

        v = cJSON_GetObjectItemCaseSensitive(c, "index");

        if (cJSON_IsNumber(v) && v->valueint != 0) {
            continue;
        }

        delta = cJSON_GetObjectItemCaseSensitive(c, "delta");

        v = cJSON_GetObjectItemCaseSensitive(delta, "content");

        if (cJSON_IsString(v)) {
            if (!raw || ngx_http_moa_collect_text(data, len, nth, "content",
                                                  &col->content) != 0)
            {
                ngx_http_moa_buf_cstr(&col->content, v->valuestring);
            }

            col->has_content = 1;
        }

        v = cJSON_GetObjectItemCaseSensitive(delta, "refusal");

        if (cJSON_IsString(v)) {
            if (!raw || ngx_http_moa_collect_text(data, len, nth, "refusal",
                                                  &col->refusal) != 0)
            {
                ngx_http_moa_buf_cstr(&col->refusal, v->valuestring);
            }

            col->has_refusal = 1;
        }

        cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(delta,
                                                             "tool_calls"))
        {
            if (ngx_http_moa_collect_call(col, tc) != 0) {
                goto failed;
            }
        }
    }

    cJSON_Delete(chunk);

    if (col->content.nomem || col->refusal.nomem) {
        col->failed = 1;
        return -1;
    }

    return 0;

failed:

    cJSON_Delete(chunk);
    col->failed = 1;

    return -1;
}


/*
 * a string as a raw item, escaped from its length: a C string would end
 * at its first NUL
 */
static cJSON *
ngx_http_moa_collect_string(const ngx_http_moa_buf_t *s)
{
    cJSON               *item;
    ngx_http_moa_buf_t   b;

    memset(&b, 0, sizeof(ngx_http_moa_buf_t));

    if (s->len) {
        ngx_http_moa_buf_json_str(&b, s->data, s->len);

    } else {
        ngx_http_moa_buf_lit(&b, "\"\"");
    }

    ngx_http_moa_buf_add(&b, "", 1);

    item = b.nomem ? NULL : cJSON_CreateRaw(b.data);
    ngx_http_moa_buf_free(&b);

    return item;
}


/*
 * The assistant message of a collected stream, or NULL; content and
 * refusal are raw items (cJSON_IsRaw), which print as they are.
 */
cJSON *
ngx_http_moa_collect_message(ngx_http_moa_collect_t *col)
{
    cJSON  *msg, *tc, *item;

    if (col->failed) {
        return NULL;
    }

    msg = cJSON_CreateObject();
    if (msg == NULL || cJSON_AddStringToObject(msg, "role", "assistant")
                       == NULL)
    {
        goto failed;
    }

    if (col->content.nomem || col->refusal.nomem) {
        goto failed;
    }

    if ((col->has_content && col->content.len > 0) || col->tool_calls == NULL)
    {
        item = ngx_http_moa_collect_string(&col->content);

        if (item == NULL || !cJSON_AddItemToObject(msg, "content", item)) {
            cJSON_Delete(item);
            goto failed;
        }

    } else if (cJSON_AddNullToObject(msg, "content") == NULL) {
        goto failed;
    }

    if (col->has_refusal) {
        item = ngx_http_moa_collect_string(&col->refusal);

        if (item == NULL || !cJSON_AddItemToObject(msg, "refusal", item)) {
            cJSON_Delete(item);
            goto failed;
        }
    }

    if (col->tool_calls) {
        tc = cJSON_Duplicate(col->tool_calls, 1);
        if (tc == NULL || !cJSON_AddItemToObject(msg, "tool_calls", tc)) {
            cJSON_Delete(tc);
            goto failed;
        }
    }

    return msg;

failed:

    cJSON_Delete(msg);
    return NULL;
}


void
ngx_http_moa_collect_free(ngx_http_moa_collect_t *col)
{
    ngx_http_moa_buf_free(&col->content);
    ngx_http_moa_buf_free(&col->refusal);
    cJSON_Delete(col->tool_calls);
    cJSON_Delete(col->usage);
    col->tool_calls = NULL;
    col->usage = NULL;
}
