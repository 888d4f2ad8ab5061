
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_responses_params.[ch]: the parameters of a
 * Responses request written into the chat body and into the echo.
 */


#include "util.h"
#include "ngx_http_moa_responses_params.h"


/* at[] of the top-level members of text, by the enum's order */
static void
members(ngx_http_moa_json_t *j, const char *text, int *at)
{
    int           k, m;
    uint32_t      end;

    static const char  *names[R_NKEYS] = {
        "model", "input", "instructions", "tools", "tool_choice",
        "parallel_tool_calls", "text", "max_output_tokens", "temperature",
        "top_p", "reasoning", "metadata", "user", "safety_identifier",
        "prompt_cache_key", "prompt_cache_retention", "service_tier",
        "stream", "stream_options", "store", "previous_response_id",
        "include", "truncation", "background", "max_tool_calls",
        "top_logprobs", "conversation", "prompt"
    };

    memset(j, 0, sizeof(*j));
    ok(ngx_http_moa_json_parse(j, text, strlen(text)) == 0, "parsed");

    for (m = 0; m < R_NKEYS; m++) {
        at[m] = -1;
    }

    end = j->tok[0].next;

    for (k = 1; (uint32_t) k < end; k = j->tok[k + 1].next) {
        for (m = 0; m < R_NKEYS; m++) {
            if (j->tok[k].len - 2 == strlen(names[m])
                && memcmp(j->tok[k].p + 1, names[m], j->tok[k].len - 2) == 0)
            {
                at[m] = k + 1;
            }
        }
    }
}


int
main(void)
{
    int                   at[R_NKEYS];
    cJSON                *v;
    ngx_http_moa_buf_t    b;
    ngx_http_moa_json_t   j;

    memset(&b, 0, sizeof(b));

    members(&j, "{\"tools\":[{\"type\":\"web_search\"},{\"type\":\"function\","
            "\"name\":\"f\",\"description\":null}],\"tool_choice\":\"auto\","
            "\"text\":{\"format\":{\"type\":\"json_object\"}},\"top_p\":0.5}",
            at);
    ngx_http_moa_buf_lit(&b, "{\"model\":\"m\"");
    ngx_http_moa_responses_params_chat(&b, &j, at, 1);
    is_mem(b.data, b.len,
           "{\"model\":\"m\",\"tools\":[{\"type\":\"function\",\"function\":"
           "{\"name\":\"f\"}}],\"tool_choice\":\"auto\",\"response_format\":"
           "{\"type\":\"json_object\"},\"top_p\":0.5,\"stream\":true,"
           "\"stream_options\":{\"include_usage\":true}}",
           "the chat parameters: function tools only, null as absent");

    /* the echo, on one line whatever the client's white space */
    b.len = 0;
    ngx_http_moa_json_free(&j);
    members(&j, "{\"tools\":[\n  {\"type\":\"function\",\r\n\"name\":\"f\"}\n],"
            "\"metadata\":{\"a\":\"x\\ny\"},\"temperature\":0.2}", at);
    ngx_http_moa_buf_lit(&b, "{");
    ngx_http_moa_responses_params_echo(&b, &j, at);
    ngx_http_moa_buf_lit(&b, "}");
    ok(memchr(b.data, '\n', b.len) == NULL && memchr(b.data, '\r', b.len)
       == NULL, "no line break in the echo");
    v = json_ok(b.data, b.len, "the echo");
    is_str(jstr(v, "tools.0.name"), "f", "tools as given");
    is_str(jstr(v, "metadata.a"), "x\ny", "an escaped newline kept");
    ok(jnum(v, "temperature") == 0.2, "temperature");
    ok(jnum(v, "top_p") == 1, "top_p defaults to 1");
    ok(cJSON_IsNull(jget(v, "reasoning.effort")), "reasoning.effort null");
    is_str(jstr(v, "text.verbosity"), "medium", "verbosity medium");
    cJSON_Delete(v);

    /* the defaults in one piece are what the member-wise path writes */
    {
        ngx_http_moa_buf_t  fast;

        memset(&fast, 0, sizeof(fast));
        ngx_http_moa_json_free(&j);
        members(&j, "{\"model\":\"m\"}", at);
        ngx_http_moa_responses_params_echo(&fast, &j, at);

        b.len = 0;
        ngx_http_moa_json_free(&j);
        members(&j, "{\"user\":null}", at);
        ngx_http_moa_responses_params_echo(&b, &j, at);

        is_int(fast.len, b.len, "the defaults at once: as long");
        ok(fast.len == b.len && memcmp(fast.data, b.data, b.len) == 0,
           "the defaults at once, as member by member");
        ngx_http_moa_buf_free(&fast);
    }

    ngx_http_moa_json_free(&j);
    ngx_http_moa_buf_free(&b);

    return done_testing();
}
