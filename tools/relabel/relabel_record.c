
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel: pure record handling.  Input records are never re-serialised:
 * lib's JSON tokenizer, the module's own rules, finds the byte ranges of the
 * fields that matter and everything else is copied verbatim.  Also the
 * request to send, the answer read from a reply, the output and rejects
 * lines, and the --param values.
 */


#define _GNU_SOURCE

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ngx_http_moa_utf8.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_json_find.h"
#include "ngx_http_moa_buf_json.h"
#include "ngx_http_moa_json_text.h"
#include "relabel.h"


static const char *relabel_record_invalid(const char *p, size_t n);
static const char *relabel_record_spans(const ngx_http_moa_json_t *j,
    const char *p, relabel_record_t *rec);
static void relabel_record_span(const ngx_http_moa_json_t *j, int i,
    const char *p, relabel_span_t *sp);
static int relabel_record_str_is(const ngx_http_moa_json_t *j, int i,
    const char *s);
static void relabel_record_request_member(ngx_http_moa_buf_t *b, const char *p,
    const char *name, const relabel_span_t *sp);
static void relabel_record_base64(ngx_http_moa_buf_t *b, const char *p,
    size_t n);
static void relabel_record_reject_tail(ngx_http_moa_buf_t *b, const char *p,
    size_t n);


/*
 * Appends p as a JSON string, escaped by lib.  Bytes that are not valid
 * UTF-8 become U+FFFD: JSON cannot carry them, and strict readers refuse the
 * whole line otherwise.
 */

void
relabel_record_json_str(ngx_http_moa_buf_t *b, const char *p, size_t n)
{
    size_t  i, run, k;

    ngx_http_moa_buf_lit(b, "\"");

    for (i = 0, run = 0; i < n; i += k) {
        k = ngx_http_moa_utf8_seq(p + i, n - i);

        if (k) {
            continue;
        }

        ngx_http_moa_buf_json_inner(b, p + run, i - run);
        ngx_http_moa_buf_lit(b, "\\ufffd");
        k = 1;
        run = i + 1;
    }

    ngx_http_moa_buf_json_inner(b, p + run, n - run);
    ngx_http_moa_buf_lit(b, "\"");
}


static void
relabel_record_base64(ngx_http_moa_buf_t *b, const char *p, size_t n)
{
    char                *d;
    size_t               i;
    uint32_t             v;
    const unsigned char *s;
    static const char    tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    if (ngx_http_moa_buf_reserve(b, (n + 2) / 3 * 4 + 2) != 0) {
        return;
    }

    s = (const unsigned char *) p;
    d = b->data + b->len;
    *d++ = '"';

    for (i = 0; i + 2 < n; i += 3) {
        v = (uint32_t) s[i] << 16 | (uint32_t) s[i + 1] << 8 | s[i + 2];
        *d++ = tab[v >> 18];
        *d++ = tab[(v >> 12) & 63];
        *d++ = tab[(v >> 6) & 63];
        *d++ = tab[v & 63];
    }

    if (i < n) {
        v = (uint32_t) s[i] << 16;
        if (i + 1 < n) {
            v |= (uint32_t) s[i + 1] << 8;
        }
        *d++ = tab[v >> 18];
        *d++ = tab[(v >> 12) & 63];
        *d++ = (i + 1 < n) ? tab[(v >> 6) & 63] : '=';
        *d++ = '=';
    }

    *d++ = '"';
    b->len = d - b->data;
}


/*
 * Splits a record.  Returns NULL, or why the line cannot be relabeled
 * (a constant string).
 */

const char *
relabel_record_split(const char *p, size_t n, relabel_record_t *rec)
{
    size_t                i;
    const char           *why;
    ngx_http_moa_json_t   j;

    memset(rec, 0, sizeof(relabel_record_t));

    for (i = 0; i < n; i++) {
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r') {
            break;
        }
    }

    if (i == n) {
        return "empty line";
    }

    memset(&j, 0, sizeof(ngx_http_moa_json_t));

    if (ngx_http_moa_json_parse(&j, p, n) != 0) {
        ngx_http_moa_json_free(&j);
        return relabel_record_invalid(p, n);
    }

    why = relabel_record_spans(&j, p, rec);

    ngx_http_moa_json_free(&j);

    return why;
}


/*
 * Why a line that is not one JSON value is refused.  It may start with a
 * valid object and go on with something else: cJSON finds where its first
 * value ends, lib's rules judge that value.
 */

static const char *
relabel_record_invalid(const char *p, size_t n)
{
    cJSON       *v;
    const char  *end;

    v = cJSON_ParseWithLengthOpts(p, n, &end, 0);
    if (v == NULL) {
        return "invalid JSON";
    }

    cJSON_Delete(v);

    if (ngx_http_moa_json_valid(p, end - p) != 0) {
        return "invalid JSON";
    }

    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
        p++;
    }

    return *p == '{' ? "invalid JSON: garbage after the record"
                     : "not a JSON object";
}


/* the spans of a record cut into tokens (token 0 is the whole line) */

static const char *
relabel_record_spans(const ngx_http_moa_json_t *j, const char *p,
    relabel_record_t *rec)
{
    int             i, msgs, last, prev, at[4];
    relabel_span_t  sp;

    static const ngx_http_moa_json_key_t  keys[] = {
        ngx_http_moa_json_key("messages"),
        ngx_http_moa_json_key("tools"),
        ngx_http_moa_json_key("tool_choice"),
        ngx_http_moa_json_key("parallel_tool_calls")
    };

    static const ngx_http_moa_json_key_t  mkeys[] = {
        ngx_http_moa_json_key("role"),
        ngx_http_moa_json_key("weight")
    };

    if (j->tok[0].type != '{') {
        return "not a JSON object";
    }

    /* the first of duplicate keys wins, as with cJSON */

    ngx_http_moa_json_find_keys(j, 0, keys, 4, at);

    relabel_record_span(j, at[0], p, &rec->messages);
    relabel_record_span(j, at[1], p, &rec->tools);
    relabel_record_span(j, at[2], p, &rec->tool_choice);
    relabel_record_span(j, at[3], p, &rec->parallel_tool_calls);

    msgs = at[0];

    if (msgs < 0) {
        return "no messages";
    }

    if (j->tok[msgs].type != '[') {
        return "messages is not an array";
    }

    prev = -1;
    last = -1;

    for (i = ngx_http_moa_json_first(j, msgs);
         i >= 0;
         i = ngx_http_moa_json_after(j, msgs, i))
    {
        prev = last;
        last = i;
        rec->nmessages++;
    }

    if (last < 0) {
        return "no messages";
    }

    /* the answer replaces the last message: the one before it ends */

    relabel_record_span(j, last, p, &rec->last);
    relabel_record_span(j, prev, p, &sp);
    rec->keep_end = sp.end;

    if (j->tok[last].type != '{') {
        return "the last message is not an object";
    }

    /* the role of the last message, and its "weight" */

    ngx_http_moa_json_find_keys(j, last, mkeys, 2, at);

    if (at[0] < 0) {
        return "the last message has no role";
    }

    if (!relabel_record_str_is(j, at[0], "assistant")) {
        rec->replace = 0;
        rec->keep_end = rec->last.end;
        return NULL;
    }

    if (rec->nmessages == 1) {
        return "no messages before the final assistant message";
    }

    rec->replace = 1;
    relabel_record_span(j, at[1], p, &rec->weight);

    return NULL;
}


/* token i's byte range in p; absent (end 0) when i < 0 */

static void
relabel_record_span(const ngx_http_moa_json_t *j, int i, const char *p,
    relabel_span_t *sp)
{
    if (i < 0) {
        sp->start = 0;
        sp->end = 0;
        return;
    }

    sp->start = j->tok[i].p - p;
    sp->end = sp->start + j->tok[i].len;
}


/* is token i a string that decodes to s? */

static int
relabel_record_str_is(const ngx_http_moa_json_t *j, int i, const char *s)
{
    int                  is;
    size_t               n;
    ngx_http_moa_buf_t   b;

    if (j->tok[i].type != '"') {
        return 0;
    }

    n = strlen(s);

    if (!j->tok[i].escaped) {
        return j->tok[i].len == n + 2
               && memcmp(j->tok[i].p + 1, s, n) == 0;
    }

    memset(&b, 0, sizeof(ngx_http_moa_buf_t));

    is = ngx_http_moa_json_text_unescape(&b, j->tok[i].p, j->tok[i].len) == 0
         && b.len == n && memcmp(b.data, s, n) == 0;

    ngx_http_moa_buf_free(&b);

    return is;
}


int
relabel_record_request_build(ngx_http_moa_buf_t *b, const char *p,
    const relabel_record_t *rec, const char *model,
    const relabel_param_t *params, size_t nparams)
{
    size_t  k, end;

    /*
     * Replacing: the array up to the message before the answer, closed
     * again; appending: the whole array.  Both byte for byte.
     */

    end = rec->replace ? rec->keep_end : rec->messages.end;

    b->len = 0;

    ngx_http_moa_buf_lit(b, "{\"model\":");
    relabel_record_json_str(b, model, strlen(model));
    ngx_http_moa_buf_lit(b, ",\"messages\":");
    ngx_http_moa_buf_add(b, p + rec->messages.start,
                         end - rec->messages.start);

    if (rec->replace) {
        ngx_http_moa_buf_lit(b, "]");
    }

    relabel_record_request_member(b, p, "tools", &rec->tools);
    relabel_record_request_member(b, p, "tool_choice", &rec->tool_choice);
    relabel_record_request_member(b, p, "parallel_tool_calls",
                                  &rec->parallel_tool_calls);

    for (k = 0; k < nparams; k++) {

        /* the record's own value wins over a command line default */

        if ((rec->tools.end && strcmp(params[k].key, "tools") == 0)
            || (rec->tool_choice.end
                && strcmp(params[k].key, "tool_choice") == 0)
            || (rec->parallel_tool_calls.end
                && strcmp(params[k].key, "parallel_tool_calls") == 0))
        {
            continue;
        }

        ngx_http_moa_buf_lit(b, ",");
        relabel_record_json_str(b, params[k].key, strlen(params[k].key));
        ngx_http_moa_buf_lit(b, ":");
        ngx_http_moa_buf_cstr(b, params[k].value);
    }

    ngx_http_moa_buf_lit(b, "}");

    return ngx_http_moa_buf_cstring(b) ? 0 : -1;
}


/* ,"name":value when the record has that member */

static void
relabel_record_request_member(ngx_http_moa_buf_t *b, const char *p,
    const char *name, const relabel_span_t *sp)
{
    if (sp->end == 0) {
        return;
    }

    ngx_http_moa_buf_lit(b, ",\"");
    ngx_http_moa_buf_cstr(b, name);
    ngx_http_moa_buf_lit(b, "\":");
    ngx_http_moa_buf_add(b, p + sp->start, sp->end - sp->start);
}


/*
 * Parses a chat.completion reply into the new assistant message:
 * {"role":"assistant","content":...} plus "tool_calls" when there are some.
 */

int
relabel_record_answer_parse(const char *body, size_t len, relabel_answer_t *a,
    char *err, size_t errlen)
{
    int     have_calls, have_text;
    char   *text;
    cJSON  *root, *choices, *c0, *msg, *content, *calls, *usage, *v, *out;
    cJSON  *refusal, *fr;

    memset(a, 0, sizeof(relabel_answer_t));

    root = cJSON_ParseWithLength(body, len);
    if (root == NULL || !cJSON_IsObject(root)) {
        snprintf(err, errlen, "the reply is not a JSON object");
        cJSON_Delete(root);
        return -1;
    }

    choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    c0 = cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) : NULL;
    msg = c0 ? cJSON_GetObjectItemCaseSensitive(c0, "message") : NULL;

    if (!cJSON_IsObject(msg)) {
        snprintf(err, errlen, "the reply has no choices[0].message");
        cJSON_Delete(root);
        return -1;
    }

    fr = cJSON_GetObjectItemCaseSensitive(c0, "finish_reason");
    if (cJSON_IsString(fr)) {
        snprintf(a->finish_reason, sizeof(a->finish_reason), "%s",
                 fr->valuestring);
    }

    content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    calls = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");

    have_calls = cJSON_IsArray(calls) && cJSON_GetArraySize(calls) > 0;
    have_text = cJSON_IsString(content) && content->valuestring[0] != '\0';

    if (!have_calls && !have_text) {
        refusal = cJSON_GetObjectItemCaseSensitive(msg, "refusal");
        snprintf(err, errlen, "the reply has no answer (finish_reason %s%s%s)",
                 a->finish_reason[0] ? a->finish_reason : "none",
                 cJSON_IsString(refusal) ? ", refusal: " : "",
                 cJSON_IsString(refusal) ? refusal->valuestring : "");
        cJSON_Delete(root);
        return -1;
    }

    usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
    if (cJSON_IsObject(usage)) {
        v = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens");
        if (cJSON_IsNumber(v) && v->valuedouble > 0) {
            a->prompt_tokens = (long long) v->valuedouble;
        }
        v = cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens");
        if (cJSON_IsNumber(v) && v->valuedouble > 0) {
            a->completion_tokens = (long long) v->valuedouble;
        }
    }

    out = cJSON_CreateObject();
    if (out == NULL
        || cJSON_AddStringToObject(out, "role", "assistant") == NULL
        || (have_text
            ? cJSON_AddStringToObject(out, "content", content->valuestring)
            : cJSON_AddNullToObject(out, "content")) == NULL)
    {
        goto nomem;
    }

    if (have_calls) {
        v = cJSON_Duplicate(calls, 1);
        if (v == NULL) {
            goto nomem;
        }
        cJSON_AddItemToObject(out, "tool_calls", v);
    }

    text = cJSON_PrintUnformatted(out);
    if (text == NULL) {
        goto nomem;
    }

    cJSON_Delete(out);
    cJSON_Delete(root);

    a->message = text;
    a->message_len = strlen(text);

    return 0;

nomem:

    cJSON_Delete(out);
    cJSON_Delete(root);
    snprintf(err, errlen, "out of memory");

    return -1;
}


void
relabel_record_answer_free(relabel_answer_t *a)
{
    cJSON_free(a->message);
    a->message = NULL;
}


/* the output line: the record with the answer spliced in, and '\n' */

int
relabel_record_output_build(ngx_http_moa_buf_t *b, const char *p, size_t n,
    const relabel_record_t *rec, const char *msg, size_t mlen)
{
    b->len = 0;

    if (rec->replace) {
        ngx_http_moa_buf_add(b, p, rec->last.start);

    } else {
        ngx_http_moa_buf_add(b, p, rec->last.end);
        ngx_http_moa_buf_lit(b, ",");
    }

    if (rec->replace && rec->weight.end && mlen > 0) {
        /* keep the fine-tuning "weight" of the message being replaced */
        ngx_http_moa_buf_add(b, msg, mlen - 1);
        ngx_http_moa_buf_lit(b, ",\"weight\":");
        ngx_http_moa_buf_add(b, p + rec->weight.start,
                             rec->weight.end - rec->weight.start);
        ngx_http_moa_buf_lit(b, "}");

    } else {
        ngx_http_moa_buf_add(b, msg, mlen);
    }

    ngx_http_moa_buf_add(b, p + rec->last.end, n - rec->last.end);
    ngx_http_moa_buf_lit(b, "\n");

    return ngx_http_moa_buf_cstring(b) ? 0 : -1;
}


/*
 * Is out (one OUT line, without '\n') the output of input record p?  It
 * must be p with only the answer differing, an object with nothing around
 * it.  0 if so.
 */

int
relabel_record_output_check(const char *p, size_t n,
    const relabel_record_t *rec, const char *out, size_t outlen)
{
    size_t  pre, suf, i, end;

    pre = rec->replace ? rec->last.start : rec->last.end;
    suf = n - rec->last.end;

    if (outlen < pre + suf + 2
        || memcmp(out, p, pre) != 0
        || memcmp(out + outlen - suf, p + rec->last.end, suf) != 0)
    {
        return -1;
    }

    i = pre;
    end = outlen - suf;

    if (!rec->replace) {
        if (out[i] != ',') {
            return -1;
        }
        i++;
    }

    if (i >= end || out[i] != '{' || out[end - 1] != '}'
        || ngx_http_moa_json_valid(out + i, end - i) != 0)
    {
        return -1;
    }

    return 0;
}


/*
 * {"line":N,"error":"...","status":S,"attempts":A,"record":"..."}
 * The record comes last so a resumed run can check it byte for byte; lines
 * that are not valid UTF-8 also get their exact bytes in "record_base64".
 */

int
relabel_record_reject_build(ngx_http_moa_buf_t *b, unsigned long line,
    const char *error, long status, unsigned attempts, const char *p,
    size_t n)
{
    b->len = 0;

    ngx_http_moa_buf_printf(b, "{\"line\":%lu,\"error\":", line);
    relabel_record_json_str(b, error, strlen(error));

    if (status > 0) {
        ngx_http_moa_buf_printf(b, ",\"status\":%ld", status);
    }

    ngx_http_moa_buf_printf(b, ",\"attempts\":%u", attempts);
    relabel_record_reject_tail(b, p, n);
    ngx_http_moa_buf_lit(b, "\n");

    return ngx_http_moa_buf_cstring(b) ? 0 : -1;
}


/* the end of a rejects line, from the record on */

static void
relabel_record_reject_tail(ngx_http_moa_buf_t *b, const char *p, size_t n)
{
    if (!ngx_http_moa_utf8_valid(p, n)) {
        ngx_http_moa_buf_lit(b, ",\"record_base64\":");
        relabel_record_base64(b, p, n);
    }

    ngx_http_moa_buf_lit(b, ",\"record\":");
    relabel_record_json_str(b, p, n);
    ngx_http_moa_buf_lit(b, "}");
}


/*
 * Reads a rejects line (without '\n'): its line number, and whether its
 * record is input line p.  0 ok, -1 not a rejects line, -2 other record.
 */

int
relabel_record_reject_check(const char *line, size_t len, const char *p,
    size_t n, unsigned long *lineno)
{
    int                  rc;
    cJSON               *root, *v;
    ngx_http_moa_buf_t   b;

    root = cJSON_ParseWithLength(line, len);
    if (root == NULL) {
        return -1;
    }

    v = cJSON_GetObjectItemCaseSensitive(root, "line");
    if (!cJSON_IsNumber(v) || v->valuedouble < 1
        || v->valuedouble != floor(v->valuedouble))
    {
        cJSON_Delete(root);
        return -1;
    }

    *lineno = (unsigned long) v->valuedouble;
    cJSON_Delete(root);

    if (p == NULL) {
        return 0;
    }

    memset(&b, 0, sizeof(ngx_http_moa_buf_t));

    relabel_record_reject_tail(&b, p, n);

    if (b.nomem) {
        ngx_http_moa_buf_free(&b);
        return -1;
    }

    rc = (len >= b.len && memcmp(line + len - b.len, b.data, b.len) == 0)
         ? 0 : -2;

    ngx_http_moa_buf_free(&b);

    return rc;
}


/*
 * KEY=VALUE; VALUE is taken as JSON when it is valid JSON (the module's
 * rules) with at most spaces and tabs around it, else as a string.
 */

int
relabel_record_param_parse(const char *arg, relabel_param_t *param)
{
    size_t               klen, i, e;
    const char          *eq, *v;
    ngx_http_moa_buf_t   b;

    eq = strchr(arg, '=');
    if (eq == NULL || eq == arg) {
        return -1;
    }

    klen = eq - arg;
    v = eq + 1;

    param->key = strndup(arg, klen);
    if (param->key == NULL) {
        return -1;
    }

    for (i = 0; v[i] == ' ' || v[i] == '\t'; i++) { /* void */ }

    for (e = strlen(v); e > i && (v[e - 1] == ' ' || v[e - 1] == '\t'); e--) {
        /* void */
    }

    /* lib also skips '\n' and '\r' around a value: these make a string */

    if (e > i && v[i] != '\n' && v[i] != '\r'
        && v[e - 1] != '\n' && v[e - 1] != '\r'
        && ngx_http_moa_json_valid(v + i, e - i) == 0)
    {
        param->value = strdup(v);

    } else {
        memset(&b, 0, sizeof(ngx_http_moa_buf_t));
        relabel_record_json_str(&b, v, strlen(v));
        param->value = ngx_http_moa_buf_cstring(&b);

        if (param->value == NULL) {
            ngx_http_moa_buf_free(&b);
        }
    }

    if (param->value == NULL) {
        free(param->key);
        return -1;
    }

    return 0;
}
