
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The memory of a request's calls: pools of their own, one for the
 * request's other calls and one per stage that another follows (a
 * layer's proposals, the critique), destroyed when that stage is over if
 * nginx no longer refers to any of it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_moa_common.h"
#include "ngx_http_moa_call_pool.h"


static void ngx_http_moa_call_pool_cleanup(void *data);
static ngx_uint_t ngx_http_moa_call_pool_finished(ngx_http_moa_call_t *call);
static ngx_uint_t ngx_http_moa_call_pool_has(ngx_pool_t *pool, void *p);
static ngx_int_t ngx_http_moa_call_pool_variables(ngx_http_request_t *r,
    ngx_pool_t *pool);


/*
 * A calls' pool lives as long as the client's request at most: it is
 * destroyed by a cleanup of the request's pool, which runs after nginx ran
 * the request's cleanup handlers (the upstreams' among them, allocated
 * here) and wrote the access log, and before the request's memory goes;
 * a stage's may go earlier (ngx_http_moa_call_pool_stage_over).
 */
ngx_pool_t *
ngx_http_moa_call_pool_get(ngx_http_moa_ctx_t *ctx, ngx_pool_t **slot,
    size_t size)
{
    ngx_pool_t          *pool;
    ngx_pool_cleanup_t  *cln;
    ngx_http_request_t  *r;

    if (*slot) {
        return *slot;
    }

    r = ctx->request;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    pool = ngx_create_pool(size, r->connection->log);
    if (pool == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_moa_call_pool_cleanup;
    cln->data = pool;

    *slot = pool;

    return pool;
}


/*
 * What the calls of the last stage pools took beyond the estimate, per
 * call, learned in this worker (a provider that answers with many headers
 * takes more per call): nginx makes a pool's next block as big as its
 * first, so a pool that is too small costs twice its size
 */
static size_t  ngx_http_moa_call_pool_extra;

#define NGX_HTTP_MOA_CALL_POOL_EXTRA_MAX  16384


/*
 * The first block of a pool for ncalls calls like this one (its body
 * built): the calls of a stage are alike (a layer's proposals), and the
 * calls' pool gets one call at a time (a synthesis, a passthrough).  A
 * small body of many parts is sent in one (ngx_http_moa_call_body).
 */
size_t
ngx_http_moa_call_pool_size(ngx_http_moa_call_t *call, ngx_uint_t ncalls,
    ngx_uint_t staged)
{
    size_t  size, parts;

    parts = call->body.nparts;

    if (parts == 0
        || (parts > 2 && call->body.len <= NGX_HTTP_MOA_SMALL_BODY))
    {
        parts = 1;
    }

    size = NGX_HTTP_MOA_CALL_POOL_SIZE + ngx_http_moa_call_pool_extra
           + (staged ? NGX_HTTP_MOA_CALL_POOL_SUB : 0)
           + NGX_HTTP_MOA_CALL_POOL_PART * parts;

    return ngx_align(size * ncalls, NGX_POOL_ALIGNMENT);
}


/*
 * A stage's pool took more than its first block: what its calls took
 * each, beyond the estimate of a staged call of one part, is the extra of
 * the next pools (the most seen: pools made before they learned it add
 * nothing more)
 */
static void
ngx_http_moa_call_pool_learn(ngx_pool_t *pool, ngx_uint_t ncalls)
{
    size_t       used, base;
    ngx_pool_t  *block;

    if (pool->d.next == NULL || ncalls == 0) {
        return;
    }

    used = 0;

    for (block = pool; block; block = block->d.next) {
        used += block->d.last - (u_char *) block;
    }

    /* and a little more: the blocks' ends are not all used */

    used = used / ncalls + NGX_HTTP_MOA_CALL_POOL_PART;

    base = NGX_HTTP_MOA_CALL_POOL_SIZE + NGX_HTTP_MOA_CALL_POOL_SUB
           + NGX_HTTP_MOA_CALL_POOL_PART;

    if (used > base + ngx_http_moa_call_pool_extra) {
        ngx_http_moa_call_pool_extra = ngx_min(used - base,
                                         NGX_HTTP_MOA_CALL_POOL_EXTRA_MAX);
    }
}


static void
ngx_http_moa_call_pool_cleanup(void *data)
{
    ngx_pool_t  *pool = data;

    ngx_destroy_pool(pool);
}


/*
 * A stage is over (a layer's proposals, the critique): the next stage's
 * calls get a new pool, and this one goes at once if nginx is done with
 * every call in it, else with the client's request.  What the client's
 * request keeps of a subrequest must then refer to none of it: the
 * upstream's cleanup entry is in the client's pool (ngx_http_cleanup_add
 * takes the main request's) and its handler is unset once the upstream is
 * finalized; a background subrequest is on no postponed list and its
 * posting leaves the list when it runs (checked: a posting made in the
 * pool); a cached value of the variables it shares with the client's
 * request is copied out; the connection's log is set to the client's
 * request.  The replies and the candidates are malloc()ed, not in the
 * pool; the calls' bodies (ngx_http_moa_call_body) are in it.
 */
void
ngx_http_moa_call_pool_stage_over(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_call_t *calls, ngx_uint_t n)
{
    ngx_uint_t                  i;
    ngx_pool_t                 *pool;
    ngx_pool_cleanup_t         *cln;
    ngx_http_request_t         *r;
    ngx_http_posted_request_t  *pr;

    pool = ctx->stage_pool;
    ctx->stage_pool = NULL;

    if (pool == NULL) {
        return;
    }

    r = ctx->request;

    /* a thread or AIO operation in flight may write to a subrequest's */

    if (r->blocked) {
        return;
    }

    for (i = 0; i < n; i++) {
        if (calls[i].started
            && (calls[i].sr->pool != pool
                || !ngx_http_moa_call_pool_finished(&calls[i])))
        {
            return;
        }
    }

    for (pr = r->posted_requests; pr; pr = pr->next) {
        if (ngx_http_moa_call_pool_has(pool, pr)
            || ngx_http_moa_call_pool_has(pool, pr->request))
        {
            return;
        }
    }

    if (ngx_http_moa_call_pool_variables(r, pool) != NGX_OK) {
        return;
    }

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_moa_call_pool_cleanup
            && cln->data == pool)
        {
            cln->handler = NULL;
            break;
        }
    }

    for (i = 0; i < n; i++) {
        calls[i].sr = NULL;
    }

    /* the connection's log names the request it runs for */

    ngx_http_set_log_request(r->connection->log, r);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "moa calls' pool of a stage destroyed: %ui calls", n);

    ngx_http_moa_call_pool_learn(pool, n);

    ngx_destroy_pool(pool);
}


/*
 * nginx is done with a call's subrequest: finalized (a background one is
 * then on no list), or canceled at the provider, whose cleanup finalized
 * it; an abandoned one still runs
 */
static ngx_uint_t
ngx_http_moa_call_pool_finished(ngx_http_moa_call_t *call)
{
    ngx_http_request_t  *sr;

    sr = call->sr;

    if (!call->done || !sr->background || call->abandoned) {
        return 0;
    }

    if (sr->upstream && sr->upstream->cleanup) {
        return 0;
    }

    return sr->done || call->canceled;
}


/*
 * Whether p is in the pool's memory: its blocks, or the start of one of
 * its large allocations (a variable's handler allocates a value and
 * points to its start; their sizes are not kept)
 */
static ngx_uint_t
ngx_http_moa_call_pool_has(ngx_pool_t *pool, void *p)
{
    u_char            *b;
    ngx_pool_t        *block;
    ngx_pool_large_t  *l;

    b = p;

    for (block = pool; block; block = block->d.next) {
        if (b >= (u_char *) block && b < block->d.end) {
            return 1;
        }
    }

    for (l = pool->large; l; l = l->next) {
        if (l->alloc == p) {
            return 1;
        }
    }

    return 0;
}


/*
 * A subrequest shares the client's request's variables: a cacheable one
 * it evaluated first ($request_id in a proxy_set_header, say) keeps a
 * value made in the subrequest's pool, which the client's request and the
 * later calls read.  Such values are copied to the client's pool, so that
 * they stay the same.
 */
static ngx_int_t
ngx_http_moa_call_pool_variables(ngx_http_request_t *r, ngx_pool_t *pool)
{
    u_char                     *p;
    ngx_uint_t                  i;
    ngx_http_variable_value_t  *v;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_core_module);

    v = r->variables;

    for (i = 0; i < cmcf->variables.nelts; i++) {

        if (!v[i].valid || v[i].len == 0
            || !ngx_http_moa_call_pool_has(pool, v[i].data))
        {
            continue;
        }

        p = ngx_pnalloc(r->pool, v[i].len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(p, v[i].data, v[i].len);
        v[i].data = p;
    }

    return NGX_OK;
}
