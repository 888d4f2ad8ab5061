
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_params.[ch]: each Chat Completions parameter
 * refused for its type or range with OpenAI's param and code, valid
 * requests accepted, and the unknown-parameter modes.
 */


#include "util.h"
#include "ngx_http_moa_params.h"


#define M  "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"


typedef struct {
    const char  *body;
    const char  *param;      /* NULL: accepted */
    const char  *code;
} params_case_t;


static const params_case_t  cases[] = {
    /* accepted */
    { "{\"model\":\"m\"," M "}", NULL, NULL },
    { "{\"model\":\"m\"," M ",\"temperature\":0,\"top_p\":1,\"n\":2,"
      "\"max_tokens\":5,\"max_completion_tokens\":7,"
      "\"presence_penalty\":-2,\"frequency_penalty\":2,\"stop\":\"x\","
      "\"stream\":true,\"stream_options\":{\"include_usage\":true},"
      "\"logprobs\":true,\"top_logprobs\":20,\"seed\":-3,\"user\":\"u\","
      "\"metadata\":{\"a\":\"b\"},\"parallel_tool_calls\":false,"
      "\"reasoning_effort\":\"low\",\"modalities\":[\"text\"],"
      "\"service_tier\":\"auto\",\"store\":false,\"verbosity\":\"high\","
      "\"web_search_options\":{},\"logit_bias\":{\"1\":2}}", NULL, NULL },
    { "{\"model\":\"m\"," M ",\"temperature\":null,\"stop\":null,"
      "\"tools\":null,\"metadata\":null}", NULL, NULL },
    { "{\"model\":\"m\"," M ",\"temperature\":2.0,\"top_p\":0.5e0}", NULL,
      NULL },
    { "{\"model\":\"m\"," M ",\"stop\":[\"a\",\"b\",\"c\",\"d\"]}", NULL,
      NULL },
    { "{\"model\":\"m\"," M ",\"tools\":[],\"tool_choice\":\"auto\"}", NULL,
      NULL },
    { "{\"model\":\"m\"," M ",\"tools\":[{\"type\":\"function\","
      "\"function\":{\"name\":\"get-weather_2\",\"description\":\"d\","
      "\"parameters\":{\"type\":\"object\"},\"strict\":true}}],"
      "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":"
      "\"get-weather_2\"}}}", NULL, NULL },
    { "{\"model\":\"m\"," M ",\"response_format\":{\"type\":\"json_schema\","
      "\"json_schema\":{\"name\":\"s\",\"schema\":{},\"strict\":true}}}",
      NULL, NULL },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{"
      "\"type\":\"text\",\"text\":\"a\"},{\"type\":\"image_url\","
      "\"image_url\":{\"url\":\"http://x\"}}]},{\"role\":\"assistant\","
      "\"content\":null,\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\","
      "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},{\"role\":"
      "\"tool\",\"tool_call_id\":\"c\",\"content\":\"r\"}]}", NULL, NULL },
    { "{\"model\":\"m\"," M ",\"top_k\":5}", NULL, NULL },

    /* refused: types */
    { "{\"model\":\"m\"," M ",\"temperature\":\"hot\"}", "temperature",
      "invalid_type" },
    { "{\"model\":\"m\"," M ",\"top_p\":true}", "top_p", "invalid_type" },
    { "{\"model\":\"m\"," M ",\"max_tokens\":1.5}", "max_tokens",
      "invalid_type" },
    { "{\"model\":\"m\"," M ",\"max_completion_tokens\":\"9\"}",
      "max_completion_tokens", "invalid_type" },
    { "{\"model\":\"m\"," M ",\"stream\":1}", "stream", "invalid_type" },
    { "{\"model\":\"m\"," M ",\"stream\":true,\"stream_options\":"
      "{\"include_usage\":1}}", "stream_options.include_usage",
      "invalid_type" },
    { "{\"model\":\"m\"," M ",\"stop\":5}", "stop", "invalid_type" },
    { "{\"model\":\"m\"," M ",\"stop\":[\"a\",1]}", "stop[1]",
      "invalid_type" },
    { "{\"model\":\"m\"," M ",\"logprobs\":\"yes\"}", "logprobs",
      "invalid_type" },
    { "{\"model\":\"m\"," M ",\"top_logprobs\":2.5}", "top_logprobs",
      "invalid_type" },
    { "{\"model\":\"m\"," M ",\"user\":7}", "user", "invalid_type" },
    { "{\"model\":\"m\"," M ",\"metadata\":[]}", "metadata",
      "invalid_type" },
    { "{\"model\":\"m\"," M ",\"metadata\":{\"k\":1}}", "metadata.k",
      "invalid_type" },
    { "{\"model\":\"m\"," M ",\"parallel_tool_calls\":\"no\"}",
      "parallel_tool_calls", "invalid_type" },
    { "{\"model\":\"m\"," M ",\"reasoning_effort\":1}", "reasoning_effort",
      "invalid_type" },
    { "{\"model\":\"m\"," M ",\"modalities\":\"text\"}", "modalities",
      "invalid_type" },
    { "{\"model\":\"m\"," M ",\"prediction\":\"p\"}", "prediction",
      "invalid_type" },
    { "{\"model\":\"m\"," M ",\"service_tier\":1}", "service_tier",
      "invalid_type" },
    { "{\"model\":\"m\"," M ",\"store\":\"yes\"}", "store", "invalid_type" },
    { "{\"model\":\"m\"," M ",\"audio\":true}", "audio", "invalid_type" },
    { "{\"model\":\"m\"," M ",\"web_search_options\":1}",
      "web_search_options", "invalid_type" },
    { "{\"model\":\"m\"," M ",\"tools\":{}}", "tools", "invalid_type" },
    { "{\"model\":\"m\"," M ",\"tools\":[1]}", "tools[0]", "invalid_type" },
    { "{\"model\":\"m\"," M ",\"tools\":[{\"type\":\"function\"}]}",
      "tools[0].function", "missing_required_parameter" },
    { "{\"model\":\"m\"," M ",\"tools\":[{\"type\":\"function\","
      "\"function\":{}}]}", "tools[0].function.name",
      "missing_required_parameter" },
    { "{\"model\":\"m\"," M ",\"tools\":[{\"type\":\"function\","
      "\"function\":{\"name\":\"a b\"}}]}", "tools[0].function.name",
      "invalid_value" },
    { "{\"model\":\"m\"," M ",\"tools\":[{\"type\":\"function\","
      "\"function\":{\"name\":\"f\",\"parameters\":[]}}]}",
      "tools[0].function.parameters", "invalid_type" },
    { "{\"model\":\"m\"," M ",\"tools\":[{\"type\":\"function\","
      "\"function\":{\"name\":\"f\",\"strict\":\"y\"}}]}",
      "tools[0].function.strict", "invalid_type" },
    { "{\"model\":\"m\"," M ",\"tools\":[{\"type\":\"tool\","
      "\"function\":{\"name\":\"f\"}}]}", "tools[0].type", "invalid_value" },
    { "{\"model\":\"m\"," M ",\"tool_choice\":\"sometimes\"}", "tool_choice",
      "invalid_value" },
    { "{\"model\":\"m\"," M ",\"tool_choice\":1}", "tool_choice",
      "invalid_type" },
    { "{\"model\":\"m\"," M ",\"tool_choice\":{\"type\":\"function\"}}",
      "tool_choice.function", "missing_required_parameter" },
    { "{\"model\":\"m\"," M ",\"tool_choice\":{\"type\":\"function\","
      "\"function\":{\"name\":3}}}", "tool_choice.function.name",
      "invalid_type" },
    { "{\"model\":\"m\"," M ",\"response_format\":\"json\"}",
      "response_format", "invalid_type" },
    { "{\"model\":\"m\"," M ",\"response_format\":{\"type\":\"xml\"}}",
      "response_format.type", "invalid_value" },
    { "{\"model\":\"m\"," M ",\"response_format\":{\"type\":"
      "\"json_schema\"}}", "response_format.json_schema",
      "missing_required_parameter" },
    { "{\"model\":\"m\"," M ",\"response_format\":{\"type\":\"json_schema\","
      "\"json_schema\":{\"name\":\"s\",\"schema\":true}}}",
      "response_format.json_schema.schema", "invalid_type" },
    { "{\"model\":\"m\"," M ",\"response_format\":{\"type\":\"json_schema\","
      "\"json_schema\":{\"schema\":{}}}}", "response_format.json_schema.name",
      "missing_required_parameter" },

    /* refused: ranges and values */
    { "{\"model\":\"m\"," M ",\"temperature\":5}", "temperature",
      "decimal_above_max_value" },
    { "{\"model\":\"m\"," M ",\"temperature\":-0.1}", "temperature",
      "decimal_below_min_value" },
    { "{\"model\":\"m\"," M ",\"top_p\":1.01}", "top_p",
      "decimal_above_max_value" },
    { "{\"model\":\"m\"," M ",\"max_tokens\":-1}", "max_tokens",
      "integer_below_min_value" },
    { "{\"model\":\"m\"," M ",\"max_completion_tokens\":0}",
      "max_completion_tokens", "integer_below_min_value" },
    { "{\"model\":\"m\"," M ",\"max_tokens\":1e40}", "max_tokens",
      "integer_above_max_value" },
    { "{\"model\":\"m\"," M ",\"presence_penalty\":-2.5}",
      "presence_penalty", "decimal_below_min_value" },
    { "{\"model\":\"m\"," M ",\"frequency_penalty\":3}", "frequency_penalty",
      "decimal_above_max_value" },
    { "{\"model\":\"m\"," M ",\"top_logprobs\":21}", "top_logprobs",
      "integer_above_max_value" },
    { "{\"model\":\"m\"," M ",\"top_logprobs\":-1}", "top_logprobs",
      "integer_below_min_value" },
    { "{\"model\":\"m\"," M ",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}",
      "stop", "array_above_max_length" },
    { "{\"model\":\"m\"," M ",\"reasoning_effort\":\"max\"}",
      "reasoning_effort", "invalid_value" },
    { "{\"model\":\"m\"," M ",\"metadata\":{\"a\":\"1\",\"b\":\"1\","
      "\"c\":\"1\",\"d\":\"1\",\"e\":\"1\",\"f\":\"1\",\"g\":\"1\","
      "\"h\":\"1\",\"i\":\"1\",\"j\":\"1\",\"k\":\"1\",\"l\":\"1\","
      "\"m\":\"1\",\"n\":\"1\",\"o\":\"1\",\"p\":\"1\",\"q\":\"1\"}}",
      "metadata", "object_above_max_properties" },
    { "{\"model\":\"m\"," M ",\"metadata\":{\"k\":\""
      "0123456789012345678901234567890123456789012345678901234567890123"
      "0123456789012345678901234567890123456789012345678901234567890123"
      "0123456789012345678901234567890123456789012345678901234567890123"
      "0123456789012345678901234567890123456789012345678901234567890123"
      "0123456789012345678901234567890123456789012345678901234567890123"
      "0123456789012345678901234567890123456789012345678901234567890123"
      "0123456789012345678901234567890123456789012345678901234567890123"
      "0123456789012345678901234567890123456789012345678901234567890123"
      "x\"}}", "metadata.k", "string_above_max_length" },
    { "{\"model\":\"m\"," M ",\"metadata\":{\""
      "0123456789012345678901234567890123456789012345678901234567890123x"
      "\":\"v\"}}", "metadata", "string_above_max_length" },

    /* refused: messages */
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}]}",
      "messages[0].content", "missing_required_parameter" },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
      "{\"role\":\"user\",\"content\":5}]}", "messages[1].content",
      "invalid_type" },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[]}]}",
      "messages[0].content", "empty_array" },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
      "[\"a\"]}]}", "messages[0].content[0]", "invalid_type" },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
      "[{\"type\":\"video\"}]}]}", "messages[0].content[0].type",
      "invalid_value" },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
      "[{\"type\":\"text\"}]}]}", "messages[0].content[0].text",
      "missing_required_parameter" },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
      "[{\"type\":\"image_url\",\"image_url\":{}}]}]}",
      "messages[0].content[0].image_url.url", "missing_required_parameter" },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"tool\",\"content\":"
      "\"r\"}]}", "messages[0].tool_call_id", "missing_required_parameter" },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"tool\",\"content\":"
      "\"r\",\"tool_call_id\":1}]}", "messages[0].tool_call_id",
      "invalid_type" },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
      "\"r\",\"name\":1}]}", "messages[0].name", "invalid_type" },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":"
      "{}}]}", "messages[0].tool_calls", "invalid_type" },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":"
      "[{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\"}}]"
      "}]}", "messages[0].tool_calls[0].function.arguments",
      "missing_required_parameter" },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":"
      "[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":"
      "\"{}\"}}]}]}", "messages[0].tool_calls[0].id",
      "missing_required_parameter" },

    /* the first error in document order is the one answered */
    { "{\"top_p\":7,\"model\":\"m\"," M ",\"temperature\":9}", "top_p",
      "decimal_above_max_value" }
};


static void
test_cases(void)
{
    size_t                k;
    ngx_http_moa_json_t   j;
    ngx_http_moa_error_t  err;
    const params_case_t  *c;

    for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        c = &cases[k];

        memset(&j, 0, sizeof(j));
        memset(&err, 0, sizeof(err));

        if (ngx_http_moa_json_parse(&j, c->body, strlen(c->body)) != 0) {
            ok(0, "case %zu: valid JSON", k);
            continue;
        }

        if (c->param == NULL) {
            ok(ngx_http_moa_params_check(&j, 0, NGX_HTTP_MOA_PARAMS_PASS,
                                         &err) == 0,
               "case %zu: accepted (%s)", k, err.message);

        } else {
            ok(ngx_http_moa_params_check(&j, 0, NGX_HTTP_MOA_PARAMS_PASS,
                                         &err) == -1,
               "%s: refused", c->param);
            is_int(err.status, 400, "%s: 400", c->param);
            is_str(err.type, "invalid_request_error", "%s: type", c->param);
            is_str(err.param, c->param, "%s: param", c->param);
            is_str(err.code, c->code, "%s: code (%s)", c->param,
                   err.message);
            ok(strstr(err.message, c->param) != NULL,
               "%s: the message names it", c->param);
        }

        ngx_http_moa_json_free(&j);
    }
}


static void
test_unknown(void)
{
    const char            *body;
    ngx_http_moa_json_t    j;
    ngx_http_moa_error_t   err;

    body = "{\"model\":\"m\"," M ",\"top_k\":5,\"temperature\":1}";

    memset(&j, 0, sizeof(j));
    memset(&err, 0, sizeof(err));

    ok(ngx_http_moa_json_parse(&j, body, strlen(body)) == 0, "unknown: JSON");

    ok(ngx_http_moa_params_check(&j, 0, NGX_HTTP_MOA_PARAMS_DROP, &err) == 0,
       "unknown: drop accepts");
    ok(ngx_http_moa_params_check(&j, 0, NGX_HTTP_MOA_PARAMS_REJECT, &err)
       == -1, "unknown: reject refuses");
    is_str(err.param, "top_k", "unknown: param");
    is_str(err.code, "unknown_parameter", "unknown: code");
    is_str(err.message, "Unrecognized request argument supplied: top_k",
           "unknown: message");

    ok(ngx_http_moa_params_known("temperature", 11, 0), "known: temperature");
    ok(ngx_http_moa_params_known("temp\\u0065rature", 16, 1),
       "known: an escaped key");
    ok(!ngx_http_moa_params_known("top_k", 5, 0), "known: not top_k");

    ngx_http_moa_json_free(&j);
}


int
main(void)
{
    test_cases();
    test_unknown();

    return done_testing();
}
