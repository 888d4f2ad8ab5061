
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The module's configuration: the main and location configurations
 * (created, merged, the prompts escaped once for the stage bodies) and the
 * directives whose arguments need checking: moa_pass, moa_model,
 * moa_proposer, moa_critic and moa_aggregator, the temperatures and the
 * prompt files; the recipes' defaults.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_moa_common.h"
#include "ngx_http_moa_conf.h"
#include "ngx_http_moa_handler.h"
#include "ngx_http_moa_responses.h"

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_buf_json.h"
#include "ngx_http_moa_prompt.h"
#include "ngx_http_moa_stage_body.h"


static ngx_int_t ngx_http_moa_escape(ngx_conf_t *cf, ngx_str_t *text,
    ngx_str_t *json);
static ngx_int_t ngx_http_moa_conf_merge_recipes(ngx_conf_t *cf,
    ngx_http_moa_loc_conf_t *prev, ngx_http_moa_loc_conf_t *conf);


void *
ngx_http_moa_conf_create_main(ngx_conf_t *cf)
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


void *
ngx_http_moa_conf_create_loc(ngx_conf_t *cf)
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
    conf->unknown_params = NGX_CONF_UNSET_UINT;
    conf->pass_client_authorization = NGX_CONF_UNSET;
    conf->api = NGX_CONF_UNSET_UINT;
    conf->store = NGX_CONF_UNSET_PTR;
    conf->store_owner = NGX_CONF_UNSET_PTR;

    conf->layers = NGX_CONF_UNSET_UINT;
    conf->aggregate = NGX_CONF_UNSET_UINT;
    conf->select_json_schema = NGX_CONF_UNSET;
    conf->select_format = NGX_CONF_UNSET_UINT;
    conf->agreement = NGX_CONF_UNSET;
    conf->request_overrides = NGX_CONF_UNSET;
    conf->max_proposers = NGX_CONF_UNSET_UINT;
    conf->max_layers = NGX_CONF_UNSET_UINT;
    conf->max_total_tokens = NGX_CONF_UNSET;

    return conf;
}


char *
ngx_http_moa_conf_merge_loc(ngx_conf_t *cf, void *parent, void *child)
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
    ngx_conf_merge_uint_value(conf->unknown_params, prev->unknown_params,
                              NGX_HTTP_MOA_PARAMS_PASS);
    ngx_conf_merge_value(conf->pass_client_authorization,
                         prev->pass_client_authorization, 0);
    ngx_conf_merge_uint_value(conf->api, prev->api, NGX_HTTP_MOA_API_CHAT);
    ngx_conf_merge_str_value(conf->responses_pass, prev->responses_pass, "");
    ngx_conf_merge_ptr_value(conf->store, prev->store, NULL);
    ngx_conf_merge_ptr_value(conf->store_owner, prev->store_owner, NULL);

    if (ngx_http_moa_conf_merge_recipes(cf, prev, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

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


/*
 * The recipes' directives; moa_max_proposers and moa_max_layers default
 * to the location's own recipe (0 here, the location's own values even
 * where an outer level set them): clients may spend less, never more,
 * until the operator raises them.
 */
static ngx_int_t
ngx_http_moa_conf_merge_recipes(ngx_conf_t *cf, ngx_http_moa_loc_conf_t *prev,
    ngx_http_moa_loc_conf_t *conf)
{
    ngx_conf_merge_uint_value(conf->layers, prev->layers, 1);
    ngx_conf_merge_uint_value(conf->aggregate, prev->aggregate,
                              NGX_HTTP_MOA_AGGREGATE_SYNTHESIZE);
    ngx_conf_merge_value(conf->select_json_schema, prev->select_json_schema,
                         1);
    ngx_conf_merge_uint_value(conf->select_format, prev->select_format,
                              NGX_HTTP_MOA_SELECT_FORMAT_JSON_SCHEMA);
    ngx_conf_merge_value(conf->agreement, prev->agreement, 0);
    ngx_conf_merge_value(conf->request_overrides, prev->request_overrides, 0);

    /* 0: the location's own (resolved per request) */
    ngx_conf_merge_uint_value(conf->max_proposers, prev->max_proposers, 0);
    ngx_conf_merge_uint_value(conf->max_layers, prev->max_layers, 0);
    ngx_conf_merge_value(conf->max_total_tokens, prev->max_total_tokens, 0);

    if (conf->layer_prompt.data == NULL) {
        conf->layer_prompt = prev->layer_prompt;
    }

    if (conf->layer_prompt.data == NULL) {
        conf->layer_prompt.data = (u_char *) ngx_http_moa_prompt_layer;
        conf->layer_prompt.len = ngx_strlen(ngx_http_moa_prompt_layer);
    }

    if (conf->select_prompt.data == NULL) {
        conf->select_prompt = prev->select_prompt;
    }

    if (conf->select_prompt.data == NULL) {
        conf->select_prompt.data = (u_char *) ngx_http_moa_prompt_select;
        conf->select_prompt.len = ngx_strlen(ngx_http_moa_prompt_select);
    }

    if (ngx_http_moa_escape(cf, &conf->layer_prompt,
                            &conf->layer_prompt_json)
        != NGX_OK
        || ngx_http_moa_escape(cf, &conf->select_prompt,
                               &conf->select_prompt_json)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
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


char *
ngx_http_moa_conf_pass(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
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


/* moa_responses_pass: where a model that is not MoA goes as Responses */
char *
ngx_http_moa_conf_responses_pass(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_moa_loc_conf_t *mlcf = conf;

    ngx_str_t  *value;

    if (mlcf->responses_pass.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_moa_check_uri(cf, &value[1]) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    mlcf->responses_pass = value[1];

    return NGX_CONF_OK;
}


/* moa_not_found: a catch-all location answers OpenAI's JSON 404 */
char *
ngx_http_moa_conf_not_found(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_moa_responses_not_found;

    return NGX_CONF_OK;
}


char *
ngx_http_moa_conf_model(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
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

    /* moa_model <id> <base> reasoning: an o-series-like base model */
    if (cf->args->nelts == 4
        && (value[3].len != sizeof("reasoning") - 1
            || ngx_strncmp(value[3].data, "reasoning",
                           sizeof("reasoning") - 1) != 0))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\": expected "
                           "\"reasoning\"", &value[3]);
        return NGX_CONF_ERROR;
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
    m->reasoning = (cf->args->nelts == 4);

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


char *
ngx_http_moa_conf_temperature(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
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


char *
ngx_http_moa_conf_proposer(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
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


char *
ngx_http_moa_conf_target(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
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


char *
ngx_http_moa_conf_prompt(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
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
