/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of the string scan's steps (ngx_http_moa_json_bytes.h and
 * ngx_http_moa_json_scan.[ch]): the SSE2/SWAR scan for bytes a string
 * must escape, against a byte-by-byte reference, and escapes at every
 * place of a block through the tokenizer (the hidden flag, error_at).
 * Built twice, as the scanner: with SSE2 and portable; the tokenizer's
 * tests run under each version of the long string scan this CPU has
 * (the build's, AVX2's).
 */


#include <limits.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "tap.h"
#include "check_json.h"
#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_json_find.h"
#include "ngx_http_moa_json_scan.h"


static const char *
plain_ref(const char *p, const char *end)
{
    while (p < end && (unsigned char) *p >= 0x20 && *p != '"' && *p != '\\')
    {
        p++;
    }

    return p;
}


/*
 * The data ends where its allocation ends, so that ASan sees any read
 * past it; the start is moved over 16 alignments.
 */
static void
test_plain(void)
{
    int            bad, special, c;
    char          *mem, *p;
    size_t         len, off, pos, runs;
    const char    *got;

    static const unsigned char  high[] = { 0x7f, 0x80, 0x9f, 0xa0, 0xbf,
                                           0xdc, 0xe2, 0xff };

    runs = 0;

    for (len = 0; len <= 40; len++) {
        bad = 0;

        for (off = 0; off < 16; off++) {
            mem = malloc(off + len + 1);
            p = mem + off + 1;

            /* only plain bytes: the end */
            for (pos = 0; pos < len; pos++) {
                p[pos] = (char) ('a' + pos % 26);
            }

            if (ngx_http_moa_json_plain(p, p + len) != p + len) {
                bad++;
            }

            runs++;

            /* each special byte at each position, plain bytes around */
            for (special = 0; special < 0x22; special++) {
                c = special < 0x20 ? special : special == 0x20 ? '"' : '\\';

                for (pos = 0; pos < len; pos++) {
                    p[pos] = (char) c;
                    got = ngx_http_moa_json_plain(p, p + len);

                    if (got != p + pos) {
                        if (bad++ == 0) {
                            diag("    len %zu, offset %zu: byte 0x%02x at "
                                 "%zu found at %td", len, off, c, pos,
                                 got - p);
                        }
                    }

                    /* a second one after it: the first still wins */
                    if (pos + 1 < len) {
                        p[len - 1] = '"';

                        if (ngx_http_moa_json_plain(p, p + len) != p + pos) {
                            bad++;
                        }

                        p[len - 1] = (char) ('a' + (len - 1) % 26);
                    }

                    /* and the scan started past it finds the next or end */
                    if (ngx_http_moa_json_plain(p + pos + 1, p + len)
                        != plain_ref(p + pos + 1, p + len))
                    {
                        bad++;
                    }

                    p[pos] = (char) ('a' + pos % 26);
                    runs += 3;
                }
            }

            /* bytes >= 0x7f are plain, signed char or not */
            for (c = 0; c < (int) sizeof(high); c++) {
                for (pos = 0; pos < len; pos++) {
                    p[pos] = (char) high[(c + pos) % sizeof(high)];
                }

                if (ngx_http_moa_json_plain(p, p + len) != p + len) {
                    bad++;
                }

                for (pos = 0; pos < len; pos++) {
                    p[pos] = 0x1f;

                    if (ngx_http_moa_json_plain(p, p + len) != p + pos) {
                        bad++;
                    }

                    p[pos] = (char) high[(c + pos) % sizeof(high)];
                    runs++;
                }
            }

            free(mem);
        }

        ok(bad == 0, "plain, length %zu: every alignment, every special "
           "byte at every position, bytes >= 0x7f plain", len);
    }

    /* random bytes against the byte-at-a-time reference */
    {
        char      buf[300];
        uint64_t  st;
        size_t    a, z;

        bad = 0;
        st = 42;

        for (runs = 0; runs < 20000; runs++) {
            for (pos = 0; pos < sizeof(buf); pos++) {
                st = st * 6364136223846793005ULL + 1442695040888963407ULL;
                /* mostly plain bytes, a special one now and then */
                c = (int) (st >> 56);
                buf[pos] = (char) ((st >> 40) % 61 == 0 ? c % 0x20
                                   : (st >> 40) % 67 == 0 ? '"'
                                   : (st >> 40) % 71 == 0 ? '\\'
                                   : c < 0x20 ? c + 0x40 : c == '"'
                                   || c == '\\' ? 'x' : c);
            }

            a = (size_t) (st >> 8) % 40;
            z = a + (size_t) (st >> 20) % (sizeof(buf) - a);

            if (ngx_http_moa_json_plain(buf + a, buf + z)
                != plain_ref(buf + a, buf + z))
            {
                bad++;
            }
        }

        ok(bad == 0, "plain: 20000 random runs agree with the reference");
    }
}


/*
 * The "hidden" flag (a \u or \/ escape) and "hidden_lt" (a \u003c) beside
 * "escaped", on strings whose escapes fall at every place of a block (the
 * scan reads a block of bytes a step), and where a refused text stops
 * being JSON (error_at).
 */
static void
test_escapes(void)
{
    int                   bad;
    char                  buf[128];
    size_t                k, n, i;
    ngx_http_moa_json_t   j;

    static const struct {
        const char  *text;
        int          escaped, hidden, lt;
    } strings[] = {
        { "\"plain\"", 0, 0, 0 },
        { "\"a\\nb\\tc\\\"d\\\\e\\bf\\fg\\rh\"", 1, 0, 0 },
        { "\"<\\/b>\"", 1, 1, 0 },
        { "\"\\u003c\"", 1, 1, 1 },
        { "\"x\\u0027y\\u003C\"", 1, 1, 1 },
        { "\"\\u0027 <\\u0063\\u0030\\u013c\\u3c00\"", 1, 1, 0 },
        { "\"\\ud83d\\ude00\"", 1, 1, 0 },
        { "\"\\\\/\"", 1, 0, 0 },
        { "\"\\\\u0041\"", 1, 0, 0 },
        { "\"\\\\u003c\"", 1, 0, 0 },
    };

    static const struct {
        const char  *text;
        size_t       at;
    } refused[] = {
        { "\"a\x01" "b\"", 3 }, { "\"\\x\"", 3 }, { "\"\\u12g4\"", 7 },
        { "\"\\u12\"", 3 }, { "\"\\ud800x\"", 7 }, { "\"\\ud800\\u0041\"", 7 },
        { "\"abc", 4 }, { "\"ab\\", 4 }, { "[1,]", 3 }, { "{\"a\" 1}", 5 },
        { "{\"a\":1,}", 7 }, { "[-]", 2 }, { "[1.e5]", 3 }, { "[tru]", 1 },
        { "{\"a\":1}x", 7 }, { "[1 2]", 3 }, { "{1:2}", 1 }, { "[", 1 },
        { "{\"a\":[1,{\"b\":nul}]}", 13 },
        { "[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n\"]", 39 },
    };

    memset(&j, 0, sizeof(j));

    for (k = 0; k < sizeof(strings) / sizeof(strings[0]); k++) {
        ok(ngx_http_moa_json_parse(&j, strings[k].text,
                                   strlen(strings[k].text)) == 0
           && j.n == 1 && j.tok[0].escaped == strings[k].escaped
           && j.tok[0].hidden == strings[k].hidden
           && j.tok[0].hidden_lt == strings[k].lt,
           "escaped %d, hidden %d, hidden_lt %d: %s", strings[k].escaped,
           strings[k].hidden, strings[k].lt, strings[k].text);
    }

    for (k = 0; k < sizeof(refused) / sizeof(refused[0]); k++) {
        ok(ngx_http_moa_json_parse(&j, refused[k].text,
                                   strlen(refused[k].text)) == -1
           && j.error_at == refused[k].at,
           "refused at byte %zu: %s", refused[k].at, refused[k].text);
    }

    /* an escape at every place of a block, the text ending close after */

    bad = 0;

    for (n = 0; n < 40; n++) {
        for (i = 0; i < 4; i++) {
            memset(buf, 'a', sizeof(buf));
            buf[0] = '[';
            buf[1] = '"';
            memcpy(buf + 2 + n, i & 1 ? "\\\"" : "\\/", 2);
            memcpy(buf + 4 + n + i, "\"]", 2);

            if (ngx_http_moa_json_parse(&j, buf, n + i + 6) != 0
                || j.n != 2 || j.tok[1].len != n + i + 4
                || j.tok[1].hidden != !(i & 1) || !j.tok[1].escaped)
            {
                bad++;
            }

            /* cut before the closing quote: it ends early */
            if (ngx_http_moa_json_parse(&j, buf, n + i + 4) != -1
                || j.error_at != n + i + 4)
            {
                bad++;
            }
        }
    }

    ok(bad == 0, "escapes at every place of a block");

    ngx_http_moa_json_free(&j);
}


/*
 * Long strings (past a wide block of 64 bytes, across 32- and 64-byte
 * boundaries) with one special thing at every place: an escape of each
 * kind, a control character, the text cut short; against what it must
 * give.  Each text is a copy of its own size (ASan sees reads past it);
 * its start moves over four alignments.
 */
static void
test_long(void)
{
    int                   bad, kind;
    char                 *t, text[300];
    size_t                len, pos, off, n, elen, cut;
    ngx_http_moa_json_t   j;

    static const struct {
        const char  *esc;
        int          escaped, hidden, lt;
    } escs[] = {
        { "\\n", 1, 0, 0 }, { "\\\"", 1, 0, 0 }, { "\\\\", 1, 0, 0 },
        { "\\/", 1, 1, 0 }, { "\\u0027", 1, 1, 0 }, { "\\u003c", 1, 1, 1 },
        { "\\ud83d\\ude00", 1, 1, 0 }, { "\"", 0, 0, 0 }
    };

    memset(&j, 0, sizeof(j));
    bad = 0;
    n = 0;

    for (len = 1; len <= 200; len++) {
        for (pos = 0; pos < len; pos++) {
            for (kind = 0; kind < (int) (sizeof(escs) / sizeof(escs[0])) + 1;
                 kind++)
            {
                /* ["aaa<special>aaa"] */
                memset(text, 'a', sizeof(text));
                text[0] = '[';
                text[1] = '"';

                if (kind < (int) (sizeof(escs) / sizeof(escs[0]))) {
                    elen = strlen(escs[kind].esc);
                    memcpy(text + 2 + pos, escs[kind].esc, elen);

                } else {
                    /* a control character */
                    elen = 1;
                    text[2 + pos] = (char) (pos % 0x20);
                }

                memcpy(text + 2 + len + elen, "\"]", 2);
                n = len + elen + 4;

                for (off = 0; off < 4; off++) {
                    t = malloc(off + n);
                    memcpy(t + off, text, n);

                    if (kind == (int) (sizeof(escs) / sizeof(escs[0]))) {
                        if (ngx_http_moa_json_parse(&j, t + off, n) != -1
                            || j.error_at != 3 + pos)
                        {
                            bad++;
                        }

                    } else if (escs[kind].esc[0] == '"') {
                        /* the string ends there: what follows is not JSON */
                        if (ngx_http_moa_json_parse(&j, t + off, n) != -1
                            || j.error_at != 3 + pos)
                        {
                            bad++;
                        }

                    } else if (ngx_http_moa_json_parse(&j, t + off, n) != 0
                               || j.n != 2 || j.tok[1].len != len + elen + 2
                               || j.tok[1].escaped != escs[kind].escaped
                               || j.tok[1].hidden != escs[kind].hidden
                               || j.tok[1].hidden_lt != escs[kind].lt)
                    {
                        if (bad++ == 0) {
                            diag("    length %zu, %s at %zu, offset %zu",
                                 len, escs[kind].esc, pos, off);
                        }
                    }

                    free(t);
                }

                /* cut before its end: where the text stops */
                if (kind == 0) {
                    for (cut = 2; cut < n - 1; cut += 1 + cut / 16) {
                        t = malloc(cut);
                        memcpy(t, text, cut);

                        if (ngx_http_moa_json_parse(&j, t, cut) != -1
                            || j.error_at != cut)
                        {
                            if (bad++ == 0) {
                                diag("    length %zu, \\n at %zu, cut at %zu:"
                                     " error_at %zu", len, pos, cut,
                                     j.error_at);
                            }
                        }

                        free(t);
                    }
                }
            }
        }
    }

    ok(bad == 0, "long strings: an escape of each kind, a control "
       "character, a quote at every place up to 200, four alignments; "
       "cut short anywhere");

    ngx_http_moa_json_free(&j);
}


/* the tests of the tokenizer under one version of the long string scan */
static void
test_path(int path, const char *name)
{
    if (ngx_http_moa_json_scan_use(path) != path) {
        diag("the %s string scan is not on this CPU or build", name);
        return;
    }

    diag("the %s string scan", name);

    test_escapes();
    test_long();
}


int
main(void)
{
    test_plain();

    ok(ngx_http_moa_json_scan_use(NGX_HTTP_MOA_JSON_SCAN_AUTO) > 0,
       "a version of the string scan is chosen");
    ok(ngx_http_moa_json_scan_use(7) == -1, "an unknown version is refused");

    test_path(NGX_HTTP_MOA_JSON_SCAN_BASE, "build's (SSE2 or portable)");
    test_path(NGX_HTTP_MOA_JSON_SCAN_AVX2, "AVX2");

    return done_testing();
}
