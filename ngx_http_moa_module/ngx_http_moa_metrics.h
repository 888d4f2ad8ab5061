
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Prometheus metrics.
 */


#ifndef _NGX_HTTP_MOA_METRICS_H_INCLUDED_
#define _NGX_HTTP_MOA_METRICS_H_INCLUDED_


#include "ngx_http_moa_common.h"


char *ngx_http_moa_metrics_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_moa_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_moa_metrics_init(ngx_conf_t *cf);
void ngx_http_moa_metrics_start(ngx_http_moa_ctx_t *ctx);
void ngx_http_moa_metrics_first_event(ngx_http_moa_ctx_t *ctx);


#endif /* _NGX_HTTP_MOA_METRICS_H_INCLUDED_ */
