
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Fuzz target: the provider's stream of the synthesis call, through the SSE
 * parser and stream_event as the body filter uses them.  Every event the
 * module emits is "data: <JSON>\n\n" with the MoA model, no usage and no
 * error key; an error event is well-formed; and feeding the stream at once
 * or split at points derived from the input gives the same output.
 *
 * Input: one flags byte (bit 0: include_usage; bit 7: a small size cap of
 * 64 + 4 * (bits 0-6) bytes), then the stream.
 */


#include "fuzz.h"
#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_sse.h"
#include "ngx_http_moa_usage.h"
#include "ngx_http_moa_stream.h"


#define FUZZ_MODEL  "moa-gpt-4o-v1"


typedef struct {
    ngx_http_moa_stream_t   st;
    ngx_http_moa_buf_t      out;
    int                     events;
} fuzz_run_t;


static void
fuzz_chunk(const cJSON *ev, void *data)
{
    const cJSON  *model;

    (void) data;

    model = fuzz_get(ev, "model");

    fuzz_assert(cJSON_IsObject(ev), "a chunk is an object");
    fuzz_assert(fuzz_count_key(ev, "model") >= 1 && cJSON_IsString(model)
                && strcmp(model->valuestring, FUZZ_MODEL) == 0,
                "a chunk has the MoA model");
    fuzz_assert(fuzz_count_key(ev, "usage") == 0, "no usage in a chunk");
    fuzz_assert(fuzz_count_key(ev, "error") == 0, "no error in a chunk");
}


static void
fuzz_error_event(const cJSON *ev, void *data)
{
    const cJSON  *e;

    (void) data;

    e = fuzz_get(ev, "error");

    fuzz_assert(cJSON_GetArraySize(ev) == 1 && e && !cJSON_IsNull(e),
                "an error event has its error, only");
}


static int
fuzz_event(void *data, const char *event, size_t len)
{
    fuzz_run_t  *run = data;

    int      rc;
    size_t   before;

    /* as ngx_http_moa_filter_reply_event */
    if (len == 0 || run->st.done) {
        return 0;
    }

    before = run->out.len;

    rc = ngx_http_moa_stream_event(&run->st, event, len, FUZZ_MODEL,
                                   sizeof(FUZZ_MODEL) - 1, &run->out);

    fuzz_assert(rc != NGX_HTTP_MOA_EVENT_NOMEM,
                "stream_event never fails on an event (no memory pressure)");

    if (rc == NGX_HTTP_MOA_EVENT_OK) {
        if (run->out.len > before) {
            fuzz_assert(fuzz_sse_events(run->out.data + before,
                                        run->out.len - before, fuzz_chunk,
                                        NULL)
                        == 1, "one event out per event in");
        }

        run->events++;
        return 0;
    }

    fuzz_assert(run->out.len == before, "nothing out for [DONE] or errors");

    if (rc == NGX_HTTP_MOA_EVENT_DONE) {
        fuzz_assert(run->st.done, "[DONE] seen");
        return 0;
    }

    fuzz_assert(run->st.failed, "an error fails the stream");

    if (run->st.error.len) {
        fuzz_assert(fuzz_sse_events(run->st.error.data, run->st.error.len,
                                    fuzz_error_event, NULL) == 1,
                    "the provider's error as one event");
    }

    return 1;
}


/* feeds p[0..len) in pieces (state 0: at once); returns the feed's rc */
static int
fuzz_feed(fuzz_run_t *run, const char *p, size_t len, size_t max,
    int include_usage, uint64_t state)
{
    int                 rc;
    size_t              n;
    ngx_http_moa_sse_t  sse;

    memset(run, 0, sizeof(fuzz_run_t));
    ngx_http_moa_stream_init(&run->st, include_usage);
    ngx_http_moa_sse_init(&sse, max);

    rc = 0;

    while (rc == 0) {
        n = state ? fuzz_next(&state) % 64 : len;

        if (n > len) {
            n = len;
        }

        rc = ngx_http_moa_sse_feed(&sse, p, n, fuzz_event, run);

        p += n;
        len -= n;

        if (len == 0) {
            break;
        }
    }

    ngx_http_moa_sse_free(&sse);

    return rc;
}


static void
fuzz_same(const ngx_http_moa_buf_t *a, const ngx_http_moa_buf_t *b,
    const char *what)
{
    fuzz_assert(a->len == b->len
                && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0),
                what);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                   rc1, rc2, include_usage;
    char                 *u1, *u2;
    size_t                max;
    fuzz_run_t            whole, split;
    const char           *p;
    ngx_http_moa_buf_t    out;
    ngx_http_moa_usage_t  acc;

    if (size < 1) {
        return 0;
    }

    include_usage = data[0] & 1;
    max = (data[0] & 0x80) ? 64 + 4 * (size_t) (data[0] & 0x7f) : 1 << 20;

    p = (const char *) data + 1;
    size--;

    rc1 = fuzz_feed(&whole, p, size, max, include_usage, 0);
    rc2 = fuzz_feed(&split, p, size, max, include_usage,
                    fuzz_hash(data, size + 1) | 1);

    /* splitting changes nothing */
    fuzz_assert(rc1 == rc2, "the same feed result, split or not");
    fuzz_same(&whole.out, &split.out, "the same output, split or not");
    fuzz_same(&whole.st.error, &split.st.error, "the same error event");
    fuzz_same(&whole.st.id, &split.st.id, "the same id");
    fuzz_assert(whole.st.done == split.st.done
                && whole.st.failed == split.st.failed
                && whole.events == split.events, "the same state");

    u1 = whole.st.usage ? cJSON_PrintUnformatted(whole.st.usage) : NULL;
    u2 = split.st.usage ? cJSON_PrintUnformatted(split.st.usage) : NULL;
    fuzz_assert((u1 == NULL && u2 == NULL)
                || (u1 && u2 && strcmp(u1, u2) == 0), "the same usage");
    cJSON_free(u1);
    cJSON_free(u2);

    /* the end of the stream: the summed usage chunk */
    if (include_usage && !whole.st.failed) {
        ngx_http_moa_usage_record_init(&acc);
        fuzz_assert(ngx_http_moa_usage_add(&acc, whole.st.usage) >= 0,
                    "usage_add of the stream's usage");

        memset(&out, 0, sizeof(out));
        fuzz_assert(ngx_http_moa_stream_usage_chunk(&whole.st, FUZZ_MODEL,
                                                    sizeof(FUZZ_MODEL) - 1,
                                                    &acc.root, &out) == 0,
                    "the usage chunk");
        fuzz_assert(fuzz_sse_events(out.data, out.len, NULL, NULL) == 1,
                    "one usage chunk");

        ngx_http_moa_buf_free(&out);
        ngx_http_moa_usage_record_free(&acc);
    }

    ngx_http_moa_stream_free(&whole.st);
    ngx_http_moa_stream_free(&split.st);
    ngx_http_moa_buf_free(&whole.out);
    ngx_http_moa_buf_free(&split.out);

    return 0;
}
