
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Fuzz target: a Responses API request and a chat stream translated back.
 * The input is a request body, optionally followed by a 0xff byte and the
 * JSON array of a previous response's items.  A refused request gives a
 * well-formed OpenAI error naming its parameter; an accepted one gives a
 * Chat Completions body, an input items array and an echo that are valid
 * JSON, and a chat body the chat contract takes (or refuses only for what
 * it checks deeper: metadata).  Then the input is fed as a chat chunk to
 * the events translator: every frame is "event: T" and a JSON "data:" of
 * type T, numbered in order, the last one a whole response; and read
 * as a Responses provider's reply (usage, assistant message).
 */


#include "fuzz.h"
#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_error.h"
#include "ngx_http_moa_params.h"
#include "ngx_http_moa_request.h"
#include "ngx_http_moa_responses_request.h"
#include "ngx_http_moa_responses_object.h"
#include "ngx_http_moa_responses_events.h"
#include "ngx_http_moa_responses_forwarded.h"


static void
fuzz_responses_error(const ngx_http_moa_error_t *err)
{
    cJSON               *v;
    ngx_http_moa_buf_t   out;

    fuzz_assert(err->status == 400 || err->status == 500,
                "the error's status");
    fuzz_assert(err->type && err->message[0], "the error's type, message");

    memset(&out, 0, sizeof(out));
    ngx_http_moa_error_json(&out, err);

    v = fuzz_json(out.data, out.len, "the error JSON");
    fuzz_assert(cJSON_GetArraySize(fuzz_get(v, "error")) == 4,
                "the error has its four keys");

    cJSON_Delete(v);
    ngx_http_moa_buf_free(&out);
}


static void
fuzz_responses_accepted(ngx_http_moa_responses_request_t *req)
{
    cJSON                   *v;
    ngx_http_moa_buf_t       echo;
    ngx_http_moa_error_t     err;
    ngx_http_moa_request_t   chat;

    v = fuzz_json(req->chat.data, req->chat.len, "the chat body");
    fuzz_assert(cJSON_IsObject(v) && cJSON_IsArray(fuzz_get(v, "messages"))
                && cJSON_GetArraySize(fuzz_get(v, "messages")) > 0,
                "the chat body has messages");
    fuzz_assert(cJSON_IsBool(fuzz_get(v, "stream")) == req->stream,
                "stream only when streamed");
    cJSON_Delete(v);

    v = fuzz_json(req->input.data, req->input.len, "the input items");
    fuzz_assert(cJSON_IsArray(v), "the input items are an array");
    cJSON_Delete(v);

    memset(&echo, 0, sizeof(echo));
    ngx_http_moa_buf_lit(&echo, "{");
    ngx_http_moa_buf_add(&echo, req->echo.data, req->echo.len);
    ngx_http_moa_buf_lit(&echo, "}");
    v = fuzz_json(echo.data, echo.len, "the echo");
    cJSON_Delete(v);
    ngx_http_moa_buf_free(&echo);

    if (ngx_http_moa_request_parse(&chat, req->chat.data, req->chat.len,
                                   &err)
        != 0)
    {
        fuzz_assert(err.param && strncmp(err.param, "metadata", 8) == 0,
                    "the chat contract takes the translated body");
    }

    ngx_http_moa_request_free(&chat);
}


/* every frame an event of its type, numbered; the last a whole response */
static void
fuzz_responses_frames(const ngx_http_moa_buf_t *out)
{
    long          seq;
    cJSON        *v;
    const char   *p, *end, *nl, *data, *frame_end;

    p = out->data;
    end = p + out->len;
    seq = 0;
    v = NULL;

    while (p < end) {
        frame_end = strstr(p, "\n\n");
        fuzz_assert(frame_end != NULL && frame_end < end, "a frame ends");
        fuzz_assert(strncmp(p, "event: ", 7) == 0, "an event line");

        nl = memchr(p, '\n', frame_end - p);
        fuzz_assert(nl != NULL && strncmp(nl + 1, "data: ", 6) == 0,
                    "a data line");
        data = nl + 7;

        cJSON_Delete(v);
        v = fuzz_json(data, frame_end - data, "an event's data");
        fuzz_assert(fuzz_get(v, "type") && cJSON_IsString(fuzz_get(v, "type"))
                    && strlen(fuzz_get(v, "type")->valuestring)
                       == (size_t) (nl - p - 7)
                    && strncmp(fuzz_get(v, "type")->valuestring, p + 7,
                               nl - p - 7) == 0,
                    "the data's type is the event's");
        fuzz_assert(cJSON_IsNumber(fuzz_get(v, "sequence_number"))
                    && fuzz_get(v, "sequence_number")->valuedouble
                       == (double) seq, "numbered in order");

        seq++;
        p = frame_end + 2;
    }

    fuzz_assert(v && cJSON_IsObject(fuzz_get(v, "response"))
                && cJSON_IsArray(fuzz_get(fuzz_get(v, "response"), "output")),
                "the last event has the whole response");
    cJSON_Delete(v);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                                rc;
    char                              *copy;
    cJSON                             *usage, *message;
    size_t                             len, prior_len;
    const char                        *prior;
    ngx_http_moa_buf_t                 out;
    ngx_http_moa_error_t               err;
    ngx_http_moa_responses_object_t    obj;
    ngx_http_moa_responses_events_t    ev;
    ngx_http_moa_responses_request_t   req;

    /* a copy of the exact size: ASan sees any read past the body */
    copy = malloc(size ? size : 1);
    fuzz_assert(copy != NULL, "malloc");

    if (size) {
        memcpy(copy, data, size);
    }

    prior = size ? memchr(copy, 0xff, size) : NULL;
    len = prior ? (size_t) (prior - copy) : size;
    prior_len = prior ? size - len - 1 : 0;
    prior = prior ? prior + 1 : NULL;

    memset(&req, 0, sizeof(req));
    req.seed = fuzz_hash(data, size);

    rc = ngx_http_moa_responses_request_parse(&req, copy, len, prior,
                                              prior_len,
                                              (int) (req.seed % 3), &err);

    if (rc != 0) {
        fuzz_responses_error(&err);

    } else {
        fuzz_responses_accepted(&req);

        if (ngx_http_moa_responses_request_check(&req, "moa", 1, &err)
            != 0)
        {
            fuzz_responses_error(&err);
            fuzz_assert(err.param && err.param[0], "what is refused, named");
        }
    }

    /* the same bytes as a chat chunk of a stream */

    memset(&obj, 0, sizeof(obj));
    memset(&out, 0, sizeof(out));
    strcpy(obj.id, "resp_fuzz");
    obj.model = "moa";
    obj.model_len = 3;
    obj.echo = rc == 0 ? &req.echo : NULL;
    obj.seed = &req.seed;

    ngx_http_moa_responses_events_init(&ev, &obj);
    ngx_http_moa_responses_events_start(&ev, &out);
    fuzz_assert(ngx_http_moa_responses_events_chunk(&ev, copy, len, &out)
                >= 0, "a chunk translated");

    if (req.seed & 1) {
        fuzz_assert(ngx_http_moa_responses_events_end(&ev, NULL, &out) == 0,
                    "the end");

    } else {
        ngx_http_moa_error_set(&err, 502, "upstream_error", NULL, NULL,
                               "cut \"short\"");
        fuzz_assert(ngx_http_moa_responses_events_fail(&ev, &err, NULL, &out)
                    == 0, "the failure");
    }

    fuzz_responses_frames(&out);

    /* the same bytes as a Responses provider's reply, read back */

    (void) ngx_http_moa_responses_forwarded_final(copy, len);

    if (ngx_http_moa_responses_forwarded_read(copy, len, &usage, &message)
        == 0)
    {
        fuzz_assert(usage == NULL || cJSON_IsObject(usage), "a usage");
        fuzz_assert(message == NULL
                    || cJSON_IsString(fuzz_get(message, "role")),
                    "an assistant message");
        cJSON_Delete(usage);
        cJSON_Delete(message);

    } else {
        fuzz_assert(usage == NULL && message == NULL, "nothing returned");
    }

    ngx_http_moa_buf_free(&out);
    ngx_http_moa_responses_events_free(&ev);
    ngx_http_moa_responses_request_free(&req);
    free(copy);

    return 0;
}
