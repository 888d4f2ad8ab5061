
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
#include "ngx_http_moa_json_text.h"
#include "ngx_http_moa_json_find.h"


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


/*
 * Whether every choice of a chunk starts with its "index", as providers
 * write them: one pass over the validated text, no allocation (the event
 * is the hot path); any other shape takes ngx_http_moa_stream_choices().
 */
static int
ngx_http_moa_stream_indexed(const char *p, size_t len)
{
    int          depth;
    const char  *end;

    end = p + len;
    depth = 0;

    for ( /* void */ ; p < end; p++) {
        switch (*p) {

        case '"':
            /* a string: its plain runs skipped a word at a time */
            for (p = ngx_http_moa_json_plain(p + 1, end);
                 p < end && *p == '\\';
                 p = ngx_http_moa_json_plain(p + 2, end))
            {
                /* void */
            }

            break;

        case '[':
            depth++;
            break;

        case '{':
            if (depth++ != 1) {
                break;
            }

            do {
                p++;
            } while (p < end
                     && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'));

            if ((size_t) (end - p) < 7 || memcmp(p, "\"index\"", 7) != 0) {
                return 0;
            }

            p += 6;
            break;

        case ']':
        case '}':
            depth--;
            break;
        }
    }

    return 1;
}


/*
 * The choices of a chunk, each with its index: a provider may leave it
 * out (SDKs then refuse the chunk); the position in the array is the
 * index.
 */
static void
ngx_http_moa_stream_choices(ngx_http_moa_buf_t *out,
    const ngx_http_moa_json_member_t *m)
{
    int                  k;
    size_t               pos;
    const char          *p, *end;
    ngx_http_moa_span_t  e, v;

    ngx_http_moa_buf_lit(out, "\"");
    ngx_http_moa_buf_add(out, m->key, m->key_len);
    ngx_http_moa_buf_lit(out, "\":[");

    pos = 0;

    for (k = 0; ngx_http_moa_json_text_next(m->value, m->value_len, &pos, &e);
         k++)
    {
        if (k) {
            ngx_http_moa_buf_lit(out, ",");
        }

        if (e.p[0] != '{' || ngx_http_moa_json_text_get(e.p, e.len, "index", &v)) {
            ngx_http_moa_buf_add(out, e.p, e.len);
            continue;
        }

        ngx_http_moa_buf_lit(out, "{\"index\":");
        ngx_http_moa_buf_int(out, k);

        p = e.p + 1;
        end = e.p + e.len;

        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
            p++;
        }

        if (*p != '}') {
            ngx_http_moa_buf_lit(out, ",");
        }

        ngx_http_moa_buf_add(out, p, end - p);
    }

    ngx_http_moa_buf_lit(out, "],");
}


/*
 * The chunk as the client gets it: model replaced, the first chunk's id
 * on every chunk (some providers send a new id per chunk), no usage, no
 * error.
 */
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

        if ((m->key_len == 2 || m->escaped) && st->id.len
            && ngx_http_moa_json_key_is(m, "id"))
        {
            ngx_http_moa_buf_lit(out, "\"id\":");
            ngx_http_moa_buf_add(out, st->id.data, st->id.len);
            ngx_http_moa_buf_lit(out, ",");
            continue;
        }

        if (m->value[0] == '['
            && !ngx_http_moa_stream_indexed(m->value, m->value_len)
            && ngx_http_moa_json_key_is(m, "choices"))
        {
            ngx_http_moa_stream_choices(out, m);
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


/* a chunk of one choice, up to its delta */
static void
ngx_http_moa_stream_head(ngx_http_moa_stream_t *st, const char *model,
    size_t model_len, int index, ngx_http_moa_buf_t *out)
{
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

    ngx_http_moa_buf_lit(out, ",\"choices\":[{\"index\":");
    ngx_http_moa_buf_int(out, index);
    ngx_http_moa_buf_lit(out, ",\"delta\":");
}


/* the chunk after its delta: finish_reason raw, or null */
static void
ngx_http_moa_stream_tail(ngx_http_moa_buf_t *out,
    const ngx_http_moa_span_t *finish)
{
    ngx_http_moa_buf_lit(out, ",\"logprobs\":null,\"finish_reason\":");

    if (finish) {
        ngx_http_moa_buf_add(out, finish->p, finish->len);

    } else {
        ngx_http_moa_buf_lit(out, "null");
    }

    ngx_http_moa_buf_lit(out, "}]}\n\n");
}


/* a tool call with its index (its position), the provider's dropped */
static int
ngx_http_moa_stream_call(ngx_http_moa_buf_t *out,
    const ngx_http_moa_span_t *call, int index)
{
    size_t                       i, n;
    ngx_http_moa_json_member_t  *members;

    if (call->p[0] != '{') {
        ngx_http_moa_buf_add(out, call->p, call->len);
        return 0;
    }

    if (ngx_http_moa_json_members(call->p, call->len, &members, &n) != 0) {
        return -1;
    }

    ngx_http_moa_buf_lit(out, "{");

    for (i = 0; i < n; i++) {
        if (!ngx_http_moa_json_key_is(&members[i], "index")) {
            ngx_http_moa_stream_put_member(out, &members[i]);
        }
    }

    free(members);

    ngx_http_moa_buf_lit(out, "\"index\":");
    ngx_http_moa_buf_int(out, index);
    ngx_http_moa_buf_lit(out, "}");

    return 0;
}


/*
 * One choice of a complete reply as chunks: the role, the content, the
 * refusal, the tool calls, the finish.  Strings are the provider's bytes:
 * a \u0000 is kept with what follows.
 */
static int
ngx_http_moa_stream_choice(ngx_http_moa_stream_t *st,
    const ngx_http_moa_choice_t *ch, int index, const char *model,
    size_t model_len, ngx_http_moa_buf_t *out)
{
    int                         k, n;
    size_t                      start, pos;
    ngx_http_moa_span_t         f, call;
    const ngx_http_moa_span_t  *v;

    ngx_http_moa_stream_head(st, model, model_len, index, out);
    ngx_http_moa_buf_lit(out, "{\"role\":\"assistant\",\"content\":\"\"}");
    ngx_http_moa_stream_tail(out, NULL);

    /* the content, then the refusal, each a chunk of its own */

    for (k = 0; k < 2; k++) {
        v = k ? &ch->refusal : &ch->content;

        if (v->len <= 2 || v->p[0] != '"') {
            continue;
        }

        ngx_http_moa_stream_head(st, model, model_len, index, out);

        if (k) {
            ngx_http_moa_buf_lit(out, "{\"refusal\":");

        } else {
            ngx_http_moa_buf_lit(out, "{\"content\":");
        }

        ngx_http_moa_buf_add(out, v->p, v->len);
        ngx_http_moa_buf_lit(out, "}");
        ngx_http_moa_stream_tail(out, NULL);
    }

    if (ngx_http_moa_json_text_array_nonempty(&ch->tool_calls)) {
        ngx_http_moa_stream_head(st, model, model_len, index, out);
        start = out->len;
        ngx_http_moa_buf_lit(out, "{\"tool_calls\":[");

        pos = 0;

        for (n = 0; ngx_http_moa_json_text_next(ch->tool_calls.p,
                                           ch->tool_calls.len, &pos, &call);
             n++)
        {
            if (n) {
                ngx_http_moa_buf_lit(out, ",");
            }

            if (ngx_http_moa_stream_call(out, &call, n) != 0) {
                return -1;
            }
        }

        ngx_http_moa_buf_lit(out, "]}");

        /* a tool call's own bytes may hold line breaks between tokens */
        ngx_http_moa_stream_one_line(out, start);
        ngx_http_moa_stream_tail(out, NULL);
    }

    ngx_http_moa_stream_head(st, model, model_len, index, out);
    ngx_http_moa_buf_lit(out, "{}");

    ngx_http_moa_stream_tail(out,
        ngx_http_moa_json_text_get(ch->span.p, ch->span.len, "finish_reason", &f)
        && f.p[0] == '"' ? &f : NULL);

    return out->nomem ? -1 : 0;
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
    int                          i;
    ngx_http_moa_json_member_t   m;
    const ngx_http_moa_json_t   *j;

    if (ngx_http_moa_reply_tokens(rep) != 0) {
        return -1;
    }

    j = &rep->json;

    memset(&m, 0, sizeof(ngx_http_moa_json_member_t));

    i = ngx_http_moa_json_find(j, 0, "id");

    if (i >= 0) {
        m.value = j->tok[i].p;
        m.value_len = j->tok[i].len;
        ngx_http_moa_stream_keep(&st->id, &m);
    }

    i = ngx_http_moa_json_find(j, 0, "system_fingerprint");

    if (i >= 0) {
        m.value = j->tok[i].p;
        m.value_len = j->tok[i].len;
        ngx_http_moa_stream_keep(&st->fingerprint, &m);
    }

    i = ngx_http_moa_json_find(j, 0, "created");

    if (st->created.len == 0) {
        if (i >= 0 && j->tok[i].type == '0') {
            ngx_http_moa_buf_int(&st->created,
                ngx_http_moa_usage_clamp(strtod(j->tok[i].p, NULL)));

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

    if (choice >= 0) {
        if (choice >= rep->nchoices) {
            return -1;
        }

        return ngx_http_moa_stream_choice(st, &rep->choices[choice], 0,
                                          model, model_len, out);
    }

    for (i = 0; i < rep->nchoices; i++) {
        if (ngx_http_moa_stream_choice(st, &rep->choices[i], i, model,
                                       model_len, out)
            != 0)
        {
            return -1;
        }
    }

    st->started = 1;

    return 0;
}
