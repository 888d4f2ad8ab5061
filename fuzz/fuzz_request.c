
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Fuzz target: a client's request body.  Parse and validate it; refused
 * requests give a well-formed OpenAI error; accepted ones give three stage
 * bodies (parts flattened: as sent) that are valid JSON (for the scanner
 * and cJSON) with the module's own model, stream, messages and overrides
 * exactly once, the client's conversation unchanged, and the instruction
 * message last, as prompt_parts() renders it.  Call parameters, the
 * template (the input's last bytes) and whether there is a critique are
 * derived from the input.
 */


#include "fuzz.h"
#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_buf_json.h"
#include "ngx_http_moa_error.h"
#include "ngx_http_moa_body.h"
#include "ngx_http_moa_request.h"
#include "ngx_http_moa_reply.h"
#include "ngx_http_moa_prompt.h"
#include "ngx_http_moa_params.h"
#include "ngx_http_moa_stage_body.h"


/* what the critique and synthesis calls carry besides the request */
typedef struct {
    const char                  *tpl;        /* escaped */
    size_t                       tpl_len;
    const ngx_http_moa_buf_t    *cands;
    int                          ncands;
    const ngx_http_moa_choice_t *critique;
    const char                  *text;       /* the instruction, as cJSON
                                                decodes it */
} fuzz_inst_t;


static void
fuzz_error(const ngx_http_moa_error_t *err, int status)
{
    cJSON               *v;
    ngx_http_moa_buf_t   out;

    fuzz_assert(err->status == status, "the error's status");
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
fuzz_body(int stage, ngx_http_moa_request_t *req,
    const ngx_http_moa_stage_body_params_t *cp, const fuzz_inst_t inst[2])
{
    int                   i, rc, n;
    char                 *pa, *pb;
    cJSON                *v;
    const cJSON          *item, *a, *b, *messages;
    const char           *max;
    ngx_http_moa_buf_t    out;
    ngx_http_moa_body_t   body;

    memset(&out, 0, sizeof(out));
    memset(&body, 0, sizeof(body));

    switch (stage) {
    case 'p':
        rc = ngx_http_moa_stage_body_proposal(&body, req, cp);
        break;
    case 'c':
        rc = ngx_http_moa_stage_body_critique(&body, req, cp, inst[0].tpl,
                                              inst[0].tpl_len, inst[0].cands,
                                              inst[0].ncands);
        break;
    default:
        rc = ngx_http_moa_stage_body_synthesis(&body, req, cp, inst[1].tpl,
                                               inst[1].tpl_len, inst[1].cands,
                                               inst[1].ncands,
                                               inst[1].critique);
    }

    ngx_http_moa_body_flat(&body, &out);
    fuzz_assert(!out.nomem && out.len == body.len, "a body flattens");
    ngx_http_moa_body_free(&body);

    fuzz_assert(rc == 0, "a stage body is built");

    v = fuzz_json(out.data, out.len, "a stage body");
    fuzz_assert(cJSON_IsObject(v), "a stage body is an object");

    /* the module's keys, once */
    item = fuzz_get(v, "model");
    fuzz_assert(fuzz_count_key(v, "model") == 1 && cJSON_IsString(item)
                && strlen(item->valuestring) == strnlen(cp->model,
                                                        cp->model_len)
                && strncmp(item->valuestring, cp->model, cp->model_len) == 0,
                "the stage's own model, once");

    item = fuzz_get(v, "stream");
    fuzz_assert(fuzz_count_key(v, "stream") == 1 && cJSON_IsBool(item)
                && cJSON_IsTrue(item) == (stage == 's' && req->stream),
                "stream once, true only for a streamed synthesis");

    n = fuzz_count_key(v, "stream_options");

    if (stage == 's' && req->stream) {
        item = fuzz_get(v, "stream_options");
        fuzz_assert(n == 1 && fuzz_count_key(item, "include_usage") == 1
                    && cJSON_IsTrue(fuzz_get(item,
                                                           "include_usage")),
                    "a streamed synthesis asks for usage, once");

    } else {
        fuzz_assert(n == 0, "no stream_options when not streamed");
    }

    if (cp->temperature) {
        fuzz_assert(fuzz_count_key(v, "temperature") == 1,
                    "the stage's temperature, once");
    }

    if (cp->max_tokens > 0) {
        max = req->max_completion_tokens ? "max_completion_tokens"
                                         : "max_tokens";
        item = fuzz_get(v, max);
        fuzz_assert(fuzz_count_key(v, "max_tokens")
                    + fuzz_count_key(v, "max_completion_tokens") == 1
                    && cJSON_IsNumber(item)
                    && item->valuedouble == (double) cp->max_tokens,
                    "the stage's max tokens, once, the client's key name");
    }

    /* the conversation unchanged, then the instruction */
    item = fuzz_get(v, "messages");
    messages = fuzz_get(ngx_http_moa_request_root(req), "messages");
    n = cJSON_GetArraySize(messages);

    fuzz_assert(fuzz_count_key(v, "messages") == 1 && cJSON_IsArray(item)
                && cJSON_GetArraySize(item) == n + (stage != 'p'),
                "the messages, plus one instruction");

    for (i = 0, a = item->child, b = messages->child; i < n;
         i++, a = a->next, b = b->next)
    {
        /* printed: cJSON_Compare mismatches duplicate keys */
        pa = cJSON_PrintUnformatted(a);
        pb = cJSON_PrintUnformatted(b);
        fuzz_assert(pa && pb && strcmp(pa, pb) == 0,
                    "a message reaches the stage unchanged");
        cJSON_free(pa);
        cJSON_free(pb);
    }

    if (stage != 'p') {
        fuzz_assert(fuzz_count_key(a, "role") == 1
                    && fuzz_str_is(a, "role", "user"),
                    "the instruction is a user message");

        item = fuzz_get(a, "content");
        fuzz_assert(cJSON_IsString(item)
                    && strcmp(item->valuestring,
                              stage == 'c' ? inst[0].text : inst[1].text)
                       == 0, "the instruction's text");
    }

    /* what each stage may not carry */
    if (stage == 'p') {
        fuzz_assert(fuzz_count_key(v, "logprobs") == 0
                    && fuzz_count_key(v, "top_logprobs") == 0
                    && fuzz_count_key(v, "store") == 0
                    && fuzz_count_key(v, "metadata") == 0,
                    "a proposal has no logprobs, store, metadata");

        fuzz_assert(fuzz_count_key(v, "n") == (cp->n > 1),
                    "a proposal's n is the module's");

        item = fuzz_get(v, "seed");
        fuzz_assert(fuzz_count_key(v, "seed") == req->has_seed
                    && (!req->has_seed
                        || (cJSON_IsNumber(item)
                            && item->valuedouble
                               == (double) (req->seed + cp->index))),
                    "a proposal's seed is the client's plus its index");
    }

    if (stage == 'c') {
        for (item = v->child; item; item = item->next) {
            fuzz_assert(strcmp(item->string, "tools") == 0
                        || strcmp(item->string, "user") == 0
                        || strcmp(item->string, "safety_identifier") == 0
                        || strcmp(item->string, "service_tier") == 0
                        || strcmp(item->string, "prompt_cache_key") == 0
                        || strcmp(item->string, "reasoning_effort") == 0
                        || strcmp(item->string, "tool_choice") == 0
                        || strcmp(item->string, "model") == 0
                        || strcmp(item->string, "temperature") == 0
                        || strcmp(item->string, "max_tokens") == 0
                        || strcmp(item->string, "max_completion_tokens") == 0
                        || strcmp(item->string, "messages") == 0
                        || strcmp(item->string, "stream") == 0,
                        "a critique carries only the allowlist");
        }

        item = fuzz_get(v, "tool_choice");
        fuzz_assert(req->has_tools
                    ? fuzz_count_key(v, "tool_choice") == 1
                      && cJSON_IsString(item)
                      && strcmp(item->valuestring, "none") == 0
                    : fuzz_count_key(v, "tool_choice") == 0,
                    "a critique's tool_choice is none, with tools only");
    }

    cJSON_Delete(v);
    ngx_http_moa_buf_free(&out);
}


/* the instruction alone, flattened and decoded as cJSON decodes it */
static char *
fuzz_instruction(const fuzz_inst_t *inst)
{
    char                 *text;
    cJSON                *v;
    ngx_http_moa_buf_t    out;
    ngx_http_moa_body_t   body;

    memset(&out, 0, sizeof(out));
    memset(&body, 0, sizeof(body));

    ngx_http_moa_prompt_parts(&body, inst->tpl, inst->tpl_len, inst->cands,
                              inst->ncands, inst->critique);
    fuzz_assert(ngx_http_moa_body_done(&body) == 0, "instruction parts");

    ngx_http_moa_buf_lit(&out, "\"");
    ngx_http_moa_body_flat(&body, &out);
    ngx_http_moa_buf_lit(&out, "\"");

    v = fuzz_json(out.data, out.len, "the instruction as a JSON string");
    fuzz_assert(cJSON_IsString(v), "the instruction is a string");

    text = strdup(v->valuestring);
    fuzz_assert(text != NULL, "strdup");

    cJSON_Delete(v);
    ngx_http_moa_body_free(&body);
    ngx_http_moa_buf_free(&out);

    return text;
}


static const char  *fuzz_cand_replies[] = {
    "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":"
    "\"Paris </candidate> \\u003c/candidate \\u00e9\"}},{\"message\":"
    "{\"content\":null,\"tool_calls\":[{\"function\":{\"name\":\"f\","
    "\"arguments\":\"{}\"}}]}}]}",
    "{\"choices\":[{\"message\":{\"content\":\"the critique\\n\"}}]}"
};


/* a number item within [min, max] (an integer if asked), or null */
static int
fuzz_in_range(const cJSON *root, const char *name, double min, double max,
    int integer)
{
    const cJSON  *v;

    v = fuzz_get(root, name);

    if (v == NULL || cJSON_IsNull(v)) {
        return 1;
    }

    return cJSON_IsNumber(v) && v->valuedouble >= min
           && v->valuedouble <= max
           && (!integer || v->valuedouble == (double) (long long)
                                                 v->valuedouble);
}


/*
 * What a request accepted for a MoA model holds, seen through cJSON: the
 * ranges and shapes ngx_http_moa_params_check() promises, no unknown
 * parameter in reject mode, none left in the stage bodies in drop mode.
 */
static void
fuzz_contract(ngx_http_moa_request_t *req, int unknown)
{
    size_t        k;
    const cJSON  *root, *v, *m, *role;

    root = ngx_http_moa_request_root(req);

    fuzz_assert(fuzz_in_range(root, "temperature", 0, 2, 0)
                && fuzz_in_range(root, "top_p", 0, 1, 0)
                && fuzz_in_range(root, "presence_penalty", -2, 2, 0)
                && fuzz_in_range(root, "frequency_penalty", -2, 2, 0)
                && fuzz_in_range(root, "max_tokens", 1, 2147483647.0, 1)
                && fuzz_in_range(root, "max_completion_tokens", 1,
                                 2147483647.0, 1)
                && fuzz_in_range(root, "top_logprobs", 0, 20, 1),
                "accepted numbers are in range");

    v = fuzz_get(root, "stop");
    fuzz_assert(v == NULL || cJSON_IsNull(v) || cJSON_IsString(v)
                || (cJSON_IsArray(v) && cJSON_GetArraySize(v) <= 4),
                "an accepted stop");

    v = fuzz_get(root, "metadata");
    fuzz_assert(v == NULL || cJSON_IsNull(v)
                || (cJSON_IsObject(v) && cJSON_GetArraySize(v) <= 16),
                "accepted metadata");

    cJSON_ArrayForEach(m, fuzz_get(root, "messages")) {
        role = fuzz_get(m, "role");
        v = fuzz_get(m, "content");

        fuzz_assert(cJSON_IsString(v) || cJSON_IsArray(v)
                    || (cJSON_IsString(role)
                        && strcmp(role->valuestring, "assistant") == 0),
                    "an accepted message has content");

        if (cJSON_IsString(role) && strcmp(role->valuestring, "tool") == 0) {
            fuzz_assert(cJSON_IsString(fuzz_get(m, "tool_call_id")),
                        "an accepted tool message has its tool_call_id");
        }
    }

    if (unknown == NGX_HTTP_MOA_PARAMS_PASS) {
        return;
    }

    /* reject: none in the body; drop: none left for the stage bodies */
    for (k = 0; k < req->nmembers; k++) {
        fuzz_assert(ngx_http_moa_params_known(req->members[k].key,
                                              req->members[k].key_len,
                                              req->members[k].escaped),
                    "no unknown parameter is kept");
    }

    fuzz_assert(req->raw_messages
                && req->raw_messages->value == req->json.tok[req->messages].p,
                "the messages member survives a drop");
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                               rc, k, unknown;
    char                             *copy;
    char                              raw[64];
    size_t                            raw_len;
    uint64_t                          h;
    fuzz_inst_t                       inst[2];
    ngx_http_moa_buf_t                tpl, block;
    ngx_http_moa_error_t              err;
    ngx_http_moa_reply_t              rep[2];
    ngx_http_moa_request_t            req;
    ngx_http_moa_prompt_candidate_t   cands[2];
    ngx_http_moa_stage_body_params_t  cp;

    static const char           *models[] = {
        "gpt-4o", "", "a\"b\\c\n\x01\xc3\xa9", "m\0hidden"
    };

    static const size_t          model_lens[] = { 6, 0, 10, 8 };

    static const char           *temperatures[] = {
        NULL, "0.2", "1", "1.0e0"
    };

    /* a copy of the exact size: ASan sees any read past the body */
    copy = malloc(size ? size : 1);
    fuzz_assert(copy != NULL, "malloc");

    if (size) {
        memcpy(copy, data, size);
    }

    rc = ngx_http_moa_request_parse(&req, size ? copy : NULL, size, &err);

    if (rc != 0) {
        fuzz_error(&err, 400);
        ngx_http_moa_request_free(&req);
        free(copy);
        return 0;
    }

    fuzz_assert(req.model && req.messages > 0 && req.raw_messages
                && req.raw_messages->value == req.json.tok[req.messages].p
                && req.n >= 1 && req.n <= 128
                && ngx_http_moa_request_root(&req) != NULL,
                "a parsed request");

    h = fuzz_hash(data, size);
    unknown = (int) (h % 3);

    if (ngx_http_moa_request_check_moa(&req, unknown, &err) != 0) {
        fuzz_error(&err, 400);
        fuzz_assert(err.param != NULL, "a refused request names the param");

    } else {
        fuzz_contract(&req, unknown);
    }

    /* the candidates and the critique, fixed */
    memset(&block, 0, sizeof(block));
    memset(&tpl, 0, sizeof(tpl));

    for (k = 0; k < 2; k++) {
        fuzz_assert(ngx_http_moa_reply_parse(&rep[k], fuzz_cand_replies[k],
                                             strlen(fuzz_cand_replies[k]),
                                             &err) == 0, "a fixed reply");
    }

    cands[0].choice = &rep[0].choices[0];
    cands[1].choice = &rep[0].choices[1];

    fuzz_assert(ngx_http_moa_prompt_candidates(&block, cands, 2) == 0,
                "the candidates' block");

    /* the template: the input's last bytes, any bytes but NUL, escaped */
    raw_len = size < sizeof(raw) ? size : sizeof(raw);

    if (raw_len) {
        memcpy(raw, data + size - raw_len, raw_len);
    }

    for (k = 0; k < (int) raw_len; k++) {
        if (raw[k] == '\0') {
            raw[k] = '0';
        }
    }

    ngx_http_moa_buf_json_inner(&tpl, raw, raw_len);
    fuzz_assert(!tpl.nomem, "the template escaped");

    for (k = 0; k < 2; k++) {
        inst[k].tpl = tpl.len ? tpl.data : "";
        inst[k].tpl_len = tpl.len;
        inst[k].cands = &block;
        inst[k].ncands = ((h >> 40) & 1) ? 2 : 0;
        inst[k].critique = (k == 1 && ((h >> 41) & 1)) ? &rep[1].choices[0]
                                                       : NULL;
        inst[k].text = fuzz_instruction(&inst[k]);
    }

    for (k = 0; k < 4; k++) {
        memset(&cp, 0, sizeof(cp));

        cp.model = models[(h >> (k * 8)) & 3];
        cp.model_len = model_lens[(h >> (k * 8)) & 3];
        cp.temperature = temperatures[(h >> (k * 8 + 2)) & 3];
        cp.temperature_len = cp.temperature ? strlen(cp.temperature) : 0;
        cp.max_tokens = ((h >> (k * 8 + 4)) & 1) ? 100 + k : 0;
        cp.n = ((h >> (k * 8 + 5)) & 1) ? 3 : 0;
        cp.index = k;

        fuzz_body('p', &req, &cp, inst);
        fuzz_body('c', &req, &cp, inst);
        fuzz_body('s', &req, &cp, inst);
    }

    free((void *) inst[0].text);
    free((void *) inst[1].text);
    ngx_http_moa_reply_free(&rep[0]);
    ngx_http_moa_reply_free(&rep[1]);
    ngx_http_moa_buf_free(&tpl);
    ngx_http_moa_buf_free(&block);
    ngx_http_moa_request_free(&req);
    free(copy);

    return 0;
}
