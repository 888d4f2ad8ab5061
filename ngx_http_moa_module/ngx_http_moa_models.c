
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa_models: the OpenAI model list, GET /v1/models, and one model,
 * GET /v1/models/{id}, from the moa_model ids of the configuration.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_moa_common.h"
#include "ngx_http_moa_models.h"
#include "ngx_http_moa_output.h"

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_buf_json.h"
#include "ngx_http_moa_error.h"


static ngx_int_t ngx_http_moa_models_handler(ngx_http_request_t *r);
static void ngx_http_moa_models_object(ngx_http_moa_buf_t *json,
    ngx_str_t *id, time_t created);


/* moa_models; in a location */
char *
ngx_http_moa_models(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_moa_loc_conf_t *mlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (mlcf->models_list) {
        return "is duplicate";
    }

    mlcf->models_list = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_moa_models_handler;

    return NGX_CONF_OK;
}


/* GET /v1/models and /v1/models/{id} */
static ngx_int_t
ngx_http_moa_models_handler(ngx_http_request_t *r)
{
    u_char                    *p;
    ngx_int_t                  rc;
    ngx_str_t                  id, *m;
    ngx_uint_t                 i, found;
    ngx_http_moa_buf_t         json;
    ngx_http_moa_ctx_t        *ctx;
    ngx_http_moa_error_t       err;
    ngx_http_moa_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_moa_module);

    ngx_http_moa_output_log_id(r);

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    ngx_memzero(&json, sizeof(ngx_http_moa_buf_t));

    /* the last path segment after ".../models/" is a model id */

    ngx_str_null(&id);

    for (p = r->uri.data + r->uri.len; p > r->uri.data; p--) {
        if (p[-1] == '/') {
            break;
        }
    }

    if (p > r->uri.data + 1 && (size_t) (r->uri.data + r->uri.len - p) > 0
        && !(r->uri.data + r->uri.len - p == 6
             && ngx_strncmp(p, "models", 6) == 0))
    {
        id.data = p;
        id.len = r->uri.data + r->uri.len - p;
    }

    m = mcf->models.elts;
    found = 0;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        ngx_http_moa_error_set(&err, NGX_HTTP_NOT_ALLOWED,
                               "invalid_request_error", "method_not_allowed",
                               NULL, "Method not allowed: use GET.");
        goto error;
    }

    if (id.len) {
        for (i = 0; i < mcf->models.nelts; i++) {
            if (m[i].len == id.len
                && ngx_strncmp(m[i].data, id.data, id.len) == 0)
            {
                found = 1;
                break;
            }
        }

        if (!found) {
            ngx_http_moa_error_set(&err, NGX_HTTP_NOT_FOUND,
                                   "invalid_request_error", "model_not_found",
                                   "model", "The model '%.*s' does not exist "
                                   "or you do not have access to it.",
                                   (int) ngx_min(id.len, 128), id.data);
            goto error;
        }

        ngx_http_moa_models_object(&json, &m[i], mcf->created);

    } else {
        ngx_http_moa_buf_lit(&json, "{\"object\":\"list\",\"data\":[");

        for (i = 0; i < mcf->models.nelts; i++) {
            if (i) {
                ngx_http_moa_buf_lit(&json, ",");
            }

            ngx_http_moa_models_object(&json, &m[i], mcf->created);
        }

        ngx_http_moa_buf_lit(&json, "]}");
    }

    r->headers_out.status = NGX_HTTP_OK;
    goto send;

error:

    /* the header filter rewrites nginx's error pages here, not this one */
    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_moa_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ctx->own_response = 1;
    ngx_http_set_ctx(r, ctx, ngx_http_moa_module);

    if (err.status == NGX_HTTP_NOT_ALLOWED
        && ngx_http_moa_output_add_header(r, "Allow", "GET, HEAD")
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_moa_error_json(&json, &err);
    r->headers_out.status = err.status;

send:

    r->headers_out.content_type_len = sizeof("application/json") - 1;
    ngx_str_set(&r->headers_out.content_type, "application/json");

    if (ngx_http_moa_output_request_id(r) != NGX_OK) {
        ngx_http_moa_buf_free(&json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_moa_output_send_text(r, &json);
}


/* one model object, as in the list and alone */
static void
ngx_http_moa_models_object(ngx_http_moa_buf_t *json, ngx_str_t *id,
    time_t created)
{
    ngx_http_moa_buf_lit(json, "{\"id\":");
    ngx_http_moa_buf_json_str(json, (char *) id->data, id->len);
    ngx_http_moa_buf_lit(json, ",\"object\":\"model\",\"created\":");
    ngx_http_moa_buf_int(json, created);
    ngx_http_moa_buf_lit(json, ",\"owned_by\":\"moa\"}");
}
