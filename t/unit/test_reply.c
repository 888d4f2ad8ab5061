
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of the reply side of ngx_http_moa_openai.[ch]: provider reply
 * parsing, candidate messages, usage summing and the final response.
 */


#include <limits.h>

#include "util.h"
#include "ngx_http_moa_openai.h"


#define S(s)  s, sizeof(s) - 1


static ngx_http_moa_error_t  err;


static void
test_reply_parse(void)
{
    size_t                i;
    ngx_http_moa_reply_t  rep;

    static const char     good[] =
        "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,"
        "\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
        "\"assistant\",\"content\":\"a\"},\"finish_reason\":\"stop\"},"
        "{\"index\":1,\"message\":{\"role\":\"assistant\",\"content\":\"b\"},"
        "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1,"
        "\"completion_tokens\":2,\"total_tokens\":3}}";

    static const struct {
        const char  *name;
        const char  *body;
        const char  *code;
        const char  *message;
    } bad[] = {
        { "not JSON", "<html>", "bad_upstream_reply", "not a JSON object" },
        { "empty", "", "bad_upstream_reply", "not a JSON object" },
        { "an array", "[{}]", "bad_upstream_reply", "not a JSON object" },
        { "an error", "{\"error\":{\"message\":\"quota\",\"type\":\"x\"}}",
          "upstream_error", "the provider answered with an error: quota" },
        { "an error without message", "{\"error\":{\"code\":1}}",
          "upstream_error", "(no message)" },
        { "an error string", "{\"error\":\"boom\",\"choices\":[]}",
          "upstream_error", "(no message)" },
        { "no choices", "{\"id\":\"x\"}", "bad_upstream_reply",
          "has no choices" },
        { "choices null", "{\"choices\":null}", "bad_upstream_reply",
          "has no choices" },
        { "choices empty", "{\"choices\":[]}", "bad_upstream_reply",
          "has no choices" },
        { "choices an object", "{\"choices\":{\"message\":{}}}",
          "bad_upstream_reply", "has no choices" },
        { "a choice without message", "{\"choices\":[{\"message\":{}},"
          "{\"text\":\"x\"}]}", "bad_upstream_reply", "without a message" },
        { "a message that is a string", "{\"choices\":[{\"message\":"
          "\"hi\"}]}", "bad_upstream_reply", "without a message" },
        { "a choice that is not an object", "{\"choices\":[1]}",
          "bad_upstream_reply", "without a message" },
    };

    ok(ngx_http_moa_reply_parse(&rep, S(good), &err) == 0, "reply: parsed");
    is_int(rep.nchoices, 2, "reply: two choices");
    ok(rep.usage && jnum(rep.usage, "total_tokens") == 3, "reply: usage");
    is_str(jstr(ngx_http_moa_reply_message(&rep, 0), "content"), "a",
           "reply_message 0");
    is_str(jstr(ngx_http_moa_reply_message(&rep, 1), "content"), "b",
           "reply_message 1");
    ok(ngx_http_moa_reply_message(&rep, 2) == NULL, "reply_message 2: NULL");
    ok(ngx_http_moa_reply_message(&rep, -1) == NULL,
       "reply_message -1: NULL");
    ngx_http_moa_reply_free(&rep);
    ok(rep.root == NULL, "reply_free clears root");
    ngx_http_moa_reply_free(&rep);

    ok(ngx_http_moa_reply_parse(&rep,
           S("{\"choices\":[{\"message\":{}}],\"usage\":null,"
             "\"error\":null}"), &err) == 0,
       "reply: usage null and error null are fine");
    ok(rep.usage == NULL, "reply: usage null is no usage");
    ngx_http_moa_reply_free(&rep);

    ok(ngx_http_moa_reply_parse(&rep,
           S("{\"choices\":[{\"message\":{}}],\"usage\":[1]}"), &err) == 0
       && rep.usage == NULL, "reply: usage that is not an object is none");
    ngx_http_moa_reply_free(&rep);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&err, 0, sizeof(err));

        ok(ngx_http_moa_reply_parse(&rep, bad[i].body, strlen(bad[i].body),
                                    &err) == -1,
           "reply refused: %s", bad[i].name);
        is_int(err.status, 502, "reply refused: %s: 502", bad[i].name);
        is_str(err.type, "upstream_error", "reply refused: %s: type",
               bad[i].name);
        is_str(err.code, bad[i].code, "reply refused: %s: code", bad[i].name);
        has(err.message, strlen(err.message), bad[i].message,
            "reply refused: %s: message", bad[i].name);
        ngx_http_moa_reply_free(&rep);
    }

    /* a provider message is cut to fit */
    {
        char                big[600];
        ngx_http_moa_buf_t  b;

        memset(&b, 0, sizeof(b));
        memset(big, 'm', sizeof(big));
        ngx_http_moa_buf_lit(&b, "{\"error\":{\"message\":\"");
        ngx_http_moa_buf_add(&b, big, sizeof(big));
        ngx_http_moa_buf_lit(&b, "\"}}");

        ok(ngx_http_moa_reply_parse(&rep, b.data, b.len, &err) == -1
           && strlen(err.message) < sizeof(err.message),
           "reply refused: a long provider message is cut");
        ngx_http_moa_reply_free(&rep);
        ngx_http_moa_buf_free(&b);
    }
}


static int
usable(const char *json)
{
    int     rc;
    cJSON  *m;

    m = cJSON_Parse(json);
    rc = ngx_http_moa_message_usable(m);
    cJSON_Delete(m);

    return rc;
}


static void
text(const char *json, const char *expected, const char *name)
{
    cJSON               *m;
    ngx_http_moa_buf_t   out;

    memset(&out, 0, sizeof(out));

    m = cJSON_Parse(json);
    ngx_http_moa_message_text(&out, m);
    cJSON_Delete(m);

    ok(!out.nomem, "message_text: %s: no error", name);
    is_mem(out.data ? out.data : "", out.len, expected, "message_text: %s",
           name);

    ngx_http_moa_buf_free(&out);
}


static void
test_message(void)
{
    ok(usable("{\"content\":\"x\"}"), "usable: text");
    ok(usable("{\"content\":\" \\n\\tx\"}"), "usable: text after spaces");
    ok(!usable("{\"content\":\"\"}"), "not usable: empty");
    ok(!usable("{\"content\":\" \\r\\n\\t \"}"), "not usable: whitespace");
    ok(!usable("{\"content\":null}"), "not usable: null");
    ok(!usable("{}"), "not usable: no content");
    ok(!usable("{\"content\":5}"), "not usable: a number");
    ok(usable("{\"content\":[{\"type\":\"text\",\"text\":\"x\"}]}"),
       "usable: a text part");
    ok(!usable("{\"content\":[{\"type\":\"text\",\"text\":\" \"},"
               "{\"type\":\"image_url\"}]}"),
       "not usable: blank text part and an image");
    ok(usable("{\"content\":null,\"tool_calls\":[{\"id\":\"c\"}]}"),
       "usable: a tool call");
    ok(!usable("{\"content\":null,\"tool_calls\":[]}"),
       "not usable: tool_calls []");
    ok(!usable("{\"content\":null,\"tool_calls\":null}"),
       "not usable: tool_calls null");
    ok(usable("{\"content\":null,\"refusal\":\"no\"}"), "usable: a refusal");
    ok(!usable("{\"content\":null,\"refusal\":\"\"}"),
       "not usable: empty refusal");
    ok(!ngx_http_moa_message_usable(NULL), "not usable: NULL");

    text("{\"content\":\"plain\"}", "plain", "content");
    text("{\"content\":\"\"}", "", "empty content");
    text("{\"content\":null}", "", "null content");
    text("{\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":"
         "\"image_url\",\"image_url\":{}},{\"type\":\"text\",\"text\":\"b\"}"
         "]}", "a\nb", "text parts joined with LF");
    text("{\"content\":null,\"refusal\":\"I can't\"}", "Refusal: I can't",
         "refusal alone");
    text("{\"content\":\"partly\",\"refusal\":\"no more\"}",
         "partly\nRefusal: no more", "content and refusal");
    text("{\"content\":\"x\",\"refusal\":\"  \"}", "x", "blank refusal");
    text("{\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":"
         "\"function\",\"function\":{\"name\":\"f\",\"arguments\":"
         "\"{\\\"a\\\":1}\"}},{\"id\":\"call_2\",\"type\":\"function\","
         "\"function\":{\"name\":\"g\",\"arguments\":\"{}\"}}]}",
         "Tool calls (JSON): [{\"name\":\"f\",\"arguments\":"
         "\"{\\\"a\\\":1}\"},{\"name\":\"g\",\"arguments\":\"{}\"}]",
         "tool calls: their functions as JSON");
    text("{\"content\":\"let me check\",\"tool_calls\":[{\"type\":\"x\"}]}",
         "let me check\nTool calls (JSON): [{\"type\":\"x\"}]",
         "a tool call without function: the whole call");
    text("{\"content\":\"x\",\"tool_calls\":[]}", "x", "tool_calls []");
    text("{\"content\":\"\\u0000hidden\"}", "", "content cut at NUL");
    text("null", "", "a null message");
}


static cJSON *
usage_sum(const char *a, const char *b)
{
    cJSON  *acc, *u;

    acc = cJSON_CreateObject();

    u = cJSON_Parse(a);
    ok(ngx_http_moa_usage_add(acc, u) == 0, "usage_add %s", a);
    cJSON_Delete(u);

    if (b) {
        u = cJSON_Parse(b);
        ok(ngx_http_moa_usage_add(acc, u) == 0, "usage_add %s", b);
        cJSON_Delete(u);
    }

    return acc;
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
    ok(jnum(acc, "cost") == 0.5, "sum: a provider's extra number");
    ok(!jhas(acc, "provider") && !jhas(acc, "flags"),
       "sum: strings and arrays are not summed");
    cJSON_Delete(acc);

    /* missing totals: prompt + completion count */
    acc = usage_sum("{\"prompt_tokens\":7,\"completion_tokens\":3}",
                    "{\"prompt_tokens\":1,\"completion_tokens\":1,"
                    "\"total_tokens\":2}");
    is_int(ngx_http_moa_usage_get(acc, "total_tokens"), 12,
           "no total in the first call: 10 + 2");
    cJSON_Delete(acc);

    acc = usage_sum("{\"prompt_tokens\":1,\"completion_tokens\":1,"
                    "\"total_tokens\":2}",
                    "{\"prompt_tokens\":7}");
    is_int(ngx_http_moa_usage_get(acc, "total_tokens"), 9,
           "no total in the second call: 2 + 7");
    is_int(ngx_http_moa_usage_get(acc, "completion_tokens"), 1,
           "no completion_tokens in the second");
    cJSON_Delete(acc);

    acc = usage_sum("{}", NULL);
    is_int(ngx_http_moa_usage_get(acc, "total_tokens"), 0,
           "an empty usage: total 0");
    ok(jhas(acc, "total_tokens"), "an empty usage still adds a total");
    cJSON_Delete(acc);

    acc = usage_sum("{\"prompt_tokens\":\"7\",\"completion_tokens\":null,"
                    "\"total_tokens\":\"9\"}", NULL);
    ok(!jhas(acc, "prompt_tokens"), "a string count is ignored");
    is_int(ngx_http_moa_usage_get(acc, "total_tokens"), 0,
           "a string total: counted as missing");
    cJSON_Delete(acc);

    /* mismatched shapes: ignored, no crash */
    acc = usage_sum("{\"details\":{\"a\":1},\"n\":1}",
                    "{\"details\":5,\"n\":{\"a\":1}}");
    is_int(jnum(acc, "details.a"), 1, "number onto object: ignored");
    is_int(jnum(acc, "n"), 1, "object onto number: ignored");
    cJSON_Delete(acc);

    /* not an object: nothing */
    acc = cJSON_CreateObject();
    ok(ngx_http_moa_usage_add(acc, NULL) == 0 && acc->child == NULL,
       "usage_add NULL: nothing");
    {
        cJSON  *arr;

        arr = cJSON_Parse("[1,2]");
        ok(ngx_http_moa_usage_add(acc, arr) == 0 && acc->child == NULL,
           "usage_add of an array: nothing");
        cJSON_Delete(arr);
    }

    s = cJSON_PrintUnformatted(acc);
    is_str(s, "{}", "the accumulator is untouched");
    free(s);
    cJSON_Delete(acc);

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
    rc = ngx_http_moa_build_response(out, rep.root, choice, "moa-gpt-4o-v1",
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
    ok(!jhas(v, "choices.0.index"),
       "bare: no index invented when all choices are kept");
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
        ok(ngx_http_moa_build_response(&out, rep.root, 3, "m", u) == -1,
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

    /* a model name that needs escaping */
    {
        cJSON                 *u;
        ngx_http_moa_reply_t   r;

        ok(ngx_http_moa_reply_parse(&r, S("{\"choices\":[{\"message\":{}}]}"),
                                    &err) == 0, "parsed");
        u = cJSON_Parse(USAGE);
        out.len = 0;
        ok(ngx_http_moa_build_response(&out, r.root, -1, "m\"\\\n", u) == 0,
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
    cJSON_Delete(v);

    ngx_http_moa_buf_free(&out);
}


int
main(void)
{
    test_reply_parse();
    test_message();
    test_usage();
    test_response();

    return done_testing();
}
