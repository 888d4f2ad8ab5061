
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-eval: the calls, on libcurl's multi interface.  A prompt has four:
 * the model's answer, the baseline's, and the two judged games, which
 * wait for both answers.  Calls start in prompt order within
 * --concurrency; a failed attempt is retried after a backoff or after
 * what Retry-After asks (a 429 pauses every new request that long), with
 * the reply checks, error texts and Retry-After parsing of moa-relabel
 * (relabel_http.c, relabel_record.c).  A judge reply without a verdict
 * label is asked once more, then recorded as unparseable.
 */


#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "eval_run.h"


#define EVAL_BACKOFF_MS      1000
#define EVAL_BACKOFF_MAX_MS  30000


static const char  *eval_calls_names[EVAL_NCALLS] = {
    "model", "baseline", "game0", "game1"
};


static void eval_calls_params(ngx_http_moa_buf_t *b,
    const relabel_param_t *params, size_t n);
static int eval_calls_has_param(const relabel_param_t *params, size_t n,
    const char *key);
static int eval_calls_build(eval_run_t *run, eval_call_t *c);
static int eval_calls_start(eval_run_t *run, eval_call_t *c);
static size_t eval_calls_write_cb(char *p, size_t size, size_t n, void *data);
static size_t eval_calls_header_cb(char *p, size_t size, size_t n,
    void *data);
static void eval_calls_done(eval_run_t *run, CURL *e, CURLcode res);
static void eval_calls_reply(eval_run_t *run, eval_call_t *c, long status);
static void eval_calls_answer(eval_run_t *run, eval_call_t *c,
    const char *text, const char *rid, const char *finish,
    const relabel_answer_t *a);
static void eval_calls_verdict(eval_run_t *run, eval_call_t *c,
    const char *text, const relabel_answer_t *a);
static void eval_calls_fail(eval_run_t *run, eval_call_t *c, const char *err,
    long status, int retryable, long long wait_ms);
static void eval_calls_finish(eval_run_t *run, eval_call_t *c,
    eval_state_e state);


/* the calls of this run: what the results file does not have yet */

int
eval_calls_plan(eval_run_t *run)
{
    int             k;
    size_t          i;
    eval_call_t    *c;
    eval_prompt_t  *pr;

    run->ncalls = run->nprompts * EVAL_NCALLS;
    run->calls = calloc(run->ncalls ? run->ncalls : 1, sizeof(eval_call_t));

    if (run->calls == NULL) {
        eval_run_log(run, "out of memory");
        return -1;
    }

    for (i = 0; i < run->nprompts; i++) {
        pr = &run->prompts[i];

        for (k = 0; k < EVAL_NCALLS; k++) {
            c = &run->calls[i * EVAL_NCALLS + k];
            c->prompt = i;
            c->kind = (eval_call_e) k;

            if (pr->failed
                || (k < 2 ? pr->answer[k].have : pr->game[k - 2].have))
            {
                c->state = pr->failed ? EVAL_ST_FAILED : EVAL_ST_DONE;
                continue;
            }

            c->state = (k < 2 || (pr->answer[0].have && pr->answer[1].have))
                       ? EVAL_ST_READY : EVAL_ST_BLOCKED;
            run->pending++;
            run->total++;
        }
    }

    return 0;
}


/* ,"key":value for each extra field */

static void
eval_calls_params(ngx_http_moa_buf_t *b, const relabel_param_t *params,
    size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        ngx_http_moa_buf_lit(b, ",");
        relabel_record_json_str(b, params[i].key, strlen(params[i].key));
        ngx_http_moa_buf_lit(b, ":");
        ngx_http_moa_buf_cstr(b, params[i].value);
    }
}


static int
eval_calls_has_param(const relabel_param_t *params, size_t n,
    const char *key)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (strcmp(params[i].key, key) == 0) {
            return 1;
        }
    }

    return 0;
}


/* the request body of a call */

static int
eval_calls_build(eval_run_t *run, eval_call_t *c)
{
    int                  game;
    eval_conf_t         *conf;
    eval_prompt_t       *pr;
    ngx_http_moa_buf_t  *b, jp;
    const char          *model, *a, *bb;

    conf = run->conf;
    pr = &run->prompts[c->prompt];
    b = &c->req;
    b->len = 0;

    if (c->kind == EVAL_CALL_MODEL || c->kind == EVAL_CALL_BASELINE) {
        model = c->kind == EVAL_CALL_MODEL ? conf->model : conf->baseline;

        ngx_http_moa_buf_lit(b, "{\"model\":");
        relabel_record_json_str(b, model, strlen(model));
        ngx_http_moa_buf_lit(b, ",\"messages\":");
        ngx_http_moa_buf_cstr(b, pr->messages);

        eval_calls_params(b, conf->params, conf->nparams);
        ngx_http_moa_buf_lit(b, "}");

        return ngx_http_moa_buf_cstring(b) ? 0 : -1;
    }

    /* game 0 shows the baseline as A, game 1 the model */
    game = c->kind - EVAL_CALL_GAME0;
    a = pr->answer[game == 0 ? EVAL_BASELINE : EVAL_MODEL].content;
    bb = pr->answer[game == 0 ? EVAL_MODEL : EVAL_BASELINE].content;

    memset(&jp, 0, sizeof(ngx_http_moa_buf_t));

    if (eval_judge_prompt(&jp, conf->template ? conf->template
                                              : eval_judge_default_template,
                          pr->question, a, bb) != 0)
    {
        ngx_http_moa_buf_free(&jp);
        return -1;
    }

    ngx_http_moa_buf_lit(b, "{\"model\":");
    relabel_record_json_str(b, conf->judge, strlen(conf->judge));
    ngx_http_moa_buf_lit(b, ",\"messages\":[{\"role\":\"user\",\"content\":");
    relabel_record_json_str(b, jp.data, jp.len);
    ngx_http_moa_buf_lit(b, "}]");

    /* a judge as deterministic as it goes, unless told otherwise */
    if (!eval_calls_has_param(conf->judge_params, conf->njudge_params,
                              "temperature"))
    {
        ngx_http_moa_buf_lit(b, ",\"temperature\":0");
    }

    if (conf->judge_max_tokens
        && !eval_calls_has_param(conf->judge_params, conf->njudge_params,
                                 "max_tokens"))
    {
        ngx_http_moa_buf_lit(b, ",\"max_tokens\":");
        ngx_http_moa_buf_int(b, conf->judge_max_tokens);
    }

    eval_calls_params(b, conf->judge_params, conf->njudge_params);
    ngx_http_moa_buf_lit(b, "}");
    ngx_http_moa_buf_free(&jp);

    return ngx_http_moa_buf_cstring(b) ? 0 : -1;
}


/* starts ready calls and retries that are due, in prompt order */

void
eval_calls_dispatch(eval_run_t *run)
{
    size_t        i;
    uint64_t      now;
    eval_call_t  *c;

    if (run->stopping) {
        return;
    }

    now = eval_run_now_ms();

    if (now < run->pause_until) {
        return;
    }

    while (run->cursor < run->ncalls
           && (run->calls[run->cursor].state == EVAL_ST_DONE
               || run->calls[run->cursor].state == EVAL_ST_FAILED))
    {
        run->cursor++;
    }

    for (i = run->cursor;
         i < run->ncalls && run->running < run->conf->concurrency;
         i++)
    {
        c = &run->calls[i];

        if (c->state == EVAL_ST_READY
            || (c->state == EVAL_ST_WAITING && c->due <= now))
        {
            if (eval_calls_start(run, c) != 0) {
                eval_run_log(run, "cannot start a request: out of memory");
                run->fatal = 1;
                return;
            }
        }
    }
}


static int
eval_calls_start(eval_run_t *run, eval_call_t *c)
{
    int           judge;
    CURL         *e;
    eval_conf_t  *conf;

    conf = run->conf;
    judge = c->kind >= EVAL_CALL_GAME0;

    if (c->req.len == 0 && eval_calls_build(run, c) != 0) {
        return -1;
    }

    e = curl_easy_init();
    if (e == NULL) {
        return -1;
    }

    c->resp.len = 0;
    c->too_large = 0;
    c->retry_after[0] = '\0';
    c->retry_after_ms[0] = '\0';
    c->errbuf[0] = '\0';

    curl_easy_setopt(e, CURLOPT_URL, judge ? conf->judge_url : conf->url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->req.data);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) c->req.len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER,
                     judge ? conf->judge_headers : conf->headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "moa-eval/" EVAL_VERSION);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, eval_calls_write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, eval_calls_header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(e, CURLOPT_PRIVATE, c);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
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

    c->easy = e;
    c->attempts++;
    c->started = eval_run_now_ms();
    c->state = EVAL_ST_RUNNING;
    run->running++;
    run->requests++;

    return 0;
}


static size_t
eval_calls_write_cb(char *p, size_t size, size_t n, void *data)
{
    eval_call_t  *c = data;

    n *= size;

    if (c->resp.len + n > EVAL_MAX_RESPONSE) {
        c->too_large = 1;
        return 0;
    }

    ngx_http_moa_buf_add(&c->resp, p, n);

    return c->resp.nomem ? 0 : n;
}


/* Retry-After and retry-after-ms of the last response */

static size_t
eval_calls_header_cb(char *p, size_t size, size_t n, void *data)
{
    char         *dst;
    size_t        len, name, vlen, cap;
    const char   *v;
    eval_call_t  *c = data;

    len = size * n;

    if (len >= 5 && strncasecmp(p, "HTTP/", 5) == 0) {
        c->retry_after[0] = '\0';
        c->retry_after_ms[0] = '\0';
        return len;
    }

    if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
        name = 12;
        dst = c->retry_after;
        cap = sizeof(c->retry_after);

    } else if (len > 15 && strncasecmp(p, "retry-after-ms:", 15) == 0) {
        name = 15;
        dst = c->retry_after_ms;
        cap = sizeof(c->retry_after_ms);

    } else {
        return len;
    }

    v = p + name;
    vlen = len - name;

    while (vlen && (*v == ' ' || *v == '\t')) {
        v++;
        vlen--;
    }

    while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n'
                    || v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
    {
        vlen--;
    }

    if (vlen >= cap) {
        vlen = cap - 1;
    }

    memcpy(dst, v, vlen);
    dst[vlen] = '\0';

    return len;
}


void
eval_calls_harvest(eval_run_t *run)
{
    int       left;
    CURLMsg  *msg;

    while ((msg = curl_multi_info_read(run->multi, &left)) != NULL) {
        if (msg->msg == CURLMSG_DONE) {
            eval_calls_done(run, msg->easy_handle, msg->data.result);
        }
    }
}


static void
eval_calls_done(eval_run_t *run, CURL *e, CURLcode res)
{
    long          status;
    char          err[EVAL_ERRLEN], text[300], *priv;
    long long     wait;
    eval_call_t  *c;

    priv = NULL;
    status = 0;

    curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
    c = (eval_call_t *) priv;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(run->multi, e);
    curl_easy_cleanup(e);

    c->easy = NULL;
    run->running--;

    if (res != CURLE_OK) {
        if (c->too_large) {
            eval_calls_fail(run, c, "the reply is larger than 64 MiB", status,
                            0, -1);
            return;
        }

        snprintf(err, sizeof(err), "%s%s%s", curl_easy_strerror(res),
                 c->errbuf[0] ? ": " : "", c->errbuf);
        eval_calls_fail(run, c, err, 0, 1, -1);
        return;
    }

    if (status >= 200 && status <= 299) {
        eval_calls_reply(run, c, status);
        return;
    }

    relabel_http_error_text(c->resp.data ? c->resp.data : "", c->resp.len,
                            text, sizeof(text));
    snprintf(err, sizeof(err), "HTTP %ld%s%s", status, text[0] ? ": " : "",
             text);

    wait = relabel_http_retry_after_ms(c->retry_after_ms, c->retry_after,
                                       time(NULL));

    if (wait > run->conf->retry_after_max_ms) {
        wait = run->conf->retry_after_max_ms;
    }

    if (status == 429) {
        /* the provider's limit is everyone's: no new request before it */
        if (eval_run_now_ms() + (wait > 0 ? wait : EVAL_BACKOFF_MS)
            > run->pause_until)
        {
            run->pause_until = eval_run_now_ms()
                               + (wait > 0 ? wait : EVAL_BACKOFF_MS);
        }
    }

    eval_calls_fail(run, c, err, status, relabel_http_retryable(status), wait);
}


/* a 2xx: an answer, a verdict, or a reply that is neither */

static void
eval_calls_reply(eval_run_t *run, eval_call_t *c, long status)
{
    char              err[EVAL_ERRLEN], text[300], rid[128], *content;
    cJSON            *root, *msg, *id, *ct;
    relabel_answer_t  a;

    if (relabel_record_answer_parse(c->resp.data ? c->resp.data : "",
                                    c->resp.len, &a, text, sizeof(text))
        != 0)
    {
        snprintf(err, sizeof(err), "HTTP %ld: %s", status, text);
        eval_calls_fail(run, c, err, status, 1, -1);
        return;
    }

    rid[0] = '\0';
    root = cJSON_ParseWithLength(c->resp.data, c->resp.len);
    id = cJSON_GetObjectItemCaseSensitive(root, "id");

    if (cJSON_IsString(id)) {
        snprintf(rid, sizeof(rid), "%s", id->valuestring);
    }

    cJSON_Delete(root);

    msg = cJSON_ParseWithLength(a.message, a.message_len);
    ct = cJSON_GetObjectItemCaseSensitive(msg, "content");
    content = cJSON_IsString(ct) ? ct->valuestring : NULL;

    if (content == NULL) {
        cJSON_Delete(msg);
        relabel_record_answer_free(&a);
        snprintf(err, sizeof(err), "HTTP %ld: the reply has tool calls, no "
                 "text to judge", status);
        eval_calls_fail(run, c, err, status, 0, -1);
        return;
    }

    if (c->kind == EVAL_CALL_MODEL || c->kind == EVAL_CALL_BASELINE) {
        eval_calls_answer(run, c, content, rid, a.finish_reason, &a);

    } else {
        eval_calls_verdict(run, c, content, &a);
    }

    cJSON_Delete(msg);
    relabel_record_answer_free(&a);
}


static void
eval_calls_answer(eval_run_t *run, eval_call_t *c, const char *text,
    const char *rid, const char *finish, const relabel_answer_t *a)
{
    int                  k, who;
    eval_prompt_t       *pr;
    eval_answer_t       *an;
    ngx_http_moa_buf_t   line;

    pr = &run->prompts[c->prompt];
    who = c->kind == EVAL_CALL_MODEL ? EVAL_MODEL : EVAL_BASELINE;
    an = &pr->answer[who];

    an->content = strdup(text);
    if (an->content == NULL) {
        eval_run_log(run, "out of memory");
        run->fatal = 1;
        return;
    }

    an->prompt_tokens = a->prompt_tokens;
    an->completion_tokens = a->completion_tokens;
    an->latency_ms = (long long) (eval_run_now_ms() - c->started);
    an->demo = strncmp(rid, "chatcmpl-demo-", 14) == 0;

    memset(&line, 0, sizeof(ngx_http_moa_buf_t));

    if (eval_results_answer_line(&line, pr->id, who,
                                 who == EVAL_MODEL ? run->conf->model
                                                   : run->conf->baseline,
                                 an, rid, finish, c->attempts) != 0
        || eval_results_append(run, &line) != 0)
    {
        ngx_http_moa_buf_free(&line);
        run->fatal = 1;
        return;
    }

    ngx_http_moa_buf_free(&line);
    an->have = 1;
    eval_calls_finish(run, c, EVAL_ST_DONE);

    if (pr->answer[0].have && pr->answer[1].have) {
        for (k = EVAL_CALL_GAME0; k <= EVAL_CALL_GAME1; k++) {
            if (run->calls[c->prompt * EVAL_NCALLS + k].state
                == EVAL_ST_BLOCKED)
            {
                run->calls[c->prompt * EVAL_NCALLS + k].state = EVAL_ST_READY;
            }
        }
    }
}


static void
eval_calls_verdict(eval_run_t *run, eval_call_t *c, const char *text,
    const relabel_answer_t *a)
{
    int                  game, verdict;
    eval_game_t         *g;
    eval_prompt_t       *pr;
    ngx_http_moa_buf_t   line;

    pr = &run->prompts[c->prompt];
    game = c->kind - EVAL_CALL_GAME0;
    g = &pr->game[game];

    g->prompt_tokens += a->prompt_tokens;
    g->completion_tokens += a->completion_tokens;
    c->parse_tries++;

    verdict = eval_judge_verdict_parse(text, strlen(text));

    if (verdict == EVAL_VERDICT_NONE && c->parse_tries < 2) {
        /* no label, or labels that disagree: ask once more */
        if (run->conf->verbose) {
            eval_run_log(run, "%s %s: the judge gave no verdict label; "
                          "asking again", pr->id, eval_calls_names[c->kind]);
        }

        run->unparsed_retries++;
        c->state = EVAL_ST_READY;
        return;
    }

    memset(&line, 0, sizeof(ngx_http_moa_buf_t));

    if (eval_results_verdict_line(&line, pr->id, game, verdict, text, g,
                                  c->attempts, c->parse_tries) != 0
        || eval_results_append(run, &line) != 0)
    {
        ngx_http_moa_buf_free(&line);
        run->fatal = 1;
        return;
    }

    ngx_http_moa_buf_free(&line);
    g->have = 1;
    g->outcome = eval_judge_outcome(verdict, game);
    eval_calls_finish(run, c, EVAL_ST_DONE);
}


/*
 * A failed attempt: retried after wait_ms (a Retry-After) or the
 * backoff, or, when it cannot be retried, recorded as a failure; the
 * prompt's games that wait for it fail with it.
 */

static void
eval_calls_fail(eval_run_t *run, eval_call_t *c, const char *err,
    long status, int retryable, long long wait_ms)
{
    int                  k;
    long long            backoff;
    eval_call_t         *o;
    eval_prompt_t       *pr;
    ngx_http_moa_buf_t   line;

    pr = &run->prompts[c->prompt];

    if (retryable && c->attempts <= (unsigned) run->conf->retries
        && !run->stopping)
    {
        backoff = EVAL_BACKOFF_MS << (c->attempts > 5 ? 5 : c->attempts - 1);

        if (backoff > EVAL_BACKOFF_MAX_MS) {
            backoff = EVAL_BACKOFF_MAX_MS;
        }

        if (wait_ms >= 0) {
            backoff = wait_ms;
        }

        if (run->conf->verbose) {
            eval_run_log(run, "%s %s: attempt %u: %s; retrying in %lld ms",
                          pr->id, eval_calls_names[c->kind], c->attempts, err,
                          backoff);
        }

        run->retries++;
        c->due = eval_run_now_ms() + (uint64_t) backoff;
        c->state = EVAL_ST_WAITING;
        return;
    }

    if (run->stopping && retryable) {
        /* interrupted: nothing recorded, the next run asks again */
        eval_calls_finish(run, c, EVAL_ST_FAILED);
        return;
    }

    eval_run_log(run, "%s:%lu (%s) %s: failed after %u attempt%s: %s",
                  run->conf->in_path, pr->line, pr->id,
                  eval_calls_names[c->kind], c->attempts,
                  c->attempts == 1 ? "" : "s", err);

    memset(&line, 0, sizeof(ngx_http_moa_buf_t));

    if (eval_results_failure_line(&line, pr->id, eval_calls_names[c->kind],
                                  status, err) != 0
        || eval_results_append(run, &line) != 0)
    {
        run->fatal = 1;
    }

    ngx_http_moa_buf_free(&line);

    run->failures++;
    pr->failed = 1;
    eval_calls_finish(run, c, EVAL_ST_FAILED);

    for (k = EVAL_CALL_GAME0; k <= EVAL_CALL_GAME1; k++) {
        o = &run->calls[c->prompt * EVAL_NCALLS + k];

        if (o->state == EVAL_ST_BLOCKED) {
            eval_calls_finish(run, o, EVAL_ST_FAILED);
        }
    }
}


static void
eval_calls_finish(eval_run_t *run, eval_call_t *c, eval_state_e state)
{
    c->state = state;
    run->pending--;
    run->finished++;
    ngx_http_moa_buf_free(&c->req);
    ngx_http_moa_buf_free(&c->resp);
}


/* on the way out: transfers in flight are dropped (nothing recorded) */

void
eval_calls_cancel_all(eval_run_t *run)
{
    size_t        i;
    eval_call_t  *c;

    for (i = 0; run->calls && i < run->ncalls; i++) {
        c = &run->calls[i];

        if (c->easy) {
            curl_multi_remove_handle(run->multi, c->easy);
            curl_easy_cleanup(c->easy);
            c->easy = NULL;
        }

        ngx_http_moa_buf_free(&c->req);
        ngx_http_moa_buf_free(&c->resp);
    }
}
