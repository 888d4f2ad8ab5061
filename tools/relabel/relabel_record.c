
/*
 * moa-relabel: pure record handling.  Input records are never re-serialised:
 * a small validating scanner finds the byte ranges of the fields that matter
 * and everything else is copied verbatim.
 */


#define _GNU_SOURCE

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "relabel.h"


typedef unsigned char  u_char;


typedef struct {
    size_t                key_start;    /* at the opening quote */
    size_t                key_end;      /* after the closing quote */
    size_t                val_start;
    size_t                val_end;
} relabel_member_t;


static void relabel_ws(const char *p, size_t n, size_t *i);
static int relabel_skip_string(const char *p, size_t n, size_t *i);
static int relabel_skip_number(const char *p, size_t n, size_t *i);
static int relabel_object_next(const char *p, size_t n, size_t *i,
    int *first, relabel_member_t *m);
static int relabel_array_next(const char *p, size_t n, size_t *i,
    int *first, relabel_span_t *el);
static int relabel_str_eq(const char *p, size_t start, size_t end,
    const char *s);
static size_t relabel_utf8_seq(const u_char *p, size_t n);
static int relabel_hex(int c);
static int relabel_buf_add_base64(relabel_buf_t *b, const char *p, size_t n);
static int relabel_reject_tail(relabel_buf_t *b, const char *p, size_t n);


int
relabel_buf_reserve(relabel_buf_t *b, size_t more)
{
    char    *p;
    size_t   cap;

    if (b->len + more + 1 <= b->cap) {
        return 0;
    }

    cap = b->cap ? b->cap : 256;

    while (cap < b->len + more + 1) {
        if (cap > SIZE_MAX / 2) {
            return -1;
        }
        cap *= 2;
    }

    p = realloc(b->data, cap);
    if (p == NULL) {
        return -1;
    }

    b->data = p;
    b->cap = cap;

    return 0;
}


int
relabel_buf_add(relabel_buf_t *b, const void *p, size_t n)
{
    if (relabel_buf_reserve(b, n) != 0) {
        return -1;
    }

    if (n) {
        memcpy(b->data + b->len, p, n);
    }

    b->len += n;
    b->data[b->len] = '\0';

    return 0;
}


int
relabel_buf_adds(relabel_buf_t *b, const char *s)
{
    return relabel_buf_add(b, s, strlen(s));
}


int
relabel_buf_printf(relabel_buf_t *b, const char *fmt, ...)
{
    int      n;
    va_list  ap;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);

    if (n < 0 || relabel_buf_reserve(b, (size_t) n) != 0) {
        return -1;
    }

    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
    va_end(ap);

    b->len += n;

    return 0;
}


/*
 * Appends p as a JSON string.  Bytes that are not valid UTF-8 become U+FFFD:
 * JSON cannot carry them, and strict readers refuse the whole line otherwise.
 */

int
relabel_buf_add_json_string(relabel_buf_t *b, const char *p, size_t n)
{
    u_char             c;
    size_t             i, k;
    char               esc[8];
    static const char  hex[] = "0123456789abcdef";

    if (relabel_buf_reserve(b, n + 2) != 0) {
        return -1;
    }

    b->data[b->len++] = '"';

    for (i = 0; i < n; /* void */) {
        c = (u_char) p[i];

        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            if (relabel_buf_reserve(b, 1) != 0) {
                return -1;
            }
            b->data[b->len++] = (char) c;
            i++;
            continue;
        }

        if (c >= 0x80) {
            k = relabel_utf8_seq((const u_char *) p + i, n - i);

            if (k == 0) {
                if (relabel_buf_add(b, "\\ufffd", 6) != 0) {
                    return -1;
                }
                i++;
                continue;
            }

            if (relabel_buf_add(b, p + i, k) != 0) {
                return -1;
            }
            i += k;
            continue;
        }

        switch (c) {
        case '"':  memcpy(esc, "\\\"", 3); break;
        case '\\': memcpy(esc, "\\\\", 3); break;
        case '\n': memcpy(esc, "\\n", 3); break;
        case '\r': memcpy(esc, "\\r", 3); break;
        case '\t': memcpy(esc, "\\t", 3); break;
        case '\b': memcpy(esc, "\\b", 3); break;
        case '\f': memcpy(esc, "\\f", 3); break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0x0f];
            esc[6] = '\0';
        }

        if (relabel_buf_adds(b, esc) != 0) {
            return -1;
        }
        i++;
    }

    if (relabel_buf_add(b, "\"", 1) != 0) {
        return -1;
    }

    return 0;
}


void
relabel_buf_free(relabel_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}


static int
relabel_buf_add_base64(relabel_buf_t *b, const char *p, size_t n)
{
    size_t             i;
    uint32_t           v;
    const u_char      *s;
    static const char  tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    if (relabel_buf_reserve(b, (n + 2) / 3 * 4 + 2) != 0) {
        return -1;
    }

    s = (const u_char *) p;
    b->data[b->len++] = '"';

    for (i = 0; i + 2 < n; i += 3) {
        v = (uint32_t) s[i] << 16 | (uint32_t) s[i + 1] << 8 | s[i + 2];
        b->data[b->len++] = tab[v >> 18];
        b->data[b->len++] = tab[(v >> 12) & 63];
        b->data[b->len++] = tab[(v >> 6) & 63];
        b->data[b->len++] = tab[v & 63];
    }

    if (i < n) {
        v = (uint32_t) s[i] << 16;
        if (i + 1 < n) {
            v |= (uint32_t) s[i + 1] << 8;
        }
        b->data[b->len++] = tab[v >> 18];
        b->data[b->len++] = tab[(v >> 12) & 63];
        b->data[b->len++] = (i + 1 < n) ? tab[(v >> 6) & 63] : '=';
        b->data[b->len++] = '=';
    }

    b->data[b->len++] = '"';
    b->data[b->len] = '\0';

    return 0;
}


/* length of the valid UTF-8 sequence at p, 0 if there is none */

static size_t
relabel_utf8_seq(const u_char *p, size_t n)
{
    u_char  c, lo, hi;
    size_t  len, i;

    c = p[0];

    if (c < 0x80) {
        return 1;
    }

    lo = 0x80;
    hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;

    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0) {
            lo = 0xa0;
        } else if (c == 0xed) {
            hi = 0x9f;      /* no UTF-16 surrogates */
        }

    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0) {
            lo = 0x90;
        } else if (c == 0xf4) {
            hi = 0x8f;
        }

    } else {
        return 0;
    }

    if (n < len || p[1] < lo || p[1] > hi) {
        return 0;
    }

    for (i = 2; i < len; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }
    }

    return len;
}


int
relabel_utf8_valid(const char *p, size_t n)
{
    size_t  i, k;

    for (i = 0; i < n; i += k) {
        k = relabel_utf8_seq((const u_char *) p + i, n - i);
        if (k == 0) {
            return 0;
        }
    }

    return 1;
}


static void
relabel_ws(const char *p, size_t n, size_t *i)
{
    while (*i < n
           && (p[*i] == ' ' || p[*i] == '\t' || p[*i] == '\n'
               || p[*i] == '\r'))
    {
        (*i)++;
    }
}


static int
relabel_hex(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


static int
relabel_skip_string(const char *p, size_t n, size_t *i)
{
    size_t  k, j;
    u_char  c;

    for (k = *i + 1; k < n; /* void */) {
        c = (u_char) p[k];

        if (c == '"') {
            *i = k + 1;
            return 0;
        }

        if (c < 0x20) {
            return -1;
        }

        if (c != '\\') {
            k++;
            continue;
        }

        if (k + 1 >= n) {
            return -1;
        }

        switch (p[k + 1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n':
        case 'r': case 't':
            k += 2;
            break;

        case 'u':
            if (k + 5 >= n) {
                return -1;
            }
            for (j = k + 2; j < k + 6; j++) {
                if (relabel_hex((u_char) p[j]) < 0) {
                    return -1;
                }
            }
            k += 6;
            break;

        default:
            return -1;
        }
    }

    return -1;
}


static int
relabel_skip_number(const char *p, size_t n, size_t *i)
{
    size_t  k, d;

    k = *i;

    if (k < n && p[k] == '-') {
        k++;
    }

    if (k < n && p[k] == '0') {
        k++;

    } else {
        for (d = k; k < n && p[k] >= '0' && p[k] <= '9'; k++) { /* void */ }
        if (k == d) {
            return -1;
        }
    }

    if (k < n && p[k] == '.') {
        k++;
        for (d = k; k < n && p[k] >= '0' && p[k] <= '9'; k++) { /* void */ }
        if (k == d) {
            return -1;
        }
    }

    if (k < n && (p[k] == 'e' || p[k] == 'E')) {
        k++;
        if (k < n && (p[k] == '+' || p[k] == '-')) {
            k++;
        }
        for (d = k; k < n && p[k] >= '0' && p[k] <= '9'; k++) { /* void */ }
        if (k == d) {
            return -1;
        }
    }

    *i = k;

    return 0;
}


/*
 * Validates and skips one JSON value starting at *pos (no leading
 * whitespace); *pos ends right after it.
 */

int
relabel_json_skip(const char *p, size_t n, size_t *pos, int depth)
{
    int               first;
    size_t            i;
    relabel_span_t    el;
    relabel_member_t  m;

    i = *pos;

    if (i >= n) {
        return -1;
    }

    if (depth > RELABEL_MAX_DEPTH) {
        return -1;
    }

    switch (p[i]) {

    case '"':
        if (relabel_skip_string(p, n, &i) != 0) {
            return -1;
        }
        break;

    case '{':
        i++;
        first = 1;
        for ( ;; ) {
            switch (relabel_object_next(p, n, &i, &first, &m)) {
            case 1:
                if (relabel_json_skip(p, n, &i, depth + 1) != 0) {
                    return -1;
                }
                continue;
            case 0:
                goto done;
            default:
                return -1;
            }
        }

    case '[':
        i++;
        first = 1;
        for ( ;; ) {
            switch (relabel_array_next(p, n, &i, &first, &el)) {
            case 1:
                if (relabel_json_skip(p, n, &i, depth + 1) != 0) {
                    return -1;
                }
                continue;
            case 0:
                goto done;
            default:
                return -1;
            }
        }

    case 't':
        if (n - i < 4 || memcmp(p + i, "true", 4) != 0) {
            return -1;
        }
        i += 4;
        break;

    case 'f':
        if (n - i < 5 || memcmp(p + i, "false", 5) != 0) {
            return -1;
        }
        i += 5;
        break;

    case 'n':
        if (n - i < 4 || memcmp(p + i, "null", 4) != 0) {
            return -1;
        }
        i += 4;
        break;

    default:
        if (relabel_skip_number(p, n, &i) != 0) {
            return -1;
        }
    }

done:

    *pos = i;

    return 0;
}


/*
 * Object iteration.  *i starts after '{'.  Returns 1 with the key in m and
 * *i at the value (the caller skips it, setting m->val_end), 0 after the
 * closing '}', -1 on a syntax error.
 */

static int
relabel_object_next(const char *p, size_t n, size_t *i, int *first,
    relabel_member_t *m)
{
    relabel_ws(p, n, i);

    if (*i >= n) {
        return -1;
    }

    if (p[*i] == '}' && *first) {
        (*i)++;
        return 0;
    }

    if (!*first) {
        if (p[*i] == '}') {
            (*i)++;
            return 0;
        }

        if (p[*i] != ',') {
            return -1;
        }

        (*i)++;
        relabel_ws(p, n, i);
    }

    *first = 0;

    if (*i >= n || p[*i] != '"') {
        return -1;
    }

    m->key_start = *i;

    if (relabel_skip_string(p, n, i) != 0) {
        return -1;
    }

    m->key_end = *i;

    relabel_ws(p, n, i);

    if (*i >= n || p[*i] != ':') {
        return -1;
    }

    (*i)++;
    relabel_ws(p, n, i);

    m->val_start = *i;

    return 1;
}


/* like relabel_object_next() for arrays: el->start is the element */

static int
relabel_array_next(const char *p, size_t n, size_t *i, int *first,
    relabel_span_t *el)
{
    relabel_ws(p, n, i);

    if (*i >= n) {
        return -1;
    }

    if (p[*i] == ']') {
        (*i)++;
        return 0;
    }

    if (!*first) {
        if (p[*i] != ',') {
            return -1;
        }

        (*i)++;
        relabel_ws(p, n, i);
    }

    *first = 0;
    el->start = *i;

    return 1;
}


/* does the JSON string p[start, end) (with quotes) decode to s (ASCII)? */

static int
relabel_str_eq(const char *p, size_t start, size_t end, const char *s)
{
    int     c, h, k;
    size_t  i;

    for (i = start + 1; i < end - 1; /* void */) {
        c = (u_char) p[i];

        if (c == '\\') {
            switch (p[i + 1]) {
            case 'u':
                c = 0;
                for (k = 2; k < 6; k++) {
                    h = relabel_hex((u_char) p[i + k]);
                    c = c * 16 + h;
                }
                if (c == 0 || c >= 0x80) {
                    return 0;
                }
                i += 6;
                break;
            case 'b': c = '\b'; i += 2; break;
            case 'f': c = '\f'; i += 2; break;
            case 'n': c = '\n'; i += 2; break;
            case 'r': c = '\r'; i += 2; break;
            case 't': c = '\t'; i += 2; break;
            default:  c = (u_char) p[i + 1]; i += 2;
            }

        } else {
            i++;
        }

        if (*s == '\0' || c != (u_char) *s) {
            return 0;
        }

        s++;
    }

    return *s == '\0';
}


/*
 * Splits a record.  Returns NULL, or why the line cannot be relabeled
 * (a constant string).
 */

const char *
relabel_record_split(const char *p, size_t n, relabel_record_t *rec)
{
    int               first, mfirst, afirst, have_role, role_assistant;
    size_t            i, j;
    relabel_span_t    el, *dst;
    relabel_member_t  m, mm;

    memset(rec, 0, sizeof(relabel_record_t));

    i = 0;
    relabel_ws(p, n, &i);

    if (i >= n) {
        return "empty line";
    }

    if (p[i] != '{') {
        if (relabel_json_skip(p, n, &i, 0) != 0) {
            return "invalid JSON";
        }
        return "not a JSON object";
    }

    i++;
    first = 1;

    for ( ;; ) {
        switch (relabel_object_next(p, n, &i, &first, &m)) {
        case 1:
            break;
        case 0:
            goto members_done;
        default:
            return "invalid JSON";
        }

        if (relabel_json_skip(p, n, &i, 1) != 0) {
            return "invalid JSON";
        }

        m.val_end = i;
        dst = NULL;

        /* the first of duplicate keys wins, as with cJSON */

        if (relabel_str_eq(p, m.key_start, m.key_end, "messages")) {
            dst = &rec->messages;

        } else if (relabel_str_eq(p, m.key_start, m.key_end, "tools")) {
            dst = &rec->tools;

        } else if (relabel_str_eq(p, m.key_start, m.key_end, "tool_choice")) {
            dst = &rec->tool_choice;

        } else if (relabel_str_eq(p, m.key_start, m.key_end,
                                  "parallel_tool_calls"))
        {
            dst = &rec->parallel_tool_calls;
        }

        if (dst && dst->end == 0) {
            dst->start = m.val_start;
            dst->end = m.val_end;
        }
    }

members_done:

    relabel_ws(p, n, &i);

    if (i != n) {
        return "invalid JSON: garbage after the record";
    }

    if (rec->messages.end == 0) {
        return "no messages";
    }

    if (p[rec->messages.start] != '[') {
        return "messages is not an array";
    }

    i = rec->messages.start + 1;
    afirst = 1;

    while (relabel_array_next(p, n, &i, &afirst, &el) == 1) {
        (void) relabel_json_skip(p, n, &i, 2);
        el.end = i;

        rec->keep_end = rec->last.end;
        rec->last = el;
        rec->nmessages++;
    }

    if (rec->nmessages == 0) {
        return "no messages";
    }

    if (p[rec->last.start] != '{') {
        return "the last message is not an object";
    }

    /* the role of the last message, and its "weight" */

    have_role = 0;
    role_assistant = 0;
    j = rec->last.start + 1;
    mfirst = 1;

    while (relabel_object_next(p, n, &j, &mfirst, &mm) == 1) {
        (void) relabel_json_skip(p, n, &j, 3);
        mm.val_end = j;

        if (relabel_str_eq(p, mm.key_start, mm.key_end, "role")
            && !have_role)
        {
            have_role = 1;
            role_assistant = p[mm.val_start] == '"'
                             && relabel_str_eq(p, mm.val_start, mm.val_end,
                                               "assistant");

        } else if (relabel_str_eq(p, mm.key_start, mm.key_end, "weight")
                   && rec->weight.end == 0)
        {
            rec->weight.start = mm.val_start;
            rec->weight.end = mm.val_end;
        }
    }

    if (!have_role) {
        return "the last message has no role";
    }

    if (role_assistant) {
        if (rec->nmessages == 1) {
            return "no messages before the final assistant message";
        }

        rec->replace = 1;

    } else {
        rec->replace = 0;
        rec->keep_end = rec->last.end;
        rec->weight.start = 0;
        rec->weight.end = 0;
    }

    return NULL;
}


int
relabel_request_build(relabel_buf_t *b, const char *p,
    const relabel_record_t *rec, const char *model,
    const relabel_param_t *params, size_t nparams)
{
    size_t  k, end;

    /*
     * Replacing: the array up to the message before the answer, closed
     * again; appending: the whole array.  Both byte for byte.
     */

    end = rec->replace ? rec->keep_end : rec->messages.end;

    b->len = 0;

    if (relabel_buf_adds(b, "{\"model\":") != 0
        || relabel_buf_add_json_string(b, model, strlen(model)) != 0
        || relabel_buf_adds(b, ",\"messages\":") != 0
        || relabel_buf_add(b, p + rec->messages.start,
                           end - rec->messages.start) != 0
        || (rec->replace && relabel_buf_add(b, "]", 1) != 0))
    {
        return -1;
    }

    if (rec->tools.end
        && (relabel_buf_adds(b, ",\"tools\":") != 0
            || relabel_buf_add(b, p + rec->tools.start,
                               rec->tools.end - rec->tools.start) != 0))
    {
        return -1;
    }

    if (rec->tool_choice.end
        && (relabel_buf_adds(b, ",\"tool_choice\":") != 0
            || relabel_buf_add(b, p + rec->tool_choice.start,
                               rec->tool_choice.end - rec->tool_choice.start)
               != 0))
    {
        return -1;
    }

    if (rec->parallel_tool_calls.end
        && (relabel_buf_adds(b, ",\"parallel_tool_calls\":") != 0
            || relabel_buf_add(b, p + rec->parallel_tool_calls.start,
                               rec->parallel_tool_calls.end
                               - rec->parallel_tool_calls.start) != 0))
    {
        return -1;
    }

    for (k = 0; k < nparams; k++) {

        /* the record's own value wins over a command line default */

        if ((rec->tools.end && strcmp(params[k].key, "tools") == 0)
            || (rec->tool_choice.end
                && strcmp(params[k].key, "tool_choice") == 0)
            || (rec->parallel_tool_calls.end
                && strcmp(params[k].key, "parallel_tool_calls") == 0))
        {
            continue;
        }

        if (relabel_buf_add(b, ",", 1) != 0
            || relabel_buf_add_json_string(b, params[k].key,
                                           strlen(params[k].key)) != 0
            || relabel_buf_add(b, ":", 1) != 0
            || relabel_buf_adds(b, params[k].value) != 0)
        {
            return -1;
        }
    }

    return relabel_buf_add(b, "}", 1);
}


/*
 * Parses a chat.completion reply into the new assistant message:
 * {"role":"assistant","content":...} plus "tool_calls" when there are some.
 */

int
relabel_answer_parse(const char *body, size_t len, relabel_answer_t *a,
    char *err, size_t errlen)
{
    int     have_calls, have_text;
    char   *text;
    cJSON  *root, *choices, *c0, *msg, *content, *calls, *usage, *v, *out;
    cJSON  *refusal, *fr;

    memset(a, 0, sizeof(relabel_answer_t));

    root = cJSON_ParseWithLength(body, len);
    if (root == NULL || !cJSON_IsObject(root)) {
        snprintf(err, errlen, "the reply is not a JSON object");
        cJSON_Delete(root);
        return -1;
    }

    choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    c0 = cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) : NULL;
    msg = c0 ? cJSON_GetObjectItemCaseSensitive(c0, "message") : NULL;

    if (!cJSON_IsObject(msg)) {
        snprintf(err, errlen, "the reply has no choices[0].message");
        cJSON_Delete(root);
        return -1;
    }

    fr = cJSON_GetObjectItemCaseSensitive(c0, "finish_reason");
    if (cJSON_IsString(fr)) {
        snprintf(a->finish_reason, sizeof(a->finish_reason), "%s",
                 fr->valuestring);
    }

    content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    calls = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");

    have_calls = cJSON_IsArray(calls) && cJSON_GetArraySize(calls) > 0;
    have_text = cJSON_IsString(content) && content->valuestring[0] != '\0';

    if (!have_calls && !have_text) {
        refusal = cJSON_GetObjectItemCaseSensitive(msg, "refusal");
        snprintf(err, errlen, "the reply has no answer (finish_reason %s%s%s)",
                 a->finish_reason[0] ? a->finish_reason : "none",
                 cJSON_IsString(refusal) ? ", refusal: " : "",
                 cJSON_IsString(refusal) ? refusal->valuestring : "");
        cJSON_Delete(root);
        return -1;
    }

    usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
    if (cJSON_IsObject(usage)) {
        v = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens");
        if (cJSON_IsNumber(v) && v->valuedouble > 0) {
            a->prompt_tokens = (long long) v->valuedouble;
        }
        v = cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens");
        if (cJSON_IsNumber(v) && v->valuedouble > 0) {
            a->completion_tokens = (long long) v->valuedouble;
        }
    }

    out = cJSON_CreateObject();
    if (out == NULL
        || cJSON_AddStringToObject(out, "role", "assistant") == NULL
        || (have_text
            ? cJSON_AddStringToObject(out, "content", content->valuestring)
            : cJSON_AddNullToObject(out, "content")) == NULL)
    {
        goto nomem;
    }

    if (have_calls) {
        v = cJSON_Duplicate(calls, 1);
        if (v == NULL) {
            goto nomem;
        }
        cJSON_AddItemToObject(out, "tool_calls", v);
    }

    text = cJSON_PrintUnformatted(out);
    if (text == NULL) {
        goto nomem;
    }

    cJSON_Delete(out);
    cJSON_Delete(root);

    a->message = text;
    a->message_len = strlen(text);

    return 0;

nomem:

    cJSON_Delete(out);
    cJSON_Delete(root);
    snprintf(err, errlen, "out of memory");

    return -1;
}


void
relabel_answer_free(relabel_answer_t *a)
{
    cJSON_free(a->message);
    a->message = NULL;
}


/* the output line: the record with the answer spliced in, and '\n' */

int
relabel_output_build(relabel_buf_t *b, const char *p, size_t n,
    const relabel_record_t *rec, const char *msg, size_t mlen)
{
    b->len = 0;

    if (rec->replace) {
        if (relabel_buf_add(b, p, rec->last.start) != 0) {
            return -1;
        }

    } else {
        if (relabel_buf_add(b, p, rec->last.end) != 0
            || relabel_buf_add(b, ",", 1) != 0)
        {
            return -1;
        }
    }

    if (rec->replace && rec->weight.end && mlen > 0) {
        /* keep the fine-tuning "weight" of the message being replaced */
        if (relabel_buf_add(b, msg, mlen - 1) != 0
            || relabel_buf_adds(b, ",\"weight\":") != 0
            || relabel_buf_add(b, p + rec->weight.start,
                               rec->weight.end - rec->weight.start) != 0
            || relabel_buf_add(b, "}", 1) != 0)
        {
            return -1;
        }

    } else if (relabel_buf_add(b, msg, mlen) != 0) {
        return -1;
    }

    if (relabel_buf_add(b, p + rec->last.end, n - rec->last.end) != 0
        || relabel_buf_add(b, "\n", 1) != 0)
    {
        return -1;
    }

    return 0;
}


/*
 * Is out (one OUT line, without '\n') the output of input record p?  It
 * must be p with only the answer differing.  0 if so.
 */

int
relabel_output_check(const char *p, size_t n, const relabel_record_t *rec,
    const char *out, size_t outlen)
{
    size_t  pre, suf, i, end;

    pre = rec->replace ? rec->last.start : rec->last.end;
    suf = n - rec->last.end;

    if (outlen < pre + suf + 2
        || memcmp(out, p, pre) != 0
        || memcmp(out + outlen - suf, p + rec->last.end, suf) != 0)
    {
        return -1;
    }

    i = pre;
    end = outlen - suf;

    if (!rec->replace) {
        if (out[i] != ',') {
            return -1;
        }
        i++;
    }

    if (i >= end || out[i] != '{') {
        return -1;
    }

    if (relabel_json_skip(out, end, &i, 0) != 0 || i != end) {
        return -1;
    }

    return 0;
}


/*
 * {"line":N,"error":"...","status":S,"attempts":A,"record":"..."}
 * The record comes last so a resumed run can check it byte for byte; lines
 * that are not valid UTF-8 also get their exact bytes in "record_base64".
 */

int
relabel_reject_build(relabel_buf_t *b, unsigned long line, const char *error,
    long status, unsigned attempts, const char *p, size_t n)
{
    b->len = 0;

    if (relabel_buf_printf(b, "{\"line\":%lu,\"error\":", line) != 0
        || relabel_buf_add_json_string(b, error, strlen(error)) != 0)
    {
        return -1;
    }

    if (status > 0 && relabel_buf_printf(b, ",\"status\":%ld", status) != 0) {
        return -1;
    }

    if (relabel_buf_printf(b, ",\"attempts\":%u", attempts) != 0
        || relabel_reject_tail(b, p, n) != 0
        || relabel_buf_add(b, "\n", 1) != 0)
    {
        return -1;
    }

    return 0;
}


/* the end of a rejects line, from the record on */

static int
relabel_reject_tail(relabel_buf_t *b, const char *p, size_t n)
{
    if (!relabel_utf8_valid(p, n)
        && (relabel_buf_adds(b, ",\"record_base64\":") != 0
            || relabel_buf_add_base64(b, p, n) != 0))
    {
        return -1;
    }

    if (relabel_buf_adds(b, ",\"record\":") != 0
        || relabel_buf_add_json_string(b, p, n) != 0
        || relabel_buf_add(b, "}", 1) != 0)
    {
        return -1;
    }

    return 0;
}


/*
 * Reads a rejects line (without '\n'): its line number, and whether its
 * record is input line p.  0 ok, -1 not a rejects line, -2 other record.
 */

int
relabel_reject_check(const char *line, size_t len, const char *p, size_t n,
    unsigned long *lineno)
{
    int            rc;
    cJSON         *root, *v;
    relabel_buf_t  b;

    root = cJSON_ParseWithLength(line, len);
    if (root == NULL) {
        return -1;
    }

    v = cJSON_GetObjectItemCaseSensitive(root, "line");
    if (!cJSON_IsNumber(v) || v->valuedouble < 1
        || v->valuedouble != floor(v->valuedouble))
    {
        cJSON_Delete(root);
        return -1;
    }

    *lineno = (unsigned long) v->valuedouble;
    cJSON_Delete(root);

    if (p == NULL) {
        return 0;
    }

    memset(&b, 0, sizeof(relabel_buf_t));

    if (relabel_reject_tail(&b, p, n) != 0) {
        relabel_buf_free(&b);
        return -1;
    }

    rc = (len >= b.len && memcmp(line + len - b.len, b.data, b.len) == 0)
         ? 0 : -2;

    relabel_buf_free(&b);

    return rc;
}


/* a short, single-line description of an error reply */

void
relabel_error_text(const char *body, size_t len, char *out, size_t outlen)
{
    char         c;
    size_t       i, k;
    cJSON       *root, *e, *m;
    const char  *t, *te;

    if (outlen == 0) {
        return;
    }

    out[0] = '\0';

    root = cJSON_ParseWithLength(body, len);
    if (root) {
        e = cJSON_GetObjectItemCaseSensitive(root, "error");
        m = cJSON_IsObject(e)
            ? cJSON_GetObjectItemCaseSensitive(e, "message")
            : cJSON_IsString(e) ? e
            : cJSON_GetObjectItemCaseSensitive(root, "message");

        if (cJSON_IsString(m)) {
            snprintf(out, outlen, "%s", m->valuestring);
        }

        cJSON_Delete(root);
    }

    if (out[0] == '\0') {
        /* an HTML error page (nginx's own, a proxy's): its title */
        t = memmem(body, len, "<title>", 7);
        te = t ? memmem(t, len - (t - body), "</title>", 8) : NULL;

        if (te) {
            body = t + 7;
            len = te - body;
        }

        k = len < outlen - 1 ? len : outlen - 1;
        memcpy(out, body, k);
        out[k] = '\0';
    }

    /* one line, single spaces */

    for (i = 0, k = 0; out[i]; i++) {
        c = (u_char) out[i] < 0x20 ? ' ' : out[i];

        if (c == ' ' && (k == 0 || out[k - 1] == ' ')) {
            continue;
        }

        out[k++] = c;
    }

    while (k > 0 && out[k - 1] == ' ') {
        k--;
    }

    out[k] = '\0';
    i = k;

    /* a UTF-8 sequence cut in the middle */

    k = i;
    while (k > 0 && ((u_char) out[k - 1] & 0xc0) == 0x80) {
        k--;
    }

    if (k > 0 && (u_char) out[k - 1] >= 0xc0
        && relabel_utf8_seq((u_char *) out + k - 1, i - k + 1) == 0)
    {
        out[k - 1] = '\0';
    }
}


/* KEY=VALUE; VALUE is taken as JSON when it is valid JSON, else a string */

int
relabel_param_parse(const char *arg, relabel_param_t *param)
{
    size_t          klen, vlen, i;
    const char     *eq, *v;
    relabel_buf_t   b;

    eq = strchr(arg, '=');
    if (eq == NULL || eq == arg) {
        return -1;
    }

    klen = eq - arg;
    v = eq + 1;
    vlen = strlen(v);

    param->key = strndup(arg, klen);
    if (param->key == NULL) {
        return -1;
    }

    memset(&b, 0, sizeof(relabel_buf_t));
    i = 0;

    while (i < vlen && (v[i] == ' ' || v[i] == '\t')) {
        i++;
    }

    if (i < vlen && relabel_json_skip(v, vlen, &i, 0) == 0) {
        while (i < vlen && (v[i] == ' ' || v[i] == '\t')) {
            i++;
        }
    } else {
        i = (size_t) -1;
    }

    if (i == vlen) {
        param->value = strdup(v);

    } else {
        if (relabel_buf_add_json_string(&b, v, vlen) != 0) {
            free(param->key);
            return -1;
        }
        param->value = b.data;
    }

    if (param->value == NULL) {
        free(param->key);
        return -1;
    }

    return 0;
}


/*
 * The delay a reply asks for, in ms: retry-after-ms first (what the OpenAI
 * SDKs read), then Retry-After as delta-seconds or an HTTP date; -1 if
 * neither is there or usable.
 */

long long
relabel_retry_after_ms(const char *retry_after_ms, const char *retry_after,
    time_t now)
{
    char    *end;
    double   d;
    time_t   t;

    if (retry_after_ms && *retry_after_ms) {
        errno = 0;
        d = strtod(retry_after_ms, &end);

        while (*end == ' ' || *end == '\t') {
            end++;
        }

        if (errno == 0 && end != retry_after_ms && *end == '\0'
            && isfinite(d) && d >= 0 && d < 1e12)
        {
            return (long long) ceil(d);
        }
    }

    if (retry_after == NULL) {
        return -1;
    }

    while (*retry_after == ' ' || *retry_after == '\t') {
        retry_after++;
    }

    if (*retry_after >= '0' && *retry_after <= '9') {
        errno = 0;
        d = strtod(retry_after, &end);

        while (*end == ' ' || *end == '\t') {
            end++;
        }

        if (errno == 0 && *end == '\0' && isfinite(d) && d < 1e9) {
            return (long long) ceil(d * 1000);
        }

        return -1;
    }

    if (*retry_after == '\0') {
        return -1;
    }

    t = curl_getdate(retry_after, NULL);
    if (t == (time_t) -1) {
        return -1;
    }

    return t > now ? (long long) (t - now) * 1000 : 0;
}


int
relabel_status_retryable(long status)
{
    return status == 408 || status == 409 || status == 429
           || (status >= 500 && status <= 599);
}
