
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-eval: reading the prompts and the baseline answers into memory.  A
 * malformed line is reported with its number and skipped, never fatal;
 * prompts are found by id (question_id, metadata.uid, else line-N).
 */


#define _GNU_SOURCE

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "eval_run.h"


static int eval_prompts_sort(eval_run_t *run);
static int eval_prompts_answers(eval_run_t *run);


static eval_run_t  *eval_prompts_sorting;


static int
eval_prompts_cmp(const void *a, const void *b)
{
    int                   c;
    const eval_prompt_t  *p, *x, *y;

    p = eval_prompts_sorting->prompts;
    x = &p[*(const size_t *) a];
    y = &p[*(const size_t *) b];
    c = strcmp(x->id, y->id);

    /* the same id: the first line first, so the later one is dropped */
    return c ? c : (x->line > y->line) - (x->line < y->line);
}


int
eval_prompts_load(eval_run_t *run)
{
    int              rc;
    char             err[EVAL_ERRLEN];
    FILE            *f;
    size_t           cap;
    eval_conf_t     *conf;
    eval_prompt_t   *pr, *np;
    unsigned long    lineno;
    relabel_line_t   l;

    conf = run->conf;

    f = fopen(conf->in_path, "r");
    if (f == NULL) {
        eval_run_log(run, "%s: %s", conf->in_path, strerror(errno));
        return -1;
    }

    memset(&l, 0, sizeof(relabel_line_t));
    lineno = 0;
    cap = 0;

    while ((rc = relabel_io_read_line(f, &l, lineno + 1)) == 1) {
        lineno++;

        if (l.blank) {
            continue;
        }

        if (conf->limit && run->nprompts >= conf->limit) {
            break;
        }

        if (run->nprompts == cap) {
            cap = cap ? cap * 2 : 64;
            np = realloc(run->prompts, cap * sizeof(eval_prompt_t));

            if (np == NULL) {
                eval_run_log(run, "out of memory");
                rc = -1;
                break;
            }

            run->prompts = np;
        }

        pr = &run->prompts[run->nprompts];

        if (eval_input_parse(l.data, l.len, lineno, pr, err, sizeof(err))
            != 0)
        {
            eval_run_log(run, "%s:%lu: skipped: %s", conf->in_path, lineno,
                          err);
            run->bad_lines++;
            continue;
        }

        run->nprompts++;
    }

    free(l.data);
    fclose(f);

    if (rc < 0) {
        return -1;
    }

    if (eval_prompts_sort(run) != 0) {
        return -1;
    }

    if (conf->baseline_answers && eval_prompts_answers(run) != 0) {
        return -1;
    }

    return 0;
}


/* the index by id; a second prompt with an id already seen is dropped */

static int
eval_prompts_sort(eval_run_t *run)
{
    size_t          i, k, n;
    eval_prompt_t  *p;

    run->by_id = malloc((run->nprompts + 1) * sizeof(size_t));
    if (run->by_id == NULL) {
        eval_run_log(run, "out of memory");
        return -1;
    }

    for (i = 0; i < run->nprompts; i++) {
        run->by_id[i] = i;
    }

    eval_prompts_sorting = run;
    qsort(run->by_id, run->nprompts, sizeof(size_t), eval_prompts_cmp);

    p = run->prompts;
    n = 0;

    for (i = 0; i < run->nprompts; i++) {
        k = run->by_id[i];

        if (i > 0 && strcmp(p[k].id, p[run->by_id[i - 1]].id) == 0) {
            eval_run_log(run, "%s:%lu: skipped: id \"%s\" again (line %lu "
                          "has it)", run->conf->in_path, p[k].line, p[k].id,
                          p[run->by_id[i - 1]].line);
            run->bad_lines++;
            p[k].failed = 1;
        }
    }

    /* compact: drop the duplicates, keep the input order */

    for (i = 0; i < run->nprompts; i++) {
        if (p[i].failed) {
            eval_input_prompt_free(&p[i]);
            continue;
        }

        p[n++] = p[i];
    }

    run->nprompts = n;

    for (i = 0; i < n; i++) {
        run->by_id[i] = i;
    }

    qsort(run->by_id, n, sizeof(size_t), eval_prompts_cmp);

    return 0;
}


size_t
eval_prompts_find(eval_run_t *run, const char *id)
{
    int     c;
    size_t  lo, hi, mid;

    lo = 0;
    hi = run->nprompts;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        c = strcmp(id, run->prompts[run->by_id[mid]].id);

        if (c == 0) {
            return run->by_id[mid];
        }

        if (c < 0) {
            hi = mid;

        } else {
            lo = mid + 1;
        }
    }

    return (size_t) -1;
}


/* --baseline-answers: each answer goes to the prompt with its id */

static int
eval_prompts_answers(eval_run_t *run)
{
    int              rc;
    char             err[EVAL_ERRLEN], *id, *content;
    FILE            *f;
    size_t           i;
    eval_conf_t     *conf;
    eval_answer_t   *a;
    unsigned long    lineno;
    relabel_line_t   l;

    conf = run->conf;

    f = fopen(conf->baseline_answers, "r");
    if (f == NULL) {
        eval_run_log(run, "%s: %s", conf->baseline_answers, strerror(errno));
        return -1;
    }

    memset(&l, 0, sizeof(relabel_line_t));
    lineno = 0;

    while ((rc = relabel_io_read_line(f, &l, lineno + 1)) == 1) {
        lineno++;

        if (l.blank) {
            continue;
        }

        if (eval_input_answer_parse(l.data, l.len, lineno, &id, &content,
                                    err, sizeof(err))
            != 0)
        {
            eval_run_log(run, "%s:%lu: skipped: %s", conf->baseline_answers,
                          lineno, err);
            run->bad_answers++;
            continue;
        }

        i = eval_prompts_find(run, id);

        if (i != (size_t) -1 && !run->prompts[i].answer[EVAL_BASELINE].have) {
            a = &run->prompts[i].answer[EVAL_BASELINE];
            a->have = 1;
            a->content = content;
            content = NULL;
        }

        free(id);
        free(content);
    }

    free(l.data);
    fclose(f);

    if (rc < 0) {
        eval_run_log(run, "%s: %s", conf->baseline_answers, strerror(errno));
        return -1;
    }

    for (i = 0; i < run->nprompts; i++) {
        if (!run->prompts[i].answer[EVAL_BASELINE].have) {
            eval_run_log(run, "%s:%lu: skipped: no baseline answer for id "
                          "\"%s\" in %s", conf->in_path, run->prompts[i].line,
                          run->prompts[i].id, conf->baseline_answers);
            run->missing_answers++;
            run->prompts[i].failed = 1;
        }
    }

    return 0;
}


void
eval_prompts_free(eval_run_t *run)
{
    size_t  i;

    for (i = 0; i < run->nprompts; i++) {
        eval_input_prompt_free(&run->prompts[i]);
    }

    free(run->prompts);
    free(run->by_id);
    run->prompts = NULL;
    run->by_id = NULL;
}
