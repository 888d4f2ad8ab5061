
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-eval: the figures of a run (from everything the results file has),
 * printed as a table, written as markdown (--report) and drawn (--picture);
 * and the progress bar.
 */


#define _GNU_SOURCE

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_run.h"


#define EVAL_MAX_CATEGORIES  64


typedef struct {
    const char           *name;
    size_t                n;
    double                winrate;
    double                lo;
    double                hi;
} eval_cat_t;


typedef struct {
    size_t                answers;
    long long             prompt_tokens;
    long long             completion_tokens;
    double                p50;
    double                p95;
    int                   measured;     /* answered here, not from a file */
} eval_cost_t;


typedef struct {
    size_t                judged;       /* prompts with a verdict */
    size_t                games;        /* games with a verdict */
    size_t                unparsed;
    size_t                failed;
    size_t                inconsistent;
    double                wins;         /* weighted */
    double                ties;
    double                losses;
    double                winrate;
    double                lo;
    double                hi;
    eval_lc_t             lc;
    double                lc_lo;
    double                lc_hi;
    eval_cat_t            cats[EVAL_MAX_CATEGORIES];
    size_t                ncats;
    eval_cost_t           cost[2];
    size_t                judge_calls;
    long long             judge_prompt_tokens;
    long long             judge_completion_tokens;
    int                   demo;
} eval_figures_t;


static int eval_report_figures(eval_run_t *run, eval_figures_t *f);
static int eval_report_categories(eval_run_t *run, eval_figures_t *f,
    eval_item_t *items, const size_t *prompt_of, size_t n);
static int eval_report_cost(eval_run_t *run, eval_figures_t *f);
static void eval_report_print(eval_run_t *run, eval_figures_t *f, FILE *out,
    int md);
static void eval_report_tables(eval_figures_t *f, const char *name[2],
    FILE *out, int md);
static int eval_report_picture(eval_run_t *run, eval_figures_t *f);
static size_t eval_report_chars(const char *s);


/* UTF-8 characters of s (bytes that do not continue a character) */

static size_t
eval_report_chars(const char *s)
{
    size_t  n;

    for (n = 0; *s; s++) {
        n += ((unsigned char) *s & 0xc0) != 0x80;
    }

    return n;
}


int
eval_report_write(eval_run_t *run)
{
    int              rc;
    FILE            *md;
    eval_figures_t  *f;

    f = calloc(1, sizeof(eval_figures_t));
    if (f == NULL || eval_report_figures(run, f) != 0) {
        eval_run_log(run, "out of memory");
        free(f);
        return -1;
    }

    eval_report_print(run, f, stdout, 0);
    fflush(stdout);
    rc = 0;

    if (run->conf->report_path) {
        md = fopen(run->conf->report_path, "w");

        if (md == NULL) {
            eval_run_log(run, "%s: %s", run->conf->report_path,
                          strerror(errno));
            rc = -1;

        } else {
            eval_report_print(run, f, md, 1);

            if (fclose(md) != 0) {
                eval_run_log(run, "%s: %s", run->conf->report_path,
                              strerror(errno));
                rc = -1;
            }
        }
    }

    if (run->conf->picture_path && eval_report_picture(run, f) != 0) {
        rc = -1;
    }

    free(f);

    return rc;
}


/* the statistics over the prompts judged */

static int
eval_report_figures(eval_run_t *run, eval_figures_t *f)
{
    int             g, o, s[2];
    size_t          i, n, *prompt_of;
    double          w, *diff, *x;
    eval_item_t    *items;
    eval_prompt_t  *pr;

    n = run->nprompts ? run->nprompts : 1;
    items = calloc(n, sizeof(eval_item_t));
    prompt_of = calloc(n, sizeof(size_t));
    diff = calloc(n, sizeof(double));
    x = calloc(n, sizeof(double));

    if (items == NULL || prompt_of == NULL || diff == NULL || x == NULL) {
        goto nomem;
    }

    n = 0;

    for (i = 0; i < run->nprompts; i++) {
        pr = &run->prompts[i];

        /* a prompt without its baseline answer was skipped, not failed */
        f->failed += pr->failed
                     && (run->conf->baseline || pr->answer[EVAL_BASELINE].have);

        for (g = 0; g < EVAL_GAMES; g++) {
            s[g] = 0;

            if (!pr->game[g].have) {
                continue;
            }

            f->judge_calls++;
            f->judge_prompt_tokens += pr->game[g].prompt_tokens;
            f->judge_completion_tokens += pr->game[g].completion_tokens;
            o = pr->game[g].outcome;

            if (o == EVAL_VERDICT_NONE) {
                f->unparsed++;
                continue;
            }

            w = eval_stats_weight(o);
            items[n].score += w * eval_stats_score(o);
            items[n].games += w;
            f->games++;
            s[g] = o > 0 ? 1 : o < 0 ? -1 : 2;

            if (o > 0) {
                f->wins += w;

            } else if (o < 0) {
                f->losses += w;

            } else {
                f->ties += w;
            }
        }

        if (s[0] && s[1] && s[0] != s[1]) {
            f->inconsistent++;
        }

        if (items[n].games > 0) {
            diff[n] = (double) eval_report_chars(pr->answer[0].content)
                      - (double) eval_report_chars(pr->answer[1].content);
            prompt_of[n] = i;
            n++;
        }
    }

    f->judged = n;
    eval_stats_normalize(diff, n, x);

    for (i = 0; i < n; i++) {
        items[i].x = x[i];
    }

    f->winrate = eval_stats_winrate(items, NULL, n);
    eval_stats_lc(items, NULL, n, &f->lc);

    if (eval_stats_bootstrap(items, n, run->conf->bootstrap,
                             (uint32_t) run->conf->seed, 0, &f->lo, &f->hi)
        != 0
        || eval_stats_bootstrap(items, n, run->conf->bootstrap,
                                (uint32_t) run->conf->seed, 1, &f->lc_lo,
                                &f->lc_hi) != 0
        || eval_report_categories(run, f, items, prompt_of, n) != 0
        || eval_report_cost(run, f) != 0)
    {
        goto nomem;
    }

    free(items);
    free(prompt_of);
    free(diff);
    free(x);

    return 0;

nomem:

    free(items);
    free(prompt_of);
    free(diff);
    free(x);

    return -1;
}


/* the win rate per category, when the prompts have categories */

static int
eval_report_categories(eval_run_t *run, eval_figures_t *f,
    eval_item_t *items, const size_t *prompt_of, size_t n)
{
    size_t        i, k, m;
    eval_item_t  *sub;
    const char   *name;

    for (i = 0; i < n; i++) {
        name = run->prompts[prompt_of[i]].category;

        for (k = 0; k < f->ncats; k++) {
            if (strcmp(f->cats[k].name, name) == 0) {
                break;
            }
        }

        if (k == f->ncats) {
            if (f->ncats == EVAL_MAX_CATEGORIES) {
                /* too many to show: no split at all */
                f->ncats = 0;
                return 0;
            }

            f->cats[f->ncats++].name = name;
        }

        items[i].category = (int) k;
        f->cats[k].n++;
    }

    if (f->ncats == 1 && f->cats[0].name[0] == '\0') {
        f->ncats = 0;
        return 0;
    }

    sub = malloc((n ? n : 1) * sizeof(eval_item_t));
    if (sub == NULL) {
        return -1;
    }

    for (k = 0; k < f->ncats; k++) {
        m = 0;

        for (i = 0; i < n; i++) {
            if (items[i].category == (int) k) {
                sub[m++] = items[i];
            }
        }

        f->cats[k].winrate = eval_stats_winrate(sub, NULL, m);

        if (eval_stats_bootstrap(sub, m, run->conf->bootstrap,
                                 (uint32_t) run->conf->seed, 0,
                                 &f->cats[k].lo, &f->cats[k].hi) != 0)
        {
            free(sub);
            return -1;
        }
    }

    free(sub);

    return 0;
}


/* tokens and latency per contender */

static int
eval_report_cost(eval_run_t *run, eval_figures_t *f)
{
    int             k;
    size_t          i, n;
    long long      *lat;
    eval_answer_t  *a;

    lat = malloc((run->nprompts ? run->nprompts : 1) * sizeof(long long));
    if (lat == NULL) {
        return -1;
    }

    for (k = 0; k < 2; k++) {
        n = 0;
        f->cost[k].measured = k == EVAL_MODEL || run->conf->baseline != NULL;

        for (i = 0; i < run->nprompts; i++) {
            a = &run->prompts[i].answer[k];

            if (!a->have) {
                continue;
            }

            f->cost[k].answers++;
            f->cost[k].prompt_tokens += a->prompt_tokens;
            f->cost[k].completion_tokens += a->completion_tokens;
            f->demo |= a->demo;
            lat[n++] = a->latency_ms;
        }

        f->cost[k].p50 = eval_stats_quantile_ll(lat, n, 0.5);
        f->cost[k].p95 = eval_stats_quantile_ll(lat, n, 0.95);
    }

    free(lat);

    return 0;
}


static void
eval_report_pct(FILE *out, double v)
{
    if (isnan(v)) {
        fputs("     n/a", out);

    } else {
        fprintf(out, "%7.2f%%", v * 100);
    }
}


static void
eval_report_print(eval_run_t *run, eval_figures_t *f, FILE *out, int md)
{
    eval_conf_t   *conf;
    const char    *name[2], *bar;

    conf = run->conf;
    name[0] = conf->model;
    name[1] = conf->baseline ? conf->baseline : conf->baseline_answers;
    bar = md ? "|" : " ";

    fprintf(out, "%s%s against %s, judged by %s\n\n", md ? "# moa-eval: " : "",
            name[0], name[1], conf->judge);

    if (f->demo) {
        fprintf(out, "%sThe offline DEMO provider answered (its canned "
                "replies, no language model): these numbers mean nothing; "
                "they only show that the evaluation runs.%s\n\n",
                md ? "> **" : "NOTE: ", md ? "**" : "");
    }

    fprintf(out, "%sprompts: %zu read, %zu judged, %zu with a failed call",
            md ? "- " : "", run->nprompts, f->judged, f->failed);

    if (run->missing_answers) {
        fprintf(out, ", %lu without a baseline answer", run->missing_answers);
    }

    fprintf(out, "; %lu input lines skipped\n", run->bad_lines);
    fprintf(out, "%sgames: %zu with a verdict (two per prompt, positions "
            "swapped), %zu unparseable (left out), %zu prompts whose two "
            "games disagree\n", md ? "- " : "", f->games, f->unparsed,
            f->inconsistent);
    fprintf(out, "%sweighted games (a strong verdict counts 3): model wins "
            "%.0f, ties %.0f, baseline wins %.0f\n\n", md ? "- " : "",
            f->wins, f->ties, f->losses);

    if (md) {
        fputs("| figure | value | 95% CI |\n|---|---:|---|\n", out);
    }

    fprintf(out, "%s%-24s%s", md ? "| " : "", "win rate", bar);
    eval_report_pct(out, f->winrate);
    fprintf(out, " %s [", bar);
    eval_report_pct(out, f->lo);
    fputs(",", out);
    eval_report_pct(out, f->hi);
    fprintf(out, " ]%s\n", md ? " |" : "");

    fprintf(out, "%s%-24s%s", md ? "| " : "", "length-controlled", bar);
    eval_report_pct(out, f->lc.winrate);
    fprintf(out, " %s [", bar);
    eval_report_pct(out, f->lc_lo);
    fputs(",", out);
    eval_report_pct(out, f->lc_hi);
    fprintf(out, " ]%s\n", md ? " |" : "");

    fprintf(out, "\n%slength slope %.4f (logit per unit of tanh(length "
            "difference / its sd)); %ld bootstrap rounds, seed %ld\n",
            md ? "- " : "", f->lc.b1, conf->bootstrap, conf->seed);

    eval_report_tables(f, name, out, md);

    fprintf(out, "\n%sjudge %s: %zu verdicts recorded, %lld prompt + %lld "
            "completion tokens\n", md ? "- " : "", conf->judge,
            f->judge_calls, f->judge_prompt_tokens,
            f->judge_completion_tokens);

    if (md) {
        fprintf(out, "\nResults: `%s`; moa-eval %s.\n", conf->out_path,
                EVAL_VERSION);
    }
}


/* the per-category and the cost tables */

static void
eval_report_tables(eval_figures_t *f, const char *name[2], FILE *out, int md)
{
    int            k;
    size_t         i;
    double         per;
    const char    *bar;

    bar = md ? "|" : " ";

    if (f->ncats) {
        fprintf(out, "\n%s%-28s%s%8s %s%9s %s %s%s\n",
                md ? "| " : "", "category", bar, "prompts", bar, "win rate",
                bar, "95% CI", md ? " |" : "");

        if (md) {
            fputs("|---|---:|---:|---|\n", out);
        }

        for (i = 0; i < f->ncats; i++) {
            fprintf(out, "%s%-28s%s%8zu %s ", md ? "| " : "",
                    f->cats[i].name[0] ? f->cats[i].name : "(none)", bar,
                    f->cats[i].n, bar);
            eval_report_pct(out, f->cats[i].winrate);
            fprintf(out, " %s [", bar);
            eval_report_pct(out, f->cats[i].lo);
            fputs(",", out);
            eval_report_pct(out, f->cats[i].hi);
            fprintf(out, " ]%s\n", md ? " |" : "");
        }
    }

    fprintf(out, "\n%s%-24s%s%8s %s%14s %s%14s %s%10s %s%10s%s\n",
            md ? "| " : "", "contender", bar, "answers", bar,
            "prompt tok/ans", bar, "compl. tok/ans", bar, "p50 ms", bar,
            "p95 ms", md ? " |" : "");

    if (md) {
        fputs("|---|---:|---:|---:|---:|---:|\n", out);
    }

    for (k = 0; k < 2; k++) {
        per = f->cost[k].answers ? (double) f->cost[k].answers : 1;

        if (!f->cost[k].measured) {
            fprintf(out, "%s%-24s%s%8zu %s%14s %s%14s %s%10s %s%10s%s\n",
                    md ? "| " : "", name[k], bar, f->cost[k].answers, bar,
                    "(from a file)", bar, "", bar, "", bar, "",
                    md ? " |" : "");
            continue;
        }

        fprintf(out, "%s%-24s%s%8zu %s%14.1f %s%14.1f %s%10.0f %s%10.0f%s\n",
                md ? "| " : "", name[k], bar, f->cost[k].answers, bar,
                (double) f->cost[k].prompt_tokens / per, bar,
                (double) f->cost[k].completion_tokens / per, bar,
                f->cost[k].p50, bar, f->cost[k].p95, md ? " |" : "");
    }


}


static int
eval_report_picture(eval_run_t *run, eval_figures_t *f)
{
    size_t          i, n;
    double          tokens[2][2];
    const char     *names[2];
    eval_svg_bar_t  bars[EVAL_MAX_CATEGORIES + 1];
    char            title[512];
    int             k;

    bars[0].name = "all prompts";
    bars[0].winrate = f->winrate;
    bars[0].lo = f->lo;
    bars[0].hi = f->hi;
    bars[0].n = f->judged;
    n = 1;

    for (i = 0; i < f->ncats; i++) {
        bars[n].name = f->cats[i].name[0] ? f->cats[i].name : "(none)";
        bars[n].winrate = f->cats[i].winrate;
        bars[n].lo = f->cats[i].lo;
        bars[n].hi = f->cats[i].hi;
        bars[n].n = f->cats[i].n;
        n++;
    }

    names[0] = run->conf->model;
    names[1] = run->conf->baseline ? run->conf->baseline
                                   : run->conf->baseline_answers;

    for (k = 0; k < 2; k++) {
        if (f->cost[k].answers == 0 || !f->cost[k].measured) {
            tokens[k][0] = NAN;
            tokens[k][1] = NAN;
            continue;
        }

        tokens[k][0] = (double) f->cost[k].prompt_tokens
                       / (double) f->cost[k].answers;
        tokens[k][1] = (double) f->cost[k].completion_tokens
                       / (double) f->cost[k].answers;
    }

    snprintf(title, sizeof(title), "%s vs %s (judge %s)%s", names[0],
             names[1], run->conf->judge,
             f->demo ? " - DEMO provider: numbers mean nothing" : "");

    if (eval_svg_write(run->conf->picture_path, title, bars, n, names,
                       (const double (*)[2]) tokens) != 0)
    {
        eval_run_log(run, "%s: %s", run->conf->picture_path,
                      strerror(errno));
        return -1;
    }

    return 0;
}


/* a bar on a terminal: calls done of this run's, retries, failures */

void
eval_report_progress(eval_run_t *run, int force)
{
    int       i, fill;
    uint64_t  now;
    char      bar[41];

    if (!run->tty) {
        return;
    }

    now = eval_run_now_ms();

    if (!force && now - run->last_progress_ms < EVAL_TICK_MS) {
        return;
    }

    run->last_progress_ms = now;
    fill = run->total ? (int) (run->finished * 40 / run->total) : 40;

    for (i = 0; i < 40; i++) {
        bar[i] = i < fill ? '#' : '.';
    }

    bar[40] = '\0';

    fprintf(stderr, "\r\033[K[%s] %zu/%zu calls, %ld in flight, %lu retries, "
            "%lu failed, %llus", bar, run->finished, run->total, run->running,
            run->retries, run->failures,
            (unsigned long long) ((now - run->start_ms) / 1000));

    run->bar_shown = 1;

    if (force) {
        fputc('\n', stderr);
        run->bar_shown = 0;
    }
}
