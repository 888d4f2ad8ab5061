
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the OpenAI error object, from a provider's reply or made by
 * the module, written as a JSON body or as a stream's error event.
 */


#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ngx_http_moa_json.h"
#include "ngx_http_moa_utf8.h"
#include "ngx_http_moa_error.h"
#include "ngx_http_moa_buf_json.h"


/*
 * A text cut to its buffer (or a "%.64s" inside it) can end in half a
 * UTF-8 character, which strict JSON parsers reject: the pieces go.
 */
static void
ngx_http_moa_error_utf8(char *s)
{
    s[ngx_http_moa_utf8_clean(s, strlen(s))] = '\0';
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

    ngx_http_moa_error_utf8(err->message);
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
    ngx_http_moa_error_utf8(buf);

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
    ngx_http_moa_error_utf8(err->message);

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
