
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: a provider's reply, cut into tokens without copying, and
 * its choices as spans; the tree helpers the rarer paths share.
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_http_moa_reply.h"
#include "ngx_http_moa_json_text.h"
#include "ngx_http_moa_json_find.h"


/* what a reply, each of its choices and each message are read for */
static const ngx_http_moa_json_key_t  ngx_http_moa_reply_fields[] = {
    ngx_http_moa_json_key("error"),
    ngx_http_moa_json_key("choices"),
    ngx_http_moa_json_key("usage")
};

static const ngx_http_moa_json_key_t  ngx_http_moa_choice_fields[] = {
    ngx_http_moa_json_key("message"),
    ngx_http_moa_json_key("index"),
    ngx_http_moa_json_key("logprobs"),
    ngx_http_moa_json_key("finish_reason")
};

static const ngx_http_moa_json_key_t  ngx_http_moa_message_fields[] = {
    ngx_http_moa_json_key("content"),
    ngx_http_moa_json_key("tool_calls"),
    ngx_http_moa_json_key("refusal"),
    ngx_http_moa_json_key("role")
};

/* prepared by their first lookup: the keys by length */
static ngx_http_moa_json_keys_t  ngx_http_moa_reply_keys =
    ngx_http_moa_json_keys(ngx_http_moa_reply_fields);
static ngx_http_moa_json_keys_t  ngx_http_moa_choice_keys =
    ngx_http_moa_json_keys(ngx_http_moa_choice_fields);
static ngx_http_moa_json_keys_t  ngx_http_moa_message_keys =
    ngx_http_moa_json_keys(ngx_http_moa_message_fields);


/* a reply with an "error" member (token e): its message into err */
static void
ngx_http_moa_reply_error(const ngx_http_moa_json_t *j, int e,
    ngx_http_moa_error_t *err)
{
    ngx_http_moa_buf_t   text;
    ngx_http_moa_span_t  v;

    memset(&text, 0, sizeof(ngx_http_moa_buf_t));

    if (ngx_http_moa_json_tok_get(j, e, "message", &v) >= 0
        && v.p[0] == '"')
    {
        (void) ngx_http_moa_json_text_unescape(&text, v.p, v.len);
    }

    ngx_http_moa_buf_add(&text, "", 1);

    ngx_http_moa_error_set(err, 502, "upstream_error", "upstream_error",
                           NULL, "the provider answered with an error: "
                           "%.160s", text.len > 1 && !text.nomem
                                     ? text.data : "(no message)");

    ngx_http_moa_buf_free(&text);
}


/*
 * A provider's reply, parsed without copying: one pass validates the text
 * and cuts it into tokens, from which the parts the chain reads (each
 * choice's message, content, tool calls, refusal) are spans of the text;
 * only the small usage object becomes a tree.  The text must outlive the
 * reply.
 */
int
ngx_http_moa_reply_parse(ngx_http_moa_reply_t *rep, const char *p,
    size_t len, ngx_http_moa_error_t *err)
{
    int                     n, e, c, msg, i;
    int                     at[3], ca[4], ma[4];
    ngx_http_moa_json_t    *j;
    ngx_http_moa_choice_t  *ch;

    memset(rep, 0, sizeof(ngx_http_moa_reply_t));
    rep->p = p;
    rep->len = len;

    j = &rep->json;

    if (ngx_http_moa_json_parse(j, p, len) != 0 || j->tok[0].type != '{') {
        ngx_http_moa_error_set(err, 502, "upstream_error", "bad_upstream_reply",
                               NULL, "the provider sent a reply that is not "
                               "a JSON object");
        return -1;
    }

    ngx_http_moa_json_find_set(j, 0, &ngx_http_moa_reply_keys, at);

    e = at[0];

    if (e >= 0 && j->tok[e].type != 'n') {
        ngx_http_moa_reply_error(j, e, err);
        return -1;
    }

    c = at[1];

    n = 0;

    for (i = ngx_http_moa_json_first(j, c); i >= 0;
         i = ngx_http_moa_json_after(j, c, i))
    {
        n++;
    }

    if (n == 0) {
        ngx_http_moa_error_set(err, 502, "upstream_error", "bad_upstream_reply",
                               NULL, "the provider's reply has no choices");
        return -1;
    }

    /* a reply has one choice but when n asks for more: no allocation then */

    rep->choices = (n == 1) ? &rep->one
                            : calloc(n, sizeof(ngx_http_moa_choice_t));
    if (rep->choices == NULL) {
        ngx_http_moa_error_set(err, 500, "server_error", NULL, NULL,
                               "out of memory");
        return -1;
    }

    for (i = ngx_http_moa_json_first(j, c); i >= 0;
         i = ngx_http_moa_json_after(j, c, i))
    {
        ch = &rep->choices[rep->nchoices++];
        ngx_http_moa_json_span(j, i, &ch->span);

        ngx_http_moa_json_find_set(j, i, &ngx_http_moa_choice_keys, ca);

        msg = ca[0];
        ngx_http_moa_json_tok_span(j, msg, &ch->message);

        if (msg < 0 || j->tok[msg].type != '{') {
            ngx_http_moa_error_set(err, 502, "upstream_error",
                                   "bad_upstream_reply", NULL,
                                   "the provider's reply has a choice "
                                   "without a message");
            return -1;
        }

        ngx_http_moa_json_find_set(j, msg, &ngx_http_moa_message_keys, ma);

        ngx_http_moa_json_tok_span(j, ma[0], &ch->content);
        ngx_http_moa_json_tok_span(j, ma[1], &ch->tool_calls);
        ngx_http_moa_json_tok_span(j, ma[2], &ch->refusal);
        ngx_http_moa_json_tok_span(j, ca[3], &ch->finish_reason);

        /*
         * what the tokenizer knew of a string: whether its characters all
         * appear as themselves but for \" \\ \n and the like (clear), and
         * whether a \u escape wrote a '<' (lt); the prompt then needs no
         * scan of the raw text for escapes
         */
        ch->content_known = ma[0] >= 0 && j->tok[ma[0]].type == '"';
        ch->content_clear = ch->content_known && !j->tok[ma[0]].hidden;
        ch->content_lt = ch->content_known && j->tok[ma[0]].hidden_lt;
        ch->refusal_known = ma[2] >= 0 && j->tok[ma[2]].type == '"';
        ch->refusal_clear = ch->refusal_known && !j->tok[ma[2]].hidden;
        ch->refusal_lt = ch->refusal_known && j->tok[ma[2]].hidden_lt;

        /*
         * what a client gets as is: no field to add, none to remove, no
         * duplicate the tree path would drop (clients keep the last one)
         */
        ch->plain = ngx_http_moa_json_unique(j, i)
                    && ngx_http_moa_json_unique(j, msg)
                    && ca[1] >= 0 && ca[2] >= 0 && ca[3] >= 0
                    && ma[3] >= 0
                    && ch->content.len && ch->refusal.len
                    && (ch->tool_calls.len == 0
                        || ngx_http_moa_json_text_array_nonempty(
                               &ch->tool_calls));
    }

    /* the usage stays tokens: summed from them, a tree only if asked */

    i = at[2];
    rep->usage_at = (i >= 0 && j->tok[i].type == '{') ? i : -1;

    return 0;
}


/* the reply as a tree, for the rare paths that edit it */
cJSON *
ngx_http_moa_reply_root(ngx_http_moa_reply_t *rep)
{
    if (rep->root == NULL && rep->p) {
        rep->root = cJSON_ParseWithLength(rep->p, rep->len);
    }

    return rep->root;
}


/*
 * The reply's tokens, cut again when they were freed to save memory (a
 * proposal's, kept for its spans): 0, or -1 without memory.
 */
int
ngx_http_moa_reply_tokens(ngx_http_moa_reply_t *rep)
{
    if (rep->json.tok) {
        return 0;
    }

    return ngx_http_moa_json_parse(&rep->json, rep->p, rep->len);
}


void
ngx_http_moa_reply_free(ngx_http_moa_reply_t *rep)
{
    ngx_http_moa_json_free(&rep->json);

    if (rep->choices != &rep->one) {
        free(rep->choices);
    }

    cJSON_Delete(rep->root);

    rep->choices = NULL;
    rep->usage_at = -1;
    rep->root = NULL;
    rep->nchoices = 0;
}


int
ngx_http_moa_reply_choice_usable(const ngx_http_moa_choice_t *c)
{
    size_t               pos;
    ngx_http_moa_span_t  part, text;

    if (ngx_http_moa_json_text_nonempty(&c->content)) {
        return 1;
    }

    if (c->content.len && c->content.p[0] == '[') {
        pos = 0;

        while (ngx_http_moa_json_text_next(c->content.p, c->content.len,
                                           &pos, &part))
        {
            if (part.p[0] == '{'
                && ngx_http_moa_json_text_get(part.p, part.len, "text", &text)
                && ngx_http_moa_json_text_nonempty(&text))
            {
                return 1;
            }
        }
    }

    return ngx_http_moa_json_text_array_nonempty(&c->tool_calls)
           || ngx_http_moa_json_text_nonempty(&c->refusal);
}


/*
 * A string member of the tree replaced by its raw text (a cJSON_IsRaw
 * item, printed as it is): cJSON's strings end at a \u0000.
 */
static int
ngx_http_moa_reply_raw_string(cJSON *obj, const char *name,
    const ngx_http_moa_span_t *v)
{
    cJSON               *item;
    ngx_http_moa_buf_t   b;

    if (v->len == 0 || v->p[0] != '"'
        || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(obj, name)))
    {
        return 0;
    }

    memset(&b, 0, sizeof(ngx_http_moa_buf_t));

    ngx_http_moa_buf_add(&b, v->p, v->len);
    ngx_http_moa_buf_add(&b, "", 1);

    item = b.nomem ? NULL : cJSON_CreateRaw(b.data);
    ngx_http_moa_buf_free(&b);

    return ngx_http_moa_reply_set(obj, name, item);
}


/*
 * The message of a choice as a tree (the caller deletes it); content and
 * refusal strings are raw items, the provider's own text, whole.
 */
cJSON *
ngx_http_moa_reply_choice_message(const ngx_http_moa_choice_t *c)
{
    cJSON  *msg;

    msg = cJSON_ParseWithLength(c->message.p, c->message.len);

    if (msg
        && (ngx_http_moa_reply_raw_string(msg, "content", &c->content) != 0
            || ngx_http_moa_reply_raw_string(msg, "refusal", &c->refusal)
               != 0))
    {
        cJSON_Delete(msg);
        return NULL;
    }

    return msg;
}


int
ngx_http_moa_reply_set(cJSON *obj, const char *name, cJSON *value)
{
    if (value == NULL) {
        return -1;
    }

    if (cJSON_GetObjectItemCaseSensitive(obj, name)) {
        if (!cJSON_ReplaceItemInObjectCaseSensitive(obj, name, value)) {
            cJSON_Delete(value);
            return -1;
        }

        return 0;
    }

    if (!cJSON_AddItemToObject(obj, name, value)) {
        cJSON_Delete(value);
        return -1;
    }

    return 0;
}


/*
 * Drops the later duplicates of the keys the module reads or sets: cJSON
 * reads the first, most clients keep the last.
 */
void
ngx_http_moa_reply_first_only(cJSON *obj, const char **names)
{
    cJSON  *c, *next, *first;

    for ( /* void */ ; *names; names++) {
        first = NULL;

        for (c = cJSON_IsObject(obj) ? obj->child : NULL; c; c = next) {
            next = c->next;

            if (c->string == NULL || strcmp(c->string, *names) != 0) {
                continue;
            }

            if (first == NULL) {
                first = c;
                continue;
            }

            cJSON_Delete(cJSON_DetachItemViaPointer(obj, c));
        }
    }
}
