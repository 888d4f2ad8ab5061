
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_usage.[ch]: usage summed from trees and from
 * a reply's tokens (both must agree), read, found in a complete reply
 * (usage_scan), and printed.
 */


#include <limits.h>
#include <math.h>

#include "util.h"
#include "check_reply.h"
#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_reply.h"
#include "ngx_http_moa_usage.h"


#define S(s)  s, sizeof(s) - 1


/*
 * An accumulator on the heap, handled as its tree: the record's root is
 * its first member, so the tree's address is the record's
 */
static cJSON *
usage_new(void)
{
    ngx_http_moa_usage_t  *u;

    u = malloc(sizeof(ngx_http_moa_usage_t));
    if (u == NULL) {
        abort();
    }

    ngx_http_moa_usage_record_init(u);

    return &u->root;
}


static ngx_http_moa_usage_t *
rec(cJSON *acc)
{
    return (ngx_http_moa_usage_t *) acc;
}


static void
usage_done(cJSON *acc)
{
    ngx_http_moa_usage_record_free(rec(acc));
    free(rec(acc));
}


/*
 * The usages of several calls (list NULL-terminated) summed from trees and
 * from replies' tokens, which must print the same: the accumulator.
 */
static cJSON *
usage_sums(const char **list)
{
    char                  *s1, *s2;
    cJSON                 *acc, *tacc, *u;
    ngx_http_moa_buf_t     text;
    ngx_http_moa_reply_t   rep;
    ngx_http_moa_error_t   err;

    acc = usage_new();
    tacc = usage_new();
    memset(&text, 0, sizeof(text));

    for ( /* void */ ; *list; list++) {
        u = cJSON_Parse(*list);
        ok(u && ngx_http_moa_usage_add(rec(acc), u) >= 0, "usage_add %s",
           *list);
        cJSON_Delete(u);

        text.len = 0;
        ngx_http_moa_buf_lit(&text, "{\"choices\":[{\"message\":"
                             "{\"content\":\"x\"}}],\"usage\":");
        ngx_http_moa_buf_cstr(&text, *list);
        ngx_http_moa_buf_lit(&text, "}");

        ok(ngx_http_moa_reply_parse(&rep, text.data, text.len, &err) == 0
           && ngx_http_moa_usage_add_reply(rec(tacc), &rep) >= 0,
           "reply_usage_add %s", *list);
        ngx_http_moa_reply_free(&rep);
    }

    s1 = cJSON_PrintUnformatted(acc);
    s2 = cJSON_PrintUnformatted(tacc);
    is_str(s2, s1, "reply_usage_add sums as usage_add");
    free(s1);
    free(s2);

    usage_done(tacc);
    ngx_http_moa_buf_free(&text);

    return acc;
}


/* usage_sums() of a and b (b may be NULL) */
static cJSON *
usage_sum(const char *a, const char *b)
{
    const char  *list[3];

    list[0] = a;
    list[1] = b;
    list[2] = NULL;

    return usage_sums(list);
}


static void
test_usage(void)
{
    char   *s;
    cJSON  *acc;

    acc = usage_sum("{\"prompt_tokens\":10,\"completion_tokens\":5,"
                    "\"total_tokens\":15,\"prompt_tokens_details\":"
                    "{\"cached_tokens\":2,\"audio_tokens\":0},"
                    "\"completion_tokens_details\":{\"reasoning_tokens\":1,"
                    "\"accepted_prediction_tokens\":0}}",
                    "{\"prompt_tokens\":100,\"completion_tokens\":50,"
                    "\"total_tokens\":150,\"prompt_tokens_details\":"
                    "{\"cached_tokens\":20},\"completion_tokens_details\":"
                    "{\"reasoning_tokens\":10,\"new_detail\":3},"
                    "\"cost\":0.5,\"provider\":\"x\",\"flags\":[1,2]}");

    is_int(ngx_http_moa_usage_get(acc, "prompt_tokens"), 110, "sum: prompt");
    is_int(ngx_http_moa_usage_get(acc, "completion_tokens"), 55,
           "sum: completion");
    is_int(ngx_http_moa_usage_get(acc, "total_tokens"), 165, "sum: total");
    is_int(jnum(acc, "prompt_tokens_details.cached_tokens"), 22,
           "sum: nested cached_tokens");
    is_int(jnum(acc, "prompt_tokens_details.audio_tokens"), 0,
           "sum: nested field of one call only");
    is_int(jnum(acc, "completion_tokens_details.reasoning_tokens"), 11,
           "sum: nested reasoning_tokens");
    is_int(jnum(acc, "completion_tokens_details.new_detail"), 3,
           "sum: a nested field the first call lacked");
    ok(!jhas(acc, "cost"), "sum: a fraction is not a count");
    ok(!jhas(acc, "provider") && !jhas(acc, "flags"),
       "sum: strings and arrays are not summed");
    usage_done(acc);

    /*
     * a name that starts with a shorter one ("prompt_tokens_details"
     * before "prompt_tokens"): each is summed under its own name
     */

    acc = usage_sum("{\"prompt_tokens_details\":{\"cached_tokens\":1},"
                    "\"prompt_tokens\":7,\"completion_tokens\":2}",
                    "{\"prompt_tokens_details\":{\"cached_tokens\":3},"
                    "\"prompt_tokens\":70,\"completion_tokens\":20}");

    is_int(ngx_http_moa_usage_get(acc, "prompt_tokens"), 77,
           "sum: a name after a longer one starting with it");
    is_int(jnum(acc, "prompt_tokens_details.cached_tokens"), 4,
           "sum: the longer name kept apart");
    usage_done(acc);

    /* missing totals: prompt + completion count */
    acc = usage_sum("{\"prompt_tokens\":7,\"completion_tokens\":3}",
                    "{\"prompt_tokens\":1,\"completion_tokens\":1,"
                    "\"total_tokens\":2}");
    is_int(ngx_http_moa_usage_get(acc, "total_tokens"), 12,
           "no total in the first call: 10 + 2");
    usage_done(acc);

    acc = usage_sum("{\"prompt_tokens\":1,\"completion_tokens\":1,"
                    "\"total_tokens\":2}",
                    "{\"prompt_tokens\":7}");
    is_int(ngx_http_moa_usage_get(acc, "total_tokens"), 9,
           "no total in the second call: 2 + 7");
    is_int(ngx_http_moa_usage_get(acc, "completion_tokens"), 1,
           "no completion_tokens in the second");
    usage_done(acc);

    acc = usage_sum("{}", NULL);
    ok(acc->child == NULL && !ngx_http_moa_usage_reported(acc),
       "an empty usage adds nothing, not even a total");
    usage_done(acc);

    acc = usage_sum("{\"prompt_tokens\":\"7\",\"completion_tokens\":null,"
                    "\"total_tokens\":\"9\"}", NULL);
    ok(!jhas(acc, "prompt_tokens"), "a string count is ignored");
    is_int(ngx_http_moa_usage_get(acc, "total_tokens"), 0,
           "a string total: counted as missing");
    usage_done(acc);

    /* numbers as cJSON reads them, keys with escapes; counts only */
    acc = usage_sum("{\"prompt_\\u0074okens\":5,\"completion_tokens\":"
                    "12345678901234567,\"a\":-3,\"b\":0.25,\"c\":1e3,"
                    "\"d\":1E-2,\"e\":-0,\"f\":999999999999999}",
                    "{\"prompt_tokens\":2,\"a\":3.5,\"f\":1,"
                    "\"completion_tokens\":4}");
    is_int(ngx_http_moa_usage_get(acc, "prompt_tokens"), 7,
           "an escaped key is the key it spells");
    is_int(ngx_http_moa_usage_get(acc, "completion_tokens"), 4,
           "17 digits: over 2^53 - 1, not a count");
    ok(!jhas(acc, "a") && !jhas(acc, "b") && !jhas(acc, "d"),
       "negatives and fractions are not counts");
    ok(jnum(acc, "c") == 1000 && jhas(acc, "e") && jnum(acc, "e") == 0,
       "an integer with an exponent, and -0, are counts");
    is_int(ngx_http_moa_usage_get(acc, "f"), 1000000000000000LL,
           "15 digits exactly");
    is_int(ngx_http_moa_usage_get(acc, "total_tokens"), 5 + 2 + 4,
           "no total in either: the valid prompt + completion of each");
    usage_done(acc);

    /* mismatched shapes: ignored, no crash */
    acc = usage_sum("{\"details\":{\"a\":1},\"n\":1}",
                    "{\"details\":5,\"n\":{\"a\":1}}");
    is_int(jnum(acc, "details.a"), 1, "number onto object: ignored");
    is_int(jnum(acc, "n"), 1, "object onto number: ignored");
    usage_done(acc);

    /* not an object: nothing */
    acc = usage_new();
    ok(ngx_http_moa_usage_add(rec(acc), NULL) == 0 && acc->child == NULL,
       "usage_add NULL: nothing");
    {
        cJSON  *arr;

        arr = cJSON_Parse("[1,2]");
        ok(ngx_http_moa_usage_add(rec(acc), arr) == 0 && acc->child == NULL,
           "usage_add of an array: nothing");
        cJSON_Delete(arr);
    }

    s = cJSON_PrintUnformatted(acc);
    is_str(s, "{}", "the accumulator is untouched");
    free(s);
    usage_done(acc);

    /* usage_get */
    acc = cJSON_Parse("{\"a\":12.9,\"b\":\"3\",\"c\":-4,\"d\":1e15}");
    is_int(ngx_http_moa_usage_get(acc, "a"), 12, "usage_get truncates");
    is_int(ngx_http_moa_usage_get(acc, "b"), 0, "usage_get: a string is 0");
    is_int(ngx_http_moa_usage_get(acc, "c"), -4, "usage_get: negative");
    is_int(ngx_http_moa_usage_get(acc, "d"), 1000000000000000LL,
           "usage_get: above 2^31");
    is_int(ngx_http_moa_usage_get(acc, "zz"), 0, "usage_get: missing is 0");
    cJSON_Delete(acc);

    /* a provider's absurd counts: clamped, never an undefined cast */
    acc = cJSON_Parse("{\"a\":1e300,\"b\":-1e300,\"c\":1e999,"
                      "\"d\":9223372036854775808}");
    is_int(ngx_http_moa_usage_get(acc, "a"), LLONG_MAX,
           "usage_get: 1e300 is clamped");
    is_int(ngx_http_moa_usage_get(acc, "b"), LLONG_MIN,
           "usage_get: -1e300 is clamped");
    is_int(ngx_http_moa_usage_get(acc, "c"), LLONG_MAX,
           "usage_get: infinity is clamped");
    is_int(ngx_http_moa_usage_get(acc, "d"), LLONG_MAX,
           "usage_get: 2^63 is clamped");
    is_int(ngx_http_moa_usage_get(NULL, "a"), 0, "usage_get: NULL is 0");
    cJSON_Delete(acc);
}


static void
usage_printed(const char *usage, const char *expected, const char *name)
{
    cJSON               *u, *a;
    ngx_http_moa_buf_t   out;

    memset(&out, 0, sizeof(out));

    u = usage ? cJSON_Parse(usage) : NULL;
    ngx_http_moa_usage_print(&out, u);

    is_mem(out.data, out.len, expected, "usage_print: %s", name);

    a = check_json_cjson(out.data, out.len);
    ok(a != NULL && ngx_http_moa_json_valid(out.data, out.len) == 0,
       "usage_print: %s: valid JSON", name);

    cJSON_Delete(a);
    cJSON_Delete(u);
    ngx_http_moa_buf_free(&out);
}


/* printed, then parsed: the numbers cJSON had, whatever their form */
static void
usage_roundtrip(cJSON *u, const char *name)
{
    cJSON               *a;
    const cJSON         *x, *y;
    ngx_http_moa_buf_t   out;

    memset(&out, 0, sizeof(out));
    ngx_http_moa_usage_print(&out, u);

    a = check_json_cjson(out.data, out.len);

    if (!ok(a != NULL, "usage_print: %s: valid JSON", name)) {
        diag("    '%.*s'", (int) out.len, out.data);
    }

    for (x = u->child, y = a ? a->child : NULL; x && y;
         x = x->next, y = y->next)
    {
        if (!ok(cJSON_IsNumber(y) && strcmp(x->string, y->string) == 0
                && (isfinite(x->valuedouble) ? y->valuedouble
                                               == x->valuedouble
                                             : y->valuedouble == 0),
                "usage_print: %s: %s %.17g printed as %.17g", name,
                x->string, x->valuedouble, y ? y->valuedouble : 0))
        {
            diag("    '%.*s'", (int) out.len, out.data);
        }
    }

    ok(x == NULL && y == NULL, "usage_print: %s: every number", name);

    cJSON_Delete(a);
    ngx_http_moa_buf_free(&out);
}


/* the three counts a printed usage starts with when no call had them */
#define Z  "\"prompt_tokens\":0,\"completion_tokens\":0,"
#define C3 "\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2"


static void
test_usage_print(void)
{
    cJSON  *u;

    usage_printed(NULL, "null", "NULL: no count reported");
    usage_printed("[1,2]", "null", "an array: no count reported");
    usage_printed("{}", "null", "empty: no count reported");
    usage_printed("{\"cost\":1,\"d\":{\"total_tokens\":1}}", "null",
                  "other members only: no count reported");
    usage_printed("{\"prompt_tokens\":10,\"completion_tokens\":-2,"
                  "\"total_tokens\":0}",
                  "{\"prompt_tokens\":10,\"completion_tokens\":-2,"
                  "\"total_tokens\":0}", "integers");
    usage_printed("{\"total_tokens\":7}",
                  "{" Z "\"total_tokens\":7}",
                  "the required counts no call reported: 0");
    usage_printed("{\"completion_tokens\":3,\"total_tokens\":7}",
                  "{\"prompt_tokens\":0,\"completion_tokens\":3,"
                  "\"total_tokens\":7}", "prompt_tokens missing: 0");
    usage_printed("{\"total_tokens\":1,\"a\":1.0,\"b\":2e3,\"c\":-0.0}",
                  "{" Z "\"total_tokens\":1,\"a\":1,\"b\":2000,\"c\":0}",
                  "integral values as integers");
    usage_printed("{\"total_tokens\":1,\"d\":{\"e\":3,\"f\":{},\"g\":"
                  "{\"h\":4}},\"i\":5}",
                  "{" Z "\"total_tokens\":1,\"d\":{\"e\":3,\"f\":{},\"g\":"
                  "{\"h\":4}},\"i\":5}", "nested objects");
    usage_printed("{\"total_tokens\":1,\"a\":0.5,\"b\":-2.25}",
                  "{" Z "\"total_tokens\":1,\"a\":0.5,\"b\":-2.25}",
                  "non-integral");
    usage_printed("{\"total_tokens\":1,\"s\":\"x\",\"n\":null,\"t\":true,"
                  "\"f\":false,\"l\":[1],\"k\":2}",
                  "{" Z "\"total_tokens\":1,\"k\":2}",
                  "only numbers and objects");
    usage_printed("{\"s\":\"x\",\"total_tokens\":2}",
                  "{" Z "\"total_tokens\":2}",
                  "no comma before the first printed");
    usage_printed("{\"total_tokens\":1,\"a\\\"b\\\\\\n\":1}",
                  "{" Z "\"total_tokens\":1,\"a\\\"b\\\\\\n\":1}",
                  "a key escaped");
    usage_printed("{" C3 ",\"big\":8999999999999999,"
                  "\"neg\":-8999999999999999}",
                  "{" C3 ",\"big\":8999999999999999,"
                  "\"neg\":-8999999999999999}",
                  "the largest integers printed as such");
    usage_printed("{" C3 ",\"a\":1e999,\"b\":-1e999}",
                  "{" C3 ",\"a\":0,\"b\":0}", "infinite: 0, never null");

    u = cJSON_Parse("{" C3 ",\"a\":0.1,\"b\":1e16,\"c\":9e15,\"d\":-9e15,"
                    "\"e\":1e300,\"f\":-1e300,\"g\":4.9e-324,"
                    "\"h\":123456789.125,\"i\":9007199254740993,"
                    "\"j\":1e999}");
    usage_roundtrip(u, "huge and small values");
    cJSON_Delete(u);

    u = cJSON_CreateObject();
    cJSON_AddNumberToObject(u, "prompt_tokens", 1);
    cJSON_AddNumberToObject(u, "completion_tokens", 1);
    cJSON_AddNumberToObject(u, "total_tokens", 2);
    cJSON_AddNumberToObject(u, "nan", NAN);
    cJSON_AddNumberToObject(u, "inf", -INFINITY);
    cJSON_AddNumberToObject(u, "half", 0.5);
    usage_roundtrip(u, "NaN and infinities");
    cJSON_Delete(u);
}


/* a usage with n members "k<i>":1 around the known counts, as a reply */
static void
usage_huge(ngx_http_moa_buf_t *b, int n, const char *each)
{
    int  i;

    b->len = 0;
    ngx_http_moa_buf_lit(b, "{\"choices\":[{\"message\":{\"content\":\"x\"}}],"
                            "\"usage\":{");

    for (i = 0; i < n; i++) {
        ngx_http_moa_buf_lit(b, "\"k");
        ngx_http_moa_buf_int(b, i);
        ngx_http_moa_buf_lit(b, "\":");
        ngx_http_moa_buf_cstr(b, each);
        ngx_http_moa_buf_lit(b, ",");

        if (i == n / 2) {
            ngx_http_moa_buf_lit(b, "\"prompt_tokens\":10,"
                                 "\"completion_tokens\":5,"
                                 "\"prompt_tokens_details\":"
                                 "{\"cached_tokens\":2},");
        }
    }

    ngx_http_moa_buf_lit(b, "\"total_tokens\":15}}");
}


/* absurd counts, and what a call reported in the return value */
static void
test_usage_counts(void)
{
    int                    rc;
    cJSON                 *acc, *u;
    ngx_http_moa_buf_t     text, out;
    ngx_http_moa_reply_t   rep;
    ngx_http_moa_error_t   err;

    acc = usage_sum("{\"prompt_tokens\":-5,\"completion_tokens\":2.5,"
                    "\"total_tokens\":1e308}",
                    "{\"prompt_tokens\":123456789012345678901234567890,"
                    "\"completion_tokens\":\"7\",\"total_tokens\":true}");
    ok(acc->child == NULL && !ngx_http_moa_usage_reported(acc),
       "negative, fraction, 1e308, 30 digits, string, boolean: no count");
    usage_done(acc);

    /* what usage_add returns: the members not summed */
    acc = usage_new();
    u = cJSON_Parse("{\"prompt_tokens\":-5,\"completion_tokens\":3,"
                    "\"total_tokens\":null,\"x\":\"s\",\"d\":{\"e\":{}}}");
    is_int(ngx_http_moa_usage_add(rec(acc), u), 3,
           "usage_add: -5, \"s\" and a third level not summed; null absent");
    is_int(ngx_http_moa_usage_get(acc, "total_tokens"), 3,
           "usage_add: the total from the valid counts only");
    cJSON_Delete(u);
    usage_done(acc);

    /* sums stop at 2^53 - 1 */
    acc = usage_sum("{\"prompt_tokens\":9007199254740991,"
                    "\"completion_tokens\":9007199254740991}",
                    "{\"prompt_tokens\":9007199254740991,"
                    "\"total_tokens\":1}");
    is_int(ngx_http_moa_usage_get(acc, "prompt_tokens"), 9007199254740991LL,
           "a sum stops at 2^53 - 1");
    is_int(ngx_http_moa_usage_get(acc, "total_tokens"), 9007199254740991LL,
           "a derived total stops at 2^53 - 1");
    usage_done(acc);

    /* a mix: one call without usage, one with: the one that reported */
    acc = usage_sum("{\"prompt_tokens\":10,\"completion_tokens\":5}", "{}");
    is_int(ngx_http_moa_usage_get(acc, "total_tokens"), 15,
           "a call that reports nothing adds nothing");
    usage_done(acc);

    /* bounds: 60,000 other members around the known counts */
    memset(&text, 0, sizeof(text));
    memset(&out, 0, sizeof(out));
    acc = usage_new();

    usage_huge(&text, 60000, "1");
    ok(ngx_http_moa_reply_parse(&rep, text.data, text.len, &err) == 0,
       "60,000 members: parsed");
    rc = ngx_http_moa_usage_add_reply(rec(acc), &rep);
    is_int(rc, 60000 - (NGX_HTTP_MOA_USAGE_MEMBERS), "60,000 members: "
           "all but the first few ignored");
    ngx_http_moa_reply_free(&rep);

    is_int(ngx_http_moa_usage_get(acc, "prompt_tokens"), 10,
           "60,000 members: prompt_tokens kept");
    is_int(ngx_http_moa_usage_get(acc, "completion_tokens"), 5,
           "60,000 members: completion_tokens kept");
    is_int(ngx_http_moa_usage_get(acc, "total_tokens"), 15,
           "60,000 members: total_tokens kept");
    is_int(jnum(acc, "prompt_tokens_details.cached_tokens"), 2,
           "60,000 members: the details kept");
    is_int(cJSON_GetArraySize(acc), NGX_HTTP_MOA_USAGE_MEMBERS + 4,
           "60,000 members: the bound and the known");

    ngx_http_moa_usage_print(&out, acc);
    ok(out.len < 512, "60,000 members: printed in %d bytes", (int) out.len);
    usage_done(acc);

    /* the same through a tree */
    acc = usage_new();
    u = cJSON_ParseWithLength(text.data, text.len);
    is_int(ngx_http_moa_usage_add(rec(acc),
                                  cJSON_GetObjectItemCaseSensitive(u, "usage")),
           60000 - NGX_HTTP_MOA_USAGE_MEMBERS, "tree: the same bound");
    is_int(ngx_http_moa_usage_get(acc, "total_tokens"), 15,
           "tree: total_tokens kept");
    cJSON_Delete(u);
    usage_done(acc);

    /* the worst a provider can make the answer's usage: bounded */
    {
        int   i;
        char  obj[2048];

        obj[0] = '\0';
        strcat(obj, "{");

        for (i = 0; i < 20; i++) {
            snprintf(obj + strlen(obj), sizeof(obj) - strlen(obj),
                     "%s\"%064d\":9007199254740991", i ? "," : "", i);
        }

        strcat(obj, "}");

        usage_huge(&text, 20, obj);
        acc = usage_new();
        u = cJSON_ParseWithLength(text.data, text.len);
        ok(ngx_http_moa_usage_add(rec(acc),
               cJSON_GetObjectItemCaseSensitive(u, "usage")) > 0,
           "worst: added");
        cJSON_Delete(u);

        usage_huge(&text, 20, "{\"a\":1}");
        text.len = 0;
        ngx_http_moa_buf_lit(&text, "{\"prompt_tokens_details\":");
        ngx_http_moa_buf_cstr(&text, obj);
        ngx_http_moa_buf_lit(&text, ",\"completion_tokens_details\":");
        ngx_http_moa_buf_cstr(&text, obj);
        ngx_http_moa_buf_lit(&text, "}");
        u = cJSON_ParseWithLength(text.data, text.len);
        ok(ngx_http_moa_usage_add(rec(acc), u) > 0, "worst: details added");
        cJSON_Delete(u);

        out.len = 0;
        ngx_http_moa_usage_print(&out, acc);
        ok(out.len < 7 * 1024, "worst: the usage printed in %d bytes",
           (int) out.len);
        u = check_json_cjson(out.data, out.len);
        ok(u != NULL, "worst: valid JSON");
        cJSON_Delete(u);
        usage_done(acc);
    }

    /* names: a long one or one with other bytes is not kept */
    acc = usage_sum("{\"total_tokens\":1,\"a b\":1,\"a\\\\b\":1,"
                    "\"x1234567890123456789012345678901234567890123456789"
                    "0123456789012345\":1,\"ok.-_9\":1}", NULL);
    ok(!jhas(acc, "a b") && cJSON_GetArraySize(acc) == 2
       && cJSON_GetObjectItemCaseSensitive(acc, "ok.-_9") != NULL,
       "names: [A-Za-z0-9_.-], 64 bytes");
    usage_done(acc);

    ngx_http_moa_buf_free(&text);
    ngx_http_moa_buf_free(&out);
}


/* usage_scan of a complete reply: its rc, and total_tokens (-1: no usage) */
static void
scan(const char *reply, int rc, long long total, const char *name)
{
    cJSON  *u;

    u = (cJSON *) 1;

    is_int(ngx_http_moa_usage_scan(reply, strlen(reply), &u), rc,
           "usage_scan: %s: rc", name);

    if (total < 0) {
        ok(u == NULL, "usage_scan: %s: no usage", name);

    } else {
        is_int(ngx_http_moa_usage_get(u, "total_tokens"), total,
               "usage_scan: %s: total_tokens", name);
    }

    cJSON_Delete(u);
}


static void
test_usage_scan(void)
{
    scan("{\"id\":\"c\",\"choices\":[{\"message\":{\"content\":\"x\"}}],"
         "\"usage\":{\"prompt_tokens\":1,\"total_tokens\":3}}", 0, 3,
         "a reply with usage");
    scan(" {\"usage\" : { \"total_tokens\" : 4 , \"x\" : [ ] } }\n", 0, 4,
         "white space");
    scan("{\"choices\":[]}", 0, -1, "no usage");
    scan("{\"usage\":null}", 0, -1, "usage null");
    scan("{\"usage\":[{\"total_tokens\":1}]}", 0, -1,
         "usage that is not an object");
    scan("{\"usage\":{\"total_tokens\":1},\"usage\":{\"total_tokens\":2}}",
         0, 1, "duplicates: the first object");
    scan("{\"usage\":null,\"usage\":{\"total_tokens\":2}}", 0, 2,
         "duplicates: the first that is an object");
    scan("{\"\\u0075sage\":{\"total_tokens\":5}}", 0, 5,
         "an escaped key");
    scan("{\"choices\":[{\"usage\":{\"total_tokens\":6}}]}", 0, -1,
         "a nested usage is not the reply's");
    scan("{\"usage\":{\"total_tokens\":1}", -1, -1, "invalid JSON");
    scan("[{\"usage\":{\"total_tokens\":1}}]", -1, -1, "an array");
    scan("", -1, -1, "empty");
}


/* the usage of the calls printed as the answer has it */
static void
usage_sums_printed(const char **list, const char *expected, const char *name)
{
    cJSON               *acc;
    ngx_http_moa_buf_t   out;

    memset(&out, 0, sizeof(out));

    acc = usage_sums(list);
    ngx_http_moa_usage_print(&out, acc);
    is_mem(out.data, out.len, expected, "summed and printed: %s", name);

    usage_done(acc);
    ngx_http_moa_buf_free(&out);
}


/*
 * Each call's member is looked for first where the previous call's was:
 * whatever the order of the calls' members, each is summed under its own
 * name, as a walk would find it.
 */
static void
test_usage_order(void)
{
    char                *s1, *s2;
    cJSON               *acc, *dup;
    const cJSON         *a;
    ngx_http_moa_buf_t   out;

    static const char  *reordered[] = {
        "{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3,"
        "\"x\":1}",
        "{\"total_tokens\":30,\"x\":2,\"prompt_tokens\":10,"
        "\"completion_tokens\":20}",
        "{\"completion_tokens\":200,\"prompt_tokens\":100,\"y\":5,"
        "\"total_tokens\":300}",
        NULL
    };

    static const char  *details[] = {
        "{\"prompt_tokens_details\":{\"cached_tokens\":1,\"audio_tokens\":2},"
        "\"prompt_tokens\":3}",
        "{\"prompt_tokens_details\":{\"audio_tokens\":20,"
        "\"cached_tokens\":10},\"prompt_tokens\":30}",
        "{\"prompt_tokens_details\":{\"cached_tokens\":100,"
        "\"audio_tokens\":200},\"prompt_tokens\":300}",
        NULL
    };

    static const char  *same_length[] = {
        "{\"completion_tokens_details\":{\"accepted_prediction_tokens\":1,"
        "\"rejected_prediction_tokens\":2}}",
        "{\"completion_tokens_details\":{\"rejected_prediction_tokens\":20,"
        "\"accepted_prediction_tokens\":10}}",
        NULL
    };

    static const char  *twice[] = {
        "{\"prompt_tokens\":1,\"prompt_tokens\":2,\"completion_tokens\":1}",
        "{\"prompt_tokens\":1,\"prompt_tokens\":2,\"completion_tokens\":1}",
        NULL
    };

    static const char  *depth[] = {
        "{\"cached_tokens\":5,\"prompt_tokens_details\":"
        "{\"prompt_tokens\":7}}",
        "{\"cached_tokens\":5,\"prompt_tokens_details\":"
        "{\"prompt_tokens\":7}}",
        NULL
    };

    static const char  *digits[] = {
        "{\"prompt_tokens\":1,\"completion_tokens\":1000000000000000,"
        "\"total_tokens\":0}",
        "{\"prompt_tokens\":999999999999999,\"completion_tokens\":1,"
        "\"total_tokens\":0}",
        NULL
    };

    static const char  *escaped[] = {
        "{\"prompt_tokens\":1,\"completion_tokens\":2}",
        "{\"prompt_\\u0074okens\":10,\"completion_tokens\":20}",
        "{\"prompt_tokens\":100,\"completion\\u005ftokens\":200}",
        NULL
    };

    static const char  *big[] = {
        "{\"prompt_tokens\":2147483647}",
        "{\"prompt_tokens\":5}",
        NULL
    };

    usage_sums_printed(reordered,
                       "{\"prompt_tokens\":111,\"completion_tokens\":222,"
                       "\"total_tokens\":333,\"x\":3,\"y\":5}",
                       "members in another order in each call");

    usage_sums_printed(details,
                       "{\"prompt_tokens\":333,\"completion_tokens\":0,"
                       "\"total_tokens\":333,\"prompt_tokens_details\":"
                       "{\"cached_tokens\":111,\"audio_tokens\":222}}",
                       "details in another order");

    acc = usage_sums(same_length);
    ok(jnum(acc, "completion_tokens_details.accepted_prediction_tokens") == 11
       && jnum(acc, "completion_tokens_details.rejected_prediction_tokens")
          == 22, "names of the same length in another order");
    usage_done(acc);

    usage_sums_printed(twice,
                       "{\"prompt_tokens\":6,\"completion_tokens\":2,"
                       "\"total_tokens\":8}",
                       "a name twice in a call: both summed");

    acc = usage_sums(depth);
    is_int(jnum(acc, "cached_tokens"), 10, "a detail's name in the usage");
    is_int(jnum(acc, "prompt_tokens_details.prompt_tokens"), 14,
           "a count's name in the details");
    ok(!ngx_http_moa_usage_reported(acc) && !jhas(acc, "total_tokens"),
       "a count's name in the details is not the call's count");
    usage_done(acc);

    usage_sums_printed(digits,
                       "{\"prompt_tokens\":1000000000000000,"
                       "\"completion_tokens\":1000000000000001,"
                       "\"total_tokens\":0}",
                       "15 and 16 digits");

    usage_sums_printed(escaped,
                       "{\"prompt_tokens\":111,\"completion_tokens\":222,"
                       "\"total_tokens\":333}",
                       "a name escaped in a later call");

    /* valueint as cJSON_SetNumberValue() leaves it: saturated */
    acc = usage_sums(big);
    a = cJSON_GetObjectItemCaseSensitive(acc, "prompt_tokens");
    ok(a && a->valuedouble == 2147483652.0 && a->valueint == INT_MAX,
       "a sum over INT_MAX: exact, valueint saturated");
    a = cJSON_GetObjectItemCaseSensitive(acc, "total_tokens");
    ok(a && a->valuedouble == 2147483652.0 && a->valueint == INT_MAX,
       "a derived total over INT_MAX: the same");

    /* the table's names as keys: a copy and the original both freed */
    dup = cJSON_Duplicate(acc, 1);
    s1 = cJSON_PrintUnformatted(acc);
    s2 = cJSON_PrintUnformatted(dup);
    is_str(s2, s1, "the accumulator duplicated");
    free(s1);
    free(s2);
    cJSON_Delete(dup);
    usage_done(acc);

    /* usage_reported: a member of a required name, whatever its value */
    acc = cJSON_Parse("{\"x\":1,\"total_tokens\":\"7\"}");
    ok(ngx_http_moa_usage_reported(acc), "reported: a name, any value");
    cJSON_Delete(acc);
    acc = cJSON_Parse("{\"x\":1,\"d\":{\"prompt_tokens\":1}}");
    ok(!ngx_http_moa_usage_reported(acc), "reported: other names only");
    cJSON_Delete(acc);
    acc = cJSON_Parse("[1,2]");
    ok(!ngx_http_moa_usage_reported(acc)
       && !ngx_http_moa_usage_reported(NULL), "reported: no object");
    cJSON_Delete(acc);

    /* counts printed from their digits */
    memset(&out, 0, sizeof(out));
    acc = cJSON_Parse("{\"prompt_tokens\":0,\"completion_tokens\":9,"
                      "\"total_tokens\":10,\"a\":99,\"b\":100,"
                      "\"c\":999999999999999,\"d\":1000000000000000,"
                      "\"e\":123456789,\"f\":1000}");
    ngx_http_moa_usage_print(&out, acc);
    is_mem(out.data, out.len,
           "{\"prompt_tokens\":0,\"completion_tokens\":9,"
           "\"total_tokens\":10,\"a\":99,\"b\":100,"
           "\"c\":999999999999999,\"d\":1000000000000000,"
           "\"e\":123456789,\"f\":1000}", "counts printed digit by digit");
    cJSON_Delete(acc);
    ngx_http_moa_buf_free(&out);
}


int
main(void)
{
    test_usage();
    test_usage_print();
    test_usage_counts();
    test_usage_scan();
    test_usage_order();

    return done_testing();
}
