
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Fuzz target: a provider's reply.  Error replies give a well-formed error;
 * parsed replies give choices whose spans are within the text, candidate
 * texts that are a JSON string's inside and cannot close their block, a
 * usage sum, a streamed answer whose every event is "data: <JSON>\n\n"
 * with the SDKs' chunk shape, and a final chat.completion that is valid
 * JSON with the module's model and usage and normalised choices, by both
 * paths: a reply answered with its own bytes must give what the tree path
 * gives for it (fuzz/check_reply.h).  The choice kept is derived from a
 * hash of the input.
 */


#include "fuzz.h"
#include "check_reply.h"
#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_json_text.h"
#include "ngx_http_moa_error.h"
#include "ngx_http_moa_reply.h"
#include "ngx_http_moa_usage.h"
#include "ngx_http_moa_prompt.h"
#include "ngx_http_moa_response.h"
#include "ngx_http_moa_stream.h"


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
                    && fuzz_count_key(ev, "usage") == 1
                    && (fc->usage == 2
                        ? check_completion_usage(fuzz_get(ev, "usage"))
                        : cJSON_IsNull(fuzz_get(ev, "usage"))),
                    "the usage chunk: choices [] and the usage, or null "
                    "when no call reported a count");
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
fuzz_stream(ngx_http_moa_reply_t *rep, int choice, const cJSON *usage)
{
    int                     n;
    fuzz_chunks_t           fc;
    ngx_http_moa_buf_t      out;
    ngx_http_moa_stream_t   st;

    memset(&out, 0, sizeof(out));
    memset(&fc, 0, sizeof(fc));

    ngx_http_moa_stream_init(&st, 1);

    fuzz_assert(ngx_http_moa_stream_from_reply(&st, rep, choice,
                                               FUZZ_MODEL,
                                               sizeof(FUZZ_MODEL) - 1, &out)
                == 0, "a reply is streamed");

    n = fuzz_sse_events(out.data, out.len, fuzz_chunk, &fc);
    fuzz_assert(fc.index == (choice >= 0 ? 0 : rep->nchoices - 1)
                && n >= (choice >= 0 ? 2 : 2 * rep->nchoices),
                "every choice is streamed");

    out.len = 0;
    fc.usage = ngx_http_moa_usage_reported(usage) ? 2 : 1;

    fuzz_assert(ngx_http_moa_stream_usage_chunk(&st, FUZZ_MODEL,
                                                sizeof(FUZZ_MODEL) - 1,
                                                usage, &out) == 0,
                "the usage chunk is built");
    fuzz_assert(fuzz_sse_events(out.data, out.len, fuzz_chunk, &fc) == 1,
                "one usage chunk");

    ngx_http_moa_stream_free(&st);
    ngx_http_moa_buf_free(&out);
}


/* an object of numbers and objects only: no null for a count */
static int
fuzz_numbers(const cJSON *obj)
{
    const cJSON  *c;

    if (!cJSON_IsObject(obj)) {
        return 0;
    }

    for (c = obj->child; c; c = c->next) {
        if (!(cJSON_IsNumber(c) && isfinite(c->valuedouble))
            && !fuzz_numbers(c))
        {
            return 0;
        }
    }

    return 1;
}


/* an answer, by whichever path: what clients expect */
static void
fuzz_answer(const ngx_http_moa_buf_t *out, int choice, const cJSON *usage)
{
    char                *pa, *pb;
    cJSON               *v, *u;
    const cJSON         *c, *msg, *item;
    ngx_http_moa_buf_t   up;

    v = fuzz_json(out->data, out->len, "the response");

    fuzz_assert(fuzz_count_key(v, "model") == 1
                && fuzz_str_is(v, "model", FUZZ_MODEL),
                "the response's model, once");
    fuzz_assert(fuzz_count_key(v, "object") == 1
                && fuzz_str_is(v, "object", "chat.completion"),
                "object, once");

    /* the summed usage as usage_print writes it, or none without a count */
    memset(&up, 0, sizeof(up));
    ngx_http_moa_usage_print(&up, usage);
    u = fuzz_json(up.data, up.len, "usage_print");

    if (!ngx_http_moa_usage_reported(usage)) {
        fuzz_assert(cJSON_IsNull(u) && fuzz_count_key(v, "usage") == 0,
                    "no usage when no call reported a count");

    } else {
        pa = cJSON_PrintUnformatted(fuzz_get(v, "usage"));
        pb = cJSON_PrintUnformatted(u);
        fuzz_assert(fuzz_count_key(v, "usage") == 1 && pa && pb
                    && strcmp(pa, pb) == 0
                    && fuzz_numbers(fuzz_get(v, "usage"))
                    && check_completion_usage(fuzz_get(v, "usage")),
                    "the summed usage, once, a CompletionUsage");
        cJSON_free(pa);
        cJSON_free(pb);
    }

    cJSON_Delete(u);
    ngx_http_moa_buf_free(&up);

    item = fuzz_get(v, "created");
    fuzz_assert(fuzz_count_key(v, "id") == 1
                && fuzz_count_key(v, "created") == 1
                && cJSON_IsNumber(item) && isfinite(item->valuedouble),
                "id and created, once, created finite");

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

        fuzz_assert(fuzz_count_key(c, "index") <= 1,
                    "a choice has one index at most");

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
}


static void
fuzz_response(ngx_http_moa_reply_t *rep, int choice, const cJSON *usage)
{
    int                  fast;
    const char          *why;
    ngx_http_moa_buf_t   out, tree;

    memset(&out, 0, sizeof(out));
    memset(&tree, 0, sizeof(tree));

    /* a candidate kept: the tree path, on a tree of its own */
    if (choice >= 0) {
        cJSON_Delete(rep->root);
        rep->root = NULL;

        fuzz_assert(ngx_http_moa_response_build(&out, rep, choice,
                                                FUZZ_MODEL, usage) == 0,
                    "the response with a choice kept is built");
        fuzz_answer(&out, choice, usage);
    }

    /* every choice: the fast path when in shape, equal to the tree's */
    why = check_response_paths(rep, FUZZ_MODEL, usage, &out, &tree, &fast);

    if (why) {
        fuzz_fail(why, "check_response_paths", __FILE__, __LINE__);
    }

    fuzz_answer(&out, -1, usage);
    fuzz_answer(&tree, -1, usage);

    ngx_http_moa_buf_free(&out);
    ngx_http_moa_buf_free(&tree);
}


/* a span is within the reply's text, or absent */
static int
fuzz_within(const ngx_http_moa_reply_t *rep, const ngx_http_moa_span_t *v)
{
    if (v->len == 0) {
        return v->p == NULL;
    }

    return v->p >= rep->p && v->p + v->len <= rep->p + rep->len
           && ngx_http_moa_json_valid(v->p, v->len) == 0;
}


/* choice_text: a JSON string's inside in which the tag never appears */
static void
fuzz_text(const ngx_http_moa_buf_t *out, const char *tag, int tags)
{
    ngx_http_moa_buf_t   q, d;
    const char          *s, *end;
    size_t               n;
    int                  found;

    memset(&q, 0, sizeof(q));
    memset(&d, 0, sizeof(d));

    ngx_http_moa_buf_lit(&q, "\"");
    ngx_http_moa_buf_add(&q, out->data, out->len);
    ngx_http_moa_buf_lit(&q, "\"");

    fuzz_assert(ngx_http_moa_json_valid(q.data, q.len) == 0
                && ngx_http_moa_json_text_unescape(&d, q.data, q.len) == 0,
                "a candidate's text is a JSON string's inside");

    /* decoded (NULs kept): the tag only where the module wrote it */
    found = 0;
    n = strlen(tag);
    end = d.len ? d.data + d.len : d.data;

    for (s = d.data; s && (size_t) (end - s) >= n; s++) {
        if (memcmp(s, tag, n) == 0) {
            found++;
        }
    }

    fuzz_assert(found == tags, "a candidate's text cannot close its block");

    ngx_http_moa_buf_free(&q);
    ngx_http_moa_buf_free(&d);
}


#define FUZZ_MAX_CANDS  8


/* a number token of the usage longer than cJSON reads (63 characters) */
static int
fuzz_long_number(const ngx_http_moa_reply_t *rep)
{
    uint32_t  k;

    if (rep->usage_at <= 0) {
        return 0;
    }

    for (k = rep->usage_at; k < rep->json.tok[rep->usage_at].next; k++) {
        if (rep->json.tok[k].type == '0' && rep->json.tok[k].len > 63) {
            return 1;
        }
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                              i, choice, n, ignored;
    char                            *copy;
    cJSON                           *m;
    uint64_t                         h;
    const char                      *p;
    ngx_http_moa_buf_t               out;
    ngx_http_moa_error_t             err;
    ngx_http_moa_reply_t             rep;
    ngx_http_moa_usage_t             acc;
    ngx_http_moa_prompt_candidate_t  cands[FUZZ_MAX_CANDS];
    const ngx_http_moa_choice_t     *c;

    /* a copy of the exact size: ASan sees any read past the reply */
    copy = malloc(size ? size : 1);
    fuzz_assert(copy != NULL, "malloc");

    if (size) {
        memcpy(copy, data, size);
    }

    p = size ? copy : NULL;

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

    /* as the reply of a successful call */
    if (ngx_http_moa_reply_parse(&rep, p, size, &err) != 0) {
        fuzz_assert(err.status == 502 && err.message[0], "a refused reply");
        ngx_http_moa_reply_free(&rep);
        ngx_http_moa_buf_free(&out);
        free(copy);
        return 0;
    }

    fuzz_assert(rep.nchoices > 0 && rep.p == p && rep.len == size
                && rep.nchoices
                   == cJSON_GetArraySize(fuzz_get(ngx_http_moa_reply_root(&rep),
                                                  "choices")),
                "the reply's choices");

    for (i = 0; i < rep.nchoices; i++) {
        c = &rep.choices[i];

        fuzz_assert(fuzz_within(&rep, &c->span)
                    && fuzz_within(&rep, &c->message)
                    && fuzz_within(&rep, &c->content)
                    && fuzz_within(&rep, &c->tool_calls)
                    && fuzz_within(&rep, &c->refusal)
                    && c->span.len && c->message.p[0] == '{',
                    "a choice's spans are values within the reply");

        m = ngx_http_moa_reply_choice_message(c);
        fuzz_assert(cJSON_IsObject(m), "choice_message: an object");
        cJSON_Delete(m);

        (void) ngx_http_moa_reply_choice_usable(c);

        out.len = 0;
        ngx_http_moa_prompt_choice_text(&out, c, "</candidate");
        fuzz_assert(!out.nomem, "choice_text");
        fuzz_text(&out, "</candidate", 0);

        out.len = 0;
        ngx_http_moa_prompt_choice_text(&out, c, "</critiques");
        fuzz_text(&out, "</critiques", 0);
    }

    /* the choices as candidates: each closed exactly once */
    n = rep.nchoices < FUZZ_MAX_CANDS ? rep.nchoices : FUZZ_MAX_CANDS;

    for (i = 0; i < n; i++) {
        cands[i].choice = &rep.choices[i];
    }

    out.len = 0;
    fuzz_assert(ngx_http_moa_prompt_candidates(&out, cands, n) == 0,
                "the candidates' block");
    fuzz_text(&out, "</candidate", n);

    ngx_http_moa_buf_free(&out);

    /* usage: this call twice, as over several calls */
    ngx_http_moa_usage_record_init(&acc);
    ignored = ngx_http_moa_usage_add_reply(&acc, &rep);
    fuzz_assert(ignored >= 0
                && ngx_http_moa_usage_add_reply(&acc, &rep) == ignored,
                "reply_usage_add");

    /*
     * from the tokens as from the tree, but cJSON cuts numbers at 63
     * characters where the tokens read them whole
     */
    if (!fuzz_long_number(&rep)) {
        char                  *s1, *s2;
        cJSON                 *tree;
        ngx_http_moa_usage_t   tacc;

        ngx_http_moa_usage_record_init(&tacc);
        tree = check_reply_usage(&rep);
        fuzz_assert(ngx_http_moa_usage_add(&tacc, tree) == ignored
                    && ngx_http_moa_usage_add(&tacc, tree) == ignored,
                    "usage_add of the tree, the same members ignored");
        cJSON_Delete(tree);

        s1 = cJSON_PrintUnformatted(&acc.root);
        s2 = cJSON_PrintUnformatted(&tacc.root);
        fuzz_assert(s1 && s2 && strcmp(s1, s2) == 0,
                    "reply_usage_add sums as usage_add");
        free(s1);
        free(s2);
        ngx_http_moa_usage_record_free(&tacc);
    }

    (void) ngx_http_moa_usage_get(&acc.root, "prompt_tokens");
    (void) ngx_http_moa_usage_get(&acc.root, "completion_tokens");
    (void) ngx_http_moa_usage_get(&acc.root, "total_tokens");

    h = fuzz_hash(data, size);
    choice = (h & 1) ? -1 : (int) ((h >> 1) % rep.nchoices);

    /* the stream reads the tree, build_response edits it: stream first */
    fuzz_stream(&rep, choice, &acc.root);
    fuzz_response(&rep, choice, &acc.root);

    ngx_http_moa_usage_record_free(&acc);
    ngx_http_moa_reply_free(&rep);
    free(copy);

    return 0;
}
