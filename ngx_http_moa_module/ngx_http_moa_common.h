
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * What every file of the nginx glue shares: the configurations, the
 * request's context, one upstream call, the stage and phase constants and
 * the module object.  The functions are declared in one header per file.
 */


#ifndef _NGX_HTTP_MOA_COMMON_H_INCLUDED_
#define _NGX_HTTP_MOA_COMMON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_moa_version.h"
#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_sse.h"
#include "ngx_http_moa_error.h"
#include "ngx_http_moa_request.h"
#include "ngx_http_moa_params.h"
#include "ngx_http_moa_body.h"
#include "ngx_http_moa_reply.h"
#include "ngx_http_moa_prompt.h"
#include "ngx_http_moa_stream.h"
#include "ngx_http_moa_collect.h"
#include "ngx_http_moa_recipe.h"
#include "ngx_http_moa_usage.h"


#define NGX_HTTP_MOA_PROPOSAL          0
#define NGX_HTTP_MOA_CRITIQUE          1
#define NGX_HTTP_MOA_SYNTHESIS         2
#define NGX_HTTP_MOA_PASSTHROUGH       3
#define NGX_HTTP_MOA_STORE             4       /* a stored response's */

#define NGX_HTTP_MOA_PHASE_BODY        0
#define NGX_HTTP_MOA_PHASE_PROPOSALS   1
#define NGX_HTTP_MOA_PHASE_CRITIQUE    2
#define NGX_HTTP_MOA_PHASE_SYNTHESIS   3
#define NGX_HTTP_MOA_PHASE_PASSTHROUGH 4
#define NGX_HTTP_MOA_PHASE_DONE        5

#define NGX_HTTP_MOA_API_CHAT           0
#define NGX_HTTP_MOA_API_RESPONSES      1

#define NGX_HTTP_MOA_FALLBACK_ERROR     0
#define NGX_HTTP_MOA_FALLBACK_CANDIDATE 1

/* why the answer is a candidate without a synthesis ($moa_shortcut) */
#define NGX_HTTP_MOA_SHORTCUT_NONE      0
#define NGX_HTTP_MOA_SHORTCUT_AGREEMENT 1

/* bodies up to this size are sent as one piece of the pool */
#define NGX_HTTP_MOA_SMALL_BODY        3072
/*
 * The first block of a calls' pool is sized for its calls, so that they
 * fit in it (each block more is a malloc() more): what a call takes there
 * (its upstream, the proxy's state, both header lists: 4.2 KiB measured
 * with the bench's provider), its subrequest (3 KiB more, in a stage's
 * pool), and a buffer and chain links per part of its body
 * (ngx_http_moa_call_pool_size)
 */
#define NGX_HTTP_MOA_CALL_POOL_SIZE    4608
#define NGX_HTTP_MOA_CALL_POOL_SUB     3072
#define NGX_HTTP_MOA_CALL_POOL_PART    256

/* unsent output above which a streamed reply stops taking provider input */
#define NGX_HTTP_MOA_STREAM_BUSY_MAX   (64 * 1024)


typedef struct {
    ngx_str_t                   uri;
    ngx_str_t                   model;         /* empty: the base model */
    ngx_str_t                   temperature;   /* JSON number, or empty */
} ngx_http_moa_target_t;


typedef struct {
    ngx_str_t                   id;
    ngx_str_t                   base;
    ngx_uint_t                  index;         /* in the main conf's models */
    ngx_flag_t                  reasoning;     /* a reasoning base model */
} ngx_http_moa_model_t;


typedef struct ngx_http_moa_metrics_s      ngx_http_moa_metrics_t;
typedef struct ngx_http_moa_store_s        ngx_http_moa_store_t;
typedef struct ngx_http_moa_store_op_s     ngx_http_moa_store_op_t;
typedef struct ngx_http_moa_metrics_req_s  ngx_http_moa_metrics_req_t;


typedef struct {
    ngx_array_t                 models;        /* every moa_model id */
    ngx_int_t                   request_id;    /* $request_id index */
    ngx_flag_t                  capture;       /* $moa_capture is used */
    ngx_flag_t                  usage;         /* passthrough usage too */
    time_t                      created;       /* for moa_models */
    ngx_http_moa_metrics_t     *metrics;       /* moa_metrics_zone */
} ngx_http_moa_main_conf_t;


typedef struct {
    ngx_str_t                   pass;
    ngx_array_t                *models;        /* ngx_http_moa_model_t */
    ngx_array_t                *proposer_list; /* ngx_http_moa_target_t */
    ngx_http_moa_target_t      *critic;
    ngx_http_moa_target_t      *aggregator;

    ngx_uint_t                  proposers;
    ngx_str_t                   proposer_temperature;
    ngx_str_t                   critique_temperature;
    ngx_int_t                   proposer_max_tokens;
    ngx_int_t                   critic_max_tokens;
    ngx_flag_t                  proposer_n;
    ngx_flag_t                  critique;
    ngx_flag_t                  passthrough;
    size_t                      max_response_size;
    ngx_msec_t                  stream_keepalive;
    ngx_uint_t                  min_proposals;
    ngx_msec_t                  proposal_timeout;
    ngx_uint_t                  fallback;
    ngx_uint_t                  unknown_params; /* NGX_HTTP_MOA_PARAMS_* */
    ngx_flag_t                  pass_client_authorization;

    /* the recipes (ngx_http_moa_recipes.c) */
    ngx_uint_t                  layers;
    ngx_uint_t                  aggregate;     /* NGX_HTTP_MOA_AGGREGATE_* */
    ngx_flag_t                  select_json_schema;
    ngx_uint_t                  select_format; /* NGX_HTTP_MOA_SELECT_... */
    ngx_flag_t                  agreement;
    ngx_flag_t                  request_overrides;
    ngx_uint_t                  max_proposers;
    ngx_uint_t                  max_layers;
    ngx_int_t                   max_total_tokens;
    ngx_str_t                   layer_prompt;
    ngx_str_t                   select_prompt;
    ngx_str_t                   layer_prompt_json;      /* escaped */
    ngx_str_t                   select_prompt_json;

    ngx_str_t                   critique_prompt;
    ngx_str_t                   synthesis_prompt;
    ngx_str_t                   critique_prompt_json;   /* escaped */
    ngx_str_t                   synthesis_prompt_json;

    ngx_flag_t                  models_list;   /* moa_models */

    ngx_uint_t                  api;           /* moa_api */
    ngx_str_t                   responses_pass; /* moa_responses_pass */
    ngx_http_moa_store_t       *store;         /* moa_responses_store */
    ngx_http_complex_value_t   *store_owner;   /* moa_responses_owner */
} ngx_http_moa_loc_conf_t;


typedef struct ngx_http_moa_ctx_s  ngx_http_moa_ctx_t;
typedef struct ngx_http_moa_responses_s  ngx_http_moa_responses_t;


/* one upstream call: a subrequest to an internal location */
typedef struct {
    ngx_http_moa_ctx_t         *ctx;
    ngx_http_request_t         *sr;
    ngx_uint_t                  stage;
    ngx_uint_t                  index;
    ngx_str_t                   uri;
    ngx_str_t                   args;          /* a store's call's */
    ngx_http_moa_body_t         body;          /* parts of the body */
    size_t                      body_len;

    ngx_uint_t                  status;        /* provider or our 502/504 */
    ngx_msec_t                  start;
    ngx_msec_t                  elapsed;

    ngx_http_moa_buf_t          reply;         /* captured reply body */
    ngx_http_moa_reply_t        parsed;
    ngx_http_moa_error_t       *error;         /* why the call failed */
    ngx_str_t                   retry_after;

    ngx_http_moa_buf_t          flat;          /* a small body, in one */

    unsigned                    observe:1;     /* copy a passthrough */
    unsigned                    observe_sse:1; /* collect a passthrough */
    unsigned                    started:1;
    unsigned                    done:1;
    unsigned                    ok:1;
    unsigned                    canceled:1;
    unsigned                    client_closed:1; /* ended by an abort */
    unsigned                    stream:1;      /* output goes to client */
    unsigned                    forward:1;     /* passthrough as is */
    unsigned                    sse_reply:1;   /* reply is an SSE stream */
    unsigned                    header:1;
    unsigned                    too_big:1;
    unsigned                    complete:1;
    unsigned                    raw:1;         /* a store's: bytes, status */
    unsigned                    abandoned:1;   /* canceled, still running */
} ngx_http_moa_call_t;


/* where a candidate comes from: a proposal call and its choice */
typedef struct {
    ngx_http_moa_call_t        *call;
    ngx_int_t                   choice;
} ngx_http_moa_cand_src_t;


struct ngx_http_moa_ctx_s {
    ngx_http_request_t         *request;
    ngx_http_moa_loc_conf_t    *conf;
    ngx_http_moa_model_t       *model;         /* NULL: passthrough */

    ngx_str_t                   body;
    ngx_http_moa_request_t      req;

    ngx_uint_t                  phase;
    ngx_http_moa_call_t        *calls;         /* proposals, then others */
    ngx_uint_t                  nproposals;    /* proposal calls */
    ngx_uint_t                  ncalls;        /* calls issued */
    ngx_uint_t                  pending;       /* proposal calls running */
    ngx_http_moa_call_t        *critique;
    ngx_http_moa_call_t        *synthesis;
    ngx_http_moa_call_t        *passthrough;
    ngx_pool_t                 *calls_pool;    /* the calls' own memory */
    ngx_pool_t                 *stage_pool;    /* the running stage's */

    ngx_http_moa_prompt_candidate_t *cands;
    ngx_uint_t                  ncands;
    ngx_http_moa_buf_t          cands_text;    /* rendered once, escaped */
    ngx_uint_t                  expected;      /* candidates asked for */
    ngx_http_moa_call_t        *fallback;      /* first good proposal */
    ngx_int_t                   fallback_choice;

    /* the request's recipe: the configuration and the client's "moa" */
    ngx_http_moa_recipe_t       recipe;
    ngx_uint_t                  layer;         /* of the proposals, 1.. */
    ngx_uint_t                  per_layer;     /* proposal calls a layer */
    ngx_http_moa_call_t        *layer_calls;   /* the layer's first call */
    ngx_http_moa_cand_src_t    *cand_src;      /* of each candidate */
    long long                   budget;        /* moa_max_total_tokens */
    ngx_uint_t                  shortcut;      /* NGX_HTTP_MOA_SHORTCUT_* */
    ngx_uint_t                  selected;      /* select: 1.., 0: none */
    ngx_uint_t                  layers_done;   /* layers whose proposals
                                                  are all in */
    ngx_msec_t                  layer_time[NGX_HTTP_MOA_RECIPE_MAX_LAYERS];

    ngx_http_moa_usage_t       *usage;         /* summed over the calls */
    ngx_http_moa_stream_t       stream;

    /* the one call whose reply is a stream: synthesis or passthrough */
    ngx_http_moa_sse_t          sse;
    ngx_http_moa_buf_t          spool;         /* stream input from file */
    ngx_chain_t                *held;          /* input held back */

    ngx_http_moa_collect_t      collect;       /* streamed answer */
    const ngx_http_moa_choice_t *answer;       /* the answer, if a reply */
    cJSON                      *answer_owned;
    ngx_str_t                   capture_line;  /* $moa_capture, built once */

    ngx_event_t                 keepalive;
    ngx_event_t                 deadline;

    ngx_msec_t                  start;
    ngx_msec_t                  stage_start;
    ngx_msec_t                  proposal_time;
    ngx_msec_t                  critique_time;
    ngx_msec_t                  synthesis_time;

    ngx_msec_t                  last_output;
    ngx_http_moa_buf_t          scratch;       /* rewritten events */
    ngx_chain_t                *free;
    ngx_chain_t                *busy;

    ngx_str_t                   error_body;    /* nginx error as JSON */

    ngx_http_moa_metrics_req_t *metrics;       /* counted in moa_metrics */
    ngx_http_moa_responses_t   *responses;     /* moa_api responses */
    ngx_http_moa_store_op_t    *store_op;      /* waited for */
    ngx_http_moa_store_op_t    *store_prev;    /* previous_response_id */
    ngx_uint_t                  error_status;  /* a stream's error event */

    unsigned                    capture:1;     /* collect for capture */
    unsigned                    stored:1;      /* /responses/{id} */
    unsigned                    pass_usage:1;  /* read passthrough usage */
    unsigned                    succeeded:1;   /* an answer went out */
    unsigned                    fallback_used:1;
    unsigned                    own_response:1;
    unsigned                    rewrite_error:1;
    unsigned                    header_sent:1;
    unsigned                    last_sent:1;   /* the response's end went */
    unsigned                    sse_header:1;
    unsigned                    finalized:1;
    unsigned                    deadline_passed:1;
    unsigned                    proposals_timed:1;
    unsigned                    critique_timed:1;
    unsigned                    synthesis_timed:1;
};


/* the usage summed so far, a tree for its readers: NULL before the body */
#define ngx_http_moa_ctx_usage(ctx)                                          \
    ngx_http_moa_usage_record_tree((ctx)->usage)


extern ngx_module_t  ngx_http_moa_module;


#endif /* _NGX_HTTP_MOA_COMMON_H_INCLUDED_ */
