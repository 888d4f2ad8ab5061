
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the streamed synthesis rewritten event by event, the final
 * usage chunk, and a complete reply sent as a stream.
 */


#ifndef _NGX_HTTP_MOA_STREAM_H_INCLUDED_
#define _NGX_HTTP_MOA_STREAM_H_INCLUDED_


#include <cjson/cJSON.h>

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_reply.h"


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


#define NGX_HTTP_MOA_EVENT_OK      0
#define NGX_HTTP_MOA_EVENT_DONE    1
#define NGX_HTTP_MOA_EVENT_ERROR   2
#define NGX_HTTP_MOA_EVENT_NOMEM  -1


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


#endif /* _NGX_HTTP_MOA_STREAM_H_INCLUDED_ */
