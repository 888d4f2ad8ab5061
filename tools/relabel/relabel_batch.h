
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel --batch: the pure parts of the batch mode (no network, no
 * global state), shared by the tool and its unit tests: the options, the
 * price table and the cost arithmetic (relabel_price.c), the state file's
 * records (relabel_batch_state.c), and the lines of the batch input and
 * output files with their custom_id join (relabel_batch_files.c).
 */


#ifndef _MOA_RELABEL_BATCH_H_INCLUDED_
#define _MOA_RELABEL_BATCH_H_INCLUDED_


#include <stddef.h>

#include "ngx_http_moa_buf.h"
#include "relabel_batch_stage.h"


#define RELABEL_BATCH_MAX_PROPOSERS  64

/* how a request line of a batch input file starts: its custom_id first */
#define RELABEL_BATCH_LINE_START     "{\"custom_id\":\""


/* the --batch options; the recipe's are named after the directives */
typedef struct {
    int                   on;                 /* --batch */
    int                   cancel;             /* --batch-cancel */
    const char           *url;                /* --batch-url BASE */
    const char           *window;             /* --completion-window */
    const char           *purpose;            /* --file-purpose */
    long                  retry;              /* --batch-retry N */
    long long             poll_ms;            /* --poll-interval */
    long                  max_requests;       /* a file's lines */
    long                  max_mb;             /* a file's size */
    int                   keep;               /* --batch-keep */

    long                  proposers;          /* moa_proposers */
    char                **proposer_list;      /* moa_proposer, repeatable */
    size_t                nproposer_list;
    const char           *proposer_temperature;
    int                   proposer_n;         /* on|off */
    long                  proposer_max_tokens;
    int                   critique;           /* on|off */
    const char           *critic_model;
    const char           *critique_temperature;
    long                  critic_max_tokens;
    const char           *aggregator_model;
    const char           *aggregator_temperature;
    const char           *critique_prompt;    /* files */
    const char           *synthesis_prompt;
    long                  min_proposals;
    const char           *unknown_params;     /* pass|drop|reject */
    const char           *fallback;           /* candidate|error */
    long                  layers;             /* moa_layers */
    const char           *layer_prompt;       /* moa_layer_prompt */
    const char           *aggregate;          /* synthesize|select */
    const char           *select_format;      /* json_schema|... */
    const char           *select_prompt;      /* moa_select_prompt */
    int                   select_json_schema; /* on|off */
    int                   agreement;          /* on|off */
    int                   reasoning;          /* moa_model ... reasoning */
    long                  max_total_tokens;   /* 0: no cap */

    char                **prices;             /* --price, repeatable */
    size_t                nprices;
} relabel_batch_conf_t;


/* the defaults of the options above (relabel_batch.c) */
void relabel_batch_defaults(relabel_batch_conf_t *bc);
const char *relabel_batch_stray(const relabel_batch_conf_t *bc);


/* a model's synchronous and batch prices, USD per million tokens */
typedef struct {
    const char           *model;
    double                in;
    double                out;
    double                batch_in;
    double                batch_out;
} relabel_price_t;


/* the date of the built-in table (prices change: check yours) */
#define RELABEL_PRICE_SNAPSHOT  "2025-06-01"


/* relabel_price.c */
int relabel_price_parse(const char *arg, relabel_price_t *p, char **model);
const relabel_price_t *relabel_price_find(const relabel_price_t *user,
    size_t nuser, const char *model);
double relabel_price_cost(long long prompt, long long completion,
    double in, double out);


/*
 * The state file: one JSON object a line, appended (one write and a
 * fdatasync each) before the step it records is built upon.
 */
typedef struct {
    char                 *part;               /* "s1.r0.p0" */
    int                   stage;
    int                   round;
    unsigned long         lines;
    int                   uploading;          /* an upload was started */
    char                 *file;               /* its input file id */
    int                   creating;           /* a create was started */
    char                 *batch;              /* its batch id */
    char                 *status;             /* terminal status seen */
    char                 *output;             /* output_file_id */
    char                 *error;              /* error_file_id */
    int                   downloaded;
    int                   cancel_sent;
} relabel_batch_part_t;


typedef struct {
    char                 *run;                /* the run's id */
    char                 *recipe;             /* digest of IN and settings */
    unsigned long         first;              /* input lines of the run */
    unsigned long         last;
    relabel_batch_part_t *parts;
    size_t                nparts;
} relabel_batch_state_t;


/* relabel_batch_state.c */
int relabel_batch_state_header(ngx_http_moa_buf_t *b,
    const relabel_batch_state_t *st);
int relabel_batch_state_record(ngx_http_moa_buf_t *b, const char *part,
    const char *key, const char *value, int stage, int round,
    unsigned long lines);
int relabel_batch_state_apply(relabel_batch_state_t *st, const char *line,
    size_t len, char *err, size_t errlen);
int relabel_batch_state_parse(relabel_batch_state_t *st, const char *text,
    size_t len, size_t *torn, char *err, size_t errlen);
relabel_batch_part_t *relabel_batch_state_part(relabel_batch_state_t *st,
    const char *part);
void relabel_batch_state_free(relabel_batch_state_t *st);


/* one line of a batch output or error file */
typedef struct {
    char                  custom_id[64];
    long                  status;             /* 0: no response */
    const char           *body;               /* raw JSON, into the line */
    size_t                body_len;
    char                  error[256];         /* why it failed, or "" */
    int                   retryable;          /* a retry may succeed */
    int                   not_run;            /* expired or cancelled */
} relabel_batch_result_t;


/* relabel_batch_files.c */
void relabel_batch_files_custom_id(char *buf, size_t size,
    unsigned long line, int stage, int call);
int relabel_batch_files_custom_id_parse(const char *id, unsigned long *line,
    int *stage, int *call);
int relabel_batch_files_request(ngx_http_moa_buf_t *b, const char *custom_id,
    const char *body, size_t len);
int relabel_batch_files_result(const char *line, size_t len,
    relabel_batch_result_t *res);
unsigned long long relabel_batch_files_digest(unsigned long long h,
    const void *p, size_t n);


#endif /* _MOA_RELABEL_BATCH_H_INCLUDED_ */
