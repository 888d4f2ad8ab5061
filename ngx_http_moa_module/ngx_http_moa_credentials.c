
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Whose credentials reached the provider, and a provider's refusal of
 * the operator's kept from the client: the passthrough's 401 and 403
 * when the key was not the client's own.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_moa_common.h"
#include "ngx_http_moa_credentials.h"


static ngx_uint_t ngx_http_moa_credentials_sent(ngx_http_request_t *sr,
    ngx_str_t *value);


/*
 * Whether a passthrough's reply is kept from the client, who gets its
 * status and a message of the module's (ngx_http_moa_answer_calls_error):
 * a refusal of credentials (401, 403) that were not the client's own.
 * The provider's text may quote the key ("Incorrect API key provided:
 * sk-...abcd") or name the operator's project; it is relayed only when
 * what reached the provider as Authorization is the client's, as the
 * client sent it: moa_pass_client_authorization passes it, and the
 * internal location may still replace it (proxy_set_header).
 */
ngx_uint_t
ngx_http_moa_credentials_hide(ngx_http_moa_call_t *call)
{
    ngx_uint_t           status;
    ngx_table_elt_t     *auth;
    ngx_http_moa_ctx_t  *ctx;

    ctx = call->ctx;
    status = call->sr->headers_out.status;

    if (call != ctx->passthrough
        || (status != NGX_HTTP_UNAUTHORIZED && status != NGX_HTTP_FORBIDDEN))
    {
        return 0;
    }

    auth = ctx->request->headers_in.authorization;

    if (!ctx->conf->pass_client_authorization || auth == NULL) {
        return 1;
    }

    return !ngx_http_moa_credentials_sent(call->sr, &auth->value);
}


/*
 * Whether every Authorization line of the request the upstream module
 * sent has this value: the header lines of the first buffer of its
 * request, which nginx keeps for a retry (ngx_http_upstream_reinit).
 * A request of another protocol than HTTP/1 has none: not the client's.
 */
static ngx_uint_t
ngx_http_moa_credentials_sent(ngx_http_request_t *sr, ngx_str_t *value)
{
    size_t       n;
    u_char      *p, *v, *eol, *last;
    ngx_buf_t   *b;
    ngx_uint_t   found;

    if (sr->upstream == NULL || sr->upstream->request_bufs == NULL) {
        return 0;
    }

    b = sr->upstream->request_bufs->buf;

    if (b->in_file || b->start == NULL) {
        return 0;
    }

    n = sizeof("Authorization:") - 1;
    found = 0;
    last = b->last;

    /* the request line first, then a header line each, up to the empty one */

    for (p = b->start; p < last; p = eol + 1) {

        eol = ngx_strlchr(p, last, LF);
        if (eol == NULL) {
            return 0;
        }

        if (p != b->start && (eol == p || (eol == p + 1 && *p == CR))) {
            return found;
        }

        if ((size_t) (eol - p) < n
            || ngx_strncasecmp(p, (u_char *) "Authorization:", n) != 0)
        {
            continue;
        }

        for (v = p + n; v < eol && (*v == ' ' || *v == '\t'); v++) {
            /* void */
        }

        if ((size_t) (eol - v) != value->len + 1
            || eol[-1] != CR
            || ngx_memcmp(v, value->data, value->len) != 0)
        {
            return 0;
        }

        found = 1;
    }

    return 0;
}


/*
 * The text of a reply kept from the client, for the operator: the
 * provider's message, or the reply's first bytes when it has none (message
 * NULL), on one line of the error log
 */
void
ngx_http_moa_credentials_log(ngx_http_moa_call_t *call,
    ngx_http_request_t *sr, const char *message)
{
    u_char   *p, *text;
    size_t    i, len;
    u_char    line[512];

    if (message) {
        text = (u_char *) message;
        len = ngx_strlen(text);

    } else {
        text = (u_char *) call->reply.data;
        len = call->reply.len;
    }

    len = ngx_min(len, sizeof(line));
    p = line;

    for (i = 0; i < len; i++) {
        *p++ = (text[i] < 0x20 || text[i] == 0x7f) ? ' ' : text[i];
    }

    ngx_log_error(NGX_LOG_ERR, sr->connection->log, 0,
                  "moa passthrough call %ui: the provider answered %ui, "
                  "not relayed: %*s", call->index, call->status,
                  (size_t) (p - line), line);
}
