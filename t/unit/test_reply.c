
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_reply.[ch]: provider reply parsing (tokens
 * and per-choice spans, errors), the message of a choice as a tree, and
 * whether a choice is usable as a candidate.
 */


#include "util.h"
#include "check_reply.h"
#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_reply.h"
#include "ngx_http_moa_usage.h"


#define S(s)  s, sizeof(s) - 1


static ngx_http_moa_error_t  err;


/* a span is the given raw text; (NULL, 0) for NULL */
static int
span_is(const ngx_http_moa_span_t *v, const char *raw)
{
    if (raw == NULL) {
        return v->p == NULL && v->len == 0;
    }

    return v->p != NULL && v->len == strlen(raw)
           && memcmp(v->p, raw, v->len) == 0;
}


static void
test_reply_parse(void)
{
    size_t                       i;
    cJSON                       *m, *u;
    const ngx_http_moa_choice_t *c;
    ngx_http_moa_reply_t         rep;

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
        { "a string", "\"x\"", "bad_upstream_reply", "not a JSON object" },
        { "trailing bytes", "{\"choices\":[{\"message\":{}}]} x",
          "bad_upstream_reply", "not a JSON object" },
        { "two objects", "{\"choices\":[{\"message\":{}}]}{}",
          "bad_upstream_reply", "not a JSON object" },
        { "cut short", "{\"choices\":[{\"message\":{}}]",
          "bad_upstream_reply", "not a JSON object" },
        { "a lone surrogate", "{\"choices\":[{\"message\":{\"content\":"
          "\"\\ud800\"}}]}", "bad_upstream_reply", "not a JSON object" },
        { "an error", "{\"error\":{\"message\":\"quota\",\"type\":\"x\"}}",
          "upstream_error", "the provider answered with an error: quota" },
        { "an escaped error message", "{\"error\":{\"message\":"
          "\"q\\u00fcota \\\"x\\\"\"}}", "upstream_error",
          "with an error: q\xc3\xbcota \"x\"" },
        { "an error without message", "{\"error\":{\"code\":1}}",
          "upstream_error", "(no message)" },
        { "an error with a numeric message", "{\"error\":{\"message\":5}}",
          "upstream_error", "(no message)" },
        { "an error string", "{\"error\":\"boom\",\"choices\":[]}",
          "upstream_error", "(no message)" },
        { "an error false", "{\"error\":false,\"choices\":[{\"message\":"
          "{}}]}", "upstream_error", "(no message)" },
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
        { "a message null", "{\"choices\":[{\"message\":null}]}",
          "bad_upstream_reply", "without a message" },
        { "a choice that is not an object", "{\"choices\":[1]}",
          "bad_upstream_reply", "without a message" },
    };

    ok(ngx_http_moa_reply_parse(&rep, S(good), &err) == 0, "reply: parsed");
    ok(rep.p == good && rep.len == sizeof(good) - 1,
       "reply: the text is referred to, not copied");
    is_int(rep.nchoices, 2, "reply: two choices");
    ok(rep.usage_at > 0 && rep.json.tok[rep.usage_at].type == '{',
       "reply: usage kept as its token");
    u = check_reply_usage(&rep);
    ok(u && jnum(u, "total_tokens") == 3,
       "reply: the usage token is the usage object");
    cJSON_Delete(u);
    ok(rep.root == NULL, "reply: no tree until asked");

    if (rep.nchoices == 2) {
        ok(span_is(&rep.choices[0].content, "\"a\""), "choice 0: content");
        ok(span_is(&rep.choices[1].content, "\"b\""), "choice 1: content");
        ok(span_is(&rep.choices[1].message,
                   "{\"role\":\"assistant\",\"content\":\"b\"}"),
           "choice 1: the message's raw text");
        ok(span_is(&rep.choices[1].span, "{\"index\":1,\"message\":{\"role\":"
                   "\"assistant\",\"content\":\"b\"},\"finish_reason\":"
                   "\"stop\"}"), "choice 1: the choice's raw text");
        ok(span_is(&rep.choices[0].tool_calls, NULL)
           && span_is(&rep.choices[0].refusal, NULL),
           "choice 0: no tool calls, no refusal: (NULL, 0)");

        m = ngx_http_moa_reply_choice_message(&rep.choices[1]);
        ok(cJSON_IsRaw(jget(m, "content"))
           && strcmp(jget(m, "content")->valuestring, "\"b\"") == 0,
           "choice_message: a tree of it, content the raw text");
        is_str(jstr(m, "role"), "assistant", "choice_message: role");
        cJSON_Delete(m);
    }

    ok(cJSON_IsObject(ngx_http_moa_reply_root(&rep))
       && ngx_http_moa_reply_root(&rep) == rep.root,
       "reply_root: made once, on demand");
    is_str(jstr(rep.root, "choices.1.message.content"), "b",
           "reply_root: the whole reply");

    ngx_http_moa_reply_free(&rep);
    ok(rep.root == NULL && rep.usage_at == -1 && rep.choices == NULL
       && rep.nchoices == 0, "reply_free clears");
    ngx_http_moa_reply_free(&rep);
    ok(1, "reply_free twice is harmless");

    ok(ngx_http_moa_reply_parse(&rep,
           S("{\"choices\":[{\"message\":{}}],\"usage\":null,"
             "\"error\":null}"), &err) == 0,
       "reply: usage null and error null are fine");
    ok(rep.usage_at < 0 && check_reply_usage(&rep) == NULL,
       "reply: usage null is no usage");
    ngx_http_moa_reply_free(&rep);

    ok(ngx_http_moa_reply_parse(&rep,
           S("{\"choices\":[{\"message\":{}}],\"usage\":[1]}"), &err) == 0
       && check_reply_usage(&rep) == NULL,
       "reply: usage that is not an object is none");
    ngx_http_moa_reply_free(&rep);

    /* whitespace, escaped keys, duplicates: the first, as cJSON */
    ok(ngx_http_moa_reply_parse(&rep,
           S(" \r\n{ \"\\u0063hoices\" : [ { \"message\" : { \"content\" :"
             " \"x\" , \"content\" : \"y\" , \"tool_calls\" : [ 1 ] ,"
             " \"refusal\" : null } } ] , \"choices\" : [ ] , \"usage\" :"
             " { \"total_tokens\" : 2 } }\n"), &err) == 0,
       "reply: whitespace, an escaped key, duplicates");
    ok(rep.nchoices == 1 && span_is(&rep.choices[0].content, "\"x\""),
       "reply: the first choices, the first content");
    ok(rep.nchoices == 1 && span_is(&rep.choices[0].tool_calls, "[ 1 ]")
       && span_is(&rep.choices[0].refusal, "null"),
       "reply: spans without the whitespace around them");
    u = check_reply_usage(&rep);
    is_int(ngx_http_moa_usage_get(u, "total_tokens"), 2,
           "reply: usage with whitespace");
    cJSON_Delete(u);
    ngx_http_moa_reply_free(&rep);

    /* an empty reply body reaches the parser as (NULL, 0) */
    memset(&err, 0, sizeof(err));
    ok(ngx_http_moa_reply_parse(&rep, NULL, 0, &err) == -1
       && err.status == 502, "reply of (NULL, 0): 502");
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

    /* the plain flag: what a client gets as is */
    {
        static const struct {
            const char  *choice;
            int          plain;
        } pl[] = {
            { "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
              "\"x\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":"
              "\"stop\"}", 1 },
            { "{\"finish_reason\":null,\"logprobs\":{},\"message\":{"
              "\"refusal\":\"no\",\"content\":null,\"role\":\"assistant\","
              "\"tool_calls\":[{\"id\":\"c\"}]},\"index\":3}", 1 },
            { "{\"message\":{\"role\":\"assistant\",\"content\":\"x\","
              "\"refusal\":null},\"logprobs\":null,\"finish_reason\":"
              "\"stop\"}", 0 },
            { "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
              "\"x\",\"refusal\":null},\"finish_reason\":\"stop\"}", 0 },
            { "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
              "\"x\",\"refusal\":null},\"logprobs\":null}", 0 },
            { "{\"index\":0,\"message\":{\"content\":\"x\",\"refusal\":null},"
              "\"logprobs\":null,\"finish_reason\":\"stop\"}", 0 },
            { "{\"index\":0,\"message\":{\"role\":\"assistant\","
              "\"refusal\":null},\"logprobs\":null,\"finish_reason\":"
              "\"stop\"}", 0 },
            { "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
              "\"x\"},\"logprobs\":null,\"finish_reason\":\"stop\"}", 0 },
            { "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
              "\"x\",\"refusal\":null,\"tool_calls\":[]},\"logprobs\":null,"
              "\"finish_reason\":\"stop\"}", 0 },
            { "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
              "\"x\",\"refusal\":null,\"tool_calls\":null},\"logprobs\":null,"
              "\"finish_reason\":\"stop\"}", 0 },
        };

        for (i = 0; i < sizeof(pl) / sizeof(pl[0]); i++) {
            char  body[1024];

            snprintf(body, sizeof(body), "{\"choices\":[%s]}", pl[i].choice);

            ok(ngx_http_moa_reply_parse(&rep, body, strlen(body), &err) == 0
               && rep.nchoices == 1 && rep.choices[0].plain == pl[i].plain,
               "plain %d: %s", pl[i].plain, pl[i].choice);
            ngx_http_moa_reply_free(&rep);
        }
    }

    /* choices are cut from the tokens: many of them */
    {
        int                 k, okc;
        ngx_http_moa_buf_t  b;

        memset(&b, 0, sizeof(b));
        ngx_http_moa_buf_lit(&b, "{\"choices\":[");

        for (k = 0; k < 300; k++) {
            ngx_http_moa_buf_cstr(&b, k ? "," : "");
            ngx_http_moa_buf_lit(&b, "{\"message\":{\"content\":\"");
            ngx_http_moa_buf_int(&b, k);
            ngx_http_moa_buf_lit(&b, "\"}}");
        }

        ngx_http_moa_buf_lit(&b, "]}");

        ok(ngx_http_moa_reply_parse(&rep, b.data, b.len, &err) == 0
           && rep.nchoices == 300, "300 choices");

        okc = 0;

        for (k = 0; k < rep.nchoices; k++) {
            char  num[16];

            snprintf(num, sizeof(num), "\"%d\"", k);
            c = &rep.choices[k];
            okc += span_is(&c->content, num);
        }

        is_int(okc, 300, "300 choices: each its content");
        ngx_http_moa_reply_free(&rep);
        ngx_http_moa_buf_free(&b);
    }
}


static int
usable(const char *json)
{
    int                           rc;
    one_t                         o;
    const ngx_http_moa_choice_t  *c;

    c = one(&o, json);
    rc = c ? ngx_http_moa_reply_choice_usable(c) : -1;
    one_free(&o);

    return rc;
}


static void
test_usable(void)
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
    ok(!usable("{\"content\":[\"x\",1,null,[{\"text\":\"x\"}]]}"),
       "not usable: parts that are not objects");
    ok(!usable("{\"content\":[{\"text\":5}]}"),
       "not usable: a text part that is not a string");
    ok(usable("{\"content\":null,\"tool_calls\":[{\"id\":\"c\"}]}"),
       "usable: a tool call");
    ok(!usable("{\"content\":null,\"tool_calls\":[]}"),
       "not usable: tool_calls []");
    ok(!usable("{\"content\":null,\"tool_calls\":[ ]}"),
       "not usable: tool_calls [ ]");
    ok(!usable("{\"content\":null,\"tool_calls\":null}"),
       "not usable: tool_calls null");
    ok(!usable("{\"content\":null,\"tool_calls\":{\"id\":\"c\"}}"),
       "not usable: tool_calls an object");
    ok(usable("{\"content\":null,\"refusal\":\"no\"}"), "usable: a refusal");
    ok(!usable("{\"content\":null,\"refusal\":\"\"}"),
       "not usable: empty refusal");
    ok(!usable("{\"content\":null,\"refusal\":\"\\n \"}"),
       "not usable: blank refusal");
    ok(usable("{\"content\":\"\",\"content\":\"x\"}") == 0,
       "not usable: the first of duplicate contents counts");
}


int
main(void)
{
    test_reply_parse();
    test_usable();

    return done_testing();
}
