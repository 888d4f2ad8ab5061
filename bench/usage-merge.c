
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The usage merge of issue #20 item 5, timed: one proposal reply whose
 * usage has N other members (default 60,000) summed into a request's
 * usage from its tokens (the MoA path) and from a tree (streams and
 * passthrough), and the normal case: a request of five calls with
 * OpenAI's usage (counts and details), summed and printed.  Run by
 * bench/usage-merge.sh; no test asserts a time.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ngx_http_moa_usage.h"


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


/* a reply whose usage has n members "k<i>":1, then the three counts */
static void
reply_text(ngx_http_moa_buf_t *b, long n)
{
    long  i;

    ngx_http_moa_buf_lit(b, "{\"choices\":[{\"message\":{\"content\":\"x\"}}],"
                            "\"usage\":{");

    for (i = 0; i < n; i++) {
        ngx_http_moa_buf_lit(b, "\"k");
        ngx_http_moa_buf_int(b, i);
        ngx_http_moa_buf_lit(b, "\":1,");
    }

    ngx_http_moa_buf_lit(b, "\"prompt_tokens\":10,\"completion_tokens\":5,"
                            "\"total_tokens\":15}}");
}


int
main(int argc, char **argv)
{
    int                    i, r, calls;
    long                   n, reps;
    double                 t, best_tok, best_tree, per_req;
    cJSON                 *root;
    ngx_http_moa_buf_t     text, out;
    ngx_http_moa_usage_t   acc;
    ngx_http_moa_reply_t   rep, normal;
    ngx_http_moa_error_t   err;

    static const char  normal_text[] =
        "{\"choices\":[{\"message\":{\"content\":\"x\"}}],\"usage\":"
        "{\"prompt_tokens\":1234,\"completion_tokens\":567,"
        "\"total_tokens\":1801,\"prompt_tokens_details\":{\"cached_tokens\":"
        "1024,\"audio_tokens\":0},\"completion_tokens_details\":"
        "{\"reasoning_tokens\":128,\"audio_tokens\":0,"
        "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}}";

    n = argc > 1 ? atol(argv[1]) : 60000;
    reps = argc > 2 ? atol(argv[2]) : 200000;

    memset(&text, 0, sizeof(text));
    memset(&out, 0, sizeof(out));

    reply_text(&text, n);

    if (text.nomem
        || ngx_http_moa_reply_parse(&rep, text.data, text.len, &err) != 0)
    {
        fprintf(stderr, "usage-merge: the reply does not parse\n");
        return 1;
    }

    root = cJSON_ParseWithLength(text.data, text.len);
    if (root == NULL) {
        return 1;
    }

    /* the best of 5: the first run pays for page faults */

    best_tok = best_tree = 1e9;

    for (r = 0; r < 5; r++) {
        ngx_http_moa_usage_record_init(&acc);
        t = now();
        if (ngx_http_moa_usage_add_reply(&acc, &rep) < 0) {
            return 1;
        }
        t = now() - t;
        best_tok = t < best_tok ? t : best_tok;

        if (r == 0) {
            out.len = 0;
            ngx_http_moa_usage_print(&out, &acc.root);
        }

        ngx_http_moa_usage_record_free(&acc);

        ngx_http_moa_usage_record_init(&acc);
        t = now();
        if (ngx_http_moa_usage_add(&acc,
                cJSON_GetObjectItemCaseSensitive(root, "usage")) < 0)
        {
            return 1;
        }
        t = now() - t;
        best_tree = t < best_tree ? t : best_tree;
        ngx_http_moa_usage_record_free(&acc);
    }

    printf("usage of %ld members (%zu bytes of reply):\n", n, text.len);
    printf("  summed from tokens: %.3f ms\n", best_tok * 1e3);
    printf("  summed from a tree: %.3f ms\n", best_tree * 1e3);
    printf("  the answer's usage: %zu bytes\n", out.len);

    /* the normal case: five calls summed into one request's usage */

    if (ngx_http_moa_reply_parse(&normal, normal_text,
                                 sizeof(normal_text) - 1, &err) != 0)
    {
        return 1;
    }

    calls = 5;
    t = now();

    for (i = 0; i < reps; i++) {
        ngx_http_moa_usage_record_init(&acc);

        for (r = 0; r < calls; r++) {
            if (ngx_http_moa_usage_add_reply(&acc, &normal) < 0) {
                return 1;
            }
        }

        out.len = 0;
        ngx_http_moa_usage_print(&out, &acc.root);
        ngx_http_moa_usage_record_free(&acc);
    }

    per_req = (now() - t) / reps;

    printf("normal request (%d calls with OpenAI's usage, summed and "
           "printed): %.0f ns\n", calls, per_req * 1e9);

    ngx_http_moa_reply_free(&rep);
    ngx_http_moa_reply_free(&normal);
    cJSON_Delete(root);
    ngx_http_moa_buf_free(&text);
    ngx_http_moa_buf_free(&out);

    return 0;
}
