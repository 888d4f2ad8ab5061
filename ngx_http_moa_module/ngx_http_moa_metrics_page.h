
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa_metrics: the exposition page of the metrics zone.
 */


#ifndef _NGX_HTTP_MOA_METRICS_PAGE_H_INCLUDED_
#define _NGX_HTTP_MOA_METRICS_PAGE_H_INCLUDED_


#include "ngx_http_moa_common.h"


char *ngx_http_moa_metrics_page(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_MOA_METRICS_PAGE_H_INCLUDED_ */
