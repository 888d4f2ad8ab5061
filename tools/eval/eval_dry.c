
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-eval --dry-run: the calls a run would make (what the results file
 * already has is not counted) and an estimate of their tokens, asking
 * nothing.  Tokens are estimated at 4 bytes a token; an answer not seen
 * yet is estimated from the baseline answers when they come from a file,
 * else at EVAL_DRY_ANSWER tokens; a judge reply (it writes its own answer
 * first) at EVAL_DRY_JUDGMENT tokens.
 */


#include <stdio.h>
#include <string.h>

#include "eval_run.h"


#define EVAL_DRY_ANSWER    500
#define EVAL_DRY_JUDGMENT  600


static long long
eval_dry_tokens(size_t bytes)
{
    return (long long) ((bytes + 3) / 4);
}


void
eval_calls_dry_run(eval_run_t *run)
{
    int             k;
    size_t          i, tpl, known;
    long long       calls[EVAL_NCALLS], in[EVAL_NCALLS], out[EVAL_NCALLS];
    long long       answer, sum, a[2], known_bytes;
    eval_conf_t    *conf;
    eval_call_t    *c;
    eval_prompt_t  *pr;

    conf = run->conf;
    memset(calls, 0, sizeof(calls));
    memset(in, 0, sizeof(in));
    memset(out, 0, sizeof(out));

    tpl = strlen(conf->template ? conf->template
                                : eval_judge_default_template);

    /* what an answer costs, from the answers at hand */
    known = 0;
    known_bytes = 0;

    for (i = 0; i < run->nprompts; i++) {
        for (k = 0; k < 2; k++) {
            if (run->prompts[i].answer[k].have) {
                known++;
                known_bytes += (long long) strlen(
                                   run->prompts[i].answer[k].content);
            }
        }
    }

    answer = known ? eval_dry_tokens((size_t) (known_bytes / (long long) known))
                   : EVAL_DRY_ANSWER;

    for (i = 0; i < run->ncalls; i++) {
        c = &run->calls[i];

        if (c->state == EVAL_ST_DONE || c->state == EVAL_ST_FAILED) {
            continue;
        }

        pr = &run->prompts[c->prompt];
        calls[c->kind]++;

        if (c->kind < EVAL_CALL_GAME0) {
            in[c->kind] += eval_dry_tokens(strlen(pr->messages));
            out[c->kind] += answer;
            continue;
        }

        for (k = 0; k < 2; k++) {
            a[k] = pr->answer[k].have
                   ? eval_dry_tokens(strlen(pr->answer[k].content)) : answer;
        }

        in[c->kind] += eval_dry_tokens(tpl + strlen(pr->question)) + a[0]
                       + a[1];
        out[c->kind] += EVAL_DRY_JUDGMENT;
    }

    sum = calls[0] + calls[1] + calls[2] + calls[3];

    printf("moa-eval --dry-run: %zu prompts", run->nprompts);

    if (run->bad_lines || run->missing_answers) {
        printf(" (%lu input lines skipped)",
               run->bad_lines + run->missing_answers);
    }

    printf("; %lld calls to make%s\n", sum,
           run->resumed ? " (the results file has the others)" : "");

    printf("\n%-10s %-24s %7s %15s %15s\n", "call", "model", "calls",
           "prompt tokens", "completion");
    printf("%-10s %-24s %7lld %15lld %15lld\n", "answer", conf->model,
           calls[0], in[0], out[0]);

    if (conf->baseline) {
        printf("%-10s %-24s %7lld %15lld %15lld\n", "answer", conf->baseline,
               calls[1], in[1], out[1]);
    }

    printf("%-10s %-24s %7lld %15lld %15lld\n", "judge", conf->judge,
           calls[2] + calls[3], in[2] + in[3], out[2] + out[3]);

    printf("\nEstimates: 4 bytes a token; an answer ~%lld tokens (%s), a "
           "judgment ~%d.\nA Mixture-of-Agents model's usage sums all its "
           "calls (proposals, critique,\nsynthesis): expect 3-5x the tokens "
           "of one call for its row.  A judge reply\nwithout a verdict is "
           "asked once more; retries are not counted.\n", answer,
           known ? "the mean of the answers at hand"
                 : "no answers at hand to measure",
           EVAL_DRY_JUDGMENT);
}
