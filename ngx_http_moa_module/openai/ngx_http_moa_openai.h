
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code (no nginx types): the OpenAI Chat Completions side of the module.
 * Parses and validates client requests, builds the body of every stage,
 * parses provider replies, sums usage, builds the final response, and
 * rewrites a streamed synthesis event by event.
 */


#ifndef _NGX_HTTP_MOA_OPENAI_H_INCLUDED_
#define _NGX_HTTP_MOA_OPENAI_H_INCLUDED_


#include <cjson/cJSON.h>

#include "ngx_http_moa_json.h"


typedef struct {
    int                          status;     /* HTTP status */
    const char                  *type;       /* e.g. invalid_request_error */
    const char                  *code;       /* or NULL */
    const char                  *param;      /* or NULL */
    char                         message[256];
    char                         buf[3][64];  /* type, code, param copied
                                                 from a provider's error */
} ngx_http_moa_error_t;


typedef struct {
    const char                  *body;       /* the raw body, not owned */
    size_t                       len;
    ngx_http_moa_json_t          json;       /* its tokens */
    ngx_http_moa_json_member_t  *members;    /* raw top-level members */
    size_t                       nmembers;
    cJSON                       *root;       /* parsed on demand */

    const char                  *model;      /* decoded, NUL-terminated */
    ngx_http_moa_buf_t           model_buf;  /* model with escapes or long */
    char                         model_text[48];
    const ngx_http_moa_json_member_t  *raw_messages;
    int                          messages;   /* token of the array */
    int                          audio;      /* tokens of values, or -1 */
    int                          modalities;
    int                          prediction;
    ngx_http_moa_span_t          stream_options;   /* len 0: none */

    long long                    seed;
    int                          n;
    unsigned                     stream:1;
    unsigned                     include_usage:1;
    unsigned                     has_seed:1;
    unsigned                     has_tools:1;
    unsigned                     max_completion_tokens:1;
} ngx_http_moa_request_t;


/*
 * The body of a stage call as a list of parts: most are references to
 * text that lives elsewhere (the client's body, a prompt template, the
 * rendered candidates); what the module writes itself is in "glue".
 */
typedef struct {
    const char                  *p;          /* NULL: at off in the glue */
    size_t                       off;
    size_t                       len;
} ngx_http_moa_part_t;


typedef struct {
    ngx_http_moa_part_t         *parts;
    size_t                       nparts;
    size_t                       size;
    size_t                       len;        /* of the whole body */
    ngx_http_moa_buf_t           glue;
    unsigned                     nomem:1;
} ngx_http_moa_body_t;


/* what a stage call sends besides the conversation */
typedef struct {
    const char                  *model;      /* base model of the call */
    size_t                       model_len;
    const char                  *temperature;   /* JSON number or NULL */
    size_t                       temperature_len;
    long long                    max_tokens;     /* 0: none */
    int                          n;              /* proposals: > 1 asks n */
    int                          index;          /* proposals: seed offset */
} ngx_http_moa_call_params_t;


/* the parts of a reply's choice the chain reads, as raw JSON text */
typedef struct {
    ngx_http_moa_span_t          span;       /* the choice object */
    ngx_http_moa_span_t          message;
    ngx_http_moa_span_t          content;    /* len 0 when absent */
    ngx_http_moa_span_t          tool_calls;
    ngx_http_moa_span_t          refusal;
    unsigned                     plain:1;    /* as clients expect it */
} ngx_http_moa_choice_t;


/* a successful candidate: a choice of a proposal reply */
typedef struct {
    const ngx_http_moa_choice_t *choice;
} ngx_http_moa_candidate_t;


typedef struct {
    const char                  *p;          /* the reply text, not owned */
    size_t                       len;
    ngx_http_moa_json_t          json;       /* its tokens */
    ngx_http_moa_choice_t       *choices;
    int                          nchoices;
    int                          usage_at;   /* its token, or -1 */
    cJSON                       *usage;      /* reply_usage()'s tree */
    cJSON                       *root;       /* parsed on demand */
} ngx_http_moa_reply_t;


/* the state of one streamed synthesis */
typedef struct {
    ngx_http_moa_buf_t           id;         /* raw JSON of the first id */
    ngx_http_moa_buf_t           created;    /* raw JSON of created */
    ngx_http_moa_buf_t           fingerprint;   /* system_fingerprint */
    cJSON                       *usage;      /* last usage seen, or NULL */
    unsigned                     include_usage:1;   /* the client asked */
    unsigned                     done:1;     /* [DONE] seen */
    unsigned                     finished:1; /* a finish_reason seen */
    unsigned                     failed:1;   /* error event or bad chunk */
    unsigned                     started:1;  /* a chunk was emitted */
    ngx_http_moa_buf_t           error;      /* error event to send, raw */
} ngx_http_moa_stream_t;


/* a streamed answer put back together from its deltas (choice 0) */
typedef struct {
    ngx_http_moa_buf_t           content;
    ngx_http_moa_buf_t           refusal;
    cJSON                       *tool_calls;  /* by index, or NULL */
    cJSON                       *usage;       /* from a usage chunk */
    unsigned                     has_content:1;
    unsigned                     has_refusal:1;
    unsigned                     failed:1;
} ngx_http_moa_collect_t;


/* what a capture line says about the request besides the conversation */
typedef struct {
    const char                  *model;
    const char                  *base_model;  /* NULL for passthrough */
    const cJSON                 *usage;
    double                       time;        /* start, Unix seconds */
    double                       duration;    /* seconds */
    const char                  *request_id;
    size_t                       request_id_len;
    int                          fallback;    /* the answer is a candidate */
} ngx_http_moa_capture_meta_t;


#define NGX_HTTP_MOA_EVENT_OK      0
#define NGX_HTTP_MOA_EVENT_DONE    1
#define NGX_HTTP_MOA_EVENT_ERROR   2
#define NGX_HTTP_MOA_EVENT_NOMEM  -1


#if defined(__GNUC__)
#define NGX_HTTP_MOA_PRINTF(f, a)  __attribute__((format(printf, f, a)))
#else
#define NGX_HTTP_MOA_PRINTF(f, a)
#endif

void ngx_http_moa_error_set(ngx_http_moa_error_t *err, int status,
    const char *type, const char *code, const char *param,
    const char *fmt, ...) NGX_HTTP_MOA_PRINTF(6, 7);
void ngx_http_moa_error_move(ngx_http_moa_error_t *dst,
    const ngx_http_moa_error_t *src);
int ngx_http_moa_error_from_reply(ngx_http_moa_error_t *err, int status,
    const char *p, size_t len);
void ngx_http_moa_error_json(ngx_http_moa_buf_t *out,
    const ngx_http_moa_error_t *err);

int ngx_http_moa_request_parse(ngx_http_moa_request_t *req, const char *body,
    size_t len, ngx_http_moa_error_t *err);
int ngx_http_moa_request_check_moa(ngx_http_moa_request_t *req,
    ngx_http_moa_error_t *err);
void ngx_http_moa_request_free(ngx_http_moa_request_t *req);
cJSON *ngx_http_moa_request_root(ngx_http_moa_request_t *req);
void ngx_http_moa_request_compact(ngx_http_moa_request_t *req);

/* a reference shorter than this is copied into the glue: a part costs more */
#define NGX_HTTP_MOA_BODY_COPY  128

void ngx_http_moa_body_ref(ngx_http_moa_body_t *b, const char *p,
    size_t len);
void ngx_http_moa_body_add(ngx_http_moa_body_t *b, const char *p,
    size_t len);
void ngx_http_moa_body_glued(ngx_http_moa_body_t *b, size_t off);
int ngx_http_moa_body_done(ngx_http_moa_body_t *b);
void ngx_http_moa_body_flat(const ngx_http_moa_body_t *b,
    ngx_http_moa_buf_t *out);
void ngx_http_moa_body_free(ngx_http_moa_body_t *b);

#define ngx_http_moa_body_lit(b, s)                                          \
    ngx_http_moa_body_add(b, "" s, sizeof(s) - 1)

/*
 * The bodies of the stage calls (ngx_http_moa_body_done() is called).  For
 * critique and synthesis, tpl is the prompt template escaped for a JSON
 * string, cands the candidates as ngx_http_moa_prompt_candidates()
 * renders them, critique NULL when there is none; the body refers to all
 * of them, and to the request's text: they must outlive it.
 */
int ngx_http_moa_build_proposal(ngx_http_moa_body_t *b,
    const ngx_http_moa_request_t *req, const ngx_http_moa_call_params_t *cp);
int ngx_http_moa_build_critique(ngx_http_moa_body_t *b,
    const ngx_http_moa_request_t *req, const ngx_http_moa_call_params_t *cp,
    const char *tpl, size_t tpl_len, const ngx_http_moa_buf_t *cands,
    int ncands);
int ngx_http_moa_build_synthesis(ngx_http_moa_body_t *b,
    const ngx_http_moa_request_t *req, const ngx_http_moa_call_params_t *cp,
    const char *tpl, size_t tpl_len, const ngx_http_moa_buf_t *cands,
    int ncands, const ngx_http_moa_choice_t *critique);

int ngx_http_moa_reply_parse(ngx_http_moa_reply_t *rep, const char *p,
    size_t len, ngx_http_moa_error_t *err);
cJSON *ngx_http_moa_reply_root(ngx_http_moa_reply_t *rep);
void ngx_http_moa_reply_free(ngx_http_moa_reply_t *rep);

int ngx_http_moa_choice_usable(const ngx_http_moa_choice_t *c);
void ngx_http_moa_choice_text(ngx_http_moa_buf_t *out,
    const ngx_http_moa_choice_t *c, const char *tag);
cJSON *ngx_http_moa_choice_message(const ngx_http_moa_choice_t *c);

int ngx_http_moa_usage_add(cJSON *acc, const cJSON *usage);
const cJSON *ngx_http_moa_reply_usage(ngx_http_moa_reply_t *rep);
int ngx_http_moa_reply_usage_add(cJSON *acc,
    const ngx_http_moa_reply_t *rep);
long long ngx_http_moa_usage_get(const cJSON *acc, const char *name);

int ngx_http_moa_build_response(ngx_http_moa_buf_t *out,
    ngx_http_moa_reply_t *rep, int choice, const char *model,
    const cJSON *usage);
void ngx_http_moa_usage_print(ngx_http_moa_buf_t *out, const cJSON *usage);

void ngx_http_moa_stream_init(ngx_http_moa_stream_t *st, int include_usage);
int ngx_http_moa_stream_event(ngx_http_moa_stream_t *st, const char *data,
    size_t len, const char *model, size_t model_len,
    ngx_http_moa_buf_t *out);
int ngx_http_moa_stream_usage_chunk(ngx_http_moa_stream_t *st,
    const char *model, size_t model_len, const cJSON *usage,
    ngx_http_moa_buf_t *out);
int ngx_http_moa_stream_from_reply(ngx_http_moa_stream_t *st,
    ngx_http_moa_reply_t *rep, int choice, const char *model,
    size_t model_len, ngx_http_moa_buf_t *out);
void ngx_http_moa_stream_free(ngx_http_moa_stream_t *st);

void ngx_http_moa_error_event(ngx_http_moa_buf_t *out,
    const ngx_http_moa_error_t *err);

int ngx_http_moa_collect_chunk(ngx_http_moa_collect_t *col, const char *data,
    size_t len);
cJSON *ngx_http_moa_collect_message(ngx_http_moa_collect_t *col);
void ngx_http_moa_collect_free(ngx_http_moa_collect_t *col);

int ngx_http_moa_usage_scan(const char *p, size_t len, cJSON **usage);

int ngx_http_moa_capture_line(ngx_http_moa_buf_t *out,
    ngx_http_moa_request_t *req, const cJSON *answer,
    const ngx_http_moa_capture_meta_t *meta);


#endif /* _NGX_HTTP_MOA_OPENAI_H_INCLUDED_ */
