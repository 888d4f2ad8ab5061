
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the usage of the calls summed into one cJSON object (from a
 * tree, or straight from a parsed reply's tokens), read, found in a
 * complete reply, and printed.
 */


#ifndef _NGX_HTTP_MOA_USAGE_H_INCLUDED_
#define _NGX_HTTP_MOA_USAGE_H_INCLUDED_


#include <limits.h>

#include <cjson/cJSON.h>

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_reply.h"


int ngx_http_moa_usage_add(cJSON *acc, const cJSON *usage);
int ngx_http_moa_usage_add_reply(cJSON *acc,
    const ngx_http_moa_reply_t *rep);
long long ngx_http_moa_usage_get(const cJSON *acc, const char *name);
void ngx_http_moa_usage_print(ngx_http_moa_buf_t *out, const cJSON *usage);
int ngx_http_moa_usage_scan(const char *p, size_t len, cJSON **usage);


/* a provider's number as long long: clamped, the cast would be undefined */
static inline long long
ngx_http_moa_usage_clamp(double d)
{
    if (d != d) {
        return 0;
    }

    if (d >= 9223372036854775808.0) {
        return LLONG_MAX;
    }

    if (d < -9223372036854775808.0) {
        return LLONG_MIN;
    }

    return (long long) d;
}


#endif /* _NGX_HTTP_MOA_USAGE_H_INCLUDED_ */
