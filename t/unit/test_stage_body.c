
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_stage_body.[ch]: the bodies of the proposal,
 * critique and synthesis calls (which members of the client's request
 * each one keeps, drops or sets), and, flattened, byte for byte what the
 * contiguous builders they replaced produced for the same requests,
 * templates and candidates; the client's bytes referred to, not copied.
 */


#include <math.h>

#include "util.h"
#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_buf_json.h"
#include "ngx_http_moa_body.h"
#include "ngx_http_moa_request.h"
#include "ngx_http_moa_reply.h"
#include "ngx_http_moa_prompt.h"
#include "ngx_http_moa_stage_body.h"


#define S(s)  s, sizeof(s) - 1

#define USER  "[{\"role\":\"user\",\"content\":\"hi\"}]"


/*
 * Builds one stage body: 'p'roposal, 'c'ritique or 's'ynthesis, flattened
 * into out.  The instruction is a template without placeholders (escaped
 * as at configuration time), with no candidates.
 */
static cJSON *
build(int stage, const char *body, const ngx_http_moa_stage_body_params_t *cp,
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
        rc = ngx_http_moa_stage_body_proposal(&b, &req, cp);
        break;
    case 'c':
        rc = ngx_http_moa_stage_body_critique(&b, &req, cp,
                                              tpl.len ? tpl.data : "",
                                              tpl.len, &none, 0);
        break;
    default:
        rc = ngx_http_moa_stage_body_synthesis(&b, &req, cp,
                                               tpl.len ? tpl.data : "",
                                               tpl.len, &none, 0, NULL);
    }

    ngx_http_moa_body_flat(&b, out);

    ok(rc == 0 && out->len == b.len, "%s: built", name);

    ngx_http_moa_body_free(&b);
    ngx_http_moa_buf_free(&tpl);
    ngx_http_moa_request_free(&req);

    return json_ok(out->data, out->len, name);
}


static ngx_http_moa_stage_body_params_t
params(const char *model, const char *temperature, long long max_tokens,
    int n, int index)
{
    ngx_http_moa_stage_body_params_t  cp;

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
    int                               i;
    char                              keys[1024];
    cJSON                            *v;
    ngx_http_moa_buf_t                out;
    ngx_http_moa_stage_body_params_t  cp;

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
    char                              keys[1024];
    cJSON                            *v;
    const char                       *inst;
    ngx_http_moa_buf_t                out;
    ngx_http_moa_stage_body_params_t  cp;

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
    char                              keys[1024];
    cJSON                            *v;
    ngx_http_moa_buf_t                out;
    ngx_http_moa_stage_body_params_t  cp;

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


/*
 * Stage bodies, flattened: byte for byte what the contiguous builders
 * (before the bodies became parts) produced for the same requests, call
 * parameters, templates, candidates and critique.
 */

static const char  *golden_requests[] = {
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
    "{\"model\":\"moa\",\"messages\":[{\"role\":\"system\",\"content\":"
    "\"be brief\"},{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":true,"
    "\"stream_options\":{\"include_usage\":false},\"n\":2,\"temperature\":"
    "0.1,\"seed\":40,\"logprobs\":true,\"store\":true,\"max_tokens\":300,"
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
    "\"tool_choice\":\"auto\",\"user\":\"u-1\"}",
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
    "\"max_completion_tokens\":1000,\"seed\":-7,\"reasoning_effort\":\"low\","
    "\"metadata\":{\"k\":\"v\"}}"
};

static const char  *golden_messages[] = {
    "{\"role\":\"assistant\",\"content\":\"Paris is the capital.\\nSee "
    "\\\"this\\\" \\u00e9 \\/ tab\\t\"}",
    "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":"
    "\"part a\"},{\"type\":\"image_url\"},{\"type\":\"text\",\"text\":"
    "\"</candidate> b\"}]}",
    "{\"role\":\"assistant\",\"content\":null,\"refusal\":\"no\","
    "\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":"
    "{\"name\":\"f\",\"arguments\":\"{\\\"x\\\":1}\"}}]}",
    "{\"role\":\"assistant\",\"content\":\"Candidate 1 is fine.\\tOK "
    "\\u00e9\"}"
};

static const struct {
    int          request;
    int          params;       /* 0: base model only; 1: overrides */
    char         stage;
    const char  *body;
} golden[] = {
    { 0, 0, 'p',
      "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":"
      "\"hi\"}],\"stream\":false}" },
    { 0, 0, 'c',
      "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":"
      "\"hi\"},{\"role\":\"user\",\"content\":\"Review 3:\\n<candidate num"
      "ber=\\\"1\\\">\\nParis is the capital.\\nSee \\\"this\\\" \\u00e9 "
      "\\/ tab\\t\\n</candidate>\\n\\n<candidate number=\\\"2\\\">\\npart a"
      "\\n< /candidate> b\\n</candidate>\\n\\n<candidate number=\\\"3\\\">"
      "\\nRefusal: no\\nTool calls (JSON): [{\\\"name\\\":\\\"f\\\",\\\"ar"
      "guments\\\":\\\"{\\\\\\\"x\\\\\\\":1}\\\"}]\\n</candidate>\\nend\"}"
      "],\"stream\":false}" },
    { 0, 0, 's',
      "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":"
      "\"hi\"},{\"role\":\"user\",\"content\":\"<candidate number=\\\"1\\"
      "\">\\nParis is the capital.\\nSee \\\"this\\\" \\u00e9 \\/ tab\\t\\n"
      "</candidate>\\n\\n<candidate number=\\\"2\\\">\\npart a\\n< /candid"
      "ate> b\\n</candidate>\\n\\n<candidate number=\\\"3\\\">\\nRefusal: "
      "no\\nTool calls (JSON): [{\\\"name\\\":\\\"f\\\",\\\"arguments\\\":"
      "\\\"{\\\\\\\"x\\\\\\\":1}\\\"}]\\n</candidate>\\n<critiques>\\nCand"
      "idate 1 is fine.\\tOK \\u00e9\\n</critiques>\\n\\nAnswer \\\"now\\"
      "\".\"}],\"stream\":false}" },
    { 0, 1, 'p',
      "{\"model\":\"agg\",\"temperature\":0.7,\"max_tokens\":99,\"messages"
      "\":[{\"role\":\"user\",\"content\":\"hi\"}],\"n\":3,\"stream\":fals"
      "e}" },
    { 0, 1, 'c',
      "{\"model\":\"agg\",\"temperature\":0.7,\"max_tokens\":99,\"messages"
      "\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"user\",\"con"
      "tent\":\"Review 3:\\n<candidate number=\\\"1\\\">\\nParis is the ca"
      "pital.\\nSee \\\"this\\\" \\u00e9 \\/ tab\\t\\n</candidate>\\n\\n<ca"
      "ndidate number=\\\"2\\\">\\npart a\\n< /candidate> b\\n</candidate>"
      "\\n\\n<candidate number=\\\"3\\\">\\nRefusal: no\\nTool calls (JSON"
      "): [{\\\"name\\\":\\\"f\\\",\\\"arguments\\\":\\\"{\\\\\\\"x\\\\\\"
      "\":1}\\\"}]\\n</candidate>\\nend\"}],\"stream\":false}" },
    { 0, 1, 's',
      "{\"model\":\"agg\",\"temperature\":0.7,\"max_tokens\":99,\"messages"
      "\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"user\",\"con"
      "tent\":\"<candidate number=\\\"1\\\">\\nParis is the capital.\\nSee"
      " \\\"this\\\" \\u00e9 \\/ tab\\t\\n</candidate>\\n\\n<candidate numb"
      "er=\\\"2\\\">\\npart a\\n< /candidate> b\\n</candidate>\\n\\n<candi"
      "date number=\\\"3\\\">\\nRefusal: no\\nTool calls (JSON): [{\\\"nam"
      "e\\\":\\\"f\\\",\\\"arguments\\\":\\\"{\\\\\\\"x\\\\\\\":1}\\\"}]\\"
      "n</candidate>\\n<critiques>\\nCandidate 1 is fine.\\tOK \\u00e9\\n"
      "</critiques>\\n\\nAnswer \\\"now\\\".\"}],\"stream\":false}" },
    { 1, 0, 'p',
      "{\"max_tokens\":300,\"tools\":[{\"type\":\"function\",\"function\":"
      "{\"name\":\"f\"}}],\"tool_choice\":\"auto\",\"user\":\"u-1\",\"mode"
      "l\":\"gpt-4o\",\"messages\":[{\"role\":\"system\",\"content\":\"be "
      "brief\"},{\"role\":\"user\",\"content\":\"hi\"}],\"seed\":40,\"stre"
      "am\":false}" },
    { 1, 0, 'c',
      "{\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
      "\"user\":\"u-1\",\"tool_choice\":\"none\",\"model\":\"gpt-4o\",\"me"
      "ssages\":[{\"role\":\"system\",\"content\":\"be brief\"},{\"role\":"
      "\"user\",\"content\":\"hi\"},{\"role\":\"user\",\"content\":\"Revie"
      "w 3:\\n<candidate number=\\\"1\\\">\\nParis is the capital.\\nSee "
      "\\\"this\\\" \\u00e9 \\/ tab\\t\\n</candidate>\\n\\n<candidate numbe"
      "r=\\\"2\\\">\\npart a\\n< /candidate> b\\n</candidate>\\n\\n<candid"
      "ate number=\\\"3\\\">\\nRefusal: no\\nTool calls (JSON): [{\\\"name"
      "\\\":\\\"f\\\",\\\"arguments\\\":\\\"{\\\\\\\"x\\\\\\\":1}\\\"}]\\n"
      "</candidate>\\nend\"}],\"stream\":false}" },
    { 1, 0, 's',
      "{\"n\":2,\"temperature\":0.1,\"seed\":40,\"logprobs\":true,\"store"
      "\":true,\"max_tokens\":300,\"tools\":[{\"type\":\"function\",\"func"
      "tion\":{\"name\":\"f\"}}],\"tool_choice\":\"auto\",\"user\":\"u-1\""
      ",\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"system\",\"content"
      "\":\"be brief\"},{\"role\":\"user\",\"content\":\"hi\"},{\"role\":"
      "\"user\",\"content\":\"<candidate number=\\\"1\\\">\\nParis is the "
      "capital.\\nSee \\\"this\\\" \\u00e9 \\/ tab\\t\\n</candidate>\\n\\n<"
      "candidate number=\\\"2\\\">\\npart a\\n< /candidate> b\\n</candidat"
      "e>\\n\\n<candidate number=\\\"3\\\">\\nRefusal: no\\nTool calls (JS"
      "ON): [{\\\"name\\\":\\\"f\\\",\\\"arguments\\\":\\\"{\\\\\\\"x\\\\"
      "\\\":1}\\\"}]\\n</candidate>\\n<critiques>\\nCandidate 1 is fine.\\"
      "tOK \\u00e9\\n</critiques>\\n\\nAnswer \\\"now\\\".\"}],\"stream\""
      ":true,\"stream_options\":{\"include_usage\":true}}" },
    { 1, 1, 'p',
      "{\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
      "\"tool_choice\":\"auto\",\"user\":\"u-1\",\"model\":\"agg\",\"tempe"
      "rature\":0.7,\"max_tokens\":99,\"messages\":[{\"role\":\"system\","
      "\"content\":\"be brief\"},{\"role\":\"user\",\"content\":\"hi\"}],"
      "\"n\":3,\"seed\":41,\"stream\":false}" },
    { 1, 1, 'c',
      "{\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
      "\"user\":\"u-1\",\"tool_choice\":\"none\",\"model\":\"agg\",\"tempe"
      "rature\":0.7,\"max_tokens\":99,\"messages\":[{\"role\":\"system\","
      "\"content\":\"be brief\"},{\"role\":\"user\",\"content\":\"hi\"},{"
      "\"role\":\"user\",\"content\":\"Review 3:\\n<candidate number=\\\"1"
      "\\\">\\nParis is the capital.\\nSee \\\"this\\\" \\u00e9 \\/ tab\\t"
      "\\n</candidate>\\n\\n<candidate number=\\\"2\\\">\\npart a\\n< /can"
      "didate> b\\n</candidate>\\n\\n<candidate number=\\\"3\\\">\\nRefusa"
      "l: no\\nTool calls (JSON): [{\\\"name\\\":\\\"f\\\",\\\"arguments\\"
      "\":\\\"{\\\\\\\"x\\\\\\\":1}\\\"}]\\n</candidate>\\nend\"}],\"strea"
      "m\":false}" },
    { 1, 1, 's',
      "{\"n\":2,\"seed\":40,\"logprobs\":true,\"store\":true,\"tools\":[{"
      "\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice"
      "\":\"auto\",\"user\":\"u-1\",\"model\":\"agg\",\"temperature\":0.7,"
      "\"max_tokens\":99,\"messages\":[{\"role\":\"system\",\"content\":\""
      "be brief\"},{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"user"
      "\",\"content\":\"<candidate number=\\\"1\\\">\\nParis is the capita"
      "l.\\nSee \\\"this\\\" \\u00e9 \\/ tab\\t\\n</candidate>\\n\\n<candid"
      "ate number=\\\"2\\\">\\npart a\\n< /candidate> b\\n</candidate>\\n"
      "\\n<candidate number=\\\"3\\\">\\nRefusal: no\\nTool calls (JSON): "
      "[{\\\"name\\\":\\\"f\\\",\\\"arguments\\\":\\\"{\\\\\\\"x\\\\\\\":1"
      "}\\\"}]\\n</candidate>\\n<critiques>\\nCandidate 1 is fine.\\tOK "
      "\\u00e9\\n</critiques>\\n\\nAnswer \\\"now\\\".\"}],\"stream\":tru"
      "e,\"stream_options\":{\"include_usage\":true}}" },
    { 2, 0, 'p',
      "{\"max_completion_tokens\":1000,\"reasoning_effort\":\"low\",\"mode"
      "l\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}"
      "],\"seed\":-7,\"stream\":false}" },
    { 2, 0, 'c',
      "{\"reasoning_effort\":\"low\",\"model\":\"gpt-4o\",\"messages\":[{"
      "\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"user\",\"content"
      "\":\"Review 3:\\n<candidate number=\\\"1\\\">\\nParis is the capita"
      "l.\\nSee \\\"this\\\" \\u00e9 \\/ tab\\t\\n</candidate>\\n\\n<candid"
      "ate number=\\\"2\\\">\\npart a\\n< /candidate> b\\n</candidate>\\n"
      "\\n<candidate number=\\\"3\\\">\\nRefusal: no\\nTool calls (JSON): "
      "[{\\\"name\\\":\\\"f\\\",\\\"arguments\\\":\\\"{\\\\\\\"x\\\\\\\":1"
      "}\\\"}]\\n</candidate>\\nend\"}],\"stream\":false}" },
    { 2, 0, 's',
      "{\"max_completion_tokens\":1000,\"seed\":-7,\"reasoning_effort\":\""
      "low\",\"metadata\":{\"k\":\"v\"},\"model\":\"gpt-4o\",\"messages\":"
      "[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"user\",\"conten"
      "t\":\"<candidate number=\\\"1\\\">\\nParis is the capital.\\nSee \\"
      "\"this\\\" \\u00e9 \\/ tab\\t\\n</candidate>\\n\\n<candidate number="
      "\\\"2\\\">\\npart a\\n< /candidate> b\\n</candidate>\\n\\n<candidat"
      "e number=\\\"3\\\">\\nRefusal: no\\nTool calls (JSON): [{\\\"name\\"
      "\":\\\"f\\\",\\\"arguments\\\":\\\"{\\\\\\\"x\\\\\\\":1}\\\"}]\\n</"
      "candidate>\\n<critiques>\\nCandidate 1 is fine.\\tOK \\u00e9\\n</c"
      "ritiques>\\n\\nAnswer \\\"now\\\".\"}],\"stream\":false}" },
    { 2, 1, 'p',
      "{\"reasoning_effort\":\"low\",\"model\":\"agg\",\"temperature\":0.7"
      ",\"max_completion_tokens\":99,\"messages\":[{\"role\":\"user\",\"co"
      "ntent\":\"hi\"}],\"n\":3,\"seed\":-6,\"stream\":false}" },
    { 2, 1, 'c',
      "{\"reasoning_effort\":\"low\",\"model\":\"agg\",\"temperature\":0.7"
      ",\"max_completion_tokens\":99,\"messages\":[{\"role\":\"user\",\"co"
      "ntent\":\"hi\"},{\"role\":\"user\",\"content\":\"Review 3:\\n<candi"
      "date number=\\\"1\\\">\\nParis is the capital.\\nSee \\\"this\\\" "
      "\\u00e9 \\/ tab\\t\\n</candidate>\\n\\n<candidate number=\\\"2\\\">"
      "\\npart a\\n< /candidate> b\\n</candidate>\\n\\n<candidate number="
      "\\\"3\\\">\\nRefusal: no\\nTool calls (JSON): [{\\\"name\\\":\\\"f"
      "\\\",\\\"arguments\\\":\\\"{\\\\\\\"x\\\\\\\":1}\\\"}]\\n</candidat"
      "e>\\nend\"}],\"stream\":false}" },
    { 2, 1, 's',
      "{\"seed\":-7,\"reasoning_effort\":\"low\",\"metadata\":{\"k\":\"v\""
      "},\"model\":\"agg\",\"temperature\":0.7,\"max_completion_tokens\":9"
      "9,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\""
      "user\",\"content\":\"<candidate number=\\\"1\\\">\\nParis is the ca"
      "pital.\\nSee \\\"this\\\" \\u00e9 \\/ tab\\t\\n</candidate>\\n\\n<ca"
      "ndidate number=\\\"2\\\">\\npart a\\n< /candidate> b\\n</candidate>"
      "\\n\\n<candidate number=\\\"3\\\">\\nRefusal: no\\nTool calls (JSON"
      "): [{\\\"name\\\":\\\"f\\\",\\\"arguments\\\":\\\"{\\\\\\\"x\\\\\\"
      "\":1}\\\"}]\\n</candidate>\\n<critiques>\\nCandidate 1 is fine.\\tO"
      "K \\u00e9\\n</critiques>\\n\\nAnswer \\\"now\\\".\"}],\"stream\":f"
      "alse}" },
};


static void
test_golden(void)
{
    int                               i, k, rc;
    const char                       *tpl_c, *tpl_s;
    ngx_http_moa_buf_t                text[4], block, esc_c, esc_s, out;
    ngx_http_moa_body_t               b;
    ngx_http_moa_reply_t              rep[4];
    ngx_http_moa_error_t              err;
    ngx_http_moa_request_t            req;
    ngx_http_moa_prompt_candidate_t   c[3];
    ngx_http_moa_stage_body_params_t  cp[2];

    tpl_c = "Review {{count}}:\n{{candidates}}\nend";
    tpl_s = "{{candidates}}\n{{critiques}}Answer \"now\".";

    memset(&block, 0, sizeof(block));
    memset(&esc_c, 0, sizeof(esc_c));
    memset(&esc_s, 0, sizeof(esc_s));
    memset(&out, 0, sizeof(out));

    for (k = 0; k < 4; k++) {
        memset(&text[k], 0, sizeof(ngx_http_moa_buf_t));
        ngx_http_moa_buf_lit(&text[k], "{\"choices\":[{\"message\":");
        ngx_http_moa_buf_cstr(&text[k], golden_messages[k]);
        ngx_http_moa_buf_lit(&text[k], "}]}");

        ok(ngx_http_moa_reply_parse(&rep[k], text[k].data, text[k].len, &err)
           == 0, "golden: reply %d", k);

        if (k < 3) {
            c[k].choice = &rep[k].choices[0];
        }
    }

    ok(ngx_http_moa_prompt_candidates(&block, c, 3) == 0, "golden: block");
    ngx_http_moa_buf_json_inner(&esc_c, tpl_c, strlen(tpl_c));
    ngx_http_moa_buf_json_inner(&esc_s, tpl_s, strlen(tpl_s));

    memset(cp, 0, sizeof(cp));
    cp[0].model = "gpt-4o";
    cp[0].model_len = 6;
    cp[1].model = "agg";
    cp[1].model_len = 3;
    cp[1].temperature = "0.7";
    cp[1].temperature_len = 3;
    cp[1].max_tokens = 99;
    cp[1].n = 3;
    cp[1].index = 1;

    for (i = 0; i < (int) (sizeof(golden) / sizeof(golden[0])); i++) {
        ok(ngx_http_moa_request_parse(&req, golden_requests[golden[i].request],
               strlen(golden_requests[golden[i].request]), &err) == 0,
           "golden %d: request parsed", i);

        memset(&b, 0, sizeof(b));

        switch (golden[i].stage) {
        case 'p':
            rc = ngx_http_moa_stage_body_proposal(&b, &req,
                                                  &cp[golden[i].params]);
            break;
        case 'c':
            rc = ngx_http_moa_stage_body_critique(&b, &req,
                                                  &cp[golden[i].params],
                                                  esc_c.data, esc_c.len,
                                                  &block, 3);
            break;
        default:
            rc = ngx_http_moa_stage_body_synthesis(&b, &req,
                                                   &cp[golden[i].params],
                                                   esc_s.data, esc_s.len,
                                                   &block, 3,
                                                   &rep[3].choices[0]);
        }

        ok(rc == 0 && merged(&b), "golden %d: built", i);
        ok(flat_is(&b, golden[i].body, strlen(golden[i].body)),
           "golden %d: request %d, params %d, %c: the contiguous builder's "
           "bytes", i, golden[i].request, golden[i].params, golden[i].stage);

        out.len = 0;
        ngx_http_moa_body_flat(&b, &out);
        cJSON_Delete(json_ok(out.data, out.len, "golden body"));

        ngx_http_moa_body_free(&b);
        ngx_http_moa_request_free(&req);
    }

    for (k = 0; k < 4; k++) {
        ngx_http_moa_reply_free(&rep[k]);
        ngx_http_moa_buf_free(&text[k]);
    }

    ngx_http_moa_buf_free(&block);
    ngx_http_moa_buf_free(&esc_c);
    ngx_http_moa_buf_free(&esc_s);
    ngx_http_moa_buf_free(&out);
}


/*
 * Most of a body is the client's own bytes, referred to, not copied; what
 * is shorter than NGX_HTTP_MOA_BODY_COPY is copied.
 */
static void
test_refs(void)
{
    size_t                            i, refs;
    ngx_http_moa_buf_t                body, msgs, user, want;
    ngx_http_moa_body_t               b;
    ngx_http_moa_error_t              err;
    ngx_http_moa_request_t            req;
    ngx_http_moa_stage_body_params_t  cp;

    memset(&body, 0, sizeof(body));
    memset(&msgs, 0, sizeof(msgs));
    memset(&user, 0, sizeof(user));
    memset(&want, 0, sizeof(want));

    ngx_http_moa_buf_lit(&msgs, "[{\"role\":\"user\",\"content\":\"");

    for (i = 0; i < NGX_HTTP_MOA_BODY_COPY; i++) {
        ngx_http_moa_buf_lit(&msgs, "m");
    }

    ngx_http_moa_buf_lit(&msgs, "\"}]");

    ngx_http_moa_buf_lit(&user, "\"user\":\"");

    for (i = 0; i < NGX_HTTP_MOA_BODY_COPY; i++) {
        ngx_http_moa_buf_lit(&user, "u");
    }

    ngx_http_moa_buf_lit(&user, "\"");

    ngx_http_moa_buf_lit(&body, "{\"model\":\"m\",\"messages\":");
    ngx_http_moa_buf_add(&body, msgs.data, msgs.len);
    ngx_http_moa_buf_lit(&body, ",");
    ngx_http_moa_buf_add(&body, user.data, user.len);
    ngx_http_moa_buf_lit(&body, ",\"tools\":[],\"top_p\":1}");

    ok(ngx_http_moa_request_parse(&req, body.data, body.len, &err) == 0,
       "parsed");

    memset(&cp, 0, sizeof(cp));
    cp.model = "g";
    cp.model_len = 1;
    memset(&b, 0, sizeof(b));

    ok(ngx_http_moa_stage_body_proposal(&b, &req, &cp) == 0, "proposal");

    refs = 0;

    for (i = 0; i < b.nparts; i++) {
        if (b.parts[i].p >= body.data && b.parts[i].p < body.data + body.len)
        {
            refs += b.parts[i].len;
        }
    }

    is_int(refs, msgs.len + user.len,
           "proposal: the long member and the messages are references, "
           "the short members copies");

    ngx_http_moa_buf_lit(&want, "{");
    ngx_http_moa_buf_add(&want, user.data, user.len);
    ngx_http_moa_buf_lit(&want, ",\"tools\":[],\"top_p\":1,\"model\":"
                         "\"g\",\"messages\":");
    ngx_http_moa_buf_add(&want, msgs.data, msgs.len);
    ngx_http_moa_buf_lit(&want, ",\"stream\":false}");

    ok(flat_is(&b, want.data, want.len), "proposal: flat");

    ngx_http_moa_body_free(&b);
    ngx_http_moa_request_free(&req);
    ngx_http_moa_buf_free(&body);
    ngx_http_moa_buf_free(&msgs);
    ngx_http_moa_buf_free(&user);
    ngx_http_moa_buf_free(&want);
}


/*
 * The recipes' bodies: a layer 2 proposal (the layer prompt as a system
 * message before the conversation, the previous layer's candidates in
 * it, never their reasoning), the select judge (temperature 0, the reply
 * asked as {"best": k}), and a reasoning model's (no temperature at all,
 * the limits as max_completion_tokens).
 */
static void
test_recipes(void)
{
    int                               i, rc;
    const char                       *text;
    cJSON                            *v;
    one_t                             o[2];
    ngx_http_moa_buf_t                out, tpl, cands;
    ngx_http_moa_body_t               b;
    ngx_http_moa_request_t            req;
    ngx_http_moa_prompt_candidate_t   pc[2];
    ngx_http_moa_stage_body_params_t  cp;

    memset(&out, 0, sizeof(out));
    memset(&tpl, 0, sizeof(tpl));
    memset(&cands, 0, sizeof(cands));

    pc[0].choice = one(&o[0], "{\"content\":\"layer one A\","
                              "\"reasoning_content\":\"secret thoughts\"}");
    pc[1].choice = one(&o[1], "{\"content\":\"layer one B\"}");
    ok(pc[0].choice && pc[1].choice
       && ngx_http_moa_prompt_candidates(&cands, pc, 2) == 0,
       "recipes: two candidates rendered");

    ngx_http_moa_buf_json_inner(&tpl, ngx_http_moa_prompt_layer,
                                strlen(ngx_http_moa_prompt_layer));

    if (!accepted("layer", &req, FULL)) {
        return;
    }

    /* a layer 2 proposal */

    memset(&b, 0, sizeof(b));
    cp = params("gpt-4o", "1.0", 0, 0, 1);
    rc = ngx_http_moa_stage_body_layer(&b, &req, &cp, tpl.data, tpl.len,
                                       &cands, 2);
    out.len = 0;
    ngx_http_moa_body_flat(&b, &out);
    ok(rc == 0 && out.len == b.len, "layer: built");
    v = json_ok(out.data, out.len, "layer");

    is_int(cJSON_GetArraySize(jget(v, "messages")), 3,
           "layer: the layer prompt and the client's two messages");
    is_str(jstr(v, "messages.0.role"), "system",
           "layer: the layer prompt is a system message");
    text = jstr(v, "messages.0.content");
    ok(text && strstr(text, "<candidate number=\"1\">\nlayer one A\n"
                            "</candidate>")
       && strstr(text, "<candidate number=\"2\">\nlayer one B\n"
                       "</candidate>")
       && strstr(text, "provided with 2 responses"),
       "layer: the previous layer's candidates, numbered, counted");
    ok(text && strstr(text, "secret") == NULL,
       "layer: a candidate's reasoning is never in the prompt");
    is_str(jstr(v, "messages.1.content"), "be brief",
           "layer: then the client's system message");
    is_str(jstr(v, "messages.2.content"), "hi",
           "layer: the client's last message stays last");
    ok(jnum(v, "temperature") == 1.0 && jnum(v, "seed") == 41
       && cJSON_IsFalse(jget(v, "stream")) && !jhas(v, "n"),
       "layer: a proposal's temperature, seed, no stream");
    is_str(jstr(v, "tools.0.function.name"), "f", "layer: the client's tools");
    cJSON_Delete(v);
    ngx_http_moa_body_free(&b);

    /* the select judge, in each reply format */

    for (i = 0; i < 3; i++) {
        memset(&b, 0, sizeof(b));
        cp = params("gpt-4o", "0", 0, 0, 0);
        rc = ngx_http_moa_stage_body_select(&b, &req, &cp, tpl.data, tpl.len,
                                            &cands, 2, i);
        out.len = 0;
    ngx_http_moa_body_flat(&b, &out);
        ok(rc == 0 && out.len == b.len, "select %d: built", i);
        v = json_ok(out.data, out.len, "select");

        ok(jnum(v, "temperature") == 0, "select %d: temperature 0", i);
        is_str(jstr(v, "tool_choice"), "none", "select %d: no tool call", i);
        ok(!jhas(v, "max_tokens") && !jhas(v, "stop") && !jhas(v, "n"),
           "select %d: none of the answer's parameters", i);
        is_str(jstr(v, "messages.2.role"), "user",
               "select %d: the instruction after the conversation", i);

        if (i == NGX_HTTP_MOA_SELECT_FORMAT_JSON_SCHEMA) {
            is_str(jstr(v, "response_format.type"), "json_schema",
                   "select: json_schema");
            is_str(jstr(v, "response_format.json_schema.schema.required.0"),
                   "best", "select: {\"best\": k} required");
            ok(cJSON_IsTrue(jget(v, "response_format.json_schema.strict")),
               "select: strict");

        } else if (i == NGX_HTTP_MOA_SELECT_FORMAT_JSON_OBJECT) {
            is_str(jstr(v, "response_format.type"), "json_object",
                   "select: json_object");

        } else {
            ok(!jhas(v, "response_format"), "select: no response_format");
        }

        cJSON_Delete(v);
        ngx_http_moa_body_free(&b);
    }

    /* a reasoning model: the client's temperature and max_tokens too */

    cp = params("o3", "1.0", 0, 0, 0);
    cp.reasoning = 1;

    for (i = 0; i < 2; i++) {
        memset(&b, 0, sizeof(b));
        rc = i ? ngx_http_moa_stage_body_synthesis(&b, &req, &cp, tpl.data,
                                                   tpl.len, &cands, 2, NULL)
               : ngx_http_moa_stage_body_proposal(&b, &req, &cp);
        out.len = 0;
    ngx_http_moa_body_flat(&b, &out);
        ok(rc == 0, "reasoning %d: built", i);
        v = json_ok(out.data, out.len, "reasoning");

        ok(!jhas(v, "temperature") && count_of(out.data, out.len,
                                               "temperature") == 0,
           "reasoning %d: no temperature at all", i);
        ok(!jhas(v, "max_tokens")
           && jnum(v, "max_completion_tokens") == 300,
           "reasoning %d: the client's limit as max_completion_tokens", i);
        is_str(jstr(v, "reasoning_effort"), "low",
               "reasoning %d: the client's reasoning_effort kept", i);
        cJSON_Delete(v);
        ngx_http_moa_body_free(&b);
    }

    memset(&b, 0, sizeof(b));
    cp.max_tokens = 77;
    rc = ngx_http_moa_stage_body_critique(&b, &req, &cp, tpl.data, tpl.len,
                                          &cands, 2);
    out.len = 0;
    ngx_http_moa_body_flat(&b, &out);
    v = json_ok(out.data, out.len, "reasoning critique");
    ok(rc == 0 && !jhas(v, "temperature")
       && jnum(v, "max_completion_tokens") == 77 && !jhas(v, "max_tokens"),
       "reasoning: a critique's own limit as max_completion_tokens");
    cJSON_Delete(v);
    ngx_http_moa_body_free(&b);

    ngx_http_moa_request_free(&req);
    ngx_http_moa_buf_free(&out);
    ngx_http_moa_buf_free(&tpl);
    ngx_http_moa_buf_free(&cands);
    one_free(&o[0]);
    one_free(&o[1]);
}


int
main(void)
{
    test_proposal();
    test_critique();
    test_synthesis();
    test_refs();
    test_golden();
    test_recipes();

    return done_testing();
}
