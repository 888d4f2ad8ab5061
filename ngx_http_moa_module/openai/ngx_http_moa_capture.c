
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: one line of a fine-tuning file (OpenAI chat format): the
 * conversation, the answer, and what produced it.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_moa_capture.h"


/* the answer as a message for a fine-tuning file */
static cJSON *
ngx_http_moa_capture_answer(const cJSON *answer)
{
    cJSON        *msg, *item;
    const cJSON  *v;

    msg = cJSON_CreateObject();
    if (msg == NULL || cJSON_AddStringToObject(msg, "role", "assistant")
                       == NULL)
    {
        cJSON_Delete(msg);
        return NULL;
    }

    v = cJSON_GetObjectItemCaseSensitive(answer, "content");
    item = v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull();

    if (item == NULL || !cJSON_AddItemToObject(msg, "content", item)) {
        cJSON_Delete(item);
        cJSON_Delete(msg);
        return NULL;
    }

    /* a raw string: the provider's text, whole */
    v = cJSON_GetObjectItemCaseSensitive(answer, "refusal");

    if (cJSON_IsString(v) || cJSON_IsRaw(v)) {
        item = cJSON_Duplicate(v, 1);
        if (item == NULL || !cJSON_AddItemToObject(msg, "refusal", item)) {
            cJSON_Delete(item);
            cJSON_Delete(msg);
            return NULL;
        }
    }

    v = cJSON_GetObjectItemCaseSensitive(answer, "tool_calls");

    if (cJSON_GetArraySize(v) > 0) {
        item = cJSON_Duplicate(v, 1);
        if (item == NULL || !cJSON_AddItemToObject(msg, "tool_calls", item)) {
            cJSON_Delete(item);
            cJSON_Delete(msg);
            return NULL;
        }
    }

    return msg;
}


/*
 * The client's messages as they sent them, on one line (white space
 * between tokens dropped, as cJSON prints), then the answer: a raw item,
 * so that a string of theirs with \u0000 is not cut where cJSON's would
 * end.  NULL without memory.
 */
static cJSON *
ngx_http_moa_capture_messages(const ngx_http_moa_json_member_t *m,
    const cJSON *msg)
{
    int                  in;
    char                *s;
    cJSON               *item;
    const char          *p, *end;
    ngx_http_moa_buf_t   b;

    s = cJSON_PrintUnformatted(msg);
    if (s == NULL) {
        return NULL;
    }

    memset(&b, 0, sizeof(ngx_http_moa_buf_t));
    (void) ngx_http_moa_buf_reserve(&b, m->value_len + strlen(s) + 2);

    in = 0;
    end = m->value + m->value_len;

    for (p = m->value; p < end && !b.nomem; p++) {
        if (in) {
            if (*p == '\\') {
                ngx_http_moa_buf_add(&b, p++, 2);
                continue;
            }

            in = (*p != '"');

        } else if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
            continue;

        } else {
            in = (*p == '"');
        }

        ngx_http_moa_buf_add(&b, p, 1);
    }

    /* the array is not empty: "]" becomes ",<answer>]" */
    if (!b.nomem && b.len) {
        b.len--;
    }

    ngx_http_moa_buf_lit(&b, ",");
    ngx_http_moa_buf_cstr(&b, s);
    ngx_http_moa_buf_add(&b, "]", 2);
    free(s);

    item = b.nomem ? NULL : cJSON_CreateRaw(b.data);
    ngx_http_moa_buf_free(&b);

    return item;
}


/* what produced the answer, as the line's "metadata" */
static int
ngx_http_moa_capture_meta(cJSON *line,
    const ngx_http_moa_capture_meta_t *meta)
{
    char                 num[64];
    cJSON               *md, *item;
    ngx_http_moa_buf_t   rid;

    md = cJSON_AddObjectToObject(line, "metadata");

    if (md == NULL
        || cJSON_AddStringToObject(md, "model", meta->model) == NULL
        || (meta->base_model
            ? cJSON_AddStringToObject(md, "base_model", meta->base_model)
            : cJSON_AddNullToObject(md, "base_model")) == NULL)
    {
        return -1;
    }

    item = meta->usage ? cJSON_Duplicate(meta->usage, 1) : cJSON_CreateNull();

    if (item == NULL || !cJSON_AddItemToObject(md, "usage", item)) {
        cJSON_Delete(item);
        return -1;
    }

    /* millisecond resolution, printed exactly */
    snprintf(num, sizeof(num), "%.3f", meta->time);
    item = cJSON_CreateRaw(num);

    if (item == NULL || !cJSON_AddItemToObject(md, "time", item)) {
        cJSON_Delete(item);
        return -1;
    }

    snprintf(num, sizeof(num), "%.3f", meta->duration);
    item = cJSON_CreateRaw(num);

    if (item == NULL || !cJSON_AddItemToObject(md, "duration", item)) {
        cJSON_Delete(item);
        return -1;
    }

    if (meta->request_id_len) {
        memset(&rid, 0, sizeof(ngx_http_moa_buf_t));
        ngx_http_moa_buf_add(&rid, meta->request_id, meta->request_id_len);
        ngx_http_moa_buf_add(&rid, "", 1);

        item = rid.nomem ? NULL : cJSON_CreateString(rid.data);
        ngx_http_moa_buf_free(&rid);

        if (item == NULL || !cJSON_AddItemToObject(md, "request_id", item)) {
            cJSON_Delete(item);
            return -1;
        }
    }

    if (meta->fallback && cJSON_AddTrueToObject(md, "fallback") == NULL) {
        return -1;
    }

    /* the recipe that made the answer (MoA only) */

    if ((meta->recipe
         && cJSON_AddStringToObject(md, "recipe", meta->recipe) == NULL)
        || (meta->layers
            && cJSON_AddNumberToObject(md, "layers", meta->layers) == NULL)
        || (meta->shortcut
            && cJSON_AddStringToObject(md, "shortcut", meta->shortcut)
               == NULL)
        || (meta->selected
            && cJSON_AddNumberToObject(md, "selected", meta->selected)
               == NULL))
    {
        return -1;
    }

    return 0;
}


/*
 * One line of a fine-tuning file (OpenAI chat format): the conversation
 * with the answer appended, the tools, and what produced it.  Printed
 * unformatted: one line whatever the client's own formatting.
 */
int
ngx_http_moa_capture_line(ngx_http_moa_buf_t *out,
    ngx_http_moa_request_t *req, const cJSON *answer,
    const ngx_http_moa_capture_meta_t *meta)
{
    int           rc;
    char         *s;
    cJSON        *line, *messages, *msg, *item;
    const cJSON  *v, *root;

    rc = -1;
    s = NULL;

    line = cJSON_CreateObject();
    if (line == NULL) {
        return -1;
    }

    root = ngx_http_moa_request_root(req);

    msg = ngx_http_moa_capture_answer(answer);
    if (msg == NULL) {
        goto done;
    }

    messages = req->raw_messages
               ? ngx_http_moa_capture_messages(req->raw_messages, msg)
               : NULL;
    cJSON_Delete(msg);

    if (messages == NULL || !cJSON_AddItemToObject(line, "messages", messages))
    {
        cJSON_Delete(messages);
        goto done;
    }

    v = cJSON_GetObjectItemCaseSensitive(root, "tools");

    if (cJSON_GetArraySize(v) > 0) {
        item = cJSON_Duplicate(v, 1);
        if (item == NULL || !cJSON_AddItemToObject(line, "tools", item)) {
            cJSON_Delete(item);
            goto done;
        }
    }

    v = cJSON_GetObjectItemCaseSensitive(root, "parallel_tool_calls");

    if (cJSON_IsBool(v)) {
        item = cJSON_Duplicate(v, 0);
        if (item == NULL
            || !cJSON_AddItemToObject(line, "parallel_tool_calls", item))
        {
            cJSON_Delete(item);
            goto done;
        }
    }

    if (ngx_http_moa_capture_meta(line, meta) != 0) {
        goto done;
    }

    s = cJSON_PrintUnformatted(line);
    if (s == NULL) {
        goto done;
    }

    ngx_http_moa_buf_cstr(out, s);
    rc = out->nomem ? -1 : 0;

done:

    free(s);
    cJSON_Delete(line);

    return rc;
}
