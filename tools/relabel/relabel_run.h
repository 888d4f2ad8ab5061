
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel, the command line tool: its configuration, the ring of rows
 * (slots) between reading and writing, the state of a run, and what its
 * files share.  relabel.h has the pure parts.
 */


#ifndef _MOA_RELABEL_RUN_H_INCLUDED_
#define _MOA_RELABEL_RUN_H_INCLUDED_


#include <stdint.h>

#include <curl/curl.h>

#include "relabel.h"
#include "relabel_batch.h"


#define RELABEL_EXIT_OK           0
#define RELABEL_EXIT_REJECTS      1
#define RELABEL_EXIT_FATAL        2
#define RELABEL_EXIT_CHECK        3
#define RELABEL_EXIT_UNHEALTHY    4

#define RELABEL_MAX_RESPONSE      (64 * 1024 * 1024)
#define RELABEL_TICK_MS           250
#define RELABEL_ERRLEN            512


typedef enum {
    RELABEL_SLOT_FREE = 0,
    RELABEL_SLOT_QUEUED,
    RELABEL_SLOT_RUNNING,
    RELABEL_SLOT_WAITING,
    RELABEL_SLOT_DONE,
    RELABEL_SLOT_ABANDONED,
    RELABEL_SLOT_NSTATES
} relabel_state_e;


typedef enum {
    RELABEL_KIND_BLANK = 0,
    RELABEL_KIND_OUT,
    RELABEL_KIND_REJECT,
    RELABEL_KIND_SUSPECT      /* a reject the endpoint may be to blame for */
} relabel_kind_e;


typedef struct {
    const char           *endpoint;
    const char           *model;
    const char           *api_key;
    const char           *in_path;
    const char           *out_path;
    char                 *rejects_path;
    relabel_param_t      *params;
    size_t                nparams;
    struct curl_slist    *headers;
    long                  concurrency;
    long                  window;
    long                  retries;
    long                  max_consec;
    long long             timeout_ms;
    long long             connect_timeout_ms;
    long long             backoff_ms;
    long long             backoff_max_ms;
    long long             retry_after_max_ms;
    long long             progress_ms;
    unsigned long         limit;
    int                   overwrite;
    int                   insecure;
    int                   quiet;
    int                   verbose;
    relabel_batch_conf_t  batch;        /* --batch and its recipe */
} relabel_conf_t;


typedef struct {
    relabel_state_e       state;
    relabel_kind_e        kind;
    unsigned long         line;
    char                 *text;
    size_t                len;
    relabel_record_t      rec;
    ngx_http_moa_buf_t    req;
    ngx_http_moa_buf_t    resp;
    ngx_http_moa_buf_t    out;
    CURL                 *easy;
    unsigned              attempts;
    uint64_t              due;
    uint64_t              success_mark;
    int                   too_large;
    char                  retry_after[64];
    char                  retry_after_ms[32];
    char                  should_retry[8];
    char                  request_id[80];
    char                 *error;        /* why a rejected row was rejected */
    char                  errbuf[CURL_ERROR_SIZE];
} relabel_slot_t;


typedef struct {
    relabel_conf_t       *conf;
    FILE                 *in;
    int                   out_fd;
    int                   rej_fd;
    relabel_line_t        line;

    relabel_slot_t       *slots;
    unsigned long         nslots;
    unsigned long         head;         /* oldest row not written */
    unsigned long         tail;         /* next row to read */
    long                  count[RELABEL_SLOT_NSTATES];

    unsigned long         lineno;       /* last input line read */
    unsigned long         covered;      /* input lines 1..covered written */
    unsigned long         total_lines;
    int                   in_eof;

    CURLM                *multi;

    relabel_resume_t      resume;
    unsigned long         written;
    unsigned long         rejected;
    unsigned long         blank;
    unsigned long         requests;
    unsigned long         retries;
    unsigned long         failures;
    unsigned long         truncated;
    long long             prompt_tokens;
    long long             completion_tokens;

    uint64_t              pause_until;  /* no new requests before (ms) */
    uint64_t              successes;    /* replies showing the endpoint works */
    long                  consec;       /* rows failed since the last one */

    int                   stopping;     /* 1: drain, 2: abandon in flight */
    int                   signals_seen;
    int                   stop_signal;
    int                   unhealthy;
    int                   fatal;

    uint64_t              start_ms;
    uint64_t              last_progress_ms;
    int                   tty;
    int                   bar_shown;
} relabel_run_t;


/* relabel_run.c: what every part uses */
uint64_t relabel_run_now_ms(void);
void relabel_run_log(relabel_run_t *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void relabel_run_set_state(relabel_run_t *run, relabel_slot_t *s,
    relabel_state_e state);
void relabel_run_slot_clear(relabel_run_t *run, relabel_slot_t *s);
void relabel_run_stop(relabel_run_t *run, int level);

/* relabel_args.c: the command line */
int relabel_args_parse(int argc, char **argv, relabel_conf_t *conf);
void relabel_args_free(relabel_conf_t *conf);

/* relabel_files.c: opening IN, OUT and the rejects file, and resuming */
int relabel_files_open(relabel_run_t *run);
int relabel_files_write_all(int fd, const char *p, size_t n);

/* relabel_rows.c: rows from reading to writing */
void relabel_rows_fill(relabel_run_t *run);
void relabel_rows_fail(relabel_run_t *run, relabel_slot_t *s, const char *err,
    long status, int retryable, int endpoint);
void relabel_rows_reject(relabel_run_t *run, relabel_slot_t *s, const char *err,
    long status, relabel_kind_e kind);
void relabel_rows_write_ready(relabel_run_t *run);

/* relabel_multi.c: the requests, on libcurl's multi interface */
void relabel_multi_dispatch(relabel_run_t *run);
void relabel_multi_harvest(relabel_run_t *run);

/* relabel_report.c: progress, summary and the final count check */
void relabel_report_progress(relabel_run_t *run, int force);
int relabel_report_finish(relabel_run_t *run);


#endif /* _MOA_RELABEL_RUN_H_INCLUDED_ */
