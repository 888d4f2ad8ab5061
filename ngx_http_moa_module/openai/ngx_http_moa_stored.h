
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: a stored response (the Responses API's store): its record
 * (owner, expiry, input items, the response object) as the shared memory
 * zone and memcached keep it, the ids it is looked up by, the items a
 * continuation (previous_response_id) starts from, and the errors and
 * deletion object that the store's endpoints answer with.
 */


#ifndef _NGX_HTTP_MOA_STORED_H_INCLUDED_
#define _NGX_HTTP_MOA_STORED_H_INCLUDED_


#include <stddef.h>

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_json.h"
#include "ngx_http_moa_error.h"


/* an id of the store: "resp_" and up to this many bytes in all */
#define NGX_HTTP_MOA_STORED_ID_MAX  128


/* a record, as decoded: spans into the record's own bytes */
typedef struct {
    long long                   expires;    /* unix time */
    ngx_http_moa_span_t         owner;      /* the owner's digest */
    ngx_http_moa_span_t         input;      /* JSON array of items */
    ngx_http_moa_span_t         response;   /* the response object */
} ngx_http_moa_stored_t;


int ngx_http_moa_stored_id_valid(const char *id, size_t len);
void ngx_http_moa_stored_bad_id(ngx_http_moa_error_t *err, const char *id,
    size_t len);
void ngx_http_moa_stored_not_found(ngx_http_moa_error_t *err,
    const char *id, size_t len, int continuation);
void ngx_http_moa_stored_unavailable(ngx_http_moa_error_t *err,
    int continuation);

/* input items that all have ids already are copied as they are */
#define NGX_HTTP_MOA_STORED_IDS_GIVEN  1

int ngx_http_moa_stored_encode(ngx_http_moa_buf_t *out, long long expires,
    const char *owner, size_t owner_len, const char *id, size_t id_len,
    const char *input, size_t input_len, const char *response,
    size_t response_len, int flags);
int ngx_http_moa_stored_decode(ngx_http_moa_stored_t *rec, const char *p,
    size_t len);
int ngx_http_moa_stored_owned(const ngx_http_moa_stored_t *rec,
    const char *owner, size_t owner_len, long long now);

int ngx_http_moa_stored_join(ngx_http_moa_buf_t *out, const char *a,
    size_t alen, const char *b, size_t blen);
int ngx_http_moa_stored_prior(ngx_http_moa_buf_t *out,
    const ngx_http_moa_stored_t *rec);
int ngx_http_moa_stored_resolve(ngx_http_moa_buf_t *out, const char *body,
    size_t len, const char *prior, size_t prior_len,
    ngx_http_moa_error_t *err);
void ngx_http_moa_stored_deleted(ngx_http_moa_buf_t *out, const char *id,
    size_t len);


#endif /* _NGX_HTTP_MOA_STORED_H_INCLUDED_ */
