
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of moa-relabel's HTTP and file side: error texts, --param,
 * Retry-After, reading lines, the output files and resuming.  Part of
 * the test-relabel binary (test_relabel.c has main and the helpers).
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ngx_http_moa_utf8.h"
#include "relabel.h"
#include "test_relabel.h"


void
test_error_text(void)
{
    char        t[64];
    const char *b;

    b = "{\"error\":{\"message\":\"Invalid\\nmodel\",\"type\":\"x\"}}";
    relabel_http_error_text(b, strlen(b), t, sizeof(t));
    is_str(t, "Invalid model", "error text: OpenAI error message");

    b = "<html>\r\n<head><title>429 Too Many Requests</title></head>\r\n"
        "<body>...</body></html>";
    relabel_http_error_text(b, strlen(b), t, sizeof(t));
    is_str(t, "429 Too Many Requests", "error text: HTML title");

    b = "upstream   timed\n\nout   ";
    relabel_http_error_text(b, strlen(b), t, sizeof(t));
    is_str(t, "upstream timed out", "error text: plain text, one line");

    b = "0123456789012345678901234567890123456789012345678901234567\xc3\xa9";
    relabel_http_error_text(b, strlen(b), t, 60);
    is_str(t, "0123456789012345678901234567890123456789012345678901234567",
           "error text: truncated without a cut UTF-8 sequence");

    relabel_http_error_text("", 0, t, sizeof(t));
    is_str(t, "", "error text: empty body");
}


void
test_params(void)
{
    size_t           i;
    relabel_param_t  p;

    static const struct {
        const char  *arg;
        const char  *key;
        const char  *value;
    } cases[] = {
        { "temperature=0.7", "temperature", "0.7" },
        { "max_tokens=100", "max_tokens", "100" },
        { "stop=[\"a\",\"b\"]", "stop", "[\"a\",\"b\"]" },
        { "response_format={\"type\":\"json_object\"}", "response_format",
          "{\"type\":\"json_object\"}" },
        { "user=alice", "user", "\"alice\"" },
        { "seed=", "seed", "\"\"" },
        { "store=true", "store", "true" },
        { "x=1 2", "x", "\"1 2\"" },
        { "a=b=c", "a", "\"b=c\"" },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ok(relabel_record_param_parse(cases[i].arg, &p) == 0
           && strcmp(p.key, cases[i].key) == 0
           && strcmp(p.value, cases[i].value) == 0,
           "param: %s", cases[i].arg);
        free(p.key);
        free(p.value);
    }

    ok(relabel_record_param_parse("novalue", &p) != 0,
       "param: no '=' is refused");
    ok(relabel_record_param_parse("=1", &p) != 0, "param: no key is refused");
}


void
test_retry_after(void)
{
    time_t  now;

    now = 784111777;    /* Sun, 06 Nov 1994 08:49:37 GMT */

    is_num(relabel_http_retry_after_ms(NULL, "1", now), 1000,
           "retry-after: seconds");
    is_num(relabel_http_retry_after_ms(NULL, " 2 ", now), 2000,
           "retry-after: whitespace");
    is_num(relabel_http_retry_after_ms(NULL, "0.25", now), 250,
           "retry-after: fractional seconds");
    is_num(relabel_http_retry_after_ms(NULL, "0", now), 0, "retry-after: zero");
    is_num(relabel_http_retry_after_ms("1500", "1", now), 1500,
           "retry-after-ms wins over retry-after");
    is_num(relabel_http_retry_after_ms("12.2", NULL, now), 13,
           "retry-after-ms: fractional, rounded up");
    is_num(relabel_http_retry_after_ms("soon", "3", now), 3000,
           "retry-after-ms unusable: retry-after is used");
    is_num(relabel_http_retry_after_ms("-5", NULL, now), -1,
           "retry-after-ms: negative is unusable");
    is_num(relabel_http_retry_after_ms(NULL, "Sun, 06 Nov 1994 08:49:47 GMT",
                                       now),
           10000, "retry-after: IMF-fixdate");
    is_num(relabel_http_retry_after_ms(NULL, "Sunday, 06-Nov-94 08:50:37 GMT",
                                       now),
           60000, "retry-after: RFC 850 date");
    is_num(relabel_http_retry_after_ms(NULL, "Sun Nov  6 08:49:39 1994", now),
           2000, "retry-after: asctime date");
    is_num(relabel_http_retry_after_ms(NULL, "Sun, 06 Nov 1994 08:00:00 GMT",
                                       now),
           0, "retry-after: a past date means now");
    is_num(relabel_http_retry_after_ms(NULL, "-1", now), -1,
           "retry-after: negative is unusable");
    is_num(relabel_http_retry_after_ms(NULL, "1x", now), -1,
           "retry-after: garbage after the number");
    is_num(relabel_http_retry_after_ms(NULL, "tomorrow-ish", now), -1,
           "retry-after: garbage");
    is_num(relabel_http_retry_after_ms(NULL, "", now), -1,
           "retry-after: empty");
    is_num(relabel_http_retry_after_ms(NULL, NULL, now), -1,
           "retry-after: none");

    ok(relabel_http_retryable(429) && relabel_http_retryable(500)
       && relabel_http_retryable(503) && relabel_http_retryable(408)
       && relabel_http_retryable(409),
       "retryable: 408, 409, 429, 5xx");
    ok(!relabel_http_retryable(400) && !relabel_http_retryable(401)
       && !relabel_http_retryable(404) && !relabel_http_retryable(422)
       && !relabel_http_retryable(200),
       "not retryable: 400, 401, 404, 422, 200");
}


void
test_read_line(void)
{
    FILE            *f;
    relabel_line_t   l;

    memset(&l, 0, sizeof(relabel_line_t));

    f = file_with("\xef\xbb\xbf{\"a\":1}\r\n \t\n\n{\"b\":2}");

    ok(relabel_io_read_line(f, &l, 1) == 1 && strcmp(l.data, "{\"a\":1}\r") == 0
       && !l.blank, "read line: BOM dropped on line 1, CR kept");
    ok(relabel_io_read_line(f, &l, 2) == 1 && l.blank && l.len == 2,
       "read line: whitespace line is blank");
    ok(relabel_io_read_line(f, &l, 3) == 1 && l.blank && l.len == 0,
       "read line: empty line is blank");
    ok(relabel_io_read_line(f, &l, 4) == 1 && strcmp(l.data, "{\"b\":2}") == 0,
       "read line: last line without newline");
    ok(relabel_io_read_line(f, &l, 5) == 0, "read line: end of file");

    fclose(f);

    f = file_with("x\n\xef\xbb\xbfy\n");
    relabel_io_read_line(f, &l, 1);
    ok(relabel_io_read_line(f, &l, 2) == 1 && l.len == 4,
       "read line: a BOM is only dropped on line 1");
    fclose(f);

    free(l.data);
}


void
test_files(void)
{
    int             fd;
    char           *c, *big;
    FILE           *f;
    off_t           cut;
    size_t          n;
    unsigned long   lines;

    f = file_with("{\"a\":1}\n{\"b\":2}\n{\"c\":");
    fd = fileno(f);
    ok(relabel_io_cut_torn(fd, &cut) == 0 && cut == 5, "cut: torn last line");
    c = file_content(f);
    is_str(c, "{\"a\":1}\n{\"b\":2}\n", "cut: complete lines stay");
    free(c);
    ok(relabel_io_cut_torn(fd, &cut) == 0 && cut == 0, "cut: nothing to cut");
    fclose(f);

    f = file_with("{\"half");
    ok(relabel_io_cut_torn(fileno(f), &cut) == 0 && cut == 6,
       "cut: a single torn line");
    c = file_content(f);
    is_str(c, "", "cut: leaves an empty file");
    free(c);
    fclose(f);

    f = file_with("");
    ok(relabel_io_cut_torn(fileno(f), &cut) == 0 && cut == 0,
       "cut: empty file");
    ok(relabel_io_count_lines(fileno(f), &lines) == 0 && lines == 0,
       "count: empty file");
    fclose(f);

    /* a torn line longer than the read chunk */

    n = 3 * 1024 * 1024;
    big = malloc(n + 1);
    memset(big, 'x', n);
    big[0] = '\n';
    big[n] = '\0';
    f = file_with(big);
    ok(relabel_io_cut_torn(fileno(f), &cut) == 0 && cut == (off_t) n - 1,
       "cut: torn line across read chunks");
    fclose(f);

    big[n - 1] = '\n';
    big[n / 2] = '\n';
    f = file_with(big);
    ok(relabel_io_count_lines(fileno(f), &lines) == 0 && lines == 3,
       "count: lines across read chunks");
    fclose(f);
    free(big);

    f = file_with("a\nb\nc");
    ok(relabel_io_count_lines(fileno(f), &lines) == 0 && lines == 3,
       "count: last line without newline counts");
    fclose(f);
}


#define REC(q)                                                               \
    "{\"messages\":[{\"role\":\"user\",\"content\":\"" q "\"},"              \
    "{\"role\":\"assistant\",\"content\":\"old\"}],\"m\":\"" q "\"}"

#define OUTL(q)                                                              \
    "{\"messages\":[{\"role\":\"user\",\"content\":\"" q "\"},"              \
    "{\"role\":\"assistant\",\"content\":\"new\"}],\"m\":\"" q "\"}\n"


static int
scan(const char *in, const char *out, const char *rej, relabel_resume_t *rs,
    char *err, size_t errlen)
{
    int    rc;
    FILE  *i, *o, *r;

    i = file_with(in);
    o = file_with(out);
    r = file_with(rej);

    err[0] = '\0';
    rc = relabel_io_resume_scan(i, o, r, rs, err, errlen);

    if (rc == 0) {
        /* the next line read must be line covered + 1 */
        fseeko(i, rs->offset, SEEK_SET);
    }

    fclose(i);
    fclose(o);
    fclose(r);

    return rc;
}


void
test_resume(void)
{
    char              err[512], *rejline;
    const char       *in;
    ngx_http_moa_buf_t  b;
    relabel_resume_t  rs;

    memset(&b, 0, sizeof(ngx_http_moa_buf_t));

    /* lines: 1 a, 2 bad, 3 blank, 4 b, 5 c, 6 blank, 7 d */

    in = REC("a") "\n{bad\n\n" REC("b") "\n" REC("c") "\n\n" REC("d") "\n";

    relabel_record_reject_build(&b, 2, "invalid JSON", 0, 0, "{bad", 4);
    rejline = strdup(b.data);

    ok(scan(in, "", "", &rs, err, sizeof(err)) == 0 && rs.covered == 0
       && rs.offset == 0, "resume: nothing done yet");

    ok(scan(in, OUTL("a"), "", &rs, err, sizeof(err)) == 0
       && rs.covered == 1 && rs.out_rows == 1
       && rs.offset == (off_t) strlen(REC("a")) + 1,
       "resume: one row done");

    ok(scan(in, OUTL("a"), rejline, &rs, err, sizeof(err)) == 0
       && rs.covered == 2 && rs.reject_rows == 1 && rs.blank_rows == 0,
       "resume: a reject extends the prefix; blank line 3 not yet counted");

    ok(scan(in, OUTL("a") OUTL("b"), rejline, &rs, err, sizeof(err)) == 0
       && rs.covered == 4 && rs.blank_rows == 1 && rs.out_rows == 2
       && rs.offset == (off_t) (strlen(REC("a")) + 6 + 1
                                + strlen(REC("b")) + 1),
       "resume: through a blank line");

    ok(scan(in, OUTL("a") OUTL("b") OUTL("c") OUTL("d"), rejline, &rs, err,
            sizeof(err)) == 0
       && rs.covered == 7 && rs.out_rows == 4 && rs.blank_rows == 2
       && rs.offset == (off_t) strlen(in), "resume: all done");

    ok(scan(in, OUTL("a") OUTL("b"), "", &rs, err, sizeof(err)) != 0
       && strstr(err, "OUT row 2 does not match line 2"),
       "resume: rejects file missing is detected (%s)", err);

    ok(scan(in, OUTL("a") OUTL("c"), rejline, &rs, err, sizeof(err)) != 0
       && strstr(err, "OUT row 2 does not match line 4"),
       "resume: a different IN is detected");

    ok(scan(in, OUTL("a") OUTL("b") OUTL("c") OUTL("d") OUTL("e"), rejline,
            &rs, err, sizeof(err)) != 0
       && strstr(err, "more rows"), "resume: OUT longer than IN");

    ok(scan(in, "", rejline, &rs, err, sizeof(err)) != 0
       && strstr(err, "lists line 2"),
       "resume: a reject after a gap is an error");

    relabel_record_reject_build(&b, 2, "invalid JSON", 0, 0, "{bad", 4);
    ngx_http_moa_buf_cstr(&b, "{\"line\":3,\"error\":\"x\",\"record\":\"\"}\n");
    ngx_http_moa_buf_cstring(&b);
    ok(scan(in, OUTL("a"), b.data, &rs, err, sizeof(err)) != 0
       && strstr(err, "blank"), "resume: a reject for a blank line");

    relabel_record_reject_build(&b, 2, "x", 0, 0, "{other", 6);
    ok(scan(in, OUTL("a"), b.data, &rs, err, sizeof(err)) != 0
       && strstr(err, "does not hold that line"),
       "resume: a reject holding another record");

    ok(scan(in, OUTL("a"), "garbage\n", &rs, err, sizeof(err)) != 0
       && strstr(err, "not a moa-relabel reject"),
       "resume: a rejects file that is not ours");

    relabel_record_reject_build(&b, 2, "invalid JSON", 0, 0, "{bad", 4);
    ngx_http_moa_buf_cstr(&b, rejline);
    ngx_http_moa_buf_cstring(&b);
    ok(scan(in, OUTL("a"), b.data, &rs, err, sizeof(err)) != 0
       && strstr(err, "not in input order"),
       "resume: rejects out of order");

    free(rejline);
    ngx_http_moa_buf_free(&b);
}
