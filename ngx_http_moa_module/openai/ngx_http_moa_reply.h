
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: a provider's reply, parsed without copying (tokens, and each
 * choice's parts as spans of its text), whether a choice is usable, and
 * the cJSON helpers the rarer tree paths share.
 */


#ifndef _NGX_HTTP_MOA_REPLY_H_INCLUDED_
#define _NGX_HTTP_MOA_REPLY_H_INCLUDED_


#include <cjson/cJSON.h>

#include "ngx_http_moa_json.h"
#include "ngx_http_moa_error.h"


/* the parts of a reply's choice the chain reads, as raw JSON text */
typedef struct {
    ngx_http_moa_span_t          span;       /* the choice object */
    ngx_http_moa_span_t          message;
    ngx_http_moa_span_t          content;    /* len 0 when absent */
    ngx_http_moa_span_t          tool_calls;
    ngx_http_moa_span_t          refusal;
    ngx_http_moa_span_t          finish_reason;
    unsigned                     plain:1;    /* as clients expect it */
    unsigned                     content_clear:1;  /* a string with no */
    unsigned                     refusal_clear:1;  /* \u or \/ escape */
    unsigned                     content_known:1;  /* the tokenizer's */
    unsigned                     refusal_known:1;  /* facts: _clear, _lt */
    unsigned                     content_lt:1;     /* a string with a */
    unsigned                     refusal_lt:1;     /* \u003c escape */
} ngx_http_moa_choice_t;


typedef struct {
    const char                  *p;          /* the reply text, not owned */
    size_t                       len;
    ngx_http_moa_json_t          json;       /* its tokens */
    ngx_http_moa_choice_t       *choices;    /* &one, or allocated */
    int                          nchoices;
    int                          usage_at;   /* its token, or -1 */
    cJSON                       *root;       /* parsed on demand */
    ngx_http_moa_choice_t        one;        /* the usual single choice */
} ngx_http_moa_reply_t;


int ngx_http_moa_reply_parse(ngx_http_moa_reply_t *rep, const char *p,
    size_t len, ngx_http_moa_error_t *err);
cJSON *ngx_http_moa_reply_root(ngx_http_moa_reply_t *rep);
int ngx_http_moa_reply_tokens(ngx_http_moa_reply_t *rep);
void ngx_http_moa_reply_free(ngx_http_moa_reply_t *rep);

int ngx_http_moa_reply_choice_usable(const ngx_http_moa_choice_t *c);
cJSON *ngx_http_moa_reply_choice_message(const ngx_http_moa_choice_t *c);

/* on trees: a member set or replaced; later duplicates of names dropped */
int ngx_http_moa_reply_set(cJSON *obj, const char *name, cJSON *value);
void ngx_http_moa_reply_first_only(cJSON *obj, const char **names);


#endif /* _NGX_HTTP_MOA_REPLY_H_INCLUDED_ */
