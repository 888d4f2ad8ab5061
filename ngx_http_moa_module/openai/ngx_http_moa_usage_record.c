
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the memory of the usage sum, a record whose own nodes hold
 * its first members (usage.c sums into it).
 */


#include <stdint.h>
#include <string.h>

#include "ngx_http_moa_usage_record.h"


static int ngx_http_moa_usage_record_own(const ngx_http_moa_usage_t *u,
    const cJSON *a);
static void ngx_http_moa_usage_record_free_members(ngx_http_moa_usage_t *u,
    cJSON *a);


void
ngx_http_moa_usage_record_init(ngx_http_moa_usage_t *u)
{
    memset(&u->root, 0, sizeof(cJSON));
    u->root.type = cJSON_Object;
    u->nodes = 0;
}


/* whether member a is a node of the record, not cJSON's */
static int
ngx_http_moa_usage_record_own(const ngx_http_moa_usage_t *u, const cJSON *a)
{
    return (uintptr_t) a - (uintptr_t) u->node < sizeof(u->node);
}


/*
 * The members from a on: the record's own nodes give back only a copied
 * name, cJSON's go with cJSON_Delete() (the record's are taken first, so
 * a member of cJSON has none of them below it)
 */
static void
ngx_http_moa_usage_record_free_members(ngx_http_moa_usage_t *u, cJSON *a)
{
    cJSON  *next;

    for ( /* void */ ; a; a = next) {
        next = a->next;

        if (!ngx_http_moa_usage_record_own(u, a)) {
            a->next = NULL;
            cJSON_Delete(a);
            continue;
        }

        ngx_http_moa_usage_record_free_members(u, a->child);

        if (!(a->type & cJSON_StringIsConst)) {
            cJSON_free(a->string);
        }
    }
}


void
ngx_http_moa_usage_record_free(ngx_http_moa_usage_t *u)
{
    ngx_http_moa_usage_record_free_members(u, u->root.child);
    u->root.child = NULL;
    u->nodes = 0;
}


/* a member: a number d or an object (type '{'), the record's if any left */
cJSON *
ngx_http_moa_usage_record_node(ngx_http_moa_usage_t *u, int type, double d)
{
    cJSON  *a;

    if (u->nodes == NGX_HTTP_MOA_USAGE_NODES) {
        return (type == '0') ? cJSON_CreateNumber(d) : cJSON_CreateObject();
    }

    a = &u->node[u->nodes++];

    memset(a, 0, sizeof(cJSON));

    if (type == '0') {
        a->type = cJSON_Number;
        ngx_http_moa_usage_record_set(a, d);

    } else {
        a->type = cJSON_Object;
    }

    return a;
}


/* a member that did not go into the tree (no memory for its name) */
void
ngx_http_moa_usage_record_drop(ngx_http_moa_usage_t *u, cJSON *a)
{
    if (!ngx_http_moa_usage_record_own(u, a)) {
        cJSON_Delete(a);
    }
}
