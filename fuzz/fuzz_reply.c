
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Fuzz target: a provider's reply.  Error replies give a well-formed error;
 * parsed replies give candidate texts, a usage sum, a streamed answer whose
 * every event is "data: <JSON>\n\n" with the SDKs' chunk shape, and a final
 * chat.completion that is valid JSON with the module's model and usage and
 * normalised choices.  The choice kept is derived from a hash of the input.
 */


#include "fuzz.h"
#include "ngx_http_moa_openai.h"


#define FUZZ_MODEL  "moa-gpt-4o-v1"


typedef struct {
    int          events;
    int          index;       /* choice index of the previous chunk */
    int          finished;    /* the previous chunk had a finish_reason */
    int          usage;       /* a usage chunk is expected now */
} fuzz_chunks_t;


static void
fuzz_chunk(const cJSON *ev, void *data)
{
    fuzz_chunks_t  *fc = data;

    int           index;
    const cJSON  *item, *choice, *delta, *tc;

    fuzz_assert(fuzz_count_key(ev, "model") == 1
                && fuzz_str_is(ev, "model", FUZZ_MODEL),
                "a chunk has the MoA model");

    item = fuzz_get(ev, "object");
    fuzz_assert(cJSON_IsString(item)
                && strcmp(item->valuestring, "chat.completion.chunk") == 0,
                "a chunk's object");

    fuzz_assert(fuzz_count_key(ev, "id") == 1
                && cJSON_IsNumber(fuzz_get(ev, "created"))
                && fuzz_count_key(ev, "error") == 0,
                "a chunk has an id, created, no error");

    item = fuzz_get(ev, "choices");

    if (fc->usage) {
        fuzz_assert(cJSON_GetArraySize(item) == 0
                    && cJSON_IsObject(fuzz_get(ev, "usage")),
                    "the usage chunk: choices [] and usage");
        return;
    }

    fuzz_assert(fuzz_count_key(ev, "usage") == 0, "no usage in a chunk");
    fuzz_assert(cJSON_GetArraySize(item) == 1, "a chunk has one choice");

    choice = item->child;
    index = (int) fuzz_get(choice, "index")->valuedouble;
    delta = fuzz_get(choice, "delta");

    fuzz_assert(cJSON_IsObject(delta)
                && fuzz_get(choice, "logprobs")
                && fuzz_get(choice, "finish_reason"),
                "a choice has delta, logprobs, finish_reason");

    if (fc->events == 0 || fc->finished) {
        /* a choice starts: role assistant and content "" */
        fuzz_assert(index == (fc->events ? fc->index + 1 : 0),
                    "choices are streamed in order from 0");
        fuzz_assert(cJSON_GetArraySize(delta) == 2
                    && fuzz_str_is(delta, "role", "assistant")
                    && fuzz_str_is(delta, "content", ""),
                    "the first delta: role and content \"\"");

    } else {
        fuzz_assert(index == fc->index, "a choice's chunks are together");
        fuzz_assert(fuzz_get(delta, "role") == NULL,
                    "role only in the first delta");
    }

    tc = fuzz_get(delta, "tool_calls");

    if (tc) {
        int  k;

        k = 0;

        for (item = tc->child; item; item = item->next, k++) {
            if (cJSON_IsObject(item)) {
                fuzz_assert(fuzz_count_key(item, "index") == 1
                            && fuzz_get(item, "index")->valuedouble
                               == k, "tool calls are numbered from 0");
            }
        }
    }

    /* a choice ends with an empty delta, its finish_reason or null */
    fc->finished = (cJSON_GetArraySize(delta) == 0);

    fuzz_assert(fc->finished
                || cJSON_IsNull(fuzz_get(choice, "finish_reason")),
                "finish_reason only on the last chunk of a choice");

    fc->index = index;
    fc->events++;
}


static void
fuzz_stream(const cJSON *root, int choice, int nchoices, const cJSON *usage)
{
    int                     n;
    fuzz_chunks_t           fc;
    ngx_http_moa_buf_t      out;
    ngx_http_moa_stream_t   st;

    memset(&out, 0, sizeof(out));
    memset(&fc, 0, sizeof(fc));

    ngx_http_moa_stream_init(&st, 1);

    fuzz_assert(ngx_http_moa_stream_from_reply(&st, root, choice,
                                               FUZZ_MODEL,
                                               sizeof(FUZZ_MODEL) - 1, &out)
                == 0, "a reply is streamed");

    n = fuzz_sse_events(out.data, out.len, fuzz_chunk, &fc);
    fuzz_assert(fc.index == (choice >= 0 ? 0 : nchoices - 1)
                && n >= (choice >= 0 ? 2 : 2 * nchoices),
                "every choice is streamed");

    out.len = 0;
    fc.usage = 1;

    fuzz_assert(ngx_http_moa_stream_usage_chunk(&st, FUZZ_MODEL,
                                                sizeof(FUZZ_MODEL) - 1,
                                                usage, &out) == 0,
                "the usage chunk is built");
    fuzz_assert(fuzz_sse_events(out.data, out.len, fuzz_chunk, &fc) == 1,
                "one usage chunk");

    ngx_http_moa_stream_free(&st);
    ngx_http_moa_buf_free(&out);
}


static void
fuzz_response(cJSON *root, int choice, const cJSON *usage)
{
    int                  rc;
    char                *pa, *pb;
    cJSON               *v;
    const cJSON         *c, *msg, *item;
    ngx_http_moa_buf_t   out;

    memset(&out, 0, sizeof(out));

    rc = ngx_http_moa_build_response(&out, root, choice, FUZZ_MODEL, usage);
    fuzz_assert(rc == 0, "the response is built");

    v = fuzz_json(out.data, out.len, "the response");

    fuzz_assert(fuzz_count_key(v, "model") == 1
                && fuzz_str_is(v, "model", FUZZ_MODEL),
                "the response's model, once");
    fuzz_assert(fuzz_count_key(v, "object") == 1
                && fuzz_str_is(v, "object", "chat.completion"),
                "object, once");
    /* printed: cJSON_Compare never finds infinity equal to itself */
    pa = cJSON_PrintUnformatted(fuzz_get(v, "usage"));
    pb = cJSON_PrintUnformatted(usage);
    fuzz_assert(fuzz_count_key(v, "usage") == 1 && pa && pb
                && strcmp(pa, pb) == 0, "the summed usage, once");
    cJSON_free(pa);
    cJSON_free(pb);
    fuzz_assert(fuzz_count_key(v, "id") == 1
                && fuzz_count_key(v, "created") == 1
                && cJSON_IsNumber(fuzz_get(v, "created")),
                "id and created, once");

    item = fuzz_get(v, "choices");
    fuzz_assert(fuzz_count_key(v, "choices") == 1 && cJSON_IsArray(item)
                && (choice < 0 || cJSON_GetArraySize(item) == 1),
                "the choices, one when a choice is kept");

    cJSON_ArrayForEach(c, item) {
        msg = fuzz_get(c, "message");

        fuzz_assert(fuzz_count_key(c, "logprobs") == 1
                    && fuzz_count_key(c, "finish_reason") == 1
                    && fuzz_count_key(c, "message") == 1
                    && fuzz_count_key(msg, "role") == 1
                    && fuzz_count_key(msg, "content") == 1
                    && fuzz_count_key(msg, "refusal") == 1,
                    "a choice is normalised");

        fuzz_assert(fuzz_count_key(msg, "tool_calls") == 0
                    || (fuzz_count_key(msg, "tool_calls") == 1
                        && cJSON_GetArraySize(fuzz_get(msg,
                                                      "tool_calls")) > 0),
                    "tool_calls only when there are some");

        if (choice >= 0) {
            fuzz_assert(fuzz_count_key(c, "index") == 1
                        && cJSON_IsNumber(fuzz_get(c, "index"))
                        && fuzz_get(c, "index")->valuedouble == 0,
                        "a kept choice is index 0");
        }
    }

    cJSON_Delete(v);
    ngx_http_moa_buf_free(&out);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                    i, choice;
    uint64_t               h;
    cJSON                 *acc, *copy;
    const cJSON           *msg;
    const char            *p;
    ngx_http_moa_buf_t     out;
    ngx_http_moa_error_t   err;
    ngx_http_moa_reply_t   rep;

    p = (const char *) data;

    /* as an error reply of a failed call */
    memset(&out, 0, sizeof(out));

    ngx_http_moa_error_from_reply(&err, 429, p, size);
    fuzz_assert(err.status == 429 && err.type != NULL, "error_from_reply");

    ngx_http_moa_error_json(&out, &err);
    cJSON_Delete(fuzz_json(out.data, out.len, "error_from_reply's JSON"));

    out.len = 0;
    ngx_http_moa_error_event(&out, &err);
    fuzz_assert(fuzz_sse_events(out.data, out.len, NULL, NULL) == 1,
                "an error event");
    ngx_http_moa_buf_free(&out);

    /* as the reply of a successful call */
    if (ngx_http_moa_reply_parse(&rep, p, size, &err) != 0) {
        fuzz_assert(err.status == 502 && err.message[0], "a refused reply");
        ngx_http_moa_reply_free(&rep);
        return 0;
    }

    fuzz_assert(rep.nchoices > 0 && rep.nchoices
                == cJSON_GetArraySize(rep.choices), "the reply's choices");

    for (i = 0; i < rep.nchoices; i++) {
        msg = ngx_http_moa_reply_message(&rep, i);
        fuzz_assert(cJSON_IsObject(msg), "every choice has a message");

        (void) ngx_http_moa_message_usable(msg);

        out.len = 0;
        ngx_http_moa_message_text(&out, msg);
        fuzz_assert(!out.nomem, "message_text");
    }

    ngx_http_moa_buf_free(&out);

    /* usage: this call twice, as over several calls */
    acc = cJSON_CreateObject();
    fuzz_assert(acc != NULL, "acc");
    fuzz_assert(ngx_http_moa_usage_add(acc, rep.usage) == 0
                && ngx_http_moa_usage_add(acc, rep.usage) == 0, "usage_add");

    (void) ngx_http_moa_usage_get(acc, "prompt_tokens");
    (void) ngx_http_moa_usage_get(acc, "completion_tokens");
    (void) ngx_http_moa_usage_get(acc, "total_tokens");

    h = fuzz_hash(data, size);
    choice = (h & 1) ? -1 : (int) ((h >> 1) % rep.nchoices);

    fuzz_stream(rep.root, choice, rep.nchoices, acc);

    /* build_response changes the tree: the stream above came first */
    copy = cJSON_Duplicate(rep.root, 1);
    fuzz_assert(copy != NULL, "copy");

    fuzz_response(rep.root, choice, acc);
    fuzz_response(copy, -1, acc);

    cJSON_Delete(copy);
    cJSON_Delete(acc);
    ngx_http_moa_reply_free(&rep);

    return 0;
}
