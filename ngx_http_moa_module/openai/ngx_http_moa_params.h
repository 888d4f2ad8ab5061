
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: the type and range of every Chat Completions parameter the
 * module knows, checked on the request's tokens before any provider call.
 */


#ifndef _NGX_HTTP_MOA_PARAMS_H_INCLUDED_
#define _NGX_HTTP_MOA_PARAMS_H_INCLUDED_


#include "ngx_http_moa_json.h"
#include "ngx_http_moa_error.h"


/* what is done with a top-level parameter the module does not know */
#define NGX_HTTP_MOA_PARAMS_PASS    0
#define NGX_HTTP_MOA_PARAMS_DROP    1
#define NGX_HTTP_MOA_PARAMS_REJECT  2


/*
 * Checks the members of object token obj (the request): 0, or -1 with a
 * 400 in err naming the parameter as OpenAI does ("messages[1].role").
 * With NGX_HTTP_MOA_PARAMS_REJECT an unknown parameter is an error.
 */
int ngx_http_moa_params_check(const ngx_http_moa_json_t *j, int obj,
    int unknown, ngx_http_moa_error_t *err);

/* whether a top-level key (raw text between the quotes) is known */
int ngx_http_moa_params_known(const char *key, size_t len, int escaped);


#endif /* _NGX_HTTP_MOA_PARAMS_H_INCLUDED_ */
