
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Fuzz target: a provider's whole answer to one call, status, headers and
 * body, as the module meets it.  Input: one flags byte (bit 0: the call
 * asked for a stream; bit 1: the client asked for include_usage; bits 2-4:
 * the status, one of 200 200 400 401 404 429 500 503), then header lines
 * up to an empty line (Content-Type and Retry-After are read, the others
 * skipped), then the body.
 *
 * What it covers, and what it does not: the header decisions themselves
 * are nginx glue and are not fuzzed here.  The glue answers a non-200 from
 * the body as an error (call.c), takes a 200 to a streamed call with a
 * Content-Type starting "text/event-stream" (any case) as a stream
 * (filter.c, ngx_http_moa_is_sse()), any other 200 as a JSON reply, and
 * relays Retry-After as it came, for 429 only (answer.c: no pure code
 * reads it).  This target routes each input the same way, a copy of that
 * table that must follow filter.c, and checks what the client then gets
 * from the pure code: an OpenAI error (JSON and as an event), or every
 * streamed event "data: <JSON>\n\n" with the MoA model and the usage
 * chunk a CompletionUsage or null, or a chat.completion whose usage is a
 * CompletionUsage or absent.  A JSON body labelled as a stream and a
 * stream labelled as JSON reach the entry point the module would give
 * them.
 */


#include <strings.h>

#include "fuzz.h"
#include "check_reply.h"
#include "ngx_http_moa_error.h"
#include "ngx_http_moa_reply.h"
#include "ngx_http_moa_response.h"
#include "ngx_http_moa_sse.h"
#include "ngx_http_moa_stream.h"
#include "ngx_http_moa_usage.h"


#define FUZZ_MODEL  "moa-gpt-4o-v1"


static const int  fuzz_statuses[] = { 200, 200, 400, 401, 404, 429, 500, 503 };


typedef struct {
    ngx_http_moa_stream_t   st;
    ngx_http_moa_buf_t      out;
} fuzz_call_t;


/* a header's value in the block p[0..len), or NULL */
static const char *
fuzz_header(const char *p, size_t len, const char *name, size_t *vlen)
{
    size_t       n;
    const char  *line, *end, *eol;

    n = strlen(name);

    for (line = p, end = p + len; line < end; line = eol + 1) {
        eol = memchr(line, '\n', end - line);
        if (eol == NULL) {
            eol = end;
        }

        if ((size_t) (eol - line) > n && line[n] == ':'
            && strncasecmp(line, name, n) == 0)
        {
            line += n + 1;

            while (line < eol && *line == ' ') {
                line++;
            }

            *vlen = eol - line;
            return line;
        }
    }

    return NULL;
}


/* the glue's decision, filter.c ngx_http_moa_is_sse() */
static int
fuzz_is_sse(const char *ct, size_t len)
{
    return ct && len >= sizeof("text/event-stream") - 1
           && strncasecmp(ct, "text/event-stream",
                          sizeof("text/event-stream") - 1) == 0;
}


static void
fuzz_error(int status, const char *body, size_t len)
{
    cJSON                 *v;
    ngx_http_moa_buf_t     out;
    ngx_http_moa_error_t   err;

    memset(&out, 0, sizeof(out));

    ngx_http_moa_error_from_reply(&err, status, body, len);
    fuzz_assert(err.status >= 400 && err.status <= 599 && err.type,
                "a provider's error: an error status and type");

    ngx_http_moa_error_json(&out, &err);
    v = fuzz_json(out.data, out.len, "the error's JSON");
    fuzz_assert(cJSON_IsObject(fuzz_get(v, "error"))
                && cJSON_IsString(fuzz_get(fuzz_get(v, "error"), "message")),
                "OpenAI's error shape");
    cJSON_Delete(v);

    out.len = 0;
    ngx_http_moa_error_event(&out, &err);
    fuzz_assert(fuzz_sse_events(out.data, out.len, NULL, NULL) == 1,
                "the error as one event");

    ngx_http_moa_buf_free(&out);
}


static void
fuzz_chunk(const cJSON *ev, void *data)
{
    (void) data;

    /* a provider's duplicate "model" keys stay, each one rewritten */
    fuzz_assert(fuzz_str_is(ev, "model", FUZZ_MODEL),
                "an event has the MoA model");
}


static int
fuzz_event(void *data, const char *event, size_t len)
{
    fuzz_call_t  *call = data;

    int  rc;

    if (len == 0 || call->st.done) {
        return 0;
    }

    rc = ngx_http_moa_stream_event(&call->st, event, len, FUZZ_MODEL,
                                   sizeof(FUZZ_MODEL) - 1, &call->out);

    fuzz_assert(rc != NGX_HTTP_MOA_EVENT_NOMEM, "stream_event");

    return rc == NGX_HTTP_MOA_EVENT_OK ? 0 : 1;
}


static void
fuzz_usage_chunk(const cJSON *ev, void *data)
{
    int  reported = *(int *) data;

    fuzz_assert(fuzz_count_key(ev, "usage") == 1
                && (reported ? check_completion_usage(fuzz_get(ev, "usage"))
                             : cJSON_IsNull(fuzz_get(ev, "usage"))),
                "the usage chunk: a CompletionUsage, or null");
}


static void
fuzz_sse(const char *body, size_t len, int include_usage)
{
    int                   reported;
    fuzz_call_t           call;
    ngx_http_moa_sse_t    sse;
    ngx_http_moa_usage_t  acc;

    memset(&call, 0, sizeof(call));
    ngx_http_moa_stream_init(&call.st, include_usage);
    ngx_http_moa_sse_init(&sse, 1 << 20);

    (void) ngx_http_moa_sse_feed(&sse, body, len, fuzz_event, &call);
    ngx_http_moa_sse_free(&sse);

    if (call.out.len) {
        (void) fuzz_sse_events(call.out.data, call.out.len, fuzz_chunk,
                               NULL);
    }

    if (call.st.error.len) {
        fuzz_assert(fuzz_sse_events(call.st.error.data, call.st.error.len,
                                    NULL, NULL) == 1,
                    "the provider's error as one event");
    }

    /* the end of the stream as answer.c writes it */
    ngx_http_moa_usage_record_init(&acc);
    fuzz_assert(ngx_http_moa_usage_add(&acc, call.st.usage) >= 0,
                "the stream's usage summed");

    if (include_usage && !call.st.failed) {
        call.out.len = 0;
        reported = ngx_http_moa_usage_reported(&acc.root);

        fuzz_assert(ngx_http_moa_stream_usage_chunk(&call.st, FUZZ_MODEL,
                                                    sizeof(FUZZ_MODEL) - 1,
                                                    &acc.root, &call.out)
                    == 0
                    && fuzz_sse_events(call.out.data, call.out.len,
                                       fuzz_usage_chunk, &reported) == 1,
                    "one usage chunk");
    }

    ngx_http_moa_usage_record_free(&acc);
    ngx_http_moa_stream_free(&call.st);
    ngx_http_moa_buf_free(&call.out);
}


static void
fuzz_plain(const char *body, size_t len)
{
    cJSON                 *v;
    ngx_http_moa_buf_t     out;
    ngx_http_moa_reply_t   rep;
    ngx_http_moa_usage_t   acc;
    ngx_http_moa_error_t   err;

    if (ngx_http_moa_reply_parse(&rep, body, len, &err) != 0) {
        fuzz_assert(err.status == 502, "a refused reply is a 502");
        ngx_http_moa_reply_free(&rep);
        return;
    }

    ngx_http_moa_usage_record_init(&acc);
    fuzz_assert(ngx_http_moa_usage_add_reply(&acc, &rep) >= 0,
                "the reply's usage summed");

    memset(&out, 0, sizeof(out));
    fuzz_assert(ngx_http_moa_response_build(&out, &rep, -1, FUZZ_MODEL,
                                            &acc.root)
                == 0, "the answer is built");

    v = fuzz_json(out.data, out.len, "the answer");
    fuzz_assert(fuzz_str_is(v, "model", FUZZ_MODEL)
                && fuzz_str_is(v, "object", "chat.completion"),
                "a chat.completion with the MoA model");
    fuzz_assert(ngx_http_moa_usage_reported(&acc.root)
                ? check_completion_usage(fuzz_get(v, "usage"))
                : fuzz_count_key(v, "usage") == 0,
                "usage: a CompletionUsage, or none when nothing was reported");

    cJSON_Delete(v);
    ngx_http_moa_usage_record_free(&acc);
    ngx_http_moa_buf_free(&out);
    ngx_http_moa_reply_free(&rep);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int          stream, include_usage, status;
    char        *copy;
    size_t       hlen, ct_len, ra_len;
    const char  *p, *body, *ct, *ra;

    if (size < 1) {
        return 0;
    }

    stream = data[0] & 1;
    include_usage = (data[0] >> 1) & 1;
    status = fuzz_statuses[(data[0] >> 2) & 7];

    /* a copy of the exact size: ASan sees any read past the reply */
    size--;
    copy = malloc(size ? size : 1);
    fuzz_assert(copy != NULL, "malloc");
    memcpy(copy, data + 1, size);
    p = copy;

    /* the header block ends at an empty line */
    body = NULL;

    for (hlen = 0; hlen + 1 < size; hlen++) {
        if (p[hlen] == '\n' && p[hlen + 1] == '\n') {
            body = p + hlen + 2;
            break;
        }
    }

    if (body == NULL) {
        hlen = 0;
        body = p;
    }

    ct = fuzz_header(p, hlen, "Content-Type", &ct_len);
    ra = fuzz_header(p, hlen, "Retry-After", &ra_len);
    (void) ra;

    size -= body - p;

    if (status != 200) {
        fuzz_error(status, size ? body : NULL, size);

    } else if (stream && fuzz_is_sse(ct, ct_len)) {
        fuzz_sse(body, size, include_usage);

    } else {
        fuzz_plain(size ? body : NULL, size);
    }

    free(copy);

    return 0;
}
