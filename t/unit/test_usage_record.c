
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of the usage record (ngx_http_moa_usage.h): the first
 * members of the sum are the record's own nodes, the others cJSON's, and
 * usage_free() gives back exactly what was taken (the binary runs under
 * AddressSanitizer: a leak or a free of a node of the record fails it).
 */


#include <stdint.h>

#include "util.h"
#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_reply.h"
#include "ngx_http_moa_usage.h"


/* OpenAI's full usage: three counts, two details objects, six counts */
#define FULL                                                                  \
    "{\"prompt_tokens\":10,\"completion_tokens\":5,\"total_tokens\":15,"       \
    "\"prompt_tokens_details\":{\"cached_tokens\":2,\"audio_tokens\":0},"     \
    "\"completion_tokens_details\":{\"reasoning_tokens\":1,"                  \
    "\"audio_tokens\":0,\"accepted_prediction_tokens\":3,"                    \
    "\"rejected_prediction_tokens\":4}}"


/*
 * A reply of one choice with this usage, parsed into rep from text (its
 * tokens point into it: freed after rep)
 */
static void
reply_with(ngx_http_moa_reply_t *rep, ngx_http_moa_buf_t *text,
    const char *usage)
{
    ngx_http_moa_error_t  err;

    memset(text, 0, sizeof(ngx_http_moa_buf_t));
    ngx_http_moa_buf_cstr(text, "{\"choices\":[{\"message\":{\"content\":"
                                 "\"x\"}}],\"usage\":");
    ngx_http_moa_buf_cstr(text, usage);
    ngx_http_moa_buf_cstr(text, "}");

    if (text->nomem
        || ngx_http_moa_reply_parse(rep, text->data, text->len, &err) != 0)
    {
        abort();
    }
}


static void
reply_done(ngx_http_moa_reply_t *rep, ngx_http_moa_buf_t *text)
{
    ngx_http_moa_reply_free(rep);
    ngx_http_moa_buf_free(text);
}


/* how many members of the tree under a are the record's own nodes */
static int
own_nodes(const ngx_http_moa_usage_t *u, const cJSON *a, int *all)
{
    int  n;

    n = 0;

    for ( /* void */ ; a; a = a->next) {
        (*all)++;

        if ((uintptr_t) a >= (uintptr_t) u->node
            && (uintptr_t) a < (uintptr_t) (u->node + NGX_HTTP_MOA_USAGE_NODES))
        {
            n++;
        }

        n += own_nodes(u, a->child, all);
    }

    return n;
}


static char *
printed(const ngx_http_moa_usage_t *u)
{
    char                *s;
    ngx_http_moa_buf_t   out;

    memset(&out, 0, sizeof(out));
    ngx_http_moa_usage_print(&out, &u->root);
    ngx_http_moa_buf_add(&out, "", 1);

    s = strdup(out.nomem ? "" : out.data);
    ngx_http_moa_buf_free(&out);

    return s;
}


static void
test_record_full(void)
{
    int                    all, own;
    char                  *s;
    ngx_http_moa_buf_t     text;
    ngx_http_moa_usage_t   u;
    ngx_http_moa_reply_t   rep;

    reply_with(&rep, &text, FULL);

    ngx_http_moa_usage_record_init(&u);

    ok(ngx_http_moa_usage_add_reply(&u, &rep) == 0
       && ngx_http_moa_usage_add_reply(&u, &rep) == 0,
       "full usage summed twice");

    all = 0;
    own = own_nodes(&u, u.root.child, &all);
    is_int(all, 11, "full usage: eleven members");
    is_int(own, 11, "full usage: every member a node of the record");
    is_int(u.nodes, NGX_HTTP_MOA_USAGE_NODES, "full usage: nodes taken");

    s = printed(&u);
    is_str(s, "{\"prompt_tokens\":20,\"completion_tokens\":10,"
              "\"total_tokens\":30,\"prompt_tokens_details\":"
              "{\"cached_tokens\":4,\"audio_tokens\":0},"
              "\"completion_tokens_details\":{\"reasoning_tokens\":2,"
              "\"audio_tokens\":0,\"accepted_prediction_tokens\":6,"
              "\"rejected_prediction_tokens\":8}}",
           "full usage: summed");
    free(s);

    is_int(ngx_http_moa_usage_get(&u.root, "total_tokens"), 30,
           "full usage: usage_get reads the record's tree");

    ngx_http_moa_usage_record_free(&u);
    ok(u.root.child == NULL && u.nodes == 0, "usage_free empties it");

    /* the record again, as new */
    ok(ngx_http_moa_usage_add_reply(&u, &rep) == 0, "summed again");
    is_int(ngx_http_moa_usage_get(&u.root, "prompt_tokens"), 10,
           "after usage_free: the sum starts over");
    ngx_http_moa_usage_record_free(&u);

    reply_done(&rep, &text);
}


/* more members than nodes: the rest from cJSON, names copied or not */
static void
test_record_more(void)
{
    int                    all, own;
    char                  *s;
    cJSON                 *tree;
    ngx_http_moa_buf_t     text;
    ngx_http_moa_usage_t   u;
    ngx_http_moa_reply_t   rep;

    /* two names of no table (copied) take the first nodes */
    reply_with(&rep, &text, "{\"units_a\":1,\"units\\u005fb\":2}");

    ngx_http_moa_usage_record_init(&u);
    ok(ngx_http_moa_usage_add_reply(&u, &rep) == 0, "two other names");
    reply_done(&rep, &text);

    reply_with(&rep, &text, FULL);
    ok(ngx_http_moa_usage_add_reply(&u, &rep) == 0, "then the full usage");
    reply_done(&rep, &text);

    tree = cJSON_Parse("{\"prompt_tokens\":1,\"extra\":{\"deep_tokens\":7}}");
    ok(tree && ngx_http_moa_usage_add(&u, tree) == 0,
       "then a tree with an object of another name");
    cJSON_Delete(tree);

    all = 0;
    own = own_nodes(&u, u.root.child, &all);
    is_int(all, 15, "15 members");
    is_int(own, NGX_HTTP_MOA_USAGE_NODES, "the record's nodes all taken");
    is_int(u.nodes, NGX_HTTP_MOA_USAGE_NODES, "no node past the record's");

    s = printed(&u);
    is_str(s, "{\"prompt_tokens\":11,\"completion_tokens\":5,"
              "\"total_tokens\":16,\"units_a\":1,\"units_b\":2,"
              "\"prompt_tokens_details\":{\"cached_tokens\":2,"
              "\"audio_tokens\":0},\"completion_tokens_details\":"
              "{\"reasoning_tokens\":1,\"audio_tokens\":0,"
              "\"accepted_prediction_tokens\":3,"
              "\"rejected_prediction_tokens\":4},\"extra\":"
              "{\"deep_tokens\":7}}",
           "the record's and cJSON's members summed alike (the tree's "
           "call had no total: its prompt count is its total)");
    free(s);

    /* ASan: every copied name and every cJSON node freed, no node of ours */
    ngx_http_moa_usage_record_free(&u);
    ok(u.root.child == NULL, "freed");
}


/* a record of zeros (a context's, before its request had a body) */
static void
test_record_zeros(void)
{
    ngx_http_moa_usage_t  *u;

    u = calloc(1, sizeof(ngx_http_moa_usage_t));
    if (u == NULL) {
        abort();
    }

    ok(!ngx_http_moa_usage_reported(&u->root)
       && ngx_http_moa_usage_get(&u->root, "total_tokens") == 0,
       "a record of zeros reads as no usage");

    ngx_http_moa_usage_record_free(u);
    ok(u->root.child == NULL, "a record of zeros may be freed");

    free(u);
}


int
main(void)
{
    test_record_full();
    test_record_more();
    test_record_zeros();

    return done_testing();
}
