
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Stored responses (the Responses API's store): the configuration of
 * moa_responses_store and moa_responses_owner, and one operation on the
 * store (load, save, delete) that the shared memory zone answers at once
 * and memcached, through an internal location, later.
 */


#ifndef _NGX_HTTP_MOA_STORE_H_INCLUDED_
#define _NGX_HTTP_MOA_STORE_H_INCLUDED_


#include "ngx_http_moa_common.h"
#include "ngx_http_moa_stored.h"


#define NGX_HTTP_MOA_STORE_ZONE      0
#define NGX_HTTP_MOA_STORE_MEMC      1

#define NGX_HTTP_MOA_STORE_LOAD      0
#define NGX_HTTP_MOA_STORE_SAVE      1
#define NGX_HTTP_MOA_STORE_DELETE    2
#define NGX_HTTP_MOA_STORE_OPS       3

/* an operation's result, as the metrics count it */
#define NGX_HTTP_MOA_STORE_OK        0
#define NGX_HTTP_MOA_STORE_MISS      1     /* unknown, expired, not yours */
#define NGX_HTTP_MOA_STORE_FAILED    2     /* the store is down, or full */
#define NGX_HTTP_MOA_STORE_RESULTS   3

/* the owner's digest: SHA-1, hexadecimal */
#define NGX_HTTP_MOA_STORE_OWNER_LEN 40


typedef struct ngx_http_moa_store_zone_s  ngx_http_moa_store_zone_t;


/* moa_responses_store: one per directive */
struct ngx_http_moa_store_s {
    ngx_uint_t                  kind;
    time_t                      ttl;
    ngx_shm_zone_t             *shm_zone;      /* zone=NAME[:SIZE] */
    ngx_str_t                   pass;          /* pass=URI */
};


typedef void (*ngx_http_moa_store_handler_pt)(ngx_http_moa_store_op_t *op);


/* one operation of a request on its store */
struct ngx_http_moa_store_op_s {
    ngx_http_moa_ctx_t         *ctx;
    ngx_http_moa_store_t       *store;
    ngx_uint_t                  op;            /* NGX_HTTP_MOA_STORE_LOAD.. */
    ngx_uint_t                  result;        /* NGX_HTTP_MOA_STORE_OK.. */
    ngx_str_t                   id;
    u_char                      owner[NGX_HTTP_MOA_STORE_OWNER_LEN];

    ngx_http_moa_buf_t          record;        /* loaded, or to save */
    ngx_http_moa_buf_t          prior;         /* a continuation's items */
    ngx_http_moa_buf_t          body;          /* its references resolved */
    ngx_http_moa_stored_t       rec;           /* a loaded one, decoded */

    ngx_http_moa_store_handler_pt  handler;    /* when answered later */
    void                       *data;
    ngx_http_event_handler_pt   write_handler; /* the request's, kept */

    ngx_http_moa_call_t         call;          /* memcached's */
    ngx_uint_t                  step;          /* a delete: get, then del */
    ngx_uint_t                  evicted;       /* by a save, to make room */
    time_t                      expires;       /* of a save */
    unsigned                    pending:1;
};


char *ngx_http_moa_store_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_moa_store_conf_owner(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

ngx_http_moa_store_op_t *ngx_http_moa_store_op(ngx_http_moa_ctx_t *ctx,
    ngx_uint_t op, ngx_str_t *id);
ngx_int_t ngx_http_moa_store_run(ngx_http_moa_store_op_t *op);
void ngx_http_moa_store_done(ngx_http_moa_store_op_t *op);
ngx_int_t ngx_http_moa_store_previous(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_span_t *raw_id, ngx_http_moa_store_handler_pt handler,
    void *data, ngx_http_moa_error_t *err);
ngx_int_t ngx_http_moa_store_prior(ngx_http_moa_store_op_t *op,
    ngx_http_moa_error_t *err);
ngx_int_t ngx_http_moa_store_keep(ngx_http_moa_ctx_t *ctx, ngx_str_t *id,
    ngx_str_t *input, ngx_str_t *response,
    ngx_http_moa_store_handler_pt handler, void *data);


#endif /* _NGX_HTTP_MOA_STORE_H_INCLUDED_ */
