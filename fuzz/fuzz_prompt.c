
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Fuzz target: prompt templates and candidates.  The input is split at NUL
 * bytes: a template, then candidates (a JSON message, or else plain text as
 * its content), and the critiques last when there are three parts or more.
 * The check agrees with the template, a template without "{{" renders as
 * itself, every candidate is closed exactly once whatever its text, and the
 * rendered instruction travels intact in critique and synthesis bodies.
 */


#include "fuzz.h"
#include "ngx_http_moa_openai.h"
#include "ngx_http_moa_prompt.h"


#define FUZZ_MAX_CANDS  8


static const char  fuzz_request[] =
    "{\"model\":\"moa\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
    "\"stream\":true}";


static const char *
fuzz_memmem(const char *p, size_t len, const char *s)
{
    size_t  i, n;

    n = strlen(s);

    for (i = 0; i + n <= len; i++) {
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


static void
fuzz_instruction(const ngx_http_moa_buf_t *text)
{
    int                          i;
    cJSON                       *v;
    const cJSON                 *m;
    ngx_http_moa_buf_t           body;
    ngx_http_moa_error_t         err;
    ngx_http_moa_request_t       req;
    ngx_http_moa_call_params_t   cp;

    fuzz_assert(ngx_http_moa_request_parse(&req, fuzz_request,
                                           sizeof(fuzz_request) - 1, &err)
                == 0, "the fixed request");

    memset(&cp, 0, sizeof(cp));
    cp.model = "gpt-4o";
    cp.model_len = 6;

    for (i = 0; i < 2; i++) {
        memset(&body, 0, sizeof(body));

        fuzz_assert((i == 0
                     ? ngx_http_moa_build_critique(&body, &req, &cp,
                                                   text->data, text->len)
                     : ngx_http_moa_build_synthesis(&body, &req, &cp,
                                                    text->data, text->len))
                    == 0, "a body with the instruction");

        v = fuzz_json(body.data, body.len, "a body with the instruction");
        m = cJSON_GetArrayItem(fuzz_get(v, "messages"), 1);
        m = fuzz_get(m, "content");

        fuzz_assert(cJSON_IsString(m) && strlen(m->valuestring) == text->len
                    && (text->len == 0
                        || memcmp(m->valuestring, text->data, text->len)
                           == 0), "the instruction arrives intact");

        cJSON_Delete(v);
        ngx_http_moa_buf_free(&body);
    }

    ngx_http_moa_request_free(&req);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                        i, n, ncands, rc;
    char                       buf[64];
    cJSON                     *msgs[FUZZ_MAX_CANDS];
    size_t                     len[FUZZ_MAX_CANDS + 2], crit_len, tpl_len;
    const char                *p, *end, *q, *part[FUZZ_MAX_CANDS + 2];
    const char                *tpl, *crit, *check;
    ngx_http_moa_buf_t         out;
    ngx_http_moa_candidate_t   cands[FUZZ_MAX_CANDS];

    /* the parts between NUL bytes */
    p = (const char *) data;
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
    crit = (n >= 3) ? part[n - 1] : NULL;
    crit_len = (n >= 3) ? len[n - 1] : 0;
    ncands = (n >= 3) ? n - 2 : n - 1;

    for (i = 0; i < ncands; i++) {
        msgs[i] = cJSON_ParseWithLength(part[i + 1], len[i + 1]);

        if (!cJSON_IsObject(msgs[i])) {
            cJSON_Delete(msgs[i]);

            msgs[i] = cJSON_CreateObject();
            fuzz_assert(msgs[i] != NULL, "a message");

            /* the text has no NUL: it is a C string once copied */
            {
                char  *s;

                s = malloc(len[i + 1] + 1);
                fuzz_assert(s != NULL, "malloc");
                memcpy(s, part[i + 1], len[i + 1]);
                s[len[i + 1]] = '\0';

                fuzz_assert(cJSON_AddStringToObject(msgs[i], "content", s)
                            != NULL, "a text candidate");
                free(s);
            }
        }

        cands[i].message = msgs[i];
    }

    /* the check finds {{candidates}} exactly when it is there */
    check = ngx_http_moa_prompt_check(tpl, tpl_len);
    fuzz_assert((check == NULL)
                == (fuzz_memmem(tpl, tpl_len, "{{candidates}}") != NULL),
                "prompt_check agrees with the template");

    /* the fuzzed template */
    memset(&out, 0, sizeof(out));

    rc = ngx_http_moa_prompt_render(&out, tpl, tpl_len, cands, ncands, crit,
                                    crit_len);
    fuzz_assert(rc == 0 && !out.nomem, "a template renders");

    if (fuzz_memmem(tpl, tpl_len, "{{") == NULL) {
        fuzz_assert(out.len == tpl_len
                    && (tpl_len == 0 || memcmp(out.data, tpl, tpl_len) == 0),
                    "a template without placeholders renders as itself");
    }

    fuzz_assert(out.len == 0 || memchr(out.data, '\0', out.len) == NULL,
                "no NUL in a rendered prompt");

    fuzz_instruction(&out);

    /* the candidates alone: each closed exactly once */
    out.len = 0;

    rc = ngx_http_moa_prompt_render(&out, "{{candidates}}", 14, cands, ncands,
                                    NULL, 0);
    fuzz_assert(rc == 0, "the candidates render");

    fuzz_assert(fuzz_count(out.data, out.len, "</candidate") == ncands,
                "a candidate's text cannot close its tag");

    for (i = 0; i < ncands; i++) {
        snprintf(buf, sizeof(buf), "<candidate number=\"%d\">\n", i + 1);
        fuzz_assert(fuzz_memmem(out.data, out.len, buf) != NULL,
                    "every candidate is numbered");
    }

    fuzz_instruction(&out);

    /* {{count}} is the number of candidates */
    out.len = 0;

    rc = ngx_http_moa_prompt_render(&out, "{{count}}", 9, cands, ncands,
                                    crit, crit_len);
    snprintf(buf, sizeof(buf), "%d", ncands);
    fuzz_assert(rc == 0 && out.len == strlen(buf)
                && memcmp(out.data, buf, out.len) == 0, "{{count}}");

    ngx_http_moa_buf_free(&out);

    for (i = 0; i < ncands; i++) {
        cJSON_Delete(msgs[i]);
    }

    return 0;
}
