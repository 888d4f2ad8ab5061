
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_utf8.[ch]: strict UTF-8 (RFC 3629) sequence
 * lengths, validation, and the clean-up of a text cut inside a character.
 */


#include "tap.h"
#include "ngx_http_moa_utf8.h"


#define S(s)  s, sizeof(s) - 1


static void
test_seq(void)
{
    is_int(ngx_http_moa_utf8_seq(S("a")), 1, "ASCII: one byte");
    is_int(ngx_http_moa_utf8_seq(S("\xc3\xa9")), 2, "U+00E9: two bytes");
    is_int(ngx_http_moa_utf8_seq(S("\xe2\x82\xac")), 3, "U+20AC: three");
    is_int(ngx_http_moa_utf8_seq(S("\xf0\x9f\x98\x80")), 4, "U+1F600: four");
    is_int(ngx_http_moa_utf8_seq(S("\xf4\x8f\xbf\xbf")), 4, "U+10FFFF: four");

    is_int(ngx_http_moa_utf8_seq(S("\x80")), 0, "a lone continuation byte");
    is_int(ngx_http_moa_utf8_seq(S("\xc3")), 0, "a sequence cut short");
    is_int(ngx_http_moa_utf8_seq(S("\xe2\x82")), 0, "three bytes cut to two");
    is_int(ngx_http_moa_utf8_seq(S("\xc0\xaf")), 0, "an overlong '/'");
    is_int(ngx_http_moa_utf8_seq(S("\xe0\x80\xaf")), 0, "overlong, 3 bytes");
    is_int(ngx_http_moa_utf8_seq(S("\xed\xa0\x80")), 0, "a surrogate, U+D800");
    is_int(ngx_http_moa_utf8_seq(S("\xf4\x90\x80\x80")), 0, "above U+10FFFF");
    is_int(ngx_http_moa_utf8_seq(S("\xff")), 0, "0xff is never UTF-8");
    is_int(ngx_http_moa_utf8_seq("", 0), 0, "nothing");
}


static void
test_valid(void)
{
    ok(ngx_http_moa_utf8_valid(S("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80")),
       "mixed text is valid");
    ok(ngx_http_moa_utf8_valid("", 0), "the empty text is valid");
    ok(ngx_http_moa_utf8_valid(S("a\0b")), "a NUL byte is a character");
    ok(!ngx_http_moa_utf8_valid(S("caf\xc3")), "a text cut in a character");
    ok(!ngx_http_moa_utf8_valid(S("\xed\xbf\xbf")), "a low surrogate");
    ok(!ngx_http_moa_utf8_valid(S("ab\x80""cd")), "a stray continuation");
}


static void
test_clean(void)
{
    char    text[32];
    size_t  n;

    memcpy(text, "caf\xc3\xa9\xe2\x82", 7);
    n = ngx_http_moa_utf8_clean(text, 7);
    is_mem(text, n, "caf\xc3\xa9", "the cut character is dropped");

    memcpy(text, "a\x80" "b\xff" "c", 5);
    n = ngx_http_moa_utf8_clean(text, 5);
    is_mem(text, n, "abc", "stray bytes are dropped, the rest kept in order");

    memcpy(text, "\xf0\x9f\x98\x80!", 5);
    n = ngx_http_moa_utf8_clean(text, 5);
    is_mem(text, n, "\xf0\x9f\x98\x80!", "a valid text is left as it is");

    is_int(ngx_http_moa_utf8_clean(text, 0), 0, "nothing stays nothing");
}


int
main(void)
{
    test_seq();
    test_valid();
    test_clean();

    return done_testing();
}
