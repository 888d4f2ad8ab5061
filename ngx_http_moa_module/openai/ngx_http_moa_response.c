
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the final chat.completion, the provider's own bytes with
 * model and usage replaced when the reply is in shape, else from a tree.
 */


#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ngx_http_moa_response.h"
#include "ngx_http_moa_usage.h"
#include "ngx_http_moa_buf_json.h"
#include "ngx_http_moa_json_find.h"


/* a key of len bytes, not escaped, is the literal s */
#define ngx_http_moa_response_is(key, len, s)                                \
    ((len) == sizeof(s) - 1 && memcmp(key, s, sizeof(s) - 1) == 0)


static const char  *ngx_http_moa_response_keys[] = {
    "id", "object", "created", "model", "choices", "usage", NULL
};

static const char  *ngx_http_moa_choice_keys[] = {
    "index", "message", "logprobs", "finish_reason", NULL
};

static const char  *ngx_http_moa_message_keys[] = {
    "role", "content", "refusal", "tool_calls", NULL
};


/*
 * Which of names (NULL-terminated) the key of member token k is: its
 * position, or -1.  Keys are compared decoded, as cJSON did.
 */
static int
ngx_http_moa_response_key(const ngx_http_moa_json_t *j, uint32_t k,
    const char **names)
{
    int                         i;
    ngx_http_moa_json_member_t  m;

    m.key = j->tok[k].p + 1;
    m.key_len = j->tok[k].len - 2;
    m.escaped = j->tok[k].escaped;

    for (i = 0; names[i]; i++) {
        if (ngx_http_moa_json_key_is(&m, names[i])) {
            return i;
        }
    }

    return -1;
}


/*
 * The members of object token obj are walked in order; a later duplicate
 * of a key in names is dropped (clients keep the last, the module reads
 * the first).  Returns the position in names of the key of member token
 * k, -1 for other keys, or -2 for a member to skip.
 */
static int
ngx_http_moa_response_member(const ngx_http_moa_json_t *j, uint32_t k,
    const char **names, unsigned *seen)
{
    int  i;

    i = ngx_http_moa_response_key(j, k, names);

    if (i >= 0) {
        if (*seen & (1u << i)) {
            return -2;
        }

        *seen |= 1u << i;
    }

    return i;
}


/* a comma before every member but the first */
static void
ngx_http_moa_response_sep(ngx_http_moa_buf_t *out, int *first)
{
    if (!*first) {
        ngx_http_moa_buf_lit(out, ",");
    }

    *first = 0;
}


/* "key": written raw */
static void
ngx_http_moa_response_put_key(ngx_http_moa_buf_t *out,
    const ngx_http_moa_json_t *j, uint32_t k, int *first)
{
    ngx_http_moa_response_sep(out, first);
    ngx_http_moa_buf_add(out, j->tok[k].p, j->tok[k].len);
    ngx_http_moa_buf_lit(out, ":");
}


static void
ngx_http_moa_response_put_raw(ngx_http_moa_buf_t *out,
    const ngx_http_moa_json_t *j, uint32_t v)
{
    ngx_http_moa_buf_add(out, j->tok[v].p, j->tok[v].len);
}


/*
 * A message, with role, content and refusal added when missing and a
 * tool_calls without calls removed (SDKs expect it only with some).
 */
static void
ngx_http_moa_response_message(ngx_http_moa_buf_t *out,
    const ngx_http_moa_json_t *j, uint32_t msg)
{
    int       i, first;
    uint32_t  k, end;
    unsigned  seen;

    ngx_http_moa_buf_lit(out, "{");

    first = 1;
    seen = 0;
    end = j->tok[msg].next;

    for (k = msg + 1; k < end; k = j->tok[k + 1].next) {
        i = ngx_http_moa_response_member(j, k, ngx_http_moa_message_keys,
                                         &seen);
        if (i == -2) {
            continue;
        }

        /* tool_calls: kept with elements (or members) only */
        if (i == 3
            && ((j->tok[k + 1].type != '[' && j->tok[k + 1].type != '{')
                || j->tok[k + 1].next == k + 2))
        {
            continue;
        }

        ngx_http_moa_response_put_key(out, j, k, &first);
        ngx_http_moa_response_put_raw(out, j, k + 1);
    }

    if (!(seen & 1)) {
        ngx_http_moa_response_sep(out, &first);
        ngx_http_moa_buf_lit(out, "\"role\":\"assistant\"");
    }

    if (!(seen & 2)) {
        ngx_http_moa_response_sep(out, &first);
        ngx_http_moa_buf_lit(out, "\"content\":null");
    }

    if (!(seen & 4)) {
        ngx_http_moa_response_sep(out, &first);
        ngx_http_moa_buf_lit(out, "\"refusal\":null");
    }

    ngx_http_moa_buf_lit(out, "}");
}


/*
 * A choice, with index (its position; 0 for a candidate kept alone),
 * logprobs and finish_reason added when missing.  index >= 0 replaces the
 * provider's own.
 */
static void
ngx_http_moa_response_choice(ngx_http_moa_buf_t *out,
    const ngx_http_moa_json_t *j, uint32_t c, int index, int pos)
{
    int       i, first;
    uint32_t  k, end;
    unsigned  seen;

    ngx_http_moa_buf_lit(out, "{");

    first = 1;
    seen = 0;
    end = j->tok[c].next;

    for (k = c + 1; k < end; k = j->tok[k + 1].next) {
        i = ngx_http_moa_response_member(j, k, ngx_http_moa_choice_keys,
                                         &seen);
        if (i == -2) {
            continue;
        }

        ngx_http_moa_response_put_key(out, j, k, &first);

        if (i == 0 && index >= 0) {
            ngx_http_moa_buf_int(out, index);

        } else if (i == 1 && j->tok[k + 1].type == '{') {
            ngx_http_moa_response_message(out, j, k + 1);

        } else {
            ngx_http_moa_response_put_raw(out, j, k + 1);
        }
    }

    /* Vercel's AI SDK, for one, refuses a choice without its index */
    if (!(seen & 1)) {
        ngx_http_moa_response_sep(out, &first);
        ngx_http_moa_buf_lit(out, "\"index\":");
        ngx_http_moa_buf_int(out, index >= 0 ? index : pos);
    }

    if (!(seen & 4)) {
        ngx_http_moa_response_sep(out, &first);
        ngx_http_moa_buf_lit(out, "\"logprobs\":null");
    }

    if (!(seen & 8)) {
        ngx_http_moa_response_sep(out, &first);
        ngx_http_moa_buf_lit(out, "\"finish_reason\":\"stop\"");
    }

    ngx_http_moa_buf_lit(out, "}");
}


/* created, when it is a finite number (1e999 is not a time) */
static int
ngx_http_moa_response_created(const ngx_http_moa_json_t *j, uint32_t v)
{
    return j->tok[v].type == '0' && isfinite(strtod(j->tok[v].p, NULL));
}


/*
 * The final chat.completion from a reply not in shape, normalised from
 * its tokens: the provider's own bytes for everything the module does not
 * set, so that no string is cut at a \u0000 (cJSON stores C strings) nor
 * re-escaped.  model is the MoA id, usage the sum; choice >= 0 keeps that
 * one choice only (a candidate returned as the answer), as index 0.
 */
static int
ngx_http_moa_response_tree(ngx_http_moa_buf_t *out,
    ngx_http_moa_reply_t *rep, int choice, const char *model,
    const cJSON *usage)
{
    int                         i, c, pos, first;
    uint32_t                    k, end;
    unsigned                    seen;
    const ngx_http_moa_json_t  *j;

    j = &rep->json;

    (void) ngx_http_moa_buf_reserve(out, rep->len + 256);

    ngx_http_moa_buf_lit(out, "{");

    first = 1;
    seen = 0;
    end = j->tok[0].next;

    for (k = 1; k < end; k = j->tok[k + 1].next) {
        i = ngx_http_moa_response_member(j, k, ngx_http_moa_response_keys,
                                         &seen);
        /* usage is optional: none when no call reported a count */
        if (i == -2 || (i == 5 && !ngx_http_moa_usage_reported(usage))) {
            continue;
        }

        ngx_http_moa_response_put_key(out, j, k, &first);

        switch (i) {

        case 1:
            ngx_http_moa_buf_lit(out, "\"chat.completion\"");
            break;

        case 2:
            if (ngx_http_moa_response_created(j, k + 1)) {
                ngx_http_moa_response_put_raw(out, j, k + 1);

            } else {
                ngx_http_moa_buf_int(out, (long long) time(NULL));
            }

            break;

        case 3:
            ngx_http_moa_buf_json_str(out, model, strlen(model));
            break;

        case 4:
            ngx_http_moa_buf_lit(out, "[");
            pos = 0;

            for (c = ngx_http_moa_json_first(j, k + 1); c >= 0;
                 c = ngx_http_moa_json_after(j, k + 1, c))
            {
                if (choice < 0) {
                    if (pos) {
                        ngx_http_moa_buf_lit(out, ",");
                    }

                    ngx_http_moa_response_choice(out, j, c, -1, pos);

                } else if (pos == choice) {
                    ngx_http_moa_response_choice(out, j, c, 0, 0);
                }

                pos++;
            }

            if (choice >= pos) {
                return -1;
            }

            ngx_http_moa_buf_lit(out, "]");
            break;

        case 5:
            ngx_http_moa_usage_print(out, usage);
            break;

        default:
            ngx_http_moa_response_put_raw(out, j, k + 1);
        }
    }

    if (!(seen & 1)) {
        ngx_http_moa_buf_lit(out, ",\"id\":\"chatcmpl-moa\"");
    }

    if (!(seen & 2)) {
        ngx_http_moa_buf_lit(out, ",\"object\":\"chat.completion\"");
    }

    if (!(seen & 8)) {
        ngx_http_moa_buf_lit(out, ",\"model\":");
        ngx_http_moa_buf_json_str(out, model, strlen(model));
    }

    if (!(seen & 32) && ngx_http_moa_usage_reported(usage)) {
        ngx_http_moa_buf_lit(out, ",\"usage\":");
        ngx_http_moa_usage_print(out, usage);
    }

    if (!(seen & 4)) {
        ngx_http_moa_buf_lit(out, ",\"created\":");
        ngx_http_moa_buf_int(out, (long long) time(NULL));
    }

    ngx_http_moa_buf_lit(out, "}");

    return out->nomem ? -1 : 0;
}


/*
 * Digits only, as a Unix time: "1e999" also starts with a digit, but is
 * infinite, which the tree path replaces (cJSON would print it as null).
 */
static int
ngx_http_moa_response_time(const ngx_http_moa_span_t *v)
{
    size_t  i;

    if (v->len == 0 || v->len > 12) {
        return 0;
    }

    for (i = 0; i < v->len; i++) {
        if (v->p[i] < '0' || v->p[i] > '9') {
            return 0;
        }
    }

    return 1;
}


/*
 * Whether a reply is already what clients expect, so that the answer can
 * be its own text with model and usage replaced: no duplicate top-level
 * keys, an id, object "chat.completion", an integer created, and choices
 * with index, message (role, content, refusal, no empty tool_calls),
 * logprobs and finish_reason, without duplicate keys in either.
 */
int
ngx_http_moa_response_plain(const ngx_http_moa_reply_t *rep)
{
    int                         i, seen;
    size_t                      len;
    uint32_t                    k, end;
    const char                 *key;
    ngx_http_moa_span_t         v;
    const ngx_http_moa_json_t  *j;

    j = &rep->json;

    if (!ngx_http_moa_json_unique(j, 0)) {
        return 0;
    }

    /* unique keys, none escaped: one walk finds the three, in place */

    seen = 0;
    end = j->tok[0].next;

    for (k = 1; k < end; k = j->tok[k + 1].next) {
        key = j->tok[k].p + 1;
        len = j->tok[k].len - 2;
        ngx_http_moa_json_span(j, k + 1, &v);

        if (ngx_http_moa_response_is(key, len, "id")) {
            seen |= 1;

        } else if (ngx_http_moa_response_is(key, len, "object")) {
            if (!ngx_http_moa_json_is_literal(v.p, v.len,
                                              "\"chat.completion\""))
            {
                return 0;
            }

            seen |= 2;

        } else if (ngx_http_moa_response_is(key, len, "created")) {
            if (!ngx_http_moa_response_time(&v)) {
                return 0;
            }

            seen |= 4;
        }
    }

    if (seen != 7) {
        return 0;
    }

    for (i = 0; i < rep->nchoices; i++) {
        if (!rep->choices[i].plain) {
            return 0;
        }
    }

    return 1;
}


/* a run of members copied as the text has them, after a comma if needed */
static void
ngx_http_moa_response_run(ngx_http_moa_buf_t *out, const char **run,
    const char *end, int *first)
{
    if (*run == NULL) {
        return;
    }

    ngx_http_moa_response_sep(out, first);
    ngx_http_moa_buf_add(out, *run, end - *run);
    *run = NULL;
}


/*
 * The final chat.completion from a provider reply: model is the MoA id,
 * usage the sum.  choice >= 0 keeps that one choice only (a candidate
 * returned as the answer), as index 0.  A reply already in shape is
 * answered with its own bytes; others are normalised from their tokens.
 */
int
ngx_http_moa_response_build(ngx_http_moa_buf_t *out,
    ngx_http_moa_reply_t *rep, int choice, const char *model,
    const cJSON *usage)
{
    int                          has_model, has_usage, first, reported;
    int                          mine;
    size_t                       len;
    uint32_t                     k, v, end;
    const char                  *key, *run, *run_end;
    const ngx_http_moa_json_t   *j;

    if (ngx_http_moa_reply_tokens(rep) != 0) {
        return -1;
    }

    if (choice >= 0 || !ngx_http_moa_response_plain(rep)) {
        return ngx_http_moa_response_tree(out, rep, choice, model, usage);
    }

    (void) ngx_http_moa_buf_reserve(out, rep->len + 256);

    has_model = 0;
    has_usage = 0;
    first = 1;
    reported = ngx_http_moa_usage_reported(usage);

    ngx_http_moa_buf_lit(out, "{");

    j = &rep->json;
    end = j->tok[0].next;

    /*
     * a reply in shape has no escaped key: the keys compare as they are.
     * Members written as they are, where the text has them compact ("k":v
     * and "," between), are the text's own bytes: a run of them is copied
     * at once.
     */

    run = NULL;
    run_end = NULL;

    for (k = 1; k < end; k = j->tok[v].next) {
        v = k + 1;
        key = j->tok[k].p + 1;
        len = j->tok[k].len - 2;

        /* usage is optional: none when no call reported a count */
        if (ngx_http_moa_response_is(key, len, "usage") && !reported) {
            continue;
        }

        mine = ngx_http_moa_response_is(key, len, "model")
               || ngx_http_moa_response_is(key, len, "usage");

        if (!mine && j->tok[v].p == j->tok[k].p + j->tok[k].len + 1) {
            if (run == NULL || j->tok[k].p != run_end + 1) {
                ngx_http_moa_response_run(out, &run, run_end, &first);
                run = j->tok[k].p;
            }

            run_end = j->tok[v].p + j->tok[v].len;
            continue;
        }

        ngx_http_moa_response_run(out, &run, run_end, &first);
        ngx_http_moa_response_sep(out, &first);

        ngx_http_moa_buf_add(out, j->tok[k].p, j->tok[k].len);
        ngx_http_moa_buf_lit(out, ":");

        if (ngx_http_moa_response_is(key, len, "model")) {
            ngx_http_moa_buf_json_str(out, model, strlen(model));
            has_model = 1;

        } else if (ngx_http_moa_response_is(key, len, "usage")) {
            ngx_http_moa_usage_print(out, usage);
            has_usage = 1;

        } else {
            ngx_http_moa_buf_add(out, j->tok[v].p, j->tok[v].len);
        }
    }

    ngx_http_moa_response_run(out, &run, run_end, &first);

    if (!has_model) {
        ngx_http_moa_buf_lit(out, ",\"model\":");
        ngx_http_moa_buf_json_str(out, model, strlen(model));
    }

    if (!has_usage && reported) {
        ngx_http_moa_buf_lit(out, ",\"usage\":");
        ngx_http_moa_usage_print(out, usage);
    }

    ngx_http_moa_buf_lit(out, "}");

    return out->nomem ? -1 : 0;
}
