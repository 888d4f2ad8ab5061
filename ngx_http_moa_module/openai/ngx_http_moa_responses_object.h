
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the Responses API's response object (id resp_..., status,
 * output items, usage, the request's parameters echoed), written from a
 * chat completion's choice and the summed chat usage.
 */


#ifndef _NGX_HTTP_MOA_RESPONSES_OBJECT_H_INCLUDED_
#define _NGX_HTTP_MOA_RESPONSES_OBJECT_H_INCLUDED_


#include <stdint.h>
#include <cjson/cJSON.h>

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_error.h"
#include "ngx_http_moa_reply.h"
#include "ngx_http_moa_responses_items.h"


/* what every state of one response shares */
typedef struct {
    char                         id[NGX_HTTP_MOA_RESPONSES_ID_LEN];
    long long                    created_at;
    long long                    completed_at;   /* 0: created_at */
    const char                  *model;      /* the id answered, plain */
    size_t                       model_len;
    const ngx_http_moa_buf_t    *echo;       /* the request's parameters */
    uint64_t                    *seed;       /* of the items' ids */
} ngx_http_moa_responses_object_t;


/*
 * The whole object.  status: "in_progress", "completed", "incomplete"
 * (with reason), "failed" (with error); output: the items, comma-separated
 * JSON; usage: the summed chat usage, or NULL for null.
 */
void ngx_http_moa_responses_object_write(ngx_http_moa_buf_t *out,
    const ngx_http_moa_responses_object_t *o, const char *status,
    const char *reason, const ngx_http_moa_error_t *error,
    const char *output, size_t output_len, const cJSON *usage);

/* the same in three steps: begin, the items written into out, end */
void ngx_http_moa_responses_object_begin(ngx_http_moa_buf_t *out,
    const ngx_http_moa_responses_object_t *o, const char *status,
    const char *reason, const ngx_http_moa_error_t *error);
void ngx_http_moa_responses_object_end(ngx_http_moa_buf_t *out,
    const ngx_http_moa_responses_object_t *o, const cJSON *usage);

/*
 * The output items of a chat choice (a message, its function calls),
 * comma-separated, into out.  *reason: NULL when complete, else why not
 * ("max_output_tokens", "content_filter").  0, or -1 without memory.
 */
int ngx_http_moa_responses_object_items(ngx_http_moa_buf_t *out,
    const ngx_http_moa_responses_object_t *o,
    const ngx_http_moa_choice_t *choice, const char **reason);

/*
 * a message item with an output_text part and a refusal part, each when
 * not NULL (escaped), the refusal first when refusal_first, as they came
 */
void ngx_http_moa_responses_object_message(ngx_http_moa_buf_t *out,
    const char *id, const char *status, const char *text, size_t len,
    const char *refusal, size_t refusal_len, int refusal_first);
/* the part alone */
void ngx_http_moa_responses_object_part(ngx_http_moa_buf_t *out,
    const char *text, size_t len, int refusal);
/* a function_call item; call_id, name and arguments escaped */
void ngx_http_moa_responses_object_call(ngx_http_moa_buf_t *out,
    const char *id, const char *status, const char *call_id,
    size_t call_id_len, const char *name, size_t name_len, const char *args,
    size_t args_len);

/* the Responses usage of a summed chat usage */
void ngx_http_moa_responses_object_usage(ngx_http_moa_buf_t *out,
    const cJSON *usage);

/* the same for a choice's finish_reason */
const char *ngx_http_moa_responses_object_reason_of(
    const ngx_http_moa_choice_t *choice);
/* the reason of an incomplete response for a chat finish_reason, or NULL */
const char *ngx_http_moa_responses_object_reason(const char *finish,
    size_t len);


#endif /* _NGX_HTTP_MOA_RESPONSES_OBJECT_H_INCLUDED_ */
