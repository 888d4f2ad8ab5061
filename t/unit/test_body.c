
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of stage bodies as lists of parts (ngx_http_moa_openai.[ch]):
 * references to text that lives elsewhere and glue the module writes,
 * merged when contiguous, flattened into the bytes sent; and the three
 * stage bodies flattened, byte for byte what the contiguous builders they
 * replaced produced for the same requests, templates and candidates.
 */


#include "util.h"
#include "ngx_http_moa_openai.h"
#include "ngx_http_moa_prompt.h"


#define S(s)  s, sizeof(s) - 1


static int
flat_is(const ngx_http_moa_body_t *b, const char *expected, size_t n)
{
    int                 rc;
    ngx_http_moa_buf_t  out;

    memset(&out, 0, sizeof(out));

    ngx_http_moa_body_flat(b, &out);

    rc = !out.nomem && out.len == n && b->len == n
         && (n == 0 || memcmp(out.data, expected, n) == 0);

    if (!rc) {
        diag("    flat '%.*s' (%zu bytes, len %zu)", (int) out.len,
             out.data ? out.data : "", out.len, b->len);
    }

    ngx_http_moa_buf_free(&out);

    return rc;
}


/* no two parts in a row are contiguous: they would have been merged */
static int
merged(const ngx_http_moa_body_t *b)
{
    size_t  i;

    for (i = 0; i + 1 < b->nparts; i++) {
        if (b->parts[i].len == 0
            || b->parts[i].p + b->parts[i].len == b->parts[i + 1].p)
        {
            return 0;
        }
    }

    return b->nparts == 0 || b->parts[b->nparts - 1].len > 0;
}


static void
test_parts(void)
{
    size_t               i, R;
    char                 text[8 * NGX_HTTP_MOA_BODY_COPY];
    ngx_http_moa_body_t  b;

    /* references of R bytes or more stay references; shorter are copied */
    R = NGX_HTTP_MOA_BODY_COPY;

    for (i = 0; i < sizeof(text); i++) {
        text[i] = (char) ('a' + i % 26);
    }

    memset(&b, 0, sizeof(b));

    ok(ngx_http_moa_body_done(&b) == 0 && b.nparts == 0 && b.len == 0,
       "an empty body");
    ok(flat_is(&b, "", 0), "an empty body flattens to nothing");

    ngx_http_moa_body_ref(&b, text, R);
    ngx_http_moa_body_ref(&b, text + R, R);
    is_int(b.nparts, 1, "contiguous references merge");
    ngx_http_moa_body_ref(&b, text + 3 * R, R);
    is_int(b.nparts, 2, "a gap: a new part");
    ngx_http_moa_body_ref(&b, text + 4 * R, 0);
    ngx_http_moa_body_ref(&b, NULL, 0);
    is_int(b.nparts, 2, "empty references add nothing");
    ok(b.parts[0].p == text && b.parts[0].len == 2 * R
       && b.parts[1].p == text + 3 * R && b.parts[1].len == R,
       "the parts refer");

    ngx_http_moa_body_lit(&b, "<");
    ngx_http_moa_body_add(&b, ">", 1);
    is_int(b.nparts, 3, "glue written in a row is one part");
    ok(b.parts[2].p == NULL && b.parts[2].off == 0 && b.parts[2].len == 2,
       "glue parts hold an offset until done");

    ngx_http_moa_body_ref(&b, text + 5, 3);
    is_int(b.nparts, 3, "a short reference is copied into the glue");
    is_int(b.parts[2].len, 5, "the copy extends the glue part");

    ngx_http_moa_body_ref(&b, text + 4 * R, R);
    ngx_http_moa_body_lit(&b, "!");
    is_int(b.nparts, 5, "glue after a reference is a new part");
    is_int(b.len, 4 * R + 6, "len counts every part");

    /* the glue moves as it grows: offsets survive */
    for (i = 0; i < 1000; i++) {
        ngx_http_moa_buf_lit(&b.glue, "x");
    }

    ngx_http_moa_body_glued(&b, b.glue.len - 1000);
    is_int(b.nparts, 5, "glue written directly, then glued, extends it");
    ngx_http_moa_body_ref(&b, text + 5 * R, R);
    is_int(b.nparts, 6, "a reference after glue is a new part");

    ok(ngx_http_moa_body_done(&b) == 0, "done");
    ok(b.parts[2].p == b.glue.data && b.parts[4].p == b.glue.data + 5,
       "done: glue parts point into the glue");
    ok(merged(&b), "no two contiguous parts in a row");

    {
        ngx_http_moa_buf_t  e;

        memset(&e, 0, sizeof(e));
        ngx_http_moa_buf_add(&e, text, 2 * R);
        ngx_http_moa_buf_add(&e, text + 3 * R, R);
        ngx_http_moa_buf_lit(&e, "<>");
        ngx_http_moa_buf_add(&e, text + 5, 3);
        ngx_http_moa_buf_add(&e, text + 4 * R, R);
        ngx_http_moa_buf_lit(&e, "!");

        for (i = 0; i < 1000; i++) {
            ngx_http_moa_buf_lit(&e, "x");
        }

        ngx_http_moa_buf_add(&e, text + 5 * R, R);

        ok(flat_is(&b, e.data, e.len), "flat: every part in order");
        ngx_http_moa_buf_free(&e);
    }

    /* flat appends */
    {
        ngx_http_moa_buf_t  out;

        memset(&out, 0, sizeof(out));
        ngx_http_moa_buf_lit(&out, "[");
        ngx_http_moa_body_flat(&b, &out);
        ok(out.len == b.len + 1 && out.data[0] == '[' && out.data[1] == 'a',
           "flat appends to what is there");
        ngx_http_moa_buf_free(&out);
    }

    ngx_http_moa_body_free(&b);
    ok(b.parts == NULL && b.nparts == 0 && b.len == 0 && b.glue.data == NULL
       && !b.nomem, "free clears");
    ngx_http_moa_body_free(&b);
    ok(1, "free twice is harmless");

    /* many parts: the list grows */
    for (i = 0; i < 100; i++) {
        ngx_http_moa_body_ref(&b, text + (i % 2) * 2 * R, R);
        ngx_http_moa_body_lit(&b, ",");
    }

    ok(ngx_http_moa_body_done(&b) == 0 && b.nparts == 200
       && b.len == 100 * R + 100, "200 parts");
    ok(b.nparts == 200 && b.parts[198].p == text + 2 * R
       && b.parts[199].p == b.glue.data + 99, "200 parts: the last two");
    ngx_http_moa_body_free(&b);

    /* a glue that ran out of memory: the body is refused */
    ngx_http_moa_body_lit(&b, "{");
    b.glue.nomem = 1;
    ngx_http_moa_body_lit(&b, "}");
    ok(b.nomem && ngx_http_moa_body_done(&b) == -1, "glue nomem: done -1");
    ngx_http_moa_body_free(&b);

    memset(&b, 0, sizeof(b));
    ngx_http_moa_body_ref(&b, text, R);
    b.nomem = 1;
    ngx_http_moa_body_ref(&b, text + 2 * R, R);
    ok(b.nparts == 1 && b.len == R && ngx_http_moa_body_done(&b) == -1,
       "nomem: nothing more is added, done -1");
    ngx_http_moa_body_free(&b);
}


/* random references and glue: flat is their concatenation */
static void
test_random(void)
{
    int                  i, k, bad;
    char                 text[512];
    size_t               off, len;
    uint64_t             st;
    ngx_http_moa_buf_t   expected;
    ngx_http_moa_body_t  b;

    for (i = 0; i < (int) sizeof(text); i++) {
        text[i] = (char) ('A' + i % 57);
    }

    memset(&expected, 0, sizeof(expected));
    st = 1;
    bad = 0;

    for (i = 0; i < 2000; i++) {
        memset(&b, 0, sizeof(b));
        expected.len = 0;
        off = 0;

        for (k = 0; k < 40; k++) {
            st = st * 6364136223846793005ULL + 1442695040888963407ULL;
            len = (st >> 40) % 9;

            switch ((st >> 20) % 4) {

            case 0:
                /* right after the previous reference, or anywhere */
                if ((st >> 50) % 2 == 0 || off + len > sizeof(text)) {
                    off = (st >> 30) % (sizeof(text) - 8);
                }

                ngx_http_moa_body_ref(&b, text + off, len);
                ngx_http_moa_buf_add(&expected, text + off, len);
                off += len;
                break;

            case 1:
                ngx_http_moa_body_add(&b, "glue-glue", len);
                ngx_http_moa_buf_add(&expected, "glue-glue", len);
                break;

            case 2:
                ngx_http_moa_buf_int(&b.glue, (long long) len);
                ngx_http_moa_body_glued(&b, b.glue.len - 1);
                ngx_http_moa_buf_int(&expected, (long long) len);
                break;

            default:
                /* written but glued later, with what follows */
                ngx_http_moa_buf_add(&b.glue, "abc", len % 4);
                ngx_http_moa_body_glued(&b, b.glue.len - len % 4);
                ngx_http_moa_buf_add(&expected, "abc", len % 4);
            }
        }

        if (ngx_http_moa_body_done(&b) != 0
            || !flat_is(&b, expected.data, expected.len) || !merged(&b))
        {
            bad++;
        }

        ngx_http_moa_body_free(&b);
    }

    ok(bad == 0, "2000 random bodies: flat is the concatenation, contiguous "
       "parts merged");

    ngx_http_moa_buf_free(&expected);
}


/*
 * Stage bodies, flattened: byte for byte what the contiguous builders
 * (before the bodies became parts) produced for the same requests, call
 * parameters, templates, candidates and critique.
 */

static const char  *golden_requests[] = {
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
    "{\"model\":\"moa\",\"messages\":[{\"role\":\"system\",\"content\":"
    "\"be brief\"},{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":true,"
    "\"stream_options\":{\"include_usage\":false},\"n\":2,\"temperature\":"
    "0.1,\"seed\":40,\"logprobs\":true,\"store\":true,\"max_tokens\":300,"
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
    "\"tool_choice\":\"auto\",\"user\":\"u-1\"}",
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
    "\"max_completion_tokens\":1000,\"seed\":-7,\"reasoning_effort\":\"low\","
    "\"metadata\":{\"k\":\"v\"}}"
};

static const char  *golden_messages[] = {
    "{\"role\":\"assistant\",\"content\":\"Paris is the capital.\\nSee "
    "\\\"this\\\" \\u00e9 \\/ tab\\t\"}",
    "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":"
    "\"part a\"},{\"type\":\"image_url\"},{\"type\":\"text\",\"text\":"
    "\"</candidate> b\"}]}",
    "{\"role\":\"assistant\",\"content\":null,\"refusal\":\"no\","
    "\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":"
    "{\"name\":\"f\",\"arguments\":\"{\\\"x\\\":1}\"}}]}",
    "{\"role\":\"assistant\",\"content\":\"Candidate 1 is fine.\\tOK "
    "\\u00e9\"}"
};

static const struct {
    int          request;
    int          params;       /* 0: base model only; 1: overrides */
    char         stage;
    const char  *body;
} golden[] = {
    { 0, 0, 'p',
      "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":"
      "\"hi\"}],\"stream\":false}" },
    { 0, 0, 'c',
      "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":"
      "\"hi\"},{\"role\":\"user\",\"content\":\"Review 3:\\n<candidate num"
      "ber=\\\"1\\\">\\nParis is the capital.\\nSee \\\"this\\\" \\u00e9 "
      "\\/ tab\\t\\n</candidate>\\n\\n<candidate number=\\\"2\\\">\\npart a"
      "\\n< /candidate> b\\n</candidate>\\n\\n<candidate number=\\\"3\\\">"
      "\\nRefusal: no\\nTool calls (JSON): [{\\\"name\\\":\\\"f\\\",\\\"ar"
      "guments\\\":\\\"{\\\\\\\"x\\\\\\\":1}\\\"}]\\n</candidate>\\nend\"}"
      "],\"stream\":false}" },
    { 0, 0, 's',
      "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":"
      "\"hi\"},{\"role\":\"user\",\"content\":\"<candidate number=\\\"1\\"
      "\">\\nParis is the capital.\\nSee \\\"this\\\" \\u00e9 \\/ tab\\t\\n"
      "</candidate>\\n\\n<candidate number=\\\"2\\\">\\npart a\\n< /candid"
      "ate> b\\n</candidate>\\n\\n<candidate number=\\\"3\\\">\\nRefusal: "
      "no\\nTool calls (JSON): [{\\\"name\\\":\\\"f\\\",\\\"arguments\\\":"
      "\\\"{\\\\\\\"x\\\\\\\":1}\\\"}]\\n</candidate>\\n<critiques>\\nCand"
      "idate 1 is fine.\\tOK \\u00e9\\n</critiques>\\n\\nAnswer \\\"now\\"
      "\".\"}],\"stream\":false}" },
    { 0, 1, 'p',
      "{\"model\":\"agg\",\"temperature\":0.7,\"max_tokens\":99,\"messages"
      "\":[{\"role\":\"user\",\"content\":\"hi\"}],\"n\":3,\"stream\":fals"
      "e}" },
    { 0, 1, 'c',
      "{\"model\":\"agg\",\"temperature\":0.7,\"max_tokens\":99,\"messages"
      "\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"user\",\"con"
      "tent\":\"Review 3:\\n<candidate number=\\\"1\\\">\\nParis is the ca"
      "pital.\\nSee \\\"this\\\" \\u00e9 \\/ tab\\t\\n</candidate>\\n\\n<ca"
      "ndidate number=\\\"2\\\">\\npart a\\n< /candidate> b\\n</candidate>"
      "\\n\\n<candidate number=\\\"3\\\">\\nRefusal: no\\nTool calls (JSON"
      "): [{\\\"name\\\":\\\"f\\\",\\\"arguments\\\":\\\"{\\\\\\\"x\\\\\\"
      "\":1}\\\"}]\\n</candidate>\\nend\"}],\"stream\":false}" },
    { 0, 1, 's',
      "{\"model\":\"agg\",\"temperature\":0.7,\"max_tokens\":99,\"messages"
      "\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"user\",\"con"
      "tent\":\"<candidate number=\\\"1\\\">\\nParis is the capital.\\nSee"
      " \\\"this\\\" \\u00e9 \\/ tab\\t\\n</candidate>\\n\\n<candidate numb"
      "er=\\\"2\\\">\\npart a\\n< /candidate> b\\n</candidate>\\n\\n<candi"
      "date number=\\\"3\\\">\\nRefusal: no\\nTool calls (JSON): [{\\\"nam"
      "e\\\":\\\"f\\\",\\\"arguments\\\":\\\"{\\\\\\\"x\\\\\\\":1}\\\"}]\\"
      "n</candidate>\\n<critiques>\\nCandidate 1 is fine.\\tOK \\u00e9\\n"
      "</critiques>\\n\\nAnswer \\\"now\\\".\"}],\"stream\":false}" },
    { 1, 0, 'p',
      "{\"max_tokens\":300,\"tools\":[{\"type\":\"function\",\"function\":"
      "{\"name\":\"f\"}}],\"tool_choice\":\"auto\",\"user\":\"u-1\",\"mode"
      "l\":\"gpt-4o\",\"messages\":[{\"role\":\"system\",\"content\":\"be "
      "brief\"},{\"role\":\"user\",\"content\":\"hi\"}],\"seed\":40,\"stre"
      "am\":false}" },
    { 1, 0, 'c',
      "{\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
      "\"user\":\"u-1\",\"tool_choice\":\"none\",\"model\":\"gpt-4o\",\"me"
      "ssages\":[{\"role\":\"system\",\"content\":\"be brief\"},{\"role\":"
      "\"user\",\"content\":\"hi\"},{\"role\":\"user\",\"content\":\"Revie"
      "w 3:\\n<candidate number=\\\"1\\\">\\nParis is the capital.\\nSee "
      "\\\"this\\\" \\u00e9 \\/ tab\\t\\n</candidate>\\n\\n<candidate numbe"
      "r=\\\"2\\\">\\npart a\\n< /candidate> b\\n</candidate>\\n\\n<candid"
      "ate number=\\\"3\\\">\\nRefusal: no\\nTool calls (JSON): [{\\\"name"
      "\\\":\\\"f\\\",\\\"arguments\\\":\\\"{\\\\\\\"x\\\\\\\":1}\\\"}]\\n"
      "</candidate>\\nend\"}],\"stream\":false}" },
    { 1, 0, 's',
      "{\"n\":2,\"temperature\":0.1,\"seed\":40,\"logprobs\":true,\"store"
      "\":true,\"max_tokens\":300,\"tools\":[{\"type\":\"function\",\"func"
      "tion\":{\"name\":\"f\"}}],\"tool_choice\":\"auto\",\"user\":\"u-1\""
      ",\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"system\",\"content"
      "\":\"be brief\"},{\"role\":\"user\",\"content\":\"hi\"},{\"role\":"
      "\"user\",\"content\":\"<candidate number=\\\"1\\\">\\nParis is the "
      "capital.\\nSee \\\"this\\\" \\u00e9 \\/ tab\\t\\n</candidate>\\n\\n<"
      "candidate number=\\\"2\\\">\\npart a\\n< /candidate> b\\n</candidat"
      "e>\\n\\n<candidate number=\\\"3\\\">\\nRefusal: no\\nTool calls (JS"
      "ON): [{\\\"name\\\":\\\"f\\\",\\\"arguments\\\":\\\"{\\\\\\\"x\\\\"
      "\\\":1}\\\"}]\\n</candidate>\\n<critiques>\\nCandidate 1 is fine.\\"
      "tOK \\u00e9\\n</critiques>\\n\\nAnswer \\\"now\\\".\"}],\"stream\""
      ":true,\"stream_options\":{\"include_usage\":true}}" },
    { 1, 1, 'p',
      "{\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
      "\"tool_choice\":\"auto\",\"user\":\"u-1\",\"model\":\"agg\",\"tempe"
      "rature\":0.7,\"max_tokens\":99,\"messages\":[{\"role\":\"system\","
      "\"content\":\"be brief\"},{\"role\":\"user\",\"content\":\"hi\"}],"
      "\"n\":3,\"seed\":41,\"stream\":false}" },
    { 1, 1, 'c',
      "{\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
      "\"user\":\"u-1\",\"tool_choice\":\"none\",\"model\":\"agg\",\"tempe"
      "rature\":0.7,\"max_tokens\":99,\"messages\":[{\"role\":\"system\","
      "\"content\":\"be brief\"},{\"role\":\"user\",\"content\":\"hi\"},{"
      "\"role\":\"user\",\"content\":\"Review 3:\\n<candidate number=\\\"1"
      "\\\">\\nParis is the capital.\\nSee \\\"this\\\" \\u00e9 \\/ tab\\t"
      "\\n</candidate>\\n\\n<candidate number=\\\"2\\\">\\npart a\\n< /can"
      "didate> b\\n</candidate>\\n\\n<candidate number=\\\"3\\\">\\nRefusa"
      "l: no\\nTool calls (JSON): [{\\\"name\\\":\\\"f\\\",\\\"arguments\\"
      "\":\\\"{\\\\\\\"x\\\\\\\":1}\\\"}]\\n</candidate>\\nend\"}],\"strea"
      "m\":false}" },
    { 1, 1, 's',
      "{\"n\":2,\"seed\":40,\"logprobs\":true,\"store\":true,\"tools\":[{"
      "\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice"
      "\":\"auto\",\"user\":\"u-1\",\"model\":\"agg\",\"temperature\":0.7,"
      "\"max_tokens\":99,\"messages\":[{\"role\":\"system\",\"content\":\""
      "be brief\"},{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"user"
      "\",\"content\":\"<candidate number=\\\"1\\\">\\nParis is the capita"
      "l.\\nSee \\\"this\\\" \\u00e9 \\/ tab\\t\\n</candidate>\\n\\n<candid"
      "ate number=\\\"2\\\">\\npart a\\n< /candidate> b\\n</candidate>\\n"
      "\\n<candidate number=\\\"3\\\">\\nRefusal: no\\nTool calls (JSON): "
      "[{\\\"name\\\":\\\"f\\\",\\\"arguments\\\":\\\"{\\\\\\\"x\\\\\\\":1"
      "}\\\"}]\\n</candidate>\\n<critiques>\\nCandidate 1 is fine.\\tOK "
      "\\u00e9\\n</critiques>\\n\\nAnswer \\\"now\\\".\"}],\"stream\":tru"
      "e,\"stream_options\":{\"include_usage\":true}}" },
    { 2, 0, 'p',
      "{\"max_completion_tokens\":1000,\"reasoning_effort\":\"low\",\"mode"
      "l\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}"
      "],\"seed\":-7,\"stream\":false}" },
    { 2, 0, 'c',
      "{\"reasoning_effort\":\"low\",\"model\":\"gpt-4o\",\"messages\":[{"
      "\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"user\",\"content"
      "\":\"Review 3:\\n<candidate number=\\\"1\\\">\\nParis is the capita"
      "l.\\nSee \\\"this\\\" \\u00e9 \\/ tab\\t\\n</candidate>\\n\\n<candid"
      "ate number=\\\"2\\\">\\npart a\\n< /candidate> b\\n</candidate>\\n"
      "\\n<candidate number=\\\"3\\\">\\nRefusal: no\\nTool calls (JSON): "
      "[{\\\"name\\\":\\\"f\\\",\\\"arguments\\\":\\\"{\\\\\\\"x\\\\\\\":1"
      "}\\\"}]\\n</candidate>\\nend\"}],\"stream\":false}" },
    { 2, 0, 's',
      "{\"max_completion_tokens\":1000,\"seed\":-7,\"reasoning_effort\":\""
      "low\",\"metadata\":{\"k\":\"v\"},\"model\":\"gpt-4o\",\"messages\":"
      "[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"user\",\"conten"
      "t\":\"<candidate number=\\\"1\\\">\\nParis is the capital.\\nSee \\"
      "\"this\\\" \\u00e9 \\/ tab\\t\\n</candidate>\\n\\n<candidate number="
      "\\\"2\\\">\\npart a\\n< /candidate> b\\n</candidate>\\n\\n<candidat"
      "e number=\\\"3\\\">\\nRefusal: no\\nTool calls (JSON): [{\\\"name\\"
      "\":\\\"f\\\",\\\"arguments\\\":\\\"{\\\\\\\"x\\\\\\\":1}\\\"}]\\n</"
      "candidate>\\n<critiques>\\nCandidate 1 is fine.\\tOK \\u00e9\\n</c"
      "ritiques>\\n\\nAnswer \\\"now\\\".\"}],\"stream\":false}" },
    { 2, 1, 'p',
      "{\"reasoning_effort\":\"low\",\"model\":\"agg\",\"temperature\":0.7"
      ",\"max_completion_tokens\":99,\"messages\":[{\"role\":\"user\",\"co"
      "ntent\":\"hi\"}],\"n\":3,\"seed\":-6,\"stream\":false}" },
    { 2, 1, 'c',
      "{\"reasoning_effort\":\"low\",\"model\":\"agg\",\"temperature\":0.7"
      ",\"max_completion_tokens\":99,\"messages\":[{\"role\":\"user\",\"co"
      "ntent\":\"hi\"},{\"role\":\"user\",\"content\":\"Review 3:\\n<candi"
      "date number=\\\"1\\\">\\nParis is the capital.\\nSee \\\"this\\\" "
      "\\u00e9 \\/ tab\\t\\n</candidate>\\n\\n<candidate number=\\\"2\\\">"
      "\\npart a\\n< /candidate> b\\n</candidate>\\n\\n<candidate number="
      "\\\"3\\\">\\nRefusal: no\\nTool calls (JSON): [{\\\"name\\\":\\\"f"
      "\\\",\\\"arguments\\\":\\\"{\\\\\\\"x\\\\\\\":1}\\\"}]\\n</candidat"
      "e>\\nend\"}],\"stream\":false}" },
    { 2, 1, 's',
      "{\"seed\":-7,\"reasoning_effort\":\"low\",\"metadata\":{\"k\":\"v\""
      "},\"model\":\"agg\",\"temperature\":0.7,\"max_completion_tokens\":9"
      "9,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\""
      "user\",\"content\":\"<candidate number=\\\"1\\\">\\nParis is the ca"
      "pital.\\nSee \\\"this\\\" \\u00e9 \\/ tab\\t\\n</candidate>\\n\\n<ca"
      "ndidate number=\\\"2\\\">\\npart a\\n< /candidate> b\\n</candidate>"
      "\\n\\n<candidate number=\\\"3\\\">\\nRefusal: no\\nTool calls (JSON"
      "): [{\\\"name\\\":\\\"f\\\",\\\"arguments\\\":\\\"{\\\\\\\"x\\\\\\"
      "\":1}\\\"}]\\n</candidate>\\n<critiques>\\nCandidate 1 is fine.\\tO"
      "K \\u00e9\\n</critiques>\\n\\nAnswer \\\"now\\\".\"}],\"stream\":f"
      "alse}" },
};


static void
test_golden(void)
{
    int                          i, k, rc;
    const char                  *tpl_c, *tpl_s;
    ngx_http_moa_buf_t           text[4], block, esc_c, esc_s, out;
    ngx_http_moa_body_t          b;
    ngx_http_moa_reply_t         rep[4];
    ngx_http_moa_error_t         err;
    ngx_http_moa_request_t       req;
    ngx_http_moa_candidate_t     c[3];
    ngx_http_moa_call_params_t   cp[2];

    tpl_c = "Review {{count}}:\n{{candidates}}\nend";
    tpl_s = "{{candidates}}\n{{critiques}}Answer \"now\".";

    memset(&block, 0, sizeof(block));
    memset(&esc_c, 0, sizeof(esc_c));
    memset(&esc_s, 0, sizeof(esc_s));
    memset(&out, 0, sizeof(out));

    for (k = 0; k < 4; k++) {
        memset(&text[k], 0, sizeof(ngx_http_moa_buf_t));
        ngx_http_moa_buf_lit(&text[k], "{\"choices\":[{\"message\":");
        ngx_http_moa_buf_cstr(&text[k], golden_messages[k]);
        ngx_http_moa_buf_lit(&text[k], "}]}");

        ok(ngx_http_moa_reply_parse(&rep[k], text[k].data, text[k].len, &err)
           == 0, "golden: reply %d", k);

        if (k < 3) {
            c[k].choice = &rep[k].choices[0];
        }
    }

    ok(ngx_http_moa_prompt_candidates(&block, c, 3) == 0, "golden: block");
    ngx_http_moa_buf_json_inner(&esc_c, tpl_c, strlen(tpl_c));
    ngx_http_moa_buf_json_inner(&esc_s, tpl_s, strlen(tpl_s));

    memset(cp, 0, sizeof(cp));
    cp[0].model = "gpt-4o";
    cp[0].model_len = 6;
    cp[1].model = "agg";
    cp[1].model_len = 3;
    cp[1].temperature = "0.7";
    cp[1].temperature_len = 3;
    cp[1].max_tokens = 99;
    cp[1].n = 3;
    cp[1].index = 1;

    for (i = 0; i < (int) (sizeof(golden) / sizeof(golden[0])); i++) {
        ok(ngx_http_moa_request_parse(&req, golden_requests[golden[i].request],
               strlen(golden_requests[golden[i].request]), &err) == 0,
           "golden %d: request parsed", i);

        memset(&b, 0, sizeof(b));

        switch (golden[i].stage) {
        case 'p':
            rc = ngx_http_moa_build_proposal(&b, &req, &cp[golden[i].params]);
            break;
        case 'c':
            rc = ngx_http_moa_build_critique(&b, &req, &cp[golden[i].params],
                                             esc_c.data, esc_c.len, &block,
                                             3);
            break;
        default:
            rc = ngx_http_moa_build_synthesis(&b, &req,
                                              &cp[golden[i].params],
                                              esc_s.data, esc_s.len, &block,
                                              3, &rep[3].choices[0]);
        }

        ok(rc == 0 && merged(&b), "golden %d: built", i);
        ok(flat_is(&b, golden[i].body, strlen(golden[i].body)),
           "golden %d: request %d, params %d, %c: the contiguous builder's "
           "bytes", i, golden[i].request, golden[i].params, golden[i].stage);

        out.len = 0;
        ngx_http_moa_body_flat(&b, &out);
        cJSON_Delete(json_ok(out.data, out.len, "golden body"));

        ngx_http_moa_body_free(&b);
        ngx_http_moa_request_free(&req);
    }

    for (k = 0; k < 4; k++) {
        ngx_http_moa_reply_free(&rep[k]);
        ngx_http_moa_buf_free(&text[k]);
    }

    ngx_http_moa_buf_free(&block);
    ngx_http_moa_buf_free(&esc_c);
    ngx_http_moa_buf_free(&esc_s);
    ngx_http_moa_buf_free(&out);
}


/*
 * Most of a body is the client's own bytes, referred to, not copied; what
 * is shorter than NGX_HTTP_MOA_BODY_COPY is copied.
 */
static void
test_refs(void)
{
    size_t                       i, refs;
    ngx_http_moa_buf_t           body, msgs, user, want;
    ngx_http_moa_body_t          b;
    ngx_http_moa_error_t         err;
    ngx_http_moa_request_t       req;
    ngx_http_moa_call_params_t   cp;

    memset(&body, 0, sizeof(body));
    memset(&msgs, 0, sizeof(msgs));
    memset(&user, 0, sizeof(user));
    memset(&want, 0, sizeof(want));

    ngx_http_moa_buf_lit(&msgs, "[{\"role\":\"user\",\"content\":\"");

    for (i = 0; i < NGX_HTTP_MOA_BODY_COPY; i++) {
        ngx_http_moa_buf_lit(&msgs, "m");
    }

    ngx_http_moa_buf_lit(&msgs, "\"}]");

    ngx_http_moa_buf_lit(&user, "\"user\":\"");

    for (i = 0; i < NGX_HTTP_MOA_BODY_COPY; i++) {
        ngx_http_moa_buf_lit(&user, "u");
    }

    ngx_http_moa_buf_lit(&user, "\"");

    ngx_http_moa_buf_lit(&body, "{\"model\":\"m\",\"messages\":");
    ngx_http_moa_buf_add(&body, msgs.data, msgs.len);
    ngx_http_moa_buf_lit(&body, ",");
    ngx_http_moa_buf_add(&body, user.data, user.len);
    ngx_http_moa_buf_lit(&body, ",\"tools\":[],\"top_p\":1}");

    ok(ngx_http_moa_request_parse(&req, body.data, body.len, &err) == 0,
       "parsed");

    memset(&cp, 0, sizeof(cp));
    cp.model = "g";
    cp.model_len = 1;
    memset(&b, 0, sizeof(b));

    ok(ngx_http_moa_build_proposal(&b, &req, &cp) == 0, "proposal");

    refs = 0;

    for (i = 0; i < b.nparts; i++) {
        if (b.parts[i].p >= body.data && b.parts[i].p < body.data + body.len)
        {
            refs += b.parts[i].len;
        }
    }

    is_int(refs, msgs.len + user.len,
           "proposal: the long member and the messages are references, "
           "the short members copies");

    ngx_http_moa_buf_lit(&want, "{");
    ngx_http_moa_buf_add(&want, user.data, user.len);
    ngx_http_moa_buf_lit(&want, ",\"tools\":[],\"top_p\":1,\"model\":"
                         "\"g\",\"messages\":");
    ngx_http_moa_buf_add(&want, msgs.data, msgs.len);
    ngx_http_moa_buf_lit(&want, ",\"stream\":false}");

    ok(flat_is(&b, want.data, want.len), "proposal: flat");

    ngx_http_moa_body_free(&b);
    ngx_http_moa_request_free(&req);
    ngx_http_moa_buf_free(&body);
    ngx_http_moa_buf_free(&msgs);
    ngx_http_moa_buf_free(&user);
    ngx_http_moa_buf_free(&want);
}


int
main(void)
{
    test_parts();
    test_random();
    test_refs();
    test_golden();

    return done_testing();
}
