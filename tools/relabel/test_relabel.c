
/*
 * Unit tests of moa-relabel's pure parts; prints TAP.
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ngx_http_moa_utf8.h"
#include "relabel.h"
#include "test_relabel.h"


int  test_n;
int  test_failed;


void
ok(int cond, const char *fmt, ...)
{
    va_list  ap;

    test_n++;

    if (!cond) {
        test_failed++;
    }

    printf("%sok %d - ", cond ? "" : "not ", test_n);

    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);

    printf("\n");
}


void
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


void
is_num(long long got, long long want, const char *name)
{
    ok(got == want, "%s", name);

    if (got != want) {
        printf("#   got:  %lld\n#   want: %lld\n", got, want);
    }
}


FILE *
file_with(const char *content)
{
    FILE  *f;

    f = tmpfile();
    if (f == NULL) {
        perror("tmpfile");
        exit(1);
    }

    fputs(content, f);
    fflush(f);
    rewind(f);

    return f;
}


char *
file_content(FILE *f)
{
    long   n;
    char  *p;

    fflush(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);

    p = calloc(1, n + 1);
    if (p == NULL || fread(p, 1, n, f) != (size_t) n) {
        exit(1);
    }

    return p;
}


/* the output line for record "in" with answer message "msg" */

static char *
splice(const char *in, const char *msg)
{
    relabel_record_t    rec;
    ngx_http_moa_buf_t  b;

    memset(&b, 0, sizeof(ngx_http_moa_buf_t));

    if (relabel_record_split(in, strlen(in), &rec) != NULL
        || relabel_record_output_build(&b, in, strlen(in), &rec, msg,
                                       strlen(msg))
           != 0)
    {
        return NULL;
    }

    return b.data;
}


static char *
request(const char *in, const relabel_param_t *params, size_t n)
{
    relabel_record_t    rec;
    ngx_http_moa_buf_t  b;

    memset(&b, 0, sizeof(ngx_http_moa_buf_t));

    if (relabel_record_split(in, strlen(in), &rec) != NULL
        || relabel_record_request_build(&b, in, &rec, "moa-x", params, n) != 0)
    {
        return NULL;
    }

    return b.data;
}


static void
test_split(void)
{
    size_t            i;
    const char       *why, *p;
    relabel_record_t  rec;

    static const struct {
        const char  *line;
        const char  *why;
    } bad[] = {
        { "", "empty line" },
        { "  \r", "empty line" },
        { "[1,2]", "not a JSON object" },
        { "\"x\"", "not a JSON object" },
        { "{", "invalid JSON" },
        { "{not json}", "invalid JSON" },
        { "{\"messages\":[]} x", "invalid JSON: garbage after the record" },
        { "{\"messages\":[],}", "invalid JSON" },
        { "{\"a\":01}", "invalid JSON" },
        { "{\"a\":1.}", "invalid JSON" },
        { "{\"a\":-}", "invalid JSON" },
        { "{\"a\":1e}", "invalid JSON" },
        { "{\"a\":tru}", "invalid JSON" },
        { "{\"a\":\"\\x\"}", "invalid JSON" },
        { "{\"a\":\"\\u12g4\"}", "invalid JSON" },
        { "{\"a\":\"tab\there\"}", "invalid JSON" },
        { "{\"a\":\"unterminated}", "invalid JSON" },
        { "{\"a\" 1}", "invalid JSON" },
        { "{\"a\":[1 2]}", "invalid JSON" },
        { "{\"messages\":[{\"role\":\"user\",\"content\":\"\\udc00\"}]}",
          "invalid JSON" },
        { "{\"messages\":[{\"role\":\"user\",\"content\":\"\\ud800\"}]}",
          "invalid JSON" },
        { "{\"messages\":[{\"role\":\"user\",\"content\":\"\\ud800x\"}]}",
          "invalid JSON" },
        { "{\"metadata\":{}}", "no messages" },
        { "{\"messages\":[]}", "no messages" },
        { "{\"messages\":{}}", "messages is not an array" },
        { "{\"messages\":[1]}", "the last message is not an object" },
        { "{\"messages\":[{\"content\":\"x\"}]}",
          "the last message has no role" },
        { "{\"messages\":[{\"role\":\"assistant\",\"content\":\"x\"}]}",
          "no messages before the final assistant message" },
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = relabel_record_split(bad[i].line, strlen(bad[i].line), &rec);
        is_str(why, bad[i].why, bad[i].line);
    }

    p = "{\"tools\": [{\"type\":\"function\"}], \"messages\": "
        "[ {\"role\":\"user\",\"content\":\"q\"} , "
        "{\"content\":\"a\",\"weight\":0,\"role\":\"assistant\"} ], "
        "\"tool_choice\":\"auto\",\"parallel_tool_calls\":false,"
        "\"metadata\":{\"k\":[1,{\"messages\":2}]}}";

    why = relabel_record_split(p, strlen(p), &rec);
    is_str(why, NULL, "split: full record");
    ok(rec.replace == 1, "split: final assistant message is replaced");
    is_num(rec.nmessages, 2, "split: two messages");
    ok(strncmp(p + rec.last.start, "{\"content\":\"a\"", 14) == 0
       && p[rec.last.end - 1] == '}' && p[rec.last.end] == ' ',
       "split: last message span");
    ok(strncmp(p + rec.weight.start, "0", 1) == 0
       && rec.weight.end == rec.weight.start + 1, "split: weight span");
    ok(strncmp(p + rec.tool_choice.start, "\"auto\"", 6) == 0,
       "split: tool_choice span");
    ok(strncmp(p + rec.parallel_tool_calls.start, "false", 5) == 0,
       "split: parallel_tool_calls span");
    ok(p[rec.tools.start] == '[' && p[rec.tools.end - 1] == ']',
       "split: tools span");

    p = "{\"messag\\u0065s\":[{\"role\":\"u\\u0073er\",\"content\":\"q\"}]}";
    is_str(relabel_record_split(p, strlen(p), &rec), NULL,
           "split: escaped key names");
    ok(rec.replace == 0 && rec.nmessages == 1,
       "split: last message not assistant: append");

    p = "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},"
        "{\"role\":\"as\\u0073istant\",\"content\":\"a\"}]}";
    why = relabel_record_split(p, strlen(p), &rec);
    ok(why == NULL && rec.replace == 1, "split: escaped role value");

    p = "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],"
        "\"messages\":[]}";
    why = relabel_record_split(p, strlen(p), &rec);
    ok(why == NULL && rec.nmessages == 1, "split: first duplicate key wins");

    p = "\t{ \"messages\" : [ {\"role\":\"user\",\"content\":\"\\\"]}\"} ] }\r";
    why = relabel_record_split(p, strlen(p), &rec);
    ok(why == NULL && rec.nmessages == 1, "split: whitespace, CR, tricky "
       "string content");
}


/* a record whose message holds an array nested d levels deep */

static char *
deep(size_t d)
{
    char    *p;
    size_t   i, n;

    static const char  head[] =
        "{\"messages\":[{\"role\":\"user\",\"content\":\"q\",\"x\":";

    n = sizeof(head) - 1;
    p = malloc(n + 2 * d + 4);
    if (p == NULL) {
        exit(1);
    }

    memcpy(p, head, n);

    for (i = 0; i < d; i++) {
        p[n + i] = '[';
        p[n + 2 * d - 1 - i] = ']';
    }

    memcpy(p + n + 2 * d, "}]}", 4);

    return p;
}


static void
test_depth(void)
{
    char              *p;
    size_t             n;
    const char        *why;
    relabel_record_t   rec;

    /* the module allows 1000 levels; the record's own take 3 of them */

    p = deep(997);
    why = relabel_record_split(p, strlen(p), &rec);
    ok(why == NULL && rec.nmessages == 1,
       "depth: 1000 levels are fine, as in the module (%s)",
       why ? why : "ok");
    free(p);

    p = deep(998);
    is_str(relabel_record_split(p, strlen(p), &rec), "invalid JSON",
           "depth: 1001 levels are refused, as in the module");
    free(p);

    p = deep(3000);
    n = strlen(p);
    is_str(relabel_record_split(p, n, &rec), "invalid JSON",
           "depth: far deeper is refused, no crash");
    free(p);
}


static void
test_request(void)
{
    char             *r;
    relabel_param_t   params[3];

    r = request("{\"messages\": [{\"role\": \"system\", \"content\": \"s\"}, "
                "{\"role\": \"user\", \"content\": \"q\"}, "
                "{\"role\": \"assistant\", \"content\": \"old\"}], "
                "\"metadata\": {\"a\": 1}}", NULL, 0);
    is_str(r, "{\"model\":\"moa-x\",\"messages\":[{\"role\": \"system\", "
           "\"content\": \"s\"}, {\"role\": \"user\", \"content\": \"q\"}]}",
           "request: messages up to the final assistant, byte for byte");
    free(r);

    r = request("{\"messages\":[{\"role\":\"user\",\"content\":\"q\"} ],"
                "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
                "\"f\"}}],\"tool_choice\":\"required\","
                "\"parallel_tool_calls\":true}", NULL, 0);
    is_str(r, "{\"model\":\"moa-x\",\"messages\":[{\"role\":\"user\","
           "\"content\":\"q\"} ],\"tools\":[{\"type\":\"function\","
           "\"function\":{\"name\":\"f\"}}],\"tool_choice\":\"required\","
           "\"parallel_tool_calls\":true}",
           "request: whole conversation when no final answer, with tools");
    free(r);

    params[0].key = "temperature";
    params[0].value = "0.7";
    params[1].key = "tool_choice";
    params[1].value = "\"none\"";
    params[2].key = "stop";
    params[2].value = "[\"x\"]";

    r = request("{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],"
                "\"tool_choice\":\"auto\"}", params, 3);
    is_str(r, "{\"model\":\"moa-x\",\"messages\":[{\"role\":\"user\","
           "\"content\":\"q\"}],\"tool_choice\":\"auto\","
           "\"temperature\":0.7,\"stop\":[\"x\"]}",
           "request: --param fields; the record's own tool_choice wins");
    free(r);

    r = request("{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}",
                params, 2);
    is_str(r, "{\"model\":\"moa-x\",\"messages\":[{\"role\":\"user\","
           "\"content\":\"q\"}],\"temperature\":0.7,\"tool_choice\":\"none\"}",
           "request: --param tool_choice used when the record has none");
    free(r);
}


static void
test_output(void)
{
    char              *o;
    const char        *in;
    relabel_record_t   rec;

    o = splice("{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}, "
               "{\"role\": \"assistant\", \"content\": \"old\"}], "
               "\"metadata\": {\"uid\": \"\\u00e9\", \"n\": 1.50}}",
               "{\"role\":\"assistant\",\"content\":\"new\"}");
    is_str(o, "{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}, "
           "{\"role\":\"assistant\",\"content\":\"new\"}], "
           "\"metadata\": {\"uid\": \"\\u00e9\", \"n\": 1.50}}\n",
           "output: answer replaced, the rest byte for byte");
    free(o);

    o = splice("{\"id\":7,\"messages\":[{\"role\":\"user\",\"content\":\"q\"}"
               "\n ]}", "{\"role\":\"assistant\",\"content\":\"new\"}");
    is_str(o, "{\"id\":7,\"messages\":[{\"role\":\"user\",\"content\":\"q\"},"
           "{\"role\":\"assistant\",\"content\":\"new\"}\n ]}\n",
           "output: answer appended");
    free(o);

    o = splice("{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},"
               "{\"role\":\"assistant\",\"weight\":1,\"content\":\"old\"}]}",
               "{\"role\":\"assistant\",\"content\":\"new\"}");
    is_str(o, "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},"
           "{\"role\":\"assistant\",\"content\":\"new\",\"weight\":1}]}\n",
           "output: the replaced message's weight is kept");
    free(o);

    /* what a resumed run checks */

    in = "{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}, "
         "{\"role\": \"assistant\", \"content\": \"old\"}], \"m\": 1}";
    relabel_record_split(in, strlen(in), &rec);

    o = splice(in, "{\"role\":\"assistant\",\"content\":\"new\"}");
    ok(relabel_record_output_check(in, strlen(in), &rec, o, strlen(o) - 1) == 0,
       "output check: our own output matches its input");
    free(o);

    o = "{\"messages\": [{\"role\": \"user\", \"content\": \"Q\"}, "
        "{\"role\":\"assistant\",\"content\":\"new\"}], \"m\": 1}";
    ok(relabel_record_output_check(in, strlen(in), &rec, o, strlen(o)) != 0,
       "output check: a different prompt does not match");

    o = "{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}, "
        "{\"role\":\"assistant\",\"content\":\"new\"}], \"m\": 2}";
    ok(relabel_record_output_check(in, strlen(in), &rec, o, strlen(o)) != 0,
       "output check: a different field after the answer does not match");

    o = "{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}, "
        "{\"role\":\"assistant\",\"content\":\"ne], \"m\": 1}";
    ok(relabel_record_output_check(in, strlen(in), &rec, o, strlen(o)) != 0,
       "output check: a broken answer does not match");

    o = "{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}, "
        "{\"role\":\"assistant\"}, {}], \"m\": 1}";
    ok(relabel_record_output_check(in, strlen(in), &rec, o, strlen(o)) != 0,
       "output check: two values where the answer goes do not match");

    ok(relabel_record_output_check(in, strlen(in), &rec, "{}", 2) != 0,
       "output check: a short line does not match");
}


static void
test_answer(void)
{
    char              err[256];
    const char       *b;
    relabel_answer_t  a;

    b = "{\"id\":\"x\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
        "\"assistant\",\"content\":\"hi \\u00e9\\n\",\"refusal\":null},"
        "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":12,"
        "\"completion_tokens\":5,\"total_tokens\":17}}";
    ok(relabel_record_answer_parse(b, strlen(b), &a, err, sizeof(err)) == 0,
       "answer: content");
    is_str(a.message, "{\"role\":\"assistant\",\"content\":\"hi \xc3\xa9\\n\"}",
           "answer: message is role + content");
    ok(a.prompt_tokens == 12 && a.completion_tokens == 5, "answer: usage");
    is_str(a.finish_reason, "stop", "answer: finish_reason");
    relabel_record_answer_free(&a);

    b = "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"\","
        "\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
        "\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}}]},"
        "\"finish_reason\":\"tool_calls\"}]}";
    ok(relabel_record_answer_parse(b, strlen(b), &a, err, sizeof(err)) == 0,
       "answer: tool calls");
    is_str(a.message, "{\"role\":\"assistant\",\"content\":null,"
           "\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
           "\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}}]}",
           "answer: tool calls with content null");
    ok(a.prompt_tokens == 0, "answer: no usage is zero");
    relabel_record_answer_free(&a);

    b = "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":null,"
        "\"refusal\":\"no\"},\"finish_reason\":\"content_filter\"}]}";
    ok(relabel_record_answer_parse(b, strlen(b), &a, err, sizeof(err)) != 0
       && strstr(err, "content_filter") && strstr(err, "refusal: no"),
       "answer: no content, no tool calls: an error naming why (%s)", err);

    b = "{\"choices\":[]}";
    ok(relabel_record_answer_parse(b, strlen(b), &a, err, sizeof(err)) != 0,
       "answer: no choices is an error");

    b = "{\"choices\":[{\"message\":{\"content\":\"x\"";
    ok(relabel_record_answer_parse(b, strlen(b), &a, err, sizeof(err)) != 0,
       "answer: truncated JSON is an error");
}


static void
test_reject(void)
{
    unsigned long  n;
    ngx_http_moa_buf_t  b;
    const char    *rec;

    memset(&b, 0, sizeof(ngx_http_moa_buf_t));

    rec = "{\"messages\": \"a\\\"b\"\t\x01 \xc3\xa9";
    relabel_record_reject_build(&b, 42, "HTTP 400: bad \"x\"", 400, 1, rec,
                                strlen(rec));
    is_str(b.data, "{\"line\":42,\"error\":\"HTTP 400: bad \\\"x\\\"\","
           "\"status\":400,\"attempts\":1,\"record\":\"{\\\"messages\\\": "
           "\\\"a\\\\\\\"b\\\"\\t\\u0001 \xc3\xa9\"}\n",
           "reject: line, error, status, attempts, record as a string");

    ok(relabel_record_reject_check(b.data, b.len - 1, rec, strlen(rec), &n) == 0
       && n == 42, "reject check: line number and record");
    ok(relabel_record_reject_check(b.data, b.len - 1, "{}", 2, &n) == -2,
       "reject check: another record is told apart");
    ok(relabel_record_reject_check("{\"error\":\"x\"}", 13, NULL, 0, &n) == -1,
       "reject check: no line number");
    ok(relabel_record_reject_check("{\"line\":1.5}", 12, NULL, 0, &n) == -1,
       "reject check: a fractional line number");

    relabel_record_reject_build(&b, 3, "invalid JSON", 0, 0, "\xff{", 2);
    is_str(b.data, "{\"line\":3,\"error\":\"invalid JSON\",\"attempts\":0,"
           "\"record_base64\":\"/3s=\",\"record\":\"\\ufffd{\"}\n",
           "reject: invalid UTF-8 gets the exact bytes in base64");
    ok(relabel_record_reject_check(b.data, b.len - 1, "\xff{", 2, &n) == 0
       && n == 3, "reject check: invalid UTF-8 record");
    ok(relabel_record_reject_check(b.data, b.len - 1, "\xfe{", 2, &n) == -2,
       "reject check: bytes that map to the same U+FFFD are told apart");

    ngx_http_moa_buf_free(&b);
}


static void
test_strings(void)
{
    ngx_http_moa_buf_t  b;

    memset(&b, 0, sizeof(ngx_http_moa_buf_t));

    relabel_record_json_str(&b, "a\"\\/\b\f\n\r\t\x1f\x7f", 11);
    ngx_http_moa_buf_cstring(&b);
    is_str(b.data, "\"a\\\"\\\\/\\b\\f\\n\\r\\t\\u001f\x7f\"",
           "json string: escapes");

    b.len = 0;
    relabel_record_json_str(&b, "\xe2\x82\xac\xf0\x9f\x98\x80"
                            "\xc0\xaf\xed\xa0\x80\xe2\x82", 14);
    ngx_http_moa_buf_cstring(&b);
    is_str(b.data, "\"\xe2\x82\xac\xf0\x9f\x98\x80\\ufffd\\ufffd"
           "\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"",
           "json string: valid UTF-8 kept, overlong, surrogate and cut "
           "sequences replaced");

    ok(ngx_http_moa_utf8_valid("\xf4\x8f\xbf\xbf", 4)
       && !ngx_http_moa_utf8_valid("\xf4\x90\x80\x80", 4)
       && !ngx_http_moa_utf8_valid("\xe0\x80\x80", 3),
       "utf8: U+10FFFF ok, above it and overlong not");

    ngx_http_moa_buf_free(&b);
}


int
main(void)
{
    test_split();
    test_depth();
    test_request();
    test_output();
    test_answer();
    test_reject();
    test_strings();
    test_error_text();
    test_params();
    test_retry_after();
    test_read_line();
    test_files();
    test_resume();

    printf("1..%d\n", test_n);

    if (test_failed) {
        printf("# %d of %d failed\n", test_failed, test_n);
    }

    return test_failed ? 1 : 0;
}
