
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_recipe.[ch]: the client's "moa" member within
 * the operator's bounds (and the 400 naming the field otherwise), early
 * agreement (white space, refusals, tool calls with JSON-equal
 * arguments), the judge's {"best": k} read strictly and tolerantly, and
 * the token budget of moa_max_total_tokens.
 */


#include "util.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_error.h"
#include "ngx_http_moa_reply.h"
#include "ngx_http_moa_recipe.h"


static ngx_http_moa_recipe_t
base_recipe(void)
{
    ngx_http_moa_recipe_t  rc;

    memset(&rc, 0, sizeof(rc));

    rc.proposers = 3;
    rc.layers = 1;
    rc.critique = 1;
    rc.aggregate = NGX_HTTP_MOA_AGGREGATE_SYNTHESIZE;

    return rc;
}


/* the "moa" object text applied: 0, or -1 with err */
static int
override(const char *moa, ngx_http_moa_recipe_t *rc,
    ngx_http_moa_error_t *err)
{
    int                  r;
    ngx_http_moa_json_t  j;

    memset(&j, 0, sizeof(j));
    memset(err, 0, sizeof(*err));

    if (ngx_http_moa_json_parse(&j, moa, strlen(moa)) != 0) {
        return -2;
    }

    r = ngx_http_moa_recipe_override(rc, &j, 0, 5, 3, err);

    ngx_http_moa_json_free(&j);

    return r;
}


static void
bad(const char *moa, const char *code, const char *param, const char *what)
{
    ngx_http_moa_error_t   err;
    ngx_http_moa_recipe_t  rc;

    rc = base_recipe();

    ok(override(moa, &rc, &err) == -1 && err.status == 400
       && strcmp(err.type, "invalid_request_error") == 0,
       "%s: 400 invalid_request_error", what);
    is_str(err.code ? err.code : "(null)", code, "%s: code", what);
    is_str(err.param ? err.param : "(null)", param, "%s: param", what);
}


static void
test_override(void)
{
    ngx_http_moa_error_t   err;
    ngx_http_moa_recipe_t  rc;

    rc = base_recipe();

    ok(override("{\"proposers\":5,\"layers\":2,\"critique\":false,"
                "\"aggregate\":\"select\",\"proposal_timeout_ms\":2000,"
                "\"agreement\":true}", &rc, &err) == 0,
       "override: the issue's example accepted");
    is_int(rc.proposers, 5, "override: proposers");
    is_int(rc.layers, 2, "override: layers");
    is_int(rc.critique, 0, "override: critique");
    is_int(rc.aggregate, NGX_HTTP_MOA_AGGREGATE_SELECT, "override: select");
    is_int(rc.agreement, 1, "override: agreement");
    is_int(rc.proposal_timeout_ms, 2000, "override: proposal timeout");

    rc = base_recipe();

    ok(override("{}", &rc, &err) == 0 && rc.proposers == 3
       && rc.layers == 1 && rc.critique == 1
       && rc.aggregate == NGX_HTTP_MOA_AGGREGATE_SYNTHESIZE,
       "override: an empty object changes nothing");

    ok(override("{\"aggregate\":\"synthesize\",\"proposers\":1}", &rc, &err)
       == 0 && rc.proposers == 1
       && rc.aggregate == NGX_HTTP_MOA_AGGREGATE_SYNTHESIZE,
       "override: synthesize, one proposer");

    bad("{\"proposers\":6}", "integer_above_max_value", "moa.proposers",
        "proposers over moa_max_proposers");
    bad("{\"proposers\":0}", "integer_below_min_value", "moa.proposers",
        "no proposers");
    bad("{\"layers\":4}", "integer_above_max_value", "moa.layers",
        "layers over moa_max_layers");
    bad("{\"layers\":1.5}", "invalid_type", "moa.layers", "layers decimal");
    bad("{\"layers\":\"2\"}", "invalid_type", "moa.layers", "layers string");
    bad("{\"critique\":1}", "invalid_type", "moa.critique",
        "critique not a boolean");
    bad("{\"aggregate\":\"vote\"}", "invalid_value", "moa.aggregate",
        "an unknown aggregation");
    bad("{\"proposal_timeout_ms\":600001}", "integer_above_max_value",
        "moa.proposal_timeout_ms", "a timeout over ten minutes");
    bad("{\"proposers\":2,\"temperature\":1}", "unknown_parameter",
        "moa.temperature", "an unknown member");
    bad("[1]", "invalid_type", "moa", "moa not an object");

    rc = base_recipe();
    ok(override("{\"proposers\":2e0,\"proposal_timeout_ms\":1.5e3}", &rc,
                &err) == 0
       && rc.proposers == 2 && rc.proposal_timeout_ms == 1500,
       "override: integers in exponent form");

    rc = base_recipe();
    (void) override("{\"lay\\u0065rs\":2}", &rc, &err);
    is_int(rc.layers, 2, "override: an escaped key is the key");
}


/* the candidates made of message texts agree (1), or not (0) */
static int
agree(const char *a, const char *b, const char *c)
{
    int                           i, n, r;
    one_t                         o[3];
    const char                   *m[3];
    const ngx_http_moa_choice_t  *ch[3];

    m[0] = a;
    m[1] = b;
    m[2] = c;
    n = c ? 3 : (b ? 2 : 1);

    for (i = 0; i < n; i++) {
        ch[i] = one(&o[i], m[i]);

        if (ch[i] == NULL) {
            diag("    not a reply: %s", m[i]);
        }
    }

    r = ngx_http_moa_recipe_agree(ch, n);

    for (i = 0; i < n; i++) {
        one_free(&o[i]);
    }

    return r;
}


#define TC(args)                                                             \
    "{\"content\":null,\"tool_calls\":[{\"id\":\"call_1\","                  \
    "\"type\":\"function\",\"function\":{\"name\":\"get_weather\","          \
    "\"arguments\":" args "}}]}"


static void
test_agree(void)
{
    is_int(agree("{\"content\":\"Paris\"}", "{\"content\":\"Paris\"}",
                 "{\"content\":\"Paris\"}"), 1, "agree: the same text");
    is_int(agree("{\"content\":\"  The answer:\\n\\n  Paris \"}",
                 "{\"content\":\"The answer:\\tParis\"}", NULL), 1,
           "agree: white space normalised");
    is_int(agree("{\"content\":\"Paris\"}", "{\"content\":\"paris\"}", NULL),
           0, "agree: case differs");
    is_int(agree("{\"content\":\"Paris\"}", "{\"content\":\"Paris\"}",
                 "{\"content\":\"Lyon\"}"), 0, "agree: the last one differs");
    is_int(agree("{\"content\":\"Pa\\u0072is\"}", "{\"content\":\"Paris\"}",
                 NULL), 1, "agree: escapes decoded");
    is_int(agree("{\"content\":\"Paris\"}", NULL, NULL), 0,
           "agree: one candidate is no agreement");
    is_int(agree("{\"content\":\"{\\\"a\\\": 1, \\\"b\\\": [2]}\"}",
                 "{\"content\":\"{\\\"b\\\":[2],\\\"a\\\":1.0}\"}", NULL),
           1, "agree: JSON answers equal as JSON");
    is_int(agree("{\"content\":\"{\\\"a\\\": 1}\"}",
                 "{\"content\":\"{\\\"a\\\": 2}\"}", NULL),
           0, "agree: JSON answers that differ");
    is_int(agree("{\"content\":\"\",\"refusal\":\"no\"}",
                 "{\"content\":\"\",\"refusal\":\"No\"}", NULL), 0,
           "agree: refusals differ");

    is_int(agree(TC("\"{\\\"city\\\":\\\"Paris\\\",\\\"unit\\\":\\\"C\\\"}\""),
                 TC("\"{ \\\"unit\\\": \\\"C\\\", "
                    "\\\"city\\\": \\\"Paris\\\" }\""),
                 NULL), 1, "agree: tool calls with JSON-equal arguments");
    is_int(agree(TC("\"{\\\"city\\\":\\\"Paris\\\"}\""),
                 TC("\"{\\\"city\\\":\\\"Lyon\\\"}\""), NULL), 0,
           "agree: tool calls with other arguments");
    is_int(agree(TC("\"{\\\"n\\\":1}\""), TC("\"{\\\"n\\\":1.0}\""), NULL), 1,
           "agree: numbers equal as JSON");
    is_int(agree(TC("\"{\\\"city\\\":\\\"Paris\\\"}\""),
                 "{\"content\":\"Paris\"}", NULL), 0,
           "agree: a tool call and a text");
    is_int(agree(TC("\"not json\""), TC("\"not json\""), NULL), 1,
           "agree: arguments that are no JSON compared as text");
    is_int(agree(TC("\"not json\""), TC("\"not  json\""), NULL), 0,
           "agree: arguments that are no JSON differ as text");
    is_int(agree("{\"content\":null,\"tool_calls\":[{\"type\":\"function\","
                 "\"function\":{\"name\":\"a\",\"arguments\":\"{}\"}}]}",
                 "{\"content\":null,\"tool_calls\":[{\"type\":\"function\","
                 "\"function\":{\"name\":\"b\",\"arguments\":\"{}\"}}]}",
                 NULL), 0, "agree: other function names");
}


static int
best(const char *content, int n)
{
    int                           k;
    one_t                         o;
    ngx_http_moa_buf_t            msg;
    const ngx_http_moa_choice_t  *c;

    memset(&msg, 0, sizeof(msg));
    ngx_http_moa_buf_lit(&msg, "{\"content\":");
    ngx_http_moa_buf_cstr(&msg, content);
    ngx_http_moa_buf_lit(&msg, "}");
    ngx_http_moa_buf_add(&msg, "", 1);

    c = one(&o, msg.data);
    k = c ? ngx_http_moa_recipe_best(c, n) : -2;

    one_free(&o);
    ngx_http_moa_buf_free(&msg);

    return k;
}


static void
test_best(void)
{
    is_int(best("\"{\\\"best\\\": 2}\"", 3), 1, "best: strict JSON");
    is_int(best("\"{\\\"best\\\":3}\"", 3), 2, "best: the last candidate");
    is_int(best("\"{\\\"best\\\": 4}\"", 3), -1, "best: out of range");
    is_int(best("\"{\\\"best\\\": 0}\"", 3), -1, "best: zero");
    is_int(best("\"{\\\"best\\\": \\\"2\\\"}\"", 3), 1, "best: as a string");
    is_int(best("\"```json\\n{\\\"best\\\": 2}\\n```\"", 3), 1,
           "best: in a code fence");
    is_int(best("\"The best is candidate 3.\"", 3), 2,
           "best: named in a sentence");
    is_int(best("\"Candidate #2 is the most accurate.\"", 3), 1,
           "best: candidate #k");
    is_int(best("\" 1\"", 3), 0, "best: a bare number");
    is_int(best("\"I cannot decide.\"", 3), -1, "best: no pick");
    is_int(best("\"{\\\"best\\\": 12}\"", 3), -1, "best: 12 is not 1");
    is_int(best("null", 3), -1, "best: no content");
}


static void
test_budget(void)
{
    long long                   m;
    ngx_http_moa_recipe_t       rc;
    ngx_http_moa_recipe_cost_t  cost;

    rc = base_recipe();

    memset(&cost, 0, sizeof(cost));
    cost.body = 300;                      /* 100 tokens */
    cost.critique_tpl = 30;               /* 10 */
    cost.synthesis_tpl = 60;              /* 20 */
    cost.n = 1;

    /*
     * 3 proposals (100, m); critique (100 + 10 + 3 (m + 16), m);
     * synthesis (100 + 20 + 3 (m + 16) + m + 16, m):
     * a = 300 + 174 + 168 = 642, b = 3 + 4 + 5 = 12
     */

    cost.total = 642 + 12 * 100;
    m = ngx_http_moa_recipe_budget(&rc, &cost);
    is_int(m, 100, "budget: the three-prompt chain");

    cost.total = 642 + 12 * 100 + 11;
    is_int(ngx_http_moa_recipe_budget(&rc, &cost), 100, "budget: rounded down");

    cost.total = 642 + 12 * 16 - 1;
    is_int(ngx_http_moa_recipe_budget(&rc, &cost), 0,
           "budget: under the minimum, refused");

    cost.total = 600;
    is_int(ngx_http_moa_recipe_budget(&rc, &cost), 0,
           "budget: the prompts alone do not fit");

    /* no critique: a = 300 + 168, b = 3 + 3 + 1 */
    rc.critique = 0;
    cost.total = 468 + 7 * 50;
    is_int(ngx_http_moa_recipe_budget(&rc, &cost), 50, "budget: no critique");

    /* n = 2: the synthesis writes 2 m */
    cost.n = 2;
    cost.total = 468 + 8 * 50;
    is_int(ngx_http_moa_recipe_budget(&rc, &cost), 50, "budget: n = 2");
    cost.n = 1;

    /* select: a = 300 + (100 + 5 + 48), b = 3 + 4 */
    rc.aggregate = NGX_HTTP_MOA_AGGREGATE_SELECT;
    cost.select_tpl = 15;
    cost.total = 453 + 7 * 40;
    is_int(ngx_http_moa_recipe_budget(&rc, &cost), 40, "budget: select");

    /*
     * two layers, select: layer 2 is 3 x (100 + 10 + 3 (m + 16), m):
     * a = 453 + 300 + 3 (10 + 48) = 927, b = 7 + 3 + 9 = 19
     */
    rc.layers = 2;
    cost.layer_tpl = 30;
    cost.total = 927 + 19 * 30;
    is_int(ngx_http_moa_recipe_budget(&rc, &cost), 30,
           "budget: two layers see the first layer's candidates");
}


int
main(void)
{
    test_override();
    test_agree();
    test_best();
    test_budget();

    return done_testing();
}
