
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_messages.[ch]: each message's content,
 * parts, name, tool_call_id and tool calls, named as OpenAI names them.
 */


#include "util.h"
#include "ngx_http_moa_messages.h"


typedef struct {
    const char  *messages;   /* the array */
    const char  *param;      /* NULL: accepted */
    const char  *code;
} messages_case_t;


static const messages_case_t  cases[] = {
    { "[{\"role\":\"user\",\"content\":\"hi\"}]", NULL, NULL },
    { "[{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
      "\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\","
      "\"arguments\":\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"c\","
      "\"content\":\"r\"}]", NULL, NULL },
    { "[{\"role\":\"assistant\"}]", NULL, NULL },
    { "[{\"role\":\"assistant\",\"content\":[]}]", NULL, NULL },
    { "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
      "{\"type\":\"image_url\",\"image_url\":{\"url\":\"u\"}},{\"type\":"
      "\"input_audio\",\"input_audio\":{}},{\"type\":\"file\",\"file\":{}}]}]",
      NULL, NULL },
    { "[{\"role\":\"system\",\"content\":\"a\",\"name\":\"n\"}]", NULL, NULL },

    { "[{\"role\":\"system\"}]", "messages[0].content",
      "missing_required_parameter" },
    { "[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":"
      "null}]", "messages[1].content", "missing_required_parameter" },
    { "[{\"role\":\"user\",\"content\":{}}]", "messages[0].content",
      "invalid_type" },
    { "[{\"role\":\"user\",\"content\":[]}]", "messages[0].content",
      "empty_array" },
    { "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
      "{\"text\":\"b\"}]}]", "messages[0].content[1].type",
      "missing_required_parameter" },
    { "[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
      "\"image_url\":\"u\"}]}]", "messages[0].content[0].image_url",
      "invalid_type" },
    { "[{\"role\":\"user\",\"content\":[{\"type\":\"refusal\"}]}]",
      "messages[0].content[0].refusal", "missing_required_parameter" },
    { "[{\"role\":\"user\",\"content\":\"a\",\"name\":[]}]",
      "messages[0].name", "invalid_type" },
    { "[{\"role\":\"tool\",\"content\":\"a\"}]", "messages[0].tool_call_id",
      "missing_required_parameter" },
    { "[{\"role\":\"assistant\",\"tool_calls\":[1]}]",
      "messages[0].tool_calls[0]", "invalid_type" },
    { "[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\",\"type\":"
      "\"tool\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}]",
      "messages[0].tool_calls[0].type", "invalid_value" },
    { "[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\",\"type\":"
      "\"function\",\"function\":{\"arguments\":\"{}\"}}]}]",
      "messages[0].tool_calls[0].function.name",
      "missing_required_parameter" },
    { "[\"hi\"]", "messages[0]", "invalid_type" }
};


int
main(void)
{
    size_t                  k;
    ngx_http_moa_json_t     j;
    ngx_http_moa_error_t    err;
    const messages_case_t  *c;

    memset(&j, 0, sizeof(j));

    for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        c = &cases[k];
        memset(&err, 0, sizeof(err));

        if (ngx_http_moa_json_parse(&j, c->messages, strlen(c->messages))
            != 0)
        {
            ok(0, "case %zu: valid JSON", k);
            continue;
        }

        if (c->param == NULL) {
            ok(ngx_http_moa_messages_check(&j, 0, "messages", &err) == 0,
               "case %zu: accepted (%s)", k, err.message);
            ok(ngx_http_moa_messages_check(&j, 0, "messages", NULL) == 0,
               "case %zu: accepted without naming", k);
            continue;
        }

        ok(ngx_http_moa_messages_check(&j, 0, "messages", NULL) == -1,
           "%s: refused without naming", c->param);
        ok(ngx_http_moa_messages_check(&j, 0, "messages", &err) == -1,
           "%s: refused", c->param);
        is_str(err.param, c->param, "%s: param", c->param);
        is_str(err.code, c->code, "%s: code (%s)", c->param, err.message);
        is_str(err.type, "invalid_request_error", "%s: type", c->param);
    }

    ngx_http_moa_json_free(&j);

    return done_testing();
}
