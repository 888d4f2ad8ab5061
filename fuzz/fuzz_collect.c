
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Fuzz target: a streamed answer put back together for the capture line,
 * as the filter and the log phase do: the provider's stream through the
 * SSE parser and collect_chunk, then collect_message and capture_line.
 * The message is an assistant message (content a string or null, tool
 * calls well-formed), the same whether the stream comes at once or split
 * at points derived from the input, and its capture line is one line, a
 * JSON object whose messages end with it.
 *
 * Input: one flags byte (bit 7: a small size cap of 64 + 4 * (bits 0-6)
 * bytes, as for fuzz_stream, whose seeds fit), then the stream.
 */


#include "fuzz.h"
#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_sse.h"
#include "ngx_http_moa_request.h"
#include "ngx_http_moa_collect.h"
#include "ngx_http_moa_capture.h"


#define FUZZ_BODY  "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"," \
                   "\"content\":\"q\"}]}"


static int
fuzz_event(void *data, const char *event, size_t len)
{
    /* as ngx_http_moa_collect_event in the filter */
    if (len == 0 || (len == 6 && memcmp(event, "[DONE]", 6) == 0)) {
        return 0;
    }

    return ngx_http_moa_collect_chunk(data, event, len);
}


/* feeds p[0..len) in pieces (state 0: at once); the message, printed */
static char *
fuzz_feed(ngx_http_moa_collect_t *col, const char *p, size_t len,
    size_t max, uint64_t state, cJSON **msg)
{
    int                 rc;
    size_t              n;
    ngx_http_moa_sse_t  sse;

    memset(col, 0, sizeof(ngx_http_moa_collect_t));
    ngx_http_moa_sse_init(&sse, max);

    rc = 0;

    while (rc == 0 && len) {
        n = state ? fuzz_next(&state) % 64 : len;

        if (n > len) {
            n = len;
        }

        rc = ngx_http_moa_sse_feed(&sse, p, n, fuzz_event, col);

        p += n;
        len -= n;
    }

    ngx_http_moa_sse_free(&sse);

    fuzz_assert(rc != -1 || col->failed, "a chunk refused fails the answer");

    *msg = ngx_http_moa_collect_message(col);

    fuzz_assert((*msg == NULL) == col->failed,
                "a message unless the collection failed");

    return *msg ? cJSON_PrintUnformatted(*msg) : NULL;
}


static void
fuzz_message(const cJSON *msg)
{
    const cJSON  *c, *tc, *call;

    fuzz_assert(cJSON_IsObject(msg), "the message is an object");

    c = cJSON_GetObjectItemCaseSensitive(msg, "role");
    fuzz_assert(cJSON_IsString(c) && strcmp(c->valuestring, "assistant") == 0,
                "the role is assistant");

    /*
     * collected, a string is a raw item (its JSON text, escaped from its
     * length); the capture line, parsed, has it as a string
     */
    c = cJSON_GetObjectItemCaseSensitive(msg, "content");
    fuzz_assert(cJSON_IsString(c) || cJSON_IsNull(c)
                || (cJSON_IsRaw(c) && c->valuestring[0] == '"'),
                "content: a string or null");

    tc = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");
    fuzz_assert(tc == NULL || (cJSON_IsArray(tc)
                               && cJSON_GetArraySize(tc) >= 1
                               && cJSON_GetArraySize(tc) <= 128),
                "tool calls: none, or 1 to 128");
    fuzz_assert(tc != NULL || cJSON_IsString(c) || cJSON_IsRaw(c),
                "content null only beside tool calls");

    cJSON_ArrayForEach(call, tc) {
        c = cJSON_GetObjectItemCaseSensitive(call, "function");
        fuzz_assert(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(call,
                                                                    "id"))
                    && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(c,
                                                                 "name"))
                    && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(c,
                                                            "arguments")),
                    "a tool call: id, name and arguments strings");
    }
}


static void
fuzz_capture(const cJSON *msg, const cJSON *usage)
{
    cJSON                        *line;
    const cJSON                  *m;
    ngx_http_moa_buf_t            out;
    ngx_http_moa_error_t          err;
    ngx_http_moa_request_t        req;
    ngx_http_moa_capture_meta_t   meta;

    fuzz_assert(ngx_http_moa_request_parse(&req, FUZZ_BODY,
                                           sizeof(FUZZ_BODY) - 1, &err)
                == 0, "the request");

    memset(&meta, 0, sizeof(meta));
    meta.model = "m";
    meta.usage = usage;

    memset(&out, 0, sizeof(out));

    fuzz_assert(ngx_http_moa_capture_line(&out, &req, msg, &meta) == 0,
                "the capture line");
    fuzz_assert(memchr(out.data, '\n', out.len) == NULL
                && memchr(out.data, '\r', out.len) == NULL, "one line");
    line = cJSON_ParseWithLength(out.data, out.len);
    fuzz_assert(cJSON_IsObject(line), "the line is a JSON object");

    m = cJSON_GetObjectItemCaseSensitive(line, "messages");

    fuzz_assert(cJSON_GetArraySize(m) == 2, "the question and the answer");
    fuzz_message(cJSON_GetArrayItem(m, 1));

    cJSON_Delete(line);
    ngx_http_moa_buf_free(&out);
    ngx_http_moa_request_free(&req);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                    *s1, *s2;
    size_t                   max;
    cJSON                   *m1, *m2;
    const char              *p;
    ngx_http_moa_collect_t   whole, split;

    if (size < 1) {
        return 0;
    }

    max = (data[0] & 0x80) ? 64 + 4 * (size_t) (data[0] & 0x7f) : 1 << 20;

    p = (const char *) data + 1;
    size--;

    s1 = fuzz_feed(&whole, p, size, max, 0, &m1);
    s2 = fuzz_feed(&split, p, size, max, fuzz_hash(data, size + 1) | 1, &m2);

    /* splitting changes nothing */
    fuzz_assert((s1 == NULL && s2 == NULL)
                || (s1 && s2 && strcmp(s1, s2) == 0),
                "the same message, split or not");

    if (m1) {
        fuzz_message(m1);
        fuzz_capture(m1, whole.usage);
    }

    cJSON_free(s1);
    cJSON_free(s2);
    cJSON_Delete(m1);
    cJSON_Delete(m2);
    ngx_http_moa_collect_free(&whole);
    ngx_http_moa_collect_free(&split);

    return 0;
}
