
/*
 * Copyright (C) ngx_http_moa_module authors
 */


#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <stdarg.h>
#include <time.h>

#include "ngx_http_moa_openai.h"
#include "ngx_http_moa_prompt.h"


#define NGX_HTTP_MOA_MAX_N     128
/* keys of an object answered as the provider wrote it */
#define NGX_HTTP_MOA_MAX_KEYS  64


typedef struct {
    const char  *name;
} ngx_http_moa_key_t;


/* never sent on internal (proposal, critique) calls */
static const char  *ngx_http_moa_proposal_drop[] = {
    "model", "messages", "stream", "stream_options", "n", "temperature",
    "seed", "logprobs", "top_logprobs", "store", "metadata", NULL
};

/* the only client fields a critique carries: it must be plain text */
static const char  *ngx_http_moa_critique_keep[] = {
    "tools", "user", "safety_identifier", "service_tier", "prompt_cache_key",
    "reasoning_effort", NULL
};

/* replaced by the module on the synthesis call */
static const char  *ngx_http_moa_synthesis_drop[] = {
    "model", "messages", "stream", "stream_options", NULL
};

static const char  *ngx_http_moa_max_tokens_keys[] = {
    "max_tokens", "max_completion_tokens", NULL
};

/* set or read by build_response: a provider's duplicates are dropped */
static const char  *ngx_http_moa_response_keys[] = {
    "id", "object", "created", "model", "choices", "usage", NULL
};

static const char  *ngx_http_moa_choice_keys[] = {
    "index", "message", "logprobs", "finish_reason", NULL
};

static const char  *ngx_http_moa_message_keys[] = {
    "role", "content", "refusal", "tool_calls", NULL
};

static const char  *ngx_http_moa_index_key[] = { "index", NULL };

static const char  *ngx_http_moa_roles[] = {
    "system", "developer", "user", "assistant", "tool", "function", NULL
};


static int ngx_http_moa_is_literal(const char *p, size_t len,
    const char *lit);
static int ngx_http_moa_tok_unique(const ngx_http_moa_json_t *j, int obj);
static int ngx_http_moa_span_array_nonempty(const ngx_http_moa_span_t *v);
static void ngx_http_moa_body_part(ngx_http_moa_body_t *b, const char *p,
    size_t len);


static int
ngx_http_moa_in_list(const ngx_http_moa_json_member_t *m, const char **list)
{
    for ( /* void */ ; *list; list++) {
        if (ngx_http_moa_json_key_is(m, *list)) {
            return 1;
        }
    }

    return 0;
}


void
ngx_http_moa_error_set(ngx_http_moa_error_t *err, int status,
    const char *type, const char *code, const char *param,
    const char *fmt, ...)
{
    va_list  args;

    err->status = status;
    err->type = type;
    err->code = code;
    err->param = param;

    va_start(args, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, args);
    va_end(args);
}


/* *dst = *src, with the texts src holds in its own buf[] held by dst's */
void
ngx_http_moa_error_move(ngx_http_moa_error_t *dst,
    const ngx_http_moa_error_t *src)
{
    int           i;
    const char   *lo, *hi, **f[3];

    *dst = *src;

    lo = (const char *) src->buf;
    hi = lo + sizeof(src->buf);

    f[0] = &dst->type;
    f[1] = &dst->code;
    f[2] = &dst->param;

    for (i = 0; i < 3; i++) {
        if (*f[i] >= lo && *f[i] < hi) {
            *f[i] = (const char *) dst->buf + (*f[i] - lo);
        }
    }
}


static const char *
ngx_http_moa_error_copy(char *buf, size_t size, const cJSON *item)
{
    if (!cJSON_IsString(item)) {
        return NULL;
    }

    snprintf(buf, size, "%s", item->valuestring);

    return buf;
}


/*
 * A provider's error reply {"error":{"message","type","code","param"}}
 * as err (status as given); 0 if the body was such an error, else -1 with
 * a generic message naming the status.
 */
int
ngx_http_moa_error_from_reply(ngx_http_moa_error_t *err, int status,
    const char *p, size_t len)
{
    cJSON        *root;
    const cJSON  *e, *msg;

    ngx_http_moa_error_set(err, status, "upstream_error", NULL, NULL,
                           "the provider answered %d", status);

    root = (p && len) ? cJSON_ParseWithLength(p, len) : NULL;

    e = cJSON_GetObjectItemCaseSensitive(root, "error");
    msg = cJSON_GetObjectItemCaseSensitive(e, "message");

    if (!cJSON_IsString(msg)) {
        cJSON_Delete(root);
        return -1;
    }

    snprintf(err->message, sizeof(err->message), "%s", msg->valuestring);

    if (ngx_http_moa_error_copy(err->buf[0], sizeof(err->buf[0]),
            cJSON_GetObjectItemCaseSensitive(e, "type")))
    {
        err->type = err->buf[0];
    }

    err->code = ngx_http_moa_error_copy(err->buf[1], sizeof(err->buf[1]),
                    cJSON_GetObjectItemCaseSensitive(e, "code"));
    err->param = ngx_http_moa_error_copy(err->buf[2], sizeof(err->buf[2]),
                     cJSON_GetObjectItemCaseSensitive(e, "param"));

    cJSON_Delete(root);

    return 0;
}


void
ngx_http_moa_error_json(ngx_http_moa_buf_t *out,
    const ngx_http_moa_error_t *err)
{
    ngx_http_moa_buf_lit(out, "{\"error\":{\"message\":");
    ngx_http_moa_buf_json_str(out, err->message, strlen(err->message));
    ngx_http_moa_buf_lit(out, ",\"type\":");
    ngx_http_moa_buf_json_str(out, err->type, strlen(err->type));
    ngx_http_moa_buf_lit(out, ",\"param\":");

    if (err->param) {
        ngx_http_moa_buf_json_str(out, err->param, strlen(err->param));

    } else {
        ngx_http_moa_buf_lit(out, "null");
    }

    ngx_http_moa_buf_lit(out, ",\"code\":");

    if (err->code) {
        ngx_http_moa_buf_json_str(out, err->code, strlen(err->code));

    } else {
        ngx_http_moa_buf_lit(out, "null");
    }

    ngx_http_moa_buf_lit(out, "}}");
}


void
ngx_http_moa_error_event(ngx_http_moa_buf_t *out,
    const ngx_http_moa_error_t *err)
{
    ngx_http_moa_buf_lit(out, "data: ");
    ngx_http_moa_error_json(out, err);
    ngx_http_moa_buf_lit(out, "\n\n");
}


static int
ngx_http_moa_invalid_type(ngx_http_moa_error_t *err, const char *param,
    const char *expected)
{
    ngx_http_moa_error_set(err, 400, "invalid_request_error", "invalid_type",
                           param, "Invalid type for '%s': expected %s.",
                           param, expected);
    return -1;
}


/* a token as a NUL-terminated number, for strtod(); 0 or -1 */
static int
ngx_http_moa_tok_number(const ngx_http_moa_json_t *j, int i, double *d)
{
    char  num[40];

    if (j->tok[i].type != '0' || j->tok[i].len >= sizeof(num)) {
        return -1;
    }

    memcpy(num, j->tok[i].p, j->tok[i].len);
    num[j->tok[i].len] = '\0';

    *d = strtod(num, NULL);

    return 0;
}


/* a string token equals a plain ASCII text, escapes decoded if any */
static int
ngx_http_moa_tok_is(const ngx_http_moa_json_t *j, int i, const char *text)
{
    ngx_http_moa_json_member_t  m;

    if (j->tok[i].type != '"') {
        return 0;
    }

    m.key = j->tok[i].p + 1;
    m.key_len = j->tok[i].len - 2;
    m.escaped = j->tok[i].escaped;

    return ngx_http_moa_json_key_is(&m, text);
}


static int
ngx_http_moa_check_messages(ngx_http_moa_request_t *req,
    ngx_http_moa_error_t *err)
{
    int                   i, n, role;
    const char          **r;
    ngx_http_moa_buf_t    text;
    ngx_http_moa_json_t  *j;

    j = &req->json;
    n = 0;

    for (i = ngx_http_moa_json_first(j, req->messages); i >= 0;
         i = ngx_http_moa_json_after(j, req->messages, i), n++)
    {
        if (j->tok[i].type != '{') {
            ngx_http_moa_error_set(err, 400, "invalid_request_error",
                                   "invalid_type", "messages",
                                   "Invalid type for 'messages[%d]': "
                                   "expected an object.", n);
            return -1;
        }

        role = ngx_http_moa_json_find(j, i, "role");

        if (role < 0 || j->tok[role].type != '"') {
            ngx_http_moa_error_set(err, 400, "invalid_request_error",
                                   role >= 0 ? "invalid_type"
                                             : "missing_required_parameter",
                                   "messages",
                                   "Missing or invalid 'messages[%d].role': "
                                   "expected a string.", n);
            return -1;
        }

        for (r = ngx_http_moa_roles; *r; r++) {
            if (ngx_http_moa_tok_is(j, role, *r)) {
                break;
            }
        }

        if (*r == NULL) {
            memset(&text, 0, sizeof(ngx_http_moa_buf_t));
            (void) ngx_http_moa_json_unescape(&text, j->tok[role].p,
                                              j->tok[role].len);
            ngx_http_moa_buf_add(&text, "", 1);

            ngx_http_moa_error_set(err, 400, "invalid_request_error",
                                   "invalid_value", "messages",
                                   "Invalid value for 'messages[%d].role': "
                                   "'%.64s' is not one of 'system', "
                                   "'developer', 'user', 'assistant', "
                                   "'tool'.", n,
                                   text.nomem ? "" : text.data);
            ngx_http_moa_buf_free(&text);
            return -1;
        }
    }

    return 0;
}


/* the request's top-level members read by the module, found in one pass */
enum {
    NGX_HTTP_MOA_REQ_MODEL = 0,
    NGX_HTTP_MOA_REQ_MESSAGES,
    NGX_HTTP_MOA_REQ_STREAM,
    NGX_HTTP_MOA_REQ_STREAM_OPTIONS,
    NGX_HTTP_MOA_REQ_N,
    NGX_HTTP_MOA_REQ_SEED,
    NGX_HTTP_MOA_REQ_TOOLS,
    NGX_HTTP_MOA_REQ_MAX_COMPLETION_TOKENS,
    NGX_HTTP_MOA_REQ_AUDIO,
    NGX_HTTP_MOA_REQ_MODALITIES,
    NGX_HTTP_MOA_REQ_PREDICTION,
    NGX_HTTP_MOA_REQ_NKEYS
};


static const ngx_http_moa_json_key_t
    ngx_http_moa_request_keys[NGX_HTTP_MOA_REQ_NKEYS] =
{
    ngx_http_moa_json_key("model"),
    ngx_http_moa_json_key("messages"),
    ngx_http_moa_json_key("stream"),
    ngx_http_moa_json_key("stream_options"),
    ngx_http_moa_json_key("n"),
    ngx_http_moa_json_key("seed"),
    ngx_http_moa_json_key("tools"),
    ngx_http_moa_json_key("max_completion_tokens"),
    ngx_http_moa_json_key("audio"),
    ngx_http_moa_json_key("modalities"),
    ngx_http_moa_json_key("prediction")
};


/*
 * Validates the client's request in one pass over its text (a tree is made
 * only when a capture line needs one) and reads what the chain uses.
 */
int
ngx_http_moa_request_parse(ngx_http_moa_request_t *req, const char *body,
    size_t len, ngx_http_moa_error_t *err)
{
    int                   i, o, k;
    int                   at[NGX_HTTP_MOA_REQ_NKEYS];
    double                d;
    uint32_t              t, end;
    ngx_http_moa_json_t  *j;

    memset(req, 0, sizeof(ngx_http_moa_request_t));
    req->body = body;
    req->len = len;
    req->n = 1;

    j = &req->json;

    if (ngx_http_moa_json_parse(j, body, len) != 0 || j->tok[0].type != '{') {
        ngx_http_moa_error_set(err, 400, "invalid_request_error", NULL, NULL,
                               "We could not parse the JSON body of your "
                               "request: expected a JSON object.");
        return -1;
    }

    /* the top-level members, for the stage bodies spliced from them */

    end = j->tok[0].next;

    for (t = 1; t < end; t = j->tok[t + 1].next) {
        req->nmembers++;
    }

    if (req->nmembers) {
        req->members = malloc(req->nmembers
                              * sizeof(ngx_http_moa_json_member_t));
        if (req->members == NULL) {
            ngx_http_moa_error_set(err, 500, "server_error", NULL, NULL,
                                   "out of memory");
            return -1;
        }
    }

    k = 0;

    for (t = 1; t < end; t = j->tok[t + 1].next) {
        req->members[k].key = j->tok[t].p + 1;
        req->members[k].key_len = j->tok[t].len - 2;
        req->members[k].escaped = j->tok[t].escaped;
        req->members[k].value = j->tok[t + 1].p;
        req->members[k].value_len = j->tok[t + 1].len;
        k++;
    }

    ngx_http_moa_json_find_keys(j, 0, ngx_http_moa_request_keys,
                                NGX_HTTP_MOA_REQ_NKEYS, at);

    req->audio = at[NGX_HTTP_MOA_REQ_AUDIO];
    req->modalities = at[NGX_HTTP_MOA_REQ_MODALITIES];
    req->prediction = at[NGX_HTTP_MOA_REQ_PREDICTION];

    i = at[NGX_HTTP_MOA_REQ_MODEL];

    if (i < 0 || j->tok[i].type == 'n') {
        ngx_http_moa_error_set(err, 400, "invalid_request_error",
                               "missing_required_parameter", "model",
                               "you must provide a model parameter");
        return -1;
    }

    if (j->tok[i].type != '"') {
        return ngx_http_moa_invalid_type(err, "model", "a string");
    }

    if (!j->tok[i].escaped && j->tok[i].len - 2 < sizeof(req->model_text)) {
        /* without escapes a string's text is its value */
        memcpy(req->model_text, j->tok[i].p + 1, j->tok[i].len - 2);
        req->model_text[j->tok[i].len - 2] = '\0';
        req->model = req->model_text;

    } else {
        (void) ngx_http_moa_buf_reserve(&req->model_buf, j->tok[i].len);

        if (ngx_http_moa_json_unescape(&req->model_buf, j->tok[i].p,
                                       j->tok[i].len)
            != 0)
        {
            ngx_http_moa_error_set(err, 500, "server_error", NULL, NULL,
                                   "out of memory");
            return -1;
        }

        ngx_http_moa_buf_add(&req->model_buf, "", 1);

        if (req->model_buf.nomem) {
            ngx_http_moa_error_set(err, 500, "server_error", NULL, NULL,
                                   "out of memory");
            return -1;
        }

        req->model = req->model_buf.data;
    }

    i = at[NGX_HTTP_MOA_REQ_MESSAGES];

    if (i < 0 || j->tok[i].type == 'n') {
        ngx_http_moa_error_set(err, 400, "invalid_request_error",
                               "missing_required_parameter", "messages",
                               "Missing required parameter: 'messages'.");
        return -1;
    }

    if (j->tok[i].type != '[') {
        return ngx_http_moa_invalid_type(err, "messages", "an array");
    }

    if (ngx_http_moa_json_first(j, i) < 0) {
        ngx_http_moa_error_set(err, 400, "invalid_request_error",
                               "empty_array", "messages",
                               "Invalid 'messages': empty array. Expected an "
                               "array with minimum length 1, but got an "
                               "empty array instead.");
        return -1;
    }

    req->messages = i;

    if (ngx_http_moa_check_messages(req, err) != 0) {
        return -1;
    }

    for (k = 0; k < (int) req->nmembers; k++) {
        if (req->members[k].value == j->tok[i].p) {
            req->raw_messages = &req->members[k];
            break;
        }
    }

    i = at[NGX_HTTP_MOA_REQ_STREAM];

    if (i >= 0 && j->tok[i].type != 'n') {
        if (j->tok[i].type != 't' && j->tok[i].type != 'f') {
            return ngx_http_moa_invalid_type(err, "stream", "a boolean");
        }

        req->stream = (j->tok[i].type == 't');
    }

    i = at[NGX_HTTP_MOA_REQ_STREAM_OPTIONS];

    if (i >= 0 && j->tok[i].type != 'n') {
        if (j->tok[i].type != '{') {
            return ngx_http_moa_invalid_type(err, "stream_options",
                                             "an object");
        }

        if (!req->stream) {
            ngx_http_moa_error_set(err, 400, "invalid_request_error",
                                   "invalid_value", "stream_options",
                                   "The 'stream_options' parameter is only "
                                   "allowed when 'stream' is enabled.");
            return -1;
        }

        ngx_http_moa_json_span(j, i, &req->stream_options);

        o = ngx_http_moa_json_find(j, i, "include_usage");
        req->include_usage = (o >= 0 && j->tok[o].type == 't');
    }

    i = at[NGX_HTTP_MOA_REQ_N];

    if (i >= 0 && j->tok[i].type != 'n') {
        /* range first: casting a double out of range is undefined */
        if (ngx_http_moa_tok_number(j, i, &d) != 0
            || d < INT_MIN || d > INT_MAX || d != (double) (int) d)
        {
            return ngx_http_moa_invalid_type(err, "n", "an integer");
        }

        if (d < 1 || d > NGX_HTTP_MOA_MAX_N) {
            ngx_http_moa_error_set(err, 400, "invalid_request_error",
                                   "invalid_value", "n",
                                   "Invalid 'n': must be between 1 and %d.",
                                   NGX_HTTP_MOA_MAX_N);
            return -1;
        }

        req->n = (int) d;
    }

    i = at[NGX_HTTP_MOA_REQ_SEED];

    if (i >= 0 && j->tok[i].type != 'n') {
        /* range first: casting a double out of range is undefined */
        if (ngx_http_moa_tok_number(j, i, &d) != 0
            || d < -9223372036854775808.0 || d >= 9223372036854775808.0
            || d != (double) (long long) d)
        {
            return ngx_http_moa_invalid_type(err, "seed", "an integer");
        }

        req->has_seed = 1;
        req->seed = (long long) d;
    }

    i = at[NGX_HTTP_MOA_REQ_TOOLS];

    if (i >= 0 && j->tok[i].type != 'n') {
        if (j->tok[i].type != '[') {
            return ngx_http_moa_invalid_type(err, "tools", "an array");
        }

        req->has_tools = (ngx_http_moa_json_first(j, i) >= 0);
    }

    i = at[NGX_HTTP_MOA_REQ_MAX_COMPLETION_TOKENS];
    req->max_completion_tokens = (i >= 0 && j->tok[i].type != 'n');

    return 0;
}


int
ngx_http_moa_request_check_moa(ngx_http_moa_request_t *req,
    ngx_http_moa_error_t *err)
{
    int                   i, m;
    ngx_http_moa_json_t  *j;

    j = &req->json;

    i = req->audio;

    if (i >= 0 && j->tok[i].type != 'n') {
        goto audio;
    }

    i = req->modalities;

    for (m = ngx_http_moa_json_first(j, i); m >= 0;
         m = ngx_http_moa_json_after(j, i, m))
    {
        if (ngx_http_moa_tok_is(j, m, "audio")) {
            goto audio;
        }
    }

    i = req->prediction;

    if (i >= 0 && j->tok[i].type != 'n') {
        ngx_http_moa_error_set(err, 400, "invalid_request_error",
                               "unsupported_parameter", "prediction",
                               "Predicted outputs ('prediction') are not "
                               "supported by the Mixture-of-Agents model "
                               "'%.64s'.", req->model);
        return -1;
    }

    return 0;

audio:

    ngx_http_moa_error_set(err, 400, "invalid_request_error",
                           "unsupported_parameter", "audio",
                           "Audio output is not supported by the "
                           "Mixture-of-Agents model '%.64s'.", req->model);
    return -1;
}


/* the tokens are not needed once the request is checked */
void
ngx_http_moa_request_compact(ngx_http_moa_request_t *req)
{
    ngx_http_moa_json_free(&req->json);
}


/* the request as a tree, for capture lines */
cJSON *
ngx_http_moa_request_root(ngx_http_moa_request_t *req)
{
    if (req->root == NULL && req->body) {
        req->root = cJSON_ParseWithLength(req->body, req->len);
    }

    return req->root;
}


void
ngx_http_moa_request_free(ngx_http_moa_request_t *req)
{
    ngx_http_moa_json_free(&req->json);
    ngx_http_moa_buf_free(&req->model_buf);
    cJSON_Delete(req->root);
    free(req->members);
    req->root = NULL;
    req->members = NULL;
}


/*
 * A reference to text that outlives the body.  A short one is copied into
 * the glue instead: a part costs more than its text (two buffers and two
 * chain links when it is sent).
 */
void
ngx_http_moa_body_ref(ngx_http_moa_body_t *b, const char *p, size_t len)
{
    if (len && len < NGX_HTTP_MOA_BODY_COPY) {
        ngx_http_moa_body_add(b, p, len);
        return;
    }

    ngx_http_moa_body_part(b, p, len);
}


static void
ngx_http_moa_body_part(ngx_http_moa_body_t *b, const char *p, size_t len)
{
    ngx_http_moa_part_t  *part;

    if (len == 0 || b->nomem) {
        return;
    }

    b->len += len;

    if (b->nparts) {
        part = &b->parts[b->nparts - 1];

        if (part->p && part->p + part->len == p) {
            part->len += len;
            return;
        }
    }

    if (b->nparts == b->size) {
        b->size = b->size ? b->size * 2 : 16;

        part = realloc(b->parts, b->size * sizeof(ngx_http_moa_part_t));
        if (part == NULL) {
            b->nomem = 1;
            return;
        }

        b->parts = part;
    }

    part = &b->parts[b->nparts++];
    part->p = p;
    part->off = 0;
    part->len = len;
}


/* the glue written from off on becomes (or extends) a part */
void
ngx_http_moa_body_glued(ngx_http_moa_body_t *b, size_t off)
{
    size_t                len;
    ngx_http_moa_part_t  *part;

    if (b->glue.nomem) {
        b->nomem = 1;
        return;
    }

    len = b->glue.len - off;

    if (len == 0 || b->nomem) {
        return;
    }

    if (b->nparts) {
        part = &b->parts[b->nparts - 1];

        if (part->p == NULL && part->off + part->len == off) {
            part->len += len;
            b->len += len;
            return;
        }
    }

    ngx_http_moa_body_part(b, b->glue.data + off, len);

    if (!b->nomem) {
        part = &b->parts[b->nparts - 1];

        /* the glue may still move: remember where, not the address */
        part->p = NULL;
        part->off = off;
    }
}


void
ngx_http_moa_body_add(ngx_http_moa_body_t *b, const char *p, size_t len)
{
    size_t  off;

    off = b->glue.len;
    ngx_http_moa_buf_add(&b->glue, p, len);
    ngx_http_moa_body_glued(b, off);
}


int
ngx_http_moa_body_done(ngx_http_moa_body_t *b)
{
    size_t  i;

    if (b->nomem || b->glue.nomem) {
        return -1;
    }

    for (i = 0; i < b->nparts; i++) {
        if (b->parts[i].p == NULL) {
            b->parts[i].p = b->glue.data + b->parts[i].off;
        }
    }

    return 0;
}


void
ngx_http_moa_body_flat(const ngx_http_moa_body_t *b, ngx_http_moa_buf_t *out)
{
    size_t  i;

    for (i = 0; i < b->nparts; i++) {
        ngx_http_moa_buf_add(out, b->parts[i].p ? b->parts[i].p
                                  : b->glue.data + b->parts[i].off,
                             b->parts[i].len);
    }
}


void
ngx_http_moa_body_free(ngx_http_moa_body_t *b)
{
    free(b->parts);
    ngx_http_moa_buf_free(&b->glue);
    memset(b, 0, sizeof(ngx_http_moa_body_t));
}


/* a member into a buffer, as "key":value, */
static void
ngx_http_moa_put_member(ngx_http_moa_buf_t *out,
    const ngx_http_moa_json_member_t *m)
{
    ngx_http_moa_buf_lit(out, "\"");
    ngx_http_moa_buf_add(out, m->key, m->key_len);
    ngx_http_moa_buf_lit(out, "\":");
    ngx_http_moa_buf_add(out, m->value, m->value_len);
    ngx_http_moa_buf_lit(out, ",");
}


/* a member as the client wrote it: from its key's quote to its value's end */
static void
ngx_http_moa_add_member(ngx_http_moa_body_t *b,
    const ngx_http_moa_json_member_t *m)
{
    ngx_http_moa_body_ref(b, m->key - 1,
                          (m->value + m->value_len) - (m->key - 1));
    ngx_http_moa_body_lit(b, ",");
}


static void
ngx_http_moa_add_common(ngx_http_moa_body_t *b,
    const ngx_http_moa_request_t *req, const ngx_http_moa_call_params_t *cp)
{
    size_t  off;

    off = b->glue.len;

    ngx_http_moa_buf_lit(&b->glue, "\"model\":");
    ngx_http_moa_buf_json_str(&b->glue, cp->model, cp->model_len);

    if (cp->temperature) {
        ngx_http_moa_buf_lit(&b->glue, ",\"temperature\":");
        ngx_http_moa_buf_add(&b->glue, cp->temperature, cp->temperature_len);
    }

    if (cp->max_tokens > 0) {
        if (req->max_completion_tokens) {
            ngx_http_moa_buf_lit(&b->glue, ",\"max_completion_tokens\":");

        } else {
            ngx_http_moa_buf_lit(&b->glue, ",\"max_tokens\":");
        }

        ngx_http_moa_buf_int(&b->glue, cp->max_tokens);
    }

    ngx_http_moa_buf_lit(&b->glue, ",\"messages\":");
    ngx_http_moa_body_glued(b, off);
}


/* the client's messages, and the start of one instruction message */
static void
ngx_http_moa_add_messages(ngx_http_moa_body_t *b,
    const ngx_http_moa_request_t *req, int instruction)
{
    const ngx_http_moa_json_member_t  *m;

    m = req->raw_messages;

    if (!instruction) {
        ngx_http_moa_body_ref(b, m->value, m->value_len);
        return;
    }

    /* the raw value ends with ']' and is a non-empty array */
    ngx_http_moa_body_ref(b, m->value, m->value_len - 1);
    ngx_http_moa_body_lit(b, ",{\"role\":\"user\",\"content\":\"");
}


int
ngx_http_moa_build_proposal(ngx_http_moa_body_t *b,
    const ngx_http_moa_request_t *req, const ngx_http_moa_call_params_t *cp)
{
    size_t                             i, off;
    const ngx_http_moa_json_member_t  *m;

    ngx_http_moa_body_lit(b, "{");

    for (i = 0; i < req->nmembers; i++) {
        m = &req->members[i];

        if (ngx_http_moa_in_list(m, ngx_http_moa_proposal_drop)
            || (cp->max_tokens > 0
                && ngx_http_moa_in_list(m, ngx_http_moa_max_tokens_keys)))
        {
            continue;
        }

        ngx_http_moa_add_member(b, m);
    }

    ngx_http_moa_add_common(b, req, cp);
    ngx_http_moa_add_messages(b, req, 0);

    off = b->glue.len;

    if (cp->n > 1) {
        ngx_http_moa_buf_lit(&b->glue, ",\"n\":");
        ngx_http_moa_buf_int(&b->glue, cp->n);
    }

    /* same seed at a high temperature would give N equal candidates */
    if (req->has_seed) {
        ngx_http_moa_buf_lit(&b->glue, ",\"seed\":");
        ngx_http_moa_buf_int(&b->glue, req->seed + cp->index);
    }

    ngx_http_moa_buf_lit(&b->glue, ",\"stream\":false}");
    ngx_http_moa_body_glued(b, off);

    return ngx_http_moa_body_done(b);
}


int
ngx_http_moa_build_critique(ngx_http_moa_body_t *b,
    const ngx_http_moa_request_t *req, const ngx_http_moa_call_params_t *cp,
    const char *tpl, size_t tpl_len, const ngx_http_moa_buf_t *cands,
    int ncands)
{
    size_t                             i;
    const ngx_http_moa_json_member_t  *m;

    ngx_http_moa_body_lit(b, "{");

    for (i = 0; i < req->nmembers; i++) {
        m = &req->members[i];

        if (ngx_http_moa_in_list(m, ngx_http_moa_critique_keep)) {
            ngx_http_moa_add_member(b, m);
        }
    }

    /* tools give the candidates' tool calls a meaning; none may be called */
    if (req->has_tools) {
        ngx_http_moa_body_lit(b, "\"tool_choice\":\"none\",");
    }

    ngx_http_moa_add_common(b, req, cp);
    ngx_http_moa_add_messages(b, req, 1);
    ngx_http_moa_prompt_parts(b, tpl, tpl_len, cands, ncands, NULL);
    ngx_http_moa_body_lit(b, "\"}],\"stream\":false}");

    return ngx_http_moa_body_done(b);
}


int
ngx_http_moa_build_synthesis(ngx_http_moa_body_t *b,
    const ngx_http_moa_request_t *req, const ngx_http_moa_call_params_t *cp,
    const char *tpl, size_t tpl_len, const ngx_http_moa_buf_t *cands,
    int ncands, const ngx_http_moa_choice_t *critique)
{
    size_t                             i, n;
    ngx_http_moa_json_member_t        *so;
    const ngx_http_moa_json_member_t  *m;

    ngx_http_moa_body_lit(b, "{");

    for (i = 0; i < req->nmembers; i++) {
        m = &req->members[i];

        if (ngx_http_moa_in_list(m, ngx_http_moa_synthesis_drop)
            || (cp->temperature && ngx_http_moa_json_key_is(m, "temperature"))
            || (cp->max_tokens > 0
                && ngx_http_moa_in_list(m, ngx_http_moa_max_tokens_keys)))
        {
            continue;
        }

        ngx_http_moa_add_member(b, m);
    }

    ngx_http_moa_add_common(b, req, cp);
    ngx_http_moa_add_messages(b, req, 1);
    ngx_http_moa_prompt_parts(b, tpl, tpl_len, cands, ncands, critique);

    if (!req->stream) {
        ngx_http_moa_body_lit(b, "\"}],\"stream\":false}");
        return ngx_http_moa_body_done(b);
    }

    /*
     * the provider's usage of this call is needed for the sum: the client's
     * own stream options, include_usage forced on
     */

    ngx_http_moa_body_lit(b, "\"}],\"stream\":true,\"stream_options\":{");

    if (req->stream_options.len
        && ngx_http_moa_json_members(req->stream_options.p,
                                     req->stream_options.len, &so, &n)
           == 0)
    {
        for (i = 0; i < n; i++) {
            if (!ngx_http_moa_json_key_is(&so[i], "include_usage")) {
                ngx_http_moa_add_member(b, &so[i]);
            }
        }

        free(so);
    }

    ngx_http_moa_body_lit(b, "\"include_usage\":true}}");

    return ngx_http_moa_body_done(b);
}


/* a token as a span, len 0 when absent (-1) */
static inline void
ngx_http_moa_tok_span(const ngx_http_moa_json_t *j, int i,
    ngx_http_moa_span_t *v)
{
    if (i < 0) {
        v->p = NULL;
        v->len = 0;
        return;
    }

    ngx_http_moa_json_span(j, i, v);
}


/* the value of key in object token obj as a span (len 0 when absent) */
static int
ngx_http_moa_tok_get(const ngx_http_moa_json_t *j, int obj, const char *key,
    ngx_http_moa_span_t *v)
{
    int  i;

    i = ngx_http_moa_json_find(j, obj, key);

    ngx_http_moa_tok_span(j, i, v);

    return i;
}


/* what a reply, each of its choices and each message are read for */
static const ngx_http_moa_json_key_t  ngx_http_moa_reply_fields[] = {
    ngx_http_moa_json_key("error"),
    ngx_http_moa_json_key("choices"),
    ngx_http_moa_json_key("usage")
};

static const ngx_http_moa_json_key_t  ngx_http_moa_choice_fields[] = {
    ngx_http_moa_json_key("message"),
    ngx_http_moa_json_key("index"),
    ngx_http_moa_json_key("logprobs"),
    ngx_http_moa_json_key("finish_reason")
};

static const ngx_http_moa_json_key_t  ngx_http_moa_message_fields[] = {
    ngx_http_moa_json_key("content"),
    ngx_http_moa_json_key("tool_calls"),
    ngx_http_moa_json_key("refusal"),
    ngx_http_moa_json_key("role")
};

#define ngx_http_moa_nkeys(keys)  (int) (sizeof(keys) / sizeof(keys[0]))


/*
 * A provider's reply, parsed without copying: one pass validates the text
 * and cuts it into tokens, from which the parts the chain reads (each
 * choice's message, content, tool calls, refusal) are spans of the text;
 * only the small usage object becomes a tree.  The text must outlive the
 * reply.
 */
int
ngx_http_moa_reply_parse(ngx_http_moa_reply_t *rep, const char *p,
    size_t len, ngx_http_moa_error_t *err)
{
    int                     n, e, c, msg, i;
    int                     at[3], ca[4], ma[4];
    ngx_http_moa_buf_t      text;
    ngx_http_moa_span_t     v;
    ngx_http_moa_json_t    *j;
    ngx_http_moa_choice_t  *ch;

    memset(rep, 0, sizeof(ngx_http_moa_reply_t));
    rep->p = p;
    rep->len = len;

    j = &rep->json;

    if (ngx_http_moa_json_parse(j, p, len) != 0 || j->tok[0].type != '{') {
        ngx_http_moa_error_set(err, 502, "upstream_error", "bad_upstream_reply",
                               NULL, "the provider sent a reply that is not "
                               "a JSON object");
        return -1;
    }

    ngx_http_moa_json_find_keys(j, 0, ngx_http_moa_reply_fields,
                                ngx_http_moa_nkeys(ngx_http_moa_reply_fields),
                                at);

    e = at[0];

    if (e >= 0 && j->tok[e].type != 'n') {
        memset(&text, 0, sizeof(ngx_http_moa_buf_t));

        if (ngx_http_moa_tok_get(j, e, "message", &v) >= 0 && v.p[0] == '"') {
            (void) ngx_http_moa_json_unescape(&text, v.p, v.len);
        }

        ngx_http_moa_buf_add(&text, "", 1);

        ngx_http_moa_error_set(err, 502, "upstream_error", "upstream_error",
                               NULL, "the provider answered with an error: "
                               "%.160s", text.len > 1 && !text.nomem
                                         ? text.data : "(no message)");

        ngx_http_moa_buf_free(&text);
        return -1;
    }

    c = at[1];

    n = 0;

    for (i = ngx_http_moa_json_first(j, c); i >= 0;
         i = ngx_http_moa_json_after(j, c, i))
    {
        n++;
    }

    if (n == 0) {
        ngx_http_moa_error_set(err, 502, "upstream_error", "bad_upstream_reply",
                               NULL, "the provider's reply has no choices");
        return -1;
    }

    rep->choices = calloc(n, sizeof(ngx_http_moa_choice_t));
    if (rep->choices == NULL) {
        ngx_http_moa_error_set(err, 500, "server_error", NULL, NULL,
                               "out of memory");
        return -1;
    }

    for (i = ngx_http_moa_json_first(j, c); i >= 0;
         i = ngx_http_moa_json_after(j, c, i))
    {
        ch = &rep->choices[rep->nchoices++];
        ngx_http_moa_json_span(j, i, &ch->span);

        ngx_http_moa_json_find_keys(j, i, ngx_http_moa_choice_fields,
                                ngx_http_moa_nkeys(ngx_http_moa_choice_fields),
                                ca);

        msg = ca[0];
        ngx_http_moa_tok_span(j, msg, &ch->message);

        if (msg < 0 || j->tok[msg].type != '{') {
            ngx_http_moa_error_set(err, 502, "upstream_error",
                                   "bad_upstream_reply", NULL,
                                   "the provider's reply has a choice "
                                   "without a message");
            return -1;
        }

        ngx_http_moa_json_find_keys(j, msg, ngx_http_moa_message_fields,
                                ngx_http_moa_nkeys(ngx_http_moa_message_fields),
                                ma);

        ngx_http_moa_tok_span(j, ma[0], &ch->content);
        ngx_http_moa_tok_span(j, ma[1], &ch->tool_calls);
        ngx_http_moa_tok_span(j, ma[2], &ch->refusal);

        /*
         * what a client gets as is: no field to add, none to remove, no
         * duplicate the tree path would drop (clients keep the last one)
         */
        ch->plain = ngx_http_moa_tok_unique(j, i)
                    && ngx_http_moa_tok_unique(j, msg)
                    && ca[1] >= 0 && ca[2] >= 0 && ca[3] >= 0
                    && ma[3] >= 0
                    && ch->content.len && ch->refusal.len
                    && (ch->tool_calls.len == 0
                        || ngx_http_moa_span_array_nonempty(&ch->tool_calls));
    }

    /* the usage stays tokens: summed from them, a tree only if asked */

    i = at[2];
    rep->usage_at = (i >= 0 && j->tok[i].type == '{') ? i : -1;

    return 0;
}


/* the reply's usage as a tree (NULL when none), built on first use */
const cJSON *
ngx_http_moa_reply_usage(ngx_http_moa_reply_t *rep)
{
    const ngx_http_moa_json_tok_t  *t;

    if (rep->usage == NULL && rep->usage_at > 0) {
        t = &rep->json.tok[rep->usage_at];
        rep->usage = cJSON_ParseWithLength(t->p, t->len);
    }

    return rep->usage;
}


/* the reply as a tree, for the rare paths that edit it */
cJSON *
ngx_http_moa_reply_root(ngx_http_moa_reply_t *rep)
{
    if (rep->root == NULL && rep->p) {
        rep->root = cJSON_ParseWithLength(rep->p, rep->len);
    }

    return rep->root;
}


void
ngx_http_moa_reply_free(ngx_http_moa_reply_t *rep)
{
    ngx_http_moa_json_free(&rep->json);
    free(rep->choices);
    cJSON_Delete(rep->usage);
    cJSON_Delete(rep->root);

    rep->choices = NULL;
    rep->usage = NULL;
    rep->usage_at = -1;
    rep->root = NULL;
    rep->nchoices = 0;
}


/* a string value with something other than white space in it */
static int
ngx_http_moa_span_nonempty(const ngx_http_moa_span_t *v)
{
    const char  *p, *end;

    if (v->len < 2 || v->p[0] != '"') {
        return 0;
    }

    p = v->p + 1;
    end = v->p + v->len - 1;

    while (p < end) {
        if (*p == ' ') {
            p++;
            continue;
        }

        if (*p == '\\' && p + 1 < end
            && (p[1] == 'n' || p[1] == 'r' || p[1] == 't'))
        {
            p += 2;
            continue;
        }

        return 1;
    }

    return 0;
}


static int
ngx_http_moa_span_array_nonempty(const ngx_http_moa_span_t *v)
{
    size_t               pos;
    ngx_http_moa_span_t  e;

    pos = 0;

    return v->len && v->p[0] == '['
           && ngx_http_moa_json_next(v->p, v->len, &pos, &e);
}


int
ngx_http_moa_choice_usable(const ngx_http_moa_choice_t *c)
{
    size_t               pos;
    ngx_http_moa_span_t  part, text;

    if (ngx_http_moa_span_nonempty(&c->content)) {
        return 1;
    }

    if (c->content.len && c->content.p[0] == '[') {
        pos = 0;

        while (ngx_http_moa_json_next(c->content.p, c->content.len, &pos,
                                      &part))
        {
            if (part.p[0] == '{'
                && ngx_http_moa_json_get(part.p, part.len, "text", &text)
                && ngx_http_moa_span_nonempty(&text))
            {
                return 1;
            }
        }
    }

    return ngx_http_moa_span_array_nonempty(&c->tool_calls)
           || ngx_http_moa_span_nonempty(&c->refusal);
}


/*
 * Text with every tag ("</candidate") written "< /candidate", so that it
 * cannot close the block it is put in; the text is escaped for a JSON
 * string on the way, or copied when it is escaped already.
 */
static void
ngx_http_moa_neutralised(ngx_http_moa_buf_t *out, const char *p, size_t len,
    const char *tag, int escape)
{
    size_t       n;
    const char  *end, *q;

    n = strlen(tag);
    end = p + len;
    q = p;

    while ((size_t) (end - q) >= n
           && (q = memchr(q, tag[0], end - q - n + 1)) != NULL)
    {
        if (memcmp(q, tag, n) != 0) {
            q++;
            continue;
        }

        if (escape) {
            ngx_http_moa_buf_json_inner(out, p, q - p);

        } else {
            ngx_http_moa_buf_add(out, p, q - p);
        }

        ngx_http_moa_buf_lit(out, "< ");
        ngx_http_moa_buf_add(out, tag + 1, n - 1);
        p = q + n;
        q = p;
    }

    if (escape) {
        ngx_http_moa_buf_json_inner(out, p, end - p);

    } else {
        ngx_http_moa_buf_add(out, p, end - p);
    }
}


/*
 * A string value, escaped for a JSON string.  Its raw text already is,
 * and is copied as is unless an escape could hide a closing tag ("\u003c",
 * "\/"): then it is decoded and escaped again.  An escape hides nothing
 * where the text has no '<' at all, written or escaped (answers escape
 * quotes and apostrophes as "\u0027" often, '<' seldom).
 */
static void
ngx_http_moa_string_escaped(ngx_http_moa_buf_t *out,
    const ngx_http_moa_span_t *v, const char *tag)
{
    int                 esc, lt;
    const char         *p, *end, *q;
    ngx_http_moa_buf_t  text;

    p = v->p + 1;
    end = v->p + v->len - 1;
    esc = 0;
    lt = 0;

    /* every escape is two bytes or more: the one after '\\' is skipped */

    for (q = p; q + 1 < end; q += 2) {
        q = memchr(q, '\\', end - q - 1);

        if (q == NULL) {
            break;
        }

        if (q[1] == '/') {
            esc = 1;

        } else if (q[1] == 'u') {
            esc = 1;

            /* an escaped '<': the text must be decoded */

            if (end - q >= 6 && q[2] == '0' && q[3] == '0' && q[4] == '3'
                && (q[5] == 'c' || q[5] == 'C'))
            {
                lt = 1;
                break;
            }
        }
    }

    if (!lt && (!esc || memchr(p, '<', end - p) == NULL)) {
        ngx_http_moa_neutralised(out, p, end - p, tag, 0);
        return;
    }

    memset(&text, 0, sizeof(ngx_http_moa_buf_t));

    if (ngx_http_moa_json_unescape(&text, v->p, v->len) != 0) {
        out->nomem = 1;

    } else {
        ngx_http_moa_neutralised(out, text.data, text.len, tag, 1);
    }

    ngx_http_moa_buf_free(&text);
}


/*
 * The text of a choice for a prompt, escaped for a JSON string: its content,
 * refusal, and tool calls as JSON; tag ("</candidate") is neutralised so
 * that the text cannot close the block it is put in.
 */
void
ngx_http_moa_choice_text(ngx_http_moa_buf_t *out,
    const ngx_http_moa_choice_t *c, const char *tag)
{
    int                  first;
    size_t               start, pos;
    ngx_http_moa_span_t  e, fn;

    start = out->len;

    if (c->content.len && c->content.p[0] == '"') {
        ngx_http_moa_string_escaped(out, &c->content, tag);

    } else if (c->content.len && c->content.p[0] == '[') {
        pos = 0;

        while (ngx_http_moa_json_next(c->content.p, c->content.len, &pos, &e))
        {
            if (e.p[0] == '{'
                && ngx_http_moa_json_get(e.p, e.len, "text", &fn)
                && fn.p[0] == '"')
            {
                if (out->len > start) {
                    ngx_http_moa_buf_lit(out, "\\n");
                }

                ngx_http_moa_string_escaped(out, &fn, tag);
            }
        }
    }

    if (ngx_http_moa_span_nonempty(&c->refusal)) {
        if (out->len > start) {
            ngx_http_moa_buf_lit(out, "\\n");
        }

        ngx_http_moa_buf_lit(out, "Refusal: ");
        ngx_http_moa_string_escaped(out, &c->refusal, tag);
    }

    if (!ngx_http_moa_span_array_nonempty(&c->tool_calls)) {
        return;
    }

    if (out->len > start) {
        ngx_http_moa_buf_lit(out, "\\n");
    }

    ngx_http_moa_buf_lit(out, "Tool calls (JSON): [");

    first = 1;
    pos = 0;

    while (ngx_http_moa_json_next(c->tool_calls.p, c->tool_calls.len, &pos,
                                  &e))
    {
        if (!(e.p[0] == '{'
              && ngx_http_moa_json_get(e.p, e.len, "function", &fn)))
        {
            fn = e;
        }

        if (!first) {
            ngx_http_moa_buf_lit(out, ",");
        }

        ngx_http_moa_neutralised(out, fn.p, fn.len, tag, 1);
        first = 0;
    }

    ngx_http_moa_buf_lit(out, "]");
}


/* the message of a choice as a tree (the caller deletes it) */
cJSON *
ngx_http_moa_choice_message(const ngx_http_moa_choice_t *c)
{
    return cJSON_ParseWithLength(c->message.p, c->message.len);
}


static int
ngx_http_moa_usage_merge(cJSON *acc, const cJSON *usage)
{
    cJSON        *a;
    const cJSON  *u;

    cJSON_ArrayForEach(u, usage) {

        if (u->string == NULL) {
            continue;
        }

        a = cJSON_GetObjectItemCaseSensitive(acc, u->string);

        if (cJSON_IsNumber(u)) {
            if (a == NULL) {
                if (cJSON_AddNumberToObject(acc, u->string, u->valuedouble)
                    == NULL)
                {
                    return -1;
                }

            } else if (cJSON_IsNumber(a)) {
                cJSON_SetNumberValue(a, a->valuedouble + u->valuedouble);
            }

            continue;
        }

        if (cJSON_IsObject(u)) {
            if (a == NULL) {
                a = cJSON_AddObjectToObject(acc, u->string);
                if (a == NULL) {
                    return -1;
                }
            }

            if (cJSON_IsObject(a) && ngx_http_moa_usage_merge(a, u) != 0) {
                return -1;
            }
        }
    }

    return 0;
}


/*
 * Adds every number of a usage object (nested details included) into acc,
 * so that fields a provider adds are summed too; a call that reports no
 * total_tokens still adds prompt + completion to the total.
 */
int
ngx_http_moa_usage_add(cJSON *acc, const cJSON *usage)
{
    double        t;
    cJSON        *total;
    const cJSON  *p, *c;

    if (!cJSON_IsObject(usage)) {
        return 0;
    }

    if (ngx_http_moa_usage_merge(acc, usage) != 0) {
        return -1;
    }

    if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(usage,
                                                        "total_tokens")))
    {
        return 0;
    }

    p = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens");
    c = cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens");

    t = (cJSON_IsNumber(p) ? p->valuedouble : 0)
        + (cJSON_IsNumber(c) ? c->valuedouble : 0);

    total = cJSON_GetObjectItemCaseSensitive(acc, "total_tokens");

    if (total == NULL) {
        return cJSON_AddNumberToObject(acc, "total_tokens", t) ? 0 : -1;
    }

    if (cJSON_IsNumber(total)) {
        cJSON_SetNumberValue(total, total->valuedouble + t);
    }

    return 0;
}


/*
 * A number token as a double, as cJSON reads it: up to 15 digits are exact
 * in a double and need no strtod() (nor its locale look-ups).
 */
static double
ngx_http_moa_tok_double(const ngx_http_moa_json_tok_t *t)
{
    char        num[64], *s;
    double      d;
    size_t      i;
    long long   v;

    if (t->len <= 15) {
        v = 0;

        for (i = 0; i < t->len; i++) {
            if (t->p[i] < '0' || t->p[i] > '9') {
                break;
            }

            v = v * 10 + (t->p[i] - '0');
        }

        if (i == t->len) {
            return (double) v;
        }
    }

    s = t->len < sizeof(num) ? num : malloc(t->len + 1);
    if (s == NULL) {
        return 0;
    }

    memcpy(s, t->p, t->len);
    s[t->len] = '\0';

    d = strtod(s, NULL);

    if (s != num) {
        free(s);
    }

    return d;
}


/* a key token as a C string in b (reset), decoded if it has escapes */
static const char *
ngx_http_moa_tok_key(ngx_http_moa_buf_t *b, const ngx_http_moa_json_tok_t *t)
{
    b->len = 0;

    if (t->escaped) {
        if (ngx_http_moa_json_unescape(b, t->p, t->len) != 0) {
            return NULL;
        }

    } else {
        ngx_http_moa_buf_add(b, t->p + 1, t->len - 2);
    }

    ngx_http_moa_buf_add(b, "", 1);

    return b->nomem ? NULL : b->data;
}


/* usage_merge() on tokens: object obj of j added into acc */
static int
ngx_http_moa_usage_merge_tok(cJSON *acc, const ngx_http_moa_json_t *j,
    uint32_t obj, ngx_http_moa_buf_t *key)
{
    double       d;
    cJSON       *a;
    uint32_t     k, v, end;
    const char  *name;

    end = j->tok[obj].next;

    for (k = obj + 1; k < end; k = j->tok[v].next) {
        v = k + 1;

        if (j->tok[v].type != '0' && j->tok[v].type != '{') {
            continue;
        }

        name = ngx_http_moa_tok_key(key, &j->tok[k]);
        if (name == NULL) {
            return -1;
        }

        a = cJSON_GetObjectItemCaseSensitive(acc, name);

        if (j->tok[v].type == '0') {
            d = ngx_http_moa_tok_double(&j->tok[v]);

            if (a == NULL) {
                if (cJSON_AddNumberToObject(acc, name, d) == NULL) {
                    return -1;
                }

            } else if (cJSON_IsNumber(a)) {
                cJSON_SetNumberValue(a, a->valuedouble + d);
            }

            continue;
        }

        if (a == NULL) {
            a = cJSON_AddObjectToObject(acc, name);
            if (a == NULL) {
                return -1;
            }
        }

        if (cJSON_IsObject(a)
            && ngx_http_moa_usage_merge_tok(a, j, v, key) != 0)
        {
            return -1;
        }
    }

    return 0;
}


/* usage_add() of a parsed reply's usage, from its tokens */
int
ngx_http_moa_reply_usage_add(cJSON *acc, const ngx_http_moa_reply_t *rep)
{
    int                         i, rc;
    double                      t;
    cJSON                      *total;
    ngx_http_moa_buf_t          key;
    const ngx_http_moa_json_t  *j;

    if (rep->usage_at <= 0) {
        return 0;
    }

    j = &rep->json;

    memset(&key, 0, sizeof(ngx_http_moa_buf_t));

    rc = ngx_http_moa_usage_merge_tok(acc, j, rep->usage_at, &key);

    ngx_http_moa_buf_free(&key);

    if (rc != 0) {
        return -1;
    }

    i = ngx_http_moa_json_find(j, rep->usage_at, "total_tokens");

    if (i >= 0 && j->tok[i].type == '0') {
        return 0;
    }

    t = 0;

    i = ngx_http_moa_json_find(j, rep->usage_at, "prompt_tokens");

    if (i >= 0 && j->tok[i].type == '0') {
        t += ngx_http_moa_tok_double(&j->tok[i]);
    }

    i = ngx_http_moa_json_find(j, rep->usage_at, "completion_tokens");

    if (i >= 0 && j->tok[i].type == '0') {
        t += ngx_http_moa_tok_double(&j->tok[i]);
    }

    total = cJSON_GetObjectItemCaseSensitive(acc, "total_tokens");

    if (total == NULL) {
        return cJSON_AddNumberToObject(acc, "total_tokens", t) ? 0 : -1;
    }

    if (cJSON_IsNumber(total)) {
        cJSON_SetNumberValue(total, total->valuedouble + t);
    }

    return 0;
}


/* a provider's number as long long: clamped, the cast would be undefined */
static long long
ngx_http_moa_clamp(double d)
{
    if (d != d) {
        return 0;
    }

    if (d >= 9223372036854775808.0) {
        return LLONG_MAX;
    }

    if (d < -9223372036854775808.0) {
        return LLONG_MIN;
    }

    return (long long) d;
}


long long
ngx_http_moa_usage_get(const cJSON *acc, const char *name)
{
    const cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(acc, name);

    return cJSON_IsNumber(item) ? ngx_http_moa_clamp(item->valuedouble) : 0;
}


static int
ngx_http_moa_set(cJSON *obj, const char *name, cJSON *value)
{
    if (value == NULL) {
        return -1;
    }

    if (cJSON_GetObjectItemCaseSensitive(obj, name)) {
        if (!cJSON_ReplaceItemInObjectCaseSensitive(obj, name, value)) {
            cJSON_Delete(value);
            return -1;
        }

        return 0;
    }

    if (!cJSON_AddItemToObject(obj, name, value)) {
        cJSON_Delete(value);
        return -1;
    }

    return 0;
}


/*
 * Drops the later duplicates of the keys the module reads or sets: cJSON
 * reads the first, most clients keep the last.
 */
static void
ngx_http_moa_first_only(cJSON *obj, const char **names)
{
    cJSON  *c, *next, *first;

    for ( /* void */ ; *names; names++) {
        first = NULL;

        for (c = cJSON_IsObject(obj) ? obj->child : NULL; c; c = next) {
            next = c->next;

            if (c->string == NULL || strcmp(c->string, *names) != 0) {
                continue;
            }

            if (first == NULL) {
                first = c;
                continue;
            }

            cJSON_Delete(cJSON_DetachItemViaPointer(obj, c));
        }
    }
}


static int
ngx_http_moa_normalize_choice(cJSON *choice, int index)
{
    cJSON  *msg, *tc;

    ngx_http_moa_first_only(choice, ngx_http_moa_choice_keys);
    ngx_http_moa_first_only(cJSON_GetObjectItemCaseSensitive(choice,
                                                             "message"),
                            ngx_http_moa_message_keys);

    if (index >= 0
        && ngx_http_moa_set(choice, "index", cJSON_CreateNumber(index)) != 0)
    {
        return -1;
    }

    if (cJSON_GetObjectItemCaseSensitive(choice, "logprobs") == NULL
        && cJSON_AddNullToObject(choice, "logprobs") == NULL)
    {
        return -1;
    }

    if (cJSON_GetObjectItemCaseSensitive(choice, "finish_reason") == NULL
        && cJSON_AddStringToObject(choice, "finish_reason", "stop") == NULL)
    {
        return -1;
    }

    msg = cJSON_GetObjectItemCaseSensitive(choice, "message");

    if (cJSON_GetObjectItemCaseSensitive(msg, "role") == NULL
        && cJSON_AddStringToObject(msg, "role", "assistant") == NULL)
    {
        return -1;
    }

    if (cJSON_GetObjectItemCaseSensitive(msg, "content") == NULL
        && cJSON_AddNullToObject(msg, "content") == NULL)
    {
        return -1;
    }

    if (cJSON_GetObjectItemCaseSensitive(msg, "refusal") == NULL
        && cJSON_AddNullToObject(msg, "refusal") == NULL)
    {
        return -1;
    }

    /* SDKs expect tool_calls only when there are some */
    tc = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");

    if (tc && cJSON_GetArraySize(tc) == 0) {
        cJSON_DeleteItemFromObjectCaseSensitive(msg, "tool_calls");
    }

    return 0;
}


/*
 * The usage as usage_print() writes it, as on the fast path: cJSON would
 * print a sum that is not finite as null, which no SDK takes for a count.
 */
static cJSON *
ngx_http_moa_usage_raw(const cJSON *usage)
{
    cJSON               *item;
    ngx_http_moa_buf_t   b;

    memset(&b, 0, sizeof(ngx_http_moa_buf_t));

    ngx_http_moa_usage_print(&b, usage);
    ngx_http_moa_buf_add(&b, "", 1);

    item = b.nomem ? NULL : cJSON_CreateRaw(b.data);
    ngx_http_moa_buf_free(&b);

    return item;
}


/*
 * The final chat.completion from a provider reply: model is the MoA id,
 * usage the sum.  choice >= 0 keeps that one choice only (a candidate
 * returned as the answer), as index 0.
 */
static int
ngx_http_moa_build_response_tree(ngx_http_moa_buf_t *out, cJSON *root,
    int choice, const char *model, const cJSON *usage)
{
    char   *s;
    cJSON  *choices, *c, *keep;

    ngx_http_moa_first_only(root, ngx_http_moa_response_keys);

    choices = cJSON_GetObjectItemCaseSensitive(root, "choices");

    if (choice >= 0) {
        keep = cJSON_DetachItemFromArray(choices, choice);
        if (keep == NULL) {
            return -1;
        }

        while (choices->child) {
            cJSON_DeleteItemFromArray(choices, 0);
        }

        cJSON_AddItemToArray(choices, keep);

        if (ngx_http_moa_normalize_choice(keep, 0) != 0) {
            return -1;
        }

    } else {
        cJSON_ArrayForEach(c, choices) {
            if (ngx_http_moa_normalize_choice(c, -1) != 0) {
                return -1;
            }
        }
    }

    if (cJSON_GetObjectItemCaseSensitive(root, "id") == NULL
        && ngx_http_moa_set(root, "id", cJSON_CreateString("chatcmpl-moa"))
           != 0)
    {
        return -1;
    }

    if (ngx_http_moa_set(root, "object",
                         cJSON_CreateString("chat.completion")) != 0
        || ngx_http_moa_set(root, "model", cJSON_CreateString(model)) != 0
        || ngx_http_moa_set(root, "usage", ngx_http_moa_usage_raw(usage))
           != 0)
    {
        return -1;
    }

    /* an infinite created (1e999) would be printed as null */
    c = cJSON_GetObjectItemCaseSensitive(root, "created");

    if ((!cJSON_IsNumber(c) || !isfinite(c->valuedouble))
        && ngx_http_moa_set(root, "created",
                            cJSON_CreateNumber((double) time(NULL))) != 0)
    {
        return -1;
    }

    s = cJSON_PrintUnformatted(root);
    if (s == NULL) {
        return -1;
    }

    ngx_http_moa_buf_cstr(out, s);
    free(s);

    return out->nomem ? -1 : 0;
}


/*
 * An object's keys are written plainly (no escapes) and all differ.  The
 * compare is quadratic: an object with more keys than any reply in shape
 * has (a 1 MB reply of 100000 keys took half a minute) is not in shape.
 */
static int
ngx_http_moa_tok_unique(const ngx_http_moa_json_t *j, int obj)
{
    uint32_t  k, l, n, end;

    end = j->tok[obj].next;
    n = 0;

    for (k = obj + 1; k < end; k = j->tok[k + 1].next) {
        if (j->tok[k].escaped || ++n > NGX_HTTP_MOA_MAX_KEYS) {
            return 0;
        }

        for (l = j->tok[k + 1].next; l < end; l = j->tok[l + 1].next) {
            if (j->tok[k].len == j->tok[l].len
                && memcmp(j->tok[k].p, j->tok[l].p, j->tok[k].len) == 0)
            {
                return 0;
            }
        }
    }

    return 1;
}


/*
 * Digits only, as a Unix time: "1e999" also starts with a digit, but is
 * infinite, which the tree path replaces (cJSON would print it as null).
 */
static int
ngx_http_moa_span_time(const ngx_http_moa_span_t *v)
{
    size_t  i;

    if (v->len == 0 || v->len > 12) {
        return 0;
    }

    for (i = 0; i < v->len; i++) {
        if (v->p[i] < '0' || v->p[i] > '9') {
            return 0;
        }
    }

    return 1;
}


/*
 * Whether a reply is already what clients expect, so that the answer can
 * be its own text with model and usage replaced: no duplicate top-level
 * keys, an id, object "chat.completion", an integer created, and choices
 * with index, message (role, content, refusal, no empty tool_calls),
 * logprobs and finish_reason, without duplicate keys in either.
 */
static int
ngx_http_moa_reply_plain(const ngx_http_moa_reply_t *rep)
{
    int                         i;
    ngx_http_moa_span_t         v;
    const ngx_http_moa_json_t  *j;

    j = &rep->json;

    if (!ngx_http_moa_tok_unique(j, 0)) {
        return 0;
    }

    if (ngx_http_moa_tok_get(j, 0, "object", &v) < 0
        || !ngx_http_moa_is_literal(v.p, v.len, "\"chat.completion\"")
        || ngx_http_moa_tok_get(j, 0, "created", &v) < 0
        || !ngx_http_moa_span_time(&v)
        || ngx_http_moa_json_find(j, 0, "id") < 0)
    {
        return 0;
    }

    for (i = 0; i < rep->nchoices; i++) {
        if (!rep->choices[i].plain) {
            return 0;
        }
    }

    return 1;
}


/*
 * The final chat.completion from a provider reply: model is the MoA id,
 * usage the sum.  choice >= 0 keeps that one choice only (a candidate
 * returned as the answer), as index 0.  A reply already in shape is
 * answered with its own bytes; others are normalised through a tree.
 */
int
ngx_http_moa_build_response(ngx_http_moa_buf_t *out,
    ngx_http_moa_reply_t *rep, int choice, const char *model,
    const cJSON *usage)
{
    int                          has_model, has_usage;
    cJSON                       *root;
    uint32_t                     k, end;
    ngx_http_moa_json_member_t   m;
    const ngx_http_moa_json_t   *j;

    if (choice >= 0 || !ngx_http_moa_reply_plain(rep)) {
        root = ngx_http_moa_reply_root(rep);

        if (root == NULL || !cJSON_IsObject(root)) {
            return -1;
        }

        return ngx_http_moa_build_response_tree(out, root, choice, model,
                                                usage);
    }

    (void) ngx_http_moa_buf_reserve(out, rep->len + 256);

    has_model = 0;
    has_usage = 0;

    ngx_http_moa_buf_lit(out, "{");

    j = &rep->json;
    end = j->tok[0].next;

    for (k = 1; k < end; k = j->tok[k + 1].next) {
        m.key = j->tok[k].p + 1;
        m.key_len = j->tok[k].len - 2;
        m.escaped = 0;

        if (k > 1) {
            ngx_http_moa_buf_lit(out, ",");
        }

        ngx_http_moa_buf_add(out, j->tok[k].p, j->tok[k].len);
        ngx_http_moa_buf_lit(out, ":");

        if (ngx_http_moa_json_key_is(&m, "model")) {
            ngx_http_moa_buf_json_str(out, model, strlen(model));
            has_model = 1;

        } else if (ngx_http_moa_json_key_is(&m, "usage")) {
            ngx_http_moa_usage_print(out, usage);
            has_usage = 1;

        } else {
            ngx_http_moa_buf_add(out, j->tok[k + 1].p, j->tok[k + 1].len);
        }
    }

    if (!has_model) {
        ngx_http_moa_buf_lit(out, ",\"model\":");
        ngx_http_moa_buf_json_str(out, model, strlen(model));
    }

    if (!has_usage) {
        ngx_http_moa_buf_lit(out, ",\"usage\":");
        ngx_http_moa_usage_print(out, usage);
    }

    ngx_http_moa_buf_lit(out, "}");

    return out->nomem ? -1 : 0;
}


/* a usage object (numbers and nested objects) without printf's "%g" */
void
ngx_http_moa_usage_print(ngx_http_moa_buf_t *out, const cJSON *usage)
{
    int           first;
    char          num[32];
    const cJSON  *u;

    if (!cJSON_IsObject(usage)) {
        ngx_http_moa_buf_lit(out, "{}");
        return;
    }

    ngx_http_moa_buf_lit(out, "{");
    first = 1;

    cJSON_ArrayForEach(u, usage) {
        if (u->string == NULL
            || !(cJSON_IsNumber(u) || cJSON_IsObject(u)))
        {
            continue;
        }

        if (!first) {
            ngx_http_moa_buf_lit(out, ",");
        }

        first = 0;
        ngx_http_moa_buf_json_str(out, u->string, strlen(u->string));
        ngx_http_moa_buf_lit(out, ":");

        if (cJSON_IsObject(u)) {
            ngx_http_moa_usage_print(out, u);

        } else if (u->valuedouble > -9e15 && u->valuedouble < 9e15
                   && u->valuedouble == (double) (long long) u->valuedouble)
        {
            ngx_http_moa_buf_int(out, (long long) u->valuedouble);

        } else if (isfinite(u->valuedouble)) {
            snprintf(num, sizeof(num), "%.17g", u->valuedouble);
            ngx_http_moa_buf_cstr(out, num);

        } else {
            ngx_http_moa_buf_lit(out, "0");
        }
    }

    ngx_http_moa_buf_lit(out, "}");
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
ngx_http_moa_is_literal(const char *p, size_t len, const char *lit)
{
    size_t  n;

    n = strlen(lit);

    while (len && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
        p++;
        len--;
    }

    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'
                   || p[len - 1] == '\r' || p[len - 1] == '\n'))
    {
        len--;
    }

    return len == n && memcmp(p, lit, n) == 0;
}


static int
ngx_http_moa_is_empty_array(const char *p, size_t len)
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
ngx_http_moa_one_line(ngx_http_moa_buf_t *b, size_t from)
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
        ngx_http_moa_one_line(b, 0);
    }
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
    int                                 usage_only, has_model;
    size_t                              i, n, start;
    cJSON                              *usage;
    ngx_http_moa_json_member_t         *members, *m;

    if (ngx_http_moa_is_literal(data, len, "[DONE]")) {
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
            && !ngx_http_moa_is_literal(m->value, m->value_len, "null"))
        {
            st->failed = 1;
            ngx_http_moa_buf_lit(&st->error, "data: {\"error\":");
            start = st->error.len;
            ngx_http_moa_buf_add(&st->error, m->value, m->value_len);
            ngx_http_moa_one_line(&st->error, start);
            ngx_http_moa_buf_lit(&st->error, "}\n\n");
            free(members);
            return st->error.nomem ? NGX_HTTP_MOA_EVENT_NOMEM
                                   : NGX_HTTP_MOA_EVENT_ERROR;
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
                   && !ngx_http_moa_is_literal(m->value, m->value_len,
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

    if (usage_only) {
        /* a usage chunk has no choices; others lose only their usage */
        for (i = 0; i < n; i++) {
            if (ngx_http_moa_json_key_is(&members[i], "choices")
                && !ngx_http_moa_is_empty_array(members[i].value,
                                                members[i].value_len))
            {
                usage_only = 0;
                break;
            }
        }

        if (usage_only) {
            free(members);
            return NGX_HTTP_MOA_EVENT_OK;
        }
    }

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

        ngx_http_moa_put_member(out, m);
    }

    free(members);

    if (out->nomem) {
        return NGX_HTTP_MOA_EVENT_NOMEM;
    }

    /* replace the trailing comma */
    out->data[out->len - 1] = '}';
    ngx_http_moa_one_line(out, start);
    ngx_http_moa_buf_lit(out, "\n\n");

    st->started = 1;

    return out->nomem ? NGX_HTTP_MOA_EVENT_NOMEM : NGX_HTTP_MOA_EVENT_OK;
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
            ngx_http_moa_first_only(call, ngx_http_moa_index_key);
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
                                 ngx_http_moa_clamp(item->valuedouble));

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


static int
ngx_http_moa_collect_call(ngx_http_moa_collect_t *col, const cJSON *tc)
{
    int                  index, rc;
    cJSON               *call, *fn;
    const char          *s;
    const cJSON         *v, *f;
    ngx_http_moa_buf_t   args;

    v = cJSON_GetObjectItemCaseSensitive(tc, "index");
    index = cJSON_IsNumber(v) ? v->valueint : 0;

    if (index < 0 || index > 127) {
        return -1;
    }

    if (col->tool_calls == NULL) {
        col->tool_calls = cJSON_CreateArray();
        if (col->tool_calls == NULL) {
            return -1;
        }
    }

    while (cJSON_GetArraySize(col->tool_calls) <= index) {
        call = cJSON_CreateObject();
        fn = cJSON_AddObjectToObject(call, "function");

        if (fn == NULL
            || cJSON_AddStringToObject(call, "id", "") == NULL
            || cJSON_AddStringToObject(call, "type", "function") == NULL
            || cJSON_AddStringToObject(fn, "name", "") == NULL
            || cJSON_AddStringToObject(fn, "arguments", "") == NULL
            || !cJSON_AddItemToArray(col->tool_calls, call))
        {
            cJSON_Delete(call);
            return -1;
        }
    }

    call = cJSON_GetArrayItem(col->tool_calls, index);
    fn = cJSON_GetObjectItemCaseSensitive(call, "function");

    /* id, type and name come once; arguments come in pieces */

    v = cJSON_GetObjectItemCaseSensitive(tc, "id");

    if (cJSON_IsString(v) && v->valuestring[0]
        && ngx_http_moa_set(call, "id", cJSON_CreateString(v->valuestring))
           != 0)
    {
        return -1;
    }

    f = cJSON_GetObjectItemCaseSensitive(tc, "function");
    v = cJSON_GetObjectItemCaseSensitive(f, "name");

    if (cJSON_IsString(v) && v->valuestring[0]
        && ngx_http_moa_set(fn, "name", cJSON_CreateString(v->valuestring))
           != 0)
    {
        return -1;
    }

    v = cJSON_GetObjectItemCaseSensitive(f, "arguments");

    if (cJSON_IsString(v) && v->valuestring[0]) {
        memset(&args, 0, sizeof(ngx_http_moa_buf_t));

        s = cJSON_GetObjectItemCaseSensitive(fn, "arguments")->valuestring;
        ngx_http_moa_buf_cstr(&args, s);
        ngx_http_moa_buf_cstr(&args, v->valuestring);
        ngx_http_moa_buf_add(&args, "", 1);

        rc = ngx_http_moa_set(fn, "arguments", args.nomem
                              ? NULL : cJSON_CreateString(args.data));
        ngx_http_moa_buf_free(&args);

        if (rc != 0) {
            return -1;
        }
    }

    return 0;
}


/*
 * Merges one chunk of a stream into the answer: the content, refusal and
 * tool call pieces of choice 0, and the usage of a usage chunk.
 */
int
ngx_http_moa_collect_chunk(ngx_http_moa_collect_t *col, const char *data,
    size_t len)
{
    cJSON        *chunk;
    const cJSON  *choices, *c, *delta, *v, *tc;

    if (col->failed) {
        return -1;
    }

    chunk = cJSON_ParseWithLength(data, len);

    if (!cJSON_IsObject(chunk)) {
        cJSON_Delete(chunk);
        return 0;
    }

    v = cJSON_GetObjectItemCaseSensitive(chunk, "usage");

    if (cJSON_IsObject(v)) {
        cJSON_Delete(col->usage);
        col->usage = cJSON_Duplicate(v, 1);

        if (col->usage == NULL) {
            goto failed;
        }
    }

    choices = cJSON_GetObjectItemCaseSensitive(chunk, "choices");

    cJSON_ArrayForEach(c, choices) {
        v = cJSON_GetObjectItemCaseSensitive(c, "index");

        if (cJSON_IsNumber(v) && v->valueint != 0) {
            continue;
        }

        delta = cJSON_GetObjectItemCaseSensitive(c, "delta");

        v = cJSON_GetObjectItemCaseSensitive(delta, "content");

        if (cJSON_IsString(v)) {
            ngx_http_moa_buf_cstr(&col->content, v->valuestring);
            col->has_content = 1;
        }

        v = cJSON_GetObjectItemCaseSensitive(delta, "refusal");

        if (cJSON_IsString(v)) {
            ngx_http_moa_buf_cstr(&col->refusal, v->valuestring);
            col->has_refusal = 1;
        }

        cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(delta,
                                                             "tool_calls"))
        {
            if (ngx_http_moa_collect_call(col, tc) != 0) {
                goto failed;
            }
        }
    }

    cJSON_Delete(chunk);

    if (col->content.nomem || col->refusal.nomem) {
        col->failed = 1;
        return -1;
    }

    return 0;

failed:

    cJSON_Delete(chunk);
    col->failed = 1;

    return -1;
}


/* the assistant message of a collected stream, or NULL */
cJSON *
ngx_http_moa_collect_message(ngx_http_moa_collect_t *col)
{
    cJSON  *msg, *tc;

    if (col->failed) {
        return NULL;
    }

    msg = cJSON_CreateObject();
    if (msg == NULL || cJSON_AddStringToObject(msg, "role", "assistant")
                       == NULL)
    {
        goto failed;
    }

    ngx_http_moa_buf_add(&col->content, "", 1);
    ngx_http_moa_buf_add(&col->refusal, "", 1);

    if (col->content.nomem || col->refusal.nomem) {
        goto failed;
    }

    if ((col->has_content && col->content.len > 1) || col->tool_calls == NULL)
    {
        if (cJSON_AddStringToObject(msg, "content", col->content.data)
            == NULL)
        {
            goto failed;
        }

    } else if (cJSON_AddNullToObject(msg, "content") == NULL) {
        goto failed;
    }

    col->content.len--;
    col->refusal.len--;

    if (col->has_refusal
        && cJSON_AddStringToObject(msg, "refusal", col->refusal.data)
           == NULL)
    {
        goto failed;
    }

    if (col->tool_calls) {
        tc = cJSON_Duplicate(col->tool_calls, 1);
        if (tc == NULL || !cJSON_AddItemToObject(msg, "tool_calls", tc)) {
            cJSON_Delete(tc);
            goto failed;
        }
    }

    return msg;

failed:

    cJSON_Delete(msg);
    return NULL;
}


void
ngx_http_moa_collect_free(ngx_http_moa_collect_t *col)
{
    ngx_http_moa_buf_free(&col->content);
    ngx_http_moa_buf_free(&col->refusal);
    cJSON_Delete(col->tool_calls);
    cJSON_Delete(col->usage);
    col->tool_calls = NULL;
    col->usage = NULL;
}


/*
 * The usage object of a complete reply, found without parsing the rest:
 * 0 and *usage set (NULL when there is none), or -1 on invalid JSON.
 */
int
ngx_http_moa_usage_scan(const char *p, size_t len, cJSON **usage)
{
    size_t                       i, n;
    ngx_http_moa_json_member_t  *m;

    *usage = NULL;

    if (ngx_http_moa_json_members(p, len, &m, &n) != 0) {
        return -1;
    }

    for (i = 0; i < n; i++) {
        if (ngx_http_moa_json_key_is(&m[i], "usage") && m[i].value[0] == '{')
        {
            *usage = cJSON_ParseWithLength(m[i].value, m[i].value_len);
            break;
        }
    }

    free(m);

    return 0;
}


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

    v = cJSON_GetObjectItemCaseSensitive(answer, "refusal");

    if (cJSON_IsString(v)) {
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
    char         *s, num[64];
    cJSON        *line, *messages, *msg, *md, *item;
    const cJSON  *v, *root;

    rc = -1;
    s = NULL;

    line = cJSON_CreateObject();
    if (line == NULL) {
        return -1;
    }

    root = ngx_http_moa_request_root(req);

    messages = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(root,
                                                                "messages"),
                               1);
    if (messages == NULL || !cJSON_AddItemToObject(line, "messages", messages))
    {
        cJSON_Delete(messages);
        goto done;
    }

    msg = ngx_http_moa_capture_answer(answer);
    if (msg == NULL || !cJSON_AddItemToArray(messages, msg)) {
        cJSON_Delete(msg);
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

    md = cJSON_AddObjectToObject(line, "metadata");

    if (md == NULL
        || cJSON_AddStringToObject(md, "model", meta->model) == NULL
        || (meta->base_model
            ? cJSON_AddStringToObject(md, "base_model", meta->base_model)
            : cJSON_AddNullToObject(md, "base_model")) == NULL)
    {
        goto done;
    }

    item = meta->usage ? cJSON_Duplicate(meta->usage, 1) : cJSON_CreateNull();

    if (item == NULL || !cJSON_AddItemToObject(md, "usage", item)) {
        cJSON_Delete(item);
        goto done;
    }

    /* millisecond resolution, printed exactly */
    snprintf(num, sizeof(num), "%.3f", meta->time);
    item = cJSON_CreateRaw(num);

    if (item == NULL || !cJSON_AddItemToObject(md, "time", item)) {
        cJSON_Delete(item);
        goto done;
    }

    snprintf(num, sizeof(num), "%.3f", meta->duration);
    item = cJSON_CreateRaw(num);

    if (item == NULL || !cJSON_AddItemToObject(md, "duration", item)) {
        cJSON_Delete(item);
        goto done;
    }

    if (meta->request_id_len) {
        ngx_http_moa_buf_t  rid;

        memset(&rid, 0, sizeof(ngx_http_moa_buf_t));
        ngx_http_moa_buf_add(&rid, meta->request_id, meta->request_id_len);
        ngx_http_moa_buf_add(&rid, "", 1);

        item = rid.nomem ? NULL : cJSON_CreateString(rid.data);
        ngx_http_moa_buf_free(&rid);

        if (item == NULL || !cJSON_AddItemToObject(md, "request_id", item)) {
            cJSON_Delete(item);
            goto done;
        }
    }

    if (meta->fallback && cJSON_AddTrueToObject(md, "fallback") == NULL) {
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
