
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


#define NGX_HTTP_MOA_MAX_N  128


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


static int
ngx_http_moa_check_messages(const cJSON *messages, ngx_http_moa_error_t *err)
{
    int           i;
    const char  **r;
    const cJSON  *msg, *role;

    i = 0;

    cJSON_ArrayForEach(msg, messages) {

        if (!cJSON_IsObject(msg)) {
            ngx_http_moa_error_set(err, 400, "invalid_request_error",
                                   "invalid_type", "messages",
                                   "Invalid type for 'messages[%d]': "
                                   "expected an object.", i);
            return -1;
        }

        role = cJSON_GetObjectItemCaseSensitive(msg, "role");

        if (!cJSON_IsString(role)) {
            ngx_http_moa_error_set(err, 400, "invalid_request_error",
                                   role ? "invalid_type"
                                        : "missing_required_parameter",
                                   "messages",
                                   "Missing or invalid 'messages[%d].role': "
                                   "expected a string.", i);
            return -1;
        }

        for (r = ngx_http_moa_roles; *r; r++) {
            if (strcmp(role->valuestring, *r) == 0) {
                break;
            }
        }

        if (*r == NULL) {
            ngx_http_moa_error_set(err, 400, "invalid_request_error",
                                   "invalid_value", "messages",
                                   "Invalid value for 'messages[%d].role': "
                                   "'%.64s' is not one of 'system', "
                                   "'developer', 'user', 'assistant', "
                                   "'tool'.", i, role->valuestring);
            return -1;
        }

        i++;
    }

    return 0;
}


int
ngx_http_moa_request_parse(ngx_http_moa_request_t *req, const char *body,
    size_t len, ngx_http_moa_error_t *err)
{
    size_t        i;
    const cJSON  *item, *opt;

    memset(req, 0, sizeof(ngx_http_moa_request_t));
    req->n = 1;

    if (ngx_http_moa_json_members(body, len, &req->members, &req->nmembers)
        != 0)
    {
        ngx_http_moa_error_set(err, 400, "invalid_request_error", NULL, NULL,
                               "We could not parse the JSON body of your "
                               "request: expected a JSON object.");
        return -1;
    }

    req->root = cJSON_ParseWithLength(body, len);
    if (req->root == NULL || !cJSON_IsObject(req->root)) {
        ngx_http_moa_error_set(err, 400, "invalid_request_error", NULL, NULL,
                               "We could not parse the JSON body of your "
                               "request.");
        return -1;
    }

    item = cJSON_GetObjectItemCaseSensitive(req->root, "model");

    if (item == NULL || cJSON_IsNull(item)) {
        ngx_http_moa_error_set(err, 400, "invalid_request_error",
                               "missing_required_parameter", "model",
                               "you must provide a model parameter");
        return -1;
    }

    if (!cJSON_IsString(item)) {
        return ngx_http_moa_invalid_type(err, "model", "a string");
    }

    req->model = item->valuestring;

    item = cJSON_GetObjectItemCaseSensitive(req->root, "messages");

    if (item == NULL || cJSON_IsNull(item)) {
        ngx_http_moa_error_set(err, 400, "invalid_request_error",
                               "missing_required_parameter", "messages",
                               "Missing required parameter: 'messages'.");
        return -1;
    }

    if (!cJSON_IsArray(item)) {
        return ngx_http_moa_invalid_type(err, "messages", "an array");
    }

    if (item->child == NULL) {
        ngx_http_moa_error_set(err, 400, "invalid_request_error",
                               "empty_array", "messages",
                               "Invalid 'messages': empty array. Expected an "
                               "array with minimum length 1, but got an "
                               "empty array instead.");
        return -1;
    }

    if (ngx_http_moa_check_messages(item, err) != 0) {
        return -1;
    }

    req->messages = item;

    for (i = 0; i < req->nmembers; i++) {
        if (ngx_http_moa_json_key_is(&req->members[i], "messages")) {
            req->raw_messages = &req->members[i];
            break;
        }
    }

    if (req->raw_messages == NULL) {
        /* an escaped duplicate key confused the two views: refuse */
        ngx_http_moa_error_set(err, 400, "invalid_request_error", NULL,
                               "messages", "Ambiguous 'messages' key.");
        return -1;
    }

    item = cJSON_GetObjectItemCaseSensitive(req->root, "stream");

    if (item && !cJSON_IsNull(item)) {
        if (!cJSON_IsBool(item)) {
            return ngx_http_moa_invalid_type(err, "stream", "a boolean");
        }

        req->stream = cJSON_IsTrue(item);
    }

    item = cJSON_GetObjectItemCaseSensitive(req->root, "stream_options");

    if (item && !cJSON_IsNull(item)) {
        if (!cJSON_IsObject(item)) {
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

        opt = cJSON_GetObjectItemCaseSensitive(item, "include_usage");
        req->include_usage = cJSON_IsTrue(opt);
    }

    item = cJSON_GetObjectItemCaseSensitive(req->root, "n");

    if (item && !cJSON_IsNull(item)) {
        if (!cJSON_IsNumber(item) || item->valuedouble != item->valueint) {
            return ngx_http_moa_invalid_type(err, "n", "an integer");
        }

        if (item->valueint < 1 || item->valueint > NGX_HTTP_MOA_MAX_N) {
            ngx_http_moa_error_set(err, 400, "invalid_request_error",
                                   "invalid_value", "n",
                                   "Invalid 'n': must be between 1 and %d.",
                                   NGX_HTTP_MOA_MAX_N);
            return -1;
        }

        req->n = item->valueint;
    }

    item = cJSON_GetObjectItemCaseSensitive(req->root, "seed");

    if (item && !cJSON_IsNull(item)) {
        /* range first: casting a double out of range is undefined */
        if (!cJSON_IsNumber(item)
            || item->valuedouble < -9223372036854775808.0
            || item->valuedouble >= 9223372036854775808.0
            || item->valuedouble != (double) (long long) item->valuedouble)
        {
            return ngx_http_moa_invalid_type(err, "seed", "an integer");
        }

        req->has_seed = 1;
        req->seed = (long long) item->valuedouble;
    }

    item = cJSON_GetObjectItemCaseSensitive(req->root, "tools");

    if (item && !cJSON_IsNull(item)) {
        if (!cJSON_IsArray(item)) {
            return ngx_http_moa_invalid_type(err, "tools", "an array");
        }

        req->has_tools = (item->child != NULL);
    }

    item = cJSON_GetObjectItemCaseSensitive(req->root,
                                            "max_completion_tokens");
    req->max_completion_tokens = (item && !cJSON_IsNull(item));

    return 0;
}


int
ngx_http_moa_request_check_moa(ngx_http_moa_request_t *req,
    ngx_http_moa_error_t *err)
{
    const cJSON  *item, *m;

    item = cJSON_GetObjectItemCaseSensitive(req->root, "audio");

    if (item && !cJSON_IsNull(item)) {
        goto audio;
    }

    item = cJSON_GetObjectItemCaseSensitive(req->root, "modalities");

    cJSON_ArrayForEach(m, item) {
        if (cJSON_IsString(m) && strcmp(m->valuestring, "audio") == 0) {
            goto audio;
        }
    }

    item = cJSON_GetObjectItemCaseSensitive(req->root, "prediction");

    if (item && !cJSON_IsNull(item)) {
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


void
ngx_http_moa_request_free(ngx_http_moa_request_t *req)
{
    cJSON_Delete(req->root);
    free(req->members);
    req->root = NULL;
    req->members = NULL;
}


static void
ngx_http_moa_add_member(ngx_http_moa_buf_t *out,
    const ngx_http_moa_json_member_t *m)
{
    ngx_http_moa_buf_lit(out, "\"");
    ngx_http_moa_buf_add(out, m->key, m->key_len);
    ngx_http_moa_buf_lit(out, "\":");
    ngx_http_moa_buf_add(out, m->value, m->value_len);
    ngx_http_moa_buf_lit(out, ",");
}


static void
ngx_http_moa_add_common(ngx_http_moa_buf_t *out,
    const ngx_http_moa_request_t *req, const ngx_http_moa_call_params_t *cp)
{
    ngx_http_moa_buf_lit(out, "\"model\":");
    ngx_http_moa_buf_json_str(out, cp->model, cp->model_len);

    if (cp->temperature) {
        ngx_http_moa_buf_lit(out, ",\"temperature\":");
        ngx_http_moa_buf_add(out, cp->temperature, cp->temperature_len);
    }

    if (cp->max_tokens > 0) {
        if (req->max_completion_tokens) {
            ngx_http_moa_buf_lit(out, ",\"max_completion_tokens\":");

        } else {
            ngx_http_moa_buf_lit(out, ",\"max_tokens\":");
        }

        ngx_http_moa_buf_int(out, cp->max_tokens);
    }
}


/* the client's messages followed by one instruction message */
static void
ngx_http_moa_add_messages(ngx_http_moa_buf_t *out,
    const ngx_http_moa_request_t *req, const char *instruction,
    size_t instruction_len)
{
    const ngx_http_moa_json_member_t  *m;

    m = req->raw_messages;

    ngx_http_moa_buf_lit(out, ",\"messages\":");

    if (instruction == NULL) {
        ngx_http_moa_buf_add(out, m->value, m->value_len);
        return;
    }

    /* the raw value ends with ']' and is a non-empty array */
    ngx_http_moa_buf_add(out, m->value, m->value_len - 1);
    ngx_http_moa_buf_lit(out, ",{\"role\":\"user\",\"content\":");
    ngx_http_moa_buf_json_str(out, instruction, instruction_len);
    ngx_http_moa_buf_lit(out, "}]");
}


int
ngx_http_moa_build_proposal(ngx_http_moa_buf_t *out,
    const ngx_http_moa_request_t *req, const ngx_http_moa_call_params_t *cp)
{
    size_t                             i;
    const ngx_http_moa_json_member_t  *m;

    ngx_http_moa_buf_lit(out, "{");

    for (i = 0; i < req->nmembers; i++) {
        m = &req->members[i];

        if (ngx_http_moa_in_list(m, ngx_http_moa_proposal_drop)
            || (cp->max_tokens > 0
                && ngx_http_moa_in_list(m, ngx_http_moa_max_tokens_keys)))
        {
            continue;
        }

        ngx_http_moa_add_member(out, m);
    }

    ngx_http_moa_add_common(out, req, cp);
    ngx_http_moa_add_messages(out, req, NULL, 0);

    if (cp->n > 1) {
        ngx_http_moa_buf_lit(out, ",\"n\":");
        ngx_http_moa_buf_int(out, cp->n);
    }

    /* same seed at a high temperature would give N equal candidates */
    if (req->has_seed) {
        ngx_http_moa_buf_lit(out, ",\"seed\":");
        ngx_http_moa_buf_int(out, req->seed + cp->index);
    }

    ngx_http_moa_buf_lit(out, ",\"stream\":false}");

    return out->nomem ? -1 : 0;
}


int
ngx_http_moa_build_critique(ngx_http_moa_buf_t *out,
    const ngx_http_moa_request_t *req, const ngx_http_moa_call_params_t *cp,
    const char *instruction, size_t instruction_len)
{
    size_t                             i;
    const ngx_http_moa_json_member_t  *m;

    ngx_http_moa_buf_lit(out, "{");

    for (i = 0; i < req->nmembers; i++) {
        m = &req->members[i];

        if (ngx_http_moa_in_list(m, ngx_http_moa_critique_keep)) {
            ngx_http_moa_add_member(out, m);
        }
    }

    /* tools give the candidates' tool calls a meaning; none may be called */
    if (req->has_tools) {
        ngx_http_moa_buf_lit(out, "\"tool_choice\":\"none\",");
    }

    ngx_http_moa_add_common(out, req, cp);
    /* an empty buffer's text is (NULL, 0): still an instruction */
    ngx_http_moa_add_messages(out, req, instruction ? instruction : "",
                              instruction_len);
    ngx_http_moa_buf_lit(out, ",\"stream\":false}");

    return out->nomem ? -1 : 0;
}


int
ngx_http_moa_build_synthesis(ngx_http_moa_buf_t *out,
    const ngx_http_moa_request_t *req, const ngx_http_moa_call_params_t *cp,
    const char *instruction, size_t instruction_len)
{
    char                              *s;
    size_t                             i;
    cJSON                             *opts;
    const cJSON                       *item;
    const ngx_http_moa_json_member_t  *m;

    ngx_http_moa_buf_lit(out, "{");

    for (i = 0; i < req->nmembers; i++) {
        m = &req->members[i];

        if (ngx_http_moa_in_list(m, ngx_http_moa_synthesis_drop)
            || (cp->temperature && ngx_http_moa_json_key_is(m, "temperature"))
            || (cp->max_tokens > 0
                && ngx_http_moa_in_list(m, ngx_http_moa_max_tokens_keys)))
        {
            continue;
        }

        ngx_http_moa_add_member(out, m);
    }

    ngx_http_moa_add_common(out, req, cp);
    /* an empty buffer's text is (NULL, 0): still an instruction */
    ngx_http_moa_add_messages(out, req, instruction ? instruction : "",
                              instruction_len);

    if (!req->stream) {
        ngx_http_moa_buf_lit(out, ",\"stream\":false}");
        return out->nomem ? -1 : 0;
    }

    /* the provider's usage of this call is needed for the sum */

    ngx_http_moa_buf_lit(out, ",\"stream\":true,\"stream_options\":");

    item = cJSON_GetObjectItemCaseSensitive(req->root, "stream_options");

    if (!cJSON_IsObject(item)) {
        ngx_http_moa_buf_lit(out, "{\"include_usage\":true}}");
        return out->nomem ? -1 : 0;
    }

    opts = cJSON_Duplicate(item, 1);
    if (opts == NULL) {
        return -1;
    }

    cJSON_DeleteItemFromObjectCaseSensitive(opts, "include_usage");

    if (cJSON_AddTrueToObject(opts, "include_usage") == NULL) {
        cJSON_Delete(opts);
        return -1;
    }

    s = cJSON_PrintUnformatted(opts);
    cJSON_Delete(opts);

    if (s == NULL) {
        return -1;
    }

    ngx_http_moa_buf_cstr(out, s);
    ngx_http_moa_buf_lit(out, "}");
    free(s);

    return out->nomem ? -1 : 0;
}


int
ngx_http_moa_reply_parse(ngx_http_moa_reply_t *rep, const char *p,
    size_t len, ngx_http_moa_error_t *err)
{
    const cJSON  *item, *choice, *msg;

    memset(rep, 0, sizeof(ngx_http_moa_reply_t));

    rep->root = cJSON_ParseWithLength(p, len);

    if (rep->root == NULL || !cJSON_IsObject(rep->root)) {
        ngx_http_moa_error_set(err, 502, "upstream_error", "bad_upstream_reply",
                               NULL, "the provider sent a reply that is not "
                               "a JSON object");
        return -1;
    }

    item = cJSON_GetObjectItemCaseSensitive(rep->root, "error");

    if (item && !cJSON_IsNull(item)) {
        msg = cJSON_GetObjectItemCaseSensitive(item, "message");

        ngx_http_moa_error_set(err, 502, "upstream_error", "upstream_error",
                               NULL, "the provider answered with an error: "
                               "%.160s", cJSON_IsString(msg)
                                         ? msg->valuestring : "(no message)");
        return -1;
    }

    rep->choices = cJSON_GetObjectItemCaseSensitive(rep->root, "choices");

    if (!cJSON_IsArray(rep->choices) || rep->choices->child == NULL) {
        ngx_http_moa_error_set(err, 502, "upstream_error", "bad_upstream_reply",
                               NULL, "the provider's reply has no choices");
        return -1;
    }

    cJSON_ArrayForEach(choice, rep->choices) {
        msg = cJSON_GetObjectItemCaseSensitive(choice, "message");

        if (!cJSON_IsObject(msg)) {
            ngx_http_moa_error_set(err, 502, "upstream_error",
                                   "bad_upstream_reply", NULL,
                                   "the provider's reply has a choice "
                                   "without a message");
            return -1;
        }

        rep->nchoices++;
    }

    item = cJSON_GetObjectItemCaseSensitive(rep->root, "usage");
    rep->usage = cJSON_IsObject(item) ? item : NULL;

    return 0;
}


const cJSON *
ngx_http_moa_reply_message(const ngx_http_moa_reply_t *rep, int i)
{
    const cJSON  *choice;

    choice = cJSON_GetArrayItem(rep->choices, i);

    return cJSON_GetObjectItemCaseSensitive(choice, "message");
}


void
ngx_http_moa_reply_free(ngx_http_moa_reply_t *rep)
{
    cJSON_Delete(rep->root);
    rep->root = NULL;
}


static int
ngx_http_moa_nonempty(const cJSON *s)
{
    const char  *p;

    if (!cJSON_IsString(s)) {
        return 0;
    }

    for (p = s->valuestring; *p; p++) {
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
            return 1;
        }
    }

    return 0;
}


int
ngx_http_moa_message_usable(const cJSON *message)
{
    const cJSON  *content, *part;

    content = cJSON_GetObjectItemCaseSensitive(message, "content");

    if (ngx_http_moa_nonempty(content)) {
        return 1;
    }

    cJSON_ArrayForEach(part, content) {
        if (ngx_http_moa_nonempty(cJSON_GetObjectItemCaseSensitive(part,
                                                                   "text")))
        {
            return 1;
        }
    }

    if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(message,
                                                            "tool_calls"))
        > 0)
    {
        return 1;
    }

    return ngx_http_moa_nonempty(cJSON_GetObjectItemCaseSensitive(message,
                                                                  "refusal"));
}


/* the text of a candidate: its content, refusal, and tool calls as JSON */
void
ngx_http_moa_message_text(ngx_http_moa_buf_t *out, const cJSON *message)
{
    int           first;
    char         *s;
    cJSON        *calls, *call;
    const cJSON  *content, *part, *text, *tc, *fn, *item;

    content = cJSON_GetObjectItemCaseSensitive(message, "content");

    if (cJSON_IsString(content)) {
        ngx_http_moa_buf_cstr(out, content->valuestring);

    } else {
        first = 1;

        cJSON_ArrayForEach(part, content) {
            text = cJSON_GetObjectItemCaseSensitive(part, "text");

            if (cJSON_IsString(text)) {
                if (!first) {
                    ngx_http_moa_buf_lit(out, "\n");
                }

                ngx_http_moa_buf_cstr(out, text->valuestring);
                first = 0;
            }
        }
    }

    item = cJSON_GetObjectItemCaseSensitive(message, "refusal");

    if (ngx_http_moa_nonempty(item)) {
        if (out->len) {
            ngx_http_moa_buf_lit(out, "\n");
        }

        ngx_http_moa_buf_lit(out, "Refusal: ");
        ngx_http_moa_buf_cstr(out, item->valuestring);
    }

    tc = cJSON_GetObjectItemCaseSensitive(message, "tool_calls");

    if (cJSON_GetArraySize(tc) == 0) {
        return;
    }

    calls = cJSON_CreateArray();
    if (calls == NULL) {
        out->nomem = 1;
        return;
    }

    cJSON_ArrayForEach(item, tc) {
        fn = cJSON_GetObjectItemCaseSensitive(item, "function");

        call = cJSON_Duplicate(fn ? fn : item, 1);
        if (call == NULL || !cJSON_AddItemToArray(calls, call)) {
            cJSON_Delete(call);
            cJSON_Delete(calls);
            out->nomem = 1;
            return;
        }
    }

    s = cJSON_PrintUnformatted(calls);
    cJSON_Delete(calls);

    if (s == NULL) {
        out->nomem = 1;
        return;
    }

    if (out->len) {
        ngx_http_moa_buf_lit(out, "\n");
    }

    ngx_http_moa_buf_lit(out, "Tool calls (JSON): ");
    ngx_http_moa_buf_cstr(out, s);
    free(s);
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
        return cJSON_ReplaceItemInObjectCaseSensitive(obj, name, value)
               ? 0 : -1;
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
 * The final chat.completion from a provider reply: model is the MoA id,
 * usage the sum.  choice >= 0 keeps that one choice only (a candidate
 * returned as the answer), as index 0.
 */
int
ngx_http_moa_build_response(ngx_http_moa_buf_t *out, cJSON *root,
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
        || ngx_http_moa_set(root, "usage", cJSON_Duplicate(usage, 1)) != 0)
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

        ngx_http_moa_add_member(out, m);
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
    char  *s;

    s = cJSON_PrintUnformatted(usage);
    if (s == NULL) {
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
    ngx_http_moa_buf_cstr(out, s);
    ngx_http_moa_buf_lit(out, "}\n\n");
    free(s);

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

    item = cJSON_GetObjectItemCaseSensitive(msg, "content");

    if (cJSON_IsString(item) && item->valuestring[0]) {
        delta = cJSON_CreateObject();
        if (delta == NULL
            || cJSON_AddStringToObject(delta, "content", item->valuestring)
               == NULL
            || ngx_http_moa_stream_chunk(st, model, model_len, index, delta,
                                         NULL, out) != 0)
        {
            return -1;
        }
    }

    item = cJSON_GetObjectItemCaseSensitive(msg, "refusal");

    if (cJSON_IsString(item) && item->valuestring[0]) {
        delta = cJSON_CreateObject();
        if (delta == NULL
            || cJSON_AddStringToObject(delta, "refusal", item->valuestring)
               == NULL
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
ngx_http_moa_stream_from_reply(ngx_http_moa_stream_t *st, const cJSON *root,
    int choice, const char *model, size_t model_len, ngx_http_moa_buf_t *out)
{
    int           i;
    const cJSON  *choices, *c, *item;

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
