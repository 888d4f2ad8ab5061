
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Fuzz target: prompt templates and candidates.  The input is split at NUL
 * bytes: a template, then candidates (a JSON message, or else plain text as
 * its content), and the critique last when there are three parts or more.
 * The check agrees with the template; the template escaped (as at
 * configuration time) and put into a body by prompt_parts() flattens into
 * a valid JSON string's inside; a template without "{{" decodes to itself;
 * every candidate is closed exactly once whatever its text; and the
 * instruction travels intact in critique and synthesis bodies.
 */


#include "fuzz.h"
#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_buf_json.h"
#include "ngx_http_moa_json_text.h"
#include "ngx_http_moa_body.h"
#include "ngx_http_moa_request.h"
#include "ngx_http_moa_reply.h"
#include "ngx_http_moa_prompt.h"
#include "ngx_http_moa_stage_body.h"


#define FUZZ_MAX_CANDS  8


static const char  fuzz_request[] =
    "{\"model\":\"moa\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
    "\"stream\":true}";


typedef struct {
    ngx_http_moa_buf_t     text;
    ngx_http_moa_reply_t   rep;
} fuzz_reply_t;


static const char *
fuzz_memmem(const char *p, size_t len, const char *s)
{
    size_t  i, n;

    n = strlen(s);

    for (i = 0; p && i + n <= len; i++) {
        if (memcmp(p + i, s, n) == 0) {
            return p + i;
        }
    }

    return NULL;
}


static int
fuzz_count(const char *p, size_t len, const char *s)
{
    int          n;
    const char  *q, *end;

    if (p == NULL) {
        return 0;
    }

    n = 0;
    end = p + len;

    while ((q = fuzz_memmem(p, end - p, s)) != NULL) {
        n++;
        p = q + 1;
    }

    return n;
}


/* a reply around a message, or around a text as its content */
static const ngx_http_moa_choice_t *
fuzz_choice(fuzz_reply_t *r, const char *p, size_t len)
{
    ngx_http_moa_error_t  err;

    memset(r, 0, sizeof(fuzz_reply_t));

    ngx_http_moa_buf_lit(&r->text, "{\"choices\":[{\"message\":");

    if (len && p[0] == '{' && ngx_http_moa_json_valid(p, len) == 0) {
        ngx_http_moa_buf_add(&r->text, p, len);

    } else {
        ngx_http_moa_buf_lit(&r->text, "{\"content\":");
        ngx_http_moa_buf_json_str(&r->text, p, len);
        ngx_http_moa_buf_lit(&r->text, "}");
    }

    ngx_http_moa_buf_lit(&r->text, "}]}");

    fuzz_assert(ngx_http_moa_reply_parse(&r->rep, r->text.data, r->text.len,
                                         &err) == 0, "a candidate's reply");

    return &r->rep.choices[0];
}


/* p[0..len) wrapped in quotes is a valid JSON string: decoded into out */
static void
fuzz_string(const char *p, size_t len, ngx_http_moa_buf_t *out,
    const char *what)
{
    cJSON               *v;
    ngx_http_moa_buf_t   q;

    memset(&q, 0, sizeof(q));

    ngx_http_moa_buf_lit(&q, "\"");
    ngx_http_moa_buf_add(&q, p, len);
    ngx_http_moa_buf_lit(&q, "\"");

    v = fuzz_json(q.data, q.len, what);
    fuzz_assert(cJSON_IsString(v), what);

    out->len = 0;
    fuzz_assert(ngx_http_moa_json_text_unescape(out, q.data, q.len) == 0, what);

    /* cJSON's view: the same text up to a NUL */
    fuzz_assert(strlen(v->valuestring)
                == strnlen(out->len ? out->data : "", out->len), what);

    cJSON_Delete(v);
    ngx_http_moa_buf_free(&q);
}


/* the instruction's parts, flattened: a JSON string's inside, decoded */
static void
fuzz_render(const char *tpl, size_t tpl_len, const ngx_http_moa_buf_t *block,
    int ncands, const ngx_http_moa_choice_t *critique,
    ngx_http_moa_buf_t *text)
{
    ngx_http_moa_buf_t   flat;
    ngx_http_moa_body_t  body;

    memset(&flat, 0, sizeof(flat));
    memset(&body, 0, sizeof(body));

    ngx_http_moa_prompt_parts(&body, tpl, tpl_len, block, ncands, critique);
    fuzz_assert(ngx_http_moa_body_done(&body) == 0, "the instruction's parts");

    ngx_http_moa_body_flat(&body, &flat);
    fuzz_assert(!flat.nomem && flat.len == body.len, "parts flatten");

    fuzz_string(flat.data, flat.len, text, "the instruction");

    ngx_http_moa_body_free(&body);
    ngx_http_moa_buf_free(&flat);
}


/* the instruction in critique and synthesis bodies, as cJSON decodes it */
static void
fuzz_bodies(const char *tpl, size_t tpl_len, const ngx_http_moa_buf_t *block,
    int ncands, const ngx_http_moa_choice_t *critique)
{
    int                               i, rc;
    cJSON                            *v;
    const cJSON                      *m;
    ngx_http_moa_buf_t                out, text;
    ngx_http_moa_body_t               body;
    ngx_http_moa_error_t              err;
    ngx_http_moa_request_t            req;
    ngx_http_moa_stage_body_params_t  cp;

    fuzz_assert(ngx_http_moa_request_parse(&req, fuzz_request,
                                           sizeof(fuzz_request) - 1, &err)
                == 0, "the fixed request");

    memset(&cp, 0, sizeof(cp));
    cp.model = "gpt-4o";
    cp.model_len = 6;

    memset(&out, 0, sizeof(out));
    memset(&text, 0, sizeof(text));

    for (i = 0; i < 2; i++) {
        memset(&body, 0, sizeof(body));

        rc = (i == 0)
             ? ngx_http_moa_stage_body_critique(&body, &req, &cp, tpl,
                                                tpl_len, block, ncands)
             : ngx_http_moa_stage_body_synthesis(&body, &req, &cp, tpl,
                                                 tpl_len, block, ncands,
                                                 critique);
        fuzz_assert(rc == 0, "a body with the instruction");

        out.len = 0;
        ngx_http_moa_body_flat(&body, &out);

        v = fuzz_json(out.data, out.len, "a body with the instruction");
        m = cJSON_GetArrayItem(fuzz_get(v, "messages"), 1);
        m = fuzz_get(m, "content");

        /* the critique has no critiques */
        fuzz_render(tpl, tpl_len, block, ncands, i ? critique : NULL, &text);

        fuzz_assert(cJSON_IsString(m)
                    && strlen(m->valuestring)
                       == strnlen(text.len ? text.data : "", text.len)
                    && memcmp(m->valuestring, text.len ? text.data : "",
                              strlen(m->valuestring)) == 0,
                    "the instruction arrives intact");

        cJSON_Delete(v);
        ngx_http_moa_body_free(&body);
    }

    ngx_http_moa_buf_free(&out);
    ngx_http_moa_buf_free(&text);
    ngx_http_moa_request_free(&req);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                              i, n, ncands;
    char                             buf[64];
    size_t                           len[FUZZ_MAX_CANDS + 2], tpl_len;
    const char                      *p, *end, *q, *part[FUZZ_MAX_CANDS + 2];
    const char                      *tpl, *check, *esc;
    fuzz_reply_t                     r[FUZZ_MAX_CANDS + 1];
    ngx_http_moa_buf_t               block, tpl_esc, flat, text;
    ngx_http_moa_body_t              body;
    ngx_http_moa_prompt_candidate_t  cands[FUZZ_MAX_CANDS];
    const ngx_http_moa_choice_t     *crit;

    /* the parts between NUL bytes (no NULL + 0 for an empty input) */
    p = size ? (const char *) data : "";
    end = p + size;
    n = 0;

    while (n < FUZZ_MAX_CANDS + 2) {
        q = memchr(p, '\0', end - p);
        part[n] = p;
        len[n] = (q ? q : end) - p;
        n++;

        if (q == NULL) {
            break;
        }

        p = q + 1;
    }

    tpl = part[0];
    tpl_len = len[0];
    ncands = (n >= 3) ? n - 2 : n - 1;

    for (i = 0; i < ncands; i++) {
        cands[i].choice = fuzz_choice(&r[i], part[i + 1], len[i + 1]);
    }

    crit = (n >= 3) ? fuzz_choice(&r[ncands], part[n - 1], len[n - 1])
                    : NULL;

    /* the check finds {{candidates}} exactly when it is there */
    check = ngx_http_moa_prompt_check(tpl, tpl_len);
    fuzz_assert((check == NULL)
                == (fuzz_memmem(tpl, tpl_len, "{{candidates}}") != NULL),
                "prompt_check agrees with the template");

    memset(&block, 0, sizeof(block));
    memset(&tpl_esc, 0, sizeof(tpl_esc));
    memset(&flat, 0, sizeof(flat));
    memset(&text, 0, sizeof(text));

    /* the candidates' block: each closed exactly once, numbered */
    fuzz_assert(ngx_http_moa_prompt_candidates(&block, cands, ncands) == 0,
                "the candidates render");

    fuzz_string(block.data, block.len, &text, "the candidates' block");

    fuzz_assert(fuzz_count(text.data, text.len, "</candidate") == ncands,
                "a candidate's text cannot close its tag");

    for (i = 0; i < ncands; i++) {
        snprintf(buf, sizeof(buf), "<candidate number=\"%d\">\n", i + 1);
        fuzz_assert(fuzz_memmem(text.data, text.len, buf) != NULL,
                    "every candidate is numbered");
    }

    /* the fuzzed template, escaped as at configuration time */
    ngx_http_moa_buf_json_inner(&tpl_esc, tpl, tpl_len);
    esc = tpl_esc.len ? tpl_esc.data : "";

    fuzz_render(esc, tpl_esc.len, &block, ncands, crit, &text);

    if (fuzz_memmem(tpl, tpl_len, "{{") == NULL) {
        fuzz_assert(text.len == tpl_len
                    && (tpl_len == 0 || memcmp(text.data, tpl, tpl_len) == 0),
                    "a template without placeholders decodes to itself");
    }

    fuzz_assert(fuzz_count(text.data, text.len, "</candidate")
                >= (fuzz_memmem(tpl, tpl_len, "{{candidates}}") ? ncands : 0),
                "the candidates are in the instruction");

    fuzz_bodies(esc, tpl_esc.len, &block, ncands, crit);

    /* {{candidates}} alone is the block, {{count}} the number */
    memset(&body, 0, sizeof(body));
    ngx_http_moa_prompt_parts(&body, "{{candidates}}", 14, &block, ncands,
                              crit);
    fuzz_assert(ngx_http_moa_body_done(&body) == 0
                && body.len == block.len
                && (block.len < NGX_HTTP_MOA_BODY_COPY
                    || (body.nparts == 1 && body.parts[0].p == block.data)),
                "{{candidates}} refers to the block (a short one is copied)");
    flat.len = 0;
    ngx_http_moa_body_flat(&body, &flat);
    fuzz_assert(flat.len == block.len
                && (block.len == 0
                    || memcmp(flat.data, block.data, block.len) == 0),
                "{{candidates}} is the block");
    ngx_http_moa_body_free(&body);

    memset(&body, 0, sizeof(body));
    flat.len = 0;
    ngx_http_moa_prompt_parts(&body, "{{count}}", 9, &block, ncands, crit);
    fuzz_assert(ngx_http_moa_body_done(&body) == 0, "{{count}} parts");
    ngx_http_moa_body_flat(&body, &flat);
    snprintf(buf, sizeof(buf), "%d", ncands);
    fuzz_assert(flat.len == strlen(buf)
                && memcmp(flat.data, buf, flat.len) == 0, "{{count}}");
    ngx_http_moa_body_free(&body);

    ngx_http_moa_buf_free(&block);
    ngx_http_moa_buf_free(&tpl_esc);
    ngx_http_moa_buf_free(&flat);
    ngx_http_moa_buf_free(&text);

    for (i = 0; i < ncands + (crit != NULL); i++) {
        ngx_http_moa_reply_free(&r[i].rep);
        ngx_http_moa_buf_free(&r[i].text);
    }

    return 0;
}
