
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-eval: a pairwise judge of a model against a baseline on the user's
 * own prompts.  This header declares the pure parts (no network, no global
 * state) shared by the tool and its unit tests: prompts, judge prompts and
 * verdicts, results lines, and the statistics.
 */


#ifndef _MOA_EVAL_H_INCLUDED_
#define _MOA_EVAL_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_version.h"


#define EVAL_VERSION         NGX_HTTP_MOA_VERSION

/* who answered */
#define EVAL_MODEL           0
#define EVAL_BASELINE        1

/* the two games of a pair: game 0 shows the baseline as A, game 1 swaps */
#define EVAL_GAMES           2

/* a verdict from the model's side: -2 (baseline much better) .. 2 */
#define EVAL_VERDICT_NONE    -100

#define EVAL_ERRLEN          512


/* an answer of a contender */
typedef struct {
    int                   have;
    char                 *content;
    long long             prompt_tokens;
    long long             completion_tokens;
    long long             latency_ms;
    int                   demo;         /* the offline demo provider's */
} eval_answer_t;


/* a judged game */
typedef struct {
    int                   have;
    int                   outcome;      /* model's side, or VERDICT_NONE */
    long long             prompt_tokens;
    long long             completion_tokens;
} eval_game_t;


/* one prompt of the input */
typedef struct {
    char                 *id;
    char                 *category;     /* "" when the input has none */
    unsigned long         line;
    char                 *messages;     /* JSON array sent to contenders */
    char                 *question;     /* the text the judge reads */
    eval_answer_t         answer[2];
    eval_game_t           game[EVAL_GAMES];
    unsigned              failed:1;     /* a call failed for good */
} eval_prompt_t;


/* what a prompt adds to the statistics */
typedef struct {
    double                score;        /* won games, ties count half */
    double                games;        /* strong verdicts count 3 */
    double                x;            /* normalized length difference */
    int                   category;
} eval_item_t;


typedef struct {
    uint32_t              s[4];
} eval_rng_t;


/* a fitted length-controlled model: logit p = b0 + b1 x */
typedef struct {
    double                b0;
    double                b1;
    double                winrate;      /* sigmoid(b0) */
    int                   iterations;
    int                   converged;
} eval_lc_t;


/* prompts (eval_input.c): 0, or -1 with err set (the line is skipped) */
int eval_input_parse(const char *p, size_t n, unsigned long line,
    eval_prompt_t *pr, char *err, size_t errlen);
int eval_input_answer_parse(const char *p, size_t n, unsigned long line,
    char **id, char **content, char *err, size_t errlen);
void eval_input_prompt_free(eval_prompt_t *pr);

/* judge prompts and verdicts (eval_judge.c) */
extern const char eval_judge_default_template[];
int eval_judge_template_check(const char *tpl, char *err, size_t errlen);
int eval_judge_prompt(ngx_http_moa_buf_t *b, const char *tpl,
    const char *question, const char *a, const char *b_answer);
int eval_judge_verdict_parse(const char *text, size_t len);
int eval_judge_outcome(int verdict, int game);
const char *eval_judge_verdict_name(int verdict);
int eval_judge_verdict_value(const char *name);

/* results lines (eval_results.c) */
int eval_results_answer_line(ngx_http_moa_buf_t *b, const char *id, int who,
    const char *model, const eval_answer_t *a, const char *response_id,
    const char *finish_reason, unsigned attempts);
int eval_results_verdict_line(ngx_http_moa_buf_t *b, const char *id,
    int game, int verdict, const char *judge_text, const eval_game_t *g,
    unsigned attempts, unsigned parse_tries);
int eval_results_failure_line(ngx_http_moa_buf_t *b, const char *id,
    const char *call, long status, const char *error);
int eval_results_run_line(ngx_http_moa_buf_t *b, const char *model,
    const char *baseline, const char *judge);

/* statistics (eval_stats.c) */
void eval_stats_rng_seed(eval_rng_t *r, uint32_t seed);
uint32_t eval_stats_rng_next(eval_rng_t *r);
double eval_stats_weight(int outcome);
double eval_stats_score(int outcome);
double eval_stats_winrate(const eval_item_t *items, const size_t *idx,
    size_t n);
double eval_stats_percentile(double *v, size_t n, double q);
void eval_stats_normalize(const double *diff, size_t n, double *x);
int eval_stats_lc(const eval_item_t *items, const size_t *idx, size_t n,
    eval_lc_t *lc);
int eval_stats_bootstrap(const eval_item_t *items, size_t n, long rounds,
    uint32_t seed, int lc, double *lo, double *hi);
double eval_stats_quantile_ll(long long *v, size_t n, double q);


#endif /* _MOA_EVAL_H_INCLUDED_ */
