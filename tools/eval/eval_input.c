
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-eval: the input.  A prompt line is either in the chat fine-tuning
 * format ({"messages":[...]}, a final assistant message dropped: it is the
 * answer the record came with) or in Arena-Hard's question format
 * ({"question_id","category","turns":[{"content"}]}).  A baseline answer
 * line is Arena-Hard's model answer format ({"question_id","choices":
 * [{"turns":[{"content"}]}]}), the fine-tuning format (its final assistant
 * message) or {"id","answer"}.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "eval.h"


static char *eval_input_id(cJSON *root, unsigned long line);
static char *eval_input_category(cJSON *root);
static int eval_input_text(const cJSON *content, ngx_http_moa_buf_t *b);
static int eval_input_messages(cJSON *root, cJSON *msgs, eval_prompt_t *pr,
    char *err, size_t errlen);
static int eval_input_turns(cJSON *root, cJSON *turns, eval_prompt_t *pr,
    char *err, size_t errlen);
static char *eval_input_dup(const char *s);


static char *
eval_input_dup(const char *s)
{
    size_t   n;
    char    *d;

    n = strlen(s);
    d = malloc(n + 1);

    if (d) {
        memcpy(d, s, n + 1);
    }

    return d;
}


/* question_id, metadata.uid, id, else "line-N" */

static char *
eval_input_id(cJSON *root, unsigned long line)
{
    char    buf[64];
    cJSON  *v, *meta;

    v = cJSON_GetObjectItemCaseSensitive(root, "question_id");

    if (v == NULL) {
        meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
        v = cJSON_IsObject(meta)
            ? cJSON_GetObjectItemCaseSensitive(meta, "uid") : NULL;
    }

    if (v == NULL) {
        v = cJSON_GetObjectItemCaseSensitive(root, "id");
    }

    if (cJSON_IsString(v) && v->valuestring[0] != '\0') {
        return eval_input_dup(v->valuestring);
    }

    if (cJSON_IsNumber(v)) {
        snprintf(buf, sizeof(buf), "%.17g", v->valuedouble);
        return eval_input_dup(buf);
    }

    snprintf(buf, sizeof(buf), "line-%lu", line);

    return eval_input_dup(buf);
}


/* category, else metadata.category, else "" */

static char *
eval_input_category(cJSON *root)
{
    cJSON  *v, *meta;

    v = cJSON_GetObjectItemCaseSensitive(root, "category");

    if (!cJSON_IsString(v)) {
        meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
        v = cJSON_IsObject(meta)
            ? cJSON_GetObjectItemCaseSensitive(meta, "category") : NULL;
    }

    return eval_input_dup(cJSON_IsString(v) ? v->valuestring : "");
}


/* a message's text: a string, or the text parts of an array; -1 if none */

static int
eval_input_text(const cJSON *content, ngx_http_moa_buf_t *b)
{
    int           n;
    const cJSON  *part, *t;

    if (cJSON_IsString(content)) {
        ngx_http_moa_buf_cstr(b, content->valuestring);
        return 0;
    }

    if (!cJSON_IsArray(content)) {
        return -1;
    }

    n = 0;

    cJSON_ArrayForEach(part, content) {
        t = cJSON_GetObjectItemCaseSensitive(part, "text");

        if (cJSON_IsString(t)) {
            if (n++) {
                ngx_http_moa_buf_lit(b, "\n");
            }

            ngx_http_moa_buf_cstr(b, t->valuestring);
        }
    }

    return n ? 0 : -1;
}


/*
 * The fine-tuning format: the messages up to a final assistant message;
 * the judge reads the one user message, or the whole conversation as
 * "role: text" paragraphs.
 */

static int
eval_input_messages(cJSON *root, cJSON *msgs, eval_prompt_t *pr, char *err,
    size_t errlen)
{
    int                  n, i, users, others;
    char                *s;
    cJSON               *m, *role, *keep;
    ngx_http_moa_buf_t   q;

    (void) root;

    n = cJSON_GetArraySize(msgs);
    users = 0;
    others = 0;

    for (i = 0; i < n; i++) {
        m = cJSON_GetArrayItem(msgs, i);
        role = cJSON_GetObjectItemCaseSensitive(m, "role");

        if (!cJSON_IsObject(m) || !cJSON_IsString(role)) {
            snprintf(err, errlen, "messages[%d] is not a message with a role",
                     i);
            return -1;
        }
    }

    m = cJSON_GetArrayItem(msgs, n - 1);
    role = m ? cJSON_GetObjectItemCaseSensitive(m, "role") : NULL;

    if (role && strcmp(role->valuestring, "assistant") == 0) {
        n--;
    }

    keep = cJSON_CreateArray();
    if (keep == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    memset(&q, 0, sizeof(ngx_http_moa_buf_t));

    for (i = 0; i < n; i++) {
        m = cJSON_GetArrayItem(msgs, i);
        role = cJSON_GetObjectItemCaseSensitive(m, "role");

        if (strcmp(role->valuestring, "user") == 0) {
            users++;

        } else if (strcmp(role->valuestring, "system") != 0
                   && strcmp(role->valuestring, "developer") != 0)
        {
            others++;
        }

        cJSON_AddItemToArray(keep, cJSON_Duplicate(m, 1));
    }

    if (users == 0) {
        cJSON_Delete(keep);
        snprintf(err, errlen, "no user message before the final answer");
        return -1;
    }

    for (i = 0; i < n; i++) {
        m = cJSON_GetArrayItem(msgs, i);
        role = cJSON_GetObjectItemCaseSensitive(m, "role");

        if (users == 1 && others == 0) {
            if (strcmp(role->valuestring, "user") == 0) {
                eval_input_text(cJSON_GetObjectItemCaseSensitive(m, "content"),
                                &q);
            }

            continue;
        }

        if (q.len) {
            ngx_http_moa_buf_lit(&q, "\n\n");
        }

        ngx_http_moa_buf_cstr(&q, role->valuestring);
        ngx_http_moa_buf_lit(&q, ": ");
        eval_input_text(cJSON_GetObjectItemCaseSensitive(m, "content"), &q);
    }

    s = cJSON_PrintUnformatted(keep);
    cJSON_Delete(keep);

    if (s == NULL || ngx_http_moa_buf_cstring(&q) == NULL) {
        free(s);
        ngx_http_moa_buf_free(&q);
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    pr->messages = s;
    pr->question = q.data;

    return 0;
}


/* Arena-Hard's question format: one turn, sent as one user message */

static int
eval_input_turns(cJSON *root, cJSON *turns, eval_prompt_t *pr, char *err,
    size_t errlen)
{
    char                *s;
    cJSON               *arr, *m, *content;
    ngx_http_moa_buf_t   q;

    (void) root;

    if (cJSON_GetArraySize(turns) != 1) {
        snprintf(err, errlen, "\"turns\" has %d entries: only single-turn "
                 "questions are supported", cJSON_GetArraySize(turns));
        return -1;
    }

    content = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(turns, 0),
                                               "content");

    memset(&q, 0, sizeof(ngx_http_moa_buf_t));

    if (eval_input_text(content, &q) != 0) {
        snprintf(err, errlen, "turns[0] has no text \"content\"");
        return -1;
    }

    if (ngx_http_moa_buf_cstring(&q) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    arr = cJSON_CreateArray();
    m = cJSON_CreateObject();

    if (arr == NULL || m == NULL
        || cJSON_AddStringToObject(m, "role", "user") == NULL
        || cJSON_AddStringToObject(m, "content", q.data) == NULL)
    {
        cJSON_Delete(arr);
        cJSON_Delete(m);
        ngx_http_moa_buf_free(&q);
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    cJSON_AddItemToArray(arr, m);
    s = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);

    if (s == NULL) {
        ngx_http_moa_buf_free(&q);
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    pr->messages = s;
    pr->question = q.data;

    return 0;
}


int
eval_input_parse(const char *p, size_t n, unsigned long line,
    eval_prompt_t *pr, char *err, size_t errlen)
{
    int     rc;
    cJSON  *root, *msgs, *turns;

    memset(pr, 0, sizeof(eval_prompt_t));
    pr->line = line;

    root = cJSON_ParseWithLength(p, n);

    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        snprintf(err, errlen, "not a JSON object");
        return -1;
    }

    msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
    turns = cJSON_GetObjectItemCaseSensitive(root, "turns");

    if (cJSON_IsArray(msgs) && cJSON_GetArraySize(msgs) > 0) {
        rc = eval_input_messages(root, msgs, pr, err, errlen);

    } else if (cJSON_IsArray(turns)) {
        rc = eval_input_turns(root, turns, pr, err, errlen);

    } else {
        snprintf(err, errlen, "neither a non-empty \"messages\" array "
                 "(fine-tuning format) nor \"turns\" (Arena-Hard format)");
        rc = -1;
    }

    if (rc == 0) {
        pr->id = eval_input_id(root, line);
        pr->category = eval_input_category(root);

        if (pr->id == NULL || pr->category == NULL) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
    }

    cJSON_Delete(root);

    if (rc != 0) {
        eval_input_prompt_free(pr);
    }

    return rc;
}


/* a baseline answer line: its id (as for prompts) and the answer's text */

int
eval_input_answer_parse(const char *p, size_t n, unsigned long line,
    char **id, char **content, char *err, size_t errlen)
{
    int                  rc;
    cJSON               *root, *v, *c0, *turns, *m, *role;
    ngx_http_moa_buf_t   t;

    *id = NULL;
    *content = NULL;

    root = cJSON_ParseWithLength(p, n);

    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        snprintf(err, errlen, "not a JSON object");
        return -1;
    }

    memset(&t, 0, sizeof(ngx_http_moa_buf_t));
    rc = -1;

    v = cJSON_GetObjectItemCaseSensitive(root, "answer");
    if (v) {
        rc = eval_input_text(v, &t);
    }

    v = cJSON_GetObjectItemCaseSensitive(root, "choices");
    if (rc != 0 && cJSON_IsArray(v)) {
        c0 = cJSON_GetArrayItem(v, 0);
        turns = cJSON_GetObjectItemCaseSensitive(c0, "turns");
        m = cJSON_IsArray(turns) ? cJSON_GetArrayItem(turns, 0) : NULL;

        if (m == NULL) {
            /* an OpenAI chat.completion */
            m = cJSON_GetObjectItemCaseSensitive(c0, "message");
        }

        if (m) {
            rc = eval_input_text(cJSON_GetObjectItemCaseSensitive(m, "content"),
                                 &t);
        }
    }

    v = cJSON_GetObjectItemCaseSensitive(root, "messages");
    if (rc != 0 && cJSON_IsArray(v)) {
        m = cJSON_GetArrayItem(v, cJSON_GetArraySize(v) - 1);
        role = m ? cJSON_GetObjectItemCaseSensitive(m, "role") : NULL;

        if (cJSON_IsString(role) && strcmp(role->valuestring, "assistant") == 0)
        {
            rc = eval_input_text(cJSON_GetObjectItemCaseSensitive(m, "content"),
                                 &t);
        }
    }

    if (rc != 0) {
        snprintf(err, errlen, "no answer: expected \"answer\", \"choices\" "
                 "(Arena-Hard or chat.completion) or \"messages\" ending with "
                 "an assistant message");
        ngx_http_moa_buf_free(&t);
        cJSON_Delete(root);
        return -1;
    }

    *id = eval_input_id(root, line);
    *content = ngx_http_moa_buf_cstring(&t);
    cJSON_Delete(root);

    if (*id == NULL || *content == NULL) {
        free(*id);
        ngx_http_moa_buf_free(&t);
        *id = NULL;
        *content = NULL;
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    return 0;
}


void
eval_input_prompt_free(eval_prompt_t *pr)
{
    int  i;

    free(pr->id);
    free(pr->category);
    free(pr->messages);
    free(pr->question);

    for (i = 0; i < 2; i++) {
        free(pr->answer[i].content);
    }

    pr->id = NULL;
    pr->category = NULL;
    pr->messages = NULL;
    pr->question = NULL;
    pr->answer[0].content = NULL;
    pr->answer[1].content = NULL;
}
