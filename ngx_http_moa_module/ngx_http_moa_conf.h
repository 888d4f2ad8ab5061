
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The module's configuration: create, merge, the directives with checks.
 */


#ifndef _NGX_HTTP_MOA_CONF_H_INCLUDED_
#define _NGX_HTTP_MOA_CONF_H_INCLUDED_


#include "ngx_http_moa_common.h"


void *ngx_http_moa_conf_create_main(ngx_conf_t *cf);
void *ngx_http_moa_conf_create_loc(ngx_conf_t *cf);
char *ngx_http_moa_conf_merge_loc(ngx_conf_t *cf, void *parent, void *child);
char *ngx_http_moa_conf_pass(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_moa_conf_model(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_moa_conf_responses_pass(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_moa_conf_not_found(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_moa_conf_proposer(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_moa_conf_target(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_moa_conf_temperature(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_moa_conf_prompt(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_MOA_CONF_H_INCLUDED_ */
