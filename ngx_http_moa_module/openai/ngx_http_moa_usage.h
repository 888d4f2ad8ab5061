
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the usage of the calls summed into one cJSON object (from a
 * tree, or straight from a parsed reply's tokens) held in a record of its
 * own, read, found in a complete reply, and printed.
 */


#ifndef _NGX_HTTP_MOA_USAGE_H_INCLUDED_
#define _NGX_HTTP_MOA_USAGE_H_INCLUDED_


#include <limits.h>

#include <cjson/cJSON.h>

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_reply.h"
#include "ngx_http_moa_usage_record.h"


/*
 * A count is an integer from 0 to 2^53 - 1 (exact in a double and in any
 * JSON reader); sums stop there.  A member of another name than OpenAI's
 * five is kept only while its object has fewer than
 * NGX_HTTP_MOA_USAGE_MEMBERS members, and if its name has up to
 * NGX_HTTP_MOA_USAGE_NAME bytes of [A-Za-z0-9_.-]; objects are kept only
 * inside the usage itself (depth 2).
 */
#define NGX_HTTP_MOA_USAGE_MAX      9007199254740991.0
#define NGX_HTTP_MOA_USAGE_MEMBERS  8
#define NGX_HTTP_MOA_USAGE_NAME     64
#define NGX_HTTP_MOA_USAGE_DEPTH    2


int ngx_http_moa_usage_add(ngx_http_moa_usage_t *u, const cJSON *usage);
int ngx_http_moa_usage_add_reply(ngx_http_moa_usage_t *u,
    const ngx_http_moa_reply_t *rep);
int ngx_http_moa_usage_reported(const cJSON *acc);
long long ngx_http_moa_usage_get(const cJSON *acc, const char *name);
/* which required count (0 prompt, 1 completion, 2 total) a name is, or -1 */
int ngx_http_moa_usage_required(const char *s);
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
