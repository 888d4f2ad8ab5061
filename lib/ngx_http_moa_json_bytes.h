/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code (no nginx types): the byte-level steps of a JSON string scan,
 * inline (the escape table, a block's mask of bytes a string cannot hold
 * as is, the first such byte, four hex digits), shared by the scanner,
 * the tokenizer, the escaper and the walker.  A header of its own, below
 * all of them, so that none of them calls another for these.
 */


#ifndef _NGX_HTTP_MOA_JSON_BYTES_H_INCLUDED_
#define _NGX_HTTP_MOA_JSON_BYTES_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__) && !defined(NGX_HTTP_MOA_JSON_PORTABLE)
#include <emmintrin.h>
#endif


/* bytes that JSON strings must escape: control characters, '"', '\\' */
static const unsigned char  ngx_http_moa_json_esc[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0
};


/*
 * The string scans read a block of bytes a step: sixteen with SSE2 (the
 * x86-64 baseline), eight in a 64-bit word elsewhere; past a string's
 * first block (most keys and short values end in it), a wide block of
 * 64 bytes a step, so that a long text's loop and its mask's handling are
 * paid once per 64 bytes.  The unit tests build the portable scan too,
 * with NGX_HTTP_MOA_JSON_PORTABLE defined.
 */
#if defined(__SSE2__) && !defined(NGX_HTTP_MOA_JSON_PORTABLE)
#define NGX_HTTP_MOA_JSON_SSE2   1
#define NGX_HTTP_MOA_JSON_BLOCK  16
#else
#define NGX_HTTP_MOA_JSON_BLOCK  8
#endif

#define NGX_HTTP_MOA_JSON_WIDE   64

#define NGX_HTTP_MOA_JSON_ONES   0x0101010101010101ULL
#define NGX_HTTP_MOA_JSON_HIGHS  0x8080808080808080ULL


#if defined(NGX_HTTP_MOA_JSON_SSE2)

/*
 * Sixteen bytes from p, 0 where a byte is one a JSON string cannot hold as
 * is, not 0 elsewhere.  '"' and the control characters are those that are
 * 0x20 or less after an xor with 0x02 ('"', 0x22, becomes 0x20; 0x00..0x1f
 * stay below it; any other byte is above), so a saturating subtraction of
 * 0x20 leaves 0 for them; an xor with '\\' leaves 0 for it; the smaller of
 * the two is 0 for all three.  Zeros rather than a compare's 0xff: four
 * blocks' are tested at once by taking their minimum.
 */
static inline __m128i
ngx_http_moa_json_special(const char *p)
{
    __m128i  v, w;

    v = _mm_loadu_si128((const __m128i *) p);
    w = _mm_subs_epu8(_mm_xor_si128(v, _mm_set1_epi8(0x02)),
                      _mm_set1_epi8(0x20));

    return _mm_min_epu8(w, _mm_xor_si128(v, _mm_set1_epi8('\\')));
}


/* the zero bytes of a vector as a mask: bit k for byte k */
static inline uint64_t
ngx_http_moa_json_zeros(__m128i v)
{
    return (unsigned) _mm_movemask_epi8(
                          _mm_cmpeq_epi8(v, _mm_setzero_si128()));
}

#endif


/*
 * The bytes that a JSON string cannot hold as is ('"', '\\', control
 * characters) among the NGX_HTTP_MOA_JSON_BLOCK bytes from p, as a mask:
 * bit k set for p[k].
 */
static inline uint64_t
ngx_http_moa_json_mask(const char *p)
{
#if defined(NGX_HTTP_MOA_JSON_SSE2)
    return ngx_http_moa_json_zeros(ngx_http_moa_json_special(p));
#else
    int       k;
    uint64_t  w, q, s, m;

    /*
     * a word has such a byte when one of its bytes is zero after an xor
     * with '"' or '\\', or is below 0x20; only then are its bytes looked
     * at one by one (the word's byte order differs between platforms)
     */

    memcpy(&w, p, 8);

    q = w ^ (NGX_HTTP_MOA_JSON_ONES * '"');
    s = w ^ (NGX_HTTP_MOA_JSON_ONES * '\\');

    if (((((q - NGX_HTTP_MOA_JSON_ONES) & ~q)
          | ((s - NGX_HTTP_MOA_JSON_ONES) & ~s)
          | ((w - NGX_HTTP_MOA_JSON_ONES * 0x20) & ~w))
         & NGX_HTTP_MOA_JSON_HIGHS) == 0)
    {
        return 0;
    }

    m = 0;

    for (k = 0; k < 8; k++) {
        m |= (uint64_t) ngx_http_moa_json_esc[(unsigned char) p[k]] << k;
    }

    return m;
#endif
}


/*
 * The same for the NGX_HTTP_MOA_JSON_WIDE (64) bytes from p; with SSE2 the
 * four blocks are tested at once first (most wide blocks of a long text
 * have no such byte).
 */
static inline uint64_t
ngx_http_moa_json_mask_wide(const char *p)
{
#if defined(NGX_HTTP_MOA_JSON_SSE2)
    __m128i  a, b, c, d;

    a = ngx_http_moa_json_special(p);
    b = ngx_http_moa_json_special(p + 16);
    c = ngx_http_moa_json_special(p + 32);
    d = ngx_http_moa_json_special(p + 48);

    if (ngx_http_moa_json_zeros(_mm_min_epu8(_mm_min_epu8(a, b),
                                             _mm_min_epu8(c, d)))
        == 0)
    {
        return 0;
    }

    return ngx_http_moa_json_zeros(a) | ngx_http_moa_json_zeros(b) << 16
           | ngx_http_moa_json_zeros(c) << 32
           | ngx_http_moa_json_zeros(d) << 48;
#else
    int       k;
    uint64_t  m;

    m = 0;

    for (k = 0; k < NGX_HTTP_MOA_JSON_WIDE; k += NGX_HTTP_MOA_JSON_BLOCK) {
        m |= ngx_http_moa_json_mask(p + k) << k;
    }

    return m;
#endif
}


/*
 * The first byte from p on that a JSON string cannot hold as is ('"', '\\'
 * or a control character), or end: a block a step while there is none,
 * wide blocks after the first.
 */
static inline const char *
ngx_http_moa_json_plain(const char *p, const char *end)
{
    uint64_t  m;

    if (end - p >= NGX_HTTP_MOA_JSON_BLOCK) {
        m = ngx_http_moa_json_mask(p);

        if (m) {
            return p + __builtin_ctzll(m);
        }

        p += NGX_HTTP_MOA_JSON_BLOCK;

        while (end - p >= NGX_HTTP_MOA_JSON_WIDE) {
            m = ngx_http_moa_json_mask_wide(p);

            if (m) {
                return p + __builtin_ctzll(m);
            }

            p += NGX_HTTP_MOA_JSON_WIDE;
        }

        while (end - p >= NGX_HTTP_MOA_JSON_BLOCK) {
            m = ngx_http_moa_json_mask(p);

            if (m) {
                return p + __builtin_ctzll(m);
            }

            p += NGX_HTTP_MOA_JSON_BLOCK;
        }
    }

    while (p < end && !ngx_http_moa_json_esc[(unsigned char) *p]) {
        p++;
    }

    return p;
}


static inline int
ngx_http_moa_json_hex4(const char *p)
{
    int  i, c, v;

    v = 0;

    for (i = 0; i < 4; i++) {
        c = p[i];
        v <<= 4;

        if (c >= '0' && c <= '9') {
            v |= c - '0';

        } else if (c >= 'a' && c <= 'f') {
            v |= c - 'a' + 10;

        } else if (c >= 'A' && c <= 'F') {
            v |= c - 'A' + 10;

        } else {
            return -1;
        }
    }

    return v;
}

#endif /* _NGX_HTTP_MOA_JSON_BYTES_H_INCLUDED_ */
