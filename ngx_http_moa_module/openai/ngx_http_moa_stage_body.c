
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the bodies of the proposal, critique and synthesis calls
 * (and of the recipes' layer proposals and select judge), spliced from
 * the client's own members, the prompt and the candidates.
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_http_moa_prompt.h"
#include "ngx_http_moa_stage_body.h"
#include "ngx_http_moa_buf_json.h"
#include "ngx_http_moa_json_find.h"


/*
 * The client's members a body leaves out or keeps, as key sets (prepared
 * by their first lookup: one look at a slot a member, most find it empty)
 */

/* never sent on internal (proposal, critique) calls */
static const ngx_http_moa_json_key_t  ngx_http_moa_proposal_drop_keys[] = {
    ngx_http_moa_json_key("model"),
    ngx_http_moa_json_key("messages"),
    ngx_http_moa_json_key("stream"),
    ngx_http_moa_json_key("stream_options"),
    ngx_http_moa_json_key("n"),
    ngx_http_moa_json_key("temperature"),
    ngx_http_moa_json_key("seed"),
    ngx_http_moa_json_key("logprobs"),
    ngx_http_moa_json_key("top_logprobs"),
    ngx_http_moa_json_key("store"),
    ngx_http_moa_json_key("metadata")
};

/* the only client fields a critique carries: it must be plain text */
static const ngx_http_moa_json_key_t  ngx_http_moa_critique_keep_keys[] = {
    ngx_http_moa_json_key("tools"),
    ngx_http_moa_json_key("user"),
    ngx_http_moa_json_key("safety_identifier"),
    ngx_http_moa_json_key("service_tier"),
    ngx_http_moa_json_key("prompt_cache_key"),
    ngx_http_moa_json_key("reasoning_effort")
};

/* replaced by the module on the synthesis call */
static const ngx_http_moa_json_key_t  ngx_http_moa_synthesis_drop_keys[] = {
    ngx_http_moa_json_key("model"),
    ngx_http_moa_json_key("messages"),
    ngx_http_moa_json_key("stream"),
    ngx_http_moa_json_key("stream_options")
};

static const ngx_http_moa_json_key_t  ngx_http_moa_max_tokens_keys[] = {
    ngx_http_moa_json_key("max_tokens"),
    ngx_http_moa_json_key("max_completion_tokens")
};

static ngx_http_moa_json_keys_t  ngx_http_moa_proposal_drop =
    ngx_http_moa_json_keys(ngx_http_moa_proposal_drop_keys);
static ngx_http_moa_json_keys_t  ngx_http_moa_critique_keep =
    ngx_http_moa_json_keys(ngx_http_moa_critique_keep_keys);
static ngx_http_moa_json_keys_t  ngx_http_moa_synthesis_drop =
    ngx_http_moa_json_keys(ngx_http_moa_synthesis_drop_keys);
static ngx_http_moa_json_keys_t  ngx_http_moa_max_tokens =
    ngx_http_moa_json_keys(ngx_http_moa_max_tokens_keys);


static int
ngx_http_moa_stage_body_in_list(const ngx_http_moa_json_member_t *m,
    ngx_http_moa_json_keys_t *set)
{
    return ngx_http_moa_json_keys_find(set, m) >= 0;
}


/*
 * The glue reserved once, from the sizes known before the body is built:
 * the client's members short enough to be copied rather than referred to
 * (all counted: an upper bound), the module's own members (the model
 * escaped at worst), the prompt's short pieces and extra (a critique's
 * text).  The glue would grow from 128 bytes by doubling otherwise.
 */
static void
ngx_http_moa_stage_body_reserve(ngx_http_moa_body_t *b,
    const ngx_http_moa_request_t *req,
    const ngx_http_moa_stage_body_params_t *cp, size_t extra)
{
    size_t  i, n, size;

    size = 192 + 6 * cp->model_len + cp->temperature_len + extra;

    for (i = 0; i < req->nmembers; i++) {
        n = (req->members[i].value + req->members[i].value_len)
            - (req->members[i].key - 1);

        if (n < NGX_HTTP_MOA_BODY_COPY) {
            size += n + 1;
        }
    }

    (void) ngx_http_moa_buf_reserve(&b->glue, size);
}


/* a member as the client wrote it: from its key's quote to its value's end */
static void
ngx_http_moa_stage_body_member(ngx_http_moa_body_t *b,
    const ngx_http_moa_json_member_t *m)
{
    ngx_http_moa_body_ref(b, m->key - 1,
                          (m->value + m->value_len) - (m->key - 1));
    ngx_http_moa_body_lit(b, ",");
}


/* a literal written where room was reserved: no call per piece */
#define ngx_http_moa_stage_body_put(d, s)                                    \
    ((d) = (char *) memcpy(d, "" s, sizeof(s) - 1) + sizeof(s) - 1)


/*
 * The module's own members: model, temperature, the limit, and the key of
 * messages.  The room for all but the escaped model is reserved at once
 * and written in place.
 */
static void
ngx_http_moa_stage_body_common(ngx_http_moa_body_t *b,
    const ngx_http_moa_request_t *req,
    const ngx_http_moa_stage_body_params_t *cp)
{
    char                *d;
    size_t               off;
    ngx_http_moa_buf_t  *g;

    g = &b->glue;
    off = g->len;

    ngx_http_moa_buf_lit(g, "\"model\":");
    ngx_http_moa_buf_json_str(g, cp->model, cp->model_len);

    if (ngx_http_moa_buf_reserve(g, sizeof(",\"temperature\":") - 1
                                    + cp->temperature_len
                                    + sizeof(",\"max_completion_tokens\":")
                                    - 1
                                    + sizeof(",\"messages\":") - 1)
        != 0)
    {
        ngx_http_moa_body_glued(b, off);
        return;
    }

    d = g->data + g->len;

    if (cp->temperature && !cp->reasoning) {
        ngx_http_moa_stage_body_put(d, ",\"temperature\":");
        memcpy(d, cp->temperature, cp->temperature_len);
        d += cp->temperature_len;
    }

    if (cp->max_tokens > 0) {
        if (req->max_completion_tokens || cp->reasoning) {
            ngx_http_moa_stage_body_put(d, ",\"max_completion_tokens\":");

        } else {
            ngx_http_moa_stage_body_put(d, ",\"max_tokens\":");
        }

        g->len = d - g->data;
        ngx_http_moa_buf_int(g, cp->max_tokens);

        if (ngx_http_moa_buf_reserve(g, sizeof(",\"messages\":") - 1) != 0) {
            ngx_http_moa_body_glued(b, off);
            return;
        }

        d = g->data + g->len;
    }

    ngx_http_moa_stage_body_put(d, ",\"messages\":");
    g->len = d - g->data;

    ngx_http_moa_body_glued(b, off);
}


/* the client's messages, and the start of one instruction message */
static void
ngx_http_moa_stage_body_messages(ngx_http_moa_body_t *b,
    const ngx_http_moa_request_t *req, int instruction)
{
    const ngx_http_moa_json_member_t  *m;

    m = req->raw_messages;

    if (!instruction) {
        ngx_http_moa_body_ref(b, m->value, m->value_len);
        return;
    }

    /* the raw value ends with ']' and is a non-empty array */
    ngx_http_moa_body_ref(b, m->value, m->value_len - 1);
    ngx_http_moa_body_lit(b, ",{\"role\":\"user\",\"content\":\"");
}


/*
 * A reasoning model takes no max_tokens: the client's own limit goes as
 * max_completion_tokens, like the module's
 */
static void
ngx_http_moa_stage_body_limit(const ngx_http_moa_request_t *req,
    const ngx_http_moa_stage_body_params_t *cp,
    ngx_http_moa_stage_body_params_t *out)
{
    *out = *cp;

    if (cp->reasoning && cp->max_tokens <= 0) {
        out->max_tokens = req->max_tokens;
    }
}


/* a proposal; of layer 2..n when tpl is given (the layer prompt) */
static int
ngx_http_moa_stage_body_proposer(ngx_http_moa_body_t *b,
    const ngx_http_moa_request_t *req,
    const ngx_http_moa_stage_body_params_t *cp, const char *tpl,
    size_t tpl_len, const ngx_http_moa_buf_t *cands, int ncands)
{
    size_t                             i, off;
    const ngx_http_moa_json_member_t  *m;
    ngx_http_moa_stage_body_params_t   lp;

    ngx_http_moa_stage_body_limit(req, cp, &lp);

    ngx_http_moa_stage_body_reserve(b, req, &lp, tpl ? 256 : 0);
    ngx_http_moa_body_lit(b, "{");

    for (i = 0; i < req->nmembers; i++) {
        m = &req->members[i];

        if (ngx_http_moa_stage_body_in_list(m, &ngx_http_moa_proposal_drop)
            || ((lp.max_tokens > 0 || lp.reasoning)
                && ngx_http_moa_stage_body_in_list(m,
                                                   &ngx_http_moa_max_tokens)))
        {
            continue;
        }

        ngx_http_moa_stage_body_member(b, m);
    }

    ngx_http_moa_stage_body_common(b, req, &lp);

    if (tpl) {
        /* the layer prompt first: the conversation's last turn stays last */
        m = req->raw_messages;
        ngx_http_moa_body_lit(b, "[{\"role\":\"system\",\"content\":\"");
        ngx_http_moa_prompt_parts(b, tpl, tpl_len, cands, ncands, NULL);
        ngx_http_moa_body_lit(b, "\"},");
        ngx_http_moa_body_ref(b, m->value + 1, m->value_len - 1);

    } else {
        ngx_http_moa_stage_body_messages(b, req, 0);
    }

    off = b->glue.len;

    if (cp->n > 1) {
        ngx_http_moa_buf_lit(&b->glue, ",\"n\":");
        ngx_http_moa_buf_int(&b->glue, cp->n);
    }

    /* same seed at a high temperature would give N equal candidates */
    if (req->has_seed) {
        ngx_http_moa_buf_lit(&b->glue, ",\"seed\":");
        ngx_http_moa_buf_int(&b->glue, req->seed + cp->index);
    }

    ngx_http_moa_buf_lit(&b->glue, ",\"stream\":false}");
    ngx_http_moa_body_glued(b, off);

    return ngx_http_moa_body_done(b);
}


int
ngx_http_moa_stage_body_proposal(ngx_http_moa_body_t *b,
    const ngx_http_moa_request_t *req,
    const ngx_http_moa_stage_body_params_t *cp)
{
    return ngx_http_moa_stage_body_proposer(b, req, cp, NULL, 0, NULL, 0);
}


int
ngx_http_moa_stage_body_layer(ngx_http_moa_body_t *b,
    const ngx_http_moa_request_t *req,
    const ngx_http_moa_stage_body_params_t *cp, const char *tpl,
    size_t tpl_len, const ngx_http_moa_buf_t *cands, int ncands)
{
    return ngx_http_moa_stage_body_proposer(b, req, cp, tpl, tpl_len, cands,
                                            ncands);
}


/* a critique, or a select's judge asked for {"best": k} in format */
static int
ngx_http_moa_stage_body_judge(ngx_http_moa_body_t *b,
    const ngx_http_moa_request_t *req,
    const ngx_http_moa_stage_body_params_t *cp, const char *tpl,
    size_t tpl_len, const ngx_http_moa_buf_t *cands, int ncands, int format)
{
    size_t                             i;
    const ngx_http_moa_json_member_t  *m;

    /* the template's short pieces, the reply format */
    ngx_http_moa_stage_body_reserve(b, req, cp, 256 + (format ? 320 : 0));
    ngx_http_moa_body_lit(b, "{");

    for (i = 0; i < req->nmembers; i++) {
        m = &req->members[i];

        if (ngx_http_moa_stage_body_in_list(m, &ngx_http_moa_critique_keep)) {
            ngx_http_moa_stage_body_member(b, m);
        }
    }

    /* tools give the candidates' tool calls a meaning; none may be called */
    if (req->has_tools) {
        ngx_http_moa_body_lit(b, "\"tool_choice\":\"none\",");
    }

    if (format == NGX_HTTP_MOA_SELECT_FORMAT_JSON_SCHEMA) {
        ngx_http_moa_body_lit(b, "\"response_format\":{\"type\":"
            "\"json_schema\",\"json_schema\":{\"name\":\"moa_selection\","
            "\"strict\":true,\"schema\":{\"type\":\"object\","
            "\"properties\":{\"best\":{\"type\":\"integer\"}},"
            "\"required\":[\"best\"],\"additionalProperties\":false}}},");

    } else if (format == NGX_HTTP_MOA_SELECT_FORMAT_JSON_OBJECT) {
        ngx_http_moa_body_lit(b, "\"response_format\":{\"type\":"
                                 "\"json_object\"},");
    }

    ngx_http_moa_stage_body_common(b, req, cp);
    ngx_http_moa_stage_body_messages(b, req, 1);
    ngx_http_moa_prompt_parts(b, tpl, tpl_len, cands, ncands, NULL);
    ngx_http_moa_body_lit(b, "\"}],\"stream\":false}");

    return ngx_http_moa_body_done(b);
}


int
ngx_http_moa_stage_body_critique(ngx_http_moa_body_t *b,
    const ngx_http_moa_request_t *req,
    const ngx_http_moa_stage_body_params_t *cp, const char *tpl,
    size_t tpl_len, const ngx_http_moa_buf_t *cands, int ncands)
{
    return ngx_http_moa_stage_body_judge(b, req, cp, tpl, tpl_len, cands,
                                         ncands,
                                         NGX_HTTP_MOA_SELECT_FORMAT_NONE);
}


int
ngx_http_moa_stage_body_select(ngx_http_moa_body_t *b,
    const ngx_http_moa_request_t *req,
    const ngx_http_moa_stage_body_params_t *cp, const char *tpl,
    size_t tpl_len, const ngx_http_moa_buf_t *cands, int ncands, int format)
{
    return ngx_http_moa_stage_body_judge(b, req, cp, tpl, tpl_len, cands,
                                         ncands, format);
}


int
ngx_http_moa_stage_body_synthesis(ngx_http_moa_body_t *b,
    const ngx_http_moa_request_t *req,
    const ngx_http_moa_stage_body_params_t *cp, const char *tpl,
    size_t tpl_len, const ngx_http_moa_buf_t *cands, int ncands,
    const ngx_http_moa_choice_t *critique)
{
    size_t                             i, n, extra;
    ngx_http_moa_json_member_t        *so;
    const ngx_http_moa_json_member_t  *m;
    ngx_http_moa_stage_body_params_t   lp;

    ngx_http_moa_stage_body_limit(req, cp, &lp);

    /* the template's short pieces, the critique, the stream's options */

    extra = 256 + req->stream_options.len;

    if (critique) {
        extra += critique->message.len + 64;
    }

    ngx_http_moa_stage_body_reserve(b, req, &lp, extra);
    ngx_http_moa_body_lit(b, "{");

    for (i = 0; i < req->nmembers; i++) {
        m = &req->members[i];

        if (ngx_http_moa_stage_body_in_list(m, &ngx_http_moa_synthesis_drop)
            || ((lp.temperature || lp.reasoning)
                && ngx_http_moa_json_key_is(m, "temperature"))
            || ((lp.max_tokens > 0 || lp.reasoning)
                && ngx_http_moa_stage_body_in_list(m,
                                                   &ngx_http_moa_max_tokens)))
        {
            continue;
        }

        ngx_http_moa_stage_body_member(b, m);
    }

    ngx_http_moa_stage_body_common(b, req, &lp);
    ngx_http_moa_stage_body_messages(b, req, 1);
    ngx_http_moa_prompt_parts(b, tpl, tpl_len, cands, ncands, critique);

    if (!req->stream) {
        ngx_http_moa_body_lit(b, "\"}],\"stream\":false}");
        return ngx_http_moa_body_done(b);
    }

    /*
     * the provider's usage of this call is needed for the sum: the client's
     * own stream options, include_usage forced on
     */

    ngx_http_moa_body_lit(b, "\"}],\"stream\":true,\"stream_options\":{");

    if (req->stream_options.len
        && ngx_http_moa_json_members(req->stream_options.p,
                                     req->stream_options.len, &so, &n)
           == 0)
    {
        for (i = 0; i < n; i++) {
            if (!ngx_http_moa_json_key_is(&so[i], "include_usage")) {
                ngx_http_moa_stage_body_member(b, &so[i]);
            }
        }

        free(so);
    }

    ngx_http_moa_body_lit(b, "\"include_usage\":true}}");

    return ngx_http_moa_body_done(b);
}
