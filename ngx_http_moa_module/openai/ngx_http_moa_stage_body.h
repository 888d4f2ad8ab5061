
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
    int                          reasoning;      /* a reasoning model: no
                                                    temperature at all, the
                                                    limit as
                                                    max_completion_tokens */
} ngx_http_moa_stage_body_params_t;


/* the judge's reply format in moa_aggregate select */
#define NGX_HTTP_MOA_SELECT_FORMAT_NONE         0
#define NGX_HTTP_MOA_SELECT_FORMAT_JSON_OBJECT  1
#define NGX_HTTP_MOA_SELECT_FORMAT_JSON_SCHEMA  2


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

/*
 * A proposal of layers 2..n: the proposal's body with the layer prompt
 * (tpl, escaped, its {{candidates}} the previous layer's) as a system
 * message before the conversation.
 */
int ngx_http_moa_stage_body_layer(ngx_http_moa_body_t *b,
    const ngx_http_moa_request_t *req,
    const ngx_http_moa_stage_body_params_t *cp, const char *tpl,
    size_t tpl_len, const ngx_http_moa_buf_t *cands, int ncands);

/*
 * The judge of moa_aggregate select: the critique's body with the select
 * prompt, and its reply asked as {"best": k} in format
 * (NGX_HTTP_MOA_SELECT_FORMAT_*).
 */
int ngx_http_moa_stage_body_select(ngx_http_moa_body_t *b,
    const ngx_http_moa_request_t *req,
    const ngx_http_moa_stage_body_params_t *cp, const char *tpl,
    size_t tpl_len, const ngx_http_moa_buf_t *cands, int ncands, int format);


#endif /* _NGX_HTTP_MOA_STAGE_BODY_H_INCLUDED_ */
