
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Fuzz target: the module's JSON readers against each other and cJSON.
 * The tokenizer, json_valid and json_members accept exactly the same
 * texts; whatever they accept cJSON (strict) parses into the same tree,
 * token for node, find returning cJSON's first member of a name, and the
 * span helpers (get, fields, next, unescape) seeing the tokenizer's values
 * (fuzz/check_json.h).  Escaping any bytes gives a JSON string that decodes
 * back to them, and the SSE2/SWAR scan agrees with a byte-at-a-time one at
 * every offset.
 */


#include "fuzz.h"
#include "check_json.h"
#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_buf_json.h"
#include "ngx_http_moa_json_text.h"


static void
fuzz_escape(const char *p, size_t size)
{
    cJSON               *v;
    ngx_http_moa_buf_t   b, inner, dec;

    memset(&b, 0, sizeof(b));
    memset(&inner, 0, sizeof(inner));
    memset(&dec, 0, sizeof(dec));

    ngx_http_moa_buf_json_str(&b, p, size);
    fuzz_assert(!b.nomem && b.len >= size + 2, "json_str wrote");

    v = fuzz_json(b.data, b.len, "an escaped string");
    fuzz_assert(cJSON_IsString(v), "an escaped string is a string");

    /* cJSON's strings end at the first NUL */
    fuzz_assert(strncmp(v->valuestring, p, size) == 0
                && strlen(v->valuestring) == strnlen(p, size),
                "an escaped string decodes to its bytes");

    /* unescape keeps the NULs */
    fuzz_assert(ngx_http_moa_json_text_unescape(&dec, b.data, b.len) == 0
                && dec.len == size
                && (size == 0 || memcmp(dec.data, p, size) == 0),
                "unescape gives the bytes back");

    /* json_inner is json_str without the quotes */
    ngx_http_moa_buf_json_inner(&inner, p, size);
    fuzz_assert(inner.len + 2 == b.len
                && (inner.len == 0
                    || memcmp(inner.data, b.data + 1, inner.len) == 0),
                "json_inner is json_str's inside");

    cJSON_Delete(v);
    ngx_http_moa_buf_free(&b);
    ngx_http_moa_buf_free(&inner);
    ngx_http_moa_buf_free(&dec);
}


/* the input as a string's inside: unescape agrees with cJSON */
static void
fuzz_unescape(const char *p, size_t size)
{
    int                  rc;
    char                *s;
    cJSON               *v;
    ngx_http_moa_buf_t   dec;

    s = malloc(size + 2);
    fuzz_assert(s != NULL, "malloc");

    s[0] = '"';
    memcpy(s + 1, p, size);
    s[size + 1] = '"';

    memset(&dec, 0, sizeof(dec));

    rc = ngx_http_moa_json_text_unescape(&dec, s, size + 2);

    if (ngx_http_moa_json_valid(s, size + 2) == 0) {
        v = check_json_cjson(s, size + 2);

        fuzz_assert(rc == 0, "unescape decodes a valid string");
        fuzz_assert(cJSON_IsString(v)
                    && strlen(v->valuestring)
                       == strnlen(dec.len ? dec.data : "", dec.len)
                    && memcmp(v->valuestring, dec.len ? dec.data : "",
                              strlen(v->valuestring)) == 0,
                    "unescape decodes as cJSON");
        cJSON_Delete(v);

    } else {
        fuzz_assert(rc == -1, "unescape refuses an invalid string");
    }

    ngx_http_moa_buf_free(&dec);
    free(s);
}


static void
fuzz_plain(const char *p, size_t size)
{
    size_t       off;
    const char  *q, *end;

    end = p + size;

    for (off = 0; off < size && off < 48; off++) {
        q = p + off;

        while (q < end && (unsigned char) *q >= 0x20 && *q != '"'
               && *q != '\\')
        {
            q++;
        }

        fuzz_assert(ngx_http_moa_json_plain(p + off, end) == q,
                    "json_plain agrees with a byte-at-a-time scan");
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char        *copy;
    const char  *p, *why;

    /* a copy of the exact size: ASan sees any read past the text */
    copy = malloc(size ? size : 1);
    fuzz_assert(copy != NULL, "malloc");

    if (size) {
        memcpy(copy, data, size);
    }

    p = size ? copy : NULL;

    why = check_json_agree(p, size);

    if (why) {
        fuzz_fail(why, "check_json_agree", __FILE__, __LINE__);
    }

    if (size) {
        fuzz_escape(p, size);
        fuzz_unescape(p, size);
        fuzz_plain(p, size);
    }

    free(copy);

    return 0;
}
