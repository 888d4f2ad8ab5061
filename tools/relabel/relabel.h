
/*
 * moa-relabel: relabel a fine-tuning JSONL file through a chat completions
 * endpoint.  This header declares the pure parts (no network, no global
 * state) shared by the tool and its unit tests.
 */

#ifndef _MOA_RELABEL_H_INCLUDED_
#define _MOA_RELABEL_H_INCLUDED_


#include <stddef.h>
#include <stdio.h>
#include <time.h>
#include <sys/types.h>

#include "ngx_http_moa_buf.h"
#include "ngx_http_moa_version.h"


#define RELABEL_VERSION      NGX_HTTP_MOA_VERSION


/* a byte range [start, end) of a line; end == 0 means absent */
typedef struct {
    size_t                start;
    size_t                end;
} relabel_span_t;


/*
 * Where things are in one input record.  The answer goes at "last": it
 * replaces that element when it is an assistant message ("replace"), else
 * it is appended after it.
 */
typedef struct {
    relabel_span_t        messages;
    relabel_span_t        last;
    size_t                keep_end;     /* end of the last message sent */
    size_t                nmessages;
    relabel_span_t        tools;
    relabel_span_t        tool_choice;
    relabel_span_t        parallel_tool_calls;
    relabel_span_t        weight;       /* "weight" of the replaced message */
    unsigned              replace:1;
} relabel_record_t;


/* an extra request field: key and its raw JSON value */
typedef struct {
    char                 *key;
    char                 *value;
} relabel_param_t;


/* what a chat.completion reply yields */
typedef struct {
    char                 *message;      /* JSON of the new assistant message */
    size_t                message_len;
    long long             prompt_tokens;
    long long             completion_tokens;
    char                  finish_reason[32];
} relabel_answer_t;


/* one input line as read by relabel_io_read_line() */
typedef struct {
    char                 *data;         /* getline() buffer, owned */
    size_t                cap;
    size_t                len;          /* without the '\n' */
    int                   blank;
} relabel_line_t;


/* where a resumed run starts */
typedef struct {
    unsigned long         covered;      /* input lines 1..covered are done */
    off_t                 offset;       /* byte offset of line covered + 1 */
    unsigned long         out_rows;
    unsigned long         reject_rows;
    unsigned long         blank_rows;
} relabel_resume_t;


/*
 * records, requests, answers, output and reject lines (relabel_record.c);
 * records are checked with the module's own JSON rules (lib/), and the
 * functions that build a line leave it NUL-terminated after len
 */
void relabel_record_json_str(ngx_http_moa_buf_t *b, const char *p, size_t n);
const char *relabel_record_split(const char *p, size_t n,
    relabel_record_t *rec);
int relabel_record_request_build(ngx_http_moa_buf_t *b, const char *p,
    const relabel_record_t *rec, const char *model,
    const relabel_param_t *params, size_t nparams);
int relabel_record_answer_parse(const char *body, size_t len,
    relabel_answer_t *a, char *err, size_t errlen);
void relabel_record_answer_free(relabel_answer_t *a);
int relabel_record_output_build(ngx_http_moa_buf_t *b, const char *p, size_t n,
    const relabel_record_t *rec, const char *msg, size_t mlen);
int relabel_record_output_check(const char *p, size_t n,
    const relabel_record_t *rec, const char *out, size_t outlen);
int relabel_record_reject_build(ngx_http_moa_buf_t *b, unsigned long line,
    const char *error, long status, unsigned attempts,
    const char *p, size_t n);
int relabel_record_reject_check(const char *line, size_t len, const char *p,
    size_t n, unsigned long *lineno);
int relabel_record_param_parse(const char *arg, relabel_param_t *param);

/* HTTP replies (relabel_http.c) */
void relabel_http_error_text(const char *body, size_t len, char *out,
    size_t outlen);
long long relabel_http_retry_after_ms(const char *retry_after_ms,
    const char *retry_after, time_t now);
int relabel_http_retryable(long status);

/* files */
int relabel_io_read_line(FILE *f, relabel_line_t *l, unsigned long lineno);
int relabel_io_cut_torn(int fd, off_t *cut);
int relabel_io_count_lines(int fd, unsigned long *lines);
int relabel_io_resume_scan(FILE *in, FILE *out, FILE *rej,
    relabel_resume_t *rs, char *err, size_t errlen);


/* relabel_usage.c: the --help text */
void relabel_usage_print(FILE *f);


#endif /* _MOA_RELABEL_H_INCLUDED_ */
