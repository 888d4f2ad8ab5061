
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Prometheus metrics: the zone's layout, shared by the accounting
 * (ngx_http_moa_metrics.c) and the exposition (ngx_http_moa_metrics_page.c).
 */


#ifndef _NGX_HTTP_MOA_METRICS_H_INCLUDED_
#define _NGX_HTTP_MOA_METRICS_H_INCLUDED_


#include "ngx_http_moa_common.h"


/* a new layout of the zone must change this: reused zones are checked */
#define NGX_HTTP_MOA_METRICS_LAYOUT       0x6d6f6102

#define NGX_HTTP_MOA_METRICS_BOUNDS       12

#define NGX_HTTP_MOA_OUTCOME_OK           0
#define NGX_HTTP_MOA_OUTCOME_CLIENT       1
#define NGX_HTTP_MOA_OUTCOME_UPSTREAM     2
#define NGX_HTTP_MOA_OUTCOME_TIMEOUT      3
#define NGX_HTTP_MOA_OUTCOME_ABORT        4
#define NGX_HTTP_MOA_OUTCOME_INTERNAL     5
#define NGX_HTTP_MOA_OUTCOMES             6

/* upstream calls: the stages of ngx_http_moa_common.h, by status class */
#define NGX_HTTP_MOA_METRICS_STAGES       4
#define NGX_HTTP_MOA_CALL_CANCELED        4
#define NGX_HTTP_MOA_CALL_CLASSES         5

/* stage durations: proposal, critique, synthesis */
#define NGX_HTTP_MOA_METRICS_TIMED        3

/* the store of responses: load, save, delete by ok, not found, failed */
#define NGX_HTTP_MOA_METRICS_STORE_OPS    3
#define NGX_HTTP_MOA_METRICS_STORE_RESULTS 3

#define NGX_HTTP_MOA_SERIES_MOA           0
#define NGX_HTTP_MOA_SERIES_PASSTHROUGH   1
#define NGX_HTTP_MOA_SERIES_NONE          2


typedef struct {
    /* per bucket, not cumulative; the last one is +Inf */
    ngx_atomic_t                        bucket[NGX_HTTP_MOA_METRICS_BOUNDS
                                               + 1];
    ngx_atomic_t                        sum;        /* milliseconds */
} ngx_http_moa_histogram_t;


typedef struct ngx_http_moa_series_s  ngx_http_moa_series_t;

struct ngx_http_moa_series_s {
    ngx_http_moa_series_t              *next;
    ngx_uint_t                          kind;

    ngx_atomic_t                        requests[NGX_HTTP_MOA_OUTCOMES];
    ngx_atomic_t                        prompt_tokens;
    ngx_atomic_t                        completion_tokens;
    ngx_atomic_t                        fallbacks;
    ngx_atomic_t                        critiques_skipped;
    ngx_atomic_t                        proposals_dropped;
    ngx_atomic_t                        shortcuts;  /* agreement */
    ngx_atomic_t                        selections;
    ngx_atomic_t                        in_flight;
    ngx_atomic_t                        responses;  /* moa_api responses */
    ngx_http_moa_histogram_t            duration;
    ngx_http_moa_histogram_t            ttfb;

    size_t                              len;
    u_char                              name[1];
};


typedef struct {
    ngx_uint_t                          layout;
    ngx_http_moa_series_t              *series;     /* appended, never freed */
    ngx_atomic_t                        calls[NGX_HTTP_MOA_METRICS_STAGES]
                                             [NGX_HTTP_MOA_CALL_CLASSES];
    ngx_http_moa_histogram_t            stage[NGX_HTTP_MOA_METRICS_TIMED];
    ngx_http_moa_histogram_t            layer[NGX_HTTP_MOA_RECIPE_MAX_LAYERS];
    ngx_atomic_t                        store[NGX_HTTP_MOA_METRICS_STORE_OPS]
                                        [NGX_HTTP_MOA_METRICS_STORE_RESULTS];
    ngx_atomic_t                        store_evictions;
} ngx_http_moa_metrics_sh_t;


/* one per configuration (cycle): the zone and this cycle's series */
struct ngx_http_moa_metrics_s {
    ngx_shm_zone_t                     *shm_zone;
    ngx_slab_pool_t                    *shpool;
    ngx_http_moa_metrics_sh_t          *sh;
    ngx_array_t                        *models;     /* the main conf's ids */
    ngx_http_moa_series_t             **series;     /* by model index */
    ngx_http_moa_series_t              *passthrough;
    ngx_http_moa_series_t              *none;
};


/* a request counted in flight; it lives in a cleanup of the request pool */
struct ngx_http_moa_metrics_req_s {
    ngx_http_moa_ctx_t                 *ctx;
    ngx_http_moa_metrics_t             *metrics;
    ngx_http_moa_series_t              *series;
    ngx_msec_int_t                      ttfb;       /* -1: no event yet */
};


char *ngx_http_moa_metrics_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_http_moa_metrics_t *ngx_http_moa_metrics_conf(ngx_conf_t *cf);
ngx_int_t ngx_http_moa_metrics_init(ngx_conf_t *cf);
void ngx_http_moa_metrics_start(ngx_http_moa_ctx_t *ctx);
void ngx_http_moa_metrics_first_event(ngx_http_moa_ctx_t *ctx);
void ngx_http_moa_metrics_store(ngx_http_request_t *r, ngx_uint_t op,
    ngx_uint_t result, ngx_uint_t evicted);


#endif /* _NGX_HTTP_MOA_METRICS_H_INCLUDED_ */
