
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-eval, the command line tool: its configuration, the calls (two
 * answers and two judged games per prompt) and the state of a run.
 * eval.h has the pure parts.
 */


#ifndef _MOA_EVAL_RUN_H_INCLUDED_
#define _MOA_EVAL_RUN_H_INCLUDED_


#include <stdint.h>

#include <curl/curl.h>

#include "eval.h"
#include "relabel.h"


#define EVAL_EXIT_OK          0
#define EVAL_EXIT_INCOMPLETE  1
#define EVAL_EXIT_FATAL       2

#define EVAL_MAX_RESPONSE     (64 * 1024 * 1024)
#define EVAL_TICK_MS          250


typedef struct {
    const char           *url;
    const char           *model;
    const char           *baseline;
    const char           *baseline_answers;
    const char           *judge;
    const char           *judge_url;
    const char           *api_key;
    const char           *judge_api_key;
    const char           *in_path;
    const char           *out_path;
    const char           *report_path;
    const char           *picture_path;
    const char           *template_path;
    char                 *template;
    relabel_param_t      *params;
    size_t                nparams;
    relabel_param_t      *judge_params;
    size_t                njudge_params;
    struct curl_slist    *headers;
    struct curl_slist    *judge_headers;
    long                  concurrency;
    long                  retries;
    long                  bootstrap;
    long                  seed;
    long                  judge_max_tokens;
    long long             timeout_ms;
    long long             connect_timeout_ms;
    long long             retry_after_max_ms;
    unsigned long         limit;
    int                   dry_run;
    int                   insecure;
    int                   quiet;
    int                   verbose;
} eval_conf_t;


/* the four calls of a prompt */
typedef enum {
    EVAL_CALL_MODEL = 0,
    EVAL_CALL_BASELINE,
    EVAL_CALL_GAME0,
    EVAL_CALL_GAME1,
    EVAL_NCALLS
} eval_call_e;


typedef enum {
    EVAL_ST_BLOCKED = 0,      /* waits for the answers it judges */
    EVAL_ST_READY,
    EVAL_ST_RUNNING,
    EVAL_ST_WAITING,          /* a retry, due later */
    EVAL_ST_DONE,
    EVAL_ST_FAILED
} eval_state_e;


typedef struct {
    eval_state_e          state;
    size_t                prompt;
    eval_call_e           kind;
    unsigned              attempts;
    unsigned              parse_tries;  /* judge replies without a label */
    uint64_t              due;
    uint64_t              started;
    CURL                 *easy;
    ngx_http_moa_buf_t    req;
    ngx_http_moa_buf_t    resp;
    int                   too_large;
    char                  retry_after[64];
    char                  retry_after_ms[32];
    char                  errbuf[CURL_ERROR_SIZE];
} eval_call_t;


typedef struct {
    eval_conf_t          *conf;

    eval_prompt_t        *prompts;
    size_t                nprompts;
    size_t               *by_id;        /* prompt indexes sorted by id */
    unsigned long         bad_lines;
    unsigned long         bad_answers;
    unsigned long         missing_answers;

    eval_call_t          *calls;        /* EVAL_NCALLS per prompt */
    size_t                ncalls;
    size_t                cursor;       /* no call before it is startable */
    long                  running;
    long                  pending;      /* not done, not failed */
    size_t                total;        /* calls this run makes */
    size_t                finished;

    CURLM                *multi;
    int                   out_fd;

    unsigned long         requests;
    unsigned long         retries;
    unsigned long         failures;
    unsigned long         unparsed_retries;
    uint64_t              pause_until;

    int                   resumed;      /* the results file had results */
    int                   stopping;
    int                   fatal;
    int                   tty;
    int                   bar_shown;
    uint64_t              start_ms;
    uint64_t              last_progress_ms;
} eval_run_t;


/* eval_args.c */
int eval_args_parse(int argc, char **argv, eval_conf_t *conf);
void eval_args_free(eval_conf_t *conf);

/* eval_run.c: what every part uses */
uint64_t eval_run_now_ms(void);
void eval_run_log(eval_run_t *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* eval_prompts.c: reading the input and the baseline answers */
int eval_prompts_load(eval_run_t *run);
size_t eval_prompts_find(eval_run_t *run, const char *id);
void eval_prompts_free(eval_run_t *run);

/* eval_results.c: the results file, resuming, appending */
int eval_results_open(eval_run_t *run);
int eval_results_append(eval_run_t *run, ngx_http_moa_buf_t *line);

/* eval_calls.c: the calls on libcurl's multi interface */
int eval_calls_plan(eval_run_t *run);
void eval_calls_dispatch(eval_run_t *run);
void eval_calls_harvest(eval_run_t *run);
void eval_calls_cancel_all(eval_run_t *run);
void eval_calls_dry_run(eval_run_t *run);

/* eval_report.c: figures, the table and the markdown report */
int eval_report_write(eval_run_t *run);
void eval_report_progress(eval_run_t *run, int force);

/* eval_svg.c: the picture */
typedef struct {
    const char           *name;
    double                winrate;
    double                lo;
    double                hi;
    size_t                n;
} eval_svg_bar_t;

int eval_svg_write(const char *path, const char *title,
    const eval_svg_bar_t *bars, size_t nbars, const char *names[2],
    const double tokens[2][2]);


#endif /* _MOA_EVAL_RUN_H_INCLUDED_ */
