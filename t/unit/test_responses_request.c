
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_responses_request.[ch]: a Responses request
 * translated into the Chat Completions body (table-driven), refused with
 * OpenAI's parameter names, the input items normalized for a store, the
 * parameters echoed with OpenAI's defaults, a previous response's items
 * put first, what translation cannot carry.
 */


#include "util.h"
#include "ngx_http_moa_params.h"
#include "ngx_http_moa_responses_request.h"


#define S(s)  s, sizeof(s) - 1


typedef struct {
    const char  *body;
    const char  *chat;
} translation_t;


static const translation_t  translations[] = {

    { "{\"model\":\"m\",\"input\":\"hi\"}",
      "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" },

    { "{\"input\":\"hi\",\"instructions\":\"be \\\"brief\\\"\",\"model\":\"m\","
      "\"max_output_tokens\":16,\"stream\":true}",
      "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":"
      "\"be \\\"brief\\\"\"},{\"role\":\"user\",\"content\":\"hi\"}],"
      "\"max_completion_tokens\":16,\"stream\":true,\"stream_options\":"
      "{\"include_usage\":true}}" },

    { "{\"model\":\"m\",\"input\":[{\"role\":\"developer\",\"content\":\"d\"},"
      "{\"role\":\"assistant\",\"content\":\"a\"},{\"type\":\"function_call\","
      "\"call_id\":\"c\",\"name\":\"f\",\"arguments\":\"{}\"},"
      "{\"type\":\"function_call_output\",\"call_id\":\"c\",\"output\":\"o\"}"
      ",{\"role\":\"user\",\"content\":\"u\"}]}",
      "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"d\"},"
      "{\"role\":\"assistant\",\"content\":\"a\",\"tool_calls\":[{\"id\":\"c\","
      "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":"
      "\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"c\",\"content\":\"o\"}"
      ",{\"role\":\"user\",\"content\":\"u\"}]}" },

    /* two calls in a row: one assistant turn; a reasoning item is dropped */
    { "{\"model\":\"m\",\"input\":[{\"type\":\"reasoning\",\"summary\":[]},"
      "{\"type\":\"function_call\",\"call_id\":\"a\",\"name\":\"f\","
      "\"arguments\":\"1\"},{\"type\":\"function_call\",\"call_id\":\"b\","
      "\"name\":\"g\",\"arguments\":\"2\"}]}",
      "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"content\":null,"
      "\"tool_calls\":[{\"id\":\"a\",\"type\":\"function\",\"function\":"
      "{\"name\":\"f\",\"arguments\":\"1\"}},{\"id\":\"b\",\"type\":"
      "\"function\",\"function\":{\"name\":\"g\",\"arguments\":\"2\"}}]}]}" },

    { "{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"function\","
      "\"name\":\"f\",\"strict\":false}],\"tool_choice\":{\"type\":"
      "\"function\",\"name\":\"f\"},\"text\":{\"format\":{\"type\":"
      "\"json_schema\",\"name\":\"s\",\"schema\":{}}},\"reasoning\":"
      "{\"effort\":\"low\"}}",
      "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
      "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\","
      "\"strict\":false}}],\"tool_choice\":{\"type\":\"function\","
      "\"function\":{\"name\":\"f\"}},\"response_format\":{\"type\":"
      "\"json_schema\",\"json_schema\":{\"name\":\"s\",\"schema\":{}}},"
      "\"reasoning_effort\":\"low\"}" },

    /* the first of duplicate keys; null is absent */
    { "{\"model\":\"m\",\"model\":\"n\",\"input\":\"x\",\"temperature\":null,"
      "\"store\":false}",
      "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}" }
};


typedef struct {
    const char  *body;
    const char  *param;
    const char  *code;
} refusal_t;


static const refusal_t  refusals[] = {
    { "{\"input\":\"x\"}", "model", "missing_required_parameter" },
    { "{\"model\":\"m\"}", "input", "missing_required_parameter" },
    { "{\"model\":\"m\",\"input\":[]}", "input", "empty_array" },
    { "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"a\"},"
      "{\"role\":\"user\",\"content\":\"b\"},{\"role\":\"user\",\"content\":"
      "[{\"type\":\"input_image\",\"image_url\":\"x\"}]}]}",
      "input[2].content[0].image_url", "invalid_value" },
    { "{\"model\":\"m\",\"input\":[{\"type\":\"function_call_output\","
      "\"call_id\":\"z\",\"output\":\"o\"}]}", "input[0].call_id",
      "invalid_value" },
    { "{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"function\"}]}",
      "tools[0].name", "missing_required_parameter" },
    { "{\"model\":\"m\",\"input\":\"x\",\"max_output_tokens\":15}",
      "max_output_tokens", "integer_below_min_value" },
    { "{\"model\":\"m\",\"input\":\"x\",\"text\":{\"format\":{\"type\":"
      "\"json_schema\",\"schema\":{}}}}", "text.format.name",
      "missing_required_parameter" },
    { "{\"model\":\"m\",\"input\":\"x\",\"reasoning\":{\"effort\":1}}",
      "reasoning.effort", "invalid_type" },
    { "{\"model\":\"m\",\"input\":\"x\",\"stream\":1}", "stream",
      "invalid_type" }
};


static void
test_translations(void)
{
    size_t                             i;
    ngx_http_moa_error_t               err;
    ngx_http_moa_responses_request_t   req;

    for (i = 0; i < sizeof(translations) / sizeof(translations[0]); i++) {
        memset(&req, 0, sizeof(req));

        ok(ngx_http_moa_responses_request_parse(&req, translations[i].body,
                                  strlen(translations[i].body), NULL, 0,
                                  NGX_HTTP_MOA_PARAMS_PASS, &err) == 0,
           "translation %zu: accepted", i);
        is_mem(req.chat.data, req.chat.len, translations[i].chat,
               "translation %zu: the chat body", i);

        ngx_http_moa_responses_request_free(&req);
    }
}


static void
test_refusals(void)
{
    size_t                             i;
    ngx_http_moa_error_t               err;
    ngx_http_moa_responses_request_t   req;

    for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        memset(&req, 0, sizeof(req));
        memset(&err, 0, sizeof(err));

        ok(ngx_http_moa_responses_request_parse(&req, refusals[i].body,
                                  strlen(refusals[i].body), NULL, 0,
                                  NGX_HTTP_MOA_PARAMS_PASS, &err) != 0,
           "refusal %zu: refused", i);
        is_int(err.status, 400, "refusal %zu: 400", i);
        is_str(err.param, refusals[i].param, "refusal %zu: param", i);
        is_str(err.code, refusals[i].code, "refusal %zu: code", i);

        ngx_http_moa_responses_request_free(&req);
    }

    /* not JSON, unknown parameters */

    memset(&req, 0, sizeof(req));
    ok(ngx_http_moa_responses_request_parse(&req, "{\"model\"", 8, NULL, 0,
                                            0, &err) != 0
       && err.status == 400 && err.param == NULL, "not JSON: 400");
    ngx_http_moa_responses_request_free(&req);

    memset(&req, 0, sizeof(req));
    ok(ngx_http_moa_responses_request_parse(&req,
                              S("{\"model\":\"m\",\"input\":\"x\",\"zz\":1}"),
                              NULL, 0, NGX_HTTP_MOA_PARAMS_REJECT, &err) != 0,
       "an unknown parameter refused in reject mode");
    is_str(err.param, "zz", "named");
    ngx_http_moa_responses_request_free(&req);

    memset(&req, 0, sizeof(req));
    ok(ngx_http_moa_responses_request_parse(&req,
                              S("{\"model\":\"m\",\"input\":\"x\",\"zz\":1}"),
                              NULL, 0, NGX_HTTP_MOA_PARAMS_PASS, &err) == 0,
       "ignored otherwise");
    ngx_http_moa_responses_request_free(&req);
}


static void
test_items_and_echo(void)
{
    cJSON                             *v;
    ngx_http_moa_buf_t                 b;
    ngx_http_moa_error_t               err;
    ngx_http_moa_responses_request_t   req;

    memset(&req, 0, sizeof(req));
    req.seed = 42;

    ok(ngx_http_moa_responses_request_parse(&req,
                S("{\"model\":\"m\",\"input\":\"hi\"}"), NULL, 0, 0, &err)
       == 0, "a string input");

    v = json_ok(req.input.data, req.input.len, "the input items");
    is_int(jsize(v, ""), 1, "one item");
    is_str(jstr(v, "0.type"), "message", "a message");
    is_str(jstr(v, "0.role"), "user", "of the user");
    is_str(jstr(v, "0.content.0.type"), "input_text", "input_text");
    is_str(jstr(v, "0.content.0.text"), "hi", "the text");
    ok(jstr(v, "0.id") && strncmp(jstr(v, "0.id"), "msg_", 4) == 0
       && strlen(jstr(v, "0.id")) == 52, "an id as OpenAI gives");
    cJSON_Delete(v);

    /* the echo with OpenAI's defaults */
    memset(&b, 0, sizeof(b));
    ngx_http_moa_buf_lit(&b, "{");
    ngx_http_moa_buf_add(&b, req.echo.data, req.echo.len);
    ngx_http_moa_buf_lit(&b, "}");
    v = json_ok(b.data, b.len, "the echo");
    ok(jhas(v, "instructions") && cJSON_IsNull(jget(v, "instructions")),
       "instructions null");
    ok(cJSON_IsTrue(jget(v, "store")), "store true");
    ok(cJSON_IsTrue(jget(v, "parallel_tool_calls")), "parallel_tool_calls");
    is_str(jstr(v, "tool_choice"), "auto", "tool_choice auto");
    is_int(jsize(v, "tools"), 0, "tools []");
    is_str(jstr(v, "text.format.type"), "text", "text.format");
    is_str(jstr(v, "truncation"), "disabled", "truncation");
    ok(jnum(v, "temperature") == 1 && jnum(v, "top_p") == 1,
       "temperature, top_p");
    cJSON_Delete(v);
    ngx_http_moa_buf_free(&b);
    ngx_http_moa_responses_request_free(&req);

    /* items with ids keep them; the others get one */
    memset(&req, 0, sizeof(req));
    ok(ngx_http_moa_responses_request_parse(&req,
                S("{\"model\":\"m\",\"store\":false,\"input\":[{\"id\":\"msg_a\","
                  "\"role\":\"assistant\",\"content\":\"x\"},{\"type\":"
                  "\"function_call\",\"call_id\":\"c\",\"name\":\"f\","
                  "\"arguments\":\"{}\"},{\"type\":\"function_call_output\","
                  "\"call_id\":\"c\",\"output\":\"o\"}]}"),
                NULL, 0, 0, &err) == 0, "items");
    ok(!req.store, "store false");
    v = json_ok(req.input.data, req.input.len, "the input items");
    is_int(jsize(v, ""), 3, "three items");
    is_str(jstr(v, "0.id"), "msg_a", "an id kept");
    is_str(jstr(v, "0.content.0.type"), "output_text",
           "an assistant's string as output_text");
    ok(strncmp(jstr(v, "1.id"), "fc_", 3) == 0, "a function_call's id");
    is_str(jstr(v, "1.call_id"), "c", "its members kept");
    ok(strncmp(jstr(v, "2.id"), "fco_", 4) == 0, "an output's id");
    cJSON_Delete(v);
    ngx_http_moa_responses_request_free(&req);
}


static void
test_prior_and_unsupported(void)
{
    ngx_http_moa_error_t               err;
    ngx_http_moa_responses_request_t   req;

    static const char  prior[] =
        "[{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"user\",\"content\":"
        "[{\"type\":\"input_text\",\"text\":\"q\"}]},{\"id\":\"fc_1\",\"type\":"
        "\"function_call\",\"call_id\":\"c1\",\"name\":\"f\",\"arguments\":"
        "\"{}\",\"status\":\"completed\"}]";

    memset(&req, 0, sizeof(req));
    ok(ngx_http_moa_responses_request_parse(&req,
                S("{\"model\":\"m\",\"instructions\":\"i\",\"input\":[{\"type\":"
                  "\"function_call_output\",\"call_id\":\"c1\",\"output\":"
                  "\"r\"}],\"previous_response_id\":\"resp_1\"}"),
                prior, sizeof(prior) - 1, 0, &err) == 0,
       "a continuation: its output answers the prior call");
    is_mem(req.chat.data, req.chat.len,
           "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":"
           "\"i\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\","
           "\"text\":\"q\"}]},{\"role\":\"assistant\",\"content\":null,"
           "\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":"
           "{\"name\":\"f\",\"arguments\":\"{}\"}}]},{\"role\":\"tool\","
           "\"tool_call_id\":\"c1\",\"content\":\"r\"}]}",
           "the prior items first, after the instructions");
    is_mem(req.previous_response_id.p, req.previous_response_id.len,
           "\"resp_1\"", "previous_response_id kept");
    has(req.input.data, req.input.len, "function_call_output",
        "the own input items only");
    hasnt(req.input.data, req.input.len, "msg_1", "not the prior ones");
    ngx_http_moa_responses_request_free(&req);

    memset(&req, 0, sizeof(req));
    ok(ngx_http_moa_responses_request_parse(&req,
                S("{\"model\":\"m\",\"input\":\"x\"}"), "[{", 2, 0, &err) != 0,
       "unreadable prior items");
    is_str(err.param, "previous_response_id", "named");
    ngx_http_moa_responses_request_free(&req);

    memset(&req, 0, sizeof(req));
    ok(ngx_http_moa_responses_request_parse(&req,
                S("{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":"
                  "\"web_search\"},{\"type\":\"file_search\"}],"
                  "\"background\":true}"), NULL, 0, 0, &err) == 0,
       "built-in tools: accepted, for a Responses provider");
    ok(ngx_http_moa_responses_request_check(&req, "moa-x", 1, &err) != 0,
       "refused on a MoA model");
    is_str(err.param, "tools[0].type", "the first one named");
    is_str(err.code, "unsupported_parameter", "unsupported_parameter");
    has(err.message, strlen(err.message), "'web_search'", "what");
    has(err.message, strlen(err.message), "moa-x", "and the model");
    hasnt(req.chat.data, req.chat.len, "web_search", "never translated");
    ok(ngx_http_moa_responses_request_check(&req, "gpt", 0, &err) != 0,
       "refused on a translated passthrough");
    ngx_http_moa_responses_request_free(&req);

    memset(&req, 0, sizeof(req));
    ok(ngx_http_moa_responses_request_parse(&req,
                S("{\"model\":\"m\",\"input\":\"x\",\"include\":["
                  "\"reasoning.encrypted_content\","
                  "\"file_search_call.results\"]}"), NULL, 0, 0, &err) == 0
       && ngx_http_moa_responses_request_check(&req, "m", 1, &err) == 0,
       "include values that need nothing: accepted");
    ngx_http_moa_responses_request_free(&req);

    memset(&req, 0, sizeof(req));
    ok(ngx_http_moa_responses_request_parse(&req,
                S("{\"model\":\"m\",\"input\":\"x\",\"include\":["
                  "\"reasoning.encrypted_content\",\"x.y\","
                  "\"message.output_text.logprobs\"]}"), NULL, 0, 0, &err)
       == 0, "include: parsed, for a Responses provider");
    ok(ngx_http_moa_responses_request_check(&req, "moa-x", 1, &err) != 0,
       "an unknown include value: refused");
    is_str(err.param, "include[1]", "include[1] named");
    has(err.message, strlen(err.message), "'x.y'", "the value said");
    ngx_http_moa_responses_request_free(&req);

    memset(&req, 0, sizeof(req));
    ok(ngx_http_moa_responses_request_parse(&req,
                S("{\"model\":\"m\",\"input\":\"x\",\"include\":["
                  "\"message.output_text.logprobs\"]}"), NULL, 0, 0, &err)
       == 0 && ngx_http_moa_responses_request_check(&req, "gpt", 0, &err)
               != 0, "logprobs: refused on a translated passthrough");
    is_str(err.param, "include[0]", "include[0] named");
    ngx_http_moa_responses_request_free(&req);

    memset(&req, 0, sizeof(req));
    ok(ngx_http_moa_responses_request_parse(&req,
                S("{\"model\":\"m\",\"input\":\"x\"}"), NULL, 0, 0, &err) == 0
       && ngx_http_moa_responses_request_check(&req, "m", 1, &err) == 0,
       "nothing to refuse");
    ngx_http_moa_responses_request_free(&req);
}


int
main(void)
{
    test_translations();
    test_refusals();
    test_items_and_echo();
    test_prior_and_unsupported();

    return done_testing();
}
