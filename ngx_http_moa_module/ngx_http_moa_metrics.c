
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Prometheus metrics: counters and histograms in one shared memory zone,
 * so that every worker's numbers add up (the location that serves them in
 * the text exposition format is ngx_http_moa_metrics_page.c).
 *
 * The series (one per MoA model id, one for all passthrough traffic and one
 * for requests that were refused before they had a model) are created when
 * the configuration is loaded, by the master, under the zone's mutex; a
 * reload with the same zone name and size keeps them and their values.
 * Workers never lock: every update is one atomic add on a counter in the
 * zone, done once per request when its pool goes away (or, for a request
 * refused before routing, in the log phase).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_moa_common.h"
#include "ngx_http_moa_metrics.h"

#include "ngx_http_moa_usage.h"


static ngx_int_t ngx_http_moa_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_moa_series_t *ngx_http_moa_metrics_series(
    ngx_http_moa_metrics_t *mt, ngx_uint_t kind, u_char *name, size_t len);
static void ngx_http_moa_metrics_cleanup(void *data);
static ngx_int_t ngx_http_moa_metrics_log(ngx_http_request_t *r);
static void ngx_http_moa_metrics_account(ngx_http_moa_metrics_t *mt,
    ngx_http_moa_series_t *s, ngx_http_request_t *r, ngx_http_moa_ctx_t *ctx,
    ngx_msec_int_t ttfb);
static ngx_uint_t ngx_http_moa_metrics_calls(ngx_http_moa_metrics_sh_t *sh,
    ngx_http_moa_ctx_t *ctx);
static void ngx_http_moa_metrics_moa(ngx_http_moa_metrics_sh_t *sh,
    ngx_http_moa_series_t *s, ngx_http_moa_ctx_t *ctx, ngx_uint_t dropped);
static ngx_uint_t ngx_http_moa_metrics_outcome(ngx_http_request_t *r,
    ngx_http_moa_ctx_t *ctx);
static ngx_msec_int_t ngx_http_moa_metrics_elapsed(ngx_http_request_t *r);


static ngx_str_t  ngx_http_moa_metrics_reserved[] = {
    ngx_string("passthrough"),
    ngx_string("none")
};


/* histogram bounds, in milliseconds (as "le" labels in the page's file) */

static const ngx_msec_t  ngx_http_moa_latency_ms[] = {
    50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000, 300000
};

static const ngx_msec_t  ngx_http_moa_ttfb_ms[] = {
    10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000
};


/* moa_metrics_zone <name> <size>; */
char *
ngx_http_moa_metrics_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ssize_t                  size;
    ngx_str_t               *value;
    ngx_shm_zone_t          *shm_zone;
    ngx_http_moa_metrics_t  *mt;

    value = cf->args->elts;

    mt = ngx_http_moa_metrics_conf(cf);
    if (mt == NULL) {
        return NGX_CONF_ERROR;
    }

    if (mt->shm_zone) {
        return "is duplicate";
    }

    size = ngx_parse_size(&value[2]);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\"", &value[2]);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small: at least %uzk",
                           &value[1], 8 * ngx_pagesize / 1024);
        return NGX_CONF_ERROR;
    }

    shm_zone = ngx_shared_memory_add(cf, &value[1], size,
                                     &ngx_http_moa_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate zone \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    shm_zone->init = ngx_http_moa_metrics_init_zone;
    shm_zone->data = mt;

    mt->shm_zone = shm_zone;

    return NGX_CONF_OK;
}


/* the metrics of the configuration, created by the first directive */
ngx_http_moa_metrics_t *
ngx_http_moa_metrics_conf(ngx_conf_t *cf)
{
    ngx_http_moa_main_conf_t  *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_moa_module);

    if (mcf->metrics == NULL) {
        mcf->metrics = ngx_pcalloc(cf->pool, sizeof(ngx_http_moa_metrics_t));
    }

    return mcf->metrics;
}


/* postconfiguration: every moa_model is known now */
ngx_int_t
ngx_http_moa_metrics_init(ngx_conf_t *cf)
{
    ngx_str_t                  *id;
    ngx_uint_t                  i, j;
    ngx_http_handler_pt        *h;
    ngx_http_moa_metrics_t     *mt;
    ngx_http_moa_main_conf_t   *mcf;
    ngx_http_core_main_conf_t  *cmcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_moa_module);
    mt = mcf->metrics;

    if (mt == NULL) {
        return NGX_OK;
    }

    if (mt->shm_zone == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"moa_metrics\" requires \"moa_metrics_zone\" "
                           "at the http level");
        return NGX_ERROR;
    }

    id = mcf->models.elts;

    for (i = 0; i < mcf->models.nelts; i++) {
        for (j = 0; j < sizeof(ngx_http_moa_metrics_reserved)
                        / sizeof(ngx_str_t); j++)
        {
            if (id[i].len == ngx_http_moa_metrics_reserved[j].len
                && ngx_strncmp(id[i].data,
                               ngx_http_moa_metrics_reserved[j].data,
                               id[i].len)
                   == 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "the MoA model id \"%V\" is reserved "
                                   "by \"moa_metrics_zone\" for its own "
                                   "series: choose another id", &id[i]);
                return NGX_ERROR;
            }
        }
    }

    mt->models = &mcf->models;

    mt->series = ngx_pcalloc(cf->pool, (mcf->models.nelts + 1)
                                       * sizeof(ngx_http_moa_series_t *));
    if (mt->series == NULL) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_moa_metrics_log;

    return NGX_OK;
}


/*
 * Runs in the master when a configuration is loaded.  A zone of the same
 * name and size in the previous configuration is reused as it is, so the
 * counters survive a reload; series for new model ids are added.
 */
static ngx_int_t
ngx_http_moa_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_moa_metrics_t  *omt = data;

    size_t                   len;
    ngx_str_t               *id;
    ngx_uint_t               i;
    ngx_http_moa_metrics_t  *mt;

    mt = shm_zone->data;

    if (omt) {
        mt->shpool = omt->shpool;
        mt->sh = omt->sh;

    } else {
        mt->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

        if (shm_zone->shm.exists) {
            mt->sh = mt->shpool->data;

        } else {
            mt->sh = ngx_slab_calloc(mt->shpool,
                                     sizeof(ngx_http_moa_metrics_sh_t));
            if (mt->sh == NULL) {
                return NGX_ERROR;
            }

            mt->sh->layout = NGX_HTTP_MOA_METRICS_LAYOUT;
            mt->shpool->data = mt->sh;

            len = sizeof(" in moa_metrics_zone \"\"")
                  + shm_zone->shm.name.len;

            mt->shpool->log_ctx = ngx_slab_alloc(mt->shpool, len);
            if (mt->shpool->log_ctx == NULL) {
                return NGX_ERROR;
            }

            ngx_sprintf(mt->shpool->log_ctx, " in moa_metrics_zone \"%V\"%Z",
                        &shm_zone->shm.name);
        }
    }

    if (mt->sh->layout != NGX_HTTP_MOA_METRICS_LAYOUT) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "moa_metrics_zone \"%V\" holds the data of another "
                      "version of the module: give the zone another name "
                      "or size, or restart nginx", &shm_zone->shm.name);
        return NGX_ERROR;
    }

    ngx_shmtx_lock(&mt->shpool->mutex);

    id = mt->models->elts;

    for (i = 0; i < mt->models->nelts; i++) {
        mt->series[i] = ngx_http_moa_metrics_series(mt,
                                                    NGX_HTTP_MOA_SERIES_MOA,
                                                    id[i].data, id[i].len);
        if (mt->series[i] == NULL) {
            goto nomem;
        }
    }

    mt->passthrough = ngx_http_moa_metrics_series(mt,
                                    NGX_HTTP_MOA_SERIES_PASSTHROUGH,
                                    ngx_http_moa_metrics_reserved[0].data,
                                    ngx_http_moa_metrics_reserved[0].len);

    mt->none = ngx_http_moa_metrics_series(mt, NGX_HTTP_MOA_SERIES_NONE,
                                    ngx_http_moa_metrics_reserved[1].data,
                                    ngx_http_moa_metrics_reserved[1].len);

    if (mt->passthrough == NULL || mt->none == NULL) {
        goto nomem;
    }

    ngx_shmtx_unlock(&mt->shpool->mutex);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, shm_zone->shm.log, 0,
                   "moa metrics zone \"%V\" %s, %ui models",
                   &shm_zone->shm.name, omt ? "reused" : "created",
                   mt->models->nelts);

    return NGX_OK;

nomem:

    ngx_shmtx_unlock(&mt->shpool->mutex);

    ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                  "moa_metrics_zone \"%V\" is too small for %ui series",
                  &shm_zone->shm.name, mt->models->nelts + 2);

    return NGX_ERROR;
}


/* the series of a name, found or added; called with the zone locked */
static ngx_http_moa_series_t *
ngx_http_moa_metrics_series(ngx_http_moa_metrics_t *mt, ngx_uint_t kind,
    u_char *name, size_t len)
{
    ngx_http_moa_series_t  *s, **pp;

    for (pp = &mt->sh->series; *pp; pp = &(*pp)->next) {
        s = *pp;

        if (s->kind == kind && s->len == len
            && ngx_memcmp(s->name, name, len) == 0)
        {
            return s;
        }
    }

    s = ngx_slab_calloc_locked(mt->shpool,
                               sizeof(ngx_http_moa_series_t) + len);
    if (s == NULL) {
        return NULL;
    }

    s->kind = kind;
    s->len = len;
    ngx_memcpy(s->name, name, len);

    /* workers of the previous configuration may be reading the list */

    ngx_memory_barrier();

    *pp = s;

    return s;
}


/*
 * A request routed to a MoA model or to passthrough: in flight from now
 * until its pool goes away, whatever ends it (an answer, an error, a
 * client abort, a termination).  Everything else about it is counted then.
 */
void
ngx_http_moa_metrics_start(ngx_http_moa_ctx_t *ctx)
{
    ngx_pool_cleanup_t          *cln;
    ngx_http_request_t          *r;
    ngx_http_moa_metrics_t      *mt;
    ngx_http_moa_metrics_req_t  *mr;
    ngx_http_moa_main_conf_t    *mcf;

    r = ctx->request;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_moa_module);
    mt = mcf->metrics;

    if (mt == NULL) {
        return;
    }

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_moa_metrics_req_t));
    if (cln == NULL) {
        /* counted in the log phase, as a request that was not routed */
        return;
    }

    mr = cln->data;

    mr->ctx = ctx;
    mr->metrics = mt;
    mr->series = ctx->model ? mt->series[ctx->model->index]
                            : mt->passthrough;
    mr->ttfb = -1;

    (void) ngx_atomic_fetch_add(&mr->series->in_flight, 1);

    cln->handler = ngx_http_moa_metrics_cleanup;
    ctx->metrics = mr;
}


/* the first data event of a streamed answer goes to the client */
void
ngx_http_moa_metrics_first_event(ngx_http_moa_ctx_t *ctx)
{
    if (ctx->metrics == NULL || ctx->metrics->ttfb >= 0) {
        return;
    }

    ctx->metrics->ttfb = ngx_http_moa_metrics_elapsed(ctx->request);
}


static void
ngx_http_moa_metrics_cleanup(void *data)
{
    ngx_http_moa_metrics_req_t  *mr = data;

    ngx_http_moa_metrics_account(mr->metrics, mr->series, mr->ctx->request,
                                 mr->ctx, mr->ttfb);

    (void) ngx_atomic_fetch_add(&mr->series->in_flight,
                                (ngx_atomic_int_t) -1);
}


/* a request in a MoA location that was refused before it was routed */
static ngx_int_t
ngx_http_moa_metrics_log(ngx_http_request_t *r)
{
    ngx_http_moa_ctx_t        *ctx;
    ngx_http_moa_series_t     *s;
    ngx_http_moa_metrics_t    *mt;
    ngx_http_moa_loc_conf_t   *mlcf;
    ngx_http_moa_main_conf_t  *mcf;

    if (r != r->main) {
        return NGX_OK;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_moa_module);

    if (ctx && ctx->metrics) {
        /* counted when its pool goes */
        return NGX_OK;
    }

    if (ctx && ctx->stored) {
        /* GET, DELETE of a stored response: moa_responses_store_* */
        return NGX_OK;
    }

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_moa_module);

    if (mlcf->pass.len == 0) {
        return NGX_OK;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_moa_module);
    mt = mcf->metrics;

    s = (ctx && ctx->model) ? mt->series[ctx->model->index] : mt->none;

    ngx_http_moa_metrics_account(mt, s, r, ctx, -1);

    return NGX_OK;
}


static ngx_inline void
ngx_http_moa_metrics_observe(ngx_http_moa_histogram_t *h,
    const ngx_msec_t *bounds, ngx_msec_int_t ms)
{
    ngx_uint_t  i;

    if (ms < 0) {
        ms = 0;
    }

    for (i = 0; i < NGX_HTTP_MOA_METRICS_BOUNDS; i++) {
        if ((ngx_msec_t) ms <= bounds[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&h->bucket[i], 1);
    (void) ngx_atomic_fetch_add(&h->sum, (ngx_atomic_int_t) ms);
}


/* everything about one request, once, lock-free */
static void
ngx_http_moa_metrics_account(ngx_http_moa_metrics_t *mt,
    ngx_http_moa_series_t *s, ngx_http_request_t *r, ngx_http_moa_ctx_t *ctx,
    ngx_msec_int_t ttfb)
{
    long long    n;
    ngx_uint_t   dropped, outcome;

    outcome = ngx_http_moa_metrics_outcome(r, ctx);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "moa metrics: model \"%*s\", outcome %ui",
                   s->len, s->name, outcome);

    (void) ngx_atomic_fetch_add(&s->requests[outcome], 1);

    if (ctx && ctx->conf->api == NGX_HTTP_MOA_API_RESPONSES) {
        (void) ngx_atomic_fetch_add(&s->responses, 1);
    }

    ngx_http_moa_metrics_observe(&s->duration, ngx_http_moa_latency_ms,
                                 ngx_http_moa_metrics_elapsed(r));

    if (ctx == NULL) {
        return;
    }

    if (ttfb >= 0) {
        ngx_http_moa_metrics_observe(&s->ttfb, ngx_http_moa_ttfb_ms, ttfb);
    }

    if (ctx->usage) {
        n = ngx_http_moa_usage_get(ngx_http_moa_ctx_usage(ctx),
                                   "prompt_tokens");

        if (n > 0) {
            (void) ngx_atomic_fetch_add(&s->prompt_tokens,
                                        (ngx_atomic_int_t) n);
        }

        n = ngx_http_moa_usage_get(ngx_http_moa_ctx_usage(ctx),
                                   "completion_tokens");

        if (n > 0) {
            (void) ngx_atomic_fetch_add(&s->completion_tokens,
                                        (ngx_atomic_int_t) n);
        }
    }

    dropped = ngx_http_moa_metrics_calls(mt->sh, ctx);

    if (ctx->model) {
        ngx_http_moa_metrics_moa(mt->sh, s, ctx, dropped);
    }
}


/*
 * Every call that was started, once, by stage and status class; returns
 * the proposals dropped by the deadline.  "canceled": stopped by the module
 * (moa_proposal_timeout), ended by nginx when the client went away (the
 * active call sees the abort itself; background calls are ended without
 * post_subrequest), never the provider's doing.
 */
static ngx_uint_t
ngx_http_moa_metrics_calls(ngx_http_moa_metrics_sh_t *sh,
    ngx_http_moa_ctx_t *ctx)
{
    ngx_uint_t            i, ncalls, dropped, stage, status, class, run;
    ngx_atomic_t         *counter;
    ngx_http_moa_call_t  *call;

    ncalls = ctx->passthrough ? 1 : (ctx->calls ? ctx->nproposals + 2 : 0);
    dropped = 0;
    counter = NULL;
    run = 0;

    for (i = 0; i < ncalls; i++) {
        call = &ctx->calls[i];

        if (!call->started) {
            continue;
        }

        status = call->status;

        if (call->canceled || call->client_closed || !call->done) {
            class = NGX_HTTP_MOA_CALL_CANCELED;

            if (call->stage == NGX_HTTP_MOA_PROPOSAL
                && ctx->deadline_passed)
            {
                dropped++;
            }

        } else if (status < 300) {
            class = 0;

        } else if (status < 400) {
            class = 1;

        } else if (status < 500) {
            class = 2;

        } else {
            class = 3;
        }

        stage = call->stage < NGX_HTTP_MOA_METRICS_STAGES ? call->stage : 0;

        /* calls in a row with the same labels (the proposals) add at once */

        if (&sh->calls[stage][class] != counter) {
            if (run) {
                (void) ngx_atomic_fetch_add(counter, run);
            }

            counter = &sh->calls[stage][class];
            run = 0;
        }

        run++;
    }

    if (run) {
        (void) ngx_atomic_fetch_add(counter, run);
    }

    return dropped;
}


/*
 * what only MoA requests have: fallbacks, skipped critiques, the recipes'
 * shortcuts and selections, stage and layer times
 */
static void
ngx_http_moa_metrics_moa(ngx_http_moa_metrics_sh_t *sh,
    ngx_http_moa_series_t *s, ngx_http_moa_ctx_t *ctx, ngx_uint_t dropped)
{
    ngx_uint_t  i;

    if (dropped) {
        (void) ngx_atomic_fetch_add(&s->proposals_dropped, dropped);
    }

    if (ctx->fallback_used) {
        (void) ngx_atomic_fetch_add(&s->fallbacks, 1);
    }

    if (ctx->critique_timed && ctx->critique && !ctx->critique->ok
        && !ctx->selected)
    {
        (void) ngx_atomic_fetch_add(&s->critiques_skipped, 1);
    }

    if (ctx->shortcut) {
        (void) ngx_atomic_fetch_add(&s->shortcuts, 1);
    }

    if (ctx->selected) {
        (void) ngx_atomic_fetch_add(&s->selections, 1);
    }

    for (i = 0; i < ctx->layers_done; i++) {
        ngx_http_moa_metrics_observe(&sh->layer[i], ngx_http_moa_latency_ms,
                                     ctx->layer_time[i]);
    }

    if (ctx->proposals_timed) {
        ngx_http_moa_metrics_observe(&sh->stage[0], ngx_http_moa_latency_ms,
                                     ctx->proposal_time);
    }

    if (ctx->critique_timed) {
        ngx_http_moa_metrics_observe(&sh->stage[1], ngx_http_moa_latency_ms,
                                     ctx->critique_time);
    }

    if (ctx->synthesis_timed) {
        ngx_http_moa_metrics_observe(&sh->stage[2], ngx_http_moa_latency_ms,
                                     ctx->synthesis_time);
    }
}


/*
 * How a request ended, from the client's point of view:
 *
 *   client_abort    the client went away or stalled: 499, 408, or the
 *                   connection failed before the answer was complete;
 *   ok              a complete 2xx answer (a fallback candidate included;
 *                   a passthrough reply relayed with a 2xx status);
 *   client_error    a 4xx for the client's own request, before any upstream
 *                   call (bad JSON or fields, unknown model, 405, 413);
 *   timeout         504, or moa_proposal_timeout without enough candidates;
 *   upstream_error  the provider failed: 502, its 4xx or 429 relayed, a
 *                   stream that ended with an error event or was cut short;
 *   internal_error  the gateway's own failure (500: no memory, a file).
 */
static ngx_uint_t
ngx_http_moa_metrics_outcome(ngx_http_request_t *r, ngx_http_moa_ctx_t *ctx)
{
    ngx_uint_t            status;
    ngx_http_moa_call_t  *call;

    status = r->headers_out.status;

    if (r->connection->error
        || status == NGX_HTTP_CLIENT_CLOSED_REQUEST
        || status == NGX_HTTP_REQUEST_TIME_OUT)
    {
        return NGX_HTTP_MOA_OUTCOME_ABORT;
    }

    if (ctx == NULL || ctx->metrics == NULL) {

        /* refused before routing: nginx's or the module's own answer */

        if (status >= NGX_HTTP_BAD_REQUEST
            && status < NGX_HTTP_INTERNAL_SERVER_ERROR)
        {
            return NGX_HTTP_MOA_OUTCOME_CLIENT;
        }

        return (status && status < NGX_HTTP_BAD_REQUEST)
               ? NGX_HTTP_MOA_OUTCOME_OK : NGX_HTTP_MOA_OUTCOME_INTERNAL;
    }

    if (ctx->passthrough) {
        call = ctx->passthrough;

        if (call->ok) {
            /* the provider's own status, relayed */

            if (status < NGX_HTTP_BAD_REQUEST) {
                return NGX_HTTP_MOA_OUTCOME_OK;
            }

            return status == NGX_HTTP_GATEWAY_TIME_OUT
                   ? NGX_HTTP_MOA_OUTCOME_TIMEOUT
                   : NGX_HTTP_MOA_OUTCOME_UPSTREAM;
        }

        if (call->done) {
            /* 502 or 504: no reply, or a reply cut short */
            status = call->status;
        }

    } else if (ctx->succeeded) {
        return NGX_HTTP_MOA_OUTCOME_OK;

    } else if (ctx->deadline_passed && ctx->proposals_timed
               && ctx->ncands < ngx_min(ctx->conf->min_proposals,
                                        ctx->expected))
    {
        return NGX_HTTP_MOA_OUTCOME_TIMEOUT;

    } else if (ctx->error_status) {
        /* a stream that ended with an error event: its status */
        status = ctx->error_status;
    }

    if (status == NGX_HTTP_GATEWAY_TIME_OUT) {
        return NGX_HTTP_MOA_OUTCOME_TIMEOUT;
    }

    /* after routing, every 4xx and 5xx but 500 comes from the provider */

    if (status >= NGX_HTTP_BAD_REQUEST
        && status != NGX_HTTP_INTERNAL_SERVER_ERROR)
    {
        return NGX_HTTP_MOA_OUTCOME_UPSTREAM;
    }

    return NGX_HTTP_MOA_OUTCOME_INTERNAL;
}


/* milliseconds since the request line arrived, as $request_time counts */
static ngx_msec_int_t
ngx_http_moa_metrics_elapsed(ngx_http_request_t *r)
{
    ngx_time_t      *tp;
    ngx_msec_int_t   ms;

    tp = ngx_timeofday();

    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));

    return ngx_max(ms, 0);
}


/* an operation on the store of responses (ngx_http_moa_store.c) */
void
ngx_http_moa_metrics_store(ngx_http_request_t *r, ngx_uint_t op,
    ngx_uint_t result, ngx_uint_t evicted)
{
    ngx_http_moa_metrics_t    *mt;
    ngx_http_moa_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_moa_module);
    mt = mcf->metrics;

    if (mt == NULL || mt->sh == NULL
        || op >= NGX_HTTP_MOA_METRICS_STORE_OPS
        || result >= NGX_HTTP_MOA_METRICS_STORE_RESULTS)
    {
        return;
    }

    (void) ngx_atomic_fetch_add(&mt->sh->store[op][result], 1);

    if (evicted) {
        (void) ngx_atomic_fetch_add(&mt->sh->store_evictions, evicted);
    }
}
