
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_responses_forwarded.[ch]: a Responses
 * provider's object (or its response.completed event) read back as a chat
 * usage and an assistant message; the final events found; what is no
 * response refused.
 */


#include "util.h"
#include "ngx_http_moa_responses_forwarded.h"


#define OBJECT                                                               \
    "{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"completed\","    \
    "\"output\":[{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[]},"    \
    "{\"type\":\"message\",\"role\":\"assistant\",\"content\":["             \
    "{\"type\":\"output_text\",\"text\":\"a\\\"b\",\"annotations\":[]},"      \
    "{\"type\":\"output_text\",\"text\":\"c\",\"annotations\":[]},"           \
    "{\"type\":\"refusal\",\"refusal\":\"no\"}]},"                            \
    "{\"type\":\"function_call\",\"call_id\":\"call_1\",\"name\":\"f\","      \
    "\"arguments\":\"{}\"},{\"type\":\"web_search_call\",\"id\":\"ws\"}],"    \
    "\"usage\":{\"input_tokens\":12,\"input_tokens_details\":"                \
    "{\"cached_tokens\":4},\"output_tokens\":7,\"output_tokens_details\":"    \
    "{\"reasoning_tokens\":2},\"total_tokens\":19}}"


static void
test_read(void)
{
    cJSON              *usage, *msg;
    static const char   object[] = OBJECT;
    static const char   event[] =
        "{\"type\":\"response.completed\",\"sequence_number\":9,"
        "\"response\":" OBJECT "}";
    static const char   bare[] =
        "{\"object\":\"response\",\"output\":[{\"type\":\"message\","
        "\"content\":[]}]}";

    is_int(ngx_http_moa_responses_forwarded_read(object, sizeof(object) - 1,
                                                 &usage, &msg), 0, "read");
    ok(jnum(usage, "prompt_tokens") == 12, "input_tokens: prompt_tokens");
    ok(jnum(usage, "completion_tokens") == 7, "output: completion_tokens");
    ok(jnum(usage, "total_tokens") == 19, "total_tokens");
    ok(jnum(usage, "prompt_tokens_details.cached_tokens") == 4, "cached");
    ok(jnum(usage, "completion_tokens_details.reasoning_tokens") == 2,
       "reasoning");
    is_str(jstr(msg, "role"), "assistant", "an assistant message");
    is_str(jstr(msg, "content"), "a\"bc", "the texts, one after the other");
    is_str(jstr(msg, "refusal"), "no", "the refusal");
    is_int(jsize(msg, "tool_calls"), 1, "one tool call (no web search)");
    is_str(jstr(msg, "tool_calls.0.id"), "call_1", "its id: the call_id");
    is_str(jstr(msg, "tool_calls.0.type"), "function", "function");
    is_str(jstr(msg, "tool_calls.0.function.name"), "f", "name");
    is_str(jstr(msg, "tool_calls.0.function.arguments"), "{}", "arguments");
    cJSON_Delete(usage);
    cJSON_Delete(msg);

    is_int(ngx_http_moa_responses_forwarded_read(event, sizeof(event) - 1,
                                                 &usage, &msg), 0,
           "an event's response");
    ok(jnum(usage, "prompt_tokens") == 12, "its usage");
    is_str(jstr(msg, "content"), "a\"bc", "its answer");
    cJSON_Delete(usage);
    cJSON_Delete(msg);

    is_int(ngx_http_moa_responses_forwarded_read(bare, sizeof(bare) - 1,
                                                 &usage, &msg), 0, "bare");
    ok(usage == NULL, "no usage: NULL");
    ok(msg == NULL, "no text, no call: no message");

    is_int(ngx_http_moa_responses_forwarded_read("{\"object\":\"chat\"}", 17,
                                                 &usage, &msg), -1,
           "no response: -1");
    is_int(ngx_http_moa_responses_forwarded_read("{\"object\":", 10,
                                                 &usage, &msg), -1,
           "no JSON: -1");
    ok(usage == NULL && msg == NULL, "nothing returned");
}


static void
test_final(void)
{
    static const char  done[] =
        "{\"type\":\"response.completed\",\"response\":{}}";
    static const char  delta[] =
        "{\"type\":\"response.output_text.delta\",\"delta\":\"x\"}";

    ok(ngx_http_moa_responses_forwarded_final(done, sizeof(done) - 1),
       "completed: final");
    ok(ngx_http_moa_responses_forwarded_final(
           "{\"type\":\"response.failed\"}", 26), "failed: final");
    ok(!ngx_http_moa_responses_forwarded_final(delta, sizeof(delta) - 1),
       "a delta: not");
    ok(!ngx_http_moa_responses_forwarded_final("\"response.com", 13),
       "cut short: not");
}


int
main(void)
{
    test_read();
    test_final();

    return done_testing();
}
