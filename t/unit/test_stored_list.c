
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_stored_list.[ch]: the query of
 * GET /v1/responses/{id}/input_items (limit, order, after, before, and
 * their errors as OpenAI words them) and the pages of the list object.
 */


#include "util.h"
#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_error.h"
#include "ngx_http_moa_stored.h"
#include "ngx_http_moa_stored_list.h"


#define S(s)  s, sizeof(s) - 1


/* five items, two of them messages with string content */
static const char  items[] =
    "[{\"id\":\"m0\",\"type\":\"message\",\"role\":\"system\","
    "\"content\":\"be brief\"},"
    "{\"id\":\"m1\",\"role\":\"user\",\"content\":\"a \\u0000 b\"},"
    "{\"id\":\"m2\",\"role\":\"assistant\",\"content\":\"yes\"},"
    "{\"id\":\"fc3\",\"type\":\"function_call\",\"call_id\":\"c\","
    "\"name\":\"f\",\"arguments\":\"{}\"},"
    "{\"id\":\"m4\",\"type\":\"message\",\"role\":\"user\",\"status\":"
    "\"completed\",\"content\":[{\"type\":\"input_text\",\"text\":\"x\"}]}]";


/* the list object of a query, its items' ids in ids ("m4,fc3") */
static cJSON *
page_of(const char *query, char *ids, size_t size)
{
    int                          i, n;
    cJSON                       *v;
    const char                  *id;
    ngx_http_moa_buf_t           out;
    ngx_http_moa_error_t         err;
    ngx_http_moa_stored_page_t   page;

    memset(&out, 0, sizeof(out));
    ids[0] = '\0';

    if (ngx_http_moa_stored_list_page(&page, query, strlen(query), &err)
        != 0
        || ngx_http_moa_stored_list(&out, S(items), &page, &err) != 0)
    {
        snprintf(ids, size, "error %d %s: %s", err.status,
                 err.param ? err.param : "-", err.message);
        return NULL;
    }

    v = json_ok(out.data, out.len, query);
    ngx_http_moa_buf_free(&out);

    n = jsize(v, "data");

    for (i = 0; i < n; i++) {
        char  path[32];

        snprintf(path, sizeof(path), "data.%d.id", i);
        id = jstr(v, path);
        snprintf(ids + strlen(ids), size - strlen(ids), "%s%s",
                 i ? "," : "", id ? id : "?");
    }

    return v;
}


static void
test_pages(void)
{
    char    ids[256];
    cJSON  *v;

    v = page_of("", ids, sizeof(ids));
    is_str(ids, "m4,fc3,m2,m1,m0", "by default: desc, all of 5");
    is_str(jstr(v, "object"), "list", "a list object");
    is_str(jstr(v, "first_id"), "m4", "first_id");
    is_str(jstr(v, "last_id"), "m0", "last_id");
    ok(cJSON_IsFalse(jget(v, "has_more")), "has_more false");
    is_str(jstr(v, "data.3.type"), "message", "a message gets its type");
    is_str(jstr(v, "data.3.status"), "completed", "and its status");
    is_str(jstr(v, "data.3.content.0.type"), "input_text",
           "a user's string content: an input_text part");
    is_str(jstr(v, "data.2.content.0.type"), "output_text",
           "the assistant's: an output_text part");
    ok(jhas(v, "data.2.content.0.annotations"), "with its annotations");
    is_str(jstr(v, "data.1.type"), "function_call", "a call as it was");
    cJSON_Delete(v);

    v = page_of("order=asc&limit=2", ids, sizeof(ids));
    is_str(ids, "m0,m1", "asc, limit 2");
    ok(cJSON_IsTrue(jget(v, "has_more")), "has_more true");
    is_str(jstr(v, "last_id"), "m1", "last_id of the page");
    cJSON_Delete(v);

    v = page_of("order=asc&limit=2&after=m1", ids, sizeof(ids));
    is_str(ids, "m2,fc3", "the next page: after the last id");
    ok(cJSON_IsTrue(jget(v, "has_more")), "one more");
    cJSON_Delete(v);

    v = page_of("order=asc&limit=2&after=fc3", ids, sizeof(ids));
    is_str(ids, "m4", "the last page");
    ok(cJSON_IsFalse(jget(v, "has_more")), "no more");
    cJSON_Delete(v);

    v = page_of("limit=2&after=m4", ids, sizeof(ids));
    is_str(ids, "fc3,m2", "desc, after the newest");
    cJSON_Delete(v);

    v = page_of("order=asc&limit=2&before=m4", ids, sizeof(ids));
    is_str(ids, "m2,fc3", "before alone: the page next to it");
    ok(cJSON_IsTrue(jget(v, "has_more")), "more before it");
    cJSON_Delete(v);

    v = page_of("order=asc&after=m0&before=fc3", ids, sizeof(ids));
    is_str(ids, "m1,m2", "between two cursors");
    cJSON_Delete(v);

    v = page_of("order=asc&after=m4", ids, sizeof(ids));
    is_str(ids, "", "after the last: empty");
    ok(v && cJSON_IsNull(jget(v, "first_id"))
       && cJSON_IsNull(jget(v, "last_id")), "first_id, last_id null");
    cJSON_Delete(v);

    v = page_of("include%5B%5D=x&order=asc&limit=100&after=%6D1", ids,
                sizeof(ids));
    is_str(ids, "m2,fc3,m4", "percent-decoded cursor, include ignored");
    cJSON_Delete(v);

    v = page_of("limit=1", ids, sizeof(ids));
    is_str(ids, "m4", "limit 1: the newest");
    ok(cJSON_IsTrue(jget(v, "has_more")), "has_more");
    cJSON_Delete(v);
}


static void
test_errors(void)
{
    char    ids[256];
    cJSON  *v;

    v = page_of("limit=0", ids, sizeof(ids));
    ok(v == NULL, "limit 0 refused");
    is_str(ids, "error 400 limit: Invalid 'limit': integer below minimum "
           "value. Expected a value >= 1, but got 0 instead.",
           "as OpenAI words it");

    v = page_of("limit=101", ids, sizeof(ids));
    is_str(ids, "error 400 limit: Invalid 'limit': integer above maximum "
           "value. Expected a value <= 100, but got 101 instead.",
           "limit 101 refused");

    v = page_of("limit=2x", ids, sizeof(ids));
    ok(strncmp(ids, "error 400 limit: Invalid 'limit': expected an integer",
               52) == 0, "limit 2x refused");

    v = page_of("limit", ids, sizeof(ids));
    ok(strncmp(ids, "error 400 limit:", 16) == 0, "limit without a value");

    v = page_of("order=up", ids, sizeof(ids));
    is_str(ids, "error 400 order: Invalid 'order': expected one of 'asc' or "
           "'desc', but got 'up' instead.", "order up refused");

    v = page_of("after=nope", ids, sizeof(ids));
    ok(strncmp(ids, "error 400 after:", 16) == 0, "an unknown cursor");

    v = page_of("before=nope", ids, sizeof(ids));
    ok(strncmp(ids, "error 400 before:", 17) == 0, "an unknown before");

    {
        char  q[300];

        memset(q, 'a', sizeof(q));
        memcpy(q, "after=", 6);
        q[sizeof(q) - 1] = '\0';
        v = page_of(q, ids, sizeof(ids));
        ok(strncmp(ids, "error 400 after:", 16) == 0, "a cursor too long");
    }

    (void) v;
}


int
main(void)
{
    test_pages();
    test_errors();

    return done_testing();
}
