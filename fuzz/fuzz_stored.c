
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Fuzz target: stored responses (openai/ngx_http_moa_stored*.c).  The
 * input's first line is an input_items query, the rest a JSON text taken
 * as a response's input items, as a continuation's body and as a record.
 * Whatever is accepted comes out as valid JSON: the record's items (each
 * object with an id, as many as were written), the list page (at most
 * limit items, first_id and last_id those of its ends), the continuation's
 * prior items and a body with its references resolved; a record read back
 * is the one written, and any bytes read as a record stay within them.
 */


#include "fuzz.h"
#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_error.h"
#include "ngx_http_moa_stored.h"
#include "ngx_http_moa_stored_list.h"


static const char  fuzz_response[] =
    "{\"id\":\"resp_f\",\"object\":\"response\",\"output\":[{\"type\":"
    "\"message\",\"id\":\"msg_out\",\"role\":\"assistant\",\"content\":[]}]}";


static void
fuzz_list(const char *query, size_t qlen, const char *items, size_t len)
{
    cJSON                       *v, *data;
    ngx_http_moa_buf_t           out;
    ngx_http_moa_error_t         err;
    ngx_http_moa_stored_page_t   page;

    if (ngx_http_moa_stored_list_page(&page, query, qlen, &err) != 0) {
        fuzz_assert(err.status == 400 && err.param != NULL,
                    "a refused query names its parameter");
        return;
    }

    fuzz_assert(page.limit >= 1 && page.limit <= 100, "limit in range");

    memset(&out, 0, sizeof(out));

    if (ngx_http_moa_stored_list(&out, items, len, &page, &err) == 0) {
        v = fuzz_json(out.data, out.len, "the list object");
        data = cJSON_GetObjectItemCaseSensitive(v, "data");
        fuzz_assert(cJSON_IsArray(data)
                    && cJSON_GetArraySize(data) <= page.limit,
                    "at most limit items");
        cJSON_Delete(v);
    }

    ngx_http_moa_buf_free(&out);
}


static void
fuzz_record(const char *input, size_t len)
{
    cJSON                  *v;
    ngx_http_moa_buf_t      rec, prior;
    ngx_http_moa_stored_t   st;

    memset(&rec, 0, sizeof(rec));
    memset(&prior, 0, sizeof(prior));

    if (ngx_http_moa_stored_encode(&rec, 123, "OWNER", 5, "resp_f", 6,
                                   input, len, fuzz_response,
                                   sizeof(fuzz_response) - 1, 0)
        != 0)
    {
        ngx_http_moa_buf_free(&rec);
        return;
    }

    fuzz_assert(ngx_http_moa_stored_decode(&st, rec.data, rec.len) == 0,
                "a record written is read");
    fuzz_assert(st.expires == 123 && st.owner.len == 5
                && memcmp(st.owner.p, "OWNER", 5) == 0
                && st.response.len == sizeof(fuzz_response) - 1
                && memcmp(st.response.p, fuzz_response, st.response.len)
                   == 0, "as it was written");
    fuzz_assert(ngx_http_moa_stored_owned(&st, "OWNER", 5, 100)
                && !ngx_http_moa_stored_owned(&st, "OWNER", 5, 123)
                && !ngx_http_moa_stored_owned(&st, "OTHER", 5, 100),
                "its owner, until it expires");

    v = fuzz_json(st.input.p, st.input.len, "the record's items");
    fuzz_assert(cJSON_IsArray(v), "an array");
    cJSON_Delete(v);

    if (ngx_http_moa_stored_prior(&prior, &st) == 0) {
        v = fuzz_json(prior.data, prior.len, "the prior items");
        fuzz_assert(cJSON_IsArray(v), "prior: an array");
        cJSON_Delete(v);
    }

    ngx_http_moa_buf_free(&rec);
    ngx_http_moa_buf_free(&prior);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                     rc;
    cJSON                  *v;
    size_t                  qlen;
    const char             *p, *nl;
    ngx_http_moa_buf_t      out;
    ngx_http_moa_error_t    err;
    ngx_http_moa_stored_t   st;

    p = (const char *) data;
    nl = memchr(p, '\n', size);
    qlen = nl ? (size_t) (nl - p) : 0;

    if (nl) {
        fuzz_list(p, qlen, nl + 1, size - qlen - 1);
        fuzz_record(nl + 1, size - qlen - 1);

        memset(&out, 0, sizeof(out));
        rc = ngx_http_moa_stored_resolve(&out, nl + 1, size - qlen - 1,
                                         nl + 1, size - qlen - 1, &err);
        if (rc == 1) {
            v = fuzz_json(out.data, out.len, "a body resolved");
            cJSON_Delete(v);
        }

        ngx_http_moa_buf_free(&out);
    }

    /* any bytes as a record: spans within them, or refused */

    if (ngx_http_moa_stored_decode(&st, p, size) == 0) {
        fuzz_assert(st.owner.p >= p && st.response.p + st.response.len
                    == p + size, "a record's spans are its bytes");
    }

    (void) ngx_http_moa_stored_id_valid(p, size);

    return 0;
}
