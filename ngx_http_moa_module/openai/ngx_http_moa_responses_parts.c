
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Pure code: a content part of a Responses message (input_text,
 * input_image by URL or data URL with its detail, input_file by id or
 * data, output_text, refusal), checked on the request's tokens and written
 * as a Chat Completions part from the client's own bytes.
 */


#include <string.h>

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_field.h"
#include "ngx_http_moa_responses_parts.h"


#define ngx_http_moa_responses_parts_raw(b, j, i)                            \
    ngx_http_moa_buf_add(b, (j)->tok[i].p, (j)->tok[i].len)


static const char  *ngx_http_moa_responses_parts_in[] = {
    "input_text", "input_image", "input_file", NULL
};

static const char  *ngx_http_moa_responses_parts_out[] = {
    "output_text", "refusal", NULL
};

static const char  *ngx_http_moa_responses_parts_details[] = {
    "auto", "low", "high", NULL
};


/* an http(s) URL or a data URL */
static int
ngx_http_moa_responses_parts_url(const ngx_http_moa_json_t *j, int i)
{
    const char  *p;
    size_t       len;

    p = j->tok[i].p + 1;
    len = j->tok[i].len - 2;

    return (len > 7 && strncmp(p, "http://", 7) == 0)
           || (len > 8 && strncmp(p, "https://", 8) == 0)
           || (len > 5 && strncmp(p, "data:", 5) == 0);
}


/*
 * One content part of a message, written into b as a chat part: 1 when it
 * is one (text, image, file), 0 for a refusal (a member of the assistant's
 * message, not a part), -1 with err.  What a chat part cannot carry (an
 * image by file id, a file by URL) is a placeholder, *what says what and
 * param (with err only) names it: translation is refused then.
 */
int
ngx_http_moa_responses_parts_part(ngx_http_moa_buf_t *b,
    const ngx_http_moa_json_t *j, int p, const char *base, int assistant,
    const char **what, char *param, ngx_http_moa_error_t *err)
{
    int   t, v, id, data, url, name;
    char  sub[NGX_HTTP_MOA_FIELD_PATH];

    if (j->tok[p].type != '{') {
        return ngx_http_moa_field_bad_type(j, p, base, "an object", err);
    }

    if (ngx_http_moa_field_member(j, p, "type", '"', base, 1, err, &t) != 0) {
        return -1;
    }

    ngx_http_moa_field_path(err, sub, "%s.type", base);

    if (ngx_http_moa_field_one_of(j, t, sub, assistant
                                  ? ngx_http_moa_responses_parts_out
                                  : ngx_http_moa_responses_parts_in,
                                  err)
        != 0)
    {
        return -1;
    }

    if (ngx_http_moa_field_is(j, t, "refusal")) {
        return ngx_http_moa_field_member(j, p, "refusal", '"', base, 1, err,
                                         &v);
    }

    if (b->len && b->data[b->len - 1] != '[') {
        ngx_http_moa_buf_lit(b, ",");
    }

    if (ngx_http_moa_field_is(j, t, "input_text")
        || ngx_http_moa_field_is(j, t, "output_text"))
    {
        if (ngx_http_moa_field_member(j, p, "text", '"', base, 1, err, &v)
            != 0
            || ngx_http_moa_field_member(j, p, "annotations", '[', base, 0,
                                         err, &t)
               != 0)
        {
            return -1;
        }

        ngx_http_moa_buf_lit(b, "{\"type\":\"text\",\"text\":");
        ngx_http_moa_responses_parts_raw(b, j, v);
        ngx_http_moa_buf_lit(b, "}");
        return 1;
    }

    if (ngx_http_moa_field_is(j, t, "input_image")) {
        if (ngx_http_moa_field_member(j, p, "image_url", '"', base, 0, err,
                                      &url)
            != 0
            || ngx_http_moa_field_member(j, p, "file_id", '"', base, 0, err,
                                         &id)
               != 0
            || ngx_http_moa_field_member(j, p, "detail", '"', base, 0, err,
                                         &v)
               != 0)
        {
            return -1;
        }

        ngx_http_moa_field_path(err, sub, "%s.detail", base);

        if (v >= 0
            && ngx_http_moa_field_one_of(j, v, sub,
                                      ngx_http_moa_responses_parts_details,
                                      err)
               != 0)
        {
            return -1;
        }

        ngx_http_moa_field_path(err, sub, "%s.image_url", base);

        if (url < 0 && id < 0) {
            return ngx_http_moa_field_missing(sub, err);
        }

        if (url < 0) {
            ngx_http_moa_field_path(err, param, "%s", sub);
            *what = "An image given by file_id";
            /* a placeholder the provider never sees: translation fails */
            ngx_http_moa_buf_lit(b, "{\"type\":\"text\",\"text\":\"\"}");
            return 1;
        }

        if (!ngx_http_moa_responses_parts_url(j, url)) {
            return ngx_http_moa_field_fail(err, "invalid_value", sub,
                                           "Invalid '%s'. Expected a valid "
                                           "URL, but got a value with an "
                                           "invalid format.", sub);
        }

        ngx_http_moa_buf_lit(b, "{\"type\":\"image_url\",\"image_url\":"
                             "{\"url\":");
        ngx_http_moa_responses_parts_raw(b, j, url);

        if (v >= 0) {
            ngx_http_moa_buf_lit(b, ",\"detail\":");
            ngx_http_moa_responses_parts_raw(b, j, v);
        }

        ngx_http_moa_buf_lit(b, "}}");
        return 1;
    }

    /* input_file */

    if (ngx_http_moa_field_member(j, p, "file_id", '"', base, 0, err, &id)
        != 0
        || ngx_http_moa_field_member(j, p, "file_data", '"', base, 0, err,
                                     &data)
           != 0
        || ngx_http_moa_field_member(j, p, "file_url", '"', base, 0, err,
                                     &url)
           != 0
        || ngx_http_moa_field_member(j, p, "filename", '"', base, 0, err,
                                     &name)
           != 0)
    {
        return -1;
    }

    if (id < 0 && data < 0 && url < 0) {
        ngx_http_moa_field_path(err, sub, "%s.file_id", base);
        return ngx_http_moa_field_missing(sub, err);
    }

    if (id < 0 && data < 0) {
        ngx_http_moa_field_path(err, sub, "%s.file_url", base);
        ngx_http_moa_field_path(err, param, "%s", sub);
        *what = "A file given by file_url";
        ngx_http_moa_buf_lit(b, "{\"type\":\"text\",\"text\":\"\"}");
        return 1;
    }

    ngx_http_moa_buf_lit(b, "{\"type\":\"file\",\"file\":{");

    if (id >= 0) {
        ngx_http_moa_buf_lit(b, "\"file_id\":");
        ngx_http_moa_responses_parts_raw(b, j, id);

    } else {
        ngx_http_moa_buf_lit(b, "\"file_data\":");
        ngx_http_moa_responses_parts_raw(b, j, data);
    }

    if (name >= 0) {
        ngx_http_moa_buf_lit(b, ",\"filename\":");
        ngx_http_moa_responses_parts_raw(b, j, name);
    }

    ngx_http_moa_buf_lit(b, "}}");

    return 1;
}
