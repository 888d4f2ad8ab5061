
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The module's registration: its directives (the setters that check
 * their arguments are in ngx_http_moa_conf.c), its context and the module
 * object, and the pre- and postconfiguration that set up the variables,
 * the metrics and the filters.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_moa_common.h"
#include "ngx_http_moa_call.h"
#include "ngx_http_moa_conf.h"
#include "ngx_http_moa_models.h"
#include "ngx_http_moa_filter.h"
#include "ngx_http_moa_variables.h"
#include "ngx_http_moa_metrics.h"
#include "ngx_http_moa_metrics_page.h"
#include "ngx_http_moa_output.h"
#include "ngx_http_moa_store.h"

#include "ngx_http_moa_stage_body.h"


static ngx_int_t ngx_http_moa_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_moa_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_moa_init_process(ngx_cycle_t *cycle);
static void ngx_http_moa_exit_process(ngx_cycle_t *cycle);


static ngx_conf_num_bounds_t  ngx_http_moa_proposers_bounds = {
    ngx_conf_check_num_bounds, 1, 64
};

static ngx_conf_num_bounds_t  ngx_http_moa_min_proposals_bounds = {
    ngx_conf_check_num_bounds, 1, 64
};


static ngx_conf_num_bounds_t  ngx_http_moa_layers_bounds = {
    ngx_conf_check_num_bounds, 1, NGX_HTTP_MOA_RECIPE_MAX_LAYERS
};

static ngx_conf_num_bounds_t  ngx_http_moa_max_total_tokens_bounds = {
    ngx_conf_check_num_bounds, 1, 1000000000
};


static ngx_conf_enum_t  ngx_http_moa_aggregate_modes[] = {
    { ngx_string("synthesize"), NGX_HTTP_MOA_AGGREGATE_SYNTHESIZE },
    { ngx_string("select"), NGX_HTTP_MOA_AGGREGATE_SELECT },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_moa_select_formats[] = {
    { ngx_string("json_schema"), NGX_HTTP_MOA_SELECT_FORMAT_JSON_SCHEMA },
    { ngx_string("json_object"), NGX_HTTP_MOA_SELECT_FORMAT_JSON_OBJECT },
    { ngx_string("none"), NGX_HTTP_MOA_SELECT_FORMAT_NONE },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_moa_fallback_modes[] = {
    { ngx_string("error"), NGX_HTTP_MOA_FALLBACK_ERROR },
    { ngx_string("candidate"), NGX_HTTP_MOA_FALLBACK_CANDIDATE },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_moa_unknown_params_modes[] = {
    { ngx_string("pass"), NGX_HTTP_MOA_PARAMS_PASS },
    { ngx_string("drop"), NGX_HTTP_MOA_PARAMS_DROP },
    { ngx_string("reject"), NGX_HTTP_MOA_PARAMS_REJECT },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_moa_apis[] = {
    { ngx_string("chat"), NGX_HTTP_MOA_API_CHAT },
    { ngx_string("responses"), NGX_HTTP_MOA_API_RESPONSES },
    { ngx_null_string, 0 }
};


#define NGX_HTTP_MOA_CONF                                                    \
    (NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF)


static ngx_command_t  ngx_http_moa_commands[] = {

    { ngx_string("moa_pass"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_moa_conf_pass,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("moa_model"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE23,
      ngx_http_moa_conf_model,
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
      ngx_http_moa_conf_proposer,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("moa_proposer_temperature"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE1,
      ngx_http_moa_conf_temperature,
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
      ngx_http_moa_conf_target,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, critic),
      NULL },

    { ngx_string("moa_critique_temperature"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE1,
      ngx_http_moa_conf_temperature,
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
      ngx_http_moa_conf_target,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, aggregator),
      NULL },

    { ngx_string("moa_passthrough"),
      NGX_HTTP_MOA_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, passthrough),
      NULL },

    { ngx_string("moa_unknown_params"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, unknown_params),
      &ngx_http_moa_unknown_params_modes },

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
      ngx_http_moa_conf_prompt,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, critique_prompt),
      NULL },

    { ngx_string("moa_synthesis_prompt"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE1,
      ngx_http_moa_conf_prompt,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, synthesis_prompt),
      NULL },

    { ngx_string("moa_layers"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, layers),
      &ngx_http_moa_layers_bounds },

    { ngx_string("moa_layer_prompt"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE1,
      ngx_http_moa_conf_prompt,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, layer_prompt),
      NULL },

    { ngx_string("moa_aggregate"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, aggregate),
      &ngx_http_moa_aggregate_modes },

    { ngx_string("moa_select_json_schema"),
      NGX_HTTP_MOA_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, select_json_schema),
      NULL },

    { ngx_string("moa_select_format"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, select_format),
      &ngx_http_moa_select_formats },

    { ngx_string("moa_select_prompt"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE1,
      ngx_http_moa_conf_prompt,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, select_prompt),
      NULL },

    { ngx_string("moa_agreement"),
      NGX_HTTP_MOA_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, agreement),
      NULL },

    { ngx_string("moa_request_overrides"),
      NGX_HTTP_MOA_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, request_overrides),
      NULL },

    { ngx_string("moa_max_proposers"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, max_proposers),
      &ngx_http_moa_proposers_bounds },

    { ngx_string("moa_max_layers"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, max_layers),
      &ngx_http_moa_layers_bounds },

    { ngx_string("moa_max_total_tokens"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, max_total_tokens),
      &ngx_http_moa_max_total_tokens_bounds },

    { ngx_string("moa_api"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_moa_loc_conf_t, api),
      &ngx_http_moa_apis },

    { ngx_string("moa_responses_pass"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE1,
      ngx_http_moa_conf_responses_pass,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("moa_not_found"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_moa_conf_not_found,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("moa_models"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_moa_models,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("moa_responses_store"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE12,
      ngx_http_moa_store_conf,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("moa_responses_owner"),
      NGX_HTTP_MOA_CONF|NGX_CONF_TAKE1,
      ngx_http_moa_store_conf_owner,
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

    ngx_http_moa_conf_create_main,         /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_moa_conf_create_loc,          /* create location configuration */
    ngx_http_moa_conf_merge_loc            /* merge location configuration */
};


/*
 * A worker takes and frees a dozen buffers of a few sizes per MoA request:
 * its freed buffers are cached for the next ones (ngx_http_moa_buf.c)
 */
static ngx_int_t
ngx_http_moa_init_process(ngx_cycle_t *cycle)
{
    ngx_http_moa_buf_cache_enable(1);

    return NGX_OK;
}


static void
ngx_http_moa_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_moa_buf_cache_enable(0);
}


ngx_module_t  ngx_http_moa_module = {
    NGX_MODULE_V1,
    &ngx_http_moa_module_ctx,              /* module context */
    ngx_http_moa_commands,                 /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_moa_init_process,             /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_moa_exit_process,             /* exit process */
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
    ngx_http_handler_pt        *h;
    ngx_http_variable_t        *v;
    ngx_http_moa_main_conf_t   *mcf;
    ngx_http_core_main_conf_t  *cmcf;

    static ngx_str_t  request_id = ngx_string("request_id");

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_moa_module);

    mcf->request_id = ngx_http_get_variable_index(cf, &request_id);
    mcf->created = ngx_time();

    if (ngx_http_moa_output_request_id_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

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

    /* the module's calls are not held to client_max_body_size */

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_moa_call_preaccess;

    return ngx_http_moa_filter_init(cf);
}

