
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of moa-relabel --batch's pure parts (relabel_batch_state.c,
 * relabel_batch_files.c, relabel_price.c, the recipes of
 * relabel_batch_recipe.c and relabel_batch_cands.c); prints TAP.
 */


#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relabel.h"
#include "relabel_batch.h"
#include "relabel_batch_recipe.h"


static int  test_n;
static int  test_failed;


static void
ok(int cond, const char *fmt, ...)
{
    va_list  ap;

    test_n++;
    test_failed += !cond;

    printf("%sok %d - ", cond ? "" : "not ", test_n);

    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);

    printf("\n");
}


static void
is_str(const char *got, const char *want, const char *name)
{
    int  same;

    same = got != NULL && want != NULL ? strcmp(got, want) == 0
                                       : got == want;

    ok(same, "%s", name);

    if (!same) {
        printf("#   got:  %s\n#   want: %s\n", got ? got : "(null)",
               want ? want : "(null)");
    }
}


static void
test_state(void)
{
    char                   err[256];
    size_t                 torn;
    ngx_http_moa_buf_t     b;
    relabel_batch_state_t  st, back;
    relabel_batch_part_t  *p;

    memset(&b, 0, sizeof(ngx_http_moa_buf_t));
    memset(&st, 0, sizeof(relabel_batch_state_t));
    memset(&back, 0, sizeof(relabel_batch_state_t));

    st.run = "mr0000abcd";
    st.recipe = "0123456789abcdef";
    st.first = 3;
    st.last = 300;

    ok(relabel_batch_state_header(&b, &st) == 0
       && relabel_batch_state_record(&b, "s1.r0.p0", "plan", NULL, 1, 0, 250)
          == 0
       && relabel_batch_state_record(&b, "s1.r0.p0", "uploading", NULL, 0, 0,
                                     0) == 0
       && relabel_batch_state_record(&b, "s1.r0.p0", "file", "file-abc", 0,
                                     0, 0) == 0
       && relabel_batch_state_record(&b, "s2.r1.p3", "plan", NULL, 2, 1, 7)
          == 0
       && relabel_batch_state_record(&b, "s1.r0.p0", "creating", NULL, 0, 0,
                                     0) == 0
       && relabel_batch_state_record(&b, "s1.r0.p0", "batch", "batch_x", 0,
                                     0, 0) == 0
       && relabel_batch_state_record(&b, "s1.r0.p0", "status",
                                     "expired file-o -", 0, 0, 0) == 0
       && relabel_batch_state_record(&b, "s1.r0.p0", "downloaded", NULL, 0,
                                     0, 0) == 0
       && relabel_batch_state_record(&b, "s2.r1.p3", "cancel", NULL, 0, 0, 0)
          == 0,
       "state: a header and records written");

    ok(b.len && b.data[b.len - 1] == '\n'
       && memchr(b.data, '\n', b.len) != b.data + b.len - 1,
       "state: one record a line");

    ok(relabel_batch_state_parse(&back, b.data, b.len, &torn, err,
                                 sizeof(err)) == 0 && torn == 0,
       "state: read back");
    is_str(back.run, "mr0000abcd", "state: the run's id");
    is_str(back.recipe, "0123456789abcdef", "state: the recipe's digest");
    ok(back.first == 3 && back.last == 300, "state: the lines of the run");
    ok(back.nparts == 2, "state: two parts");

    p = relabel_batch_state_part(&back, "s1.r0.p0");
    ok(p && p->stage == 1 && p->round == 0 && p->lines == 250
       && p->uploading && p->creating && p->downloaded && !p->cancel_sent,
       "state: part 1's plan and flags");
    is_str(p ? p->file : NULL, "file-abc", "state: part 1's file id");
    is_str(p ? p->batch : NULL, "batch_x", "state: part 1's batch id");
    is_str(p ? p->status : NULL, "expired", "state: part 1's status");
    is_str(p ? p->output : NULL, "file-o", "state: part 1's output file");
    ok(p && p->error == NULL, "state: no error file ('-')");

    p = relabel_batch_state_part(&back, "s2.r1.p3");
    ok(p && p->stage == 2 && p->round == 1 && p->lines == 7 && p->cancel_sent
       && p->file == NULL && p->batch == NULL,
       "state: part 2, planned and cancelled");

    relabel_batch_state_free(&back);

    /* a kill in the middle of a record's write */

    ok(relabel_batch_state_parse(&back, b.data, b.len - 5, &torn, err,
                                 sizeof(err)) == 0 && torn > 0,
       "state: a torn last line is left out and reported");
    p = relabel_batch_state_part(&back, "s2.r1.p3");
    ok(p && !p->cancel_sent, "state: ... its record not applied");
    relabel_batch_state_free(&back);

    ok(relabel_batch_state_parse(&back, "{\"part\":\"s1.r0.p0\",\"stage\":1}\n",
                                 30, &torn, err, sizeof(err)) != 0,
       "state: a record before the header is refused");
    relabel_batch_state_free(&back);

    ngx_http_moa_buf_free(&b);
    memset(&b, 0, sizeof(ngx_http_moa_buf_t));
    relabel_batch_state_header(&b, &st);
    ngx_http_moa_buf_lit(&b, "{\"part\":\"s1.r0.p9\",\"file\":\"f\"}\n");

    ok(relabel_batch_state_parse(&back, b.data, b.len, &torn, err,
                                 sizeof(err)) != 0
       && strstr(err, "before its plan") != NULL,
       "state: a step of a part never planned is refused");
    relabel_batch_state_free(&back);

    ngx_http_moa_buf_free(&b);
    memset(&b, 0, sizeof(ngx_http_moa_buf_t));
    relabel_batch_state_header(&b, &st);
    ngx_http_moa_buf_lit(&b, "{\"part\":\"../s1.r0.p0\",\"stage\":1}\n");

    ok(relabel_batch_state_parse(&back, b.data, b.len, &torn, err,
                                 sizeof(err)) != 0
       && strstr(err, "bad part name") != NULL,
       "state: a part name that is not ours is refused (it names files)");
    relabel_batch_state_free(&back);

    ngx_http_moa_buf_free(&b);
    memset(&b, 0, sizeof(ngx_http_moa_buf_t));
    relabel_batch_state_header(&b, &st);
    ngx_http_moa_buf_lit(&b, "not json\n");

    ok(relabel_batch_state_parse(&back, b.data, b.len, &torn, err,
                                 sizeof(err)) != 0,
       "state: a record that is not JSON is refused");
    relabel_batch_state_free(&back);

    ok(relabel_batch_state_parse(&back, "", 0, &torn, err, sizeof(err)) == 0
       && back.run == NULL, "state: an empty file is a new run");
    relabel_batch_state_free(&back);

    ngx_http_moa_buf_free(&b);
}


static void
test_custom_id(void)
{
    int            stage, call, i;
    char           id[64];
    unsigned long  line;

    static const struct {
        unsigned long  line;
        int            stage;
        int            call;
        const char    *id;
    } good[] = {
        { 1, RELABEL_BATCH_PROPOSAL, 0, "l1-p0" },
        { 17, RELABEL_BATCH_PROPOSAL, 12, "l17-p12" },
        { 50000, RELABEL_BATCH_CRITIQUE, 0, "l50000-c" },
        { 3, RELABEL_BATCH_SYNTHESIS, 0, "l3-s" },
        { 4, RELABEL_BATCH_SELECT, 0, "l4-j" },
        { 9, RELABEL_BATCH_LAYER(2), 0, "l9-L2-p0" },
        { 12, RELABEL_BATCH_LAYER(8), 63, "l12-L8-p63" }
    };

    static const char  *bad[] = {
        "l0-p1", "l5-p01", "l5-x", "l5-p64", "x5-c", "l5-p", "l5-c2",
        "l5", "l-s", "l05-s", "", "l5-L1-p0", "l5-L9-p0", "l5-L2p0",
        "l5-L2-", "l5-L2-c", "l5-j1", "l5-L-p0", "l5-L22-p0"
    };

    for (i = 0; i < (int) (sizeof(good) / sizeof(good[0])); i++) {
        relabel_batch_files_custom_id(id, sizeof(id), good[i].line,
                                      good[i].stage, good[i].call);
        is_str(id, good[i].id, "custom_id: written");

        ok(relabel_batch_files_custom_id_parse(good[i].id, &line, &stage,
                                               &call) == 0
           && line == good[i].line && stage == good[i].stage
           && call == good[i].call, "custom_id: %s read back", good[i].id);
    }

    for (i = 0; i < (int) (sizeof(bad) / sizeof(bad[0])); i++) {
        ok(relabel_batch_files_custom_id_parse(bad[i], &line, &stage, &call)
           != 0, "custom_id: \"%s\" is not one of ours", bad[i]);
    }

    ok(relabel_batch_stage_layer(RELABEL_BATCH_PROPOSAL) == 1
       && relabel_batch_stage_layer(RELABEL_BATCH_LAYER(2)) == 2
       && relabel_batch_stage_layer(RELABEL_BATCH_LAYER(8)) == 8
       && relabel_batch_stage_layer(RELABEL_BATCH_CRITIQUE) == 0
       && relabel_batch_stage_layer(RELABEL_BATCH_SELECT) == 0
       && relabel_batch_stage_layer(RELABEL_BATCH_SYNTHESIS) == 0
       && relabel_batch_stage_layer(17) == 0,
       "stages: the layer of each");
}


/* the recipe options of the tests: the directives' defaults */
static const relabel_batch_conf_t  test_bc = {
    .proposers = 3, .proposer_temperature = "1.0", .critique = 1,
    .critique_temperature = "0.2", .min_proposals = 1,
    .unknown_params = "pass", .fallback = "error", .layers = 1,
    .aggregate = "synthesize", .select_format = "json_schema",
    .select_json_schema = 1
};


/* a reply of one choice of content text (a JSON string's inside) */
static int
test_reply(ngx_http_moa_reply_t *rep, char *buf, size_t size,
    const char *text)
{
    ngx_http_moa_error_t  e;

    snprintf(buf, size, "{\"choices\":[{\"index\":0,\"message\":"
             "{\"role\":\"assistant\",\"content\":\"%s\"},"
             "\"finish_reason\":\"stop\"}]}", text);

    return ngx_http_moa_reply_parse(rep, buf, strlen(buf), &e);
}


static void
test_cands(void)
{
    int                      i, call, choice, n, fc, fch;
    char                     err[256], buf[4][256];
    ngx_http_moa_buf_t       text;
    ngx_http_moa_reply_t     reps[4];
    relabel_batch_conf_t     bc;
    relabel_batch_recipe_t   rc;

    bc = test_bc;
    memset(reps, 0, sizeof(reps));
    memset(&text, 0, sizeof(ngx_http_moa_buf_t));
    bc.proposers = 4;

    ok(relabel_batch_recipe_init(&rc, &bc, "gpt-4o", NULL, 0, err,
                                 sizeof(err)) == 0, "cands: a recipe");

    /* call 1 failed (no reply): the candidates are calls 0, 2, 3 */
    ok(test_reply(&reps[0], buf[0], sizeof(buf[0]), "Paris.") == 0
       && test_reply(&reps[2], buf[2], sizeof(buf[2]), " Paris.\\n") == 0
       && test_reply(&reps[3], buf[3], sizeof(buf[3]), "Paris.") == 0,
       "cands: three replies");

    ok(relabel_batch_cands_agree(&rc, reps, 4) == 1,
       "cands: the same text once white space is normalised agrees");
    ok(relabel_batch_cands_agree(&rc, reps, 1) == 0,
       "cands: one candidate is no agreement");

    ok(relabel_batch_cands_pick(&rc, reps, 4, 1, &call, &choice) == 0
       && call == 2 && choice == 0, "cands: candidate 2 is call 2");
    ok(relabel_batch_cands_pick(&rc, reps, 4, 3, &call, &choice) != 0,
       "cands: there is no candidate 4");

    ok(relabel_batch_cands_text(&rc, reps, 4, &text, &n, &fc, &fch) == 0
       && n == 3 && fc == 0 && fch == 0
       && strstr(text.data, "<candidate number=\\\"3\\\">") != NULL,
       "cands: three rendered, the first the fallback");

    ngx_http_moa_reply_free(&reps[3]);
    memset(&reps[3], 0, sizeof(ngx_http_moa_reply_t));
    ok(test_reply(&reps[3], buf[3], sizeof(buf[3]), "Lyon.") == 0
       && relabel_batch_cands_agree(&rc, reps, 4) == 0,
       "cands: one that differs: no agreement");

    for (i = 0; i < 4; i++) {
        if (reps[i].p) {
            ngx_http_moa_reply_free(&reps[i]);
        }
    }

    ngx_http_moa_buf_free(&text);
    relabel_batch_recipe_free(&rc);
}


/* the body of one call as text */
static char *
test_body(relabel_batch_recipe_t *rc, relabel_batch_request_t *r, int stage)
{
    ngx_http_moa_buf_t  out, cands;

    memset(&out, 0, sizeof(ngx_http_moa_buf_t));
    memset(&cands, 0, sizeof(ngx_http_moa_buf_t));
    ngx_http_moa_buf_lit(&cands, "CANDS");

    if ((stage == RELABEL_BATCH_PROPOSAL
         ? relabel_batch_recipe_proposal(rc, r, 1, &out)
         : stage == RELABEL_BATCH_SELECT
         ? relabel_batch_recipe_select(rc, r, &cands, 2, &out)
         : relabel_batch_recipe_layer(rc, r, 1, &cands, 2, &out)) != 0
        || ngx_http_moa_buf_cstring(&out) == NULL)
    {
        ngx_http_moa_buf_free(&out);
        out.data = NULL;
    }

    ngx_http_moa_buf_free(&cands);

    return out.data;
}


static void
test_recipes(void)
{
    char                     err[512], *body;
    const char              *row;
    relabel_batch_conf_t     bc;
    relabel_batch_recipe_t   rc;
    relabel_batch_request_t  r;

    static relabel_param_t   n2[] = { { "n", "2" } };
    static relabel_param_t   limits[] = { { "max_tokens", "100" },
                                          { "seed", "5" } };
    static relabel_param_t   schema[] = {
        { "response_format", "{\"type\":\"json_schema\",\"json_schema\":"
                             "{\"name\":\"a\",\"schema\":{\"type\":"
                             "\"object\"}}}" }
    };

    bc = test_bc;

    bc.aggregate = "choose";
    ok(relabel_batch_recipe_init(&rc, &bc, "gpt-4o", NULL, 0, err,
                                 sizeof(err)) != 0
       && strstr(err, "--aggregate") != NULL, "recipe: a bad --aggregate");

    bc.aggregate = "select";
    bc.select_format = "yaml";
    ok(relabel_batch_recipe_init(&rc, &bc, "gpt-4o", NULL, 0, err,
                                 sizeof(err)) != 0
       && strstr(err, "--select-format") != NULL,
       "recipe: a bad --select-format");

    bc.select_format = "json_object";
    bc.layers = 2;
    bc.agreement = 1;
    bc.reasoning = 1;
    ok(relabel_batch_recipe_init(&rc, &bc, "o3-mini", NULL, 0, err,
                                 sizeof(err)) == 0
       && rc.recipe.layers == 2 && rc.recipe.agreement == 1
       && rc.recipe.aggregate == NGX_HTTP_MOA_AGGREGATE_SELECT,
       "recipe: two layers, select, agreement");

    /* the request's members besides the messages are --param's */
    row = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    rc.params = n2;
    rc.nparams = 1;
    ok(relabel_batch_recipe_request(&rc, row, strlen(row), &r, err,
                                    sizeof(err)) == 0
       && !r.select && !r.agreement && r.budget == 0,
       "recipe: n answers are synthesized, without agreement");
    relabel_batch_recipe_request_free(&r);

    rc.params = limits;
    rc.nparams = 2;
    ok(relabel_batch_recipe_request(&rc, row, strlen(row), &r, err,
                                    sizeof(err)) == 0
       && r.select && r.agreement, "recipe: a row selects, agreement on");

    body = test_body(&rc, &r, RELABEL_BATCH_PROPOSAL);
    ok(body && strstr(body, "\"temperature\"") == NULL
       && strstr(body, "\"max_tokens\"") == NULL
       && strstr(body, "\"max_completion_tokens\":100") != NULL
       && strstr(body, "\"seed\":6") != NULL,
       "recipe: a reasoning model's proposal: no temperature, "
       "max_completion_tokens, its own seed");
    free(body);

    body = test_body(&rc, &r, RELABEL_BATCH_LAYER(2));
    ok(body && strstr(body, "[{\"role\":\"system\",\"content\":"
                            "\"You have been provided with 2 responses")
       && strstr(body, "CANDS") != NULL,
       "recipe: a layer-2 proposal: the layer prompt and the candidates");
    free(body);

    body = test_body(&rc, &r, RELABEL_BATCH_SELECT);
    ok(body && strstr(body, "\"response_format\":{\"type\":"
                            "\"json_object\"}") != NULL
       && strstr(body, "\"temperature\"") == NULL,
       "recipe: the judge: json_object, no temperature (reasoning)");
    free(body);
    relabel_batch_recipe_request_free(&r);
    relabel_batch_recipe_free(&rc);

    /* json_schema selects; --max-total-tokens cuts or refuses */
    bc = test_bc;
    bc.max_total_tokens = 100000;
    ok(relabel_batch_recipe_init(&rc, &bc, "gpt-4o", NULL, 0, err,
                                 sizeof(err)) == 0, "recipe: a token cap");

    rc.params = schema;
    rc.nparams = 1;
    ok(relabel_batch_recipe_request(&rc, row, strlen(row), &r, err,
                                    sizeof(err)) == 0
       && r.select && r.budget > 0 && r.budget < 100000,
       "recipe: a json_schema answer is selected, within a budget");

    body = test_body(&rc, &r, RELABEL_BATCH_PROPOSAL);
    snprintf(err, sizeof(err), "\"max_tokens\":%lld", r.budget);
    ok(body && strstr(body, err) != NULL,
       "recipe: the proposal's limit is the budget");
    free(body);
    relabel_batch_recipe_request_free(&r);
    relabel_batch_recipe_free(&rc);

    bc.max_total_tokens = 50;
    ok(relabel_batch_recipe_init(&rc, &bc, "gpt-4o", schema, 1, err,
                                 sizeof(err)) == 0
       && relabel_batch_recipe_request(&rc, row, strlen(row), &r, err,
                                       sizeof(err)) != 0
       && strncmp(err, "HTTP 400: The request cannot be answered within "
                  "moa_max_total_tokens", 63) == 0,
       "recipe: a row over the cap is the module's 400");
    relabel_batch_recipe_request_free(&r);
    relabel_batch_recipe_free(&rc);
}


static void
test_lines(void)
{
    const char              *l;
    ngx_http_moa_buf_t       b;
    relabel_batch_result_t   r;

    memset(&b, 0, sizeof(ngx_http_moa_buf_t));

    ok(relabel_batch_files_request(&b, "l2-p1", "{\"model\": \"m\"}", 14)
       == 0, "request line: built");
    ok(ngx_http_moa_buf_cstring(&b) != NULL, "request line: a string");
    is_str(b.data, "{\"custom_id\":\"l2-p1\",\"method\":\"POST\",\"url\":"
           "\"/v1/chat/completions\",\"body\":{\"model\": \"m\"}}\n",
           "request line: the body byte for byte");
    ngx_http_moa_buf_free(&b);
    memset(&b, 0, sizeof(ngx_http_moa_buf_t));

    ok(relabel_batch_files_request(&b, "l2-p1", "{\n}", 3) != 0,
       "request line: a body with a newline is refused");
    ok(relabel_batch_files_request(&b, "l2\"", "{}", 2) != 0,
       "request line: a custom_id that would need escapes is refused");
    ngx_http_moa_buf_free(&b);

    l = "{\"id\":\"batch_req_1\",\"custom_id\":\"l9-s\",\"response\":"
        "{\"status_code\":200,\"request_id\":\"r\",\"body\":{\"a\": [1,"
        "\"\\u00e9\"]}},\"error\":null}";
    ok(relabel_batch_files_result(l, strlen(l), &r) == 0,
       "result: an output line");
    is_str(r.custom_id, "l9-s", "result: its custom_id");
    ok(r.status == 200 && r.body && r.body_len == 19
       && memcmp(r.body, "{\"a\": [1,\"\\u00e9\"]}", 19) == 0
       && r.error[0] == '\0',
       "result: the body's raw bytes, as the provider wrote them");

    l = "{\"custom_id\":\"l9-p0\",\"response\":{\"status_code\":500,\"body\":"
        "{\"error\":{\"message\":\"boom\"}}},\"error\":null}";
    ok(relabel_batch_files_result(l, strlen(l), &r) == 0 && r.status == 500
       && r.body == NULL && r.retryable && !r.not_run,
       "result: a 500 is retried");
    is_str(r.error, "HTTP 500: boom", "result: ... with its message");

    l = "{\"custom_id\":\"l9-p0\",\"response\":{\"status_code\":429,\"body\":"
        "{}},\"error\":null}";
    ok(relabel_batch_files_result(l, strlen(l), &r) == 0 && r.retryable,
       "result: a 429 is retried");

    l = "{\"custom_id\":\"l9-p0\",\"response\":{\"status_code\":400,\"body\":"
        "{\"error\":{\"message\":\"bad\"}}},\"error\":null}";
    ok(relabel_batch_files_result(l, strlen(l), &r) == 0 && !r.retryable
       && !r.not_run, "result: a 400 is not retried");

    l = "{\"custom_id\":\"l9-c\",\"response\":null,\"error\":{\"code\":"
        "\"batch_expired\",\"message\":\"too late\"}}";
    ok(relabel_batch_files_result(l, strlen(l), &r) == 0 && r.not_run
       && r.status == 0, "result: an expired request never ran");
    is_str(r.error, "batch_expired: too late", "result: ... and says so");

    l = "{\"custom_id\":\"l9-c\",\"response\":null,\"error\":{\"code\":"
        "\"batch_cancelled\"}}";
    ok(relabel_batch_files_result(l, strlen(l), &r) == 0 && r.not_run,
       "result: a cancelled request never ran");

    l = "{\"custom_id\":\"l9-c\",\"response\":null,\"error\":{\"code\":"
        "\"server_error\",\"message\":\"x\"}}";
    ok(relabel_batch_files_result(l, strlen(l), &r) == 0 && r.retryable
       && !r.not_run, "result: an error without a response is retried");

    l = "{\"custom_id\":\"l9-c\",\"response\":{\"status_code\":200,\"body\":"
        "{}},\"error\":{\"code\":\"x\"}}";
    ok(relabel_batch_files_result(l, strlen(l), &r) == 0 && r.body == NULL,
       "result: a 200 with an error is no answer");

    ok(relabel_batch_files_result("nope", 4, &r) != 0,
       "result: not JSON");
    l = "{\"response\":{\"status_code\":200,\"body\":{}}}";
    ok(relabel_batch_files_result(l, strlen(l), &r) != 0,
       "result: without a custom_id");

    ok(relabel_batch_files_digest(14695981039346656037ULL, "a", 1)
       == 0xaf63dc4c8601ec8cULL, "digest: FNV-1a of \"a\"");
    ok(relabel_batch_files_digest(14695981039346656037ULL, "ab", 2)
       != relabel_batch_files_digest(14695981039346656037ULL, "ba", 2),
       "digest: order matters");
}


static void
test_price(void)
{
    int                     i;
    char                   *m;
    relabel_price_t         p, user[2];
    const relabel_price_t  *f;

    static const char  *bad[] = {
        "gpt-x", "=1/2", "m=1", "m=1/x", "m=-1/2", "m=1/2/3", "m=1/2/3/4/5",
        "m=1/2x", "m=/2"
    };

    ok(relabel_price_parse("my-model=2.5/10", &p, &m) == 0 && m
       && strcmp(p.model, "my-model") == 0 && p.in == 2.5 && p.out == 10
       && p.batch_in == 1.25 && p.batch_out == 5,
       "price: MODEL=IN/OUT, batch at half");
    free(m);

    ok(relabel_price_parse("x=3/12/2/8", &p, &m) == 0 && p.in == 3
       && p.out == 12 && p.batch_in == 2 && p.batch_out == 8,
       "price: MODEL=IN/OUT/BATCH_IN/BATCH_OUT");
    free(m);

    for (i = 0; i < (int) (sizeof(bad) / sizeof(bad[0])); i++) {
        ok(relabel_price_parse(bad[i], &p, &m) != 0 && m == NULL,
           "price: \"%s\" refused", bad[i]);
    }

    f = relabel_price_find(NULL, 0, "gpt-4o");
    ok(f && f->in == 2.5 && f->out == 10 && f->batch_in == 1.25,
       "price: gpt-4o from the table");
    f = relabel_price_find(NULL, 0, "gpt-4o-2024-08-06");
    ok(f && strcmp(f->model, "gpt-4o") == 0, "price: a dated snapshot");
    f = relabel_price_find(NULL, 0, "gpt-4o-mini");
    ok(f && f->in == 0.15, "price: gpt-4o-mini is not gpt-4o");
    ok(relabel_price_find(NULL, 0, "llama-3") == NULL,
       "price: an unknown model");

    relabel_price_parse("gpt-4o=1/2", &user[0], &m);
    relabel_price_parse("gpt-4o=3/4", &user[1], &m);
    f = relabel_price_find(user, 2, "gpt-4o");
    ok(f == &user[1], "price: the last --price of a model wins");
    free((char *) user[0].model);
    free((char *) user[1].model);

    ok(fabs(relabel_price_cost(1000000, 500000, 2.5, 10) - 7.5) < 1e-9,
       "cost: 1M prompt at $2.5 + 0.5M completion at $10 = $7.5");
    ok(fabs(relabel_price_cost(1000000, 500000, 1.25, 5) - 3.75) < 1e-9,
       "cost: the same at batch prices, $3.75");
    ok(relabel_price_cost(0, 0, 2.5, 10) == 0, "cost: no tokens, $0");
}


int
main(void)
{
    test_state();
    test_custom_id();
    test_cands();
    test_recipes();
    test_lines();
    test_price();

    printf("1..%d\n", test_n);

    return test_failed ? 1 : 0;
}
