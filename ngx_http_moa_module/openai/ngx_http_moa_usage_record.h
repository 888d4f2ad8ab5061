
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the record the usage of the calls is summed into.
 */


#ifndef _NGX_HTTP_MOA_USAGE_RECORD_H_INCLUDED_
#define _NGX_HTTP_MOA_USAGE_RECORD_H_INCLUDED_


#include <limits.h>

#include <cjson/cJSON.h>


/*
 * The summed usage: a cJSON object (root) that only usage_add() and
 * usage_add_reply() add to, its names unique (those of providers' usual
 * members are static strings), read as any cJSON tree.  Its first
 * members are nodes of the record itself, as many as OpenAI's full usage
 * has (three counts, two details objects, their six counts), so that
 * summing a usage allocates nothing and freeing it frees nothing; more
 * come from cJSON.  usage_record_init() before use,
 * usage_record_free() after (a record of zeros may be freed).
 */
#define NGX_HTTP_MOA_USAGE_NODES    11

typedef struct {
    cJSON                       root;
    cJSON                       node[NGX_HTTP_MOA_USAGE_NODES];
    unsigned                    nodes;         /* of node[] taken */
} ngx_http_moa_usage_t;


void ngx_http_moa_usage_record_init(ngx_http_moa_usage_t *u);
void ngx_http_moa_usage_record_free(ngx_http_moa_usage_t *u);

/* for usage.c: a new member (a number d, or an object: type '{') */
cJSON *ngx_http_moa_usage_record_node(ngx_http_moa_usage_t *u, int type,
    double d);
/* a member that did not go into the tree */
void ngx_http_moa_usage_record_drop(ngx_http_moa_usage_t *u, cJSON *a);


/*
 * Member a's count set to d: valueint as cJSON_SetNumberValue() sets it
 * (saturated), without its call
 */
static inline void
ngx_http_moa_usage_record_set(cJSON *a, double d)
{
    a->valueint = d >= INT_MAX ? INT_MAX
                  : d <= (double) INT_MIN ? INT_MIN : (int) d;
    a->valuedouble = d;
}


/* the sum's tree, for its readers: NULL without a record */
static inline cJSON *
ngx_http_moa_usage_record_tree(ngx_http_moa_usage_t *u)
{
    return u ? &u->root : NULL;
}


#endif /* _NGX_HTTP_MOA_USAGE_RECORD_H_INCLUDED_ */
