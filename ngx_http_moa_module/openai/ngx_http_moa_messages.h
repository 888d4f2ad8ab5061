
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: each message of a request checked on its tokens.
 */


#ifndef _NGX_HTTP_MOA_MESSAGES_H_INCLUDED_
#define _NGX_HTTP_MOA_MESSAGES_H_INCLUDED_


#include "ngx_http_moa_json.h"
#include "ngx_http_moa_error.h"


/*
 * The messages array token i, named name: 0, or -1 with err (NULL: no
 * names made); each message's role the request's parse checked.
 */
int ngx_http_moa_messages_check(const ngx_http_moa_json_t *j, int i,
    const char *name, ngx_http_moa_error_t *err);


#endif /* _NGX_HTTP_MOA_MESSAGES_H_INCLUDED_ */
