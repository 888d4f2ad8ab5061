
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code (no nginx types): the OpenAI Chat Completions side of the
 * module.  This header only gathers the headers of its files, one concern
 * each, for the glue; pure code includes the ones it needs.
 */


#ifndef _NGX_HTTP_MOA_OPENAI_H_INCLUDED_
#define _NGX_HTTP_MOA_OPENAI_H_INCLUDED_


#include "ngx_http_moa_error.h"
#include "ngx_http_moa_request.h"
#include "ngx_http_moa_body.h"
#include "ngx_http_moa_reply.h"
#include "ngx_http_moa_usage.h"
#include "ngx_http_moa_prompt.h"
#include "ngx_http_moa_stage_body.h"
#include "ngx_http_moa_response.h"
#include "ngx_http_moa_stream.h"
#include "ngx_http_moa_collect.h"
#include "ngx_http_moa_capture.h"


#endif /* _NGX_HTTP_MOA_OPENAI_H_INCLUDED_ */
