
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Fuzz target: the strict JSON scanner against cJSON.  Whatever the scanner
 * accepts cJSON must parse (cJSON may accept more), the members it returns
 * must be cJSON's members, key for key and value for value, and escaping
 * any bytes must give a JSON string that decodes back to them.
 */


#include "fuzz.h"


static int
fuzz_ascii(const char *s)
{
    for ( /* void */ ; *s; s++) {
        if ((unsigned char) *s >= 0x80) {
            return 0;
        }
    }

    return 1;
}


static void
fuzz_members(const char *p, size_t size, const cJSON *root)
{
    char                        *a, *b;
    size_t                       i, n;
    cJSON                       *v;
    const cJSON                 *c;
    ngx_http_moa_json_member_t  *m;

    if (ngx_http_moa_json_members(p, size, &m, &n) != 0) {
        fuzz_assert(m == NULL && n == 0, "members: nothing on failure");
        fuzz_assert(root == NULL || !cJSON_IsObject(root)
                    || ngx_http_moa_json_valid(p, size) != 0,
                    "members refuses an object json_valid accepts");
        return;
    }

    fuzz_assert(ngx_http_moa_json_valid(p, size) == 0,
                "members accepts what json_valid refuses");
    fuzz_assert(cJSON_IsObject(root), "members: cJSON sees an object");
    fuzz_assert((int) n == cJSON_GetArraySize(root),
                "members: as many as cJSON");

    c = root->child;

    for (i = 0; i < n; i++, c = c->next) {
        fuzz_assert(c != NULL && c->string != NULL, "members: cJSON's key");

        /* key_is decodes ASCII names of up to 64 bytes */
        if (fuzz_ascii(c->string) && strlen(c->string) < 64) {
            fuzz_assert(ngx_http_moa_json_key_is(&m[i], c->string),
                        "key_is agrees with cJSON's key");
        }

        if (!m[i].escaped) {
            fuzz_assert(m[i].key_len == strlen(c->string)
                        && memcmp(m[i].key, c->string, m[i].key_len) == 0,
                        "a key without escapes is cJSON's key");
        }

        fuzz_assert(ngx_http_moa_json_valid(m[i].value, m[i].value_len) == 0,
                    "a member's raw value is valid");

        v = cJSON_ParseWithLength(m[i].value, m[i].value_len);
        fuzz_assert(v != NULL, "cJSON parses a member's raw value");

        a = cJSON_PrintUnformatted(v);
        b = cJSON_PrintUnformatted(c);
        fuzz_assert(a && b && strcmp(a, b) == 0,
                    "a member's raw value is cJSON's value");

        cJSON_free(a);
        cJSON_free(b);
        cJSON_Delete(v);
    }

    free(m);
}


static void
fuzz_escape(const char *p, size_t size)
{
    cJSON               *v;
    ngx_http_moa_buf_t   b;

    memset(&b, 0, sizeof(b));

    ngx_http_moa_buf_json_str(&b, p, size);
    fuzz_assert(!b.nomem && b.len >= size + 2, "json_str wrote");

    v = fuzz_json(b.data, b.len, "an escaped string");
    fuzz_assert(cJSON_IsString(v), "an escaped string is a string");

    /* cJSON's strings end at the first NUL */
    fuzz_assert(strncmp(v->valuestring, p, size) == 0
                && strlen(v->valuestring) == strnlen(p, size),
                "an escaped string decodes to its bytes");

    cJSON_Delete(v);
    ngx_http_moa_buf_free(&b);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON       *root;
    const char  *p;

    p = (const char *) data;

    root = size ? cJSON_ParseWithLength(p, size) : NULL;

    if (size && ngx_http_moa_json_valid(p, size) == 0) {
        fuzz_assert(root != NULL, "cJSON parses what the scanner accepts");
    }

    if (size) {
        fuzz_members(p, size, root);
    }

    if (size) {
        fuzz_escape(p, size);
    }

    cJSON_Delete(root);

    return 0;
}
