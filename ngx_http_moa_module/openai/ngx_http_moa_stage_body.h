
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the bodies of the stage calls (proposal, critique,
 * synthesis), as parts referring to the client's own bytes.
 */


#ifndef _NGX_HTTP_MOA_STAGE_BODY_H_INCLUDED_
#define _NGX_HTTP_MOA_STAGE_BODY_H_INCLUDED_


#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_body.h"
#include "ngx_http_moa_reply.h"
#include "ngx_http_moa_request.h"


/* what a stage call sends besides the conversation */
typedef struct {
    const char                  *model;      /* base model of the call */
    size_t                       model_len;
    const char                  *temperature;   /* JSON number or NULL */
    size_t                       temperature_len;
    long long                    max_tokens;     /* 0: none */
    int                          n;              /* proposals: > 1 asks n */
    int                          index;          /* proposals: seed offset */
} ngx_http_moa_stage_body_params_t;


/*
 * The bodies of the stage calls (ngx_http_moa_body_done() is called).  For
 * critique and synthesis, tpl is the prompt template escaped for a JSON
 * string, cands the candidates as ngx_http_moa_prompt_candidates()
 * renders them, critique NULL when there is none; the body refers to all
 * of them, and to the request's text: they must outlive it.
 */
int ngx_http_moa_stage_body_proposal(ngx_http_moa_body_t *b,
    const ngx_http_moa_request_t *req,
    const ngx_http_moa_stage_body_params_t *cp);
int ngx_http_moa_stage_body_critique(ngx_http_moa_body_t *b,
    const ngx_http_moa_request_t *req,
    const ngx_http_moa_stage_body_params_t *cp, const char *tpl,
    size_t tpl_len, const ngx_http_moa_buf_t *cands, int ncands);
int ngx_http_moa_stage_body_synthesis(ngx_http_moa_body_t *b,
    const ngx_http_moa_request_t *req,
    const ngx_http_moa_stage_body_params_t *cp, const char *tpl,
    size_t tpl_len, const ngx_http_moa_buf_t *cands, int ncands,
    const ngx_http_moa_choice_t *critique);


#endif /* _NGX_HTTP_MOA_STAGE_BODY_H_INCLUDED_ */
