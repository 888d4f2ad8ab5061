
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_response.[ch]: the final chat.completion (a
 * reply in shape answered with its own bytes, others through a tree: both
 * must agree), by hand-written and by random replies.
 */


#include <limits.h>
#include <math.h>

#include "util.h"
#include "check_reply.h"
#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_reply.h"
#include "ngx_http_moa_response.h"


#define S(s)  s, sizeof(s) - 1


static ngx_http_moa_error_t  err;


/* builds the response of a reply and returns it parsed */
static cJSON *
response(const char *reply, int choice, const char *usage,
    ngx_http_moa_buf_t *out, const char *name)
{
    int                    rc;
    cJSON                 *u;
    ngx_http_moa_reply_t   rep;

    out->len = 0;

    if (!ok(ngx_http_moa_reply_parse(&rep, reply, strlen(reply), &err) == 0,
            "%s: reply parsed", name))
    {
        ngx_http_moa_reply_free(&rep);
        return NULL;
    }

    u = cJSON_Parse(usage);
    rc = ngx_http_moa_response_build(out, &rep, choice, "moa-gpt-4o-v1",
                                     u);
    cJSON_Delete(u);
    ngx_http_moa_reply_free(&rep);

    if (!ok(rc == 0, "%s: built", name)) {
        return NULL;
    }

    return json_ok(out->data, out->len, name);
}


#define USAGE  "{\"prompt_tokens\":900,\"completion_tokens\":90," \
               "\"total_tokens\":990}"


static void
test_response(void)
{
    cJSON                 *v;
    const cJSON           *c;
    ngx_http_moa_buf_t     out;
    ngx_http_moa_reply_t   rep;

    memset(&out, 0, sizeof(out));

    /* a bare reply: everything the SDKs expect is added */
    v = response("{\"choices\":[{\"message\":{}}]}", -1, USAGE, &out,
                 "bare reply");
    is_str(jstr(v, "object"), "chat.completion", "bare: object");
    is_str(jstr(v, "model"), "moa-gpt-4o-v1", "bare: model");
    is_str(jstr(v, "id"), "chatcmpl-moa", "bare: an id");
    ok(cJSON_IsNumber(jget(v, "created")) && jnum(v, "created") > 1.6e9,
       "bare: created is now");
    is_str(jstr(v, "choices.0.message.role"), "assistant", "bare: role");
    ok(cJSON_IsNull(jget(v, "choices.0.message.content")),
       "bare: content null");
    ok(cJSON_IsNull(jget(v, "choices.0.message.refusal")),
       "bare: refusal null");
    ok(cJSON_IsNull(jget(v, "choices.0.logprobs")), "bare: logprobs null");
    is_str(jstr(v, "choices.0.finish_reason"), "stop",
           "bare: finish_reason stop");
    is_int(jnum(v, "choices.0.index"), 0,
           "bare: the index the provider left out is the choice's position");
    is_int(jnum(v, "usage.total_tokens"), 990, "bare: the summed usage");
    cJSON_Delete(v);

    /* a full reply: the provider's fields survive, model and usage not */
    v = response("{\"id\":\"chatcmpl-abc\",\"object\":\"chat.completion\","
                 "\"created\":1700000000,\"model\":\"gpt-4o-2024-08-06\","
                 "\"system_fingerprint\":\"fp_1\",\"service_tier\":\"default\","
                 "\"choices\":[{\"index\":0,\"message\":{\"role\":"
                 "\"assistant\",\"content\":null,\"refusal\":null,"
                 "\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
                 "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}],"
                 "\"annotations\":[]},\"logprobs\":{\"content\":[]},"
                 "\"finish_reason\":\"tool_calls\"}],"
                 "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,"
                 "\"total_tokens\":2}}", -1, USAGE, &out, "full reply");
    is_str(jstr(v, "id"), "chatcmpl-abc", "full: the provider's id");
    is_int(jnum(v, "created"), 1700000000, "full: the provider's created");
    is_str(jstr(v, "model"), "moa-gpt-4o-v1", "full: model replaced");
    is_str(jstr(v, "system_fingerprint"), "fp_1", "full: fingerprint");
    is_str(jstr(v, "service_tier"), "default", "full: service_tier");
    is_int(jnum(v, "usage.prompt_tokens"), 900, "full: usage replaced");
    is_int(jsize(v, "usage"), 3, "full: only the summed usage");
    is_str(jstr(v, "choices.0.message.tool_calls.0.id"), "call_1",
           "full: tool call id kept");
    is_str(jstr(v, "choices.0.finish_reason"), "tool_calls",
           "full: finish_reason kept");
    is_int(jsize(v, "choices.0.logprobs.content"), 0, "full: logprobs kept");
    is_int(jsize(v, "choices.0.message.annotations"), 0,
           "full: annotations kept");
    is_int(count_of(out.data, out.len, "\"model\""), 1, "full: one model");
    is_int(count_of(out.data, out.len, "\"usage\""), 1, "full: one usage");
    cJSON_Delete(v);

    /*
     * a provider's duplicate keys: cJSON reads the first, most clients
     * the last; only the module's values may reach the client
     */
    v = response("{\"model\":\"p1\",\"usage\":{\"total_tokens\":1},"
                 "\"object\":\"x\",\"choices\":[{\"index\":5,\"message\":"
                 "{\"content\":\"a\",\"tool_calls\":[],\"tool_calls\":[],"
                 "\"role\":\"assistant\"},\"index\":6}],\"model\":\"p2\","
                 "\"usage\":{\"total_tokens\":2},\"object\":\"y\","
                 "\"choices\":[{\"message\":{\"content\":\"b\"}}]}", 0, USAGE,
                 &out, "duplicate keys");
    is_int(count_of(out.data, out.len, "\"model\""), 1,
           "duplicates: one model");
    is_int(count_of(out.data, out.len, "\"usage\""), 1,
           "duplicates: one usage");
    is_int(count_of(out.data, out.len, "\"object\""), 1,
           "duplicates: one object");
    is_int(count_of(out.data, out.len, "\"choices\""), 1,
           "duplicates: one choices");
    is_int(count_of(out.data, out.len, "\"index\""), 1,
           "duplicates: one index");
    hasnt(out.data, out.len, "tool_calls", "duplicates: no tool_calls []");
    is_str(jstr(v, "choices.0.message.content"), "a",
           "duplicates: the choice cJSON read");
    cJSON_Delete(v);

    /* empty or null tool_calls removed, non-empty kept */
    v = response("{\"choices\":[{\"message\":{\"content\":\"a\","
                 "\"tool_calls\":[]}},{\"message\":{\"content\":\"b\","
                 "\"tool_calls\":null}},{\"message\":{\"content\":null,"
                 "\"tool_calls\":[{\"id\":\"c\"}]},\"finish_reason\":"
                 "\"tool_calls\"}]}", -1, USAGE, &out, "tool_calls");
    ok(!jhas(v, "choices.0.message.tool_calls"), "tool_calls []: removed");
    ok(!jhas(v, "choices.1.message.tool_calls"), "tool_calls null: removed");
    is_int(jsize(v, "choices.2.message.tool_calls"), 1,
           "tool_calls [1]: kept");
    is_int(jsize(v, "choices"), 3, "every choice kept");
    cJSON_Delete(v);

    /* choice selection: a candidate as the answer, as index 0 */
    v = response("{\"choices\":[{\"index\":0,\"message\":{\"content\":\"a\"}},"
                 "{\"index\":1,\"message\":{\"content\":\"b\"},"
                 "\"finish_reason\":\"length\"},{\"index\":2,\"message\":"
                 "{\"content\":\"c\"}}]}", 1, USAGE, &out, "choice 1");
    is_int(jsize(v, "choices"), 1, "choice 1: one choice left");
    is_str(jstr(v, "choices.0.message.content"), "b", "choice 1: the second");
    is_int(jnum(v, "choices.0.index"), 0, "choice 1: renumbered 0");
    is_str(jstr(v, "choices.0.finish_reason"), "length",
           "choice 1: its finish_reason");
    cJSON_Delete(v);

    v = response("{\"choices\":[{\"message\":{\"content\":\"a\"}}]}", 0,
                 USAGE, &out, "choice 0 of 1");
    is_int(jnum(v, "choices.0.index"), 0, "choice 0: index added");
    cJSON_Delete(v);

    /* a choice out of range fails */
    ok(ngx_http_moa_reply_parse(&rep,
           S("{\"choices\":[{\"message\":{}}]}"), &err) == 0, "parsed");
    {
        cJSON  *u;

        u = cJSON_Parse(USAGE);
        out.len = 0;
        ok(ngx_http_moa_response_build(&out, &rep, 3, "m", u) == -1,
           "choice out of range: -1");
        cJSON_Delete(u);
    }
    ngx_http_moa_reply_free(&rep);

    /* created of the wrong type is replaced, object always set */
    v = response("{\"object\":\"list\",\"created\":\"yesterday\",\"id\":7,"
                 "\"choices\":[{\"message\":{\"role\":\"assistant\"}}]}", -1,
                 USAGE, &out, "odd fields");
    is_str(jstr(v, "object"), "chat.completion", "odd: object replaced");
    ok(cJSON_IsNumber(jget(v, "created")), "odd: created a number");
    is_int(jnum(v, "id"), 7, "odd: an id of another type is left");
    cJSON_Delete(v);

    /* a created that is not finite would print as null: now instead */
    v = response("{\"created\":1e999,\"choices\":[{\"message\":{}}]}", -1,
                 USAGE, &out, "created infinite");
    ok(cJSON_IsNumber(jget(v, "created")) && jnum(v, "created") > 1.6e9,
       "created 1e999: replaced by now");
    hasnt(out.data, out.len, "\"created\":null", "created 1e999: not null");
    cJSON_Delete(v);

    v = response("{\"created\":-1e999,\"choices\":[{\"message\":{}}]}", -1,
                 USAGE, &out, "created -infinite");
    ok(cJSON_IsNumber(jget(v, "created")) && jnum(v, "created") > 1.6e9,
       "created -1e999: replaced by now");
    cJSON_Delete(v);

    /* a usage sum that is not finite is printed as 0, not null */
    v = response("{\"choices\":[{\"message\":{}}]}", -1,
                 "{\"prompt_tokens\":1e999,\"completion_tokens\":2,"
                 "\"details\":{\"x\":-1e999}}", &out, "usage infinite");
    ok(cJSON_IsNumber(jget(v, "usage.prompt_tokens"))
       && jnum(v, "usage.prompt_tokens") == 0
       && jnum(v, "usage.details.x") == 0, "usage infinite: 0");
    is_int(jnum(v, "usage.completion_tokens"), 2, "usage infinite: the rest");
    ok(cJSON_IsNumber(jget(v, "usage.details.x")),
       "usage infinite: no null, nested either");
    cJSON_Delete(v);

    /* a model name that needs escaping */
    {
        cJSON                 *u;
        ngx_http_moa_reply_t   r;

        ok(ngx_http_moa_reply_parse(&r, S("{\"choices\":[{\"message\":{}}]}"),
                                    &err) == 0, "parsed");
        u = cJSON_Parse(USAGE);
        out.len = 0;
        ok(ngx_http_moa_response_build(&out, &r, -1, "m\"\\\n", u) == 0,
           "odd model name: built");
        v = json_ok(out.data, out.len, "odd model name");
        is_str(jstr(v, "model"), "m\"\\\n", "odd model name: kept");
        cJSON_Delete(v);
        cJSON_Delete(u);
        ngx_http_moa_reply_free(&r);
    }

    /* every choice normalised */
    v = response("{\"choices\":[{\"message\":{\"content\":\"a\"}},"
                 "{\"message\":{\"content\":\"b\"}}]}", -1, USAGE, &out,
                 "two choices");
    cJSON_ArrayForEach(c, jget(v, "choices")) {
        ok(jhas(c, "logprobs") && jhas(c, "finish_reason")
           && jhas(c, "message.refusal") && jhas(c, "message.role"),
           "two choices: normalised");
    }
    is_int(jnum(v, "choices.1.index"), 1, "two choices: the second's index");
    cJSON_Delete(v);

    ngx_http_moa_buf_free(&out);
}


#define FAST_CHOICE                                                          \
    "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"          \
    "\"x \\u00e9\",\"refusal\":null},\"logprobs\":null,"                     \
    "\"finish_reason\":\"stop\"}"

#define FAST_TOP  "\"id\":\"c\",\"object\":\"chat.completion\",\"created\":17"

#define paths(name, reply, fast)  paths_u(name, reply, USAGE, fast)


/* one reply: both paths agree, and the fast one is taken or not */
static void
paths_u(const char *name, const char *reply, const char *usage, int fast)
{
    int                    f;
    cJSON                 *u;
    const char            *why;
    ngx_http_moa_buf_t     out, tree;
    ngx_http_moa_reply_t   rep;

    memset(&out, 0, sizeof(out));
    memset(&tree, 0, sizeof(tree));

    if (!ok(ngx_http_moa_reply_parse(&rep, reply, strlen(reply), &err) == 0,
            "%s: parsed", name))
    {
        diag("    %s", err.message);
        ngx_http_moa_reply_free(&rep);
        return;
    }

    u = cJSON_Parse(usage);
    why = check_response_paths(&rep, "moa-gpt-4o-v1", u, &out, &tree, &f);

    if (!ok(why == NULL, "%s: the paths agree", name)) {
        diag("    %s\n    fast: %.*s\n    tree: %.*s", why, (int) out.len,
             out.data, (int) tree.len, tree.data);
    }

    is_int(f, fast, "%s: %s", name, fast ? "answered with its own bytes"
                                         : "through the tree");

    cJSON_Delete(u);
    ngx_http_moa_reply_free(&rep);
    ngx_http_moa_buf_free(&out);
    ngx_http_moa_buf_free(&tree);
}


static void
test_fast(void)
{
    int                    rc;
    cJSON                 *u, *v;
    ngx_http_moa_buf_t     out;
    ngx_http_moa_reply_t   rep;

    static const char      full[] =
        "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\","
        "\"created\":1700000000,\"model\":\"gpt-4o\",\"choices\":["
        "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
        "\"Hi \\u00e9 <\\/b>\",\"refusal\":null},\"logprobs\":null,"
        "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1,"
        "\"completion_tokens\":2,\"total_tokens\":3},"
        "\"system_fingerprint\":\"fp_1\"}";

    static const char      spaced[] =
        " {\n \"id\" : \"x\" ,\"object\":\"chat.completion\", \"created\": 1 ,"
        " \"choices\" : [ { \"index\" : 0 , \"message\" : { \"role\" :"
        " \"assistant\" , \"content\" : null , \"refusal\" : \"no\" ,"
        " \"tool_calls\" : [ { \"id\" : \"c\" } ] } , \"logprobs\" : null ,"
        " \"finish_reason\" : \"tool_calls\" } ] }\n";

    memset(&out, 0, sizeof(out));
    u = cJSON_Parse(USAGE);

    /* the reply's own bytes, model and usage replaced in place */
    ok(ngx_http_moa_reply_parse(&rep, S(full), &err) == 0, "full: parsed");
    rc = ngx_http_moa_response_build(&out, &rep, -1, "moa-gpt-4o-v1", u);
    ok(rc == 0, "full: built");
    is_mem(out.data, out.len,
           "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\","
           "\"created\":1700000000,\"model\":\"moa-gpt-4o-v1\",\"choices\":["
           "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
           "\"Hi \\u00e9 <\\/b>\",\"refusal\":null},\"logprobs\":null,"
           "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":900,"
           "\"completion_tokens\":90,\"total_tokens\":990},"
           "\"system_fingerprint\":\"fp_1\"}", "full: exact");
    ok(rep.root == NULL, "full: no tree was made");

    /* a candidate as the answer always goes through the tree */
    out.len = 0;
    ok(ngx_http_moa_response_build(&out, &rep, 0, "moa-gpt-4o-v1", u) == 0,
       "full, choice 0: built");
    has(out.data, out.len, "\"content\":\"Hi \\u00e9 <\\/b>\"",
        "full, choice 0: the provider's bytes");
    ngx_http_moa_reply_free(&rep);

    /* whitespace between members goes, inside values stays; model and
     * usage added at the end */
    ok(ngx_http_moa_reply_parse(&rep, S(spaced), &err) == 0,
       "spaced: parsed");
    out.len = 0;
    ok(ngx_http_moa_response_build(&out, &rep, -1, "m\"1", u) == 0,
       "spaced: built");
    is_mem(out.data, out.len,
           "{\"id\":\"x\",\"object\":\"chat.completion\",\"created\":1,"
           "\"choices\":[ { \"index\" : 0 , \"message\" : { \"role\" :"
           " \"assistant\" , \"content\" : null , \"refusal\" : \"no\" ,"
           " \"tool_calls\" : [ { \"id\" : \"c\" } ] } , \"logprobs\" : null ,"
           " \"finish_reason\" : \"tool_calls\" } ],\"model\":\"m\\\"1\","
           "\"usage\":{\"prompt_tokens\":900,\"completion_tokens\":90,"
           "\"total_tokens\":990}}", "spaced: exact");
    v = json_ok(out.data, out.len, "spaced");
    is_str(jstr(v, "model"), "m\"1", "spaced: the model escaped");
    cJSON_Delete(v);
    ngx_http_moa_reply_free(&rep);

    /* no call reported a count: no usage (optional in OpenAI's schema) */
    ok(ngx_http_moa_reply_parse(&rep, S(full), &err) == 0, "parsed");
    out.len = 0;
    ok(ngx_http_moa_response_build(&out, &rep, -1, "m", NULL) == 0
       && tap_memmem(out.data, out.len, "\"usage\"") == NULL,
       "no usage: none in the answer");
    v = json_ok(out.data, out.len, "no usage");
    cJSON_Delete(v);
    ngx_http_moa_reply_free(&rep);

    {
        cJSON  *none;

        none = cJSON_Parse("{\"cost\":1}");

        ok(ngx_http_moa_reply_parse(&rep, S(spaced), &err) == 0,
           "spaced: parsed");
        out.len = 0;
        ok(ngx_http_moa_response_build(&out, &rep, -1, "m", none) == 0
           && tap_memmem(out.data, out.len, "\"usage\"") == NULL,
           "no count, fast path: no usage");
        v = json_ok(out.data, out.len, "no count, fast path");
        cJSON_Delete(v);
        ngx_http_moa_reply_free(&rep);

        ok(ngx_http_moa_reply_parse(&rep, S(full), &err) == 0, "parsed");
        out.len = 0;
        ok(ngx_http_moa_response_build(&out, &rep, 0, "m", none) == 0
           && tap_memmem(out.data, out.len, "\"usage\"") == NULL,
           "no count, tree: no usage");
        v = json_ok(out.data, out.len, "no count, tree");
        cJSON_Delete(v);
        ngx_http_moa_reply_free(&rep);

        cJSON_Delete(none);
    }

    cJSON_Delete(u);
    ngx_http_moa_buf_free(&out);

    /* in shape: the fast path, equal to the tree's answer */
    paths("in shape", "{" FAST_TOP ",\"choices\":[" FAST_CHOICE "]}", 1);
    paths("in shape, model and usage there", "{\"usage\":{\"x\":1},"
          FAST_TOP ",\"model\":\"p\",\"choices\":[" FAST_CHOICE "]}", 1);
    paths("in shape, two choices", "{" FAST_TOP ",\"choices\":["
          FAST_CHOICE "," FAST_CHOICE "]}", 1);
    paths("in shape, provider fields", "{" FAST_TOP ",\"choices\":["
          FAST_CHOICE "],\"service_tier\":\"default\",\"x\":{\"a\":[1,"
          "{\"b\":null,\"b\":2}],\"big\":1e999,\"s\":\"\\u0000cut\"}}", 1);
    paths("in shape, an id of another type", "{\"id\":null,\"object\":"
          "\"chat.completion\",\"created\":0,\"choices\":[" FAST_CHOICE "]}",
          1);
    paths("in shape, tool calls", "{" FAST_TOP ",\"choices\":[{\"index\":0,"
          "\"message\":{\"role\":\"assistant\",\"content\":null,\"refusal\":"
          "null,\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\","
          "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
          "\"logprobs\":null,\"finish_reason\":\"tool_calls\"}]}", 1);

    /* a sum that is not finite: 0 by both paths, never null */
    paths_u("in shape, usage not finite", "{" FAST_TOP ",\"choices\":["
            FAST_CHOICE "]}", "{\"prompt_tokens\":1e999,\"d\":"
            "{\"x\":-1e999},\"total_tokens\":3}", 1);
    paths_u("usage not finite, through the tree", "{\"choices\":["
            FAST_CHOICE "]}", "{\"prompt_tokens\":1e999,\"d\":"
            "{\"x\":-1e999},\"total_tokens\":3}", 0);

    /* not in shape: the tree, whatever the reason */
    paths("a duplicate top-level key", "{" FAST_TOP ",\"id\":\"d\","
          "\"choices\":[" FAST_CHOICE "]}", 0);
    paths("duplicate choices", "{" FAST_TOP ",\"choices\":[" FAST_CHOICE
          "],\"choices\":[]}", 0);
    paths("an escaped top-level key", "{\"\\u0069d\":\"c\",\"object\":"
          "\"chat.completion\",\"created\":17,\"choices\":[" FAST_CHOICE
          "]}", 0);
    paths("no object", "{\"id\":\"c\",\"created\":17,\"choices\":["
          FAST_CHOICE "]}", 0);
    paths("another object", "{\"id\":\"c\",\"object\":\"list\","
          "\"created\":17,\"choices\":[" FAST_CHOICE "]}", 0);
    paths("an escaped object", "{\"id\":\"c\",\"object\":"
          "\"chat\\u002ecompletion\",\"created\":17,\"choices\":["
          FAST_CHOICE "]}", 0);
    paths("no created", "{\"id\":\"c\",\"object\":\"chat.completion\","
          "\"choices\":[" FAST_CHOICE "]}", 0);
    paths("created a string", "{\"id\":\"c\",\"object\":"
          "\"chat.completion\",\"created\":\"17\",\"choices\":["
          FAST_CHOICE "]}", 0);
    paths("created negative", "{\"id\":\"c\",\"object\":"
          "\"chat.completion\",\"created\":-17,\"choices\":["
          FAST_CHOICE "]}", 0);
    paths("created of 13 digits", "{\"id\":\"c\",\"object\":"
          "\"chat.completion\",\"created\":1234567890123,\"choices\":["
          FAST_CHOICE "]}", 0);
    paths("no id", "{\"object\":\"chat.completion\",\"created\":17,"
          "\"choices\":[" FAST_CHOICE "]}", 0);
    paths("created infinite", "{\"id\":\"c\",\"object\":"
          "\"chat.completion\",\"created\":1e999,\"choices\":["
          FAST_CHOICE "]}", 0);
    paths("created not an integer", "{\"id\":\"c\",\"object\":"
          "\"chat.completion\",\"created\":17e0,\"choices\":["
          FAST_CHOICE "]}", 0);
    paths("a choice without index", "{" FAST_TOP ",\"choices\":["
          FAST_CHOICE ",{\"message\":{\"role\":\"assistant\",\"content\":"
          "\"y\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":"
          "\"stop\"}]}", 0);
    paths("a choice with tool_calls []", "{" FAST_TOP ",\"choices\":["
          "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
          "\"x\",\"refusal\":null,\"tool_calls\":[]},\"logprobs\":null,"
          "\"finish_reason\":\"stop\"}]}", 0);

    /*
     * duplicates in a choice or its message: the tree keeps the first
     * (the one the module read), clients the last; escaped keys may be
     * duplicates once decoded
     */
    paths("a duplicate index", "{" FAST_TOP ",\"choices\":[{\"index\":0,"
          "\"index\":1,\"message\":{\"role\":\"assistant\",\"content\":"
          "\"x \\u00e9\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":"
          "\"stop\"}]}", 0);
    paths("a duplicate message", "{" FAST_TOP ",\"choices\":[{\"index\":0,"
          "\"message\":{\"role\":\"assistant\",\"content\":\"x \\u00e9\","
          "\"refusal\":null},\"message\":{},\"logprobs\":null,"
          "\"finish_reason\":\"stop\"}]}", 0);
    paths("a duplicate content", "{" FAST_TOP ",\"choices\":[{\"index\":0,"
          "\"message\":{\"role\":\"assistant\",\"content\":\"x \\u00e9\","
          "\"content\":\"y\",\"refusal\":null},\"logprobs\":null,"
          "\"finish_reason\":\"stop\"}]}", 0);
    paths("an empty tool_calls after some", "{" FAST_TOP ",\"choices\":["
          "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
          "\"x \\u00e9\",\"refusal\":null,\"tool_calls\":[1],"
          "\"tool_calls\":[]},\"logprobs\":null,\"finish_reason\":"
          "\"stop\"}]}", 0);
    paths("an escaped index and an index", "{" FAST_TOP ",\"choices\":["
          "{\"\\u0069ndex\":0,\"index\":2,\"message\":{\"role\":"
          "\"assistant\",\"content\":\"x \\u00e9\",\"refusal\":null},"
          "\"logprobs\":null,\"finish_reason\":\"stop\"}]}", 0);
    paths("an escaped key in a message", "{" FAST_TOP ",\"choices\":["
          "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
          "\"x \\u00e9\",\"refusal\":null,\"r\\u0065fusal\":\"no\"},"
          "\"logprobs\":null,\"finish_reason\":\"stop\"}]}", 0);
    paths("a duplicate key of the provider's", "{" FAST_TOP ",\"choices\":["
          "{\"index\":0,\"x\":1,\"x\":2,\"message\":{\"role\":"
          "\"assistant\",\"content\":\"x \\u00e9\",\"refusal\":null},"
          "\"logprobs\":null,\"finish_reason\":\"stop\"}]}", 0);
}


/* n members "kN":N, then what follows */
static void
many_keys(ngx_http_moa_buf_t *b, int n)
{
    int  i;

    for (i = 0; i < n; i++) {
        ngx_http_moa_buf_lit(b, "\"k");
        ngx_http_moa_buf_int(b, i);
        ngx_http_moa_buf_lit(b, "\":");
        ngx_http_moa_buf_int(b, i);
        ngx_http_moa_buf_lit(b, ",");
    }
}


/*
 * Duplicates are looked for pair by pair: an object with more keys than
 * any reply in shape has goes through the tree (a reply of 100000 keys
 * took half a minute of a worker's time).
 */
static void
test_many_keys(void)
{
    int                 extra;
    ngx_http_moa_buf_t  b;

    memset(&b, 0, sizeof(b));

    for (extra = 60; extra <= 61; extra++) {
        b.len = 0;
        ngx_http_moa_buf_lit(&b, "{");
        many_keys(&b, extra);
        ngx_http_moa_buf_lit(&b, FAST_TOP ",\"choices\":[" FAST_CHOICE "]}");
        ngx_http_moa_buf_add(&b, "", 1);

        paths(extra == 60 ? "64 top-level keys" : "65 top-level keys", b.data,
              extra == 60);

        b.len = 0;
        ngx_http_moa_buf_lit(&b, "{" FAST_TOP ",\"choices\":[{");
        many_keys(&b, extra);
        ngx_http_moa_buf_lit(&b, "\"index\":0,\"message\":{\"role\":"
                                "\"assistant\",\"content\":\"x \\u00e9\","
                                "\"refusal\":null},\"logprobs\":null,"
                                "\"finish_reason\":\"stop\"}]}");
        ngx_http_moa_buf_add(&b, "", 1);

        paths(extra == 60 ? "64 keys in a choice" : "65 keys in a choice",
              b.data, extra == 60);

        b.len = 0;
        ngx_http_moa_buf_lit(&b, "{" FAST_TOP ",\"choices\":[{\"index\":0,"
                                "\"message\":{");
        many_keys(&b, extra + 1);
        ngx_http_moa_buf_lit(&b, "\"role\":\"assistant\",\"content\":"
                                "\"x \\u00e9\",\"refusal\":null},"
                                "\"logprobs\":null,"
                                "\"finish_reason\":\"stop\"}]}");
        ngx_http_moa_buf_add(&b, "", 1);

        paths(extra == 60 ? "64 keys in a message" : "65 keys in a message",
              b.data, extra == 60);
    }

    /* many keys: the answer is still right, through the tree */
    b.len = 0;
    ngx_http_moa_buf_lit(&b, "{");
    many_keys(&b, 20000);
    ngx_http_moa_buf_lit(&b, FAST_TOP ",\"choices\":[" FAST_CHOICE "]}");
    ngx_http_moa_buf_add(&b, "", 1);

    paths("20000 top-level keys", b.data, 0);

    ngx_http_moa_buf_free(&b);
}


/* a random reply in shape, in many spellings */
static uint64_t  rnd_state = 7;


static unsigned
rnd(unsigned n)
{
    rnd_state = rnd_state * 6364136223846793005ULL + 1442695040888963407ULL;

    return (unsigned) (rnd_state >> 33) % n;
}


static void
rnd_ws(ngx_http_moa_buf_t *b)
{
    static const char  *ws[] = { "", "", "", " ", "\n  ", "\t", "\r\n" };

    ngx_http_moa_buf_cstr(b, ws[rnd(7)]);
}


static void
rnd_string(ngx_http_moa_buf_t *b)
{
    unsigned            i, n;

    static const char  *frag[] = {
        "a", "Hello", " ", "\xc3\xa9", "\\u00e9", "\\n", "\\\"", "\\\\",
        "\\/", "\\u0000", "</candidate>", "\\u003c", "\\ud83d\\ude00",
        "\\t", "{}", "[", "\\u001f", "\xf0\x9f\x98\x80"
    };

    n = rnd(6);
    ngx_http_moa_buf_lit(b, "\"");

    for (i = 0; i < n; i++) {
        ngx_http_moa_buf_cstr(b, frag[rnd(sizeof(frag) / sizeof(frag[0]))]);
    }

    ngx_http_moa_buf_lit(b, "\"");
}


static void
rnd_value(ngx_http_moa_buf_t *b, int depth)
{
    unsigned            i, n;

    static const char  *scalar[] = {
        "null", "true", "false", "0", "-0", "1.5", "-2e3", "1E+2", "1e999",
        "-1e999", "12345678901234567890", "4.9e-324", "0.1"
    };

    switch (depth > 2 ? rnd(2) : rnd(4)) {

    case 0:
        ngx_http_moa_buf_cstr(b, scalar[rnd(sizeof(scalar)
                                            / sizeof(scalar[0]))]);
        break;

    case 1:
        rnd_string(b);
        break;

    case 2:
        n = rnd(4);
        ngx_http_moa_buf_lit(b, "[");

        for (i = 0; i < n; i++) {
            rnd_ws(b);
            ngx_http_moa_buf_cstr(b, i ? "," : "");
            rnd_value(b, depth + 1);
            rnd_ws(b);
        }

        ngx_http_moa_buf_lit(b, "]");
        break;

    default:
        n = rnd(4);
        ngx_http_moa_buf_lit(b, "{");

        for (i = 0; i < n; i++) {
            ngx_http_moa_buf_cstr(b, i ? "," : "");
            rnd_ws(b);
            /* duplicates and escapes deeper than the choices are kept */
            ngx_http_moa_buf_cstr(b, rnd(3) ? "\"k\"" : rnd(2) ? "\"\\u006b\""
                                                       : "\"j\"");
            rnd_ws(b);
            ngx_http_moa_buf_lit(b, ":");
            rnd_value(b, depth + 1);
        }

        ngx_http_moa_buf_lit(b, "}");
    }
}


/* members in a random order, each written by the callback */
static void
rnd_object(ngx_http_moa_buf_t *b, const char **keys, int n,
    void (*value)(ngx_http_moa_buf_t *b, const char *key))
{
    int  i, k, t, order[16];

    for (i = 0; i < n; i++) {
        order[i] = i;
    }

    for (i = n - 1; i > 0; i--) {
        k = (int) rnd((unsigned) i + 1);
        t = order[i];
        order[i] = order[k];
        order[k] = t;
    }

    ngx_http_moa_buf_lit(b, "{");
    rnd_ws(b);

    for (i = 0; i < n; i++) {
        if (i) {
            ngx_http_moa_buf_lit(b, ",");
            rnd_ws(b);
        }

        ngx_http_moa_buf_lit(b, "\"");
        ngx_http_moa_buf_cstr(b, keys[order[i]]);
        ngx_http_moa_buf_lit(b, "\"");
        rnd_ws(b);
        ngx_http_moa_buf_lit(b, ":");
        rnd_ws(b);
        value(b, keys[order[i]]);
        rnd_ws(b);
    }

    ngx_http_moa_buf_lit(b, "}");
}


static void
rnd_message_value(ngx_http_moa_buf_t *b, const char *key)
{
    unsigned  i, n;

    if (strcmp(key, "role") == 0) {
        ngx_http_moa_buf_lit(b, "\"assistant\"");

    } else if (strcmp(key, "content") == 0 || strcmp(key, "refusal") == 0) {
        if (rnd(3) == 0) {
            ngx_http_moa_buf_lit(b, "null");

        } else if (rnd(4) == 0) {
            ngx_http_moa_buf_lit(b, "[{\"type\":\"text\",\"text\":");
            rnd_string(b);
            ngx_http_moa_buf_lit(b, "}]");

        } else {
            rnd_string(b);
        }

    } else if (strcmp(key, "tool_calls") == 0) {
        n = 1 + rnd(3);
        ngx_http_moa_buf_lit(b, "[");

        for (i = 0; i < n; i++) {
            ngx_http_moa_buf_cstr(b, i ? "," : "");
            ngx_http_moa_buf_lit(b, "{\"id\":");
            rnd_string(b);
            ngx_http_moa_buf_lit(b, ",\"type\":\"function\",\"function\":"
                                    "{\"name\":\"f\",\"arguments\":");
            rnd_string(b);
            ngx_http_moa_buf_lit(b, "}}");
        }

        ngx_http_moa_buf_lit(b, "]");

    } else {
        rnd_value(b, 1);
    }
}


static void
rnd_choice_value(ngx_http_moa_buf_t *b, const char *key)
{
    static const char  *mkeys[] = {
        "role", "content", "refusal", "tool_calls", "annotations", "audio"
    };

    if (strcmp(key, "index") == 0) {
        ngx_http_moa_buf_int(b, rnd(5));

    } else if (strcmp(key, "message") == 0) {
        rnd_object(b, mkeys, 3 + rnd(4), rnd_message_value);

    } else if (strcmp(key, "finish_reason") == 0) {
        ngx_http_moa_buf_cstr(b, rnd(2) ? "\"stop\"" : "null");

    } else {
        rnd_value(b, 1);
    }
}


static void
rnd_top_value(ngx_http_moa_buf_t *b, const char *key)
{
    unsigned            i, n;

    static const char  *ckeys[] = {
        "index", "message", "logprobs", "finish_reason", "extra"
    };

    if (strcmp(key, "object") == 0) {
        ngx_http_moa_buf_lit(b, "\"chat.completion\"");

    } else if (strcmp(key, "created") == 0) {
        ngx_http_moa_buf_int(b, rnd(2) ? 1700000000 + rnd(1000) : rnd(10));

    } else if (strcmp(key, "choices") == 0) {
        n = 1 + rnd(3);
        ngx_http_moa_buf_lit(b, "[");

        for (i = 0; i < n; i++) {
            ngx_http_moa_buf_cstr(b, i ? "," : "");
            rnd_ws(b);
            rnd_object(b, ckeys, 4 + rnd(2), rnd_choice_value);
        }

        ngx_http_moa_buf_lit(b, "]");

    } else if (strcmp(key, "usage") == 0) {
        ngx_http_moa_buf_lit(b, "{\"total_tokens\":5}");

    } else {
        rnd_value(b, 1);
    }
}


static void
test_paths_random(void)
{
    int                    i, f, nfast, bad;
    cJSON                 *u;
    const char            *why;
    ngx_http_moa_buf_t     b, out, tree;
    ngx_http_moa_reply_t   rep;

    static const char     *keys[] = {
        "object", "created", "choices", "id", "model", "usage",
        "system_fingerprint", "service_tier", "extra"
    };

    memset(&b, 0, sizeof(b));
    memset(&out, 0, sizeof(out));
    memset(&tree, 0, sizeof(tree));

    u = cJSON_Parse("{\"prompt_tokens\":9,\"completion_tokens\":1,"
                    "\"total_tokens\":10,\"details\":{\"cached\":0.5}}");

    nfast = 0;
    bad = 0;

    for (i = 0; i < 2000; i++) {
        b.len = 0;
        rnd_ws(&b);
        rnd_object(&b, keys, 4 + rnd(6), rnd_top_value);
        rnd_ws(&b);

        if (ngx_http_moa_reply_parse(&rep, b.data, b.len, &err) != 0) {
            if (bad++ == 0) {
                diag("    refused: %.*s\n    %s", (int) b.len, b.data,
                     err.message);
            }

            ngx_http_moa_reply_free(&rep);
            continue;
        }

        why = check_response_paths(&rep, "moa-gpt-4o-v1", u, &out, &tree,
                                   &f);
        nfast += f;

        if (why != NULL || !f) {
            if (bad++ == 0) {
                diag("    %s\n    reply: %.*s\n    fast: %.*s\n    tree: %.*s",
                     why ? why : "the tree path was taken", (int) b.len,
                     b.data, (int) out.len, out.data, (int) tree.len,
                     tree.data);
            }
        }

        ngx_http_moa_reply_free(&rep);
    }

    ok(bad == 0, "2000 random replies in shape: the fast path, equal to "
       "the tree's answer (%d fast)", nfast);

    cJSON_Delete(u);
    ngx_http_moa_buf_free(&b);
    ngx_http_moa_buf_free(&out);
    ngx_http_moa_buf_free(&tree);
}


/*
 * A \u0000 in a string is kept with what follows on every path: cJSON,
 * which stores C strings, cut "before\u0000after" to "before".
 */
static void
test_nul(void)
{
    cJSON                 *u, *v;
    ngx_http_moa_buf_t     out;
    ngx_http_moa_reply_t   rep;

    static const char    bare[] =
        "{\"choices\":[{\"message\":{\"content\":\"before\\u0000after\"}}],"
        "\"x\":\"a\\u0000b\"}";

    static const char    two[] =
        "{\"id\":\"i\\u0000d\",\"object\":\"chat.completion\",\"created\":1,"
        "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
        "\"content\":\"a\",\"refusal\":null},\"logprobs\":null,"
        "\"finish_reason\":\"stop\"},{\"index\":1,\"message\":{\"role\":"
        "\"assistant\",\"content\":\"before\\u0000after\",\"refusal\":"
        "\"no\\u0000pe\"},\"logprobs\":null,\"finish_reason\":\"stop\"}]}";

    memset(&out, 0, sizeof(out));

    v = response(bare, -1, USAGE, &out, "NUL, no refusal");
    has(out.data, out.len, "\"content\":\"before\\u0000after\"",
        "NUL, no refusal: the content whole");
    has(out.data, out.len, "\"x\":\"a\\u0000b\"",
        "NUL, no refusal: another string whole");
    cJSON_Delete(v);

    v = response(two, 1, USAGE, &out, "NUL, a candidate");
    has(out.data, out.len, "\"content\":\"before\\u0000after\"",
        "NUL, a candidate: the content whole");
    has(out.data, out.len, "\"refusal\":\"no\\u0000pe\"",
        "NUL, a candidate: the refusal whole");
    has(out.data, out.len, "\"id\":\"i\\u0000d\"",
        "NUL, a candidate: the id whole");
    is_int(jnum(v, "choices.0.index"), 0, "NUL, a candidate: index 0");
    is_int(cJSON_GetArraySize(jget(v, "choices")), 1,
           "NUL, a candidate: alone");
    cJSON_Delete(v);

    /* a proposal's reply keeps its spans only: the tokens are cut again */
    u = cJSON_Parse(USAGE);
    out.len = 0;
    ok(ngx_http_moa_reply_parse(&rep, S(two), &err) == 0,
       "tokens freed: parsed");
    ngx_http_moa_json_free(&rep.json);
    ok(ngx_http_moa_response_build(&out, &rep, 1, "moa-gpt-4o-v1", u) == 0,
       "tokens freed: built");
    has(out.data, out.len, "\"content\":\"before\\u0000after\"",
        "tokens freed: the candidate");
    ngx_http_moa_reply_free(&rep);
    cJSON_Delete(u);

    ngx_http_moa_buf_free(&out);
}


int
main(void)
{
    test_response();
    test_nul();
    test_fast();
    test_many_keys();
    test_paths_random();

    return done_testing();
}
