
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: a Responses API request (POST /v1/responses), validated with
 * the strictness of the Chat Completions contract and translated into a
 * Chat Completions body, the one the stages (or a passthrough) send; the
 * request's input items normalized as a response store keeps them; the
 * parameters a response object echoes.
 */


#ifndef _NGX_HTTP_MOA_RESPONSES_REQUEST_H_INCLUDED_
#define _NGX_HTTP_MOA_RESPONSES_REQUEST_H_INCLUDED_


#include <stdint.h>

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_error.h"
#include "ngx_http_moa_responses_items.h"


typedef struct {
    const char                  *body;       /* the raw body, not owned */
    size_t                       len;
    ngx_http_moa_json_t          json;       /* its tokens */

    ngx_http_moa_buf_t           chat;       /* the Chat Completions body */
    ngx_http_moa_buf_t           input;      /* input items: a JSON array */
    ngx_http_moa_buf_t           echo;       /* members a response echoes:
                                                "instructions":..,"tools":..
                                                (no braces) */

    ngx_http_moa_span_t          model;      /* raw JSON string */
    ngx_http_moa_span_t          previous_response_id;  /* raw, or len 0 */

    /*
     * What a Chat Completions provider cannot do (a built-in tool,
     * background, an image by file id, an item of the store...): refused
     * on a MoA model and on a translated passthrough, forwarded as is to
     * a Responses provider.  unsupported[0] == '\0': nothing.
     */
    char                         unsupported[96];
    char                         unsupported_param[64];

    uint64_t                     seed;       /* of the ids, set by the caller */
    unsigned                     stream:1;
    unsigned                     store:1;
} ngx_http_moa_responses_request_t;


/*
 * Validates body[0..len) and translates it.  prior (may be NULL) is the
 * JSON array text of the items a previous response leaves (its input
 * items, then its output items): they come before the request's own
 * input.  unknown is NGX_HTTP_MOA_PARAMS_*: an unknown parameter is a 400
 * with NGX_HTTP_MOA_PARAMS_REJECT, else ignored.  0, or -1 with err set
 * (a 400 naming the parameter as OpenAI does, or a 500 without memory).
 */
int ngx_http_moa_responses_request_parse(
    ngx_http_moa_responses_request_t *req, const char *body, size_t len,
    const char *prior, size_t prior_len, int unknown,
    ngx_http_moa_error_t *err);

/* what translation cannot carry, as a 400 naming it: 0, or -1 */
int ngx_http_moa_responses_request_check(
    ngx_http_moa_responses_request_t *req, const char *model, int moa,
    ngx_http_moa_error_t *err);

void ngx_http_moa_responses_request_free(
    ngx_http_moa_responses_request_t *req);


#endif /* _NGX_HTTP_MOA_RESPONSES_REQUEST_H_INCLUDED_ */
