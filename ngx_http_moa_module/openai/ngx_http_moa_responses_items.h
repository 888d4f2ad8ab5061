
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the items of a Responses request's input (messages and their
 * parts, function calls and their outputs, reasoning, references), each
 * checked and written as Chat Completions messages, and kept normalized
 * (with the ids OpenAI gives) for a response store.
 */


#ifndef _NGX_HTTP_MOA_RESPONSES_ITEMS_H_INCLUDED_
#define _NGX_HTTP_MOA_RESPONSES_ITEMS_H_INCLUDED_


#include <stdint.h>

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_error.h"


/* "resp_" and the like, 48 hex digits, NUL */
#define NGX_HTTP_MOA_RESPONSES_ID_LEN  64

#define NGX_HTTP_MOA_RESPONSES_UNSUPPORTED        96
#define NGX_HTTP_MOA_RESPONSES_UNSUPPORTED_PARAM  64


typedef struct {
    ngx_http_moa_buf_t          *chat;       /* messages, comma-separated */
    ngx_http_moa_buf_t          *input;      /* normalized items, or NULL */
    uint64_t                    *seed;       /* of the ids */
    ngx_http_moa_span_t         *calls;      /* call ids seen (raw) */
    size_t                       ncalls;
    size_t                       calls_size;
    int                          open;       /* an assistant turn open: 1,
                                                2 with its tool_calls */
    int                          nmessages;
    int                          prior;      /* items of a previous
                                                response: errors name it */
    char                        *unsupported;       /* what a Chat
                                                       Completions provider
                                                       cannot do, or "" */
    char                        *unsupported_param;
} ngx_http_moa_responses_items_t;


/* input as a string: one user message */
int ngx_http_moa_responses_items_text(ngx_http_moa_responses_items_t *it,
    const ngx_http_moa_span_t *text);
/* input as array token arr of j, named base ("input") in errors */
int ngx_http_moa_responses_items_add(ngx_http_moa_responses_items_t *it,
    const ngx_http_moa_json_t *j, int arr, const char *base,
    ngx_http_moa_error_t *err);
/* ends an assistant turn left open for the tool calls that may follow */
void ngx_http_moa_responses_items_close(ngx_http_moa_responses_items_t *it);
void ngx_http_moa_responses_items_free(ngx_http_moa_responses_items_t *it);

/* records the first thing translation cannot carry (it, param, what) */
void ngx_http_moa_responses_items_unsupported(
    ngx_http_moa_responses_items_t *it, const char *param, const char *fmt,
    ...) NGX_HTTP_MOA_PRINTF(3, 4);

/* prefix and 48 hex digits (NGX_HTTP_MOA_RESPONSES_ID_LEN) */
void ngx_http_moa_responses_items_id(uint64_t *seed, const char *prefix,
    char *id);


#endif /* _NGX_HTTP_MOA_RESPONSES_ITEMS_H_INCLUDED_ */
