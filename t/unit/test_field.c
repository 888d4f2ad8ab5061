
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of ngx_http_moa_field.[ch]: one field's checks (numbers and
 * their bounds, the name pattern, one of some values, members of a type,
 * string lengths) and the errors naming the field; nothing formatted when
 * no error is wanted.
 */


#include "util.h"
#include "ngx_http_moa_field.h"


static ngx_http_moa_json_t   j;
static ngx_http_moa_error_t  err;


/* the JSON text's token 1: the value of {"v": ...} */
static int
value(const char *json)
{
    ngx_http_moa_json_free(&j);
    memset(&err, 0, sizeof(err));

    if (ngx_http_moa_json_parse(&j, json, strlen(json)) != 0) {
        diag("not JSON: %s", json);
        return -1;
    }

    return 2;
}


static void
test_number(void)
{
    size_t  k;

    static const struct {
        const char  *json;
        int          integer;
        double       min, max;
        const char  *code;      /* NULL: accepted */
    } cases[] = {
        { "{\"v\":2}", 0, 0, 2, NULL },
        { "{\"v\":2.0001}", 0, 0, 2, "decimal_above_max_value" },
        { "{\"v\":-0.0}", 0, 0, 2, NULL },
        { "{\"v\":-1e-9}", 0, 0, 2, "decimal_below_min_value" },
        { "{\"v\":\"1\"}", 0, 0, 2, "invalid_type" },
        { "{\"v\":1e400}", 0, 0, 2, "decimal_above_max_value" },
        { "{\"v\":1}", 1, 1, 10, NULL },
        { "{\"v\":1.0}", 1, 1, 10, NULL },
        { "{\"v\":1.5}", 1, 1, 10, "invalid_type" },
        { "{\"v\":0}", 1, 1, 10, "integer_below_min_value" },
        { "{\"v\":11}", 1, 1, 10, "integer_above_max_value" },
        { "{\"v\":-123456789012345678901234567890123456789012}", 1, 1, 10,
          "integer_below_min_value" },
        { "{\"v\":true}", 1, 1, 10, "invalid_type" }
    };

    for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        ok(ngx_http_moa_field_number(&j, value(cases[k].json), "v",
                                     cases[k].integer, cases[k].min,
                                     cases[k].max, &err)
           == (cases[k].code ? -1 : 0), "number %s", cases[k].json);

        if (cases[k].code) {
            is_str(err.code, cases[k].code, "number %s: code",
                   cases[k].json);
            is_str(err.param, "v", "number %s: param", cases[k].json);
            is_int(err.status, 400, "number %s: 400", cases[k].json);
        }
    }
}


static void
test_name(void)
{
    size_t  k;

    static const struct {
        const char  *json;
        int          rc;
    } cases[] = {
        { "{\"v\":\"get_weather-2\"}", 0 },
        { "{\"v\":\"a\"}", 0 },
        { "{\"v\":\"\"}", -1 },
        { "{\"v\":\"a b\"}", -1 },
        { "{\"v\":\"a.b\"}", -1 },
        { "{\"v\":\"\\u0061\"}", -1 },
        { "{\"v\":\"0123456789012345678901234567890123456789012345678901"
          "234567890123\"}", 0 },
        { "{\"v\":\"0123456789012345678901234567890123456789012345678901"
          "2345678901234\"}", -1 }
    };

    for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        ok(ngx_http_moa_field_name(&j, value(cases[k].json), "f.name", &err)
           == cases[k].rc, "name %zu", k);

        if (cases[k].rc) {
            is_str(err.code, "invalid_value", "name %zu: code", k);
            ok(strstr(err.message, "^[a-zA-Z0-9_-]{1,64}$") != NULL,
               "name %zu: the pattern in the message", k);
        }
    }
}


static void
test_one_of(void)
{
    static const char  *values[] = { "none", "auto", "required", NULL };

    ok(ngx_http_moa_field_one_of(&j, value("{\"v\":\"auto\"}"), "v", values,
                                 &err) == 0, "one_of: auto");
    ok(ngx_http_moa_field_one_of(&j, value("{\"v\":\"\\u0061uto\"}"), "v",
                                 values, &err) == 0,
       "one_of: an escaped value");
    ok(ngx_http_moa_field_one_of(&j, value("{\"v\":\"Auto\"}"), "v", values,
                                 &err) == -1, "one_of: case matters");
    is_str(err.message, "Invalid value for 'v': 'Auto'. Supported values "
           "are: 'none', 'auto', and 'required'.", "one_of: the message");
    ok(ngx_http_moa_field_one_of(&j, value("{\"v\":1}"), "v", values, &err)
       == -1 && strcmp(err.code, "invalid_type") == 0, "one_of: a number");
}


static void
test_member(void)
{
    int  at;

    ok(ngx_http_moa_field_member(&j, value("{\"v\":{\"a\":true}}"), "a", 't',
                                 "v", 1, &err, &at) == 0 && at == 4,
       "member: a boolean, its token");
    ok(ngx_http_moa_field_member(&j, value("{\"v\":{\"a\":null}}"), "a", 't',
                                 "v", 0, &err, &at) == 0 && at == -1,
       "member: null is absent");
    ok(ngx_http_moa_field_member(&j, value("{\"v\":{}}"), "a", '"', "v", 1,
                                 &err, &at) == -1,
       "member: a required one missing");
    is_str(err.code, "missing_required_parameter", "member: code");
    is_str(err.param, "v.a", "member: param");
    is_str(err.message, "Missing required parameter: 'v.a'.",
           "member: message");
    ok(ngx_http_moa_field_member(&j, value("{\"v\":{\"a\":[]}}"), "a", '{',
                                 "v", 0, &err, &at) == -1,
       "member: of another type");
    is_str(err.message, "Invalid type for 'v.a': expected an object, but "
           "got an array instead.", "member: the type message");
}


static void
test_chars_and_silence(void)
{
    char  buf[NGX_HTTP_MOA_FIELD_PATH];

    is_int((int) ngx_http_moa_field_chars(&j, value("{\"v\":\"ab\"}")), 2,
           "chars: plain");
    is_int((int) ngx_http_moa_field_chars(&j,
               value("{\"v\":\"\\u00e9\\n\xc3\xa9\xf0\x9f\x98\x80\"}")),
           4, "chars: escapes and UTF-8 count one each");

    /* with err NULL no name is made and nothing is written */
    memcpy(buf, "kept", 5);
    ngx_http_moa_field_path(NULL, buf, "%s", "changed");
    is_str(buf, "kept", "path: nothing made without err");
    ok(ngx_http_moa_field_bad_type(&j, value("{\"v\":1}"), "v", "a string",
                                   NULL) == -1, "bad_type: -1 without err");
    ok(ngx_http_moa_field_number(&j, value("{\"v\":9}"), "v", 0, 0, 2, NULL)
       == -1, "number: -1 without err");

    /* a name longer than the error keeps is cut, never overflows */
    ngx_http_moa_field_fail(&err, "invalid_value",
                            "0123456789012345678901234567890123456789"
                            "0123456789012345678901234567890123456789", "x");
    is_int((int) strlen(err.param), NGX_HTTP_MOA_FIELD_PATH - 1,
           "fail: a long name cut");
}


int
main(void)
{
    test_number();
    test_name();
    test_one_of();
    test_member();
    test_chars_and_silence();

    ngx_http_moa_json_free(&j);

    return done_testing();
}
