
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the synthesis stream rewritten event by event (model
 * replaced, usage held back for the sum), the final usage chunk, and a
 * complete reply sent as a stream.
 */


#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ngx_http_moa_stream.h"
#include "ngx_http_moa_usage.h"
#include "ngx_http_moa_buf_json.h"


static const char  *ngx_http_moa_stream_index_key[] = { "index", NULL };


/* a member into a buffer, as "key":value, */
static void
ngx_http_moa_stream_put_member(ngx_http_moa_buf_t *out,
    const ngx_http_moa_json_member_t *m)
{
    ngx_http_moa_buf_lit(out, "\"");
    ngx_http_moa_buf_add(out, m->key, m->key_len);
    ngx_http_moa_buf_lit(out, "\":");
    ngx_http_moa_buf_add(out, m->value, m->value_len);
    ngx_http_moa_buf_lit(out, ",");
}


void
ngx_http_moa_stream_init(ngx_http_moa_stream_t *st, int include_usage)
{
    memset(st, 0, sizeof(ngx_http_moa_stream_t));
    st->include_usage = include_usage ? 1 : 0;
}


void
ngx_http_moa_stream_free(ngx_http_moa_stream_t *st)
{
    ngx_http_moa_buf_free(&st->id);
    ngx_http_moa_buf_free(&st->created);
    ngx_http_moa_buf_free(&st->fingerprint);
    ngx_http_moa_buf_free(&st->error);
    cJSON_Delete(st->usage);
    st->usage = NULL;
}


static int
ngx_http_moa_stream_empty_array(const char *p, size_t len)
{
    size_t  i;

    if (len < 2 || p[0] != '[') {
        return 0;
    }

    for (i = 1; i < len; i++) {
        if (p[i] == ']') {
            return 1;
        }

        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n') {
            return 0;
        }
    }

    return 0;
}


/*
 * Raw JSON sent as one SSE line: a chunk split over several "data:" lines
 * has CR or LF between its tokens (never inside strings), and a client's
 * SSE parser would cut the event there.
 */
static void
ngx_http_moa_stream_one_line(ngx_http_moa_buf_t *b, size_t from)
{
    size_t  i;

    if (b->nomem) {
        return;
    }

    for (i = from; i < b->len; i++) {
        if (b->data[i] == '\n' || b->data[i] == '\r') {
            b->data[i] = ' ';
        }
    }
}


static void
ngx_http_moa_stream_keep(ngx_http_moa_buf_t *b,
    const ngx_http_moa_json_member_t *m)
{
    if (b->len == 0) {
        ngx_http_moa_buf_add(b, m->value, m->value_len);
        ngx_http_moa_stream_one_line(b, 0);
    }
}


/* the provider's error event, passed on as it came (on one line) */
static int
ngx_http_moa_stream_error(ngx_http_moa_stream_t *st,
    const ngx_http_moa_json_member_t *m)
{
    size_t  start;

    st->failed = 1;
    ngx_http_moa_buf_lit(&st->error, "data: {\"error\":");
    start = st->error.len;
    ngx_http_moa_buf_add(&st->error, m->value, m->value_len);
    ngx_http_moa_stream_one_line(&st->error, start);
    ngx_http_moa_buf_lit(&st->error, "}\n\n");

    return st->error.nomem ? NGX_HTTP_MOA_EVENT_NOMEM
                           : NGX_HTTP_MOA_EVENT_ERROR;
}


/* no member "choices" with an element: a usage-only chunk */
static int
ngx_http_moa_stream_no_choices(const ngx_http_moa_json_member_t *members,
    size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (ngx_http_moa_json_key_is(&members[i], "choices")
            && !ngx_http_moa_stream_empty_array(members[i].value,
                                                members[i].value_len))
        {
            return 0;
        }
    }

    return 1;
}


/* the chunk as the client gets it: model replaced, no usage, no error */
static int
ngx_http_moa_stream_write(ngx_http_moa_stream_t *st,
    const ngx_http_moa_json_member_t *members, size_t n, int has_model,
    const char *model, size_t model_len, ngx_http_moa_buf_t *out)
{
    size_t                             i, start;
    const ngx_http_moa_json_member_t  *m;

    start = out->len;
    ngx_http_moa_buf_lit(out, "data: {");

    if (!has_model) {
        ngx_http_moa_buf_lit(out, "\"model\":");
        ngx_http_moa_buf_json_str(out, model, model_len);
        ngx_http_moa_buf_lit(out, ",");
    }

    for (i = 0; i < n; i++) {
        m = &members[i];

        if (ngx_http_moa_json_key_is(m, "model")) {
            ngx_http_moa_buf_lit(out, "\"model\":");
            ngx_http_moa_buf_json_str(out, model, model_len);
            ngx_http_moa_buf_lit(out, ",");
            continue;
        }

        /* usage goes only on the final usage chunk, as the sum */
        if (ngx_http_moa_json_key_is(m, "usage")) {
            continue;
        }

        /* "error": null; SDKs must never see an error key in a chunk */
        if (ngx_http_moa_json_key_is(m, "error")) {
            continue;
        }

        ngx_http_moa_stream_put_member(out, m);
    }

    if (out->nomem) {
        return NGX_HTTP_MOA_EVENT_NOMEM;
    }

    /* replace the trailing comma */
    out->data[out->len - 1] = '}';
    ngx_http_moa_stream_one_line(out, start);
    ngx_http_moa_buf_lit(out, "\n\n");

    st->started = 1;

    return out->nomem ? NGX_HTTP_MOA_EVENT_NOMEM : NGX_HTTP_MOA_EVENT_OK;
}


/*
 * One event of the provider's stream of the synthesis call.  Appends the
 * rewritten event (model replaced, usage held back for the final sum) to
 * out, or nothing for the provider's usage-only chunk.
 */
int
ngx_http_moa_stream_event(ngx_http_moa_stream_t *st, const char *data,
    size_t len, const char *model, size_t model_len, ngx_http_moa_buf_t *out)
{
    int                          rc, usage_only, has_model;
    size_t                       i, n;
    cJSON                       *usage;
    ngx_http_moa_json_member_t  *members, *m;

    if (ngx_http_moa_json_is_literal(data, len, "[DONE]")) {
        st->done = 1;
        return NGX_HTTP_MOA_EVENT_DONE;
    }

    if (ngx_http_moa_json_members(data, len, &members, &n) != 0) {
        st->failed = 1;
        return NGX_HTTP_MOA_EVENT_ERROR;
    }

    usage_only = 0;
    has_model = 0;

    for (i = 0; i < n; i++) {
        m = &members[i];

        if (ngx_http_moa_json_key_is(m, "error")
            && !ngx_http_moa_json_is_literal(m->value, m->value_len, "null"))
        {
            rc = ngx_http_moa_stream_error(st, m);
            free(members);
            return rc;
        }

        if (ngx_http_moa_json_key_is(m, "id")) {
            ngx_http_moa_stream_keep(&st->id, m);

        } else if (ngx_http_moa_json_key_is(m, "created")) {
            ngx_http_moa_stream_keep(&st->created, m);

        } else if (ngx_http_moa_json_key_is(m, "system_fingerprint")) {
            ngx_http_moa_stream_keep(&st->fingerprint, m);

        } else if (ngx_http_moa_json_key_is(m, "model")) {
            has_model = 1;

        } else if (ngx_http_moa_json_key_is(m, "usage")
                   && !ngx_http_moa_json_is_literal(m->value, m->value_len,
                                                    "null"))
        {
            usage = cJSON_ParseWithLength(m->value, m->value_len);
            if (usage == NULL) {
                free(members);
                return NGX_HTTP_MOA_EVENT_NOMEM;
            }

            cJSON_Delete(st->usage);
            st->usage = usage;
            usage_only = 1;
        }
    }

    /* a usage chunk has no choices; others lose only their usage */
    if (usage_only && ngx_http_moa_stream_no_choices(members, n)) {
        free(members);
        return NGX_HTTP_MOA_EVENT_OK;
    }

    rc = ngx_http_moa_stream_write(st, members, n, has_model, model,
                                   model_len, out);
    free(members);

    return rc;
}


int
ngx_http_moa_stream_usage_chunk(ngx_http_moa_stream_t *st,
    const char *model, size_t model_len, const cJSON *usage,
    ngx_http_moa_buf_t *out)
{
    if (usage == NULL) {
        return -1;
    }

    ngx_http_moa_buf_lit(out, "data: {\"id\":");

    if (st->id.len) {
        ngx_http_moa_buf_add(out, st->id.data, st->id.len);

    } else {
        ngx_http_moa_buf_lit(out, "\"chatcmpl-moa\"");
    }

    ngx_http_moa_buf_lit(out, ",\"object\":\"chat.completion.chunk\""
                              ",\"created\":");

    if (st->created.len) {
        ngx_http_moa_buf_add(out, st->created.data, st->created.len);

    } else {
        ngx_http_moa_buf_int(out, (long long) time(NULL));
    }

    ngx_http_moa_buf_lit(out, ",\"model\":");
    ngx_http_moa_buf_json_str(out, model, model_len);

    if (st->fingerprint.len) {
        ngx_http_moa_buf_lit(out, ",\"system_fingerprint\":");
        ngx_http_moa_buf_add(out, st->fingerprint.data, st->fingerprint.len);
    }

    ngx_http_moa_buf_lit(out, ",\"choices\":[],\"usage\":");
    ngx_http_moa_usage_print(out, usage);
    ngx_http_moa_buf_lit(out, "}\n\n");

    return out->nomem ? -1 : 0;
}


static void
ngx_http_moa_stream_keep_item(ngx_http_moa_buf_t *b, const cJSON *item)
{
    char  *s;

    if (b->len || item == NULL) {
        return;
    }

    s = cJSON_PrintUnformatted(item);
    if (s == NULL) {
        b->nomem = 1;
        return;
    }

    ngx_http_moa_buf_cstr(b, s);
    free(s);
}


static int
ngx_http_moa_stream_chunk(ngx_http_moa_stream_t *st, const char *model,
    size_t model_len, int index, cJSON *delta, const cJSON *finish,
    ngx_http_moa_buf_t *out)
{
    char   *s;
    cJSON  *choice;

    choice = cJSON_CreateObject();

    if (choice == NULL
        || cJSON_AddNumberToObject(choice, "index", index) == NULL
        || !cJSON_AddItemToObject(choice, "delta", delta))
    {
        cJSON_Delete(delta);
        cJSON_Delete(choice);
        return -1;
    }

    if (cJSON_AddNullToObject(choice, "logprobs") == NULL
        || (finish ? !cJSON_AddItemToObject(choice, "finish_reason",
                                            cJSON_Duplicate(finish, 1))
                   : cJSON_AddNullToObject(choice, "finish_reason") == NULL))
    {
        cJSON_Delete(choice);
        return -1;
    }

    s = cJSON_PrintUnformatted(choice);
    cJSON_Delete(choice);

    if (s == NULL) {
        return -1;
    }

    ngx_http_moa_buf_lit(out, "data: {\"id\":");
    ngx_http_moa_buf_add(out, st->id.data, st->id.len);
    ngx_http_moa_buf_lit(out, ",\"object\":\"chat.completion.chunk\","
                              "\"created\":");
    ngx_http_moa_buf_add(out, st->created.data, st->created.len);
    ngx_http_moa_buf_lit(out, ",\"model\":");
    ngx_http_moa_buf_json_str(out, model, model_len);

    if (st->fingerprint.len) {
        ngx_http_moa_buf_lit(out, ",\"system_fingerprint\":");
        ngx_http_moa_buf_add(out, st->fingerprint.data, st->fingerprint.len);
    }

    ngx_http_moa_buf_lit(out, ",\"choices\":[");
    ngx_http_moa_buf_cstr(out, s);
    ngx_http_moa_buf_lit(out, "]}\n\n");
    free(s);

    return out->nomem ? -1 : 0;
}


static int
ngx_http_moa_stream_choice(ngx_http_moa_stream_t *st, const cJSON *c,
    int index, const char *model, size_t model_len, ngx_http_moa_buf_t *out)
{
    int           k;
    cJSON        *delta, *calls, *call;
    const char   *name;
    const cJSON  *msg, *item, *tc, *finish;

    msg = cJSON_GetObjectItemCaseSensitive(c, "message");

    delta = cJSON_CreateObject();
    if (delta == NULL
        || cJSON_AddStringToObject(delta, "role", "assistant") == NULL
        || cJSON_AddStringToObject(delta, "content", "") == NULL
        || ngx_http_moa_stream_chunk(st, model, model_len, index, delta,
                                     NULL, out) != 0)
    {
        return -1;
    }

    /* the content, then the refusal, each a chunk of its own */

    for (k = 0; k < 2; k++) {
        name = k ? "refusal" : "content";
        item = cJSON_GetObjectItemCaseSensitive(msg, name);

        if (!cJSON_IsString(item) || item->valuestring[0] == '\0') {
            continue;
        }

        delta = cJSON_CreateObject();
        if (delta == NULL
            || cJSON_AddStringToObject(delta, name, item->valuestring) == NULL
            || ngx_http_moa_stream_chunk(st, model, model_len, index, delta,
                                         NULL, out) != 0)
        {
            return -1;
        }
    }

    tc = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");

    if (cJSON_GetArraySize(tc) > 0) {
        delta = cJSON_CreateObject();
        calls = cJSON_AddArrayToObject(delta, "tool_calls");

        if (calls == NULL) {
            cJSON_Delete(delta);
            return -1;
        }

        k = 0;

        cJSON_ArrayForEach(item, tc) {
            call = cJSON_Duplicate(item, 1);

            if (call == NULL || !cJSON_AddItemToArray(calls, call)) {
                cJSON_Delete(call);
                cJSON_Delete(delta);
                return -1;
            }

            /* every index of the provider's, duplicates included */
            ngx_http_moa_reply_first_only(call, ngx_http_moa_stream_index_key);
            cJSON_DeleteItemFromObjectCaseSensitive(call, "index");

            if (cJSON_AddNumberToObject(call, "index", k++) == NULL) {
                cJSON_Delete(delta);
                return -1;
            }
        }

        if (ngx_http_moa_stream_chunk(st, model, model_len, index, delta,
                                      NULL, out) != 0)
        {
            return -1;
        }
    }

    finish = cJSON_GetObjectItemCaseSensitive(c, "finish_reason");

    delta = cJSON_CreateObject();
    if (delta == NULL) {
        return -1;
    }

    if (!cJSON_IsString(finish)) {
        finish = NULL;
    }

    return ngx_http_moa_stream_chunk(st, model, model_len, index, delta,
                                     finish, out);
}


/*
 * A complete reply as a stream of chunks: used when a streamed answer
 * comes from a reply that was not streamed (a candidate returned as the
 * answer, or a provider that ignored "stream").  choice >= 0 streams that
 * choice only, as index 0.
 */
int
ngx_http_moa_stream_from_reply(ngx_http_moa_stream_t *st,
    ngx_http_moa_reply_t *rep, int choice, const char *model,
    size_t model_len, ngx_http_moa_buf_t *out)
{
    int           i;
    const cJSON  *root, *choices, *c, *item;

    root = ngx_http_moa_reply_root(rep);

    if (root == NULL) {
        return -1;
    }

    ngx_http_moa_stream_keep_item(&st->id,
        cJSON_GetObjectItemCaseSensitive(root, "id"));
    ngx_http_moa_stream_keep_item(&st->fingerprint,
        cJSON_GetObjectItemCaseSensitive(root, "system_fingerprint"));

    item = cJSON_GetObjectItemCaseSensitive(root, "created");

    if (st->created.len == 0) {
        if (cJSON_IsNumber(item)) {
            ngx_http_moa_buf_int(&st->created,
                                 ngx_http_moa_usage_clamp(item->valuedouble));

        } else {
            ngx_http_moa_buf_int(&st->created, (long long) time(NULL));
        }
    }

    if (st->id.len == 0) {
        ngx_http_moa_buf_lit(&st->id, "\"chatcmpl-moa\"");
    }

    if (st->id.nomem || st->created.nomem || st->fingerprint.nomem) {
        return -1;
    }

    choices = cJSON_GetObjectItemCaseSensitive(root, "choices");

    if (choice >= 0) {
        c = cJSON_GetArrayItem(choices, choice);

        return ngx_http_moa_stream_choice(st, c, 0, model, model_len, out);
    }

    i = 0;

    cJSON_ArrayForEach(c, choices) {
        if (ngx_http_moa_stream_choice(st, c, i++, model, model_len, out)
            != 0)
        {
            return -1;
        }
    }

    st->started = 1;

    return 0;
}
