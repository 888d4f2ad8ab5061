
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The X-Accel shield of a call: the upstream of every call gets a copy of
 * its conf that ignores the provider's X-Accel-* headers.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_moa_shield.h"


static ngx_int_t ngx_http_moa_shield_content(ngx_http_request_t *sr);
static ngx_int_t ngx_http_moa_shield_upstream(ngx_http_request_t *sr);


/*
 * A provider's reply must not steer nginx: X-Accel-Redirect would run the
 * subrequest again in another location (its output, /metrics say, raw to
 * the client, or a background call that never ends), X-Accel-Limit-Rate,
 * -Buffering, -Charset and -Expires would change how the reply is handled.
 * So every call's upstream gets a copy of its conf that ignores them, as
 * "proxy_ignore_headers" would, whatever the operator's location says.
 *
 * The upstream is created by the location's content handler (proxy_pass)
 * and its reply's header is read in a later event: the copy is made right
 * after the subrequest's phases ran.  When a handler made them wait
 * (limit_req's delay), whoever resumes them, the content handler is
 * wrapped to make the copy once it ran.
 */
void
ngx_http_moa_shield_run(ngx_http_request_t *sr)
{
    ngx_http_handler(sr);

    if (ngx_http_moa_shield_upstream(sr) != NGX_OK) {
        ngx_http_finalize_request(sr, NGX_ERROR);
    }
}


static ngx_int_t
ngx_http_moa_shield_content(ngx_http_request_t *sr)
{
    ngx_int_t                  rc;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(sr, ngx_http_core_module);

    rc = clcf->handler(sr);

    return (ngx_http_moa_shield_upstream(sr) == NGX_OK) ? rc : NGX_ERROR;
}


static ngx_int_t
ngx_http_moa_shield_upstream(ngx_http_request_t *sr)
{
    ngx_uint_t                 ignore;
    ngx_http_upstream_t       *u;
    ngx_http_upstream_conf_t  *conf;
    ngx_http_core_loc_conf_t  *clcf;

    ignore = NGX_HTTP_UPSTREAM_IGN_XA_REDIRECT
             | NGX_HTTP_UPSTREAM_IGN_XA_EXPIRES
             | NGX_HTTP_UPSTREAM_IGN_XA_LIMIT_RATE
             | NGX_HTTP_UPSTREAM_IGN_XA_BUFFERING
             | NGX_HTTP_UPSTREAM_IGN_XA_CHARSET;

    u = sr->upstream;

    if (u == NULL) {
        clcf = ngx_http_get_module_loc_conf(sr, ngx_http_core_module);

        if (!sr->done && sr->content_handler
            && sr->content_handler == clcf->handler)
        {
            sr->content_handler = ngx_http_moa_shield_content;
        }

        return NGX_OK;
    }

    if (u->conf == NULL || (u->conf->ignore_headers & ignore) == ignore) {
        return NGX_OK;
    }

    conf = ngx_palloc(sr->pool, sizeof(ngx_http_upstream_conf_t));
    if (conf == NULL) {
        return NGX_ERROR;
    }

    *conf = *u->conf;
    conf->ignore_headers |= ignore;
    u->conf = conf;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, sr->connection->log, 0,
                   "moa call ignores X-Accel-* headers");

    return NGX_OK;
}
