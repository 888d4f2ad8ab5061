
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the final chat.completion answered to the client.
 */


#ifndef _NGX_HTTP_MOA_RESPONSE_H_INCLUDED_
#define _NGX_HTTP_MOA_RESPONSE_H_INCLUDED_


#include <cjson/cJSON.h>

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_reply.h"


int ngx_http_moa_response_build(ngx_http_moa_buf_t *out,
    ngx_http_moa_reply_t *rep, int choice, const char *model,
    const cJSON *usage);

/* the reply is answered with its own bytes, model and usage replaced */
int ngx_http_moa_response_plain(const ngx_http_moa_reply_t *rep);


#endif /* _NGX_HTTP_MOA_RESPONSE_H_INCLUDED_ */
