
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_sse.[ch]: the incremental SSE parser fed whole,
 * one byte at a time and in random splits, with LF, CRLF and CR lines.
 */


#include "tap.h"
#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_sse.h"


#define S(s)  s, sizeof(s) - 1


/* the events a feed produced, joined as "<event>|" */
typedef struct {
    ngx_http_moa_buf_t   out;
    int                  count;
    int                  stop_at;      /* return 7 at this event (1-based) */
    int                  null_data;    /* events passed as (NULL, 0) */
} events_t;


static int
on_event(void *data, const char *event, size_t len)
{
    events_t  *ev = data;

    ev->count++;

    if (event == NULL) {
        ev->null_data++;
    }

    ngx_http_moa_buf_add(&ev->out, event, len);
    ngx_http_moa_buf_lit(&ev->out, "|");

    return (ev->stop_at && ev->count == ev->stop_at) ? 7 : 0;
}


static unsigned long  rnd_state = 12345;


static unsigned
rnd(unsigned n)
{
    rnd_state = rnd_state * 6364136223846793005ULL + 1442695040888963407ULL;

    return (unsigned) ((rnd_state >> 33) % n);
}


/*
 * Feeds text split as mode says (0 whole, 1 byte by byte, 2 random pieces)
 * and returns the feed's rc; *ev collects the events.
 */
static int
feed(const char *text, size_t len, int mode, size_t max, events_t *ev,
    int *pending)
{
    int                 rc;
    size_t              i, n;
    ngx_http_moa_sse_t  s;

    ev->out.len = 0;
    ev->count = 0;
    ev->null_data = 0;

    ngx_http_moa_sse_init(&s, max);

    rc = 0;

    for (i = 0; i < len && rc == 0; i += n) {
        n = (mode == 0) ? len : (mode == 1) ? 1 : 1 + rnd(7);

        if (n > len - i) {
            n = len - i;
        }

        /* also feed empty pieces: they change nothing */
        if (mode == 2 && rnd(4) == 0) {
            rc = ngx_http_moa_sse_feed(&s, text + i, 0, on_event, ev);
            if (rc != 0) {
                break;
            }
        }

        rc = ngx_http_moa_sse_feed(&s, text + i, n, on_event, ev);
    }

    if (pending) {
        *pending = ngx_http_moa_sse_pending(&s);
    }

    ngx_http_moa_sse_free(&s);

    return rc;
}


/* every way of feeding text gives the expected events, rc and pending */
static void
check(const char *name, const char *text, size_t len, size_t max,
    const char *expected, int expected_rc, int expected_pending)
{
    int        mode, round, rc, pending;
    events_t   ev;

    static const char  *modes[] = { "whole", "byte by byte", "random splits" };

    memset(&ev, 0, sizeof(events_t));

    for (mode = 0; mode < 3; mode++) {
        for (round = 0; round < (mode == 2 ? 20 : 1); round++) {
            rc = feed(text, len, mode, max, &ev, &pending);

            if (expected_pending < 0) {
                /* after an error what is pending depends on the splits */
                pending = -1;
            }

            if (round == 0 || rc != expected_rc || pending != expected_pending
                || ev.out.len != strlen(expected)
                || (ev.out.len
                    && memcmp(ev.out.data, expected, ev.out.len) != 0))
            {
                is_mem(ev.out.data ? ev.out.data : "", ev.out.len, expected,
                       "%s, %s: events", name, modes[mode]);
                is_int(rc, expected_rc, "%s, %s: rc", name, modes[mode]);
                is_int(pending, expected_pending, "%s, %s: pending", name,
                       modes[mode]);
            }
        }
    }

    ngx_http_moa_buf_free(&ev.out);
}


#define CHECK(name, text, max, expected, rc, pending)                        \
    check(name, text, sizeof(text) - 1, max, expected, rc, pending)


static void
test_lines(void)
{
    CHECK("LF", "data: {\"a\":1}\n\ndata: [DONE]\n\n", 1024,
          "{\"a\":1}|[DONE]|", 0, 0);
    CHECK("CRLF", "data: {\"a\":1}\r\n\r\ndata: [DONE]\r\n\r\n", 1024,
          "{\"a\":1}|[DONE]|", 0, 0);
    CHECK("CR", "data: {\"a\":1}\r\rdata: [DONE]\r\r", 1024,
          "{\"a\":1}|[DONE]|", 0, 0);
    CHECK("mixed line ends", "data: a\r\n\ndata: b\n\r\ndata: c\r\r\n"
          "data: d\n\r", 1024, "a|b|c|d|", 0, 0);
    CHECK("no space after the colon", "data:x\n\n", 1024, "x|", 0, 0);
    CHECK("only one space is removed", "data:  x \n\n", 1024, " x |", 0, 0);
    CHECK("multi-line data joined with LF",
          "data: line 1\ndata: line 2\r\ndata:line 3\rdata\n\n", 1024,
          "line 1\nline 2\nline 3\n|", 0, 0);
    CHECK("comments and other fields ignored",
          ": keep-alive\n: OPENROUTER PROCESSING\r\nevent: message\n"
          "id: 7\nretry: 1000\ndata: x\nfoo: bar\n\n", 1024, "x|", 0, 0);
    CHECK("only a comment dispatches nothing", ": ping\n\n: ping\r\n\r\n",
          1024, "", 0, 0);
    CHECK("empty lines without data dispatch nothing", "\n\n\r\n\r\r\n",
          1024, "", 0, 0);
    CHECK("event: before data", "event: completion\ndata: x\n\n", 1024,
          "x|", 0, 0);
    CHECK("a field named like data is not data",
          "dataX: no\ndatum: no\nDATA: no\n data: no\ndata: yes\n\n", 1024,
          "yes|", 0, 0);
    CHECK("'data' alone is an empty data line", "data\n\n", 1024, "|", 0, 0);
    CHECK("an empty data line is an empty event", "data:\n\n", 1024, "|", 0,
          0);
    CHECK("data: with only a space", "data: \n\n", 1024, "|", 0, 0);
    CHECK("colon inside the value kept", "data: a: b :c\n\n", 1024,
          "a: b :c|", 0, 0);
    CHECK("a line without its end is pending", "data: x\n\ndata: y", 1024,
          "x|", 0, 1);
    CHECK("data without the empty line is pending", "data: x\n\ndata: y\n",
          1024, "x|", 0, 1);
    CHECK("a comment without an end is pending", ": partial", 1024, "", 0,
          1);
    CHECK("nothing pending after a CR", "data: x\r\r", 1024, "x|", 0, 0);
    CHECK("CR then LF in the next piece is one line end",
          "data: a\r\ndata: b\r\n\r\n", 1024, "a\nb|", 0, 0);
    CHECK("ten events", "data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\n"
          "data: 4\n\ndata: 5\n\ndata: 6\n\ndata: 7\n\ndata: 8\n\n"
          "data: 9\n\n", 1024, "0|1|2|3|4|5|6|7|8|9|", 0, 0);
}


static void
test_limits(void)
{
    /* max bounds a line and an event's data */
    CHECK("a line of exactly max", "data: 12345678\n\n", 14, "12345678|", 0,
          0);
    CHECK("a line over max", "data: 123456789\n\n", 14, "",
          NGX_HTTP_MOA_SSE_TOO_BIG, -1);
    CHECK("a long comment is over max too", ": 123456789012345\n\n", 14, "",
          NGX_HTTP_MOA_SSE_TOO_BIG, -1);
    CHECK("data of exactly max", "data:1234\ndata:5678\n\n", 9,
          "1234\n5678|", 0, 0);
    CHECK("data over max, every line under it",
          "data:1234\ndata:5678\ndata:9\n\n", 10, "",
          NGX_HTTP_MOA_SSE_TOO_BIG, -1);
    CHECK("events before the big one are dispatched",
          "data: ok\n\ndata: 1234567890123\n\n", 12, "ok|",
          NGX_HTTP_MOA_SSE_TOO_BIG, -1);
    CHECK("data size is per event", "data: 12345\n\ndata: 12345\n\n", 11,
          "12345|12345|", 0, 0);
}


static void
test_handler_stop(void)
{
    int                 rc;
    events_t            ev;
    ngx_http_moa_sse_t  s;

    static const char   text[] = "data: 1\n\ndata: 2\n\ndata: 3\n\n";

    memset(&ev, 0, sizeof(events_t));
    ev.stop_at = 2;

    ngx_http_moa_sse_init(&s, 1024);
    rc = ngx_http_moa_sse_feed(&s, S(text), on_event, &ev);

    is_int(rc, 7, "the handler's non-zero value is returned");
    is_mem(ev.out.data, ev.out.len, "1|2|", "parsing stops at that event");

    ngx_http_moa_sse_free(&s);
    ngx_http_moa_buf_free(&ev.out);

    /* an empty data event: (NULL, 0) when nothing was ever buffered */
    memset(&ev, 0, sizeof(events_t));
    ngx_http_moa_sse_init(&s, 1024);
    rc = ngx_http_moa_sse_feed(&s, S("data:\n\n"), on_event, &ev);
    ok(rc == 0 && ev.count == 1, "an empty event is passed to the handler");
    ngx_http_moa_sse_free(&s);
    ngx_http_moa_buf_free(&ev.out);

    /* NUL bytes are data like any other */
    memset(&ev, 0, sizeof(events_t));
    ngx_http_moa_sse_init(&s, 1024);
    rc = ngx_http_moa_sse_feed(&s, S("data: a\0b\n\n"), on_event, &ev);
    ok(rc == 0 && ev.out.len == 4 && memcmp(ev.out.data, "a\0b|", 4) == 0,
       "NUL bytes are data");
    ngx_http_moa_sse_free(&s);
    ngx_http_moa_buf_free(&ev.out);

    /* nothing to feed: (NULL, 0) */
    ngx_http_moa_sse_init(&s, 1024);
    ok(ngx_http_moa_sse_feed(&s, NULL, 0, on_event, &ev) == 0
       && !ngx_http_moa_sse_pending(&s), "feeding (NULL, 0)");
    ngx_http_moa_sse_free(&s);

    /* init and free of an unused parser */
    ngx_http_moa_sse_init(&s, 0);
    ok(ngx_http_moa_sse_pending(&s) == 0, "nothing pending after init");
    ngx_http_moa_sse_free(&s);
    ngx_http_moa_sse_free(&s);
    ok(1, "free twice is harmless");
}


/* a realistic stream with tool-call deltas, split at every single byte */
static void
test_every_split(void)
{
    int                 bad;
    size_t              i, len;
    events_t            ev, whole;
    ngx_http_moa_sse_t  s;

    static const char   text[] =
        ": OPENROUTER PROCESSING\r\n\r\n"
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
        "\"assistant\",\"content\":\"\"}}]}\r\n\r\n"
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":"
        "{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":"
        "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]}}]}"
        "\n\n"
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":"
        "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
        "\"{\\\"a\\\"\"}}]}}]}\r\r"
        "event: x\nid: 1\nretry: 5\n"
        "data: [DONE]\n\n";

    len = sizeof(text) - 1;

    memset(&whole, 0, sizeof(events_t));
    ngx_http_moa_sse_init(&s, 4096);
    ok(ngx_http_moa_sse_feed(&s, text, len, on_event, &whole) == 0
       && whole.count == 4, "tool-call stream: 4 events");
    ngx_http_moa_sse_free(&s);

    bad = 0;

    for (i = 0; i <= len; i++) {
        memset(&ev, 0, sizeof(events_t));
        ngx_http_moa_sse_init(&s, 4096);

        if (ngx_http_moa_sse_feed(&s, text, i, on_event, &ev) != 0
            || ngx_http_moa_sse_feed(&s, text + i, len - i, on_event, &ev)
               != 0
            || ev.out.len != whole.out.len
            || (ev.out.len
                && memcmp(ev.out.data, whole.out.data, ev.out.len) != 0)
            || ngx_http_moa_sse_pending(&s))
        {
            bad++;
        }

        ngx_http_moa_sse_free(&s);
        ngx_http_moa_buf_free(&ev.out);
    }

    is_int(bad, 0, "split in two at each of %zu offsets: same events", len);

    ngx_http_moa_buf_free(&whole.out);
}


int
main(void)
{
    test_lines();
    test_limits();
    test_handler_stop();
    test_every_split();

    return done_testing();
}
