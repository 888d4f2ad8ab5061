
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the instruction texts of the critique and synthesis calls.
 * A template is plain text with placeholders:
 *     {{candidates}}  the candidates, numbered and delimited
 *     {{critiques}}   the critiques, delimited (empty without critiques)
 *     {{count}}       the number of candidates
 */


#ifndef _NGX_HTTP_MOA_PROMPT_H_INCLUDED_
#define _NGX_HTTP_MOA_PROMPT_H_INCLUDED_


#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_body.h"
#include "ngx_http_moa_reply.h"


/* a successful candidate: a choice of a proposal reply */
typedef struct {
    const ngx_http_moa_choice_t *choice;
} ngx_http_moa_prompt_candidate_t;


extern const char  ngx_http_moa_prompt_critique[];
extern const char  ngx_http_moa_prompt_synthesis[];
extern const char  ngx_http_moa_prompt_layer[];
extern const char  ngx_http_moa_prompt_select[];


/* NULL if the template is usable, else what is wrong with it */
const char *ngx_http_moa_prompt_check(const char *tpl, size_t len);

/* the candidates, numbered and delimited, escaped for a JSON string */
int ngx_http_moa_prompt_candidates(ngx_http_moa_buf_t *out,
    const ngx_http_moa_prompt_candidate_t *cands, int ncands);

/*
 * The instruction as parts of a body, escaped for a JSON string: tpl is the
 * template escaped for a JSON string; cands is the output of
 * ngx_http_moa_prompt_candidates() (rendered once for both prompts);
 * critique may be NULL.
 */
void ngx_http_moa_prompt_parts(ngx_http_moa_body_t *b, const char *tpl,
    size_t len, const ngx_http_moa_buf_t *cands, int ncands,
    const ngx_http_moa_choice_t *critique);

/*
 * The text of a choice for a prompt, escaped for a JSON string; tag
 * ("</candidate") is neutralised so that the text cannot close the block
 * it is put in.
 */
void ngx_http_moa_prompt_choice_text(ngx_http_moa_buf_t *out,
    const ngx_http_moa_choice_t *c, const char *tag);


#endif /* _NGX_HTTP_MOA_PROMPT_H_INCLUDED_ */
