
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel --batch, the command line side: the Batch API client
 * (relabel_batch_api.c), the rows and their calls' results, and the run
 * (relabel_batch.c, relabel_batch_run.c, relabel_batch_parts.c,
 * relabel_batch_rows.c, relabel_batch_join.c, relabel_batch_write.c,
 * relabel_batch_report.c).
 */


#ifndef _MOA_RELABEL_BATCH_RUN_H_INCLUDED_
#define _MOA_RELABEL_BATCH_RUN_H_INCLUDED_


#include <sys/types.h>

#include <curl/curl.h>
#include <cjson/cJSON.h>

#include "relabel_run.h"
#include "relabel_batch.h"
#include "relabel_batch_recipe.h"
#include "ngx_http_moa_usage.h"


/* the Files and Batches API of one provider */
typedef struct {
    relabel_conf_t       *conf;
    const char           *base;          /* --batch-url, no trailing '/' */
    struct curl_slist    *json;          /* headers of JSON requests */
    struct curl_slist    *upload;        /* of the multipart upload */
    char                  error[RELABEL_ERRLEN];
    long                  status;        /* of the last reply, 0: none */
    int                   retryable;     /* the last failure may pass */
} relabel_batch_api_t;


/* what GET /v1/batches/{id} says */
typedef struct {
    char                  id[128];
    char                  status[32];
    char                  output[128];   /* output_file_id, or "" */
    char                  error[128];    /* error_file_id, or "" */
    long                  total;         /* request_counts */
    long                  completed;
    long                  failed;
    char                  message[256];  /* errors.data[0], when failed */
} relabel_batch_info_t;


/* where a call's result is: a line of a part's output or error file */
typedef enum {
    RELABEL_REF_NONE = 0,     /* not sent yet */
    RELABEL_REF_SENT,         /* in a batch, no result yet */
    RELABEL_REF_OK,           /* a usable reply */
    RELABEL_REF_RETRY,        /* failed, a retry may pass */
    RELABEL_REF_FAIL,         /* failed for good */
    RELABEL_REF_NOTRUN        /* its batch expired, was cancelled, failed */
} relabel_ref_kind_e;


typedef struct {
    int                   part;          /* in the state's parts, or -1 */
    int                   err_file;      /* the line is in the error file */
    relabel_ref_kind_e    kind;
    off_t                 off;
    size_t                len;
    unsigned              sent;          /* rounds it was in */
    int                   ncands;        /* usable choices (proposals) */
    long                  status;        /* of a failure */
    char                 *why;           /* why it failed */
} relabel_batch_ref_t;


/* one call of one row to put in a batch */
typedef struct {
    unsigned long         row;
    int                   call;
} relabel_batch_item_t;


typedef enum {
    RELABEL_ROW_ACTIVE = 0,
    RELABEL_ROW_BLANK,
    RELABEL_ROW_REJECTED,
    RELABEL_ROW_DONE
} relabel_row_state_e;


typedef struct {
    unsigned long         line;
    off_t                 off;           /* in IN */
    size_t                len;
    relabel_row_state_e   state;
    char                 *error;         /* why it was rejected */
    long                  status;
    unsigned              attempts;      /* requests made for it */
    int                   fallback;      /* answer with a candidate */
    int                   select;        /* its recipe: a select judge */
    int                   agreement;     /* early agreement on */
    int                   pick_layer;    /* answered with a candidate: */
    int                   pick;          /* its layer, its number */
    relabel_batch_ref_t  *refs;          /* relabel_batch_slot() */
} relabel_batch_row_t;


typedef struct {
    relabel_run_t            *run;
    relabel_conf_t           *conf;
    relabel_batch_conf_t     *bc;
    relabel_batch_recipe_t    recipe;
    relabel_batch_api_t       api;
    relabel_batch_state_t     st;
    int                       state_fd;
    char                     *state_path;
    char                     *dir;           /* the work directory */
    int                       in_fd;

    relabel_batch_row_t      *rows;
    unsigned long             nrows;
    int                       ncalls;        /* refs a row */

    int                      *fds;           /* per part: output, error */
    size_t                    nfds;

    ngx_http_moa_usage_t     *usage;         /* summed, per ref of a row */
    unsigned long             sent[RELABEL_BATCH_NSTAGES];
    unsigned long             failed[RELABEL_BATCH_NSTAGES];
    unsigned long             rounds_retried;
    unsigned long             agreed;        /* rows of early agreement */

    uint64_t                  last_progress;
    int                       tty;
    int                       bar;
} relabel_batch_t;


/*
 * A row's calls: each layer's proposals, then the critique, the
 * synthesis and the select judge; the usage is summed per call alike.
 */
#define relabel_batch_slot(b, stage, call)                                    \
    (relabel_batch_stage_layer(stage)                                         \
     ? (relabel_batch_stage_layer(stage) - 1) * (b)->recipe.ncalls + (call)   \
     : (b)->recipe.ncalls * (b)->recipe.recipe.layers                         \
       + ((stage) == RELABEL_BATCH_CRITIQUE ? 0                               \
          : (stage) == RELABEL_BATCH_SYNTHESIS ? 1 : 2))

#define relabel_batch_ref(b, row, stage, call)                                \
    (&(row)->refs[relabel_batch_slot(b, stage, call)])

/* the calls of a row in a stage */
#define relabel_batch_stage_calls(b, stage)                                   \
    (relabel_batch_stage_layer(stage) ? (b)->recipe.ncalls : 1)


/* relabel_batch_api.c */
int relabel_batch_api_init(relabel_batch_api_t *api, relabel_conf_t *conf,
    const char *base);
void relabel_batch_api_free(relabel_batch_api_t *api);
int relabel_batch_api_upload(relabel_batch_api_t *api, const char *path,
    const char *name, char *id, size_t idlen);
int relabel_batch_api_create(relabel_batch_api_t *api, const char *file,
    const char *tag, char *id, size_t idlen);
int relabel_batch_api_retrieve(relabel_batch_api_t *api, const char *id,
    relabel_batch_info_t *info);
int relabel_batch_api_cancel(relabel_batch_api_t *api, const char *id);
int relabel_batch_api_download(relabel_batch_api_t *api, const char *file,
    const char *path);
int relabel_batch_api_find_file(relabel_batch_api_t *api, const char *name,
    char *id, size_t idlen);
int relabel_batch_api_find_batch(relabel_batch_api_t *api, const char *tag,
    char *id, size_t idlen);

/* relabel_batch.c */
int relabel_batch_main(relabel_run_t *run);

/* relabel_batch_run.c */
const char *relabel_batch_run_stage_name(int stage);
int relabel_batch_run_next_stage(relabel_batch_t *b, int stage);
void relabel_batch_run_signals(void);
int relabel_batch_run_stopped(relabel_batch_t *b);
void relabel_batch_run_hook(const char *step);
int relabel_batch_run_record(relabel_batch_t *b, const char *part,
    const char *key, const char *value, int stage, int round,
    unsigned long lines);

/* relabel_batch_report.c */
void relabel_batch_report_tokens(relabel_batch_t *b);

/* relabel_batch_parts.c */
int relabel_batch_parts_plan(relabel_batch_t *b, int stage, int round,
    relabel_batch_item_t *items, size_t n);
int relabel_batch_parts_submit(relabel_batch_t *b, int pi);
int relabel_batch_parts_wait(relabel_batch_t *b, int *pis, size_t n);
int relabel_batch_parts_fetch(relabel_batch_t *b, int pi);
int relabel_batch_parts_cancel(relabel_batch_t *b);

/* relabel_batch_write.c */
int relabel_batch_write_out(relabel_batch_t *b);

/* relabel_batch_join.c */
int relabel_batch_join_members(relabel_batch_t *b, int pi);
int relabel_batch_join_part(relabel_batch_t *b, int pi);

/* relabel_batch_rows.c */
int relabel_batch_rows_scan(relabel_batch_t *b, unsigned long long *digest);
int relabel_batch_rows_todo(relabel_batch_t *b, int stage, int round,
    relabel_batch_item_t **items, size_t *n);
int relabel_batch_rows_body(relabel_batch_t *b, relabel_batch_row_t *row,
    int stage, int call, ngx_http_moa_buf_t *out, char *err, size_t errlen);
void relabel_batch_rows_fail(relabel_batch_ref_t *ref, relabel_ref_kind_e kind,
    long status, const char *why);
char *relabel_batch_rows_path(relabel_batch_t *b, int pi, const char *what);
int relabel_batch_rows_settle(relabel_batch_t *b, int stage);
char *relabel_batch_rows_line(relabel_batch_t *b,
    const relabel_batch_ref_t *ref);
int relabel_batch_rows_replies(relabel_batch_t *b, relabel_batch_row_t *row,
    ngx_http_moa_reply_t *reps, char **lines);
void relabel_batch_rows_replies_free(relabel_batch_t *b,
    ngx_http_moa_reply_t *reps, char **lines);
void relabel_batch_rows_free(relabel_batch_t *b);


#endif /* _MOA_RELABEL_BATCH_RUN_H_INCLUDED_ */
