
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the Responses API's stream from a chat stream.  Each chat
 * chunk's delta becomes events of the output item it belongs to: text ->
 * a message item (output_item.added, content_part.added, output_text.delta
 * ...), a refusal -> a refusal part of that message item (content_index 1
 * after a text, as OpenAI puts them), each tool call
 * (by its chat index) -> a function_call item and its arguments' deltas.
 * An item is closed (its .done events) when the next one starts or the
 * stream ends; the end is response.completed or response.incomplete with
 * the whole response, an error is an error event and response.failed.
 * Deltas are the provider's escaped text as it came: nothing is decoded.
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_buf_json.h"
#include "ngx_http_moa_json_text.h"
#include "ngx_http_moa_responses_events.h"
#include "ngx_http_moa_json_find.h"


static void ngx_http_moa_responses_events_begin(
    ngx_http_moa_responses_events_t *ev, ngx_http_moa_buf_t *out,
    const char *type);
static void ngx_http_moa_responses_events_response(
    ngx_http_moa_responses_events_t *ev, ngx_http_moa_buf_t *out,
    const char *type, const char *status, const ngx_http_moa_error_t *err,
    const cJSON *usage);
static void ngx_http_moa_responses_events_text(
    ngx_http_moa_responses_events_t *ev, const char *p, size_t len,
    int refusal, ngx_http_moa_buf_t *out);
static int ngx_http_moa_responses_events_call(
    ngx_http_moa_responses_events_t *ev, long long index,
    const ngx_http_moa_span_t *id, const ngx_http_moa_span_t *name,
    const ngx_http_moa_span_t *args, ngx_http_moa_buf_t *out);
static void ngx_http_moa_responses_events_part_done(
    ngx_http_moa_responses_events_t *ev, ngx_http_moa_buf_t *out);
static void ngx_http_moa_responses_events_close(
    ngx_http_moa_responses_events_t *ev, ngx_http_moa_buf_t *out);


#define ngx_http_moa_responses_events_end_event(out)                         \
    ngx_http_moa_buf_lit(out, "}\n\n")


void
ngx_http_moa_responses_events_init(ngx_http_moa_responses_events_t *ev,
    const ngx_http_moa_responses_object_t *obj)
{
    memset(ev, 0, sizeof(ngx_http_moa_responses_events_t));
    ev->obj = obj;
    ev->open_call = -1;
}


/* "event: type" and the data's first members; the caller adds the rest */
static void
ngx_http_moa_responses_events_begin(ngx_http_moa_responses_events_t *ev,
    ngx_http_moa_buf_t *out, const char *type)
{
    ngx_http_moa_buf_lit(out, "event: ");
    ngx_http_moa_buf_cstr(out, type);
    ngx_http_moa_buf_lit(out, "\ndata: {\"type\":\"");
    ngx_http_moa_buf_cstr(out, type);
    ngx_http_moa_buf_lit(out, "\",\"sequence_number\":");
    ngx_http_moa_buf_int(out, ev->seq++);
}


/* ,"item_id":"...","output_index":N */
static void
ngx_http_moa_responses_events_item(ngx_http_moa_buf_t *out, const char *id,
    int output)
{
    ngx_http_moa_buf_lit(out, ",\"item_id\":\"");
    ngx_http_moa_buf_cstr(out, id);
    ngx_http_moa_buf_lit(out, "\",\"output_index\":");
    ngx_http_moa_buf_int(out, output);
}


static void
ngx_http_moa_responses_events_response(ngx_http_moa_responses_events_t *ev,
    ngx_http_moa_buf_t *out, const char *type, const char *status,
    const ngx_http_moa_error_t *err, const cJSON *usage)
{
    /* the object is kept: the last one is the response a store keeps */

    ev->object.len = 0;
    ngx_http_moa_responses_object_write(&ev->object, ev->obj, status,
                                        ev->reason && !err ? ev->reason
                                                           : NULL,
                                        err, ev->items.data, ev->items.len,
                                        usage);

    ngx_http_moa_responses_events_begin(ev, out, type);
    ngx_http_moa_buf_lit(out, ",\"response\":");
    ngx_http_moa_buf_add(out, ev->object.data, ev->object.len);
    ngx_http_moa_responses_events_end_event(out);
}


void
ngx_http_moa_responses_events_start(ngx_http_moa_responses_events_t *ev,
    ngx_http_moa_buf_t *out)
{
    if (ev->started) {
        return;
    }

    ev->started = 1;

    ngx_http_moa_responses_events_response(ev, out, "response.created",
                                           "in_progress", NULL, NULL);
    ngx_http_moa_responses_events_response(ev, out, "response.in_progress",
                                           "in_progress", NULL, NULL);
}


int
ngx_http_moa_responses_events_chunk(ngx_http_moa_responses_events_t *ev,
    const char *data, size_t len, ngx_http_moa_buf_t *out)
{
    int                   c, d, v, tc, t, f;
    double                index;
    ngx_http_moa_json_t  *j;
    ngx_http_moa_span_t   id, name, args;

    j = &ev->json;

    /* nothing before response.created */
    ngx_http_moa_responses_events_start(ev, out);

    if (ngx_http_moa_json_parse(j, data, len) != 0 || j->n == 0
        || j->tok[0].type != '{')
    {
        return 1;
    }

    c = ngx_http_moa_json_find(j, 0, "choices");

    if (c < 0 || j->tok[c].type != '[') {
        return 0;
    }

    c = ngx_http_moa_json_first(j, c);

    if (c < 0 || j->tok[c].type != '{') {
        return 0;
    }

    d = ngx_http_moa_json_find(j, c, "delta");

    if (d >= 0 && j->tok[d].type == '{') {
        v = ngx_http_moa_json_find(j, d, "content");

        if (v >= 0 && j->tok[v].type == '"' && j->tok[v].len > 2) {
            ngx_http_moa_responses_events_text(ev, j->tok[v].p + 1,
                                               j->tok[v].len - 2, 0, out);
        }

        v = ngx_http_moa_json_find(j, d, "refusal");

        if (v >= 0 && j->tok[v].type == '"' && j->tok[v].len > 2) {
            ngx_http_moa_responses_events_text(ev, j->tok[v].p + 1,
                                               j->tok[v].len - 2, 1, out);
        }

        v = ngx_http_moa_json_find(j, d, "tool_calls");

        for (tc = (v >= 0 && j->tok[v].type == '[')
                  ? ngx_http_moa_json_first(j, v) : -1;
             tc >= 0;
             tc = ngx_http_moa_json_after(j, v, tc))
        {
            if (j->tok[tc].type != '{') {
                continue;
            }

            t = ngx_http_moa_json_find(j, tc, "index");
            index = 0;

            if (t >= 0 && j->tok[t].type == '0') {
                index = strtod(j->tok[t].p, NULL);
            }

            ngx_http_moa_json_tok_get(j, tc, "id", &id);
            f = ngx_http_moa_json_find(j, tc, "function");

            if (f >= 0 && j->tok[f].type == '{') {
                ngx_http_moa_json_tok_get(j, f, "name", &name);
                ngx_http_moa_json_tok_get(j, f, "arguments", &args);

            } else {
                name.len = 0;
                args.len = 0;
            }

            if (ngx_http_moa_responses_events_call(ev, (long long) index,
                                                   &id, &name, &args, out)
                != 0)
            {
                return -1;
            }
        }
    }

    v = ngx_http_moa_json_find(j, c, "finish_reason");

    if (v >= 0 && j->tok[v].type == '"') {
        ev->reason = ngx_http_moa_responses_object_reason(j->tok[v].p + 1,
                                                          j->tok[v].len - 2);
    }

    return out->nomem ? -1 : 0;
}


int
ngx_http_moa_responses_events_choice(ngx_http_moa_responses_events_t *ev,
    const ngx_http_moa_choice_t *choice, ngx_http_moa_buf_t *out)
{
    size_t               pos;
    long long            index;
    ngx_http_moa_span_t  v, call, fn, id, name, args;

    ngx_http_moa_responses_events_start(ev, out);

    ev->reason = ngx_http_moa_responses_object_reason_of(choice);

    v = choice->content;

    if (v.len > 2 && v.p[0] == '"') {
        ngx_http_moa_responses_events_text(ev, v.p + 1, v.len - 2, 0, out);

    } else if (v.len && v.p[0] == '[') {
        pos = 0;

        while (ngx_http_moa_json_text_next(v.p, v.len, &pos, &call)) {
            (void) ngx_http_moa_json_text_get(call.p, call.len, "text", &fn);

            if (fn.len > 2 && fn.p[0] == '"') {
                ngx_http_moa_responses_events_text(ev, fn.p + 1, fn.len - 2,
                                                   0, out);
            }
        }

    }

    if (choice->refusal.len > 2 && choice->refusal.p[0] == '"') {
        ngx_http_moa_responses_events_text(ev, choice->refusal.p + 1,
                                           choice->refusal.len - 2, 1, out);
    }

    v = choice->tool_calls;
    pos = 0;
    index = 0;

    while (v.len && v.p[0] == '['
           && ngx_http_moa_json_text_next(v.p, v.len, &pos, &call))
    {
        (void) ngx_http_moa_json_text_get(call.p, call.len, "id", &id);
        (void) ngx_http_moa_json_text_get(call.p, call.len, "function", &fn);
        (void) ngx_http_moa_json_text_get(fn.p, fn.len, "name", &name);
        (void) ngx_http_moa_json_text_get(fn.p, fn.len, "arguments", &args);

        if (ngx_http_moa_responses_events_call(ev, index++, &id, &name,
                                               &args, out)
            != 0)
        {
            return -1;
        }
    }

    return out->nomem ? -1 : 0;
}


/* a part's content_index: the first part is 0, the second 1 */
#define ngx_http_moa_responses_events_index(ev, refusal)                     \
    ((refusal) == (ev)->refusal_first ? 0 : 1)


/*
 * a text (or refusal) delta: its message item and its part opened first
 * if need be; a text and a refusal are two parts of one message, a third
 * part (text again after the refusal) starts a new message
 */
static void
ngx_http_moa_responses_events_text(ngx_http_moa_responses_events_t *ev,
    const char *p, size_t len, int refusal, ngx_http_moa_buf_t *out)
{
    if (ev->open_call >= 0) {
        ngx_http_moa_responses_events_close(ev, out);
    }

    if (ev->msg_open && !(ev->part_open && ev->part_refusal == refusal)) {
        if (refusal ? ev->has_refusal : ev->has_text) {
            ngx_http_moa_responses_events_close(ev, out);

        } else {
            ngx_http_moa_responses_events_part_done(ev, out);
        }
    }

    if (!ev->msg_open) {
        ev->msg_open = 1;
        ev->has_text = 0;
        ev->has_refusal = 0;
        ev->refusal_first = refusal;
        ev->msg_output = ev->nitems++;
        ev->text.len = 0;
        ev->refusal.len = 0;
        ngx_http_moa_responses_items_id(ev->obj->seed, "msg_", ev->msg_id);

        ngx_http_moa_responses_events_begin(ev, out,
                                            "response.output_item.added");
        ngx_http_moa_buf_lit(out, ",\"output_index\":");
        ngx_http_moa_buf_int(out, ev->msg_output);
        ngx_http_moa_buf_lit(out, ",\"item\":");
        ngx_http_moa_responses_object_message(out, ev->msg_id, "in_progress",
                                              NULL, 0, NULL, 0, 0);
        ngx_http_moa_responses_events_end_event(out);
    }

    if (!ev->part_open) {
        ev->part_open = 1;
        ev->part_refusal = refusal;

        if (refusal) {
            ev->has_refusal = 1;

        } else {
            ev->has_text = 1;
        }

        ngx_http_moa_responses_events_begin(ev, out,
                                            "response.content_part.added");
        ngx_http_moa_responses_events_item(out, ev->msg_id, ev->msg_output);
        ngx_http_moa_buf_lit(out, ",\"content_index\":");
        ngx_http_moa_buf_int(out,
                             ngx_http_moa_responses_events_index(ev, refusal));
        ngx_http_moa_buf_lit(out, ",\"part\":");
        ngx_http_moa_responses_object_part(out, "", 0, refusal);
        ngx_http_moa_responses_events_end_event(out);
    }

    ngx_http_moa_buf_add(refusal ? &ev->refusal : &ev->text, p, len);

    ngx_http_moa_responses_events_begin(ev, out, refusal
                                        ? "response.refusal.delta"
                                        : "response.output_text.delta");
    ngx_http_moa_responses_events_item(out, ev->msg_id, ev->msg_output);
    ngx_http_moa_buf_lit(out, ",\"content_index\":");
    ngx_http_moa_buf_int(out, ngx_http_moa_responses_events_index(ev, refusal));
    ngx_http_moa_buf_lit(out, ",\"delta\":\"");
    ngx_http_moa_buf_add(out, p, len);
    ngx_http_moa_buf_cstr(out, refusal ? "\"" : "\",\"logprobs\":[]");
    ngx_http_moa_responses_events_end_event(out);
}


/* a tool call's delta: its function_call item opened first if new */
static int
ngx_http_moa_responses_events_call(ngx_http_moa_responses_events_t *ev,
    long long index, const ngx_http_moa_span_t *id,
    const ngx_http_moa_span_t *name, const ngx_http_moa_span_t *args,
    ngx_http_moa_buf_t *out)
{
    size_t                          k;
    ngx_http_moa_responses_call_t  *call, *calls;

    for (k = 0; k < ev->ncalls; k++) {
        if (ev->calls[k].index == index) {
            break;
        }
    }

    if (k == ev->ncalls) {
        ngx_http_moa_responses_events_close(ev, out);

        calls = realloc(ev->calls, (ev->ncalls + 1)
                                   * sizeof(ngx_http_moa_responses_call_t));
        if (calls == NULL) {
            return -1;
        }

        ev->calls = calls;
        call = &calls[ev->ncalls++];
        memset(call, 0, sizeof(ngx_http_moa_responses_call_t));

        call->index = index;
        call->output = ev->nitems++;
        ngx_http_moa_responses_items_id(ev->obj->seed, "fc_", call->id);
        ev->open_call = (int) k;

        if (id->len >= 2 && id->p[0] == '"') {
            ngx_http_moa_buf_add(&call->call_id, id->p + 1, id->len - 2);

        } else {
            /* a provider that gives no id: one of ours */
            ngx_http_moa_buf_lit(&call->call_id, "call_");
            ngx_http_moa_buf_cstr(&call->call_id, call->id + 3);
        }

        if (name->len >= 2 && name->p[0] == '"') {
            ngx_http_moa_buf_add(&call->name, name->p + 1, name->len - 2);
        }

        ngx_http_moa_responses_events_begin(ev, out,
                                            "response.output_item.added");
        ngx_http_moa_buf_lit(out, ",\"output_index\":");
        ngx_http_moa_buf_int(out, call->output);
        ngx_http_moa_buf_lit(out, ",\"item\":");
        ngx_http_moa_responses_object_call(out, call->id, "in_progress",
                                           call->call_id.data,
                                           call->call_id.len,
                                           call->name.data, call->name.len,
                                           "", 0);
        ngx_http_moa_responses_events_end_event(out);

    } else if ((int) k != ev->open_call) {
        /* a late delta of a call already closed: not in OpenAI's order */
        return 0;
    }

    call = &ev->calls[k];

    if (args->len > 2 && args->p[0] == '"') {
        ngx_http_moa_buf_add(&call->args, args->p + 1, args->len - 2);

        ngx_http_moa_responses_events_begin(ev, out,
                                    "response.function_call_arguments.delta");
        ngx_http_moa_responses_events_item(out, call->id, call->output);
        ngx_http_moa_buf_lit(out, ",\"delta\":\"");
        ngx_http_moa_buf_add(out, args->p + 1, args->len - 2);
        ngx_http_moa_buf_lit(out, "\"");
        ngx_http_moa_responses_events_end_event(out);
    }

    return call->call_id.nomem || call->name.nomem || call->args.nomem
           ? -1 : 0;
}


/* the open part's .done events: output_text.done or refusal.done */
static void
ngx_http_moa_responses_events_part_done(ngx_http_moa_responses_events_t *ev,
    ngx_http_moa_buf_t *out)
{
    int                  refusal, index;
    ngx_http_moa_buf_t  *b;

    if (!ev->part_open) {
        return;
    }

    ev->part_open = 0;
    refusal = ev->part_refusal;
    index = ngx_http_moa_responses_events_index(ev, refusal);
    b = refusal ? &ev->refusal : &ev->text;

    ngx_http_moa_responses_events_begin(ev, out, refusal
                                        ? "response.refusal.done"
                                        : "response.output_text.done");
    ngx_http_moa_responses_events_item(out, ev->msg_id, ev->msg_output);
    ngx_http_moa_buf_lit(out, ",\"content_index\":");
    ngx_http_moa_buf_int(out, index);
    ngx_http_moa_buf_cstr(out, refusal ? ",\"refusal\":\"" : ",\"text\":\"");
    ngx_http_moa_buf_add(out, b->data, b->len);
    ngx_http_moa_buf_cstr(out, refusal ? "\"" : "\",\"logprobs\":[]");
    ngx_http_moa_responses_events_end_event(out);

    ngx_http_moa_responses_events_begin(ev, out,
                                        "response.content_part.done");
    ngx_http_moa_responses_events_item(out, ev->msg_id, ev->msg_output);
    ngx_http_moa_buf_lit(out, ",\"content_index\":");
    ngx_http_moa_buf_int(out, index);
    ngx_http_moa_buf_lit(out, ",\"part\":");
    ngx_http_moa_responses_object_part(out, b->data ? b->data : "", b->len,
                                       refusal);
    ngx_http_moa_responses_events_end_event(out);
}


/* the message item with the parts it has, in the order they came */
static void
ngx_http_moa_responses_events_message(ngx_http_moa_responses_events_t *ev,
    ngx_http_moa_buf_t *out, const char *status)
{
    ngx_http_moa_responses_object_message(out, ev->msg_id, status,
                         ev->has_text ? (ev->text.data ? ev->text.data : "")
                                      : NULL,
                         ev->text.len,
                         ev->has_refusal
                         ? (ev->refusal.data ? ev->refusal.data : "") : NULL,
                         ev->refusal.len, ev->refusal_first);
}


/* the open item's .done events; the item kept for the final response */
static void
ngx_http_moa_responses_events_close(ngx_http_moa_responses_events_t *ev,
    ngx_http_moa_buf_t *out)
{
    const char                     *status;
    ngx_http_moa_responses_call_t  *call;

    status = ev->reason ? "incomplete" : "completed";

    if (ev->items.len && (ev->msg_open || ev->open_call >= 0)) {
        ngx_http_moa_buf_lit(&ev->items, ",");
    }

    if (ev->msg_open) {
        ev->msg_open = 0;

        ngx_http_moa_responses_events_part_done(ev, out);

        ngx_http_moa_responses_events_begin(ev, out,
                                            "response.output_item.done");
        ngx_http_moa_buf_lit(out, ",\"output_index\":");
        ngx_http_moa_buf_int(out, ev->msg_output);
        ngx_http_moa_buf_lit(out, ",\"item\":");
        ngx_http_moa_responses_events_message(ev, out, status);
        ngx_http_moa_responses_events_end_event(out);

        ngx_http_moa_responses_events_message(ev, &ev->items, status);
        return;
    }

    if (ev->open_call < 0) {
        return;
    }

    call = &ev->calls[ev->open_call];
    ev->open_call = -1;

    ngx_http_moa_responses_events_begin(ev, out,
                                    "response.function_call_arguments.done");
    ngx_http_moa_responses_events_item(out, call->id, call->output);
    ngx_http_moa_buf_lit(out, ",\"name\":\"");
    ngx_http_moa_buf_add(out, call->name.data, call->name.len);
    ngx_http_moa_buf_lit(out, "\",\"arguments\":\"");
    ngx_http_moa_buf_add(out, call->args.data, call->args.len);
    ngx_http_moa_buf_lit(out, "\"");
    ngx_http_moa_responses_events_end_event(out);

    ngx_http_moa_responses_events_begin(ev, out, "response.output_item.done");
    ngx_http_moa_buf_lit(out, ",\"output_index\":");
    ngx_http_moa_buf_int(out, call->output);
    ngx_http_moa_buf_lit(out, ",\"item\":");
    ngx_http_moa_responses_object_call(out, call->id, status,
                                       call->call_id.data, call->call_id.len,
                                       call->name.data, call->name.len,
                                       call->args.data, call->args.len);
    ngx_http_moa_responses_events_end_event(out);

    ngx_http_moa_responses_object_call(&ev->items, call->id, status,
                                       call->call_id.data, call->call_id.len,
                                       call->name.data, call->name.len,
                                       call->args.data, call->args.len);
}


int
ngx_http_moa_responses_events_end(ngx_http_moa_responses_events_t *ev,
    const cJSON *usage, ngx_http_moa_buf_t *out)
{
    if (ev->ended) {
        return 0;
    }

    ngx_http_moa_responses_events_start(ev, out);
    ngx_http_moa_responses_events_close(ev, out);

    ev->ended = 1;

    if (ev->reason) {
        ngx_http_moa_responses_events_response(ev, out,
                                               "response.incomplete",
                                               "incomplete", NULL, usage);

    } else {
        ngx_http_moa_responses_events_response(ev, out,
                                               "response.completed",
                                               "completed", NULL, usage);
    }

    return out->nomem || ev->items.nomem ? -1 : 0;
}


int
ngx_http_moa_responses_events_fail(ngx_http_moa_responses_events_t *ev,
    const ngx_http_moa_error_t *err, const cJSON *usage,
    ngx_http_moa_buf_t *out)
{
    if (ev->ended) {
        return 0;
    }

    ngx_http_moa_responses_events_start(ev, out);

    /* what came is closed as incomplete */
    if (ev->reason == NULL) {
        ev->reason = "failed";
    }

    ngx_http_moa_responses_events_close(ev, out);

    ev->ended = 1;

    ngx_http_moa_responses_events_begin(ev, out, "error");
    ngx_http_moa_buf_lit(out, ",\"code\":");

    if (err->code) {
        ngx_http_moa_buf_json_str(out, err->code, strlen(err->code));

    } else {
        ngx_http_moa_buf_json_str(out, err->type, strlen(err->type));
    }

    ngx_http_moa_buf_lit(out, ",\"message\":");
    ngx_http_moa_buf_json_str(out, err->message, strlen(err->message));
    ngx_http_moa_buf_lit(out, ",\"param\":");

    if (err->param) {
        ngx_http_moa_buf_json_str(out, err->param, strlen(err->param));

    } else {
        ngx_http_moa_buf_lit(out, "null");
    }

    ngx_http_moa_responses_events_end_event(out);

    ngx_http_moa_responses_events_response(ev, out, "response.failed",
                                           "failed", err, usage);

    return out->nomem || ev->items.nomem ? -1 : 0;
}


void
ngx_http_moa_responses_events_free(ngx_http_moa_responses_events_t *ev)
{
    size_t  k;

    for (k = 0; k < ev->ncalls; k++) {
        ngx_http_moa_buf_free(&ev->calls[k].call_id);
        ngx_http_moa_buf_free(&ev->calls[k].name);
        ngx_http_moa_buf_free(&ev->calls[k].args);
    }

    free(ev->calls);
    ev->calls = NULL;
    ev->ncalls = 0;

    ngx_http_moa_buf_free(&ev->text);
    ngx_http_moa_buf_free(&ev->refusal);
    ngx_http_moa_buf_free(&ev->items);
    ngx_http_moa_buf_free(&ev->object);
    ngx_http_moa_json_free(&ev->json);
}
