
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_buf.[ch]: the growable buffer (adds, numbers,
 * growth by doubling, a sticky "no memory"), the cache of freed buffers.
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


/*
 * The cache: a freed buffer is given again to a first allocation it
 * holds without wasting more than it, the smallest such; off, nothing is
 * kept.  (Under AddressSanitizer, as the unit tests are built, a cached
 * buffer is poisoned: touching it here would abort the test.)
 */
static void
test_buf_cache(void)
{
    int                 i;
    char               *p, *q, *r;
    size_t              got;
    ngx_http_moa_buf_t  a, b, c;

    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&c, 0, sizeof(c));

    /* off: freed is freed */

    ngx_http_moa_buf_add(&a, "abc", 3);
    p = a.data;
    ngx_http_moa_buf_free(&a);
    p = ngx_http_moa_buf_cache_alloc(100, &got);
    ok(p != NULL && got == 100, "off: an allocation is malloc()'s, as asked");
    ngx_http_moa_buf_cache_free(p, got);

    ngx_http_moa_buf_cache_enable(1);

    (void) ngx_http_moa_buf_reserve(&a, 2016);
    p = a.data;
    is_int(a.size, 2016, "a reply's size, reserved");
    ngx_http_moa_buf_free(&a);

    (void) ngx_http_moa_buf_reserve(&b, 2016);
    ok(b.data == p && b.size == 2016, "the freed buffer is given again");
    ngx_http_moa_buf_add(&b, "xyz", 3);
    is_mem(b.data, b.len, "xyz", "and written from its start");

    (void) ngx_http_moa_buf_reserve(&a, 2016);
    ok(a.data != p && a.size == 2016, "a buffer in use is not given");

    ngx_http_moa_buf_free(&a);
    ngx_http_moa_buf_free(&b);

    /* the smallest that holds the size; none twice its size */

    (void) ngx_http_moa_buf_reserve(&c, 6000);
    r = c.data;
    ngx_http_moa_buf_free(&c);

    (void) ngx_http_moa_buf_reserve(&a, 1500);
    ok(a.size == 2016, "the smallest block that holds 1500 bytes (%zu)",
       a.size);
    ngx_http_moa_buf_free(&a);

    (void) ngx_http_moa_buf_reserve(&a, 2500);
    ok(a.data != r && a.size == 2500,
       "6000 bytes are not given for 2500 (twice as many)");
    ngx_http_moa_buf_free(&a);

    (void) ngx_http_moa_buf_reserve(&a, 5000);
    ok(a.data == r && a.size == 6000, "but for 5000");

    /* it grows as any buffer */

    for (i = 0; i < 1000; i++) {
        ngx_http_moa_buf_add(&a, "0123456789", 10);
    }

    ok(a.len == 10000 && !a.nomem && a.size == 12000
       && memcmp(a.data + 9990, "0123456789", 10) == 0,
       "a cached buffer grows by doubling");
    ngx_http_moa_buf_free(&a);

    /* raw blocks (a body's parts) share it */

    p = ngx_http_moa_buf_cache_alloc(384, &got);
    ok(p != NULL && got == 384, "a block of 384 bytes");
    memset(p, 'p', got);
    ngx_http_moa_buf_cache_free(p, got);
    q = ngx_http_moa_buf_cache_alloc(300, &got);
    ok(q == p && got == 384, "is given again for 300");
    ngx_http_moa_buf_cache_free(q, got);

    /* a block over 16 KiB is not kept; a full cache keeps no more */

    (void) ngx_http_moa_buf_reserve(&a, 40000);
    p = a.data;
    ngx_http_moa_buf_free(&a);
    (void) ngx_http_moa_buf_reserve(&a, 40000);
    ok(a.size == 40000, "40000 bytes: a new block");
    ngx_http_moa_buf_free(&a);

    for (i = 0; i < 40; i++) {
        ngx_http_moa_buf_cache_free(malloc(64), 64);
        ngx_http_moa_buf_cache_free(malloc(1000), 1000);
    }

    ok(1, "blocks under 256 bytes, and more of a size class than it keeps, "
       "are freed (ASan: no leak)");

    /* off again: what it holds is freed */

    ngx_http_moa_buf_cache_enable(0);
    p = ngx_http_moa_buf_cache_alloc(64, &got);
    ok(p != NULL && got == 64, "off: nothing is given from it");
    free(p);
}


int
main(void)
{
    test_buf();
    test_buf_cache();

    return done_testing();
}
