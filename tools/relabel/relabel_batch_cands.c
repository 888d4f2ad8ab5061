/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel --batch: the candidates of a layer's proposal replies, as
 * the module gathers them (ngx_http_moa_stages.c): rendered for the next
 * prompts, compared for early agreement (recipe.c of the module), and
 * where the candidate a judge picked is.
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_http_moa_prompt.h"
#include "relabel_batch_recipe.h"


static int relabel_batch_cands_gather(const relabel_batch_recipe_t *rc,
    ngx_http_moa_reply_t *replies, int nreplies,
    const ngx_http_moa_choice_t **c, int *calls, int *choices);


/*
 * The usable choices of the proposal replies in call order, as
 * ngx_http_moa_candidates_gather(): only as many choices a reply as were
 * asked of it; replies[i].p NULL for a call that failed.  c, calls and
 * choices (any may be NULL) have room for rc->expected.
 */
static int
relabel_batch_cands_gather(const relabel_batch_recipe_t *rc,
    ngx_http_moa_reply_t *replies, int nreplies,
    const ngx_http_moa_choice_t **c, int *calls, int *choices)
{
    int  i, j, n, asked;

    asked = rc->expected / rc->ncalls;
    n = 0;

    for (i = 0; i < nreplies; i++) {
        if (replies[i].p == NULL) {
            continue;
        }

        for (j = 0; j < replies[i].nchoices && j < asked; j++) {
            if (!ngx_http_moa_reply_choice_usable(&replies[i].choices[j])) {
                continue;
            }

            if (c) {
                c[n] = &replies[i].choices[j];
            }

            if (calls) {
                calls[n] = i;
                choices[n] = j;
            }

            n++;
        }
    }

    return n;
}


/*
 * The candidates of a layer's replies rendered for the prompts; the first
 * candidate is the fallback answer.
 */
int
relabel_batch_cands_text(const relabel_batch_recipe_t *rc,
    ngx_http_moa_reply_t *replies, int nreplies, ngx_http_moa_buf_t *text,
    int *ncands, int *first_call, int *first_choice)
{
    int                               i, n, *calls;
    const ngx_http_moa_choice_t     **c;
    ngx_http_moa_prompt_candidate_t  *cands;

    cands = calloc(rc->expected + 1, sizeof(ngx_http_moa_prompt_candidate_t));
    c = calloc(rc->expected + 1, sizeof(ngx_http_moa_choice_t *));
    calls = calloc(2 * (rc->expected + 1), sizeof(int));

    if (cands == NULL || c == NULL || calls == NULL) {
        free(cands);
        free(c);
        free(calls);
        return -1;
    }

    n = relabel_batch_cands_gather(rc, replies, nreplies, c, calls,
                                    calls + rc->expected + 1);

    for (i = 0; i < n; i++) {
        cands[i].choice = c[i];
    }

    *ncands = n;
    *first_call = n ? calls[0] : -1;
    *first_choice = n ? calls[rc->expected + 1] : 0;

    i = n ? ngx_http_moa_prompt_candidates(text, cands, n) : 0;
    free(cands);
    free(c);
    free(calls);

    return i;
}


/*
 * Early agreement, as ngx_http_moa_recipes_agreement(): 1 when two or
 * more candidates of a layer are one answer, 0 when not, -1
 */
int
relabel_batch_cands_agree(const relabel_batch_recipe_t *rc,
    ngx_http_moa_reply_t *replies, int nreplies)
{
    int                            n, rv;
    const ngx_http_moa_choice_t  **c;

    c = calloc(rc->expected + 1, sizeof(ngx_http_moa_choice_t *));
    if (c == NULL) {
        return -1;
    }

    n = relabel_batch_cands_gather(rc, replies, nreplies, c, NULL, NULL);
    rv = n < 2 ? 0 : ngx_http_moa_recipe_agree(c, n);
    free(c);

    return rv;
}


/* where candidate k (0-based) of a layer's replies is: 0, or -1 */
int
relabel_batch_cands_pick(const relabel_batch_recipe_t *rc,
    ngx_http_moa_reply_t *replies, int nreplies, int k, int *call,
    int *choice)
{
    int  n, *calls;

    calls = calloc(2 * (rc->expected + 1), sizeof(int));
    if (calls == NULL) {
        return -1;
    }

    n = relabel_batch_cands_gather(rc, replies, nreplies, NULL, calls,
                                    calls + rc->expected + 1);

    if (k < 0 || k >= n) {
        free(calls);
        return -1;
    }

    *call = calls[k];
    *choice = calls[rc->expected + 1 + k];
    free(calls);

    return 0;
}
