
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel: the requests, on libcurl's multi interface.  Due rows are
 * started oldest first within --concurrency; a reply's body and the
 * headers that matter are kept, and a finished transfer becomes an answer
 * or a failure of its row.
 */


#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "relabel_run.h"


static int relabel_multi_start(relabel_run_t *run, relabel_slot_t *s);
static size_t relabel_multi_write_cb(char *p, size_t size, size_t n,
    void *data);
static size_t relabel_multi_header_cb(char *p, size_t size, size_t n,
    void *data);
static void relabel_multi_done(relabel_run_t *run, CURL *e, CURLcode res);


/* starts queued rows and retries that are due, oldest first */

void
relabel_multi_dispatch(relabel_run_t *run)
{
    uint64_t         now;
    unsigned long    seq;
    relabel_slot_t  *s;

    if (run->count[RELABEL_SLOT_QUEUED] == 0
        && run->count[RELABEL_SLOT_WAITING] == 0)
    {
        return;
    }

    now = relabel_run_now_ms();

    if (now < run->pause_until) {
        return;
    }

    for (seq = run->head;
         seq < run->tail
         && run->count[RELABEL_SLOT_RUNNING] < run->conf->concurrency;
         seq++)
    {
        s = &run->slots[seq % run->nslots];

        if (s->state == RELABEL_SLOT_QUEUED
            || (s->state == RELABEL_SLOT_WAITING && s->due <= now))
        {
            if (relabel_multi_start(run, s) != 0) {
                relabel_run_log(run, "cannot start a request: out of memory");
                run->fatal = 1;
                return;
            }
        }
    }
}


static int
relabel_multi_start(relabel_run_t *run, relabel_slot_t *s)
{
    CURL            *e;
    relabel_conf_t  *conf;

    conf = run->conf;

    if (s->req.len == 0
        && relabel_record_request_build(&s->req, s->text, &s->rec, conf->model,
                                        conf->params, conf->nparams) != 0)
    {
        return -1;
    }

    e = curl_easy_init();
    if (e == NULL) {
        return -1;
    }

    s->resp.len = 0;
    s->too_large = 0;
    s->retry_after[0] = '\0';
    s->retry_after_ms[0] = '\0';
    s->should_retry[0] = '\0';
    s->request_id[0] = '\0';
    s->errbuf[0] = '\0';

    curl_easy_setopt(e, CURLOPT_URL, conf->endpoint);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, s->req.data);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) s->req.len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, conf->headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "moa-relabel/" RELABEL_VERSION);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, relabel_multi_write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, relabel_multi_header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(e, CURLOPT_PRIVATE, s);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) conf->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long) conf->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);

    if (conf->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }

    if (curl_multi_add_handle(run->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        return -1;
    }

    s->easy = e;
    s->attempts++;
    run->requests++;
    relabel_run_set_state(run, s, RELABEL_SLOT_RUNNING);

    return 0;
}


static size_t
relabel_multi_write_cb(char *p, size_t size, size_t n, void *data)
{
    relabel_slot_t  *s = data;

    n *= size;

    if (s->resp.len + n > RELABEL_MAX_RESPONSE) {
        s->too_large = 1;
        return 0;
    }

    ngx_http_moa_buf_add(&s->resp, p, n);

    if (s->resp.nomem) {
        return 0;
    }

    return n;
}


static void
relabel_multi_header_copy(char *dst, size_t size, const char *v, size_t n)
{
    if (n >= size) {
        n = size - 1;
    }

    memcpy(dst, v, n);
    dst[n] = '\0';
}


static size_t
relabel_multi_header_cb(char *p, size_t size, size_t n, void *data)
{
    char            *colon, *v;
    size_t           len, name, vlen;
    relabel_slot_t  *s = data;

    len = size * n;

    if (len >= 5 && strncasecmp(p, "HTTP/", 5) == 0) {
        /* a new response (after a 100 Continue, say): forget the last */
        s->retry_after[0] = '\0';
        s->retry_after_ms[0] = '\0';
        s->should_retry[0] = '\0';
        s->request_id[0] = '\0';
        return len;
    }

    colon = memchr(p, ':', len);
    if (colon == NULL) {
        return len;
    }

    name = colon - p;
    v = colon + 1;
    vlen = len - name - 1;

    while (vlen && (*v == ' ' || *v == '\t')) {
        v++;
        vlen--;
    }

    while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n'
                    || v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
    {
        vlen--;
    }

    if (name == 11 && strncasecmp(p, "retry-after", 11) == 0) {
        relabel_multi_header_copy(s->retry_after, sizeof(s->retry_after), v,
                                  vlen);

    } else if (name == 14 && strncasecmp(p, "retry-after-ms", 14) == 0) {
        relabel_multi_header_copy(s->retry_after_ms,
                                  sizeof(s->retry_after_ms), v, vlen);

    } else if (name == 14 && strncasecmp(p, "x-should-retry", 14) == 0) {
        relabel_multi_header_copy(s->should_retry, sizeof(s->should_retry), v,
                                  vlen);

    } else if (name == 12 && strncasecmp(p, "x-request-id", 12) == 0) {
        relabel_multi_header_copy(s->request_id, sizeof(s->request_id), v,
                                  vlen);
    }

    return len;
}


void
relabel_multi_harvest(relabel_run_t *run)
{
    int       left;
    CURLMsg  *msg;

    while ((msg = curl_multi_info_read(run->multi, &left)) != NULL) {
        if (msg->msg == CURLMSG_DONE) {
            relabel_multi_done(run, msg->easy_handle, msg->data.result);
        }
    }
}


static void
relabel_multi_done(relabel_run_t *run, CURL *e, CURLcode res)
{
    int                retryable, endpoint;
    long               status;
    char               err[RELABEL_ERRLEN], text[300], *priv;
    relabel_slot_t    *s;
    relabel_answer_t   a;

    priv = NULL;
    status = 0;

    curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
    s = (relabel_slot_t *) priv;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(run->multi, e);
    curl_easy_cleanup(e);

    s->easy = NULL;

    if (res != CURLE_OK) {
        if (s->too_large) {
            relabel_rows_fail(run, s, "the reply is larger than 64 MiB", status,
                              0, 0);
            return;
        }

        snprintf(err, sizeof(err), "%s%s%s", curl_easy_strerror(res),
                 s->errbuf[0] ? ": " : "", s->errbuf);

        /* timeouts, refused or dropped connections: all worth a retry */
        relabel_rows_fail(run, s, err, 0, 1, 1);
        return;
    }

    if (status >= 200 && status <= 299) {
        if (relabel_record_answer_parse(s->resp.data ? s->resp.data : "",
                                        s->resp.len, &a, text, sizeof(text))
            != 0)
        {
            snprintf(err, sizeof(err), "HTTP %ld: %s", status, text);
            relabel_rows_fail(run, s, err, status, 1, 1);
            return;
        }

        run->successes++;
        run->consec = 0;
        run->prompt_tokens += a.prompt_tokens;
        run->completion_tokens += a.completion_tokens;

        if (strcmp(a.finish_reason, "length") == 0) {
            run->truncated++;
        }

        if (relabel_record_output_build(&s->out, s->text, s->len, &s->rec,
                                        a.message, a.message_len) != 0)
        {
            relabel_record_answer_free(&a);
            relabel_run_log(run, "out of memory");
            run->fatal = 1;
            return;
        }

        relabel_record_answer_free(&a);

        free(s->text);
        s->text = NULL;
        ngx_http_moa_buf_free(&s->req);
        ngx_http_moa_buf_free(&s->resp);

        s->kind = RELABEL_KIND_OUT;
        relabel_run_set_state(run, s, RELABEL_SLOT_DONE);

        return;
    }

    relabel_http_error_text(s->resp.data ? s->resp.data : "", s->resp.len, text,
                            sizeof(text));

    snprintf(err, sizeof(err), "HTTP %ld%s%s%s%s%s", status,
             text[0] ? ": " : "", text,
             s->request_id[0] ? " (request id " : "", s->request_id,
             s->request_id[0] ? ")" : "");

    retryable = relabel_http_retryable(status);

    /* auth, wrong URL or model, redirects: the endpoint's fault */
    endpoint = retryable || status < 400 || status == 401 || status == 403
               || status == 404 || status == 405 || status == 407;

    if (strcasecmp(s->should_retry, "true") == 0) {
        retryable = 1;

    } else if (strcasecmp(s->should_retry, "false") == 0) {
        retryable = 0;
    }

    relabel_rows_fail(run, s, err, status, retryable, endpoint);
}
