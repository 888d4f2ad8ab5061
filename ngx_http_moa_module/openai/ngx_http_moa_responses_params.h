
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the top-level parameters of a Responses request (their
 * tokens found by ngx_http_moa_responses_request.c), written into the
 * Chat Completions body and into a response's echo.
 */


#ifndef _NGX_HTTP_MOA_RESPONSES_PARAMS_H_INCLUDED_
#define _NGX_HTTP_MOA_RESPONSES_PARAMS_H_INCLUDED_


#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_json.h"


/*
 * The members of a request, by name: at[R_X] is the token of its value
 * (short names: this header is private to the request's two files).
 */
enum {
    R_MODEL = 0, R_INPUT, R_INSTRUCTIONS, R_TOOLS, R_TOOL_CHOICE,
    R_PARALLEL, R_TEXT, R_MAX_OUTPUT, R_TEMPERATURE, R_TOP_P, R_REASONING,
    R_METADATA, R_USER, R_SAFETY, R_CACHE_KEY, R_CACHE_RETENTION,
    R_SERVICE_TIER, R_STREAM, R_STREAM_OPTIONS, R_STORE, R_PREVIOUS,
    R_INCLUDE, R_TRUNCATION, R_BACKGROUND, R_MAX_TOOL_CALLS, R_TOP_LOGPROBS,
    R_CONVERSATION, R_PROMPT, R_NKEYS
};


/* the chat body's parameters, after its messages (and its closing brace) */
void ngx_http_moa_responses_params_chat(ngx_http_moa_buf_t *b,
    const ngx_http_moa_json_t *j, const int *at, int stream);
/* the echo: "name":value,... as a response object carries them */
void ngx_http_moa_responses_params_echo(ngx_http_moa_buf_t *b,
    const ngx_http_moa_json_t *j, const int *at);


#endif /* _NGX_HTTP_MOA_RESPONSES_PARAMS_H_INCLUDED_ */
