
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-eval: the results file, one JSON object a line, appended as answers
 * and verdicts arrive (each line one write(), so a kill leaves at most a
 * torn last line, which the next run cuts off):
 *
 *   {"type":"run","model":..,"baseline":..,"judge":..}     the first line
 *   {"type":"answer","id":..,"who":"model"|"baseline",..}  an answer
 *   {"type":"verdict","id":..,"game":0|1,"verdict":"A>B"|null,..}
 *   {"type":"failure","id":..,"call":..,"status":..,"error":..}
 *
 * A re-run with the same file reads it back and asks only what is missing.
 */


#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "eval_run.h"


static const char  *eval_results_who[2] = { "model", "baseline" };


static int eval_results_print(ngx_http_moa_buf_t *b, cJSON *o);
static int eval_results_load(eval_run_t *run, FILE *f);
static int eval_results_load_line(eval_run_t *run, cJSON *o,
    unsigned long lineno);


/* o as one line (with its '\n') into b; o is deleted */

static int
eval_results_print(ngx_http_moa_buf_t *b, cJSON *o)
{
    char  *s;

    s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);

    if (s == NULL) {
        return -1;
    }

    b->len = 0;
    ngx_http_moa_buf_cstr(b, s);
    ngx_http_moa_buf_lit(b, "\n");
    free(s);

    return ngx_http_moa_buf_cstring(b) ? 0 : -1;
}


int
eval_results_run_line(ngx_http_moa_buf_t *b, const char *model,
    const char *baseline, const char *judge)
{
    cJSON  *o;

    o = cJSON_CreateObject();

    if (o == NULL
        || !cJSON_AddStringToObject(o, "type", "run")
        || !cJSON_AddStringToObject(o, "model", model)
        || !cJSON_AddStringToObject(o, "baseline", baseline)
        || !cJSON_AddStringToObject(o, "judge", judge)
        || !cJSON_AddStringToObject(o, "version", EVAL_VERSION))
    {
        cJSON_Delete(o);
        return -1;
    }

    return eval_results_print(b, o);
}


int
eval_results_answer_line(ngx_http_moa_buf_t *b, const char *id, int who,
    const char *model, const eval_answer_t *a, const char *response_id,
    const char *finish_reason, unsigned attempts)
{
    cJSON  *o;

    o = cJSON_CreateObject();

    if (o == NULL
        || !cJSON_AddStringToObject(o, "type", "answer")
        || !cJSON_AddStringToObject(o, "id", id)
        || !cJSON_AddStringToObject(o, "who", eval_results_who[who])
        || !cJSON_AddStringToObject(o, "model", model)
        || !cJSON_AddStringToObject(o, "content", a->content)
        || !cJSON_AddNumberToObject(o, "prompt_tokens",
                                    (double) a->prompt_tokens)
        || !cJSON_AddNumberToObject(o, "completion_tokens",
                                    (double) a->completion_tokens)
        || !cJSON_AddNumberToObject(o, "latency_ms", (double) a->latency_ms)
        || !cJSON_AddStringToObject(o, "response_id", response_id)
        || !cJSON_AddStringToObject(o, "finish_reason", finish_reason)
        || !cJSON_AddNumberToObject(o, "attempts", attempts))
    {
        cJSON_Delete(o);
        return -1;
    }

    return eval_results_print(b, o);
}


int
eval_results_verdict_line(ngx_http_moa_buf_t *b, const char *id, int game,
    int verdict, const char *judge_text, const eval_game_t *g,
    unsigned attempts, unsigned parse_tries)
{
    cJSON       *o;
    const char  *name;

    name = eval_judge_verdict_name(verdict);
    o = cJSON_CreateObject();

    if (o == NULL
        || !cJSON_AddStringToObject(o, "type", "verdict")
        || !cJSON_AddStringToObject(o, "id", id)
        || !cJSON_AddNumberToObject(o, "game", game)
        || !cJSON_AddStringToObject(o, "a", game == 0 ? "baseline" : "model")
        || !cJSON_AddStringToObject(o, "b", game == 0 ? "model" : "baseline")
        || !(name ? cJSON_AddStringToObject(o, "verdict", name)
                  : cJSON_AddNullToObject(o, "verdict"))
        || !cJSON_AddNumberToObject(o, "judge_replies", parse_tries)
        || !cJSON_AddNumberToObject(o, "attempts", attempts)
        || !cJSON_AddNumberToObject(o, "prompt_tokens",
                                    (double) g->prompt_tokens)
        || !cJSON_AddNumberToObject(o, "completion_tokens",
                                    (double) g->completion_tokens)
        || !cJSON_AddStringToObject(o, "judgment", judge_text))
    {
        cJSON_Delete(o);
        return -1;
    }

    return eval_results_print(b, o);
}


int
eval_results_failure_line(ngx_http_moa_buf_t *b, const char *id,
    const char *call, long status, const char *error)
{
    cJSON  *o;

    o = cJSON_CreateObject();

    if (o == NULL
        || !cJSON_AddStringToObject(o, "type", "failure")
        || !cJSON_AddStringToObject(o, "id", id)
        || !cJSON_AddStringToObject(o, "call", call)
        || !cJSON_AddNumberToObject(o, "status", status)
        || !cJSON_AddStringToObject(o, "error", error))
    {
        cJSON_Delete(o);
        return -1;
    }

    return eval_results_print(b, o);
}


/*
 * Opens (creates) the results file, cuts a torn last line, reads back
 * what an earlier run recorded and, for a new file, writes the run line.
 */

int
eval_results_open(eval_run_t *run)
{
    int                  fd, rc;
    off_t                cut;
    FILE                *f;
    eval_conf_t         *conf;
    ngx_http_moa_buf_t   b;

    conf = run->conf;

    fd = open(conf->out_path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        eval_run_log(run, "%s: %s", conf->out_path, strerror(errno));
        return -1;
    }

    if (relabel_io_cut_torn(fd, &cut) != 0) {
        eval_run_log(run, "%s: %s", conf->out_path, strerror(errno));
        close(fd);
        return -1;
    }

    if (cut) {
        eval_run_log(run, "%s: cut a torn last line (%lld bytes) left by an "
                      "interrupted run", conf->out_path, (long long) cut);
    }

    f = fopen(conf->out_path, "r");
    if (f == NULL) {
        eval_run_log(run, "%s: %s", conf->out_path, strerror(errno));
        close(fd);
        return -1;
    }

    rc = eval_results_load(run, f);
    fclose(f);

    if (rc < 0) {
        close(fd);
        return -1;
    }

    run->out_fd = fd;

    if (rc == 0) {
        /* a new file */
        memset(&b, 0, sizeof(ngx_http_moa_buf_t));

        if (eval_results_run_line(&b, conf->model,
                                  conf->baseline ? conf->baseline
                                                 : conf->baseline_answers,
                                  conf->judge ? conf->judge : "") != 0
            || eval_results_append(run, &b) != 0)
        {
            ngx_http_moa_buf_free(&b);
            return -1;
        }

        ngx_http_moa_buf_free(&b);
    }

    return 0;
}


/* -1 error, 0 an empty file, 1 read back */

static int
eval_results_load(eval_run_t *run, FILE *f)
{
    int              rc, seen;
    cJSON           *o;
    unsigned long    lineno, answers;
    relabel_line_t   l;

    memset(&l, 0, sizeof(relabel_line_t));
    lineno = 0;
    seen = 0;
    answers = 0;

    while ((rc = relabel_io_read_line(f, &l, lineno + 1)) == 1) {
        lineno++;

        if (l.blank) {
            continue;
        }

        o = cJSON_ParseWithLength(l.data, l.len);

        if (!cJSON_IsObject(o)) {
            eval_run_log(run, "%s:%lu: not a results line (not JSON): is "
                          "this a results file of moa-eval?",
                          run->conf->out_path, lineno);
            cJSON_Delete(o);
            free(l.data);
            return -1;
        }

        if (seen == 0 && eval_results_load_line(run, o, lineno) != 0) {
            cJSON_Delete(o);
            free(l.data);
            return -1;
        }

        if (seen++) {
            answers += eval_results_load_line(run, o, lineno) == 0;
        }

        cJSON_Delete(o);
    }

    free(l.data);

    if (rc < 0) {
        eval_run_log(run, "%s: %s", run->conf->out_path, strerror(errno));
        return -1;
    }

    run->resumed = seen > 1;

    if (seen && !run->conf->quiet) {
        eval_run_log(run, "%s: resuming: %lu results read back",
                      run->conf->out_path, answers);
    }

    return seen ? 1 : 0;
}


/* one line read back: 0 used, 1 ignored, -1 the wrong file */

static int
eval_results_load_line(eval_run_t *run, cJSON *o, unsigned long lineno)
{
    int             who, game, v;
    size_t          i;
    cJSON          *t, *id, *x;
    const char     *base, *want[3], *key[3] = { "model", "baseline", "judge" };
    eval_conf_t    *conf;
    eval_prompt_t  *pr;
    eval_answer_t  *a;

    conf = run->conf;
    t = cJSON_GetObjectItemCaseSensitive(o, "type");

    if (!cJSON_IsString(t)) {
        return 1;
    }

    if (strcmp(t->valuestring, "run") == 0) {
        base = conf->baseline ? conf->baseline : conf->baseline_answers;
        want[0] = conf->model;
        want[1] = base;
        want[2] = conf->judge ? conf->judge : "";

        for (i = 0; i < 3; i++) {
            x = cJSON_GetObjectItemCaseSensitive(o, key[i]);

            if (!cJSON_IsString(x) || strcmp(x->valuestring, want[i]) != 0) {
                eval_run_log(run, "%s: the results of another evaluation "
                              "(%s %s, this run has %s): use another "
                              "--output, or remove the file to start over",
                              conf->out_path, key[i],
                              cJSON_IsString(x) ? x->valuestring : "missing",
                              want[i]);
                return -1;
            }
        }

        return 0;
    }

    if (lineno == 1) {
        eval_run_log(run, "%s: its first line is not a run line: is this a "
                      "results file of moa-eval?", conf->out_path);
        return -1;
    }

    id = cJSON_GetObjectItemCaseSensitive(o, "id");
    if (!cJSON_IsString(id)) {
        return 1;
    }

    i = eval_prompts_find(run, id->valuestring);
    if (i == (size_t) -1) {
        return 1;
    }

    pr = &run->prompts[i];

    if (strcmp(t->valuestring, "answer") == 0) {
        x = cJSON_GetObjectItemCaseSensitive(o, "who");
        who = cJSON_IsString(x) && strcmp(x->valuestring, "baseline") == 0;
        a = &pr->answer[who];
        x = cJSON_GetObjectItemCaseSensitive(o, "content");

        if (a->have || !cJSON_IsString(x)) {
            return 1;
        }

        a->content = strdup(x->valuestring);
        if (a->content == NULL) {
            return 1;
        }

        a->have = 1;
        x = cJSON_GetObjectItemCaseSensitive(o, "prompt_tokens");
        a->prompt_tokens = cJSON_IsNumber(x) ? (long long) x->valuedouble : 0;
        x = cJSON_GetObjectItemCaseSensitive(o, "completion_tokens");
        a->completion_tokens = cJSON_IsNumber(x)
                               ? (long long) x->valuedouble : 0;
        x = cJSON_GetObjectItemCaseSensitive(o, "latency_ms");
        a->latency_ms = cJSON_IsNumber(x) ? (long long) x->valuedouble : 0;
        x = cJSON_GetObjectItemCaseSensitive(o, "response_id");
        a->demo = cJSON_IsString(x)
                  && strncmp(x->valuestring, "chatcmpl-demo-", 14) == 0;
        return 0;
    }

    if (strcmp(t->valuestring, "verdict") == 0) {
        x = cJSON_GetObjectItemCaseSensitive(o, "game");
        game = cJSON_IsNumber(x) ? x->valueint : -1;

        if (game < 0 || game >= EVAL_GAMES || pr->game[game].have) {
            return 1;
        }

        x = cJSON_GetObjectItemCaseSensitive(o, "verdict");
        v = cJSON_IsString(x) ? eval_judge_verdict_value(x->valuestring)
                              : EVAL_VERDICT_NONE;

        pr->game[game].have = 1;
        pr->game[game].outcome = eval_judge_outcome(v, game);
        x = cJSON_GetObjectItemCaseSensitive(o, "prompt_tokens");
        pr->game[game].prompt_tokens = cJSON_IsNumber(x)
                                       ? (long long) x->valuedouble : 0;
        x = cJSON_GetObjectItemCaseSensitive(o, "completion_tokens");
        pr->game[game].completion_tokens = cJSON_IsNumber(x)
                                           ? (long long) x->valuedouble : 0;
        return 0;
    }

    return 1;
}


/* one line, one write(): a kill leaves it whole or torn, never mixed */

int
eval_results_append(eval_run_t *run, ngx_http_moa_buf_t *line)
{
    size_t   off;
    ssize_t  n;

    if (line->nomem) {
        eval_run_log(run, "out of memory");
        return -1;
    }

    for (off = 0; off < line->len; off += (size_t) n) {
        n = write(run->out_fd, line->data + off, line->len - off);

        if (n < 0) {
            if (errno == EINTR) {
                n = 0;
                continue;
            }

            eval_run_log(run, "%s: %s", run->conf->out_path,
                          strerror(errno));
            return -1;
        }
    }

    return 0;
}
