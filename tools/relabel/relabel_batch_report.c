
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel --batch: what a run cost.  Per stage, the requests, the
 * failures and the tokens the module's usage code summed, and their price
 * at batch and at synchronous rates (each call at its model's prices,
 * from --price or the built-in table); the run's counts for the summary.
 */


#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_moa_usage.h"
#include "relabel_batch_run.h"


static void relabel_batch_report_stage(relabel_batch_t *b, int stage,
    const relabel_price_t *user, double *ts, double *tb, int *priced);


/*
 * One stage's requests, tokens and cost: each call's tokens at its model's
 * prices (proposers may differ).
 */
static void
relabel_batch_report_stage(relabel_batch_t *b, int stage,
    const relabel_price_t *user, double *ts, double *tb, int *priced)
{
    int                     call, first, last, ok, k;
    char                    models[256];
    double                  sync, batch;
    long long               in, out, cin, cout;
    const char             *model;
    const relabel_price_t  *p;

    first = relabel_batch_slot(b, stage, 0);
    last = first + relabel_batch_stage_calls(b, stage) - 1;

    in = 0;
    out = 0;
    sync = 0;
    batch = 0;
    ok = 1;
    models[0] = '\0';

    for (call = first; call <= last; call++) {
        cin = ngx_http_moa_usage_get(&b->usage[call].root,
                                     "prompt_tokens");
        cout = ngx_http_moa_usage_get(&b->usage[call].root,
                                      "completion_tokens");
        cin = cin < 0 ? 0 : cin;
        cout = cout < 0 ? 0 : cout;
        in += cin;
        out += cout;

        model = relabel_batch_recipe_call_model(&b->recipe, stage,
                                                call - first);

        /* each model named once */
        for (k = first; k < call; k++) {
            if (strcmp(model, relabel_batch_recipe_call_model(&b->recipe,
                                                  stage, k - first)) == 0)
            {
                break;
            }
        }

        if (k == call) {
            snprintf(models + strlen(models), sizeof(models) - strlen(models),
                     "%s%s", models[0] ? ", " : "", model);
        }

        p = relabel_price_find(user, user ? b->bc->nprices : 0, model);

        if (p == NULL) {
            ok = 0;
            continue;
        }

        sync += relabel_price_cost(cin, cout, p->in, p->out);
        batch += relabel_price_cost(cin, cout, p->batch_in, p->batch_out);
    }

    b->run->prompt_tokens += in;
    b->run->completion_tokens += out;

    if (!ok) {
        *priced = 0;
        relabel_run_log(b->run, "%s: %lu requests, %lu failed; tokens %lld "
                        "prompt + %lld completion (%s: no price, see "
                        "--price)", relabel_batch_run_stage_name(stage),
                        b->sent[stage], b->failed[stage], in, out, models);
        return;
    }

    *ts += sync;
    *tb += batch;

    relabel_run_log(b->run, "%s: %lu requests, %lu failed; tokens %lld "
                    "prompt + %lld completion; %s: batch $%.4f, synchronous "
                    "$%.4f", relabel_batch_run_stage_name(stage),
                    b->sent[stage], b->failed[stage], in, out, models, batch,
                    sync);
}


/* tokens per stage, and their cost at batch and at synchronous prices */
void
relabel_batch_report_tokens(relabel_batch_t *b)
{
    int                     stage, priced;
    char                   *name;
    size_t                  i;
    double                  ts, tb;
    relabel_run_t          *run;
    relabel_price_t        *user;

    run = b->run;
    user = NULL;

    if (b->bc->nprices) {
        user = calloc(b->bc->nprices, sizeof(relabel_price_t));
    }

    for (i = 0; user && i < b->bc->nprices; i++) {
        if (relabel_price_parse(b->bc->prices[i], &user[i], &name) != 0) {
            user[i].model = "";
        }
    }

    ts = 0;
    tb = 0;
    priced = 1;

    for (stage = relabel_batch_run_next_stage(b, 0); stage != 0;
         stage = relabel_batch_run_next_stage(b, stage))
    {
        run->requests += b->sent[stage];
        run->failures += b->failed[stage];

        if (b->sent[stage] == 0) {
            continue;
        }

        relabel_batch_report_stage(b, stage, user, &ts, &tb, &priced);
    }

    run->retries = b->rounds_retried;

    if (priced && ts > 0) {
        relabel_run_log(run, "cost: batch $%.4f, synchronous $%.4f (saved "
                        "$%.4f, %.0f%%)%s", tb, ts, ts - tb,
                        (ts - tb) / ts * 100,
                        b->bc->nprices ? ""
                        : "; prices: built-in table, OpenAI's as of "
                          RELABEL_PRICE_SNAPSHOT);
    }

    for (i = 0; user && i < b->bc->nprices; i++) {
        if (user[i].model[0]) {
            free((char *) user[i].model);
        }
    }

    free(user);
}
