
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel --batch: the MoA recipe off the module's own code.  The
 * settings mirror the directives (moa_proposers, moa_proposer_temperature,
 * moa_proposer_n, moa_proposer_max_tokens, moa_critique, moa_critic's model
 * and temperature, moa_critique_temperature, moa_critic_max_tokens,
 * moa_aggregator's model and temperature, the prompt files,
 * moa_min_proposals, moa_unknown_params, moa_fallback), and each stage body
 * is made as ngx_http_moa_stages.c makes it: the row's online request is
 * parsed and checked by request.c, the bodies come from stage_body.c, the
 * candidates from prompt.c over replies parsed by reply.c.
 */


#define _GNU_SOURCE

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_moa_json.h"
#include "ngx_http_moa_buf_json.h"
#include "ngx_http_moa_params.h"
#include "ngx_http_moa_prompt.h"
#include "ngx_http_moa_stage_body.h"
#include "relabel_batch_recipe.h"


static int relabel_batch_recipe_temperature(const char *name,
    const char *value, char *err, size_t errlen);
static int relabel_batch_recipe_prompt(const char *path, const char *dflt,
    char **json, size_t *len, char *err, size_t errlen);
static int relabel_batch_recipe_flat(ngx_http_moa_body_t *body, int rc,
    ngx_http_moa_buf_t *out);
static int relabel_batch_recipe_targets(relabel_batch_recipe_t *rc,
    char *err, size_t errlen);


/* as the module checks moa_*_temperature: a plain JSON number, 0 to 2 */
static int
relabel_batch_recipe_temperature(const char *name, const char *value,
    char *err, size_t errlen)
{
    double  t;
    size_t  n;

    if (value == NULL) {
        return 0;
    }

    n = strlen(value);

    if (n == 0 || n > 16 || value[0] < '0' || value[0] > '9'
        || ngx_http_moa_json_valid(value, n) != 0
        || (t = strtod(value, NULL)) < 0 || t > 2)
    {
        snprintf(err, errlen, "%s: invalid temperature \"%s\": expected a "
                 "number from 0 to 2", name, value);
        return -1;
    }

    return 0;
}


/* a prompt template file (or the built-in one), escaped as the module does */
static int
relabel_batch_recipe_prompt(const char *path, const char *dflt, char **json,
    size_t *len, char *err, size_t errlen)
{
    long                 size;
    FILE                *f;
    char                *text;
    size_t               n;
    const char          *why;
    ngx_http_moa_buf_t   b;

    text = NULL;
    n = strlen(dflt);

    if (path) {
        f = fopen(path, "rb");
        if (f == NULL) {
            snprintf(err, errlen, "prompt file \"%s\": %s", path,
                     strerror(errno));
            return -1;
        }

        size = (fseek(f, 0, SEEK_END) == 0) ? ftell(f) : -1;

        if (size <= 0 || size > 1024 * 1024) {
            snprintf(err, errlen, "prompt file \"%s\" is empty or over 1m",
                     path);
            fclose(f);
            return -1;
        }

        text = malloc(size);
        n = (size_t) size;

        if (text == NULL || fseek(f, 0, SEEK_SET) != 0
            || fread(text, 1, n, f) != n)
        {
            snprintf(err, errlen, "prompt file \"%s\": cannot read it", path);
            free(text);
            fclose(f);
            return -1;
        }

        fclose(f);

        why = ngx_http_moa_prompt_check(text, n);
        if (why) {
            snprintf(err, errlen, "prompt file \"%s\": %s", path, why);
            free(text);
            return -1;
        }
    }

    memset(&b, 0, sizeof(ngx_http_moa_buf_t));
    ngx_http_moa_buf_json_inner(&b, text ? text : dflt, n);
    free(text);

    if (b.nomem || ngx_http_moa_buf_cstring(&b) == NULL) {
        ngx_http_moa_buf_free(&b);
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    *json = b.data;
    *len = b.len;

    return 0;
}


int
relabel_batch_recipe_init(relabel_batch_recipe_t *rc,
    const relabel_batch_conf_t *bc, const char *model,
    const relabel_param_t *params, size_t nparams, char *err, size_t errlen)
{
    memset(rc, 0, sizeof(relabel_batch_recipe_t));

    rc->bc = bc;
    rc->model = model;
    rc->client_model = model;
    rc->params = params;
    rc->nparams = nparams;

    if (strcmp(bc->unknown_params, "pass") == 0) {
        rc->unknown = NGX_HTTP_MOA_PARAMS_PASS;
    } else if (strcmp(bc->unknown_params, "drop") == 0) {
        rc->unknown = NGX_HTTP_MOA_PARAMS_DROP;
    } else if (strcmp(bc->unknown_params, "reject") == 0) {
        rc->unknown = NGX_HTTP_MOA_PARAMS_REJECT;
    } else {
        snprintf(err, errlen, "--unknown-params: expected pass, drop or "
                 "reject, got \"%s\"", bc->unknown_params);
        return -1;
    }

    if (strcmp(bc->fallback, "candidate") != 0
        && strcmp(bc->fallback, "error") != 0)
    {
        snprintf(err, errlen, "--fallback: expected candidate or error, "
                 "got \"%s\"", bc->fallback);
        return -1;
    }

    rc->fallback = strcmp(bc->fallback, "candidate") == 0;

    if (relabel_batch_recipe_temperature("--proposer-temperature",
                                         bc->proposer_temperature, err,
                                         errlen) != 0
        || relabel_batch_recipe_temperature("--critique-temperature",
                                            bc->critique_temperature, err,
                                            errlen) != 0
        || relabel_batch_recipe_temperature("--aggregator-temperature",
                                            bc->aggregator_temperature, err,
                                            errlen) != 0)
    {
        return -1;
    }

    rc->expected = (int) bc->proposers;
    rc->ncalls = bc->proposer_n ? 1 : rc->expected;

    if (bc->nproposer_list) {
        /* as moa_proposer: the list replaces moa_proposers and _n */
        if (relabel_batch_recipe_targets(rc, err, errlen) != 0) {
            relabel_batch_recipe_free(rc);
            return -1;
        }

        rc->expected = (int) bc->nproposer_list;
        rc->ncalls = rc->expected;
    }

    rc->need = bc->min_proposals < rc->expected ? (int) bc->min_proposals
                                                : rc->expected;

    if (relabel_batch_recipe_prompt(bc->critique_prompt,
                                    ngx_http_moa_prompt_critique,
                                    &rc->critique_tpl, &rc->critique_len,
                                    err, errlen) != 0
        || relabel_batch_recipe_prompt(bc->synthesis_prompt,
                                       ngx_http_moa_prompt_synthesis,
                                       &rc->synthesis_tpl, &rc->synthesis_len,
                                       err, errlen) != 0)
    {
        relabel_batch_recipe_free(rc);
        return -1;
    }

    return 0;
}


/*
 * --proposer model=M,temperature=T (either or both, comma or space
 * separated): what moa_proposer's model= and temperature= say
 */
static int
relabel_batch_recipe_targets(relabel_batch_recipe_t *rc, char *err,
    size_t errlen)
{
    char                    *arg, *tok, *save, **dst;
    size_t                   i;
    relabel_batch_target_t  *t;

    rc->targets = calloc(rc->bc->nproposer_list,
                         sizeof(relabel_batch_target_t));
    if (rc->targets == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    for (i = 0; i < rc->bc->nproposer_list; i++) {
        t = &rc->targets[i];
        arg = strdup(rc->bc->proposer_list[i]);
        if (arg == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }

        for (tok = strtok_r(arg, ", ", &save); tok;
             tok = strtok_r(NULL, ", ", &save))
        {
            dst = strncmp(tok, "model=", 6) == 0 ? &t->model
                  : strncmp(tok, "temperature=", 12) == 0 ? &t->temperature
                  : NULL;

            if (dst == NULL || *dst || strchr(tok, '=')[1] == '\0'
                || (*dst = strdup(strchr(tok, '=') + 1)) == NULL)
            {
                snprintf(err, errlen, "--proposer: expected "
                         "model=M[,temperature=T], got \"%s\"",
                         rc->bc->proposer_list[i]);
                free(arg);
                return -1;
            }
        }

        free(arg);

        if (t->model == NULL && t->temperature == NULL) {
            snprintf(err, errlen, "--proposer: expected "
                     "model=M[,temperature=T], got \"%s\"",
                     rc->bc->proposer_list[i]);
            return -1;
        }

        if (relabel_batch_recipe_temperature("--proposer", t->temperature,
                                             err, errlen) != 0)
        {
            return -1;
        }
    }

    return 0;
}


void
relabel_batch_recipe_free(relabel_batch_recipe_t *rc)
{
    size_t  i;

    for (i = 0; rc->targets && i < rc->bc->nproposer_list; i++) {
        free(rc->targets[i].model);
        free(rc->targets[i].temperature);
    }

    free(rc->targets);
    rc->targets = NULL;
    free(rc->critique_tpl);
    free(rc->synthesis_tpl);
    rc->critique_tpl = NULL;
    rc->synthesis_tpl = NULL;
}


const char *
relabel_batch_recipe_stage_model(const relabel_batch_recipe_t *rc, int stage)
{
    if (stage == RELABEL_BATCH_CRITIQUE && rc->bc->critic_model) {
        return rc->bc->critic_model;
    }

    if (stage == RELABEL_BATCH_SYNTHESIS && rc->bc->aggregator_model) {
        return rc->bc->aggregator_model;
    }

    return rc->model;
}


/* the model of one call: a proposal's is its --proposer's, if any */
const char *
relabel_batch_recipe_call_model(const relabel_batch_recipe_t *rc, int stage,
    int call)
{
    if (stage == RELABEL_BATCH_PROPOSAL && rc->targets
        && rc->targets[call].model)
    {
        return rc->targets[call].model;
    }

    return relabel_batch_recipe_stage_model(rc, stage);
}


/* every setting that shapes a body, as text: a run's digest covers it */
int
relabel_batch_recipe_settings(const relabel_batch_recipe_t *rc,
    ngx_http_moa_buf_t *b)
{
    size_t                       i;
    const relabel_batch_conf_t  *bc;

    bc = rc->bc;

    ngx_http_moa_buf_printf(b, "model=%s proposers=%ld pt=%s pn=%d pmax=%ld "
                            "critique=%d cm=%s ct=%s cmax=%ld am=%s at=%s "
                            "min=%ld unknown=%d fallback=%d\n", rc->model,
                            bc->proposers, bc->proposer_temperature,
                            bc->proposer_n, bc->proposer_max_tokens,
                            bc->critique,
                            bc->critic_model ? bc->critic_model : "-",
                            bc->critique_temperature,
                            bc->critic_max_tokens,
                            bc->aggregator_model ? bc->aggregator_model : "-",
                            bc->aggregator_temperature
                            ? bc->aggregator_temperature : "-",
                            bc->min_proposals, rc->unknown, rc->fallback);

    for (i = 0; i < rc->nparams; i++) {
        ngx_http_moa_buf_printf(b, "param %s=%s\n", rc->params[i].key,
                                rc->params[i].value);
    }

    for (i = 0; rc->targets && i < bc->nproposer_list; i++) {
        ngx_http_moa_buf_printf(b, "proposer %s %s\n",
                                rc->targets[i].model
                                ? rc->targets[i].model : "-",
                                rc->targets[i].temperature
                                ? rc->targets[i].temperature : "-");
    }

    ngx_http_moa_buf_add(b, rc->critique_tpl, rc->critique_len);
    ngx_http_moa_buf_add(b, rc->synthesis_tpl, rc->synthesis_len);

    return b->nomem ? -1 : 0;
}


/*
 * The row's request as the online mode sends it to the module, parsed and
 * checked by the module's code: 0, or -1 with the module's 400 message
 * (or the record's fault) in err.
 */
int
relabel_batch_recipe_request(const relabel_batch_recipe_t *rc,
    const char *text, size_t len, relabel_batch_request_t *r, char *err,
    size_t errlen)
{
    const char            *why;
    ngx_http_moa_error_t   e;

    memset(r, 0, sizeof(relabel_batch_request_t));

    why = relabel_record_split(text, len, &r->rec);
    if (why) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }

    if (relabel_record_request_build(&r->body, text, &r->rec,
                                     rc->client_model, rc->params,
                                     rc->nparams) != 0)
    {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    if (ngx_http_moa_request_parse(&r->req, r->body.data, r->body.len, &e)
        != 0
        || ngx_http_moa_request_check_moa(&r->req, rc->unknown, &e) != 0)
    {
        snprintf(err, errlen, "HTTP %d: %s", e.status, e.message);
        return -1;
    }

    ngx_http_moa_request_compact(&r->req);

    return 0;
}


void
relabel_batch_recipe_request_free(relabel_batch_request_t *r)
{
    ngx_http_moa_request_free(&r->req);
    ngx_http_moa_buf_free(&r->body);
}


static int
relabel_batch_recipe_flat(ngx_http_moa_body_t *body, int rc,
    ngx_http_moa_buf_t *out)
{
    if (rc == 0) {
        ngx_http_moa_body_flat(body, out);
        rc = out->nomem ? -1 : 0;
    }

    ngx_http_moa_body_free(body);

    return rc;
}


/* proposal call "call" of a row, as ngx_http_moa_stages_start_proposals() */
int
relabel_batch_recipe_proposal(const relabel_batch_recipe_t *rc,
    relabel_batch_request_t *r, int call, ngx_http_moa_buf_t *out)
{
    ngx_http_moa_body_t               body;
    ngx_http_moa_stage_body_params_t  cp;

    memset(&body, 0, sizeof(ngx_http_moa_body_t));
    memset(&cp, 0, sizeof(ngx_http_moa_stage_body_params_t));

    /* as ngx_http_moa_target_params(): a proposer's own, else the stage's */
    cp.model = relabel_batch_recipe_call_model(rc, RELABEL_BATCH_PROPOSAL,
                                               call);
    cp.model_len = strlen(cp.model);
    cp.temperature = rc->targets && rc->targets[call].temperature
                     ? rc->targets[call].temperature
                     : rc->bc->proposer_temperature;
    cp.temperature_len = strlen(cp.temperature);
    cp.max_tokens = rc->bc->proposer_max_tokens;
    cp.n = rc->bc->proposer_n && rc->targets == NULL ? rc->expected : 0;
    cp.index = call;

    return relabel_batch_recipe_flat(&body,
               ngx_http_moa_stage_body_proposal(&body, &r->req, &cp), out);
}


/*
 * The candidates of a row, as ngx_http_moa_candidates_gather(): the usable
 * choices of the proposal replies in call order (only as many choices a
 * reply as were asked of it); replies[i].p NULL for a call that failed.
 * The first candidate is the fallback answer.
 */
int
relabel_batch_recipe_candidates(const relabel_batch_recipe_t *rc,
    ngx_http_moa_reply_t *replies, int nreplies, ngx_http_moa_buf_t *text,
    int *ncands, int *first_call, int *first_choice)
{
    int                               i, j, n, asked;
    ngx_http_moa_prompt_candidate_t  *cands;

    asked = rc->expected / rc->ncalls;

    cands = calloc(rc->expected + 1, sizeof(ngx_http_moa_prompt_candidate_t));
    if (cands == NULL) {
        return -1;
    }

    n = 0;
    *first_call = -1;
    *first_choice = 0;

    for (i = 0; i < nreplies; i++) {
        if (replies[i].p == NULL) {
            continue;
        }

        for (j = 0; j < replies[i].nchoices && j < asked; j++) {
            if (!ngx_http_moa_reply_choice_usable(&replies[i].choices[j])) {
                continue;
            }

            if (n == 0) {
                *first_call = i;
                *first_choice = j;
            }

            cands[n++].choice = &replies[i].choices[j];
        }
    }

    *ncands = n;

    i = n ? ngx_http_moa_prompt_candidates(text, cands, n) : 0;
    free(cands);

    return i;
}


static void
relabel_batch_recipe_params(const relabel_batch_recipe_t *rc, int stage,
    ngx_http_moa_stage_body_params_t *cp)
{
    const char  *t;

    memset(cp, 0, sizeof(ngx_http_moa_stage_body_params_t));

    cp->model = relabel_batch_recipe_stage_model(rc, stage);
    cp->model_len = strlen(cp->model);

    t = stage == RELABEL_BATCH_CRITIQUE ? rc->bc->critique_temperature
                                        : rc->bc->aggregator_temperature;

    if (t) {
        cp->temperature = t;
        cp->temperature_len = strlen(t);
    }

    if (stage == RELABEL_BATCH_CRITIQUE) {
        cp->max_tokens = rc->bc->critic_max_tokens;
    }
}


int
relabel_batch_recipe_critique(const relabel_batch_recipe_t *rc,
    relabel_batch_request_t *r, const ngx_http_moa_buf_t *cands, int ncands,
    ngx_http_moa_buf_t *out)
{
    ngx_http_moa_body_t               body;
    ngx_http_moa_stage_body_params_t  cp;

    memset(&body, 0, sizeof(ngx_http_moa_body_t));
    relabel_batch_recipe_params(rc, RELABEL_BATCH_CRITIQUE, &cp);

    return relabel_batch_recipe_flat(&body,
               ngx_http_moa_stage_body_critique(&body, &r->req, &cp,
                                                rc->critique_tpl,
                                                rc->critique_len, cands,
                                                ncands),
               out);
}


int
relabel_batch_recipe_synthesis(const relabel_batch_recipe_t *rc,
    relabel_batch_request_t *r, const ngx_http_moa_buf_t *cands, int ncands,
    const ngx_http_moa_choice_t *critique, ngx_http_moa_buf_t *out)
{
    ngx_http_moa_body_t               body;
    ngx_http_moa_stage_body_params_t  cp;

    memset(&body, 0, sizeof(ngx_http_moa_body_t));
    relabel_batch_recipe_params(rc, RELABEL_BATCH_SYNTHESIS, &cp);

    return relabel_batch_recipe_flat(&body,
               ngx_http_moa_stage_body_synthesis(&body, &r->req, &cp,
                                                 rc->synthesis_tpl,
                                                 rc->synthesis_len, cands,
                                                 ncands, critique),
               out);
}
