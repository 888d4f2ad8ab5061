
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_body.[ch]: a body as a list of parts,
 * references to text that lives elsewhere and glue the module writes,
 * merged when contiguous, flattened into the bytes sent.
 */


#include "util.h"
#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_body.h"


#define S(s)  s, sizeof(s) - 1


static void
test_parts(void)
{
    size_t               i, R;
    char                 text[8 * NGX_HTTP_MOA_BODY_COPY];
    ngx_http_moa_body_t  b;

    /* references of R bytes or more stay references; shorter are copied */
    R = NGX_HTTP_MOA_BODY_COPY;

    for (i = 0; i < sizeof(text); i++) {
        text[i] = (char) ('a' + i % 26);
    }

    memset(&b, 0, sizeof(b));

    ok(ngx_http_moa_body_done(&b) == 0 && b.nparts == 0 && b.len == 0,
       "an empty body");
    ok(flat_is(&b, "", 0), "an empty body flattens to nothing");

    ngx_http_moa_body_ref(&b, text, R);
    ngx_http_moa_body_ref(&b, text + R, R);
    is_int(b.nparts, 1, "contiguous references merge");
    ngx_http_moa_body_ref(&b, text + 3 * R, R);
    is_int(b.nparts, 2, "a gap: a new part");
    ngx_http_moa_body_ref(&b, text + 4 * R, 0);
    ngx_http_moa_body_ref(&b, NULL, 0);
    is_int(b.nparts, 2, "empty references add nothing");
    ok(b.parts[0].p == text && b.parts[0].len == 2 * R
       && b.parts[1].p == text + 3 * R && b.parts[1].len == R,
       "the parts refer");

    ngx_http_moa_body_lit(&b, "<");
    ngx_http_moa_body_add(&b, ">", 1);
    is_int(b.nparts, 3, "glue written in a row is one part");
    ok(b.parts[2].p == NULL && b.parts[2].off == 0 && b.parts[2].len == 2,
       "glue parts hold an offset until done");

    ngx_http_moa_body_ref(&b, text + 5, 3);
    is_int(b.nparts, 3, "a short reference is copied into the glue");
    is_int(b.parts[2].len, 5, "the copy extends the glue part");

    ngx_http_moa_body_ref(&b, text + 4 * R, R);
    ngx_http_moa_body_lit(&b, "!");
    is_int(b.nparts, 5, "glue after a reference is a new part");
    is_int(b.len, 4 * R + 6, "len counts every part");

    /* the glue moves as it grows: offsets survive */
    for (i = 0; i < 1000; i++) {
        ngx_http_moa_buf_lit(&b.glue, "x");
    }

    ngx_http_moa_body_glued(&b, b.glue.len - 1000);
    is_int(b.nparts, 5, "glue written directly, then glued, extends it");
    ngx_http_moa_body_ref(&b, text + 5 * R, R);
    is_int(b.nparts, 6, "a reference after glue is a new part");

    ok(ngx_http_moa_body_done(&b) == 0, "done");
    ok(b.parts[2].p == b.glue.data && b.parts[4].p == b.glue.data + 5,
       "done: glue parts point into the glue");
    ok(merged(&b), "no two contiguous parts in a row");

    {
        ngx_http_moa_buf_t  e;

        memset(&e, 0, sizeof(e));
        ngx_http_moa_buf_add(&e, text, 2 * R);
        ngx_http_moa_buf_add(&e, text + 3 * R, R);
        ngx_http_moa_buf_lit(&e, "<>");
        ngx_http_moa_buf_add(&e, text + 5, 3);
        ngx_http_moa_buf_add(&e, text + 4 * R, R);
        ngx_http_moa_buf_lit(&e, "!");

        for (i = 0; i < 1000; i++) {
            ngx_http_moa_buf_lit(&e, "x");
        }

        ngx_http_moa_buf_add(&e, text + 5 * R, R);

        ok(flat_is(&b, e.data, e.len), "flat: every part in order");
        ngx_http_moa_buf_free(&e);
    }

    /* flat appends */
    {
        ngx_http_moa_buf_t  out;

        memset(&out, 0, sizeof(out));
        ngx_http_moa_buf_lit(&out, "[");
        ngx_http_moa_body_flat(&b, &out);
        ok(out.len == b.len + 1 && out.data[0] == '[' && out.data[1] == 'a',
           "flat appends to what is there");
        ngx_http_moa_buf_free(&out);
    }

    ngx_http_moa_body_free(&b);
    ok(b.parts == NULL && b.nparts == 0 && b.len == 0 && b.glue.data == NULL
       && !b.nomem, "free clears");
    ngx_http_moa_body_free(&b);
    ok(1, "free twice is harmless");

    /* many parts: the list grows */
    for (i = 0; i < 100; i++) {
        ngx_http_moa_body_ref(&b, text + (i % 2) * 2 * R, R);
        ngx_http_moa_body_lit(&b, ",");
    }

    ok(ngx_http_moa_body_done(&b) == 0 && b.nparts == 200
       && b.len == 100 * R + 100, "200 parts");
    ok(b.nparts == 200 && b.parts[198].p == text + 2 * R
       && b.parts[199].p == b.glue.data + 99, "200 parts: the last two");
    ngx_http_moa_body_free(&b);

    /* a glue that ran out of memory: the body is refused */
    ngx_http_moa_body_lit(&b, "{");
    b.glue.nomem = 1;
    ngx_http_moa_body_lit(&b, "}");
    ok(b.nomem && ngx_http_moa_body_done(&b) == -1, "glue nomem: done -1");
    ngx_http_moa_body_free(&b);

    memset(&b, 0, sizeof(b));
    ngx_http_moa_body_ref(&b, text, R);
    b.nomem = 1;
    ngx_http_moa_body_ref(&b, text + 2 * R, R);
    ok(b.nparts == 1 && b.len == R && ngx_http_moa_body_done(&b) == -1,
       "nomem: nothing more is added, done -1");
    ngx_http_moa_body_free(&b);
}


/* random references and glue: flat is their concatenation */
static void
test_random(void)
{
    int                  i, k, bad;
    char                 text[512];
    size_t               off, len;
    uint64_t             st;
    ngx_http_moa_buf_t   expected;
    ngx_http_moa_body_t  b;

    for (i = 0; i < (int) sizeof(text); i++) {
        text[i] = (char) ('A' + i % 57);
    }

    memset(&expected, 0, sizeof(expected));
    st = 1;
    bad = 0;

    for (i = 0; i < 2000; i++) {
        memset(&b, 0, sizeof(b));
        expected.len = 0;
        off = 0;

        for (k = 0; k < 40; k++) {
            st = st * 6364136223846793005ULL + 1442695040888963407ULL;
            len = (st >> 40) % 9;

            switch ((st >> 20) % 4) {

            case 0:
                /* right after the previous reference, or anywhere */
                if ((st >> 50) % 2 == 0 || off + len > sizeof(text)) {
                    off = (st >> 30) % (sizeof(text) - 8);
                }

                ngx_http_moa_body_ref(&b, text + off, len);
                ngx_http_moa_buf_add(&expected, text + off, len);
                off += len;
                break;

            case 1:
                ngx_http_moa_body_add(&b, "glue-glue", len);
                ngx_http_moa_buf_add(&expected, "glue-glue", len);
                break;

            case 2:
                ngx_http_moa_buf_int(&b.glue, (long long) len);
                ngx_http_moa_body_glued(&b, b.glue.len - 1);
                ngx_http_moa_buf_int(&expected, (long long) len);
                break;

            default:
                /* written but glued later, with what follows */
                ngx_http_moa_buf_add(&b.glue, "abc", len % 4);
                ngx_http_moa_body_glued(&b, b.glue.len - len % 4);
                ngx_http_moa_buf_add(&expected, "abc", len % 4);
            }
        }

        if (ngx_http_moa_body_done(&b) != 0
            || !flat_is(&b, expected.data, expected.len) || !merged(&b))
        {
            bad++;
        }

        ngx_http_moa_body_free(&b);
    }

    ok(bad == 0, "2000 random bodies: flat is the concatenation, contiguous "
       "parts merged");

    ngx_http_moa_buf_free(&expected);
}


int
main(void)
{
    test_parts();
    test_random();

    return done_testing();
}
