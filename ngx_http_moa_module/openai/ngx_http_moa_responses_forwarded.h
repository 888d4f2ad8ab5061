
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: what the module reads of a reply forwarded as is from a
 * provider that speaks Responses (moa_responses_pass): the response
 * object's usage in Chat Completions names, and its output items as one
 * chat assistant message, for the usage sums and the capture record.
 */


#ifndef _NGX_HTTP_MOA_RESPONSES_FORWARDED_H_INCLUDED_
#define _NGX_HTTP_MOA_RESPONSES_FORWARDED_H_INCLUDED_


#include <stddef.h>

#include <cjson/cJSON.h>


/*
 * 1 when a streamed event's data may be the last one (its text names
 * response.completed, response.incomplete or response.failed): only
 * those are parsed
 */
int ngx_http_moa_responses_forwarded_final(const char *data, size_t len);

/*
 * p: a response object, or an event's data whose "response" is one.
 * *usage: {prompt_tokens, completion_tokens, total_tokens, and their
 * details} or NULL when it has none; *message: the assistant message of
 * its output items (content, refusal, tool_calls) or NULL when it has
 * none.  0, or -1 when p is no response (or without memory).
 */
int ngx_http_moa_responses_forwarded_read(const char *p, size_t len,
    cJSON **usage, cJSON **message);


#endif /* _NGX_HTTP_MOA_RESPONSES_FORWARDED_H_INCLUDED_ */
