
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_buf_json.[ch]: JSON string escaping into a
 * buffer (quoted, and the inside of a string).
 */


#include <stdint.h>

#include <cjson/cJSON.h>

#include "tap.h"
#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_buf_json.h"
#include "ngx_http_moa_json_text.h"


#define S(s)  s, sizeof(s) - 1


static void
test_json_str(void)
{
    int                 i;
    char                all[256];
    cJSON              *v;
    ngx_http_moa_buf_t  b;

    memset(&b, 0, sizeof(b));

    ngx_http_moa_buf_json_str(&b, "", 0);
    is_mem(b.data, b.len, "\"\"", "empty string");

    b.len = 0;
    ngx_http_moa_buf_json_str(&b, S("plain text"));
    is_mem(b.data, b.len, "\"plain text\"", "plain");

    b.len = 0;
    ngx_http_moa_buf_json_str(&b, S("q\"b\\s/n\nr\rt\tb\bf\f"));
    is_mem(b.data, b.len, "\"q\\\"b\\\\s/n\\nr\\rt\\tb\\bf\\f\"",
           "the short escapes; '/' is left alone");

    b.len = 0;
    ngx_http_moa_buf_json_str(&b, S("\x01\x1f\x00z"));
    is_mem(b.data, b.len, "\"\\u0001\\u001f\\u0000z\"",
           "other control bytes as \\u00XX, NUL included");

    b.len = 0;
    ngx_http_moa_buf_json_str(&b, S("\x7f\xc3\xa9\xf0\x9f\x98\x80"));
    is_mem(b.data, b.len, "\"\x7f\xc3\xa9\xf0\x9f\x98\x80\"",
           "DEL and UTF-8 bytes pass through");

    b.len = 0;
    ngx_http_moa_buf_lit(&b, "prefix:");
    ngx_http_moa_buf_json_str(&b, S("x"));
    is_mem(b.data, b.len, "prefix:\"x\"", "appends to what is there");

    /* every byte value round-trips through cJSON */
    for (i = 0; i < 255; i++) {
        all[i] = (char) (i + 1);
    }

    b.len = 0;
    ngx_http_moa_buf_json_str(&b, all, 255);
    ok(ngx_http_moa_json_valid(b.data, b.len) == 0,
       "bytes 1..255 escaped: the scanner accepts it");

    v = cJSON_ParseWithLength(b.data, b.len);
    ok(cJSON_IsString(v) && strlen(v->valuestring) == 255
       && memcmp(v->valuestring, all, 255) == 0,
       "bytes 1..255 escaped: cJSON decodes the same bytes");
    cJSON_Delete(v);

    ngx_http_moa_buf_free(&b);

    /* json_str on a huge length: nomem, no overflow */
    memset(&b, 0, sizeof(b));
    ngx_http_moa_buf_json_str(&b, "x", SIZE_MAX / 4);
    ok(b.nomem && b.len == 0, "json_str of an impossible length: nomem");
    ngx_http_moa_buf_free(&b);
}


static void
test_inner(void)
{
    int                 bad;
    char                all[256];
    size_t              i, len, off;
    ngx_http_moa_buf_t  a, b, d;

    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&d, 0, sizeof(d));

    ngx_http_moa_buf_json_inner(&a, "", 0);
    is_int(a.len, 0, "inner: nothing for nothing");

    ngx_http_moa_buf_lit(&a, "<");
    ngx_http_moa_buf_json_inner(&a, S("a\"b\\c\n\x01\x7f\xc3\xa9/"));
    ngx_http_moa_buf_lit(&a, ">");
    is_mem(a.data, a.len, "<a\\\"b\\\\c\\n\\u0001\x7f\xc3\xa9/>",
           "inner: escaped, no quotes, appended");

    for (i = 0; i < 256; i++) {
        all[i] = (char) i;
    }

    /* inner is json_str without its quotes, at every length and offset */
    bad = 0;

    for (off = 0; off < 256; off += 7) {
        for (len = 0; off + len <= 256; len += 1 + len / 8) {
            a.len = 0;
            b.len = 0;
            d.len = 0;

            ngx_http_moa_buf_json_inner(&a, all + off, len);
            ngx_http_moa_buf_json_str(&b, all + off, len);

            if (a.nomem || b.len != a.len + 2
                || (a.len && memcmp(a.data, b.data + 1, a.len) != 0))
            {
                bad++;
                continue;
            }

            if (ngx_http_moa_json_valid(b.data, b.len) != 0
                || ngx_http_moa_json_text_unescape(&d, b.data, b.len) != 0
                || d.len != len
                || (len && memcmp(d.data, all + off, len) != 0))
            {
                bad++;
            }
        }
    }

    ok(bad == 0, "inner: json_str without quotes; decodes back to its bytes");

    /* an impossible length: nomem, nothing written */
    a.len = 0;
    ngx_http_moa_buf_json_inner(&a, "x", SIZE_MAX / 2);
    ok(a.nomem && a.len == 0, "inner of an impossible length: nomem");

    ngx_http_moa_buf_free(&a);
    ngx_http_moa_buf_free(&b);
    ngx_http_moa_buf_free(&d);
}


int
main(void)
{
    test_json_str();
    test_inner();

    return done_testing();
}
