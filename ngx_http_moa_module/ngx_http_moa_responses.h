
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * The Responses API front end of a location (moa_api responses): the
 * request translated into the Chat Completions body the stages send, the
 * answer and the stream translated back, byte-for-byte forwarding to
 * moa_responses_pass, what a response store keeps, and moa_not_found.
 */


#ifndef _NGX_HTTP_MOA_RESPONSES_H_INCLUDED_
#define _NGX_HTTP_MOA_RESPONSES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_moa_common.h"
#include "ngx_http_moa_responses_request.h"
#include "ngx_http_moa_responses_object.h"
#include "ngx_http_moa_responses_events.h"


struct ngx_http_moa_responses_s {
    ngx_http_moa_responses_request_t  req;     /* translated request */
    ngx_http_moa_responses_object_t   obj;     /* id, created_at, model */
    ngx_http_moa_responses_events_t   ev;      /* the stream's state */
    ngx_str_t                         client_body;  /* as the client sent */
    ngx_http_moa_buf_t                chunk;   /* scratch: a chat chunk */
    ngx_http_moa_buf_t                final;   /* a forwarded stream's
                                                  last event */
    ngx_str_t                         response;     /* the final object */
    uint64_t                          seed;
    unsigned                          forward:1;    /* moa_responses_pass */
};


/*
 * Validates and translates the client's body (ctx->body becomes the Chat
 * Completions body).  prior/prior_len: the JSON array of a previous
 * response's items (its input items, then its output items) that come
 * before the request's own input, or NULL.  NGX_OK, or NGX_ERROR with err.
 */
ngx_int_t ngx_http_moa_responses_parse(ngx_http_moa_ctx_t *ctx,
    const u_char *prior, size_t prior_len, ngx_http_moa_error_t *err);
/* once the model is known: refusals, forwarding, the response's id */
ngx_int_t ngx_http_moa_responses_route(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_error_t *err);
/* a passthrough call: to moa_responses_pass as is, or translated */
void ngx_http_moa_responses_passthrough(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_call_t *call);
ngx_uint_t ngx_http_moa_responses_translated(ngx_http_moa_ctx_t *ctx);
/* a forwarded stream's event: the last one (the whole response) kept */
int ngx_http_moa_responses_forwarded_event(ngx_http_moa_ctx_t *ctx,
    const char *event, size_t len);
/*
 * a forwarded reply read (call->reply, or the stream's last event): its
 * usage in chat names returned (the caller deletes it), its output as the
 * captured answer when capture is on
 */
cJSON *ngx_http_moa_responses_forwarded_answer(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_call_t *call);
/* a stream's response.created and response.in_progress, at once */
ngx_int_t ngx_http_moa_responses_start(ngx_http_moa_ctx_t *ctx);
/* one chat chunk of the streamed answer: NGX_HTTP_MOA_EVENT_* */
int ngx_http_moa_responses_event(ngx_http_moa_ctx_t *ctx, const char *event,
    size_t len);
/* the answer from a complete reply: the object, or a stream's events */
ngx_int_t ngx_http_moa_responses_reply(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_reply_t *rep, ngx_int_t choice, ngx_http_moa_buf_t *out);
/* a stream's last events: completed/incomplete, or error and failed */
ngx_int_t ngx_http_moa_responses_end(ngx_http_moa_ctx_t *ctx,
    ngx_http_moa_error_t *err, ngx_http_moa_buf_t *out);

/*
 * For a response store, once the request is answered: the request's
 * input items (a JSON array, ids given) and the final response object
 * (the bytes of the plain answer, or the response of response.completed
 * or response.incomplete).  NGX_OK, or NGX_DECLINED when there is no
 * complete response (an error, a forwarded request, not Responses).
 */
ngx_int_t ngx_http_moa_responses_record(ngx_http_moa_ctx_t *ctx,
    ngx_str_t *input, ngx_str_t *response);

/* moa_not_found: OpenAI's JSON 404 for a path no location serves */
ngx_int_t ngx_http_moa_responses_not_found(ngx_http_request_t *r);


#endif /* _NGX_HTTP_MOA_RESPONSES_H_INCLUDED_ */
