
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel --batch: the lines of the batch files.  A request line is
 * {"custom_id","method":"POST","url":"/v1/chat/completions","body"} with
 * the stage body copied byte for byte; a result line (output or error
 * file) is read into its custom_id, status, the raw body (a span of the
 * line, for the module's reply code) and why it failed.  custom_id names
 * the input line, the stage and the call: "l17-p0" (proposal 0 of line
 * 17), "l17-c" (critique), "l17-s" (synthesis).
 */


#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ngx_http_moa_json.h"
#include "ngx_http_moa_json_find.h"
#include "relabel.h"
#include "relabel_batch.h"


static void relabel_batch_files_error(const cJSON *e,
    relabel_batch_result_t *res);


void
relabel_batch_files_custom_id(char *buf, size_t size, unsigned long line,
    int stage, int call)
{
    switch (stage) {

    case RELABEL_BATCH_PROPOSAL:
        snprintf(buf, size, "l%lu-p%d", line, call);
        break;

    case RELABEL_BATCH_CRITIQUE:
        snprintf(buf, size, "l%lu-c", line);
        break;

    case RELABEL_BATCH_SELECT:
        snprintf(buf, size, "l%lu-j", line);
        break;

    case RELABEL_BATCH_SYNTHESIS:
        snprintf(buf, size, "l%lu-s", line);
        break;

    default:
        /* the proposals of layer 2..n */
        snprintf(buf, size, "l%lu-L%d-p%d", line,
                 relabel_batch_stage_layer(stage), call);
        break;
    }
}


/* 0, or -1 when id is not one of ours */
int
relabel_batch_files_custom_id_parse(const char *id, unsigned long *line,
    int *stage, int *call)
{
    int             layer;
    char           *end;
    unsigned long   v;

    if (id[0] != 'l' || id[1] < '1' || id[1] > '9') {
        return -1;
    }

    v = strtoul(id + 1, &end, 10);

    if (end[0] != '-') {
        return -1;
    }

    *line = v;
    *call = 0;

    if (strcmp(end + 1, "c") == 0) {
        *stage = RELABEL_BATCH_CRITIQUE;
        return 0;
    }

    if (strcmp(end + 1, "s") == 0) {
        *stage = RELABEL_BATCH_SYNTHESIS;
        return 0;
    }

    if (strcmp(end + 1, "j") == 0) {
        *stage = RELABEL_BATCH_SELECT;
        return 0;
    }

    layer = 1;

    /* "L2-": a proposal of layer 2..n */
    if (end[1] == 'L') {
        if (end[2] < '2' || end[2] > '0' + RELABEL_BATCH_MAX_LAYERS
            || end[3] != '-')
        {
            return -1;
        }

        layer = end[2] - '0';
        end += 3;
    }

    if (end[1] != 'p' || end[2] < '0' || end[2] > '9') {
        return -1;
    }

    /* one spelling for each call: no leading zero */
    if (end[2] == '0' && end[3] != '\0') {
        return -1;
    }

    v = strtoul(end + 2, &end, 10);

    if (*end != '\0' || v >= RELABEL_BATCH_MAX_PROPOSERS) {
        return -1;
    }

    *stage = RELABEL_BATCH_LAYER(layer);
    *call = (int) v;

    return 0;
}


/* a request line, the body as it is (one JSON value without a newline) */
int
relabel_batch_files_request(ngx_http_moa_buf_t *b, const char *custom_id,
    const char *body, size_t len)
{
    if (memchr(body, '\n', len) != NULL
        || strpbrk(custom_id, "\"\\\n") != NULL)
    {
        return -1;
    }

    /* custom_ids are ours: nothing to escape (relabel_batch_join.c) */
    ngx_http_moa_buf_lit(b, RELABEL_BATCH_LINE_START);
    ngx_http_moa_buf_add(b, custom_id, strlen(custom_id));
    ngx_http_moa_buf_lit(b, "\"");
    ngx_http_moa_buf_lit(b, ",\"method\":\"POST\","
                         "\"url\":\"/v1/chat/completions\",\"body\":");
    ngx_http_moa_buf_add(b, body, len);
    ngx_http_moa_buf_lit(b, "}\n");

    return b->nomem ? -1 : 0;
}


static void
relabel_batch_files_error(const cJSON *e, relabel_batch_result_t *res)
{
    const cJSON  *code, *msg;

    code = cJSON_GetObjectItemCaseSensitive(e, "code");
    msg = cJSON_GetObjectItemCaseSensitive(e, "message");

    if (cJSON_IsString(code)
        && (strcmp(code->valuestring, "batch_expired") == 0
            || strcmp(code->valuestring, "batch_cancelled") == 0))
    {
        res->not_run = 1;
    }

    snprintf(res->error, sizeof(res->error), "%s%s%s",
             cJSON_IsString(code) ? code->valuestring : "error",
             cJSON_IsString(msg) ? ": " : "",
             cJSON_IsString(msg) ? msg->valuestring : "");
}


/*
 * A line of an output or error file: 0, or -1 when it is not a result
 * line.  A 2xx response has body set (its JSON is not checked here); any
 * other result has error set, retryable when a retry may help (the online
 * policy: 408, 409, 429, 5xx, and errors without a response), not_run
 * when the batch expired or was cancelled before the request ran.
 */
int
relabel_batch_files_result(const char *line, size_t len,
    relabel_batch_result_t *res)
{
    int                   resp, body, rc;
    char                  text[200];
    cJSON                *root;
    const cJSON          *id, *r, *st, *e;
    ngx_http_moa_json_t   j;

    memset(res, 0, sizeof(relabel_batch_result_t));
    memset(&j, 0, sizeof(ngx_http_moa_json_t));

    rc = -1;
    root = cJSON_ParseWithLength(line, len);

    if (root == NULL || !cJSON_IsObject(root)
        || ngx_http_moa_json_parse(&j, line, len) != 0)
    {
        goto done;
    }

    id = cJSON_GetObjectItemCaseSensitive(root, "custom_id");
    if (!cJSON_IsString(id)
        || strlen(id->valuestring) >= sizeof(res->custom_id))
    {
        goto done;
    }

    strcpy(res->custom_id, id->valuestring);

    r = cJSON_GetObjectItemCaseSensitive(root, "response");
    e = cJSON_GetObjectItemCaseSensitive(root, "error");
    st = cJSON_IsObject(r) ? cJSON_GetObjectItemCaseSensitive(r, "status_code")
                           : NULL;

    if (cJSON_IsNumber(st)) {
        res->status = (long) st->valuedouble;
    }

    /* the body's raw text, as the provider wrote it */

    resp = ngx_http_moa_json_find(&j, 0, "response");
    body = ngx_http_moa_json_find(&j, resp, "body");

    if (body >= 0) {
        res->body = j.tok[body].p;
        res->body_len = j.tok[body].len;
    }

    if (res->status >= 200 && res->status < 300 && res->body
        && !cJSON_IsObject(e))
    {
        rc = 0;
        goto done;
    }

    if (res->status) {
        relabel_http_error_text(res->body ? res->body : "",
                                res->body ? res->body_len : 0,
                                text, sizeof(text));
        snprintf(res->error, sizeof(res->error), "HTTP %ld: %s", res->status,
                 text);
        res->retryable = relabel_http_retryable(res->status);

    } else if (cJSON_IsObject(e)) {
        relabel_batch_files_error(e, res);
        res->retryable = 1;

    } else {
        snprintf(res->error, sizeof(res->error), "a result without a "
                 "response or an error");
        res->retryable = 1;
    }

    res->body = NULL;
    res->body_len = 0;
    rc = 0;

done:

    cJSON_Delete(root);
    ngx_http_moa_json_free(&j);

    return rc;
}


/* FNV-1a, 64 bits: the digest of IN and of the settings of a run */
unsigned long long
relabel_batch_files_digest(unsigned long long h, const void *p, size_t n)
{
    size_t                i;
    const unsigned char  *s;

    s = p;

    for (i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
    }

    return h;
}
