
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of the reply side of ngx_http_moa_openai.[ch]: provider reply
 * parsing (tokens and per-choice spans), candidate texts, usage summing
 * and printing, and the final response (a reply in shape answered with its
 * own bytes, others through a tree: both must agree).
 */


#include <limits.h>
#include <math.h>

#include "util.h"
#include "check_reply.h"
#include "ngx_http_moa_openai.h"


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

        m = ngx_http_moa_choice_message(&rep.choices[1]);
        is_str(jstr(m, "content"), "b", "choice_message: a tree of it");
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


/* the one choice of a reply made around a message (freed by one_free) */
typedef struct {
    ngx_http_moa_buf_t      text;
    ngx_http_moa_reply_t    rep;
} one_t;


static const ngx_http_moa_choice_t *
one(one_t *o, const char *message)
{
    memset(o, 0, sizeof(one_t));

    ngx_http_moa_buf_lit(&o->text, "{\"choices\":[{\"message\":");
    ngx_http_moa_buf_cstr(&o->text, message);
    ngx_http_moa_buf_lit(&o->text, "}]}");

    if (ngx_http_moa_reply_parse(&o->rep, o->text.data, o->text.len, &err)
        != 0)
    {
        return NULL;
    }

    return &o->rep.choices[0];
}


static void
one_free(one_t *o)
{
    ngx_http_moa_reply_free(&o->rep);
    ngx_http_moa_buf_free(&o->text);
}


static int
usable(const char *json)
{
    int                           rc;
    one_t                         o;
    const ngx_http_moa_choice_t  *c;

    c = one(&o, json);
    rc = c ? ngx_http_moa_choice_usable(c) : -1;
    one_free(&o);

    return rc;
}


/*
 * choice_text's output: a valid JSON string's inside, decoding to the
 * expected text (json_unescape keeps NULs, cJSON would cut there)
 */
static int
text_decodes(const ngx_http_moa_buf_t *out, const char *expected, size_t n,
    const char *tag)
{
    int                 rc;
    ngx_http_moa_buf_t  q, d;

    memset(&q, 0, sizeof(q));
    memset(&d, 0, sizeof(d));

    ngx_http_moa_buf_lit(&q, "\"");
    ngx_http_moa_buf_add(&q, out->data, out->len);
    ngx_http_moa_buf_lit(&q, "\"");

    rc = ngx_http_moa_json_valid(q.data, q.len) == 0
         && ngx_http_moa_json_unescape(&d, q.data, q.len) == 0
         && d.len == n && (n == 0 || memcmp(d.data, expected, n) == 0)
         && tap_memmem(d.data, d.len, tag) == NULL;

    if (!rc) {
        diag("    raw '%.*s'\n    decoded '%.*s'", (int) out->len,
             out->data ? out->data : "", (int) d.len, d.data ? d.data : "");
    }

    ngx_http_moa_buf_free(&q);
    ngx_http_moa_buf_free(&d);

    return rc;
}


/* choice_text of a message decodes to expected[0..n) */
static void
text_n(const char *json, const char *tag, const char *expected, size_t n,
    const char *raw, const char *name)
{
    one_t                         o;
    ngx_http_moa_buf_t            out;
    const ngx_http_moa_choice_t  *c;

    memset(&out, 0, sizeof(out));

    c = one(&o, json);

    if (!ok(c != NULL, "choice_text: %s: a reply", name)) {
        one_free(&o);
        return;
    }

    ngx_http_moa_prompt_choice_text(&out, c, tag);

    ok(!out.nomem && text_decodes(&out, expected, n, tag),
       "choice_text: %s", name);

    if (raw) {
        is_mem(out.data ? out.data : "", out.len, raw,
               "choice_text: %s: exact output", name);
    }

    ngx_http_moa_buf_free(&out);
    one_free(&o);
}


#define text(json, expected, name)                                           \
    text_n(json, "</candidate", expected, strlen(expected), NULL, name)

#define text_raw(json, expected, raw, name)                                  \
    text_n(json, "</candidate", expected, strlen(expected), raw, name)


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

    text("{\"content\":\"plain\"}", "plain", "content");
    text("{\"content\":\"\"}", "", "empty content");
    text("{\"content\":null}", "", "null content");
    text("{}", "", "no content");
    text("{\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":"
         "\"image_url\",\"image_url\":{}},{\"type\":\"text\",\"text\":\"b\"}"
         "]}", "a\nb", "text parts joined with LF");
    text("{\"content\":[\"a\",{\"text\":null},{\"text\":\"b\"}]}", "b",
         "parts that are not text are left out");
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
    text("{\"content\":\"a\",\"refusal\":\"b\",\"tool_calls\":[1,\"s\"]}",
         "a\nRefusal: b\nTool calls (JSON): [1,\"s\"]",
         "content, refusal and tool calls that are not objects");

    /* no cJSON on the way: a NUL is kept (cJSON cut the text there) */
    text_n("{\"content\":\"\\u0000hidden\"}", "</candidate",
           "\0hidden", 7, "\\u0000hidden", "content with a NUL");

    /* raw text is spliced when no escape can hide a tag */
    text_raw("{\"content\":\"q\\\"b\\\\s\\n\\t \xc3\xa9\"}",
             "q\"b\\s\n\t \xc3\xa9", "q\\\"b\\\\s\\n\\t \xc3\xa9",
             "escaped text is copied as it is");
    text_raw("{\"content\":\"\\u00e9\\/\"}", "\xc3\xa9/", "\\u00e9\\/",
             "\\u and \\/ without any '<': copied as they are");
    text_raw("{\"content\":\"<b>\\u00e9\\/\"}", "<b>\xc3\xa9/",
             "<b>\xc3\xa9/", "\\u and \\/ with a '<': decoded and escaped "
             "again");
    text_raw("{\"content\":\"a\\u003c/candidate>\"}", "a< /candidate>",
             "a< /candidate>", "an escaped '<' is decoded: the tag it "
             "hid is neutralised");
    text_raw("{\"content\":\"\\u003C\\/candidate>\"}", "< /candidate>",
             "< /candidate>", "\\u003C and \\/: the tag is neutralised");
}


/* the closing tag of the block a text is put in cannot appear in it */
static void
test_neutralise(void)
{
    text_raw("{\"content\":\"a</candidate>b</candidate\\n<c>< /x><\"}",
             "a< /candidate>b< /candidate\n<c>< /x><",
             "a< /candidate>b< /candidate\\n<c>< /x><",
             "raw text: every closing tag neutralised");
    text("{\"content\":\"</candidate\"}", "< /candidate", "the tag alone");
    text("{\"content\":\"x</candidate\"}", "x< /candidate",
         "the tag at the end");
    text("{\"content\":\"</candidat\"}", "</candidat", "a partial tag stays");
    text("{\"content\":\"</candidate</candidate\"}",
         "< /candidate< /candidate", "adjacent tags");
    text("{\"content\":\"<</candidate\"}", "<< /candidate",
         "a '<' before the tag");
    text("{\"content\":\"</Candidate>\"}", "</Candidate>",
         "the tag is matched as written");

    text("{\"content\":\"\\u003c/candidate>\"}", "< /candidate>",
         "hidden as \\u003c: decoded, neutralised");
    text("{\"content\":\"\\u003C/candidate\"}", "< /candidate",
         "hidden as \\u003C");
    text("{\"content\":\"<\\/candidate>\"}", "< /candidate>",
         "hidden as <\\/");
    text("{\"content\":\"\\u003c\\/\\u0063andidate\"}", "< /candidate",
         "hidden by several escapes");
    text("{\"content\":\"\\u00e9</candidate\\u003c/candidate\"}",
         "\xc3\xa9< /candidate< /candidate",
         "decoded path: raw and hidden tags");
    text_raw("{\"content\":\"\\\\u003c/candidate\"}", "\\u003c/candidate",
             "\\\\u003c/candidate",
             "an escaped backslash then u003c: no tag, copied as is");
    text("{\"content\":\"\\\\</candidate\"}", "\\< /candidate",
         "an escaped backslash then a tag");

    text("{\"content\":[{\"text\":\"a</candidate\"},{\"text\":"
         "\"\\u003c/candidate\"},{\"text\":\"<\\/candidate\"}]}",
         "a< /candidate\n< /candidate\n< /candidate",
         "content parts: each neutralised");
    text("{\"content\":null,\"refusal\":\"no</candidate><\\/candidate\"}",
         "Refusal: no< /candidate>< /candidate", "refusal: neutralised");
    text("{\"content\":null,\"tool_calls\":[{\"function\":{\"name\":"
         "\"</candidate>\",\"arguments\":\"\\u003c/candidate\"}}]}",
         "Tool calls (JSON): [{\"name\":\"< /candidate>\",\"arguments\":"
         "\"\\u003c/candidate\"}]",
         "tool calls: raw tags neutralised, escapes stay JSON");

    /* the tag given is the one neutralised */
    text_n("{\"content\":\"</candidate></critiques><\\/critiques>\"}",
           "</critiques", "</candidate>< /critiques>< /critiques>",
           strlen("</candidate>< /critiques>< /critiques>"), NULL,
           "the critiques' tag");
}

/*
 * usage_add() over a and b (b may be NULL), and the same usages summed from
 * a reply's tokens by reply_usage_add(): both sums must print the same.
 */
static cJSON *
usage_sum(const char *a, const char *b)
{
    int                    i;
    char                  *s1, *s2;
    cJSON                 *acc, *tacc, *u;
    const char            *list[2];
    ngx_http_moa_buf_t     text;
    ngx_http_moa_reply_t   rep;
    ngx_http_moa_error_t   err;

    list[0] = a;
    list[1] = b;

    acc = cJSON_CreateObject();
    tacc = cJSON_CreateObject();
    memset(&text, 0, sizeof(text));

    for (i = 0; i < 2 && list[i]; i++) {
        u = cJSON_Parse(list[i]);
        ok(ngx_http_moa_usage_add(acc, u) == 0, "usage_add %s", list[i]);
        cJSON_Delete(u);

        text.len = 0;
        ngx_http_moa_buf_lit(&text, "{\"choices\":[{\"message\":"
                             "{\"content\":\"x\"}}],\"usage\":");
        ngx_http_moa_buf_cstr(&text, list[i]);
        ngx_http_moa_buf_lit(&text, "}");

        ok(ngx_http_moa_reply_parse(&rep, text.data, text.len, &err) == 0
           && ngx_http_moa_reply_usage_add(tacc, &rep) == 0,
           "reply_usage_add %s", list[i]);
        ngx_http_moa_reply_free(&rep);
    }

    s1 = cJSON_PrintUnformatted(acc);
    s2 = cJSON_PrintUnformatted(tacc);
    is_str(s2, s1, "reply_usage_add sums as usage_add: %s", a);
    free(s1);
    free(s2);

    cJSON_Delete(tacc);
    ngx_http_moa_buf_free(&text);

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

    /* numbers as cJSON reads them, keys with escapes */
    acc = usage_sum("{\"prompt_\\u0074okens\":5,\"completion_tokens\":"
                    "12345678901234567,\"a\":-3,\"b\":0.25,\"c\":1e3,"
                    "\"d\":1E-2,\"e\":-0,\"f\":999999999999999}",
                    "{\"prompt_tokens\":2,\"a\":3.5,\"f\":1}");
    is_int(ngx_http_moa_usage_get(acc, "prompt_tokens"), 7,
           "an escaped key is the key it spells");
    is_int(ngx_http_moa_usage_get(acc, "completion_tokens"),
           12345678901234568LL, "17 digits: the nearest double");
    ok(jnum(acc, "a") == 0.5 && jnum(acc, "b") == 0.25
       && jnum(acc, "c") == 1000 && jnum(acc, "d") == 0.01,
       "negative, fractions and exponents");
    is_int(ngx_http_moa_usage_get(acc, "f"), 1000000000000000LL,
           "15 digits exactly");
    /* summed as doubles, as the counts are */
    is_int(ngx_http_moa_usage_get(acc, "total_tokens"),
           (long long) ((5.0 + 12345678901234567.0) + (2.0 + 0.0)),
           "no total in either: prompt + completion of each");
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
    rc = ngx_http_moa_build_response(out, &rep, choice, "moa-gpt-4o-v1",
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
        ok(ngx_http_moa_build_response(&out, &rep, 3, "m", u) == -1,
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
        ok(ngx_http_moa_build_response(&out, &r, -1, "m\"\\\n", u) == 0,
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


static void
test_usage_print(void)
{
    cJSON  *u;

    usage_printed(NULL, "{}", "NULL");
    usage_printed("[1,2]", "{}", "an array");
    usage_printed("{}", "{}", "empty");
    usage_printed("{\"prompt_tokens\":10,\"completion_tokens\":-2,"
                  "\"total_tokens\":0}",
                  "{\"prompt_tokens\":10,\"completion_tokens\":-2,"
                  "\"total_tokens\":0}", "integers");
    usage_printed("{\"a\":1.0,\"b\":2e3,\"c\":-0.0}", "{\"a\":1,\"b\":2000,"
                  "\"c\":0}", "integral values as integers");
    usage_printed("{\"d\":{\"e\":3,\"f\":{},\"g\":{\"h\":4}},\"i\":5}",
                  "{\"d\":{\"e\":3,\"f\":{},\"g\":{\"h\":4}},\"i\":5}",
                  "nested objects");
    usage_printed("{\"a\":0.5,\"b\":-2.25}", "{\"a\":0.5,\"b\":-2.25}",
                  "non-integral");
    usage_printed("{\"s\":\"x\",\"n\":null,\"t\":true,\"f\":false,"
                  "\"l\":[1],\"k\":2}", "{\"k\":2}",
                  "only numbers and objects");
    usage_printed("{\"s\":\"x\",\"k\":2}", "{\"k\":2}",
                  "no comma before the first printed");
    usage_printed("{\"a\\\"b\\\\\\n\":1}", "{\"a\\\"b\\\\\\n\":1}",
                  "a key escaped");
    usage_printed("{\"big\":8999999999999999,\"neg\":-8999999999999999}",
                  "{\"big\":8999999999999999,\"neg\":-8999999999999999}",
                  "the largest integers printed as such");
    usage_printed("{\"a\":1e999,\"b\":-1e999}", "{\"a\":0,\"b\":0}",
                  "infinite: 0, never null");

    u = cJSON_Parse("{\"a\":0.1,\"b\":1e16,\"c\":9e15,\"d\":-9e15,"
                    "\"e\":1e300,\"f\":-1e300,\"g\":4.9e-324,"
                    "\"h\":123456789.125,\"i\":9007199254740993,"
                    "\"j\":1e999}");
    usage_roundtrip(u, "huge and small values");
    cJSON_Delete(u);

    u = cJSON_CreateObject();
    cJSON_AddNumberToObject(u, "nan", NAN);
    cJSON_AddNumberToObject(u, "inf", -INFINITY);
    cJSON_AddNumberToObject(u, "half", 0.5);
    usage_roundtrip(u, "NaN and infinities");
    cJSON_Delete(u);
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
    rc = ngx_http_moa_build_response(&out, &rep, -1, "moa-gpt-4o-v1", u);
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
    ok(ngx_http_moa_build_response(&out, &rep, 0, "moa-gpt-4o-v1", u) == 0,
       "full, choice 0: built");
    has(out.data, out.len, "\"content\":\"Hi \xc3\xa9 </b>\"",
        "full, choice 0: printed by cJSON");
    ngx_http_moa_reply_free(&rep);

    /* whitespace between members goes, inside values stays; model and
     * usage added at the end */
    ok(ngx_http_moa_reply_parse(&rep, S(spaced), &err) == 0,
       "spaced: parsed");
    out.len = 0;
    ok(ngx_http_moa_build_response(&out, &rep, -1, "m\"1", u) == 0,
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

    /* a usage that is not an object prints as {} */
    ok(ngx_http_moa_reply_parse(&rep, S(full), &err) == 0, "parsed");
    out.len = 0;
    ok(ngx_http_moa_build_response(&out, &rep, -1, "m", NULL) == 0
       && tap_memmem(out.data, out.len, "\"usage\":{}") != NULL,
       "no usage: {}");
    ngx_http_moa_reply_free(&rep);

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


int
main(void)
{
    test_reply_parse();
    test_message();
    test_neutralise();
    test_usage();
    test_usage_print();
    test_response();
    test_fast();
    test_many_keys();
    test_paths_random();

    return done_testing();
}
