
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: a streamed chat completion translated into the Responses
 * API's typed events (event: + data: with sequence_number), a state
 * machine fed with each chat chunk: response.created, in_progress, the
 * output items and their parts, the text and arguments deltas, then
 * response.completed / incomplete / failed with the whole response.
 */


#ifndef _NGX_HTTP_MOA_RESPONSES_EVENTS_H_INCLUDED_
#define _NGX_HTTP_MOA_RESPONSES_EVENTS_H_INCLUDED_


#include <cjson/cJSON.h>

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_error.h"
#include "ngx_http_moa_reply.h"
#include "ngx_http_moa_responses_object.h"


/* one function call being streamed, by its chat index */
typedef struct {
    long long                    index;      /* in the chat chunks */
    int                          output;     /* its output_index */
    char                         id[NGX_HTTP_MOA_RESPONSES_ID_LEN];
    ngx_http_moa_buf_t           call_id;    /* escaped text */
    ngx_http_moa_buf_t           name;
    ngx_http_moa_buf_t           args;
} ngx_http_moa_responses_call_t;


typedef struct {
    const ngx_http_moa_responses_object_t  *obj;
    long long                    seq;        /* the next sequence_number */
    int                          nitems;     /* output items so far */

    /* the message being streamed: an output_text and a refusal part */
    char                         msg_id[NGX_HTTP_MOA_RESPONSES_ID_LEN];
    int                          msg_output;
    ngx_http_moa_buf_t           text;       /* escaped text so far */
    ngx_http_moa_buf_t           refusal;    /* escaped refusal so far */

    ngx_http_moa_responses_call_t  *calls;
    size_t                       ncalls;
    int                          open_call;  /* of calls, or -1 */

    ngx_http_moa_buf_t           items;      /* done items, for the end */
    ngx_http_moa_buf_t           object;     /* the last response written */
    ngx_http_moa_json_t          json;       /* a chunk's tokens */
    const char                  *reason;     /* incomplete: why */

    unsigned                     msg_open:1;
    unsigned                     part_open:1;    /* the last part */
    unsigned                     part_refusal:1; /* it is the refusal */
    unsigned                     has_text:1;     /* the message's parts */
    unsigned                     has_refusal:1;
    unsigned                     refusal_first:1;
    unsigned                     started:1;  /* response.created went */
    unsigned                     ended:1;    /* the last event went */
} ngx_http_moa_responses_events_t;


void ngx_http_moa_responses_events_init(ngx_http_moa_responses_events_t *ev,
    const ngx_http_moa_responses_object_t *obj);
/* response.created and response.in_progress */
void ngx_http_moa_responses_events_start(ngx_http_moa_responses_events_t *ev,
    ngx_http_moa_buf_t *out);
/* one chat chunk's JSON: 0, 1 when it is not a chunk, -1 without memory */
int ngx_http_moa_responses_events_chunk(ngx_http_moa_responses_events_t *ev,
    const char *data, size_t len, ngx_http_moa_buf_t *out);
/* a whole chat choice, as the deltas of a stream */
int ngx_http_moa_responses_events_choice(ngx_http_moa_responses_events_t *ev,
    const ngx_http_moa_choice_t *choice, ngx_http_moa_buf_t *out);
/* the items closed, then completed or incomplete with the usage */
int ngx_http_moa_responses_events_end(ngx_http_moa_responses_events_t *ev,
    const cJSON *usage, ngx_http_moa_buf_t *out);
/* an error event, then response.failed */
int ngx_http_moa_responses_events_fail(ngx_http_moa_responses_events_t *ev,
    const ngx_http_moa_error_t *err, const cJSON *usage,
    ngx_http_moa_buf_t *out);
void ngx_http_moa_responses_events_free(ngx_http_moa_responses_events_t *ev);


#endif /* _NGX_HTTP_MOA_RESPONSES_EVENTS_H_INCLUDED_ */
