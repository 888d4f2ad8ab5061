
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The JSON scanner's steps that are not inline: numbers, strings past
 * their first block or with escapes, \u escapes, a string's last bytes.
 * The long string scan in two versions on x86: the SSE2 one (the x86-64
 * baseline, what the module is built for) and an AVX2 one, compiled for
 * AVX2 alone and chosen at run time where the CPU has it.
 */


#include <stdint.h>
#include <string.h>

#include "ngx_http_moa_json_bytes.h"
#include "ngx_http_moa_json_scan.h"


#if defined(NGX_HTTP_MOA_JSON_SSE2) && defined(__GNUC__) \
    && (defined(__x86_64__) || defined(__i386__))
#define NGX_HTTP_MOA_JSON_AVX2  1
#include <immintrin.h>
#endif


static const char *ngx_http_moa_json_scan_string_first(
    ngx_http_moa_json_scan_t *s, const char *p, int *escaped);
static const char *ngx_http_moa_json_scan_string_base(
    ngx_http_moa_json_scan_t *s, const char *p, int *escaped);


/* the long string scan: until its first call, the choice of one */
const char *(*ngx_http_moa_json_scan_string_long)(ngx_http_moa_json_scan_t *s,
    const char *p, int *escaped) = ngx_http_moa_json_scan_string_first;


static int
ngx_http_moa_json_scan_digit(ngx_http_moa_json_scan_t *s)
{
    return s->p < s->end && *s->p >= '0' && *s->p <= '9';
}


const char *
ngx_http_moa_json_scan_spaces(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
        p++;
    }

    return p;
}


int
ngx_http_moa_json_scan_number(ngx_http_moa_json_scan_t *s)
{
    if (s->p < s->end && *s->p == '-') {
        s->p++;
    }

    if (!ngx_http_moa_json_scan_digit(s)) {
        return -1;
    }

    if (*s->p == '0') {
        s->p++;

    } else {
        while (ngx_http_moa_json_scan_digit(s)) {
            s->p++;
        }
    }

    if (s->p < s->end && *s->p == '.') {
        s->p++;

        if (!ngx_http_moa_json_scan_digit(s)) {
            return -1;
        }

        while (ngx_http_moa_json_scan_digit(s)) {
            s->p++;
        }
    }

    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;

        if (s->p < s->end && (*s->p == '+' || *s->p == '-')) {
            s->p++;
        }

        if (!ngx_http_moa_json_scan_digit(s)) {
            return -1;
        }

        while (ngx_http_moa_json_scan_digit(s)) {
            s->p++;
        }
    }

    return 0;
}


/*
 * After "\u" (s->p on the first hex digit): the escape, a surrogate pair
 * as one; its first code unit with s->p past it, or -1 with s->p where it
 * went wrong.
 */
int
ngx_http_moa_json_scan_unicode(ngx_http_moa_json_scan_t *s)
{
    int  v, w;

    if (s->end - s->p < 4) {
        return -1;
    }

    v = ngx_http_moa_json_hex4(s->p);
    s->p += 4;

    /*
     * as cJSON, which must parse whatever is accepted here: a surrogate
     * only as a high one followed by a low one
     */

    if (v < 0 || (v >= 0xdc00 && v <= 0xdfff)) {
        return -1;
    }

    if (v >= 0xd800 && v <= 0xdbff) {
        if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u') {
            return -1;
        }

        w = ngx_http_moa_json_hex4(s->p + 2);

        if (w < 0xdc00 || w > 0xdfff) {
            return -1;
        }

        s->p += 6;
    }

    return v;
}


/*
 * The mask of the block at p (ngx_http_moa_json_mask()) when fewer than a
 * block's bytes are left: the text's last block, shifted to start at p, or
 * a copy padded with spaces when the whole text is shorter than a block.
 */
uint64_t
ngx_http_moa_json_scan_tail(const ngx_http_moa_json_scan_t *s,
    const char *p)
{
    char    pad[NGX_HTTP_MOA_JSON_BLOCK];
    size_t  left;

    left = s->end - p;

    if (left == 0) {
        return 0;
    }

    if (s->end - s->start >= NGX_HTTP_MOA_JSON_BLOCK) {
        return ngx_http_moa_json_mask(s->end - NGX_HTTP_MOA_JSON_BLOCK)
               >> (NGX_HTTP_MOA_JSON_BLOCK - left);
    }

    memset(pad, ' ', NGX_HTTP_MOA_JSON_BLOCK);
    memcpy(pad, p, left);

    return ngx_http_moa_json_mask(pad);
}

#if defined(NGX_HTTP_MOA_JSON_AVX2)

/*
 * ngx_http_moa_json_special() for 32 bytes: 0 where a byte is one a JSON
 * string cannot hold as is ('"', '\\', a control character)
 */
static inline __attribute__((target("avx2"))) __m256i
ngx_http_moa_json_scan_special32(const char *p)
{
    __m256i  v, w;

    v = _mm256_loadu_si256((const __m256i *) p);
    w = _mm256_subs_epu8(_mm256_xor_si256(v, _mm256_set1_epi8(0x02)),
                         _mm256_set1_epi8(0x20));

    return _mm256_min_epu8(w, _mm256_xor_si256(v, _mm256_set1_epi8('\\')));
}


static inline __attribute__((target("avx2"))) uint64_t
ngx_http_moa_json_scan_zeros32(__m256i v)
{
    return (uint32_t) _mm256_movemask_epi8(
                          _mm256_cmpeq_epi8(v, _mm256_setzero_si256()));
}


/*
 * ngx_http_moa_json_mask_wide() with AVX2: the 64 bytes as two halves,
 * tested at once by their minimum (about half the SSE2 version's
 * instructions for a block without a special byte)
 */
static inline __attribute__((target("avx2"))) uint64_t
ngx_http_moa_json_scan_wide_avx2(const char *p)
{
    __m256i  a, b;

    a = ngx_http_moa_json_scan_special32(p);
    b = ngx_http_moa_json_scan_special32(p + 32);

    if (ngx_http_moa_json_scan_zeros32(_mm256_min_epu8(a, b)) == 0) {
        return 0;
    }

    return ngx_http_moa_json_scan_zeros32(a)
           | ngx_http_moa_json_scan_zeros32(b) << 32;
}

#endif


/*
 * A wide block's mask, by the version the scan was compiled for: avx2 is
 * a constant in each version, so that the other's code is not there.
 */
static inline __attribute__((always_inline)) uint64_t
ngx_http_moa_json_scan_wide(const char *p, int avx2)
{
#if defined(NGX_HTTP_MOA_JSON_AVX2)
    if (avx2) {
        return ngx_http_moa_json_scan_wide_avx2(p);
    }
#else
    (void) avx2;
#endif

    return ngx_http_moa_json_mask_wide(p);
}


/*
 * From *at on, the first block that holds a byte a string cannot hold as
 * is: its mask, with *at moved to its start and *w set to its width; 0 at
 * the text's end.  Wide blocks while they fit (the string is a long one:
 * its first block was read inline), then blocks, then the text's tail.
 */
static inline __attribute__((always_inline)) uint64_t
ngx_http_moa_json_scan_block(const ngx_http_moa_json_scan_t *s,
    const char **at, int *w, int avx2)
{
    uint64_t     m;
    uintptr_t    last;
    const char  *p;

    p = *at;

    /*
     * the last place a whole block starts at, as a number: one compare a
     * step, none at all when the text is shorter
     */
    last = (uintptr_t) s->end - NGX_HTTP_MOA_JSON_WIDE;

    while ((uintptr_t) p <= last) {
        m = ngx_http_moa_json_scan_wide(p, avx2);

        if (m) {
            *at = p;
            *w = NGX_HTTP_MOA_JSON_WIDE;
            return m;
        }

        p += NGX_HTTP_MOA_JSON_WIDE;
    }

    last = (uintptr_t) s->end - NGX_HTTP_MOA_JSON_BLOCK;

    *at = p;
    *w = NGX_HTTP_MOA_JSON_BLOCK;

    while ((uintptr_t) p <= last) {
        m = ngx_http_moa_json_mask(p);

        if (m) {
            *at = p;
            return m;
        }

        p += NGX_HTTP_MOA_JSON_BLOCK;
    }

    *at = p;

    return ngx_http_moa_json_scan_tail(s, p);
}


/*
 * A string's rest after its opening quote, from p on (scan_string_rest()'s
 * general case).  A block's mask of special bytes is read bit by bit, so
 * that a plain escape (a "\n" every line of a reply) costs a few
 * instructions and no new block; a \u escape (rare) starts a new block
 * after it.  Inline in each version of the scan (avx2 a constant).
 */
static inline __attribute__((always_inline)) const char *
ngx_http_moa_json_scan_string_wide(ngx_http_moa_json_scan_t *s,
    const char *p, int *escaped, int avx2)
{
    int          k, w, esc, e, u;
    uint64_t     m;
    const char  *end;

    end = s->end;
    esc = 0;

    for ( ;; ) {

        m = ngx_http_moa_json_scan_block(s, &p, &w, avx2);

        if (m == 0) {
            s->p = end;
            return NULL;
        }

        /* the block's special bytes, in order */

        do {
            k = __builtin_ctzll(m);

            if (p[k] == '"') {
                *escaped = esc;
                return p + k + 1;
            }

            if (p[k] != '\\') {
                /* a control character */
                s->p = p + k + 1;
                return NULL;
            }

            if (end - p <= k + 1) {
                s->p = end;
                return NULL;
            }

            e = ngx_http_moa_json_scan_escapes[(unsigned char) p[k + 1]];
            esc |= e;

            if (e == 0 || (e & NGX_HTTP_MOA_JSON_ESC_HEX) || k + 2 >= w) {
                break;
            }

            /* the escape's two bytes, the second maybe '"' or '\\' */
            m &= ~(uint64_t) 0 << (k + 2);

        } while (m);

        if (m == 0) {
            /* the block is done (the text too if it was its last) */

            if (end - p <= w) {
                s->p = end;
                return NULL;
            }

            p += w;
            continue;
        }

        /* a bad escape, a \u one, or one across the block's end */

        p += k + 2;
        s->p = p;

        if (e == 0) {
            return NULL;
        }

        if (e & NGX_HTTP_MOA_JSON_ESC_HEX) {
            u = ngx_http_moa_json_scan_unicode(s);

            if (u < 0) {
                return NULL;
            }

            /* a '<' written so: the prompt decodes such a text */
            if (u == '<') {
                esc |= NGX_HTTP_MOA_JSON_ESC_LT;
            }

            p = s->p;
        }
    }
}


/* the version of the build: SSE2 blocks on x86-64, words elsewhere */
static const char *
ngx_http_moa_json_scan_string_base(ngx_http_moa_json_scan_t *s,
    const char *p, int *escaped)
{
    return ngx_http_moa_json_scan_string_wide(s, p, escaped, 0);
}


#if defined(NGX_HTTP_MOA_JSON_AVX2)

/* the same compiled for AVX2, called only where the CPU has it */
static __attribute__((target("avx2"))) const char *
ngx_http_moa_json_scan_string_avx2(ngx_http_moa_json_scan_t *s,
    const char *p, int *escaped)
{
    return ngx_http_moa_json_scan_string_wide(s, p, escaped, 1);
}

#endif


/*
 * The first long string of the process: the version is chosen once, here
 * (a worker has one thread; were two to race, both would store the same)
 */
static const char *
ngx_http_moa_json_scan_string_first(ngx_http_moa_json_scan_t *s,
    const char *p, int *escaped)
{
    (void) ngx_http_moa_json_scan_use(NGX_HTTP_MOA_JSON_SCAN_AUTO);

    return ngx_http_moa_json_scan_string_long(s, p, escaped);
}


int
ngx_http_moa_json_scan_use(int path)
{
    int  avx2;

#if defined(NGX_HTTP_MOA_JSON_AVX2)
    __builtin_cpu_init();
    avx2 = __builtin_cpu_supports("avx2");
#else
    avx2 = 0;
#endif

    switch (path) {

    case NGX_HTTP_MOA_JSON_SCAN_AUTO:
        path = avx2 ? NGX_HTTP_MOA_JSON_SCAN_AVX2 : NGX_HTTP_MOA_JSON_SCAN_BASE;
        break;

    case NGX_HTTP_MOA_JSON_SCAN_BASE:
        break;

    case NGX_HTTP_MOA_JSON_SCAN_AVX2:
        if (!avx2) {
            return -1;
        }

        break;

    default:
        return -1;
    }

#if defined(NGX_HTTP_MOA_JSON_AVX2)
    if (path == NGX_HTTP_MOA_JSON_SCAN_AVX2) {
        ngx_http_moa_json_scan_string_long = ngx_http_moa_json_scan_string_avx2;
        return path;
    }
#endif

    ngx_http_moa_json_scan_string_long = ngx_http_moa_json_scan_string_base;

    return path;
}
