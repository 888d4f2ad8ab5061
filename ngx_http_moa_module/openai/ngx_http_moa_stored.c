
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: a stored response's record, ids and errors.
 *
 * A record is one header line and three pieces of bytes, so that it is
 * read without a parse and written with one pass over the input items:
 *
 *     MOAR1 <expires> <owner bytes> <input bytes> <response bytes>\n
 *     <owner><input items: a JSON array><the response object>
 *
 * The owner is the digest the glue made of the operator's owner value,
 * never the value itself.  Each input item that has no "id" gets one when
 * the record is written ("msg_<base>_<n>", by its type), so that the items
 * keep their ids through a chain of continuations and the input_items
 * list pages on them.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_buf_json.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_json_find.h"
#include "ngx_http_moa_error.h"
#include "ngx_http_moa_stored.h"


#define NGX_HTTP_MOA_STORED_MAGIC  "MOAR1 "


static int ngx_http_moa_stored_items(ngx_http_moa_buf_t *out,
    const char *input, size_t len, const char *base, size_t base_len);
static const char *ngx_http_moa_stored_prefix(const ngx_http_moa_json_t *j,
    int item);
static int ngx_http_moa_stored_number(const char **p, const char *end,
    long long *v);
static int ngx_http_moa_stored_inner(const char *p, size_t len,
    ngx_http_moa_span_t *inner);
static int ngx_http_moa_stored_reference(const ngx_http_moa_json_t *j,
    int item, ngx_http_moa_span_t *id);
static int ngx_http_moa_stored_find(const ngx_http_moa_json_t *pj,
    ngx_http_moa_span_t *id);


/* "resp_" then letters, digits, '_' and '-', as OpenAI's ids */
int
ngx_http_moa_stored_id_valid(const char *id, size_t len)
{
    size_t  i;

    if (len <= sizeof("resp_") - 1 || len > NGX_HTTP_MOA_STORED_ID_MAX
        || memcmp(id, "resp_", sizeof("resp_") - 1) != 0)
    {
        return 0;
    }

    for (i = sizeof("resp_") - 1; i < len; i++) {
        if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z')
              || (id[i] >= '0' && id[i] <= '9') || id[i] == '_'
              || id[i] == '-'))
        {
            return 0;
        }
    }

    return 1;
}


/* previous_response_id that cannot be an id, worded as OpenAI words it */
void
ngx_http_moa_stored_bad_id(ngx_http_moa_error_t *err, const char *id,
    size_t len)
{
    size_t  i;

    for (i = 0; i < len && i < 64; i++) {
        if (id[i] == '\0') {
            break;
        }
    }

    if (len >= sizeof("resp") - 1 && memcmp(id, "resp", 4) == 0) {
        ngx_http_moa_error_set(err, 400, "invalid_request_error",
                               "invalid_value", "previous_response_id",
                               "Invalid 'previous_response_id': '%.*s'. "
                               "Expected an ID that contains letters, "
                               "numbers, underscores, or dashes, but this "
                               "value contained additional characters.",
                               (int) i, id);
        return;
    }

    ngx_http_moa_error_set(err, 400, "invalid_request_error",
                           "invalid_value", "previous_response_id",
                           "Invalid 'previous_response_id': '%.*s'. "
                           "Expected an ID that begins with 'resp'.",
                           (int) i, id);
}


/*
 * Unknown, expired, evicted, deleted or another owner's: one answer for
 * all, so that a wrong owner learns nothing an unknown id would not tell.
 */
void
ngx_http_moa_stored_not_found(ngx_http_moa_error_t *err, const char *id,
    size_t len, int continuation)
{
    int  n;

    n = (int) (len > NGX_HTTP_MOA_STORED_ID_MAX ? NGX_HTTP_MOA_STORED_ID_MAX
                                                : len);

    if (continuation) {
        ngx_http_moa_error_set(err, 404, "invalid_request_error",
                               "previous_response_not_found",
                               "previous_response_id",
                               "Previous response with id '%.*s' not "
                               "found.", n, id);
        return;
    }

    ngx_http_moa_error_set(err, 404, "invalid_request_error", NULL, NULL,
                           "Response with id '%.*s' not found.", n, id);
}


/* the store could not be read: never an answer from a wrong context */
void
ngx_http_moa_stored_unavailable(ngx_http_moa_error_t *err, int continuation)
{
    ngx_http_moa_error_set(err, 503, "server_error", "store_unavailable",
                           continuation ? "previous_response_id" : NULL,
                           "The store of responses could not be reached; "
                           "%s. Please try again.",
                           continuation ? "the previous response could not "
                                          "be read and the request was not "
                                          "made"
                                        : "the response could not be read");
}


/*
 * The record of a response: the input items (a JSON array: the items the
 * response was made from, those of the responses it continued included)
 * with their ids, and the response object as it was answered.  Returns 0,
 * or -1 when the input is not an array or without memory.
 */
int
ngx_http_moa_stored_encode(ngx_http_moa_buf_t *out, long long expires,
    const char *owner, size_t owner_len, const char *id, size_t id_len,
    const char *input, size_t input_len, const char *response,
    size_t response_len, int flags)
{
    size_t               at;
    ngx_http_moa_buf_t   items;

    memset(&items, 0, sizeof(ngx_http_moa_buf_t));

    /*
     * the Responses translation gives every input item an id, and the
     * prior items of a continuation come from records: no pass over them
     */

    if (flags & NGX_HTTP_MOA_STORED_IDS_GIVEN) {
        items.data = (char *) input;
        items.len = input_len;
        goto write;
    }

    /* the items' ids are made of the response's id past "resp_" */

    if (id_len > sizeof("resp_") - 1) {
        id += sizeof("resp_") - 1;
        id_len -= sizeof("resp_") - 1;
    }

    if (ngx_http_moa_stored_items(&items, input, input_len, id, id_len)
        != 0)
    {
        ngx_http_moa_buf_free(&items);
        return -1;
    }

write:

    at = out->len;

    /* the header: the magic and four numbers of at most 20 digits */

    if (ngx_http_moa_buf_reserve(out, sizeof(NGX_HTTP_MOA_STORED_MAGIC)
                                      + 4 * 21 + owner_len + items.len
                                      + response_len)
        != 0)
    {
        if (!(flags & NGX_HTTP_MOA_STORED_IDS_GIVEN)) {
            ngx_http_moa_buf_free(&items);
        }

        return -1;
    }

    ngx_http_moa_buf_lit(out, NGX_HTTP_MOA_STORED_MAGIC);
    ngx_http_moa_buf_int(out, expires);
    ngx_http_moa_buf_lit(out, " ");
    ngx_http_moa_buf_int(out, (long long) owner_len);
    ngx_http_moa_buf_lit(out, " ");
    ngx_http_moa_buf_int(out, (long long) items.len);
    ngx_http_moa_buf_lit(out, " ");
    ngx_http_moa_buf_int(out, (long long) response_len);
    ngx_http_moa_buf_lit(out, "\n");
    ngx_http_moa_buf_add(out, owner, owner_len);
    ngx_http_moa_buf_add(out, items.data, items.len);
    ngx_http_moa_buf_add(out, response, response_len);

    if (!(flags & NGX_HTTP_MOA_STORED_IDS_GIVEN)) {
        ngx_http_moa_buf_free(&items);
    }

    if (out->nomem) {
        out->len = at;
        return -1;
    }

    return 0;
}


/*
 * The input array with an "id" given to each object that has none: the
 * object's text is spliced, "{" "id":"...", and the rest of it, so the
 * items keep their bytes.
 */
static int
ngx_http_moa_stored_items(ngx_http_moa_buf_t *out, const char *input,
    size_t len, const char *base, size_t base_len)
{
    int                   i, n;
    const char           *p, *last;
    ngx_http_moa_json_t   j;

    memset(&j, 0, sizeof(ngx_http_moa_json_t));

    if (ngx_http_moa_json_parse(&j, input, len) != 0 || j.n == 0
        || j.tok[0].type != '[')
    {
        ngx_http_moa_json_free(&j);
        return -1;
    }

    ngx_http_moa_buf_lit(out, "[");

    n = 0;

    for (i = ngx_http_moa_json_first(&j, 0); i >= 0;
         i = ngx_http_moa_json_after(&j, 0, i), n++)
    {
        if (n) {
            ngx_http_moa_buf_lit(out, ",");
        }

        p = j.tok[i].p;

        if (j.tok[i].type != '{' || ngx_http_moa_json_find(&j, i, "id") >= 0)
        {
            ngx_http_moa_buf_add(out, p, j.tok[i].len);
            continue;
        }

        ngx_http_moa_buf_lit(out, "{\"id\":\"");
        ngx_http_moa_buf_cstr(out, ngx_http_moa_stored_prefix(&j, i));
        ngx_http_moa_buf_lit(out, "_");
        ngx_http_moa_buf_add(out, base, base_len);
        ngx_http_moa_buf_lit(out, "_");
        ngx_http_moa_buf_int(out, n);
        ngx_http_moa_buf_lit(out, "\"");

        /* after "{": its members, if any, or the "}" */

        last = p + j.tok[i].len;

        for (p++; p < last && (*p == ' ' || *p == '\t' || *p == '\r'
                               || *p == '\n'); p++)
        {
            /* void */
        }

        if (*p != '}') {
            ngx_http_moa_buf_lit(out, ",");
        }

        ngx_http_moa_buf_add(out, p, last - p);
    }

    ngx_http_moa_buf_lit(out, "]");

    ngx_http_moa_json_free(&j);

    return out->nomem ? -1 : 0;
}


/* the prefix of an item's id, as OpenAI's are: by the item's type */
static const char *
ngx_http_moa_stored_prefix(const ngx_http_moa_json_t *j, int item)
{
    size_t                i;
    ngx_http_moa_span_t   t;

    static const char    *types[][2] = {
        { "\"message\"", "msg" },
        { "\"function_call\"", "fc" },
        { "\"function_call_output\"", "fco" },
        { "\"reasoning\"", "rs" },
        { "\"item_reference\"", "ref" }
    };

    if (ngx_http_moa_json_tok_get(j, item, "type", &t) < 0) {
        /* an EasyInputMessage: {"role": ..., "content": ...} */
        return "msg";
    }

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (t.len == strlen(types[i][0])
            && memcmp(t.p, types[i][0], t.len) == 0)
        {
            return types[i][1];
        }
    }

    return "item";
}


/* 0, or -1 for a record that is not one (another version, or cut) */
int
ngx_http_moa_stored_decode(ngx_http_moa_stored_t *rec, const char *p,
    size_t len)
{
    long long    n[4];
    const char  *end;
    size_t       i;

    end = p + len;

    if (len < sizeof(NGX_HTTP_MOA_STORED_MAGIC) - 1
        || memcmp(p, NGX_HTTP_MOA_STORED_MAGIC,
                  sizeof(NGX_HTTP_MOA_STORED_MAGIC) - 1) != 0)
    {
        return -1;
    }

    p += sizeof(NGX_HTTP_MOA_STORED_MAGIC) - 1;

    for (i = 0; i < 4; i++) {
        if (ngx_http_moa_stored_number(&p, end, &n[i]) != 0
            || p == end || *p++ != (i == 3 ? '\n' : ' '))
        {
            return -1;
        }
    }

    /* each length at most what is left, so that the sum cannot wrap */

    for (i = 1; i < 4; i++) {
        if (n[i] > end - p) {
            return -1;
        }
    }

    if (n[1] + n[2] + n[3] != end - p) {
        return -1;
    }

    rec->expires = n[0];
    rec->owner.p = p;
    rec->owner.len = (size_t) n[1];
    rec->input.p = p + n[1];
    rec->input.len = (size_t) n[2];
    rec->response.p = p + n[1] + n[2];
    rec->response.len = (size_t) n[3];

    return 0;
}


static int
ngx_http_moa_stored_number(const char **pp, const char *end, long long *v)
{
    const char  *p;
    long long    n;

    p = *pp;
    n = 0;

    if (p == end || *p < '0' || *p > '9') {
        return -1;
    }

    for ( /* void */ ; p < end && *p >= '0' && *p <= '9'; p++) {
        if (n > (0x7fffffffffffffffLL - 9) / 10) {
            return -1;
        }

        n = n * 10 + (*p - '0');
    }

    *pp = p;
    *v = n;

    return 0;
}


/* 1 when the record is the owner's and not expired at now */
int
ngx_http_moa_stored_owned(const ngx_http_moa_stored_t *rec,
    const char *owner, size_t owner_len, long long now)
{
    size_t  i;
    int     diff;

    if (rec->expires && rec->expires <= now) {
        return 0;
    }

    if (rec->owner.len != owner_len) {
        return 0;
    }

    /* every byte compared: how much matched is not told by the time */

    diff = 0;

    for (i = 0; i < owner_len; i++) {
        diff |= rec->owner.p[i] ^ owner[i];
    }

    return diff == 0;
}


/* the elements of an array's text, without its brackets (len 0: none) */
static int
ngx_http_moa_stored_inner(const char *p, size_t len,
    ngx_http_moa_span_t *inner)
{
    const char  *end;

    end = p + len;

    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
        p++;
    }

    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'
                       || end[-1] == '\n'))
    {
        end--;
    }

    if (end - p < 2 || *p != '[' || end[-1] != ']') {
        return -1;
    }

    p++;
    end--;

    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
        p++;
    }

    inner->p = p;
    inner->len = end - p;

    return 0;
}


/*
 * Two JSON arrays' texts as one array (a's elements, then b's), from
 * their bytes; either may be empty text, taken as [].  0, or -1 when one
 * is not an array's text or without memory.
 */
int
ngx_http_moa_stored_join(ngx_http_moa_buf_t *out, const char *a,
    size_t alen, const char *b, size_t blen)
{
    ngx_http_moa_span_t  ia, ib;

    ia.len = 0;
    ib.len = 0;

    if ((alen && ngx_http_moa_stored_inner(a, alen, &ia) != 0)
        || (blen && ngx_http_moa_stored_inner(b, blen, &ib) != 0))
    {
        return -1;
    }

    ngx_http_moa_buf_lit(out, "[");
    ngx_http_moa_buf_add(out, ia.p, ia.len);

    if (ia.len && ib.len) {
        ngx_http_moa_buf_lit(out, ",");
    }

    ngx_http_moa_buf_add(out, ib.p, ib.len);
    ngx_http_moa_buf_lit(out, "]");

    return out->nomem ? -1 : 0;
}


/*
 * What a continuation starts from: the stored response's input items,
 * then its output items, as one JSON array.  Its instructions are not
 * among them: OpenAI does not carry them over.
 */
int
ngx_http_moa_stored_prior(ngx_http_moa_buf_t *out,
    const ngx_http_moa_stored_t *rec)
{
    int                   rc, i;
    ngx_http_moa_span_t   output;
    ngx_http_moa_json_t   j;

    memset(&j, 0, sizeof(ngx_http_moa_json_t));

    if (ngx_http_moa_json_parse(&j, rec->response.p, rec->response.len) != 0
        || j.n == 0 || j.tok[0].type != '{')
    {
        ngx_http_moa_json_free(&j);
        return -1;
    }

    i = ngx_http_moa_json_tok_get(&j, 0, "output", &output);

    if (i >= 0 && j.tok[i].type != '[') {
        output.len = 0;
    }

    rc = ngx_http_moa_stored_join(out, rec->input.p, rec->input.len,
                                  output.p, output.len);

    ngx_http_moa_json_free(&j);

    return rc;
}


/*
 * The item_reference items of a continuation's input ({"type":
 * "item_reference","id":"msg_..."}) replaced by the items of the previous
 * responses (prior: their input and output items) they name: the body
 * again, in out, with the referenced items' own bytes.  0: no reference
 * (out untouched), 1: out is the new body, -1: err set (a reference to no
 * item of the chain: 404, param input[N].id; or no memory).
 */
int
ngx_http_moa_stored_resolve(ngx_http_moa_buf_t *out, const char *body,
    size_t len, const char *prior, size_t prior_len,
    ngx_http_moa_error_t *err)
{
    int                   rc, arr, i, k, n, found;
    const char           *done;
    ngx_http_moa_span_t   id;
    ngx_http_moa_json_t   j, pj;

    memset(&j, 0, sizeof(ngx_http_moa_json_t));
    memset(&pj, 0, sizeof(ngx_http_moa_json_t));

    rc = 0;

    if (ngx_http_moa_json_parse(&j, body, len) != 0 || j.n == 0
        || j.tok[0].type != '{')
    {
        goto done;
    }

    arr = ngx_http_moa_json_find(&j, 0, "input");

    if (arr < 0 || j.tok[arr].type != '[') {
        goto done;
    }

    n = 0;

    for (i = ngx_http_moa_json_first(&j, arr); i >= 0;
         i = ngx_http_moa_json_after(&j, arr, i))
    {
        n += ngx_http_moa_stored_reference(&j, i, &id);
    }

    if (n == 0) {
        goto done;
    }

    if (ngx_http_moa_json_parse(&pj, prior, prior_len) != 0 || pj.n == 0
        || pj.tok[0].type != '[')
    {
        pj.n = 0;
    }

    /* the body up to each reference, the item it names instead */

    done = body;
    k = 0;

    for (i = ngx_http_moa_json_first(&j, arr); i >= 0;
         i = ngx_http_moa_json_after(&j, arr, i), k++)
    {
        if (!ngx_http_moa_stored_reference(&j, i, &id)) {
            continue;
        }

        found = pj.n ? ngx_http_moa_stored_find(&pj, &id) : -1;

        if (found < 0) {
            ngx_http_moa_error_set(err, 404, "invalid_request_error",
                                   "item_not_found", NULL,
                                   "Item with id '%.*s' not found: an "
                                   "item_reference names an item of the "
                                   "previous responses (previous_response_id)"
                                   ".", (int) (id.len > 64 ? 64 : id.len),
                                   id.p);
            snprintf(err->buf[2], sizeof(err->buf[2]), "input[%d].id", k);
            err->param = err->buf[2];
            rc = -1;
            goto done;
        }

        ngx_http_moa_buf_add(out, done, j.tok[i].p - done);
        ngx_http_moa_buf_add(out, pj.tok[found].p, pj.tok[found].len);
        done = j.tok[i].p + j.tok[i].len;
    }

    ngx_http_moa_buf_add(out, done, body + len - done);

    if (out->nomem) {
        ngx_http_moa_error_set(err, 500, "server_error", NULL, NULL,
                               "out of memory");
        rc = -1;
        goto done;
    }

    rc = 1;

done:

    ngx_http_moa_json_free(&j);
    ngx_http_moa_json_free(&pj);

    return rc;
}


/* 1 for {"type":"item_reference","id":"..."}, its id's text in *id */
static int
ngx_http_moa_stored_reference(const ngx_http_moa_json_t *j, int item,
    ngx_http_moa_span_t *id)
{
    int                   i;
    ngx_http_moa_span_t   t;

    if (j->tok[item].type != '{'
        || ngx_http_moa_json_tok_get(j, item, "type", &t) < 0
        || t.len != sizeof("\"item_reference\"") - 1
        || memcmp(t.p, "\"item_reference\"", t.len) != 0)
    {
        return 0;
    }

    i = ngx_http_moa_json_find(j, item, "id");

    if (i < 0 || j->tok[i].type != '"' || j->tok[i].escaped) {
        return 0;
    }

    id->p = j->tok[i].p + 1;
    id->len = j->tok[i].len - 2;

    return 1;
}


/* the token of the prior item with that id (the last of the chain), or -1 */
static int
ngx_http_moa_stored_find(const ngx_http_moa_json_t *pj,
    ngx_http_moa_span_t *id)
{
    int  i, k, found;

    found = -1;

    for (i = ngx_http_moa_json_first(pj, 0); i >= 0;
         i = ngx_http_moa_json_after(pj, 0, i))
    {
        if (pj->tok[i].type != '{') {
            continue;
        }

        k = ngx_http_moa_json_find(pj, i, "id");

        if (k >= 0 && pj->tok[k].type == '"'
            && pj->tok[k].len == id->len + 2
            && memcmp(pj->tok[k].p + 1, id->p, id->len) == 0)
        {
            found = i;
        }
    }

    return found;
}


/* DELETE's answer, as OpenAI's */
void
ngx_http_moa_stored_deleted(ngx_http_moa_buf_t *out, const char *id,
    size_t len)
{
    ngx_http_moa_buf_lit(out, "{\"id\":");
    ngx_http_moa_buf_json_str(out, id, len);
    ngx_http_moa_buf_lit(out, ",\"object\":\"response\",\"deleted\":true}");
}
