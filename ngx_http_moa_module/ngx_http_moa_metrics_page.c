
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa_metrics: the location that serves the metrics of the zone
 * (ngx_http_moa_metrics.c) in Prometheus' text exposition format.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_moa_common.h"
#include "ngx_http_moa_metrics_page.h"
#include "ngx_http_moa_metrics.h"
#include "ngx_http_moa_call.h"
#include "ngx_http_moa_output.h"

#include "ngx_http_moa_buf.h"


/*
 * A metric family of the page: its samples are one row per series (the
 * series of kinds up to "series": MoA only, routed, or all), or one row
 * per stage.  A row is one value per label of "labels" (or one value) at
 * "offset" in the series, or a histogram there when "le" is set.
 */
typedef struct {
    const char                 *name;
    const char                 *type;
    const char                 *help;
    ngx_uint_t                  series;
    size_t                      offset;
    const char                **labels;
    ngx_uint_t                  nlabels;
    const char                **le;
} ngx_http_moa_metrics_family_t;


#define NGX_HTTP_MOA_METRICS_BY_STAGE  (NGX_HTTP_MOA_SERIES_NONE + 1)
#define NGX_HTTP_MOA_METRICS_BY_LAYER  (NGX_HTTP_MOA_SERIES_NONE + 2)

#define ngx_http_moa_series_at(field)                                         \
    offsetof(ngx_http_moa_series_t, field)


static ngx_int_t ngx_http_moa_metrics_page_handler(ngx_http_request_t *r);
static void ngx_http_moa_metrics_write(ngx_http_moa_buf_t *b,
    ngx_http_moa_metrics_sh_t *sh);
static void ngx_http_moa_metrics_page_store(ngx_http_moa_buf_t *b,
    ngx_http_moa_metrics_sh_t *sh);
static void ngx_http_moa_metrics_stages(ngx_http_moa_buf_t *b,
    ngx_http_moa_metrics_family_t *f, ngx_http_moa_metrics_sh_t *sh,
    ngx_http_moa_buf_t *labels);


/* histogram bounds as "le" label text (in milliseconds: the zone's file) */

static const char  *ngx_http_moa_latency_le[] = {
    ",le=\"0.05\"", ",le=\"0.1\"", ",le=\"0.25\"", ",le=\"0.5\"",
    ",le=\"1\"", ",le=\"2.5\"", ",le=\"5\"", ",le=\"10\"", ",le=\"30\"",
    ",le=\"60\"", ",le=\"120\"", ",le=\"300\"", ",le=\"+Inf\""
};

static const char  *ngx_http_moa_ttfb_le[] = {
    ",le=\"0.01\"", ",le=\"0.025\"", ",le=\"0.05\"", ",le=\"0.1\"",
    ",le=\"0.25\"", ",le=\"0.5\"", ",le=\"1\"", ",le=\"2.5\"", ",le=\"5\"",
    ",le=\"10\"", ",le=\"30\"", ",le=\"60\"", ",le=\"+Inf\""
};

static const char  *ngx_http_moa_outcome_labels[] = {
    ",outcome=\"ok\"", ",outcome=\"client_error\"",
    ",outcome=\"upstream_error\"", ",outcome=\"timeout\"",
    ",outcome=\"client_abort\"", ",outcome=\"internal_error\""
};

static const char  *ngx_http_moa_class_labels[] = {
    ",status=\"2xx\"", ",status=\"3xx\"", ",status=\"4xx\"",
    ",status=\"5xx\"", ",status=\"canceled\""
};


static const char  *ngx_http_moa_shortcut_labels[] = {
    ",kind=\"agreement\""
};


static const char  *ngx_http_moa_token_labels[] = {
    ",kind=\"prompt\"", ",kind=\"completion\""
};


/* in the order of the page */
static ngx_http_moa_metrics_family_t  ngx_http_moa_metrics_families[] = {

    { "moa_requests_total", "counter",
      "Chat completion requests by model (a MoA id, passthrough, or none "
      "when refused before routing) and outcome.",
      NGX_HTTP_MOA_SERIES_NONE, ngx_http_moa_series_at(requests),
      ngx_http_moa_outcome_labels, NGX_HTTP_MOA_OUTCOMES, NULL },

    { "moa_responses_requests_total", "counter",
      "Of moa_requests_total, the requests that came through the Responses "
      "API (moa_api responses).",
      NGX_HTTP_MOA_SERIES_NONE, ngx_http_moa_series_at(responses),
      NULL, 1, NULL },

    { "moa_requests_in_flight", "gauge",
      "Requests routed to a MoA model or to passthrough and not finished "
      "yet.",
      NGX_HTTP_MOA_SERIES_PASSTHROUGH, ngx_http_moa_series_at(in_flight),
      NULL, 1, NULL },

    { "moa_upstream_calls_total", "counter",
      "Upstream calls by stage and status class of the reply (canceled: "
      "stopped before it ended).",
      NGX_HTTP_MOA_METRICS_BY_STAGE, 0,
      ngx_http_moa_class_labels, NGX_HTTP_MOA_CALL_CLASSES, NULL },

    { "moa_tokens_total", "counter",
      "Tokens the provider reported, summed over every upstream call of a "
      "request.",
      NGX_HTTP_MOA_SERIES_PASSTHROUGH, ngx_http_moa_series_at(prompt_tokens),
      ngx_http_moa_token_labels, 2, NULL },

    { "moa_fallbacks_total", "counter",
      "Answers that fell back to a proposal because the synthesis failed "
      "(moa_fallback candidate).",
      NGX_HTTP_MOA_SERIES_MOA, ngx_http_moa_series_at(fallbacks),
      NULL, 1, NULL },

    { "moa_critiques_skipped_total", "counter",
      "Syntheses run without critiques because the critique failed.",
      NGX_HTTP_MOA_SERIES_MOA, ngx_http_moa_series_at(critiques_skipped),
      NULL, 1, NULL },

    { "moa_proposals_dropped_total", "counter",
      "Proposal calls cancelled by moa_proposal_timeout.",
      NGX_HTTP_MOA_SERIES_MOA, ngx_http_moa_series_at(proposals_dropped),
      NULL, 1, NULL },

    { "moa_shortcuts_total", "counter",
      "Answers that were a candidate without critique and synthesis, by "
      "kind (agreement: every candidate was the same answer, "
      "moa_agreement).",
      NGX_HTTP_MOA_SERIES_MOA, ngx_http_moa_series_at(shortcuts),
      ngx_http_moa_shortcut_labels, 1, NULL },

    { "moa_selections_total", "counter",
      "Answers that were the candidate a judge selected (moa_aggregate "
      "select).",
      NGX_HTTP_MOA_SERIES_MOA, ngx_http_moa_series_at(selections),
      NULL, 1, NULL },

    { "moa_request_duration_seconds", "histogram",
      "Time from the request line to the end of the answer.",
      NGX_HTTP_MOA_SERIES_NONE, ngx_http_moa_series_at(duration),
      NULL, 0, ngx_http_moa_latency_le },

    { "moa_stage_duration_seconds", "histogram",
      "Duration of each MoA stage (proposal: until the last proposal or "
      "moa_proposal_timeout).",
      NGX_HTTP_MOA_METRICS_BY_STAGE, 0,
      NULL, 0, ngx_http_moa_latency_le },

    { "moa_layer_duration_seconds", "histogram",
      "Duration of the proposals of each layer (moa_layers; layer 1 is "
      "every request's proposals), until its last proposal or "
      "moa_proposal_timeout.",
      NGX_HTTP_MOA_METRICS_BY_LAYER, 0,
      NULL, 0, ngx_http_moa_latency_le },

    { "moa_stream_ttfb_seconds", "histogram",
      "Streamed answers: time from the request line to the first data "
      "event sent.",
      NGX_HTTP_MOA_SERIES_PASSTHROUGH, ngx_http_moa_series_at(ttfb),
      NULL, 0, ngx_http_moa_ttfb_le },

    { NULL, NULL, NULL, 0, 0, NULL, 0, NULL }
};


/* moa_metrics; in a location */
char *
ngx_http_moa_metrics_page(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == ngx_http_moa_metrics_page_handler) {
        return "is duplicate";
    }

    /* the zone may be declared later in the http block: checked at init */

    if (ngx_http_moa_metrics_conf(cf) == NULL) {
        return NGX_CONF_ERROR;
    }

    clcf->handler = ngx_http_moa_metrics_page_handler;

    return NGX_CONF_OK;
}


/* the exposition: GET or HEAD in a location with moa_metrics */
static ngx_int_t
ngx_http_moa_metrics_page_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_http_moa_buf_t         text;
    ngx_http_moa_main_conf_t  *mcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_moa_module);

    ngx_memzero(&text, sizeof(ngx_http_moa_buf_t));

    ngx_http_moa_metrics_write(&text, mcf->metrics->sh);

    r->headers_out.status = NGX_HTTP_OK;
    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.content_type_len = sizeof("text/plain") - 1;

    return ngx_http_moa_output_send_text(r, &text);
}


static void
ngx_http_moa_metrics_head(ngx_http_moa_buf_t *b, const char *name,
    const char *type, const char *help)
{
    ngx_http_moa_buf_lit(b, "# HELP ");
    ngx_http_moa_buf_cstr(b, name);
    ngx_http_moa_buf_lit(b, " ");
    ngx_http_moa_buf_cstr(b, help);
    ngx_http_moa_buf_lit(b, "\n# TYPE ");
    ngx_http_moa_buf_cstr(b, name);
    ngx_http_moa_buf_lit(b, " ");
    ngx_http_moa_buf_cstr(b, type);
    ngx_http_moa_buf_lit(b, "\n");
}


/* name{labels more} value */
static void
ngx_http_moa_metrics_sample(ngx_http_moa_buf_t *b, const char *name,
    const char *suffix, ngx_http_moa_buf_t *labels, const char *more,
    long long value)
{
    ngx_http_moa_buf_cstr(b, name);

    if (suffix) {
        ngx_http_moa_buf_cstr(b, suffix);
    }

    ngx_http_moa_buf_lit(b, "{");
    ngx_http_moa_buf_add(b, labels->data, labels->len);

    if (more) {
        ngx_http_moa_buf_cstr(b, more);
    }

    ngx_http_moa_buf_lit(b, "} ");
    ngx_http_moa_buf_int(b, value);
    ngx_http_moa_buf_lit(b, "\n");
}


static void
ngx_http_moa_metrics_histogram(ngx_http_moa_buf_t *b, const char *name,
    ngx_http_moa_buf_t *labels, ngx_http_moa_histogram_t *h,
    const char **le)
{
    char                digits[4];
    ngx_uint_t          i, sum;
    ngx_atomic_uint_t   count;

    count = 0;

    for (i = 0; i <= NGX_HTTP_MOA_METRICS_BOUNDS; i++) {
        count += h->bucket[i];
        ngx_http_moa_metrics_sample(b, name, "_bucket", labels, le[i],
                                    (long long) count);
    }

    /* milliseconds, printed as seconds */

    sum = h->sum;

    ngx_http_moa_buf_cstr(b, name);
    ngx_http_moa_buf_lit(b, "_sum{");
    ngx_http_moa_buf_add(b, labels->data, labels->len);
    ngx_http_moa_buf_lit(b, "} ");
    ngx_http_moa_buf_int(b, (long long) (sum / 1000));

    digits[0] = '.';
    digits[1] = (char) ('0' + sum / 100 % 10);
    digits[2] = (char) ('0' + sum / 10 % 10);
    digits[3] = (char) ('0' + sum % 10);

    ngx_http_moa_buf_add(b, digits, 4);
    ngx_http_moa_buf_lit(b, "\n");

    /* the +Inf bucket, so that the two always agree */
    ngx_http_moa_metrics_sample(b, name, "_count", labels, NULL,
                                (long long) count);
}


/* model="<id>", the value escaped as the text format wants */
static void
ngx_http_moa_metrics_model(ngx_http_moa_buf_t *b, ngx_http_moa_series_t *s)
{
    u_char  *p, *last;

    b->len = 0;

    ngx_http_moa_buf_lit(b, "model=\"");

    last = s->name + s->len;

    for (p = s->name; p < last; p++) {
        switch (*p) {

        case '\\':
            ngx_http_moa_buf_lit(b, "\\\\");
            break;

        case '"':
            ngx_http_moa_buf_lit(b, "\\\"");
            break;

        case '\n':
            ngx_http_moa_buf_lit(b, "\\n");
            break;

        default:
            ngx_http_moa_buf_add(b, p, 1);
        }
    }

    ngx_http_moa_buf_lit(b, "\"");
}


static void
ngx_http_moa_metrics_write(ngx_http_moa_buf_t *b,
    ngx_http_moa_metrics_sh_t *sh)
{
    u_char                         *p;
    ngx_uint_t                      i;
    const char                     *more;
    ngx_atomic_t                   *v;
    ngx_atomic_int_t                value;
    ngx_http_moa_buf_t              labels;
    ngx_http_moa_series_t          *s;
    ngx_http_moa_metrics_family_t  *f;

    ngx_memzero(&labels, sizeof(ngx_http_moa_buf_t));

    for (f = ngx_http_moa_metrics_families; f->name; f++) {
        ngx_http_moa_metrics_head(b, f->name, f->type, f->help);

        if (f->series == NGX_HTTP_MOA_METRICS_BY_STAGE) {
            ngx_http_moa_metrics_stages(b, f, sh, &labels);
            continue;
        }

        if (f->series == NGX_HTTP_MOA_METRICS_BY_LAYER) {
            for (i = 0; i < NGX_HTTP_MOA_RECIPE_MAX_LAYERS; i++) {
                labels.len = 0;
                ngx_http_moa_buf_lit(&labels, "layer=\"");
                ngx_http_moa_buf_int(&labels, (long long) i + 1);
                ngx_http_moa_buf_lit(&labels, "\"");
                ngx_http_moa_metrics_histogram(b, f->name, &labels,
                                               &sh->layer[i], f->le);
            }

            continue;
        }

        for (s = sh->series; s; s = s->next) {
            if (s->kind > f->series) {
                continue;
            }

            ngx_http_moa_metrics_model(&labels, s);

            p = (u_char *) s + f->offset;

            if (f->le) {
                ngx_http_moa_metrics_histogram(b, f->name, &labels,
                                               (ngx_http_moa_histogram_t *) p,
                                               f->le);
                continue;
            }

            v = (ngx_atomic_t *) p;

            for (i = 0; i < f->nlabels; i++) {
                more = f->labels ? f->labels[i] : NULL;
                value = (ngx_atomic_int_t) v[i];

                ngx_http_moa_metrics_sample(b, f->name, NULL, &labels, more,
                                            (long long) value);
            }
        }
    }

    ngx_http_moa_metrics_page_store(b, sh);

    if (labels.nomem) {
        b->nomem = 1;
    }

    ngx_http_moa_buf_free(&labels);
}


/* the store of responses: operations by result, evictions */
static void
ngx_http_moa_metrics_page_store(ngx_http_moa_buf_t *b,
    ngx_http_moa_metrics_sh_t *sh)
{
    ngx_uint_t  i, j;

    static const char  *ops[] = {
        "{op=\"load\"", "{op=\"save\"", "{op=\"delete\""
    };

    static const char  *results[] = {
        ",result=\"ok\"} ", ",result=\"not_found\"} ",
        ",result=\"error\"} "
    };

    ngx_http_moa_metrics_head(b, "moa_responses_store_operations_total",
                              "counter", "Operations on the store of "
                              "responses (moa_responses_store), by result: "
                              "error is a store that failed or did not "
                              "answer");

    for (i = 0; i < NGX_HTTP_MOA_METRICS_STORE_OPS; i++) {
        for (j = 0; j < NGX_HTTP_MOA_METRICS_STORE_RESULTS; j++) {
            ngx_http_moa_buf_lit(b, "moa_responses_store_operations_total");
            ngx_http_moa_buf_cstr(b, ops[i]);
            ngx_http_moa_buf_cstr(b, results[j]);
            ngx_http_moa_buf_int(b, (long long) sh->store[i][j]);
            ngx_http_moa_buf_lit(b, "\n");
        }
    }

    ngx_http_moa_metrics_head(b, "moa_responses_store_evictions_total",
                              "counter", "Stored responses evicted from "
                              "the zone to make room for new ones");

    ngx_http_moa_buf_lit(b, "moa_responses_store_evictions_total ");
    ngx_http_moa_buf_int(b, (long long) sh->store_evictions);
    ngx_http_moa_buf_lit(b, "\n");
}


/* the families by stage: the calls by status class, the stage durations */
static void
ngx_http_moa_metrics_stages(ngx_http_moa_buf_t *b,
    ngx_http_moa_metrics_family_t *f, ngx_http_moa_metrics_sh_t *sh,
    ngx_http_moa_buf_t *labels)
{
    ngx_uint_t   i, j, n;
    ngx_str_t   *stage;

    n = f->le ? NGX_HTTP_MOA_METRICS_TIMED : NGX_HTTP_MOA_METRICS_STAGES;

    for (i = 0; i < n; i++) {
        stage = ngx_http_moa_call_stage_name(i);

        labels->len = 0;
        ngx_http_moa_buf_lit(labels, "stage=\"");
        ngx_http_moa_buf_add(labels, stage->data, stage->len);
        ngx_http_moa_buf_lit(labels, "\"");

        if (f->le) {
            ngx_http_moa_metrics_histogram(b, f->name, labels, &sh->stage[i],
                                           f->le);
            continue;
        }

        for (j = 0; j < NGX_HTTP_MOA_CALL_CLASSES; j++) {
            ngx_http_moa_metrics_sample(b, f->name, NULL, labels,
                                        f->labels[j],
                                        (long long) sh->calls[i][j]);
        }
    }
}
