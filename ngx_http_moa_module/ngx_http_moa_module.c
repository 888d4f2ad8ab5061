
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The module's registration: its directives, the main and location
 * configurations (created, merged, the prompts escaped once), and the
 * pre- and postconfiguration that set up the variables, the metrics and
 * the filters.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_moa_common.h"
#include "ngx_http_moa_handler.h"
#include "ngx_http_moa_models.h"
#include "ngx_http_moa_filter.h"
#include "ngx_http_moa_variables.h"
#include "ngx_http_moa_metrics.h"
#include "ngx_http_moa_metrics_page.h"


static ngx_int_t ngx_http_moa_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_moa_postconfiguration(ngx_conf_t *cf);
static void *ngx_http_moa_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_moa_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_moa_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);

static ngx_int_t ngx_http_moa_escape(ngx_conf_t *cf, ngx_str_t *text,
    ngx_str_t *json);
static char *ngx_http_moa_pass(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_moa_model(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_moa_proposer(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_moa_target(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_moa_temperature(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_moa_prompt(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_conf_num_bounds_t  ngx_http_moa_proposers_bounds = {
    ngx_conf_check_num_bounds, 1, 64
};

static ngx_conf_num_bounds_t  ngx_http_moa_min_proposals_bounds = {
    ngx_conf_check_num_bounds, 1, 64
};


static ngx_conf_enum_t  ngx_http_moa_fallback_modes[] = {
    { ngx_string("error"), NGX_HTTP_MOA_FALLBACK_ERROR },
    { ngx_string("candidate"), NGX_HTTP_MOA_FALLBACK_CANDIDATE },
    { ngx_null_string, 0 }
};


#define NGX_HTTP_MOA_CONF                                                    \
    (NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF)


static ngx_command_t  ngx_http_moa_commands[] = {

    { ngx_string("moa_pass"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_moa_pass,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("moa_model"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE2,
      ngx_http_moa_model,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("moa_proposers"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, proposers),
      &ngx_http_moa_proposers_bounds },

    { ngx_string("moa_proposer"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE123,
      ngx_http_moa_proposer,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("moa_proposer_temperature"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE1,
      ngx_http_moa_temperature,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, proposer_temperature),
      NULL },

    { ngx_string("moa_proposer_n"),
      NGX_HTTP_MOA_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, proposer_n),
      NULL },

    { ngx_string("moa_proposer_max_tokens"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, proposer_max_tokens),
      NULL },

    { ngx_string("moa_critique"),
      NGX_HTTP_MOA_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, critique),
      NULL },

    { ngx_string("moa_critic"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE123,
      ngx_http_moa_target,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, critic),
      NULL },

    { ngx_string("moa_critique_temperature"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE1,
      ngx_http_moa_temperature,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, critique_temperature),
      NULL },

    { ngx_string("moa_critic_max_tokens"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, critic_max_tokens),
      NULL },

    { ngx_string("moa_aggregator"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE123,
      ngx_http_moa_target,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, aggregator),
      NULL },

    { ngx_string("moa_passthrough"),
      NGX_HTTP_MOA_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, passthrough),
      NULL },

    { ngx_string("moa_max_response_size"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, max_response_size),
      NULL },

    { ngx_string("moa_stream_keepalive"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, stream_keepalive),
      NULL },

    { ngx_string("moa_min_proposals"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, min_proposals),
      &ngx_http_moa_min_proposals_bounds },

    { ngx_string("moa_proposal_timeout"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, proposal_timeout),
      NULL },

    { ngx_string("moa_fallback"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, fallback),
      &ngx_http_moa_fallback_modes },

    { ngx_string("moa_pass_client_authorization"),
      NGX_HTTP_MOA_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, pass_client_authorization),
      NULL },

    { ngx_string("moa_critique_prompt"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE1,
      ngx_http_moa_prompt,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, critique_prompt),
      NULL },

    { ngx_string("moa_synthesis_prompt"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE1,
      ngx_http_moa_prompt,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, synthesis_prompt),
      NULL },

    { ngx_string("moa_models"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_moa_models,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("moa_metrics_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_moa_metrics_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("moa_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_moa_metrics_page,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_moa_module_ctx = {
    ngx_http_moa_preconfiguration,         /* preconfiguration */
    ngx_http_moa_postconfiguration,        /* postconfiguration */

    ngx_http_moa_create_main_conf,         /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_moa_create_loc_conf,          /* create location configuration */
    ngx_http_moa_merge_loc_conf            /* merge location configuration */
};


ngx_module_t  ngx_http_moa_module = {
    NGX_MODULE_V1,
    &ngx_http_moa_module_ctx,              /* module context */
    ngx_http_moa_commands,                 /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_http_moa_preconfiguration(ngx_conf_t *cf)
{
    return ngx_http_moa_variables_add(cf);
}


static ngx_int_t
ngx_http_moa_postconfiguration(ngx_conf_t *cf)
{
    ngx_uint_t                  i;
    ngx_http_variable_t        *v;
    ngx_http_moa_main_conf_t   *mcf;
    ngx_http_core_main_conf_t  *cmcf;

    static ngx_str_t  request_id = ngx_string("request_id");

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_moa_module);

    mcf->request_id = ngx_http_get_variable_index(cf, &request_id);
    mcf->created = ngx_time();

    /*
     * streamed answers are put back together, and a passthrough's reply
     * read for its usage, only when someone reads them
     */

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    v = cmcf->variables.elts;

    for (i = 0; i < cmcf->variables.nelts; i++) {
        if (v[i].name.len == sizeof("moa_capture") - 1
            && ngx_strncmp(v[i].name.data, "moa_capture",
                           sizeof("moa_capture") - 1) == 0)
        {
            mcf->capture = 1;
            mcf->usage = 1;
        }

        if (v[i].name.len > sizeof("_tokens") - 1
            && ngx_strncmp(v[i].name.data, "moa_", 4) == 0
            && ngx_strncmp(v[i].name.data + v[i].name.len
                           - (sizeof("_tokens") - 1),
                           "_tokens", sizeof("_tokens") - 1) == 0)
        {
            mcf->usage = 1;
        }
    }

    if (ngx_http_moa_metrics_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (mcf->metrics) {
        mcf->usage = 1;
    }

    return ngx_http_moa_filter_init(cf);
}


static void *
ngx_http_moa_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_moa_main_conf_t  *mcf;

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_moa_main_conf_t));
    if (mcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&mcf->models, cf->pool, 4, sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NULL;
    }

    return mcf;
}


static void *
ngx_http_moa_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_moa_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_moa_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->pass = { 0, NULL };
     *     conf->models = NULL;
     *     conf->proposer_list = NULL;
     *     conf->critic = NULL;
     *     conf->aggregator = NULL;
     *     conf->proposer_temperature = { 0, NULL };
     *     conf->critique_temperature = { 0, NULL };
     *     conf->critique_prompt = { 0, NULL };
     *     conf->synthesis_prompt = { 0, NULL };
     *     conf->models_list = 0;
     */

    conf->proposers = NGX_CONF_UNSET_UINT;
    conf->proposer_max_tokens = NGX_CONF_UNSET;
    conf->critic_max_tokens = NGX_CONF_UNSET;
    conf->proposer_n = NGX_CONF_UNSET;
    conf->critique = NGX_CONF_UNSET;
    conf->passthrough = NGX_CONF_UNSET;
    conf->max_response_size = NGX_CONF_UNSET_SIZE;
    conf->stream_keepalive = NGX_CONF_UNSET_MSEC;
    conf->min_proposals = NGX_CONF_UNSET_UINT;
    conf->proposal_timeout = NGX_CONF_UNSET_MSEC;
    conf->fallback = NGX_CONF_UNSET_UINT;
    conf->pass_client_authorization = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_http_moa_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_moa_loc_conf_t *prev = parent;
    ngx_http_moa_loc_conf_t *conf = child;

    if (conf->models == NULL) {
        conf->models = prev->models;
    }

    if (conf->proposer_list == NULL) {
        conf->proposer_list = prev->proposer_list;
    }

    if (conf->critic == NULL) {
        conf->critic = prev->critic;
    }

    if (conf->aggregator == NULL) {
        conf->aggregator = prev->aggregator;
    }

    ngx_conf_merge_uint_value(conf->proposers, prev->proposers, 3);
    ngx_conf_merge_str_value(conf->proposer_temperature,
                             prev->proposer_temperature, "1.0");
    ngx_conf_merge_str_value(conf->critique_temperature,
                             prev->critique_temperature, "0.2");
    ngx_conf_merge_value(conf->proposer_max_tokens,
                         prev->proposer_max_tokens, 0);
    ngx_conf_merge_value(conf->critic_max_tokens, prev->critic_max_tokens, 0);
    ngx_conf_merge_value(conf->proposer_n, prev->proposer_n, 0);
    ngx_conf_merge_value(conf->critique, prev->critique, 1);
    ngx_conf_merge_value(conf->passthrough, prev->passthrough, 1);
    ngx_conf_merge_size_value(conf->max_response_size,
                              prev->max_response_size, 1024 * 1024);
    ngx_conf_merge_msec_value(conf->stream_keepalive,
                              prev->stream_keepalive, 5000);
    ngx_conf_merge_uint_value(conf->min_proposals, prev->min_proposals, 1);
    ngx_conf_merge_msec_value(conf->proposal_timeout,
                              prev->proposal_timeout, 0);
    ngx_conf_merge_uint_value(conf->fallback, prev->fallback,
                              NGX_HTTP_MOA_FALLBACK_ERROR);
    ngx_conf_merge_value(conf->pass_client_authorization,
                         prev->pass_client_authorization, 0);

    if (conf->critique_prompt.data == NULL) {
        conf->critique_prompt = prev->critique_prompt;
    }

    if (conf->critique_prompt.data == NULL) {
        conf->critique_prompt.data = (u_char *) ngx_http_moa_prompt_critique;
        conf->critique_prompt.len = ngx_strlen(ngx_http_moa_prompt_critique);
    }

    if (conf->synthesis_prompt.data == NULL) {
        conf->synthesis_prompt = prev->synthesis_prompt;
    }

    if (conf->synthesis_prompt.data == NULL) {
        conf->synthesis_prompt.data =
                                   (u_char *) ngx_http_moa_prompt_synthesis;
        conf->synthesis_prompt.len =
                                   ngx_strlen(ngx_http_moa_prompt_synthesis);
    }

    /* escaped once here: the stage bodies refer to the text as it is */

    if (ngx_http_moa_escape(cf, &conf->critique_prompt,
                            &conf->critique_prompt_json)
        != NGX_OK
        || ngx_http_moa_escape(cf, &conf->synthesis_prompt,
                               &conf->synthesis_prompt_json)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (conf->pass.len && (conf->models == NULL || conf->models->nelts == 0)
        && !conf->passthrough)
    {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"moa_pass\" without \"moa_model\" and with "
                           "\"moa_passthrough off\" answers every request "
                           "with 404");
    }

    return NGX_CONF_OK;
}


/* text as the inside of a JSON string, in the configuration's pool */
static ngx_int_t
ngx_http_moa_escape(ngx_conf_t *cf, ngx_str_t *text, ngx_str_t *json)
{
    ngx_http_moa_buf_t  b;

    ngx_memzero(&b, sizeof(ngx_http_moa_buf_t));
    ngx_http_moa_buf_json_inner(&b, (char *) text->data, text->len);

    if (b.nomem) {
        ngx_http_moa_buf_free(&b);
        return NGX_ERROR;
    }

    json->data = ngx_pnalloc(cf->pool, b.len);
    if (json->data == NULL) {
        ngx_http_moa_buf_free(&b);
        return NGX_ERROR;
    }

    json->len = b.len;
    ngx_memcpy(json->data, b.data, b.len);
    ngx_http_moa_buf_free(&b);

    return NGX_OK;
}


static ngx_int_t
ngx_http_moa_check_uri(ngx_conf_t *cf, ngx_str_t *uri)
{
    if (uri->len == 0 || uri->data[0] != '/') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid location \"%V\": it must start with "
                           "\"/\"", uri);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static char *
ngx_http_moa_pass(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_moa_loc_conf_t *mlcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (mlcf->pass.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_moa_check_uri(cf, &value[1]) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    mlcf->pass = value[1];

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_moa_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_moa_model(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_moa_loc_conf_t *mlcf = conf;

    ngx_str_t                 *value, *id;
    ngx_uint_t                 i;
    ngx_http_moa_model_t      *m;
    ngx_http_moa_main_conf_t  *mcf;

    value = cf->args->elts;

    if (value[1].len == 0 || value[2].len == 0) {
        return "has an empty model name";
    }

    if (mlcf->models == NULL) {
        mlcf->models = ngx_array_create(cf->pool, 2,
                                        sizeof(ngx_http_moa_model_t));
        if (mlcf->models == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    m = mlcf->models->elts;

    for (i = 0; i < mlcf->models->nelts; i++) {
        if (m[i].id.len == value[1].len
            && ngx_strncmp(m[i].id.data, value[1].data, value[1].len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate MoA model \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    m = ngx_array_push(mlcf->models);
    if (m == NULL) {
        return NGX_CONF_ERROR;
    }

    m->id = value[1];
    m->base = value[2];

    /* every id, for moa_models */

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_moa_module);

    id = mcf->models.elts;

    for (i = 0; i < mcf->models.nelts; i++) {
        if (id[i].len == value[1].len
            && ngx_strncmp(id[i].data, value[1].data, value[1].len) == 0)
        {
            m->index = i;
            return NGX_CONF_OK;
        }
    }

    id = ngx_array_push(&mcf->models);
    if (id == NULL) {
        return NGX_CONF_ERROR;
    }

    *id = value[1];
    m->index = mcf->models.nelts - 1;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_moa_check_temperature(ngx_conf_t *cf, ngx_str_t *value)
{
    double  t;

    /* the text is spliced into request bodies as is: a plain JSON number */

    if (value->len == 0 || value->len > 16
        || value->data[0] < '0' || value->data[0] > '9'
        || ngx_http_moa_json_valid((char *) value->data, value->len) != 0)
    {
        goto invalid;
    }

    t = strtod((char *) value->data, NULL);

    if (t < 0 || t > 2) {
        goto invalid;
    }

    return NGX_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid temperature \"%V\": expected a number "
                       "from 0 to 2", value);
    return NGX_ERROR;
}


static char *
ngx_http_moa_temperature(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t  *field, *value;

    field = (ngx_str_t *) (p + cmd->offset);

    if (field->data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_moa_check_temperature(cf, &value[1]) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    *field = value[1];

    return NGX_CONF_OK;
}


static char *
ngx_http_moa_parse_target(ngx_conf_t *cf, ngx_http_moa_target_t *t)
{
    ngx_str_t   *value, s;
    ngx_uint_t   i;

    value = cf->args->elts;

    if (ngx_http_moa_check_uri(cf, &value[1]) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    t->uri = value[1];

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "model=", 6) == 0) {
            t->model.data = value[i].data + 6;
            t->model.len = value[i].len - 6;

            if (t->model.len == 0) {
                return "has an empty model";
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "temperature=", 12) == 0) {
            s.data = value[i].data + 12;
            s.len = value[i].len - 12;

            if (ngx_http_moa_check_temperature(cf, &s) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            t->temperature = s;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_moa_proposer(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_moa_loc_conf_t *mlcf = conf;

    ngx_http_moa_target_t  *t;

    if (mlcf->proposer_list == NULL) {
        mlcf->proposer_list = ngx_array_create(cf->pool, 4,
                                               sizeof(ngx_http_moa_target_t));
        if (mlcf->proposer_list == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (mlcf->proposer_list->nelts == 64) {
        return "is given more than 64 times";
    }

    t = ngx_array_push(mlcf->proposer_list);
    if (t == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(t, sizeof(ngx_http_moa_target_t));

    return ngx_http_moa_parse_target(cf, t);
}


static char *
ngx_http_moa_target(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_http_moa_target_t  **field;

    field = (ngx_http_moa_target_t **) (p + cmd->offset);

    if (*field) {
        return "is duplicate";
    }

    *field = ngx_pcalloc(cf->pool, sizeof(ngx_http_moa_target_t));
    if (*field == NULL) {
        return NGX_CONF_ERROR;
    }

    return ngx_http_moa_parse_target(cf, *field);
}


static char *
ngx_http_moa_prompt(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    off_t         size;
    ssize_t       n;
    ngx_str_t    *field, *value, name;
    ngx_file_t    file;
    const char   *err;

    field = (ngx_str_t *) (p + cmd->offset);

    if (field->data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    name = value[1];

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = name;
    file.log = cf->log;

    file.fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &name);
        return NGX_CONF_ERROR;
    }

    if (ngx_fd_info(file.fd, &file.info) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", &name);
        goto failed;
    }

    size = ngx_file_size(&file.info);

    if (size == 0 || size > 1024 * 1024) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "prompt file \"%V\" is empty or over 1m", &name);
        goto failed;
    }

    field->data = ngx_pnalloc(cf->pool, (size_t) size);
    if (field->data == NULL) {
        goto failed;
    }

    n = ngx_read_file(&file, field->data, (size_t) size, 0);

    if (n != size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_read_file_n " \"%V\" failed", &name);
        goto failed;
    }

    field->len = (size_t) size;

    err = ngx_http_moa_prompt_check((char *) field->data, field->len);

    if (err) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "prompt file \"%V\": %s",
                           &name, err);
        goto failed;
    }

    ngx_close_file(file.fd);

    return NGX_CONF_OK;

failed:

    ngx_close_file(file.fd);

    return NGX_CONF_ERROR;
}
