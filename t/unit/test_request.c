
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_request.[ch]: parsing and validation of the
 * client's request (each field, the first error answered as OpenAI does),
 * and the MoA check.
 */


#include <math.h>

#include "util.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_json_find.h"
#include "ngx_http_moa_request.h"
#include "ngx_http_moa_params.h"


#define S(s)  s, sizeof(s) - 1

#define USER  "[{\"role\":\"user\",\"content\":\"hi\"}]"


static ngx_http_moa_error_t  err;


static int
parse(ngx_http_moa_request_t *req, const char *body)
{
    int  rc;

    memset(&err, 0, sizeof(err));

    rc = ngx_http_moa_request_parse(req, body, strlen(body), &err);

    return rc;
}


/* a request that must be refused with status, code and param */
static void
refused(const char *name, const char *body, int status, const char *code,
    const char *param)
{
    int                     rc;
    ngx_http_moa_request_t  req;

    rc = parse(&req, body);

    ok(rc == -1, "%s: refused", name);
    is_int(err.status, status, "%s: status", name);
    is_str(err.type, "invalid_request_error", "%s: type", name);
    is_str(err.code, code, "%s: code", name);
    is_str(err.param, param, "%s: param", name);
    ok(strlen(err.message) > 0, "%s: a message (%s)", name, err.message);

    ngx_http_moa_request_free(&req);
}


/* 47 bytes: the longest model id kept in the request's own array */
#define M47  "model-0123456789-0123456789-0123456789-01234567"


static void
test_parse(void)
{
    ngx_http_moa_request_t  req;

    /* the fields the module reads */
    if (accepted("full request", &req,
                 " {\"model\":\"moa-gpt-4o-v1\",\"messages\":" USER ","
                 "\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                 "\"n\":3,\"seed\":-7,\"tools\":[{\"type\":\"function\","
                 "\"function\":{\"name\":\"f\"}}],"
                 "\"max_completion_tokens\":100} "))
    {
        is_str(req.model, "moa-gpt-4o-v1", "model");
        ok(req.messages >= 0 && req.json.tok[req.messages].type == '['
           && ngx_http_moa_json_first(&req.json, req.messages) >= 0
           && ngx_http_moa_json_after(&req.json, req.messages,
                  ngx_http_moa_json_first(&req.json, req.messages)) == -1,
           "messages: the token of a one-element array");
        ok(req.raw_messages != NULL, "raw messages member");

        if (req.raw_messages) {
            is_mem(req.raw_messages->value, req.raw_messages->value_len,
                   USER, "raw messages: the client's bytes");
        }

        ok(req.stream, "stream");
        ok(req.include_usage, "include_usage");
        is_int(req.n, 3, "n");
        ok(req.has_seed && req.seed == -7, "seed");
        ok(req.has_tools, "has_tools");
        ok(req.max_completion_tokens, "max_completion_tokens");
        is_int(req.nmembers, 8, "eight raw members");
        ok(req.root == NULL && req.members != NULL,
           "members, and no tree until asked");
        ok(ngx_http_moa_request_root(&req) != NULL
           && ngx_http_moa_request_root(&req) == req.root,
           "request_root: made once, on demand");
        is_int(jsize(req.root, "messages"), 1, "request_root: messages");
        ok(cJSON_IsTrue(jget(req.root, "stream_options.include_usage")),
           "request_root: the whole request");
        ok(req.stream_options.len > 0 && req.stream_options.p[0] == '{'
           && req.stream_options.p[req.stream_options.len - 1] == '}',
           "stream_options: its raw text");
    }

    ngx_http_moa_request_free(&req);
    ok(req.root == NULL && req.members == NULL, "free clears the pointers");
    ngx_http_moa_request_free(&req);
    ok(1, "free twice is harmless");

    /* defaults */
    if (accepted("minimal request", &req,
                 "{\"model\":\"m\",\"messages\":" USER "}"))
    {
        ok(!req.stream && !req.include_usage && !req.has_seed
           && !req.has_tools && !req.max_completion_tokens,
           "minimal: no flags");
        is_int(req.n, 1, "minimal: n defaults to 1");
    }

    ngx_http_moa_request_free(&req);

    /* the model decoded into its own buffer, NUL-terminated */
    if (accepted("an escaped model", &req,
                 "{\"model\":\"m\\u00e9\\\"\\/x\",\"messages\":" USER "}"))
    {
        is_str(req.model, "m\xc3\xa9\"/x", "escaped model: decoded");
        is_int(req.model_len, 6, "escaped model: model_len, decoded");
        ok(req.model == req.model_buf.data, "escaped model: in model_buf");
    }

    ngx_http_moa_request_free(&req);
    ok(req.model_buf.data == NULL, "free: model_buf freed");

    /* a plain model id is kept in the request itself when it fits */
    if (accepted("a plain model", &req,
                 "{\"model\":\"gpt-4o-mini\",\"messages\":" USER "}"))
    {
        is_str(req.model, "gpt-4o-mini", "plain model: as sent");
        is_int(req.model_len, 11, "plain model: model_len");
        ok(req.model == req.model_text && req.model_buf.data == NULL,
           "plain model: in model_text, nothing allocated");
    }

    ngx_http_moa_request_free(&req);

    if (accepted("a model of 47 bytes", &req,
                 "{\"model\":\"" M47 "\",\"messages\":" USER "}"))
    {
        is_str(req.model, M47, "47 bytes: as sent");
        ok(req.model == req.model_text, "47 bytes: in model_text");
    }

    ngx_http_moa_request_free(&req);

    if (accepted("a model of 48 bytes", &req,
                 "{\"model\":\"" M47 "x\",\"messages\":" USER "}"))
    {
        is_str(req.model, M47 "x", "48 bytes: as sent");
        ok(req.model == req.model_buf.data, "48 bytes: in model_buf");
    }

    ngx_http_moa_request_free(&req);

    if (accepted("a model with \\u0000", &req,
                 "{\"model\":\"moa\\u0000x\",\"messages\":" USER "}"))
    {
        is_str(req.model, "moa", "\\u0000: the C string ends there");
        is_int(req.model_len, 5, "\\u0000: model_len counts the whole id, "
               "so that it matches no configured model");
    }

    ngx_http_moa_request_free(&req);

    /* explicit nulls for every optional field */
    if (accepted("nulls for optional fields", &req,
                 "{\"model\":\"m\",\"messages\":" USER ",\"stream\":null,"
                 "\"stream_options\":null,\"n\":null,\"seed\":null,"
                 "\"tools\":null,\"tool_choice\":null,\"temperature\":null,"
                 "\"max_completion_tokens\":null,\"max_tokens\":null,"
                 "\"audio\":null,\"prediction\":null,\"modalities\":null,"
                 "\"user\":null,\"metadata\":null}"))
    {
        ok(!req.stream && !req.include_usage && !req.has_seed
           && !req.has_tools && !req.max_completion_tokens && req.n == 1,
           "nulls: as if absent");
        ok(ngx_http_moa_request_check_moa(&req, 0, &err) == 0,
           "nulls: check_moa accepts audio/prediction/modalities null");
    }

    ngx_http_moa_request_free(&req);

    /* stream_options without include_usage, or with it false */
    if (accepted("stream_options without include_usage", &req,
                 "{\"model\":\"m\",\"messages\":" USER ",\"stream\":true,"
                 "\"stream_options\":{\"include_obfuscation\":false}}"))
    {
        ok(req.stream && !req.include_usage, "no include_usage");
    }

    ngx_http_moa_request_free(&req);

    if (accepted("include_usage false", &req,
                 "{\"model\":\"m\",\"messages\":" USER ",\"stream\":true,"
                 "\"stream_options\":{\"include_usage\":false}}"))
    {
        ok(!req.include_usage, "include_usage false");
    }

    ngx_http_moa_request_free(&req);

    /* stream false is fine with stream_options null */
    if (accepted("stream false", &req,
                 "{\"model\":\"m\",\"messages\":" USER ",\"stream\":false}"))
    {
        ok(!req.stream, "stream false");
    }

    ngx_http_moa_request_free(&req);

    /* n as a float with an integer value, n at the bounds */
    if (accepted("n 2.0", &req,
                 "{\"model\":\"m\",\"messages\":" USER ",\"n\":2.0}"))
    {
        is_int(req.n, 2, "n 2.0 is 2");
    }

    ngx_http_moa_request_free(&req);

    if (accepted("n 128", &req,
                 "{\"model\":\"m\",\"messages\":" USER ",\"n\":128}"))
    {
        is_int(req.n, 128, "n 128");
    }

    ngx_http_moa_request_free(&req);

    /* seeds: large, negative, float with an integer value */
    if (accepted("seed 2^53", &req,
                 "{\"model\":\"m\",\"messages\":" USER ","
                 "\"seed\":9007199254740992}"))
    {
        ok(req.seed == 9007199254740992LL, "seed 2^53");
    }

    ngx_http_moa_request_free(&req);

    if (accepted("seed 0", &req,
                 "{\"model\":\"m\",\"messages\":" USER ",\"seed\":0}"))
    {
        ok(req.has_seed && req.seed == 0, "seed 0 is a seed");
    }

    ngx_http_moa_request_free(&req);

    /* tools: [] is tolerated, and does not count as tools */
    if (accepted("tools []", &req,
                 "{\"model\":\"m\",\"messages\":" USER ",\"tools\":[]}"))
    {
        ok(!req.has_tools, "tools []: no tools");
    }

    ngx_http_moa_request_free(&req);

    /* every role */
    accepted("every role", &req,
             "{\"model\":\"m\",\"messages\":["
             "{\"role\":\"system\",\"content\":\"s\"},"
             "{\"role\":\"developer\",\"content\":\"d\"},"
             "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
             "\"look\"},{\"type\":\"image_url\",\"image_url\":{\"url\":"
             "\"data:image/png;base64,AAAA\"}}]},"
             "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
             "\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\","
             "\"arguments\":\"{}\"}}]},"
             "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":"
             "\"42\"},"
             "{\"role\":\"function\",\"name\":\"f\",\"content\":\"42\"}]}");
    ngx_http_moa_request_free(&req);

    /* escaped keys are the same keys */
    if (accepted("escaped keys", &req,
                 "{\"\\u006dodel\":\"m\",\"mess\\u0061ges\":" USER ","
                 "\"str\\u0065am\":true}"))
    {
        is_str(req.model, "m", "escaped: model");
        ok(req.raw_messages && req.raw_messages->escaped,
           "escaped: the raw messages member is the escaped one");
        ok(req.stream, "escaped: stream");
    }

    ngx_http_moa_request_free(&req);

    /* duplicate keys: the first one counts, in both views */
    if (accepted("duplicate keys", &req,
                 "{\"model\":\"first\",\"model\":\"second\",\"messages\":"
                 USER ",\"messages\":[{\"role\":\"user\",\"content\":\"2\"}]}"))
    {
        is_str(req.model, "first", "duplicates: the first model");
        ok(req.raw_messages != NULL
           && req.raw_messages == &req.members[2],
           "duplicates: the first raw messages");
        ok(req.messages >= 0
           && req.json.tok[req.messages].p == req.members[2].value,
           "duplicates: the first messages' token");
        is_str(jstr(ngx_http_moa_request_root(&req), "messages.0.content"),
               "hi", "duplicates: the first, in the tree too");
    }

    ngx_http_moa_request_free(&req);

    /*
     * a key with \u0000 is cut there by cJSON ("messages\u0000x" is
     * "messages" to it): the raw view must agree, or the array validated
     * is not the value spliced into the bodies
     */
    if (accepted("a key cut by \\u0000", &req,
                 "{\"model\":\"m\",\"messages\\u0000x\":" USER ","
                 "\"messages\":1}"))
    {
        ok(req.raw_messages == &req.members[1],
           "\\u0000: the raw messages are the array cJSON validated");

        if (req.raw_messages) {
            is_mem(req.raw_messages->value, req.raw_messages->value_len,
                   USER, "\\u0000: the raw value");
        }
    }

    ngx_http_moa_request_free(&req);

    /* whitespace and unicode in messages are kept byte for byte */
    if (accepted("messages bytes", &req,
                 "{\"model\":\"m\",\"messages\" :\n [ {\"role\": \"user\","
                 " \"content\": \"\\u00e9t\\u00e9 \xc3\xa9\" } ] }"))
    {
        ok(req.raw_messages != NULL, "raw messages");

        if (req.raw_messages) {
            is_mem(req.raw_messages->value, req.raw_messages->value_len,
                   "[ {\"role\": \"user\", \"content\": "
                   "\"\\u00e9t\\u00e9 \xc3\xa9\" } ]",
                   "raw messages: exact bytes");
        }
    }

    ngx_http_moa_request_free(&req);
}


static void
test_refused(void)
{
    refused("invalid JSON", "{\"model\":\"m\",\"messages\":" USER,
            400, NULL, NULL);
    refused("empty body", "", 400, NULL, NULL);

    {
        ngx_http_moa_request_t  req;

        /* an empty POST body reaches the parser as (NULL, 0) */
        memset(&err, 0, sizeof(err));
        ok(ngx_http_moa_request_parse(&req, NULL, 0, &err) == -1
           && err.status == 400, "no body at all: 400");
        ngx_http_moa_request_free(&req);
    }
    refused("an array", "[{\"model\":\"m\"}]", 400, NULL, NULL);
    refused("a string", "\"x\"", 400, NULL, NULL);
    refused("trailing garbage", "{\"model\":\"m\",\"messages\":" USER "}x",
            400, NULL, NULL);
    refused("two objects", "{} {}", 400, NULL, NULL);
    refused("a lone surrogate", "{\"model\":\"\\ud800\",\"messages\":"
            USER "}", 400, NULL, NULL);

    refused("model missing", "{\"messages\":" USER "}", 400,
            "missing_required_parameter", "model");
    refused("model null", "{\"model\":null,\"messages\":" USER "}", 400,
            "missing_required_parameter", "model");
    refused("model a number", "{\"model\":5,\"messages\":" USER "}", 400,
            "invalid_type", "model");
    refused("model an object", "{\"model\":{},\"messages\":" USER "}", 400,
            "invalid_type", "model");

    refused("messages missing", "{\"model\":\"m\"}", 400,
            "missing_required_parameter", "messages");
    refused("messages null", "{\"model\":\"m\",\"messages\":null}", 400,
            "missing_required_parameter", "messages");
    refused("messages an object", "{\"model\":\"m\",\"messages\":{}}", 400,
            "invalid_type", "messages");
    refused("messages a string", "{\"model\":\"m\",\"messages\":\"hi\"}", 400,
            "invalid_type", "messages");
    refused("messages empty", "{\"model\":\"m\",\"messages\":[]}", 400,
            "empty_array", "messages");
    refused("a message not an object", "{\"model\":\"m\",\"messages\":"
            "[{\"role\":\"user\",\"content\":\"a\"},\"b\"]}", 400,
            "invalid_type", "messages[1]");
    refused("a message without role", "{\"model\":\"m\",\"messages\":"
            "[{\"content\":\"a\"}]}", 400, "missing_required_parameter",
            "messages[0].role");
    refused("a role that is not a string", "{\"model\":\"m\",\"messages\":"
            "[{\"role\":1,\"content\":\"a\"}]}", 400, "invalid_type",
            "messages[0].role");
    refused("a null role", "{\"model\":\"m\",\"messages\":"
            "[{\"role\":null,\"content\":\"a\"}]}", 400, "invalid_type",
            "messages[0].role");
    refused("an unknown role", "{\"model\":\"m\",\"messages\":"
            "[{\"role\":\"robot\",\"content\":\"a\"}]}", 400,
            "invalid_value", "messages[0].role");
    refused("a role in upper case", "{\"model\":\"m\",\"messages\":"
            "[{\"role\":\"User\",\"content\":\"a\"}]}", 400,
            "invalid_value", "messages[0].role");

    refused("stream a string", "{\"model\":\"m\",\"messages\":" USER ","
            "\"stream\":\"true\"}", 400, "invalid_type", "stream");
    refused("stream a number", "{\"model\":\"m\",\"messages\":" USER ","
            "\"stream\":1}", 400, "invalid_type", "stream");
    refused("stream_options not an object", "{\"model\":\"m\",\"messages\":"
            USER ",\"stream\":true,\"stream_options\":true}", 400,
            "invalid_type", "stream_options");
    refused("stream_options without stream", "{\"model\":\"m\",\"messages\":"
            USER ",\"stream_options\":{\"include_usage\":true}}", 400,
            "invalid_value", "stream_options");
    refused("stream_options with stream false", "{\"model\":\"m\","
            "\"messages\":" USER ",\"stream\":false,\"stream_options\":{}}",
            400, "invalid_value", "stream_options");

    refused("n a string", "{\"model\":\"m\",\"messages\":" USER ","
            "\"n\":\"2\"}", 400, "invalid_type", "n");
    refused("n a fraction", "{\"model\":\"m\",\"messages\":" USER ","
            "\"n\":1.5}", 400, "invalid_type", "n");
    refused("n huge", "{\"model\":\"m\",\"messages\":" USER ","
            "\"n\":1e300}", 400, "invalid_type", "n");
    refused("n beyond an int", "{\"model\":\"m\",\"messages\":" USER ","
            "\"n\":3000000000}", 400, "invalid_type", "n");
    refused("n below an int", "{\"model\":\"m\",\"messages\":" USER ","
            "\"n\":-3e9}", 400, "invalid_type", "n");
    refused("n 0", "{\"model\":\"m\",\"messages\":" USER ",\"n\":0}", 400,
            "invalid_value", "n");
    refused("n -1", "{\"model\":\"m\",\"messages\":" USER ",\"n\":-1}", 400,
            "invalid_value", "n");
    refused("n 129", "{\"model\":\"m\",\"messages\":" USER ",\"n\":129}",
            400, "invalid_value", "n");

    refused("seed a string", "{\"model\":\"m\",\"messages\":" USER ","
            "\"seed\":\"1\"}", 400, "invalid_type", "seed");
    refused("seed a fraction", "{\"model\":\"m\",\"messages\":" USER ","
            "\"seed\":0.5}", 400, "invalid_type", "seed");
    refused("seed 1e300", "{\"model\":\"m\",\"messages\":" USER ","
            "\"seed\":1e300}", 400, "invalid_type", "seed");
    refused("seed -1e300", "{\"model\":\"m\",\"messages\":" USER ","
            "\"seed\":-1e300}", 400, "invalid_type", "seed");
    refused("seed 2^63", "{\"model\":\"m\",\"messages\":" USER ","
            "\"seed\":9223372036854775808}", 400, "invalid_type", "seed");

    refused("tools an object", "{\"model\":\"m\",\"messages\":" USER ","
            "\"tools\":{}}", 400, "invalid_type", "tools");
    refused("tools a string", "{\"model\":\"m\",\"messages\":" USER ","
            "\"tools\":\"f\"}", 400, "invalid_type", "tools");
}


static void
test_check_moa(void)
{
    size_t                  i;
    ngx_http_moa_request_t  req;

    static const struct {
        const char  *name;
        const char  *extra;
        const char  *param;      /* NULL: accepted */
    } cases[] = {
        { "nothing special", "", NULL },
        { "audio", ",\"audio\":{\"voice\":\"alloy\",\"format\":\"wav\"}",
          "audio" },
        { "audio false is still audio", ",\"audio\":false", "audio" },
        { "modalities with audio", ",\"modalities\":[\"text\",\"audio\"]",
          "audio" },
        { "modalities text", ",\"modalities\":[\"text\"]", NULL },
        { "modalities empty", ",\"modalities\":[]", NULL },
        { "modalities not strings", ",\"modalities\":[1,null,{}]", NULL },
        { "prediction", ",\"prediction\":{\"type\":\"content\",\"content\":"
          "\"x\"}", "prediction" },
        { "other fields", ",\"tools\":[],\"response_format\":{\"type\":"
          "\"json_object\"},\"logprobs\":true", NULL },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char  body[512];

        snprintf(body, sizeof(body), "{\"model\":\"moa-x\",\"messages\":"
                 USER "%s}", cases[i].extra);

        if (!accepted(cases[i].name, &req, body)) {
            ngx_http_moa_request_free(&req);
            continue;
        }

        memset(&err, 0, sizeof(err));

        if (cases[i].param == NULL) {
            ok(ngx_http_moa_request_check_moa(&req, 0, &err) == 0,
               "check_moa: %s: accepted", cases[i].name);

        } else {
            ok(ngx_http_moa_request_check_moa(&req, 0, &err) == -1,
               "check_moa: %s: refused", cases[i].name);
            is_int(err.status, 400, "check_moa: %s: 400", cases[i].name);
            is_str(err.code, "unsupported_parameter", "check_moa: %s: code",
                   cases[i].name);
            is_str(err.param, cases[i].param, "check_moa: %s: param",
                   cases[i].name);
            has(err.message, strlen(err.message), "moa-x",
                "check_moa: %s: the message names the model", cases[i].name);
        }

        ngx_http_moa_request_free(&req);
    }
}


/* a body that is not JSON is told where it stops being JSON */
static void
test_bad_json(void)
{
    size_t                  k;
    ngx_http_moa_request_t  req;

    static const struct {
        const char  *body;
        const char  *message;
    } cases[] = {
        { "{\"model\":\"moa-test-v1\",\"messages\":[",
          "the JSON ends early (at byte 35, the end of the body)" },
        { "{\"model\":\"m\",\"messages\":tru}", "invalid JSON at byte 24" },
        { "{\"model\":\"m\"} x", "invalid JSON at byte 14" },
        { "", "the body is empty" },
        { "[1]", "expected a JSON object" }
    };

    for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        ok(parse(&req, cases[k].body) == -1, "bad JSON %zu: refused", k);
        is_int(err.status, 400, "bad JSON %zu: 400", k);
        ok(err.param == NULL && err.code == NULL,
           "bad JSON %zu: no param, no code", k);
        ok(strstr(err.message, "We could not parse the JSON body of your "
                  "request: ") == err.message
           && strstr(err.message, cases[k].message) != NULL,
           "bad JSON %zu: '%s' in '%s'", k, cases[k].message, err.message);

        ngx_http_moa_request_free(&req);
    }
}


/* what the recipes read: the client's limit, json_schema, "moa" */
static void
test_recipe_members(void)
{
    size_t                  k;
    ngx_http_moa_error_t    err;
    ngx_http_moa_request_t  req;

    if (accepted("recipe members", &req,
                 "{\"model\":\"m\",\"moa\":{\"layers\":2},\"messages\":" USER
                 ",\"max_tokens\":90,\"response_format\":{\"type\":"
                 "\"json_schema\",\"json_schema\":{\"name\":\"x\","
                 "\"schema\":{}}}}"))
    {
        is_int(req.max_tokens, 90, "recipe: the client's max_tokens");
        ok(req.json_schema, "recipe: a json_schema response_format");
        ok(req.moa > 0 && req.json.tok[req.moa].type == '{',
           "recipe: the moa member's token");

        ok(ngx_http_moa_request_check_moa(&req, NGX_HTTP_MOA_PARAMS_REJECT,
                                          &err) == 0,
           "recipe: moa is known, even when unknown parameters are refused");

        for (k = 0; k < req.nmembers; k++) {
            if (ngx_http_moa_json_key_is(&req.members[k], "moa")) {
                break;
            }
        }

        ok(k == req.nmembers, "recipe: moa never reaches a stage body");
        ok(req.raw_messages
           && req.raw_messages->value == req.json.tok[req.messages].p,
           "recipe: the messages found again after the drop");
    }

    ngx_http_moa_request_free(&req);

    if (accepted("recipe limits", &req,
                 "{\"model\":\"m\",\"messages\":" USER ",\"max_tokens\":90,"
                 "\"max_completion_tokens\":40,\"response_format\":"
                 "{\"type\":\"json_object\"}}"))
    {
        is_int(req.max_tokens, 40, "recipe: max_completion_tokens first");
    }

    ngx_http_moa_request_free(&req);

    if (accepted("recipe limit in exponent form", &req,
                 "{\"model\":\"m\",\"messages\":" USER
                 ",\"max_tokens\":1e2}"))
    {
        is_int(req.max_tokens, 100, "recipe: max_tokens 1e2 is 100");
        ok(!req.json_schema && req.moa < 0, "recipe: no json_schema, no moa");
    }

    ngx_http_moa_request_free(&req);

    if (accepted("recipe moa null", &req,
                 "{\"model\":\"m\",\"messages\":" USER ",\"moa\":null}"))
    {
        ok(req.moa < 0, "recipe: \"moa\": null is not given");
    }

    ngx_http_moa_request_free(&req);

    if (accepted("recipe moa not an object", &req,
                 "{\"model\":\"m\",\"messages\":" USER ",\"moa\":3}"))
    {
        ok(ngx_http_moa_request_check_moa(&req, 0, &err) == -1
           && strcmp(err.param, "moa") == 0
           && strcmp(err.code, "invalid_type") == 0,
           "recipe: a moa that is no object refused");
    }

    ngx_http_moa_request_free(&req);
}


int
main(void)
{
    test_parse();
    test_refused();
    test_check_moa();
    test_recipe_members();
    test_bad_json();

    return done_testing();
}
