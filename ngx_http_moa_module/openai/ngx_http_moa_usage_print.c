
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: a usage object printed as OpenAI's CompletionUsage (the
 * three required counts first), counts written without printf.
 */


#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ngx_http_moa_usage.h"
#include "ngx_http_moa_buf_json.h"


/* a count as JSON: an integer when it is one, 0 when not finite */
static void
ngx_http_moa_usage_print_number(ngx_http_moa_buf_t *out, double d)
{
    char      num[32], *p;
    size_t    n;
    uint64_t  u, t;

    /*
     * a count (the usual number): its digits written in place, counted
     * first, without a call
     */

    if (d >= 0 && d < 1e15 && d == (double) (uint64_t) d) {
        if (ngx_http_moa_buf_reserve(out, 16) != 0) {
            return;
        }

        u = (uint64_t) d;

        for (n = 1, t = 10; t <= u; t *= 10) {
            n++;
        }

        out->len += n;
        p = out->data + out->len;

        do {
            *--p = (char) ('0' + u % 10);
            u /= 10;
        } while (u);

    } else if (d > -9e15 && d < 9e15 && d == (double) (long long) d) {
        ngx_http_moa_buf_int(out, (long long) d);

    } else if (isfinite(d)) {
        snprintf(num, sizeof(num), "%.17g", d);
        ngx_http_moa_buf_cstr(out, num);

    } else {
        ngx_http_moa_buf_lit(out, "0");
    }
}


/*
 * The members of a usage object (numbers and objects); in the usage
 * itself (top), the required counts, already printed, are left out.
 */
static void
ngx_http_moa_usage_print_members(ngx_http_moa_buf_t *out, const cJSON *usage,
    int first, int top)
{
    const cJSON  *u;

    cJSON_ArrayForEach(u, usage) {
        if (u->string == NULL
            || ((u->type & 0xff) != cJSON_Number
                && (u->type & 0xff) != cJSON_Object)
            || (top && ngx_http_moa_usage_required(u->string) >= 0))
        {
            continue;
        }

        if (!first) {
            ngx_http_moa_buf_lit(out, ",");
        }

        first = 0;
        ngx_http_moa_buf_json_str(out, u->string, strlen(u->string));
        ngx_http_moa_buf_lit(out, ":");

        if (cJSON_IsObject(u)) {
            ngx_http_moa_buf_lit(out, "{");
            ngx_http_moa_usage_print_members(out, u, 1, 0);
            ngx_http_moa_buf_lit(out, "}");

        } else {
            ngx_http_moa_usage_print_number(out, u->valuedouble);
        }
    }
}


/*
 * A usage object without printf's "%g": OpenAI's CompletionUsage, whose
 * three counts are required and come first, in its order, 0 for a count
 * no call reported; or null when no call reported any (usage_reported()).
 * The three are found in one pass over the members (the first of a name,
 * as cJSON_GetObjectItemCaseSensitive() would).
 */
void
ngx_http_moa_usage_print(ngx_http_moa_buf_t *out, const cJSON *usage)
{
    int           i, found;
    const cJSON  *u, *obj, *req[3];

    found = 0;
    req[0] = req[1] = req[2] = NULL;
    obj = cJSON_IsObject(usage) ? usage : NULL;

    cJSON_ArrayForEach(u, obj) {
        if (u->string == NULL) {
            continue;
        }

        i = ngx_http_moa_usage_required(u->string);

        if (i >= 0 && req[i] == NULL) {
            req[i] = u;
            found++;
        }
    }

    if (found == 0) {
        ngx_http_moa_buf_lit(out, "null");
        return;
    }

    ngx_http_moa_buf_lit(out, "{\"prompt_tokens\":");
    ngx_http_moa_usage_print_number(out, cJSON_IsNumber(req[0])
                                         ? req[0]->valuedouble : 0);
    ngx_http_moa_buf_lit(out, ",\"completion_tokens\":");
    ngx_http_moa_usage_print_number(out, cJSON_IsNumber(req[1])
                                         ? req[1]->valuedouble : 0);
    ngx_http_moa_buf_lit(out, ",\"total_tokens\":");
    ngx_http_moa_usage_print_number(out, cJSON_IsNumber(req[2])
                                         ? req[2]->valuedouble : 0);

    ngx_http_moa_usage_print_members(out, usage, 0, 1);
    ngx_http_moa_buf_lit(out, "}");
}
