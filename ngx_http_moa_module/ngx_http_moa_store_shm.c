
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The store of responses in a shared memory zone (moa_responses_store
 * zone=NAME:SIZE), shared by the workers, as nginx keeps its own shared
 * caches (limit_req, the SSL session cache): the slab allocator, a
 * red-black tree by id (the key is the id's CRC32, the id itself tells
 * collisions apart) and a queue, most recently used first.  A save that
 * finds no room evicts from the queue's tail until the record fits; an
 * expired entry is dropped when it is read and, a few at a time, by each
 * save.  Every operation holds the zone's mutex for a lookup and one copy.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_moa_common.h"
#include "ngx_http_moa_store.h"
#include "ngx_http_moa_store_shm.h"

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_stored.h"


/* expired entries a save drops from the queue's tail, at most */
#define NGX_HTTP_MOA_STORE_SHM_EXPIRE  4


typedef struct {
    ngx_str_node_t              sn;            /* key, and the id */
    ngx_queue_t                 queue;
    time_t                      expires;       /* 0: never */
    size_t                      len;           /* of the record */
    u_char                      data[1];       /* the id, the record */
} ngx_http_moa_store_node_t;


typedef struct {
    ngx_rbtree_t                rbtree;
    ngx_rbtree_node_t           sentinel;
    ngx_queue_t                 queue;
} ngx_http_moa_store_sh_t;


struct ngx_http_moa_store_zone_s {
    ngx_slab_pool_t            *shpool;
    ngx_http_moa_store_sh_t    *sh;
};


static ngx_int_t ngx_http_moa_store_shm_init(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_moa_store_node_t *ngx_http_moa_store_shm_find(
    ngx_http_moa_store_zone_t *zone, ngx_str_t *id, uint32_t hash);
static void ngx_http_moa_store_shm_drop(ngx_http_moa_store_zone_t *zone,
    ngx_http_moa_store_node_t *node);


/* the zone of zone=NAME[:SIZE]; the same name everywhere is one zone */
ngx_shm_zone_t *
ngx_http_moa_store_shm_zone(ngx_conf_t *cf, ngx_str_t *name, ssize_t size)
{
    ngx_shm_zone_t             *shm_zone;
    ngx_http_moa_store_zone_t  *zone;

    shm_zone = ngx_shared_memory_add(cf, name, size, &ngx_http_moa_module);
    if (shm_zone == NULL) {
        return NULL;
    }

    if (shm_zone->data) {
        if (shm_zone->init != ngx_http_moa_store_shm_init) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "zone \"%V\" is already used by "
                               "\"moa_metrics_zone\"", name);
            return NULL;
        }

        return shm_zone;
    }

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_http_moa_store_zone_t));
    if (zone == NULL) {
        return NULL;
    }

    shm_zone->init = ngx_http_moa_store_shm_init;
    shm_zone->data = zone;

    return shm_zone;
}


/*
 * Runs in the master when a configuration is loaded: a zone of the same
 * name and size in the previous one is taken over with its responses.
 */
static ngx_int_t
ngx_http_moa_store_shm_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_moa_store_zone_t  *ozone = data;

    size_t                      len;
    ngx_slab_pool_t            *shpool;
    ngx_http_moa_store_zone_t  *zone;

    zone = shm_zone->data;

    if (ozone) {
        zone->shpool = ozone->shpool;
        zone->sh = ozone->sh;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
    zone->shpool = shpool;

    if (shm_zone->shm.exists) {
        zone->sh = shpool->data;
        return NGX_OK;
    }

    zone->sh = ngx_slab_alloc(shpool, sizeof(ngx_http_moa_store_sh_t));
    if (zone->sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = zone->sh;

    ngx_rbtree_init(&zone->sh->rbtree, &zone->sh->sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_queue_init(&zone->sh->queue);

    len = sizeof(" in moa_responses_store zone \"\"") + shm_zone->shm.name.len;

    shpool->log_ctx = ngx_slab_alloc(shpool, len);
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in moa_responses_store zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone is the normal case: the oldest are evicted, no alert */
    shpool->log_nomem = 0;

    return NGX_OK;
}


static ngx_http_moa_store_node_t *
ngx_http_moa_store_shm_find(ngx_http_moa_store_zone_t *zone, ngx_str_t *id,
    uint32_t hash)
{
    ngx_str_node_t  *sn;

    sn = ngx_str_rbtree_lookup(&zone->sh->rbtree, id, hash);

    return (ngx_http_moa_store_node_t *) sn;
}


static void
ngx_http_moa_store_shm_drop(ngx_http_moa_store_zone_t *zone,
    ngx_http_moa_store_node_t *node)
{
    ngx_queue_remove(&node->queue);
    ngx_rbtree_delete(&zone->sh->rbtree, &node->sn.node);
    ngx_slab_free_locked(zone->shpool, node);
}


/* a copy of the record (op->record), the most recently used from now */
void
ngx_http_moa_store_shm_load(ngx_http_moa_store_op_t *op)
{
    uint32_t                    hash;
    ngx_http_moa_store_zone_t  *zone;
    ngx_http_moa_store_node_t  *node;

    zone = op->store->shm_zone->data;
    hash = ngx_crc32_short(op->id.data, op->id.len);

    op->result = NGX_HTTP_MOA_STORE_MISS;

    ngx_shmtx_lock(&zone->shpool->mutex);

    node = ngx_http_moa_store_shm_find(zone, &op->id, hash);

    if (node && node->expires && node->expires <= ngx_time()) {
        ngx_http_moa_store_shm_drop(zone, node);
        node = NULL;
    }

    if (node) {
        ngx_queue_remove(&node->queue);
        ngx_queue_insert_head(&zone->sh->queue, &node->queue);

        ngx_http_moa_buf_add(&op->record, node->data + op->id.len, node->len);

        op->result = op->record.nomem ? NGX_HTTP_MOA_STORE_FAILED
                                      : NGX_HTTP_MOA_STORE_OK;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


/* op->record under op->id, evicting the least recently used for room */
void
ngx_http_moa_store_shm_save(ngx_http_moa_store_op_t *op)
{
    size_t                      n;
    time_t                      now;
    uint32_t                    hash;
    ngx_uint_t                  i;
    ngx_queue_t                *q;
    ngx_slab_pool_t            *shpool;
    ngx_http_moa_store_zone_t  *zone;
    ngx_http_moa_store_node_t  *node, *old;

    zone = op->store->shm_zone->data;
    shpool = zone->shpool;
    hash = ngx_crc32_short(op->id.data, op->id.len);
    now = ngx_time();

    n = offsetof(ngx_http_moa_store_node_t, data) + op->id.len
        + op->record.len;

    /* more than the zone's pages: refused without evicting anything */

    if (n > (size_t) (shpool->end - shpool->start) / 2) {
        op->result = NGX_HTTP_MOA_STORE_FAILED;
        return;
    }

    ngx_shmtx_lock(&shpool->mutex);

    old = ngx_http_moa_store_shm_find(zone, &op->id, hash);
    if (old) {
        ngx_http_moa_store_shm_drop(zone, old);
    }

    for (i = 0; i < NGX_HTTP_MOA_STORE_SHM_EXPIRE; i++) {
        if (ngx_queue_empty(&zone->sh->queue)) {
            break;
        }

        q = ngx_queue_last(&zone->sh->queue);
        old = ngx_queue_data(q, ngx_http_moa_store_node_t, queue);

        if (old->expires == 0 || old->expires > now) {
            break;
        }

        ngx_http_moa_store_shm_drop(zone, old);
    }

    for ( ;; ) {
        node = ngx_slab_alloc_locked(shpool, n);

        if (node || ngx_queue_empty(&zone->sh->queue)) {
            break;
        }

        q = ngx_queue_last(&zone->sh->queue);
        old = ngx_queue_data(q, ngx_http_moa_store_node_t, queue);

        ngx_http_moa_store_shm_drop(zone, old);
        op->evicted++;
    }

    if (node == NULL) {
        ngx_shmtx_unlock(&shpool->mutex);
        op->result = NGX_HTTP_MOA_STORE_FAILED;
        return;
    }

    node->sn.node.key = hash;
    node->sn.str.len = op->id.len;
    node->sn.str.data = node->data;
    node->expires = op->expires;
    node->len = op->record.len;

    ngx_memcpy(node->data, op->id.data, op->id.len);
    ngx_memcpy(node->data + op->id.len, op->record.data, op->record.len);

    ngx_rbtree_insert(&zone->sh->rbtree, &node->sn.node);
    ngx_queue_insert_head(&zone->sh->queue, &node->queue);

    ngx_shmtx_unlock(&shpool->mutex);

    op->result = NGX_HTTP_MOA_STORE_OK;
}


/* deleted if it is the owner's and alive; otherwise a miss, like a load */
void
ngx_http_moa_store_shm_delete(ngx_http_moa_store_op_t *op)
{
    uint32_t                    hash;
    ngx_http_moa_stored_t       rec;
    ngx_http_moa_store_zone_t  *zone;
    ngx_http_moa_store_node_t  *node;

    zone = op->store->shm_zone->data;
    hash = ngx_crc32_short(op->id.data, op->id.len);

    op->result = NGX_HTTP_MOA_STORE_MISS;

    ngx_shmtx_lock(&zone->shpool->mutex);

    node = ngx_http_moa_store_shm_find(zone, &op->id, hash);

    if (node
        && ngx_http_moa_stored_decode(&rec,
                                      (char *) node->data + op->id.len,
                                      node->len)
           == 0
        && ngx_http_moa_stored_owned(&rec, (char *) op->owner,
                                     NGX_HTTP_MOA_STORE_OWNER_LEN,
                                     ngx_time()))
    {
        ngx_http_moa_store_shm_drop(zone, node);
        op->result = NGX_HTTP_MOA_STORE_OK;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}
