
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of the request side of ngx_http_moa_openai.[ch]: parsing and
 * validation, the MoA check, the bodies of the three stages, and the
 * OpenAI error shape.
 */


#include <math.h>

#include "util.h"
#include "ngx_http_moa_openai.h"


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


static int
accepted(const char *name, ngx_http_moa_request_t *req, const char *body)
{
    if (!ok(parse(req, body) == 0, "%s: accepted", name)) {
        diag("    %s", err.message);
        return 0;
    }

    return 1;
}


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
        ok(req.model == req.model_buf.data, "escaped model: in model_buf");
    }

    ngx_http_moa_request_free(&req);
    ok(req.model_buf.data == NULL, "free: model_buf freed");

    /* a plain model id is kept in the request itself when it fits */
    if (accepted("a plain model", &req,
                 "{\"model\":\"gpt-4o-mini\",\"messages\":" USER "}"))
    {
        is_str(req.model, "gpt-4o-mini", "plain model: as sent");
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
        is_str(req.model, "moa", "\\u0000: the model is cut there, as for "
               "cJSON");
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
        ok(ngx_http_moa_request_check_moa(&req, &err) == 0,
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
            "invalid_type", "messages");
    refused("a message without role", "{\"model\":\"m\",\"messages\":"
            "[{\"content\":\"a\"}]}", 400, "missing_required_parameter",
            "messages");
    refused("a role that is not a string", "{\"model\":\"m\",\"messages\":"
            "[{\"role\":1,\"content\":\"a\"}]}", 400, "invalid_type",
            "messages");
    refused("a null role", "{\"model\":\"m\",\"messages\":"
            "[{\"role\":null,\"content\":\"a\"}]}", 400, "invalid_type",
            "messages");
    refused("an unknown role", "{\"model\":\"m\",\"messages\":"
            "[{\"role\":\"robot\",\"content\":\"a\"}]}", 400,
            "invalid_value", "messages");
    refused("a role in upper case", "{\"model\":\"m\",\"messages\":"
            "[{\"role\":\"User\",\"content\":\"a\"}]}", 400,
            "invalid_value", "messages");

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
            ok(ngx_http_moa_request_check_moa(&req, &err) == 0,
               "check_moa: %s: accepted", cases[i].name);

        } else {
            ok(ngx_http_moa_request_check_moa(&req, &err) == -1,
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


/*
 * Builds one stage body: 'p'roposal, 'c'ritique or 's'ynthesis, flattened
 * into out.  The instruction is a template without placeholders (escaped
 * as at configuration time), with no candidates.
 */
static cJSON *
build(int stage, const char *body, const ngx_http_moa_call_params_t *cp,
    const char *instruction, ngx_http_moa_buf_t *out, const char *name)
{
    int                     rc;
    ngx_http_moa_buf_t      tpl, none;
    ngx_http_moa_body_t     b;
    ngx_http_moa_request_t  req;

    out->len = 0;

    if (!accepted(name, &req, body)) {
        ngx_http_moa_request_free(&req);
        return NULL;
    }

    memset(&tpl, 0, sizeof(tpl));
    memset(&none, 0, sizeof(none));
    memset(&b, 0, sizeof(b));

    if (instruction) {
        ngx_http_moa_buf_json_inner(&tpl, instruction, strlen(instruction));
    }

    switch (stage) {
    case 'p':
        rc = ngx_http_moa_build_proposal(&b, &req, cp);
        break;
    case 'c':
        rc = ngx_http_moa_build_critique(&b, &req, cp,
                                         tpl.len ? tpl.data : "", tpl.len,
                                         &none, 0);
        break;
    default:
        rc = ngx_http_moa_build_synthesis(&b, &req, cp,
                                          tpl.len ? tpl.data : "", tpl.len,
                                          &none, 0, NULL);
    }

    ngx_http_moa_body_flat(&b, out);

    ok(rc == 0 && out->len == b.len, "%s: built", name);

    ngx_http_moa_body_free(&b);
    ngx_http_moa_buf_free(&tpl);
    ngx_http_moa_request_free(&req);

    return json_ok(out->data, out->len, name);
}


static ngx_http_moa_call_params_t
params(const char *model, const char *temperature, long long max_tokens,
    int n, int index)
{
    ngx_http_moa_call_params_t  cp;

    memset(&cp, 0, sizeof(cp));

    cp.model = model;
    cp.model_len = strlen(model);
    cp.temperature = temperature;
    cp.temperature_len = temperature ? strlen(temperature) : 0;
    cp.max_tokens = max_tokens;
    cp.n = n;
    cp.index = index;

    return cp;
}


/* every top-level key of v, in order, as "k1,k2,..." */
static void
keys_of(const cJSON *v, char *buf, size_t size)
{
    size_t        len;
    const cJSON  *c;

    buf[0] = '\0';
    len = 0;

    cJSON_ArrayForEach(c, v) {
        len += snprintf(buf + len, size - len, "%s%s", len ? "," : "",
                        c->string);

        if (len >= size) {
            break;
        }
    }
}


#define FULL                                                                 \
    "{\"model\":\"moa-gpt-4o-v1\",\"messages\":"                             \
    "[{\"role\":\"system\",\"content\":\"be brief\"},"                       \
    "{\"role\":\"user\",\"content\":\"hi\"}],"                               \
    "\"stream\":true,\"stream_options\":{\"include_usage\":false,"           \
    "\"include_obfuscation\":false},"                                        \
    "\"n\":2,\"temperature\":0.1,\"top_p\":0.9,\"seed\":40,"                 \
    "\"logprobs\":true,\"top_logprobs\":2,\"store\":true,"                   \
    "\"metadata\":{\"k\":\"v\"},\"max_tokens\":300,"                         \
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"     \
    "\"tool_choice\":\"auto\",\"parallel_tool_calls\":false,"                \
    "\"response_format\":{\"type\":\"json_object\"},\"stop\":[\"END\"],"     \
    "\"presence_penalty\":0.5,\"frequency_penalty\":0.25,"                   \
    "\"logit_bias\":{\"50256\":-100},\"user\":\"u-1\","                      \
    "\"safety_identifier\":\"s-1\",\"service_tier\":\"auto\","               \
    "\"prompt_cache_key\":\"pk\",\"reasoning_effort\":\"low\","              \
    "\"verbosity\":\"low\"}"


static void
test_proposal(void)
{
    int                         i;
    char                        keys[1024];
    cJSON                      *v;
    ngx_http_moa_buf_t          out;
    ngx_http_moa_call_params_t  cp;

    memset(&out, 0, sizeof(out));

    cp = params("gpt-4o", "1.0", 0, 0, 0);
    v = build('p', FULL, &cp, NULL, &out, "proposal of a full request");

    keys_of(v, keys, sizeof(keys));
    is_str(keys, "top_p,max_tokens,tools,tool_choice,parallel_tool_calls,"
           "response_format,stop,presence_penalty,frequency_penalty,"
           "logit_bias,user,safety_identifier,service_tier,prompt_cache_key,"
           "reasoning_effort,verbosity,model,temperature,messages,seed,"
           "stream", "proposal: exactly the expected keys, in order");

    is_str(jstr(v, "model"), "gpt-4o", "proposal: base model");
    ok(jnum(v, "temperature") == 1.0, "proposal: the proposer temperature");
    has(out.data, out.len, "\"temperature\":1.0,",
        "proposal: the temperature text spliced as is");
    ok(cJSON_IsFalse(jget(v, "stream")), "proposal: stream false");
    ok(!jhas(v, "stream_options"), "proposal: no stream_options");
    ok(!jhas(v, "n"), "proposal: the client's n dropped");
    ok(!jhas(v, "logprobs") && !jhas(v, "top_logprobs"),
       "proposal: no logprobs");
    ok(!jhas(v, "store") && !jhas(v, "metadata"),
       "proposal: no store, no metadata");
    is_int(jnum(v, "seed"), 40, "proposal 0: the client's seed");
    is_int(jnum(v, "max_tokens"), 300, "proposal: the client's max_tokens");
    is_int(count_of(out.data, out.len, "\"temperature\""), 1,
           "proposal: one temperature");
    has(out.data, out.len,
        "\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
        "{\"role\":\"user\",\"content\":\"hi\"}]",
        "proposal: the client's messages, unchanged, no instruction");
    has(out.data, out.len, "\"logit_bias\":{\"50256\":-100}",
        "proposal: raw member bytes");
    cJSON_Delete(v);

    /* per-proposal seeds, n, max tokens override with the client's key */
    for (i = 0; i < 3; i++) {
        cp = params("gpt-4o-mini", NULL, 50, 3, i);
        v = build('p', FULL, &cp, NULL, &out, "proposal with overrides");

        is_int(jnum(v, "seed"), 40 + i, "proposal %d: seed offset", i);
        is_int(jnum(v, "n"), 3, "proposal %d: n asked", i);
        is_int(jnum(v, "max_tokens"), 50, "proposal %d: max_tokens override",
               i);
        is_int(count_of(out.data, out.len, "max_tokens"), 1,
               "proposal %d: the client's max_tokens replaced", i);
        ok(!jhas(v, "temperature"), "proposal %d: no temperature", i);
        is_str(jstr(v, "model"), "gpt-4o-mini", "proposal %d: model", i);
        cJSON_Delete(v);
    }

    cp = params("gpt-4o", NULL, 64, 1, 5);
    v = build('p', "{\"model\":\"m\",\"messages\":" USER ","
              "\"max_completion_tokens\":1000}", &cp, NULL, &out,
              "proposal, max_completion_tokens");
    is_int(jnum(v, "max_completion_tokens"), 64,
           "max_completion_tokens: the client's key name kept");
    ok(!jhas(v, "max_tokens"), "max_completion_tokens: no max_tokens");
    ok(!jhas(v, "n"), "n 1 is not sent");
    ok(!jhas(v, "seed"), "no seed without the client's");
    cJSON_Delete(v);

    cp = params("gpt-4o", NULL, 64, 0, 0);
    v = build('p', "{\"model\":\"m\",\"messages\":" USER ","
              "\"max_tokens\":10,\"max_completion_tokens\":1000}", &cp, NULL,
              &out, "proposal, both max keys");
    is_int(jnum(v, "max_completion_tokens"), 64, "both: one override");
    ok(!jhas(v, "max_tokens"), "both: max_tokens dropped");
    cJSON_Delete(v);

    cp = params("gpt-4o", NULL, 0, 0, 0);
    v = build('p', "{\"model\":\"m\",\"messages\":" USER ","
              "\"max_completion_tokens\":1000}", &cp, NULL, &out,
              "proposal, no override");
    is_int(jnum(v, "max_completion_tokens"), 1000,
           "no override: the client's max_completion_tokens kept");
    cJSON_Delete(v);

    /* no hard-coded max_tokens the client did not ask for */
    v = build('p', "{\"model\":\"m\",\"messages\":" USER "}", &cp, NULL,
              &out, "proposal, minimal");
    keys_of(v, keys, sizeof(keys));
    is_str(keys, "model,messages,stream", "minimal proposal: three keys");
    cJSON_Delete(v);

    /* escaped and duplicated dropped keys are dropped */
    v = build('p', "{\"\\u006dodel\":\"m\",\"messages\":" USER ","
              "\"stre\\u0061m\":true,\"str\\u0065am_options\":{},"
              "\"n\":2,\"n\":3,\"user\":\"u\"}", &cp, NULL, &out,
              "proposal, escaped keys");
    keys_of(v, keys, sizeof(keys));
    is_str(keys, "user,model,messages,stream",
           "escaped and duplicate keys: dropped");
    cJSON_Delete(v);

    /* a key cut by \u0000 is the key cJSON sees: dropped like it */
    v = build('p', "{\"model\":\"m\",\"messages\\u0000\":" USER ","
              "\"messages\":1,\"stream\\u0000\":true}", &cp, NULL, &out,
              "proposal, keys cut by \\u0000");
    keys_of(v, keys, sizeof(keys));
    is_str(keys, "model,messages,stream", "\\u0000 keys: dropped");
    is_int(jsize(v, "messages"), 1, "\\u0000 keys: the validated messages");
    cJSON_Delete(v);

    /* a model name needing escapes */
    cp = params("a\"b\\c", NULL, 0, 0, 0);
    v = build('p', "{\"model\":\"m\",\"messages\":" USER "}", &cp, NULL,
              &out, "proposal, odd model name");
    is_str(jstr(v, "model"), "a\"b\\c", "the model name is escaped");
    cJSON_Delete(v);

    ngx_http_moa_buf_free(&out);
}


static void
test_critique(void)
{
    char                        keys[1024];
    cJSON                      *v;
    const char                 *inst;
    ngx_http_moa_buf_t          out;
    ngx_http_moa_call_params_t  cp;

    memset(&out, 0, sizeof(out));

    inst = "Review <candidate number=\"1\">\n\"q\" \\ </candidate>\n\t\x01";

    cp = params("gpt-4o", "0.2", 0, 0, 0);
    v = build('c', FULL, &cp, inst, &out, "critique of a full request");

    keys_of(v, keys, sizeof(keys));
    is_str(keys, "tools,user,safety_identifier,service_tier,"
           "prompt_cache_key,reasoning_effort,tool_choice,model,temperature,"
           "messages,stream", "critique: only the allowlist");
    is_str(jstr(v, "tool_choice"), "none", "critique: tool_choice none");
    is_str(jstr(v, "model"), "gpt-4o", "critique: model");
    ok(jnum(v, "temperature") == 0.2, "critique: temperature");
    ok(cJSON_IsFalse(jget(v, "stream")), "critique: stream false");
    is_int(jsize(v, "messages"), 3, "critique: the conversation + 1");
    is_str(jstr(v, "messages.0.content"), "be brief",
           "critique: the system message first");
    is_str(jstr(v, "messages.2.role"), "user", "critique: instruction role");
    is_str(jstr(v, "messages.2.content"), inst,
           "critique: the instruction, escaped and decoded back");
    has(out.data, out.len, "\"messages\":[{\"role\":\"system\",\"content\":"
        "\"be brief\"},{\"role\":\"user\",\"content\":\"hi\"},{\"role\":"
        "\"user\",\"content\":", "critique: raw messages then instruction");
    cJSON_Delete(v);

    /* no tools, or tools []: no tool_choice */
    cp = params("gpt-4o", NULL, 0, 0, 0);
    v = build('c', "{\"model\":\"m\",\"messages\":" USER ","
              "\"tool_choice\":\"required\",\"tools\":[]}", &cp, "x", &out,
              "critique, tools []");
    ok(!jhas(v, "tool_choice"), "tools []: no tool_choice");
    ok(!jhas(v, "temperature"), "no temperature when none is set");
    cJSON_Delete(v);

    v = build('c', "{\"model\":\"m\",\"messages\":" USER ","
              "\"tool_choice\":\"required\"}", &cp, "x", &out,
              "critique, tool_choice without tools");
    keys_of(v, keys, sizeof(keys));
    is_str(keys, "model,messages,stream",
           "critique: the client's tool_choice is never sent");
    cJSON_Delete(v);

    v = build('c', "{\"model\":\"m\",\"messages\\u0000\":" USER ","
              "\"messages\":1}", &cp, "x", &out,
              "critique, messages key cut by \\u0000");
    is_int(jsize(v, "messages"), 2, "\\u0000 key: messages + instruction");
    cJSON_Delete(v);

    /* max tokens of the critic, named as the client names it */
    cp = params("gpt-4o", NULL, 2000, 0, 0);
    v = build('c', "{\"model\":\"m\",\"messages\":" USER ","
              "\"max_completion_tokens\":10}", &cp, "x", &out,
              "critique, max tokens");
    is_int(jnum(v, "max_completion_tokens"), 2000,
           "critique: the critic's max, the client's key name");
    is_int(count_of(out.data, out.len, "max_"), 1, "critique: one max key");
    cJSON_Delete(v);

    v = build('c', "{\"model\":\"m\",\"messages\":" USER ","
              "\"max_tokens\":10}", &cp, "x", &out,
              "critique, max_tokens");
    is_int(jnum(v, "max_tokens"), 2000, "critique: max_tokens");
    cJSON_Delete(v);

    cp = params("gpt-4o", NULL, 0, 0, 0);
    v = build('c', "{\"model\":\"m\",\"messages\":" USER ","
              "\"max_tokens\":10}", &cp, "", &out, "critique, no max");
    ok(!jhas(v, "max_tokens"), "critique: the client's max is not sent");
    is_str(jstr(v, "messages.1.content"), "",
           "critique: an empty instruction is still a message");
    cJSON_Delete(v);

    /* an empty template, no candidates: still an instruction message */
    v = build('c', "{\"model\":\"m\",\"messages\":" USER "}", &cp, NULL,
              &out, "critique, an empty template");
    is_int(jsize(v, "messages"), 2, "critique, empty: an instruction");
    is_str(jstr(v, "messages.1.content"), "",
           "critique, empty: an empty instruction");
    cJSON_Delete(v);

    v = build('s', "{\"model\":\"m\",\"messages\":" USER "}", &cp, NULL,
              &out, "synthesis, an empty template");
    is_int(jsize(v, "messages"), 2, "synthesis, empty: an instruction");
    cJSON_Delete(v);

    ngx_http_moa_buf_free(&out);
}


static void
test_synthesis(void)
{
    char                        keys[1024];
    cJSON                      *v;
    ngx_http_moa_buf_t          out;
    ngx_http_moa_call_params_t  cp;

    memset(&out, 0, sizeof(out));

    cp = params("gpt-4o", NULL, 0, 0, 0);
    v = build('s', FULL, &cp, "synthesise", &out, "synthesis, streamed");

    keys_of(v, keys, sizeof(keys));
    is_str(keys, "n,temperature,top_p,seed,logprobs,top_logprobs,store,"
           "metadata,max_tokens,tools,tool_choice,parallel_tool_calls,"
           "response_format,stop,presence_penalty,frequency_penalty,"
           "logit_bias,user,safety_identifier,service_tier,prompt_cache_key,"
           "reasoning_effort,verbosity,model,messages,stream,stream_options",
           "synthesis: everything the client sent, model/messages/stream "
           "replaced");
    is_str(jstr(v, "model"), "gpt-4o", "synthesis: base model");
    ok(jnum(v, "temperature") == 0.1, "synthesis: the client's temperature");
    is_int(jnum(v, "n"), 2, "synthesis: the client's n");
    is_int(jnum(v, "seed"), 40, "synthesis: the client's seed");
    ok(cJSON_IsTrue(jget(v, "logprobs")), "synthesis: logprobs");
    is_int(jnum(v, "max_tokens"), 300, "synthesis: the client's max_tokens");
    ok(cJSON_IsTrue(jget(v, "stream")), "synthesis: stream true");
    ok(cJSON_IsTrue(jget(v, "stream_options.include_usage")),
       "synthesis: include_usage forced true");
    ok(cJSON_IsFalse(jget(v, "stream_options.include_obfuscation")),
       "synthesis: other stream_options keys kept");
    is_int(jsize(v, "stream_options"), 2,
           "synthesis: one include_usage in stream_options");
    is_int(jsize(v, "messages"), 3, "synthesis: conversation + instruction");
    is_str(jstr(v, "messages.2.content"), "synthesise",
           "synthesis: the instruction last");
    is_str(jstr(v, "messages.2.role"), "user", "synthesis: instruction role");
    cJSON_Delete(v);

    /* an aggregator temperature and max tokens replace the client's */
    cp = params("agg", "0.7", 99, 0, 0);
    v = build('s', FULL, &cp, "x", &out, "synthesis with overrides");
    ok(jnum(v, "temperature") == 0.7, "overrides: temperature");
    is_int(count_of(out.data, out.len, "\"temperature\""), 1,
           "overrides: one temperature");
    is_int(jnum(v, "max_tokens"), 99, "overrides: max_tokens");
    is_int(count_of(out.data, out.len, "\"max_tokens\""), 1,
           "overrides: one max_tokens");
    is_str(jstr(v, "model"), "agg", "overrides: model");
    cJSON_Delete(v);

    /* streamed without stream_options */
    cp = params("gpt-4o", NULL, 0, 0, 0);
    v = build('s', "{\"model\":\"m\",\"messages\":" USER ",\"stream\":true}",
              &cp, "x", &out, "synthesis, streamed, no stream_options");
    keys_of(v, keys, sizeof(keys));
    is_str(keys, "model,messages,stream,stream_options",
           "no stream_options: keys");
    has(out.data, out.len, "\"stream_options\":{\"include_usage\":true}}",
        "no stream_options: include_usage added");
    cJSON_Delete(v);

    v = build('s', "{\"model\":\"m\",\"messages\":" USER ",\"stream\":true,"
              "\"stream_options\":null}", &cp, "x", &out,
              "synthesis, streamed, stream_options null");
    ok(cJSON_IsTrue(jget(v, "stream_options.include_usage")),
       "stream_options null: include_usage added");
    is_int(count_of(out.data, out.len, "stream_options"), 1,
           "stream_options null: replaced");
    cJSON_Delete(v);

    /* not streamed */
    v = build('s', "{\"model\":\"m\",\"messages\":" USER ",\"stream\":false,"
              "\"stream_options\":null,\"store\":true}", &cp, "x", &out,
              "synthesis, not streamed");
    keys_of(v, keys, sizeof(keys));
    is_str(keys, "store,model,messages,stream",
           "not streamed: keys, no stream_options");
    ok(cJSON_IsFalse(jget(v, "stream")), "not streamed: stream false");
    cJSON_Delete(v);

    /* max_completion_tokens override keeps the client's key name */
    cp = params("gpt-4o", NULL, 77, 0, 0);
    v = build('s', "{\"model\":\"m\",\"messages\":" USER ","
              "\"max_completion_tokens\":5}", &cp, "x", &out,
              "synthesis, max_completion_tokens");
    is_int(jnum(v, "max_completion_tokens"), 77,
           "synthesis: max_completion_tokens override");
    ok(!jhas(v, "max_tokens"), "synthesis: no max_tokens");
    cJSON_Delete(v);

    ngx_http_moa_buf_free(&out);
}


static void
test_errors(void)
{
    cJSON               *v;
    ngx_http_moa_buf_t   out;

    memset(&out, 0, sizeof(out));

    ngx_http_moa_error_set(&err, 400, "invalid_request_error", "c", "p",
                           "bad '%s' %d", "x\"y", 7);
    is_int(err.status, 400, "error_set: status");
    is_str(err.message, "bad 'x\"y' 7", "error_set: formatted message");

    ngx_http_moa_error_json(&out, &err);
    is_mem(out.data, out.len, "{\"error\":{\"message\":\"bad 'x\\\"y' 7\","
           "\"type\":\"invalid_request_error\",\"param\":\"p\","
           "\"code\":\"c\"}}", "error_json: the four keys");

    out.len = 0;
    ngx_http_moa_error_set(&err, 502, "upstream_error", NULL, NULL, "m");
    ngx_http_moa_error_json(&out, &err);
    is_mem(out.data, out.len, "{\"error\":{\"message\":\"m\",\"type\":"
           "\"upstream_error\",\"param\":null,\"code\":null}}",
           "error_json: param and code null");

    out.len = 0;
    ngx_http_moa_error_event(&out, &err);
    is_mem(out.data, out.len, "data: {\"error\":{\"message\":\"m\",\"type\":"
           "\"upstream_error\",\"param\":null,\"code\":null}}\n\n",
           "error_event: one SSE event");

    /* a long message is cut, never overflows */
    {
        char  big[1000];

        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';

        ngx_http_moa_error_set(&err, 400, "t", NULL, NULL, "%s", big);
        is_int(strlen(err.message), sizeof(err.message) - 1,
               "error_set: a long message is truncated");
    }

    /* error_from_reply */
    ok(ngx_http_moa_error_from_reply(&err, 429,
           S("{\"error\":{\"message\":\"Rate limit reached\",\"type\":"
             "\"requests\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}"))
       == 0, "error_from_reply: an OpenAI error");
    is_int(err.status, 429, "error_from_reply: the status given");
    is_str(err.message, "Rate limit reached", "error_from_reply: message");
    is_str(err.type, "requests", "error_from_reply: type");
    is_str(err.code, "rate_limit_exceeded", "error_from_reply: code");
    ok(err.param == NULL, "error_from_reply: param null");

    out.len = 0;
    ngx_http_moa_error_json(&out, &err);
    v = json_ok(out.data, out.len, "error_from_reply as JSON");
    is_str(jstr(v, "error.code"), "rate_limit_exceeded",
           "error_from_reply as JSON: code");
    cJSON_Delete(v);

    ok(ngx_http_moa_error_from_reply(&err, 400,
           S("{\"error\":{\"message\":\"bad\",\"param\":\"messages\","
             "\"code\":400}}")) == 0,
       "error_from_reply: no type, numeric code");
    is_str(err.type, "upstream_error", "error_from_reply: default type");
    ok(err.code == NULL, "error_from_reply: a numeric code is dropped");
    is_str(err.param, "messages", "error_from_reply: param");

    {
        char                big[300];
        ngx_http_moa_buf_t  b;

        memset(&b, 0, sizeof(b));
        memset(big, 'c', sizeof(big));
        ngx_http_moa_buf_lit(&b, "{\"error\":{\"message\":\"m\",\"code\":\"");
        ngx_http_moa_buf_add(&b, big, sizeof(big));
        ngx_http_moa_buf_lit(&b, "\",\"type\":\"");
        ngx_http_moa_buf_add(&b, big, sizeof(big));
        ngx_http_moa_buf_lit(&b, "\"}}");

        ok(ngx_http_moa_error_from_reply(&err, 500, b.data, b.len) == 0,
           "error_from_reply: long type and code");
        is_int(strlen(err.code), sizeof(err.buf[1]) - 1,
               "error_from_reply: code truncated");
        is_int(strlen(err.type), sizeof(err.buf[0]) - 1,
               "error_from_reply: type truncated");
        ngx_http_moa_buf_free(&b);
    }

    ok(ngx_http_moa_error_from_reply(&err, 503, S("<html>oops</html>")) == -1,
       "error_from_reply: not JSON");
    is_str(err.message, "the provider answered 503",
           "error_from_reply: a generic message");
    is_str(err.type, "upstream_error", "error_from_reply: generic type");
    ok(err.code == NULL && err.param == NULL,
       "error_from_reply: generic code and param null");
    is_int(err.status, 503, "error_from_reply: generic status");

    ok(ngx_http_moa_error_from_reply(&err, 500, NULL, 0) == -1,
       "error_from_reply: no body");
    ok(ngx_http_moa_error_from_reply(&err, 500, S("{\"error\":\"str\"}"))
       == -1, "error_from_reply: error is a string");
    ok(ngx_http_moa_error_from_reply(&err, 500,
           S("{\"error\":{\"message\":5}}")) == -1,
       "error_from_reply: message not a string");
    ok(ngx_http_moa_error_from_reply(&err, 500, S("[1]")) == -1,
       "error_from_reply: an array");

    ngx_http_moa_buf_free(&out);
}


int
main(void)
{
    test_parse();
    test_refused();
    test_check_moa();
    test_proposal();
    test_critique();
    test_synthesis();
    test_errors();

    return done_testing();
}
