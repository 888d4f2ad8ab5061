
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel: what an HTTP reply says beyond its body's answer: a short
 * text for an error reply, the delay a Retry-After asks for, and which
 * statuses are worth a retry.
 */


#define _GNU_SOURCE

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "ngx_http_moa_utf8.h"
#include "relabel.h"



/* a short, single-line description of an error reply */

void
relabel_http_error_text(const char *body, size_t len, char *out, size_t outlen)
{
    char         c;
    size_t       i, k;
    cJSON       *root, *e, *m;
    const char  *t, *te;

    if (outlen == 0) {
        return;
    }

    out[0] = '\0';

    root = cJSON_ParseWithLength(body, len);
    if (root) {
        e = cJSON_GetObjectItemCaseSensitive(root, "error");
        m = cJSON_IsObject(e)
            ? cJSON_GetObjectItemCaseSensitive(e, "message")
            : cJSON_IsString(e) ? e
            : cJSON_GetObjectItemCaseSensitive(root, "message");

        if (cJSON_IsString(m)) {
            snprintf(out, outlen, "%s", m->valuestring);
        }

        cJSON_Delete(root);
    }

    if (out[0] == '\0') {
        /* an HTML error page (nginx's own, a proxy's): its title */
        t = memmem(body, len, "<title>", 7);
        te = t ? memmem(t, len - (t - body), "</title>", 8) : NULL;

        if (te) {
            body = t + 7;
            len = te - body;
        }

        k = len < outlen - 1 ? len : outlen - 1;
        memcpy(out, body, k);
        out[k] = '\0';
    }

    /* one line, single spaces */

    for (i = 0, k = 0; out[i]; i++) {
        c = (unsigned char) out[i] < 0x20 ? ' ' : out[i];

        if (c == ' ' && (k == 0 || out[k - 1] == ' ')) {
            continue;
        }

        out[k++] = c;
    }

    while (k > 0 && out[k - 1] == ' ') {
        k--;
    }

    out[k] = '\0';
    i = k;

    /* a UTF-8 sequence cut in the middle */

    k = i;
    while (k > 0 && ((unsigned char) out[k - 1] & 0xc0) == 0x80) {
        k--;
    }

    if (k > 0 && (unsigned char) out[k - 1] >= 0xc0
        && ngx_http_moa_utf8_seq(out + k - 1, i - k + 1) == 0)
    {
        out[k - 1] = '\0';
    }
}


/*
 * The delay a reply asks for, in ms: retry-after-ms first (what the OpenAI
 * SDKs read), then Retry-After as delta-seconds or an HTTP date; -1 if
 * neither is there or usable.
 */

long long
relabel_http_retry_after_ms(const char *retry_after_ms, const char *retry_after,
    time_t now)
{
    char    *end;
    double   d;
    time_t   t;

    if (retry_after_ms && *retry_after_ms) {
        errno = 0;
        d = strtod(retry_after_ms, &end);

        while (*end == ' ' || *end == '\t') {
            end++;
        }

        if (errno == 0 && end != retry_after_ms && *end == '\0'
            && isfinite(d) && d >= 0 && d < 1e12)
        {
            return (long long) ceil(d);
        }
    }

    if (retry_after == NULL) {
        return -1;
    }

    while (*retry_after == ' ' || *retry_after == '\t') {
        retry_after++;
    }

    if (*retry_after >= '0' && *retry_after <= '9') {
        errno = 0;
        d = strtod(retry_after, &end);

        while (*end == ' ' || *end == '\t') {
            end++;
        }

        if (errno == 0 && *end == '\0' && isfinite(d) && d < 1e9) {
            return (long long) ceil(d * 1000);
        }

        return -1;
    }

    if (*retry_after == '\0') {
        return -1;
    }

    t = curl_getdate(retry_after, NULL);
    if (t == (time_t) -1) {
        return -1;
    }

    return t > now ? (long long) (t - now) * 1000 : 0;
}


int
relabel_http_retryable(long status)
{
    return status == 408 || status == 409 || status == 429
           || (status >= 500 && status <= 599);
}
