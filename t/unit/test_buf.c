
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_buf.[ch]: the growable buffer (adds, numbers,
 * growth by doubling, a sticky "no memory").
 */


#include <limits.h>
#include <stdint.h>

#include "tap.h"
#include "ngx_http_moa_buf.h"


static void
test_buf(void)
{
    size_t              i, size;
    ngx_http_moa_buf_t  b;

    memset(&b, 0, sizeof(b));

    ok(ngx_http_moa_buf_reserve(&b, 0) == 0, "reserve 0 on an empty buffer");

    ngx_http_moa_buf_add(&b, "", 0);
    ok(b.len == 0 && b.data == NULL, "adding nothing allocates nothing");

    ngx_http_moa_buf_add(&b, NULL, 0);
    ok(b.len == 0 && !b.nomem, "adding (NULL, 0) is harmless");

    ngx_http_moa_buf_add(&b, "abc", 3);
    is_mem(b.data, b.len, "abc", "add");
    is_int(b.size, 512, "the first allocation is 512 bytes");

    ngx_http_moa_buf_cstr(&b, "def");
    ngx_http_moa_buf_cstr(&b, "");
    is_mem(b.data, b.len, "abcdef", "cstr");

    ngx_http_moa_buf_lit(&b, "-lit-");
    is_mem(b.data, b.len, "abcdef-lit-", "lit");

    b.len = 0;
    ngx_http_moa_buf_int(&b, 0);
    ngx_http_moa_buf_lit(&b, " ");
    ngx_http_moa_buf_int(&b, -42);
    ngx_http_moa_buf_lit(&b, " ");
    ngx_http_moa_buf_int(&b, LLONG_MAX);
    ngx_http_moa_buf_lit(&b, " ");
    ngx_http_moa_buf_int(&b, LLONG_MIN);
    is_mem(b.data, b.len,
           "0 -42 9223372036854775807 -9223372036854775808", "int");

    /* growth keeps the contents */
    b.len = 0;

    for (i = 0; i < 10000; i++) {
        ngx_http_moa_buf_add(&b, (i % 2) ? "y" : "x", 1);
    }

    ok(b.len == 10000 && !b.nomem, "10000 single-byte adds");
    ok(b.size >= 10000 && (b.size & (b.size - 1)) == 0,
       "size grows by doubling (%zu)", b.size);
    ok(b.data[0] == 'x' && b.data[1] == 'y' && b.data[9998] == 'x'
       && b.data[9999] == 'y', "contents survive the reallocations");

    size = b.size;
    ok(ngx_http_moa_buf_reserve(&b, size - b.len) == 0 && b.size == size,
       "reserve of exactly the free space does not grow");
    ok(ngx_http_moa_buf_reserve(&b, size - b.len + 1) == 0
       && b.size == size * 2, "one more byte doubles");

    /* an impossible size: nomem, sticky, contents kept */
    ok(ngx_http_moa_buf_reserve(&b, SIZE_MAX - 10) == -1, "huge reserve fails");
    ok(b.nomem, "nomem is set");
    ok(b.len == 10000 && b.data[0] == 'x', "the buffer is left alone");

    ngx_http_moa_buf_add(&b, "z", 1);
    is_int(b.len, 10000, "nomem is sticky: add does nothing");
    ok(ngx_http_moa_buf_reserve(&b, 1) == -1, "reserve fails once nomem");

    ngx_http_moa_buf_free(&b);
    ok(b.data == NULL && b.len == 0 && b.size == 0 && b.nomem == 0,
       "free resets every field");

    ngx_http_moa_buf_free(&b);
    ok(1, "free twice is harmless");
}


int
main(void)
{
    test_buf();

    return done_testing();
}
