
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
    char **json, size_t *len, size_t *raw, char *err, size_t errlen);
static int relabel_batch_recipe_recipes(relabel_batch_recipe_t *rc,
    char *err, size_t errlen);
static void relabel_batch_recipe_params(const relabel_batch_recipe_t *rc,
    const relabel_batch_request_t *r, int stage, int call,
    ngx_http_moa_stage_body_params_t *cp);
static int relabel_batch_recipe_row(const relabel_batch_recipe_t *rc,
    relabel_batch_request_t *r, char *err, size_t errlen);
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
    size_t *len, size_t *raw, char *err, size_t errlen)
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

    /* moa_max_total_tokens weighs the template as read */
    *raw = n;

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
                                    &rc->cost.critique_tpl, err, errlen) != 0
        || relabel_batch_recipe_prompt(bc->synthesis_prompt,
                                       ngx_http_moa_prompt_synthesis,
                                       &rc->synthesis_tpl, &rc->synthesis_len,
                                       &rc->cost.synthesis_tpl, err, errlen)
           != 0
        || relabel_batch_recipe_prompt(bc->layer_prompt,
                                       ngx_http_moa_prompt_layer,
                                       &rc->layer_tpl, &rc->layer_len,
                                       &rc->cost.layer_tpl, err, errlen) != 0
        || relabel_batch_recipe_prompt(bc->select_prompt,
                                       ngx_http_moa_prompt_select,
                                       &rc->select_tpl, &rc->select_len,
                                       &rc->cost.select_tpl, err, errlen) != 0
        || relabel_batch_recipe_recipes(rc, err, errlen) != 0)
    {
        relabel_batch_recipe_free(rc);
        return -1;
    }

    return 0;
}


/* moa_layers, moa_aggregate, moa_select_format, moa_agreement */
static int
relabel_batch_recipe_recipes(relabel_batch_recipe_t *rc, char *err,
    size_t errlen)
{
    const relabel_batch_conf_t  *bc;

    bc = rc->bc;

    if (bc->layers < 1 || bc->layers > NGX_HTTP_MOA_RECIPE_MAX_LAYERS) {
        snprintf(err, errlen, "--layers: expected 1 to %d, got %ld",
                 NGX_HTTP_MOA_RECIPE_MAX_LAYERS, bc->layers);
        return -1;
    }

    rc->recipe.proposers = rc->expected;
    rc->recipe.layers = (int) bc->layers;
    rc->recipe.critique = bc->critique;
    rc->recipe.agreement = bc->agreement;

    if (strcmp(bc->aggregate, "synthesize") == 0) {
        rc->recipe.aggregate = NGX_HTTP_MOA_AGGREGATE_SYNTHESIZE;
    } else if (strcmp(bc->aggregate, "select") == 0) {
        rc->recipe.aggregate = NGX_HTTP_MOA_AGGREGATE_SELECT;
    } else {
        snprintf(err, errlen, "--aggregate: expected synthesize or select, "
                 "got \"%s\"", bc->aggregate);
        return -1;
    }

    if (strcmp(bc->select_format, "json_schema") == 0) {
        rc->select_format = NGX_HTTP_MOA_SELECT_FORMAT_JSON_SCHEMA;
    } else if (strcmp(bc->select_format, "json_object") == 0) {
        rc->select_format = NGX_HTTP_MOA_SELECT_FORMAT_JSON_OBJECT;
    } else if (strcmp(bc->select_format, "none") == 0) {
        rc->select_format = NGX_HTTP_MOA_SELECT_FORMAT_NONE;
    } else {
        snprintf(err, errlen, "--select-format: expected json_schema, "
                 "json_object or none, got \"%s\"", bc->select_format);
        return -1;
    }

    rc->cost.total = bc->max_total_tokens;

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
    free(rc->layer_tpl);
    free(rc->select_tpl);
    rc->critique_tpl = NULL;
    rc->synthesis_tpl = NULL;
    rc->layer_tpl = NULL;
    rc->select_tpl = NULL;
}


const char *
relabel_batch_recipe_stage_model(const relabel_batch_recipe_t *rc, int stage)
{
    if ((stage == RELABEL_BATCH_CRITIQUE || stage == RELABEL_BATCH_SELECT)
        && rc->bc->critic_model)
    {
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
    if (relabel_batch_stage_layer(stage) && rc->targets
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

    ngx_http_moa_buf_printf(b, "layers=%ld aggregate=%d sf=%d sjs=%d "
                            "agreement=%d reasoning=%d total=%ld\n",
                            bc->layers, rc->recipe.aggregate,
                            rc->select_format, bc->select_json_schema,
                            bc->agreement, bc->reasoning,
                            bc->max_total_tokens);

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
    ngx_http_moa_buf_add(b, rc->layer_tpl, rc->layer_len);
    ngx_http_moa_buf_add(b, rc->select_tpl, rc->select_len);

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

    return relabel_batch_recipe_row(rc, r, err, errlen);
}


/*
 * The row's recipe as ngx_http_moa_recipes_init() makes a request's:
 * select for a json_schema answer (--select-json-schema), synthesis and
 * no agreement for n answers, the token budget of --max-total-tokens (or
 * the module's 400 when the row cannot fit).
 */
static int
relabel_batch_recipe_row(const relabel_batch_recipe_t *rc,
    relabel_batch_request_t *r, char *err, size_t errlen)
{
    ngx_http_moa_recipe_t       recipe;
    ngx_http_moa_recipe_cost_t  cost;

    recipe = rc->recipe;

    if (r->req.json_schema && rc->bc->select_json_schema) {
        recipe.aggregate = NGX_HTTP_MOA_AGGREGATE_SELECT;
    }

    if (r->req.n > 1) {
        recipe.aggregate = NGX_HTTP_MOA_AGGREGATE_SYNTHESIZE;
        recipe.agreement = 0;
    }

    r->select = recipe.aggregate == NGX_HTTP_MOA_AGGREGATE_SELECT;
    r->agreement = recipe.agreement;
    r->budget = 0;

    if (rc->cost.total <= 0) {
        return 0;
    }

    cost = rc->cost;
    cost.body = r->body.len;
    cost.n = r->req.n;

    r->budget = ngx_http_moa_recipe_budget(&recipe, &cost);

    if (r->budget == 0) {
        snprintf(err, errlen, "HTTP 400: The request cannot be answered "
                 "within moa_max_total_tokens (%lld tokens for every call "
                 "of the model '%.64s', the prompts estimated at one token "
                 "per %d bytes): send a shorter conversation or fewer "
                 "proposers or layers.", cost.total, r->req.model,
                 NGX_HTTP_MOA_RECIPE_TOKEN_BYTES);
        return -1;
    }

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


/*
 * What a call asks for, as ngx_http_moa_recipes_params(): a proposer's own
 * model and temperature, else the stage's (the judge's 0); none at all for
 * a reasoning model; the stage's token limit (0: the client's, for a call
 * that writes an answer) cut to the row's budget.
 */
static void
relabel_batch_recipe_params(const relabel_batch_recipe_t *rc,
    const relabel_batch_request_t *r, int stage, int call,
    ngx_http_moa_stage_body_params_t *cp)
{
    int                          answer;
    long long                    limit;
    const char                  *t;
    const relabel_batch_conf_t  *bc;

    bc = rc->bc;
    memset(cp, 0, sizeof(ngx_http_moa_stage_body_params_t));

    cp->model = relabel_batch_recipe_call_model(rc, stage, call);
    cp->model_len = strlen(cp->model);

    if (relabel_batch_stage_layer(stage)) {
        t = rc->targets && rc->targets[call].temperature
            ? rc->targets[call].temperature : bc->proposer_temperature;
        limit = bc->proposer_max_tokens;
        answer = 1;

    } else if (stage == RELABEL_BATCH_CRITIQUE) {
        t = bc->critique_temperature;
        limit = bc->critic_max_tokens;
        answer = 0;

    } else if (stage == RELABEL_BATCH_SELECT) {
        t = "0";
        limit = bc->critic_max_tokens;
        answer = 0;

    } else {
        t = bc->aggregator_temperature;
        limit = 0;
        answer = 1;
    }

    if (t) {
        cp->temperature = t;
        cp->temperature_len = strlen(t);
    }

    cp->reasoning = bc->reasoning;

    if (r->budget) {
        if (limit <= 0 && answer) {
            limit = r->req.max_tokens;
        }

        if (limit <= 0 || limit > r->budget) {
            limit = r->budget;
        }
    }

    cp->max_tokens = limit;
}


/* proposal call "call" of a row, as ngx_http_moa_stages_start_layer() */
int
relabel_batch_recipe_proposal(const relabel_batch_recipe_t *rc,
    relabel_batch_request_t *r, int call, ngx_http_moa_buf_t *out)
{
    ngx_http_moa_body_t               body;
    ngx_http_moa_stage_body_params_t  cp;

    memset(&body, 0, sizeof(ngx_http_moa_body_t));
    relabel_batch_recipe_params(rc, r, RELABEL_BATCH_PROPOSAL, call, &cp);

    cp.n = rc->bc->proposer_n && rc->targets == NULL ? rc->expected : 0;
    cp.index = call;

    return relabel_batch_recipe_flat(&body,
               ngx_http_moa_stage_body_proposal(&body, &r->req, &cp), out);
}


/* a proposal of layers 2..n, the previous layer's candidates in cands */
int
relabel_batch_recipe_layer(const relabel_batch_recipe_t *rc,
    relabel_batch_request_t *r, int call, const ngx_http_moa_buf_t *cands,
    int ncands, ngx_http_moa_buf_t *out)
{
    ngx_http_moa_body_t               body;
    ngx_http_moa_stage_body_params_t  cp;

    memset(&body, 0, sizeof(ngx_http_moa_body_t));
    relabel_batch_recipe_params(rc, r, RELABEL_BATCH_LAYER(2), call, &cp);

    cp.n = rc->bc->proposer_n && rc->targets == NULL ? rc->expected : 0;
    cp.index = call;

    return relabel_batch_recipe_flat(&body,
               ngx_http_moa_stage_body_layer(&body, &r->req, &cp,
                                             rc->layer_tpl, rc->layer_len,
                                             cands, ncands),
               out);
}


/* the judge of --aggregate select, as ngx_http_moa_recipes_start_select() */
int
relabel_batch_recipe_select(const relabel_batch_recipe_t *rc,
    relabel_batch_request_t *r, const ngx_http_moa_buf_t *cands, int ncands,
    ngx_http_moa_buf_t *out)
{
    ngx_http_moa_body_t               body;
    ngx_http_moa_stage_body_params_t  cp;

    memset(&body, 0, sizeof(ngx_http_moa_body_t));
    relabel_batch_recipe_params(rc, r, RELABEL_BATCH_SELECT, 0, &cp);

    return relabel_batch_recipe_flat(&body,
               ngx_http_moa_stage_body_select(&body, &r->req, &cp,
                                              rc->select_tpl, rc->select_len,
                                              cands, ncands,
                                              rc->select_format),
               out);
}


int
relabel_batch_recipe_critique(const relabel_batch_recipe_t *rc,
    relabel_batch_request_t *r, const ngx_http_moa_buf_t *cands, int ncands,
    ngx_http_moa_buf_t *out)
{
    ngx_http_moa_body_t               body;
    ngx_http_moa_stage_body_params_t  cp;

    memset(&body, 0, sizeof(ngx_http_moa_body_t));
    relabel_batch_recipe_params(rc, r, RELABEL_BATCH_CRITIQUE, 0, &cp);

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
    relabel_batch_recipe_params(rc, r, RELABEL_BATCH_SYNTHESIS, 0, &cp);

    return relabel_batch_recipe_flat(&body,
               ngx_http_moa_stage_body_synthesis(&body, &r->req, &cp,
                                                 rc->synthesis_tpl,
                                                 rc->synthesis_len, cands,
                                                 ncands, critique),
               out);
}
