
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the input items of a stored response as OpenAI lists them,
 *
 *     {"object":"list","data":[...],"first_id":"msg_...",
 *      "last_id":"msg_...","has_more":false}
 *
 * paged with the query's limit (1-100, default 20), order (asc or desc,
 * the default: the last item first) and the cursors after and before
 * (item ids: the items past after, and short of before, in that order;
 * with before alone, the page that ends next to it).  Each item is shown
 * as OpenAI shows an input item: a message's string content as one
 * input_text (output_text for the assistant's) part, its type and status.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_buf_json.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_json_find.h"
#include "ngx_http_moa_error.h"
#include "ngx_http_moa_stored.h"
#include "ngx_http_moa_stored_list.h"


static int ngx_http_moa_stored_list_hex(char c);
static int ngx_http_moa_stored_list_arg(const char *p, size_t len,
    char *dst, size_t size, size_t *n);
static int ngx_http_moa_stored_list_limit(ngx_http_moa_stored_page_t *page,
    const char *v, size_t len, ngx_http_moa_error_t *err);
static int ngx_http_moa_stored_list_find(const ngx_http_moa_json_t *j,
    const int *order, int n, const char *id, size_t len);
static void ngx_http_moa_stored_list_item(ngx_http_moa_buf_t *out,
    const ngx_http_moa_json_t *j, int item);


/* the query's parameters; others (include) are taken and ignored */
int
ngx_http_moa_stored_list_page(ngx_http_moa_stored_page_t *page,
    const char *args, size_t len, ngx_http_moa_error_t *err)
{
    char         value[NGX_HTTP_MOA_STORED_ID_MAX + 1];
    size_t       klen, vlen, n;
    const char  *p, *end, *amp, *eq;

    memset(page, 0, sizeof(ngx_http_moa_stored_page_t));
    page->limit = NGX_HTTP_MOA_STORED_LIST_DEFAULT;
    page->desc = 1;

    end = args + len;

    for (p = args; p < end; p = amp + 1) {
        amp = memchr(p, '&', end - p);
        if (amp == NULL) {
            amp = end;
        }

        eq = memchr(p, '=', amp - p);
        klen = (eq ? eq : amp) - p;
        vlen = eq ? (size_t) (amp - eq - 1) : 0;

#define ngx_http_moa_stored_list_is(k)                                       \
        (klen == sizeof(k) - 1 && memcmp(p, k, klen) == 0)

        if (ngx_http_moa_stored_list_is("limit")) {
            if (ngx_http_moa_stored_list_limit(page, eq ? eq + 1 : NULL,
                                               vlen, err)
                != 0)
            {
                return -1;
            }

        } else if (ngx_http_moa_stored_list_is("order")) {
            if (ngx_http_moa_stored_list_arg(eq ? eq + 1 : amp, vlen, value,
                                             sizeof(value), &n)
                    != 0
                || !((n == 3 && memcmp(value, "asc", 3) == 0)
                     || (n == 4 && memcmp(value, "desc", 4) == 0)))
            {
                ngx_http_moa_error_set(err, 400, "invalid_request_error",
                                       "invalid_value", "order",
                                       "Invalid 'order': expected one of "
                                       "'asc' or 'desc', but got '%.*s' "
                                       "instead.",
                                       (int) (vlen > 64 ? 64 : vlen),
                                       eq ? eq + 1 : "");
                return -1;
            }

            page->desc = (n == 4);

        } else if (ngx_http_moa_stored_list_is("after")
                   || ngx_http_moa_stored_list_is("before"))
        {
            if (ngx_http_moa_stored_list_arg(eq ? eq + 1 : amp, vlen,
                                             *p == 'a' ? page->after
                                                       : page->before,
                                             NGX_HTTP_MOA_STORED_ID_MAX + 1,
                                             *p == 'a' ? &page->after_len
                                                       : &page->before_len)
                != 0)
            {
                ngx_http_moa_error_set(err, 400, "invalid_request_error",
                                       "invalid_value",
                                       *p == 'a' ? "after" : "before",
                                       "Invalid '%s': expected an item ID "
                                       "of at most %d characters.",
                                       *p == 'a' ? "after" : "before",
                                       NGX_HTTP_MOA_STORED_ID_MAX);
                return -1;
            }
        }

#undef ngx_http_moa_stored_list_is

        if (amp == end) {
            break;
        }
    }

    return 0;
}


/* a hexadecimal digit's value, or -1 */
static int
ngx_http_moa_stored_list_hex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}


/* a query value, percent-decoded ('+' is a space) into dst */
static int
ngx_http_moa_stored_list_arg(const char *p, size_t len, char *dst,
    size_t size, size_t *n)
{
    int     hi, lo;
    size_t  i, k;

    k = 0;

    for (i = 0; i < len; i++) {
        if (k + 1 >= size) {
            return -1;
        }

        if (p[i] == '%' && i + 2 < len) {
            hi = ngx_http_moa_stored_list_hex(p[i + 1]);
            lo = ngx_http_moa_stored_list_hex(p[i + 2]);

            if (hi >= 0 && lo >= 0) {
                dst[k++] = (char) (hi * 16 + lo);
                i += 2;
                continue;
            }
        }

        dst[k++] = (p[i] == '+') ? ' ' : p[i];
    }

    dst[k] = '\0';
    *n = k;

    return 0;
}


/* limit: an integer from 1 to 100, as OpenAI words its errors */
static int
ngx_http_moa_stored_list_limit(ngx_http_moa_stored_page_t *page,
    const char *v, size_t len, ngx_http_moa_error_t *err)
{
    char    buf[32];
    char   *end;
    long    n;
    size_t  k;

    if (v == NULL
        || ngx_http_moa_stored_list_arg(v, len, buf, sizeof(buf), &k) != 0
        || k == 0 || !((buf[0] >= '0' && buf[0] <= '9') || buf[0] == '-'))
    {
        ngx_http_moa_error_set(err, 400, "invalid_request_error",
                               "invalid_type", "limit",
                               "Invalid 'limit': expected an integer, but "
                               "got '%.*s' instead.",
                               (int) (len > 24 ? 24 : len), v ? v : "");
        return -1;
    }

    n = strtol(buf, &end, 10);

    if (*end != '\0') {
        ngx_http_moa_error_set(err, 400, "invalid_request_error",
                               "invalid_type", "limit",
                               "Invalid 'limit': expected an integer, but "
                               "got '%s' instead.", buf);
        return -1;
    }

    if (n < 1) {
        ngx_http_moa_error_set(err, 400, "invalid_request_error",
                               "integer_below_min_value", "limit",
                               "Invalid 'limit': integer below minimum "
                               "value. Expected a value >= 1, but got %s "
                               "instead.", buf);
        return -1;
    }

    if (n > NGX_HTTP_MOA_STORED_LIST_MAX) {
        ngx_http_moa_error_set(err, 400, "invalid_request_error",
                               "integer_above_max_value", "limit",
                               "Invalid 'limit': integer above maximum "
                               "value. Expected a value <= %d, but got %s "
                               "instead.", NGX_HTTP_MOA_STORED_LIST_MAX,
                               buf);
        return -1;
    }

    page->limit = (int) n;

    return 0;
}


/*
 * The list object of a page of the items (a stored record's input: a
 * JSON array whose objects all have an "id").  0, or -1 with err set (a
 * cursor that is no item's id, or no memory).
 */
int
ngx_http_moa_stored_list(ngx_http_moa_buf_t *out, const char *items,
    size_t len, const ngx_http_moa_stored_page_t *page,
    ngx_http_moa_error_t *err)
{
    int                  *order, n, i, from, to, first, last, k;
    ngx_http_moa_json_t   j;

    memset(&j, 0, sizeof(ngx_http_moa_json_t));
    order = NULL;

    if (ngx_http_moa_json_parse(&j, items, len) != 0 || j.n == 0
        || j.tok[0].type != '[')
    {
        ngx_http_moa_error_set(err, 500, "server_error", NULL, NULL,
                               "The stored response could not be read.");
        goto failed;
    }

    /* the items in the order asked for */

    n = 0;

    for (i = ngx_http_moa_json_first(&j, 0); i >= 0;
         i = ngx_http_moa_json_after(&j, 0, i))
    {
        n++;
    }

    order = malloc((n ? n : 1) * sizeof(int));
    if (order == NULL) {
        goto nomem;
    }

    k = page->desc ? n - 1 : 0;

    for (i = ngx_http_moa_json_first(&j, 0); i >= 0;
         i = ngx_http_moa_json_after(&j, 0, i))
    {
        order[k] = i;
        k += page->desc ? -1 : 1;
    }

    /* the items between the cursors: [from, to) */

    from = 0;
    to = n;

    if (page->after_len) {
        k = ngx_http_moa_stored_list_find(&j, order, n, page->after,
                                          page->after_len);
        if (k < 0) {
            ngx_http_moa_error_set(err, 400, "invalid_request_error",
                                   "invalid_value", "after",
                                   "Invalid 'after': no input item of this "
                                   "response has the id '%.*s'.",
                                   (int) page->after_len, page->after);
            goto failed;
        }

        from = k + 1;
    }

    if (page->before_len) {
        k = ngx_http_moa_stored_list_find(&j, order, n, page->before,
                                          page->before_len);
        if (k < 0) {
            ngx_http_moa_error_set(err, 400, "invalid_request_error",
                                   "invalid_value", "before",
                                   "Invalid 'before': no input item of "
                                   "this response has the id '%.*s'.",
                                   (int) page->before_len, page->before);
            goto failed;
        }

        to = k;
    }

    if (to < from) {
        to = from;
    }

    /* before alone: the page next to it; otherwise from the start */

    if (page->before_len && !page->after_len) {
        first = (to - from > page->limit) ? to - page->limit : from;
        last = to;

    } else {
        first = from;
        last = (to - from > page->limit) ? from + page->limit : to;
    }

    ngx_http_moa_buf_lit(out, "{\"object\":\"list\",\"data\":[");

    for (k = first; k < last; k++) {
        if (k > first) {
            ngx_http_moa_buf_lit(out, ",");
        }

        ngx_http_moa_stored_list_item(out, &j, order[k]);
    }

    ngx_http_moa_buf_lit(out, "],\"first_id\":");

    for (k = 0; k < 2; k++) {
        i = (first == last) ? -1
            : ngx_http_moa_json_find(&j, order[k ? last - 1 : first], "id");

        if (i >= 0 && j.tok[i].type == '"') {
            ngx_http_moa_buf_add(out, j.tok[i].p, j.tok[i].len);

        } else {
            ngx_http_moa_buf_lit(out, "null");
        }

        if (k == 0) {
            ngx_http_moa_buf_lit(out, ",\"last_id\":");
        }
    }

    if ((last - first) < (to - from)) {
        ngx_http_moa_buf_lit(out, ",\"has_more\":true}");

    } else {
        ngx_http_moa_buf_lit(out, ",\"has_more\":false}");
    }

    if (out->nomem) {
        goto nomem;
    }

    free(order);
    ngx_http_moa_json_free(&j);

    return 0;

nomem:

    ngx_http_moa_error_set(err, 500, "server_error", NULL, NULL,
                           "out of memory");

failed:

    free(order);
    ngx_http_moa_json_free(&j);

    return -1;
}


/* the position in order of the item with that id, or -1 */
static int
ngx_http_moa_stored_list_find(const ngx_http_moa_json_t *j,
    const int *order, int n, const char *id, size_t len)
{
    int  k, i;

    for (k = 0; k < n; k++) {
        if (j->tok[order[k]].type != '{') {
            continue;
        }

        i = ngx_http_moa_json_find(j, order[k], "id");

        if (i >= 0 && j->tok[i].type == '"' && j->tok[i].len == len + 2
            && memcmp(j->tok[i].p + 1, id, len) == 0)
        {
            return k;
        }
    }

    return -1;
}


/*
 * One item as OpenAI lists an input item: a message gets its type, its
 * status, and its string content as one part; anything else as it was.
 * The item's own bytes are spliced, so its text keeps every character.
 */
static void
ngx_http_moa_stored_list_item(ngx_http_moa_buf_t *out,
    const ngx_http_moa_json_t *j, int item)
{
    int                   t, r, c, k;
    ngx_http_moa_span_t   role;

    t = -1;
    r = -1;

    if (j->tok[item].type == '{') {
        t = ngx_http_moa_json_find(j, item, "type");
        r = ngx_http_moa_json_find(j, item, "role");
    }

    if (r < 0 || (t >= 0 && !(j->tok[t].len == sizeof("\"message\"") - 1
                              && memcmp(j->tok[t].p, "\"message\"",
                                        sizeof("\"message\"") - 1) == 0)))
    {
        ngx_http_moa_buf_add(out, j->tok[item].p, j->tok[item].len);
        return;
    }

    ngx_http_moa_json_tok_span(j, r, &role);

    ngx_http_moa_buf_lit(out, "{");

    /* members: a key token, then its value token */

    for (k = item + 1; k < (int) j->tok[item].next; k = j->tok[k + 1].next) {
        if (k > item + 1) {
            ngx_http_moa_buf_lit(out, ",");
        }

        ngx_http_moa_buf_add(out, j->tok[k].p, j->tok[k].len);
        ngx_http_moa_buf_lit(out, ":");

        c = k + 1;

        if (j->tok[c].type == '"' && j->tok[k].len == sizeof("\"content\"") - 1
            && memcmp(j->tok[k].p, "\"content\"", j->tok[k].len) == 0)
        {
            if (role.len == sizeof("\"assistant\"") - 1
                && memcmp(role.p, "\"assistant\"", role.len) == 0)
            {
                ngx_http_moa_buf_lit(out, "[{\"type\":\"output_text\","
                                          "\"annotations\":[],\"text\":");
            } else {
                ngx_http_moa_buf_lit(out, "[{\"type\":\"input_text\","
                                          "\"text\":");
            }

            ngx_http_moa_buf_add(out, j->tok[c].p, j->tok[c].len);
            ngx_http_moa_buf_lit(out, "}]");
            continue;
        }

        ngx_http_moa_buf_add(out, j->tok[c].p, j->tok[c].len);
    }

    if (t < 0) {
        ngx_http_moa_buf_lit(out, ",\"type\":\"message\"");
    }

    if (ngx_http_moa_json_find(j, item, "status") < 0) {
        ngx_http_moa_buf_lit(out, ",\"status\":\"completed\"");
    }

    ngx_http_moa_buf_lit(out, "}");
}
