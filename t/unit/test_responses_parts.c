
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_responses_parts.[ch]: each content part type
 * written as a chat part, the parts of each role, bad parts named, what
 * a chat part cannot carry.
 */


#include "util.h"
#include "ngx_http_moa_field.h"
#include "ngx_http_moa_responses_parts.h"


/* the part text as a chat part: the return code, what, param */
static int
part(const char *text, int assistant, ngx_http_moa_buf_t *b,
    const char **what, char *param, ngx_http_moa_error_t *err)
{
    int                  rc;
    ngx_http_moa_json_t  j;

    memset(&j, 0, sizeof(j));
    b->len = 0;
    *what = NULL;
    param[0] = '\0';

    if (ngx_http_moa_json_parse(&j, text, strlen(text)) != 0) {
        return -3;
    }

    rc = ngx_http_moa_responses_parts_part(b, &j, 0, "input[0].content[1]",
                                           assistant, what, param, err);
    ngx_http_moa_json_free(&j);

    return rc;
}


int
main(void)
{
    char                   param[NGX_HTTP_MOA_FIELD_PATH];
    const char            *what;
    ngx_http_moa_buf_t     b;
    ngx_http_moa_error_t   err;

    memset(&b, 0, sizeof(b));

    is_int(part("{\"type\":\"input_text\",\"text\":\"a\\\"b\"}", 0, &b, &what,
                param, &err), 1, "input_text");
    is_mem(b.data, b.len, "{\"type\":\"text\",\"text\":\"a\\\"b\"}",
           "a text part, as it came");

    is_int(part("{\"type\":\"input_image\",\"image_url\":\"https://x/i.png\","
                "\"detail\":\"high\"}", 0, &b, &what, param, &err), 1,
           "input_image");
    is_mem(b.data, b.len, "{\"type\":\"image_url\",\"image_url\":{\"url\":"
           "\"https://x/i.png\",\"detail\":\"high\"}}", "an image_url part");

    is_int(part("{\"type\":\"input_file\",\"file_id\":\"file-1\","
                "\"filename\":\"a.pdf\"}", 0, &b, &what, param, &err), 1,
           "input_file");
    is_mem(b.data, b.len, "{\"type\":\"file\",\"file\":{\"file_id\":"
           "\"file-1\",\"filename\":\"a.pdf\"}}", "a file part");

    is_int(part("{\"type\":\"output_text\",\"text\":\"t\",\"annotations\":[]}",
                1, &b, &what, param, &err), 1, "output_text");
    is_mem(b.data, b.len, "{\"type\":\"text\",\"text\":\"t\"}", "as text");

    is_int(part("{\"type\":\"refusal\",\"refusal\":\"no\"}", 1, &b, &what,
                param, &err), 0, "a refusal is no part");
    is_int(b.len, 0, "nothing written");

    is_int(part("{\"type\":\"input_image\",\"file_id\":\"f\"}", 0, &b, &what,
                param, &err), 1, "an image by file id");
    ok(what && strstr(what, "file_id"), "cannot be carried: %s",
       what ? what : "");
    is_str(param, "input[0].content[1].image_url", "named");

    is_int(part("{\"type\":\"input_file\",\"file_url\":\"https://x/a.pdf\"}",
                0, &b, &what, param, &err), 1, "a file by URL");
    ok(what && strstr(what, "file_url"), "cannot be carried");

    is_int(part("{\"type\":\"input_text\",\"text\":\"x\"}", 1, &b, &what,
                param, &err), -1, "input_text in an assistant message");
    is_str(err.param, "input[0].content[1].type", "the type named");

    is_int(part("{\"type\":\"output_text\",\"text\":\"x\"}", 0, &b, &what,
                param, &err), -1, "output_text in a user message");

    is_int(part("{\"type\":\"input_image\",\"image_url\":\"file:///etc\"}", 0,
                &b, &what, param, &err), -1, "not an http(s) or data URL");
    is_str(err.param, "input[0].content[1].image_url", "named");

    is_int(part("{\"type\":\"input_image\",\"image_url\":\"data:x\","
                "\"detail\":\"max\"}", 0, &b, &what, param, &err), -1,
           "an unknown detail");
    is_str(err.param, "input[0].content[1].detail", "named");

    is_int(part("\"text\"", 0, &b, &what, param, &err), -1, "not an object");
    is_str(err.code, "invalid_type", "invalid_type");

    ngx_http_moa_buf_free(&b);

    return done_testing();
}
