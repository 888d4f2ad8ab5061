
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The $moa_* variables: the model, the candidates, the tokens and the
 * stage times of a request, the stage and call of a subrequest, and the
 * $moa_capture line (one fine-tuning example per answered request).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_moa_common.h"
#include "ngx_http_moa_variables.h"
#include "ngx_http_moa_call.h"

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_reply.h"
#include "ngx_http_moa_usage.h"
#include "ngx_http_moa_collect.h"
#include "ngx_http_moa_capture.h"


#define NGX_HTTP_MOA_VAR_MODEL              0
#define NGX_HTTP_MOA_VAR_BASE_MODEL         1
#define NGX_HTTP_MOA_VAR_CANDIDATES         2
#define NGX_HTTP_MOA_VAR_UPSTREAM_CALLS     3
#define NGX_HTTP_MOA_VAR_PROMPT_TOKENS      4
#define NGX_HTTP_MOA_VAR_COMPLETION_TOKENS  5
#define NGX_HTTP_MOA_VAR_TOTAL_TOKENS       6
#define NGX_HTTP_MOA_VAR_PROPOSAL_TIME      7
#define NGX_HTTP_MOA_VAR_CRITIQUE_TIME      8
#define NGX_HTTP_MOA_VAR_SYNTHESIS_TIME     9
#define NGX_HTTP_MOA_VAR_RECIPE            10
#define NGX_HTTP_MOA_VAR_LAYERS            11
#define NGX_HTTP_MOA_VAR_SHORTCUT          12
#define NGX_HTTP_MOA_VAR_SELECTED          13


static ngx_int_t ngx_http_moa_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_moa_stage_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_moa_call_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_moa_recipe_variable(ngx_http_request_t *r,
    ngx_http_moa_ctx_t *ctx, ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_moa_capture_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_moa_capture(ngx_http_moa_ctx_t *ctx,
    ngx_str_t *line);
static ngx_int_t ngx_http_moa_api_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


/* subrequests share the variable cache with the main request */
#define NGX_HTTP_MOA_VAR  NGX_HTTP_VAR_NOCACHEABLE


static ngx_http_variable_t  ngx_http_moa_vars[] = {

    { ngx_string("moa_model"), NULL, ngx_http_moa_variable,
      NGX_HTTP_MOA_VAR_MODEL, NGX_HTTP_MOA_VAR, 0 },

    { ngx_string("moa_base_model"), NULL, ngx_http_moa_variable,
      NGX_HTTP_MOA_VAR_BASE_MODEL, NGX_HTTP_MOA_VAR, 0 },

    { ngx_string("moa_candidates"), NULL, ngx_http_moa_variable,
      NGX_HTTP_MOA_VAR_CANDIDATES, NGX_HTTP_MOA_VAR, 0 },

    { ngx_string("moa_upstream_calls"), NULL, ngx_http_moa_variable,
      NGX_HTTP_MOA_VAR_UPSTREAM_CALLS, NGX_HTTP_MOA_VAR, 0 },

    { ngx_string("moa_prompt_tokens"), NULL, ngx_http_moa_variable,
      NGX_HTTP_MOA_VAR_PROMPT_TOKENS, NGX_HTTP_MOA_VAR, 0 },

    { ngx_string("moa_completion_tokens"), NULL, ngx_http_moa_variable,
      NGX_HTTP_MOA_VAR_COMPLETION_TOKENS, NGX_HTTP_MOA_VAR, 0 },

    { ngx_string("moa_total_tokens"), NULL, ngx_http_moa_variable,
      NGX_HTTP_MOA_VAR_TOTAL_TOKENS, NGX_HTTP_MOA_VAR, 0 },

    { ngx_string("moa_proposal_time"), NULL, ngx_http_moa_variable,
      NGX_HTTP_MOA_VAR_PROPOSAL_TIME, NGX_HTTP_MOA_VAR, 0 },

    { ngx_string("moa_critique_time"), NULL, ngx_http_moa_variable,
      NGX_HTTP_MOA_VAR_CRITIQUE_TIME, NGX_HTTP_MOA_VAR, 0 },

    { ngx_string("moa_synthesis_time"), NULL, ngx_http_moa_variable,
      NGX_HTTP_MOA_VAR_SYNTHESIS_TIME, NGX_HTTP_MOA_VAR, 0 },

    { ngx_string("moa_recipe"), NULL, ngx_http_moa_variable,
      NGX_HTTP_MOA_VAR_RECIPE, NGX_HTTP_MOA_VAR, 0 },

    { ngx_string("moa_layers"), NULL, ngx_http_moa_variable,
      NGX_HTTP_MOA_VAR_LAYERS, NGX_HTTP_MOA_VAR, 0 },

    { ngx_string("moa_shortcut"), NULL, ngx_http_moa_variable,
      NGX_HTTP_MOA_VAR_SHORTCUT, NGX_HTTP_MOA_VAR, 0 },

    { ngx_string("moa_selected"), NULL, ngx_http_moa_variable,
      NGX_HTTP_MOA_VAR_SELECTED, NGX_HTTP_MOA_VAR, 0 },

    { ngx_string("moa_stage"), NULL, ngx_http_moa_stage_variable,
      0, NGX_HTTP_MOA_VAR, 0 },

    { ngx_string("moa_layer"), NULL, ngx_http_moa_call_variable,
      1, NGX_HTTP_MOA_VAR, 0 },

    { ngx_string("moa_call"), NULL, ngx_http_moa_call_variable,
      0, NGX_HTTP_MOA_VAR, 0 },

    { ngx_string("moa_capture"), NULL, ngx_http_moa_capture_variable,
      0, NGX_HTTP_MOA_VAR, 0 },

    { ngx_string("moa_api"), NULL, ngx_http_moa_api_variable,
      0, NGX_HTTP_MOA_VAR, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_moa_variables_add(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_moa_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_moa_time_value(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    ngx_uint_t timed, ngx_msec_t ms)
{
    u_char  *p;

    if (!timed) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN + 4);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%T.%03M", (time_t) ms / 1000, ms % 1000) - p;
    v->data = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_moa_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    u_char              *p;
    ngx_int_t            n;
    ngx_http_moa_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_moa_module);

    if (ctx == NULL || ctx->phase == NGX_HTTP_MOA_PHASE_BODY) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    switch (data) {

    case NGX_HTTP_MOA_VAR_MODEL:
        if (ctx->model) {
            v->len = ctx->model->id.len;
            v->data = ctx->model->id.data;

        } else if (ctx->req.model) {
            v->len = ngx_strlen(ctx->req.model);
            v->data = (u_char *) ctx->req.model;

        } else {
            /* a body that is not JSON, or without a model */
            v->not_found = 1;
        }

        return NGX_OK;

    case NGX_HTTP_MOA_VAR_BASE_MODEL:
        if (ctx->model == NULL) {
            v->not_found = 1;

        } else {
            v->len = ctx->model->base.len;
            v->data = ctx->model->base.data;
        }

        return NGX_OK;

    case NGX_HTTP_MOA_VAR_CANDIDATES:
        n = ctx->ncands;
        break;

    case NGX_HTTP_MOA_VAR_UPSTREAM_CALLS:
        n = ctx->ncalls;
        break;

    case NGX_HTTP_MOA_VAR_PROMPT_TOKENS:
        n = ngx_http_moa_usage_get(ngx_http_moa_ctx_usage(ctx),
                                   "prompt_tokens");
        break;

    case NGX_HTTP_MOA_VAR_COMPLETION_TOKENS:
        n = ngx_http_moa_usage_get(ngx_http_moa_ctx_usage(ctx),
                                   "completion_tokens");
        break;

    case NGX_HTTP_MOA_VAR_TOTAL_TOKENS:
        n = ngx_http_moa_usage_get(ngx_http_moa_ctx_usage(ctx), "total_tokens");
        break;

    case NGX_HTTP_MOA_VAR_PROPOSAL_TIME:
        return ngx_http_moa_time_value(r, v, ctx->proposals_timed,
                                       ctx->proposal_time);

    case NGX_HTTP_MOA_VAR_CRITIQUE_TIME:
        return ngx_http_moa_time_value(r, v, ctx->critique_timed,
                                       ctx->critique_time);

    case NGX_HTTP_MOA_VAR_SYNTHESIS_TIME:
        return ngx_http_moa_time_value(r, v, ctx->synthesis_timed,
                                       ctx->synthesis_time);

    default:
        return ngx_http_moa_recipe_variable(r, ctx, v, data);
    }

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%i", n) - p;
    v->data = p;

    return NGX_OK;
}


/*
 * $moa_recipe (synthesize, select), $moa_layers (the layers run),
 * $moa_shortcut (agreement), $moa_selected (the judge's pick, 1..)
 */
static ngx_int_t
ngx_http_moa_recipe_variable(ngx_http_request_t *r, ngx_http_moa_ctx_t *ctx,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char      *p;
    ngx_uint_t   n;

    if (ctx->model == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case NGX_HTTP_MOA_VAR_RECIPE:
        if (ctx->recipe.aggregate == NGX_HTTP_MOA_AGGREGATE_SELECT) {
            ngx_str_set(v, "select");

        } else {
            ngx_str_set(v, "synthesize");
        }

        return NGX_OK;

    case NGX_HTTP_MOA_VAR_SHORTCUT:
        if (ctx->shortcut == NGX_HTTP_MOA_SHORTCUT_AGREEMENT) {
            ngx_str_set(v, "agreement");

        } else {
            v->not_found = 1;
        }

        return NGX_OK;

    case NGX_HTTP_MOA_VAR_LAYERS:
        n = ctx->layers_done;
        break;

    default: /* NGX_HTTP_MOA_VAR_SELECTED */
        if (ctx->selected == 0) {
            v->not_found = 1;
            return NGX_OK;
        }

        n = ctx->selected;
    }

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%ui", n) - p;
    v->data = p;

    return NGX_OK;
}


/* "chat" or "responses": the API a MoA location's request came through */
static ngx_int_t
ngx_http_moa_api_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_moa_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_moa_module);

    if (ctx == NULL || ctx->conf == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    if (ctx->conf->api == NGX_HTTP_MOA_API_RESPONSES) {
        v->len = sizeof("responses") - 1;
        v->data = (u_char *) "responses";

    } else {
        v->len = sizeof("chat") - 1;
        v->data = (u_char *) "chat";
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_moa_stage_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t            *name;
    ngx_http_moa_call_t  *call;

    call = ngx_http_moa_call_get(r);

    if (call == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    name = ngx_http_moa_call_stage_name(call->stage);

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->len = name->len;
    v->data = name->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_moa_call_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char               *p;
    ngx_uint_t            n;
    ngx_http_moa_call_t  *call;

    call = ngx_http_moa_call_get(r);

    /* $moa_layer: a proposal's layer (moa_layers), 1.. */

    if (call == NULL
        || (data && (call->stage != NGX_HTTP_MOA_PROPOSAL
                     || call->ctx->per_layer == 0)))
    {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    n = data ? (ngx_uint_t) (call - call->ctx->calls) / call->ctx->per_layer
               + 1
             : call->index;

    v->len = ngx_sprintf(p, "%ui", n) - p;
    v->data = p;

    return NGX_OK;
}


/* one line of a fine-tuning file per answered request, empty otherwise */
static ngx_int_t
ngx_http_moa_capture_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_moa_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_moa_module);

    if (ctx == NULL || !ctx->succeeded || r != r->main) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (ctx->capture_line.data == NULL
        && ngx_http_moa_capture(ctx, &ctx->capture_line) != NGX_OK)
    {
        v->not_found = 1;
        return NGX_OK;
    }

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->len = ctx->capture_line.len;
    v->data = ctx->capture_line.data;

    return NGX_OK;
}


/* the $moa_capture line of an answered request, in the request's pool */
static ngx_int_t
ngx_http_moa_capture(ngx_http_moa_ctx_t *ctx, ngx_str_t *line)
{
    ngx_time_t                   *tp;
    ngx_msec_int_t                ms;
    ngx_http_request_t           *r;
    ngx_http_moa_buf_t            out;
    ngx_http_variable_value_t    *v;
    ngx_http_moa_main_conf_t     *mcf;
    ngx_http_moa_capture_meta_t   meta;

    r = ctx->request;

    if (ctx->answer_owned) {
        /* void */

    } else if (ctx->answer) {
        ctx->answer_owned = ngx_http_moa_reply_choice_message(ctx->answer);

    } else if (ctx->capture && !ctx->collect.failed) {

        /* a stream: the answer put back together from its deltas */

        ctx->answer_owned = ngx_http_moa_collect_message(&ctx->collect);
    }

    if (ctx->answer_owned == NULL) {
        return NGX_DECLINED;
    }

    ngx_memzero(&meta, sizeof(ngx_http_moa_capture_meta_t));

    meta.model = ctx->req.model;
    meta.base_model = ctx->model ? (char *) ctx->model->base.data : NULL;
    meta.usage = ctx->usage->root.child ? &ctx->usage->root : NULL;
    meta.time = r->start_sec + r->start_msec / 1000.0;

    tp = ngx_timeofday();
    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));
    meta.duration = ngx_max(ms, 0) / 1000.0;
    meta.fallback = ctx->fallback_used;

    if (ctx->model) {
        meta.recipe = (ctx->recipe.aggregate == NGX_HTTP_MOA_AGGREGATE_SELECT)
                      ? "select" : "synthesize";
        meta.layers = (int) ctx->layers_done;
        meta.shortcut = (ctx->shortcut == NGX_HTTP_MOA_SHORTCUT_AGREEMENT)
                        ? "agreement" : NULL;
        meta.selected = (int) ctx->selected;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_moa_module);

    if (mcf->request_id != NGX_ERROR) {
        v = ngx_http_get_indexed_variable(r, mcf->request_id);

        if (v && !v->not_found) {
            meta.request_id = (char *) v->data;
            meta.request_id_len = v->len;
        }
    }

    ngx_memzero(&out, sizeof(ngx_http_moa_buf_t));

    if (ngx_http_moa_capture_line(&out, &ctx->req, ctx->answer_owned, &meta)
        != 0)
    {
        ngx_http_moa_buf_free(&out);
        return NGX_ERROR;
    }

    line->data = ngx_pnalloc(r->pool, out.len);
    if (line->data == NULL) {
        ngx_http_moa_buf_free(&out);
        return NGX_ERROR;
    }

    line->len = out.len;
    ngx_memcpy(line->data, out.data, out.len);
    ngx_http_moa_buf_free(&out);

    return NGX_OK;
}
