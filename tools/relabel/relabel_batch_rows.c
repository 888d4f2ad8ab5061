
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel --batch: the rows of a run and the results of their calls.
 * IN is read once for where each row is; a row's text is read again
 * (pread) whenever a body or its output line needs it, and a call's result
 * is a line of a downloaded file, found by its custom_id, read again when
 * a later stage needs it: memory holds only offsets.  Which calls go into
 * a round, what a stage's results make of a row (the quorum, critique or
 * none, the answer or the fallback or a reject), and writing OUT and the
 * rejects file in input order.
 */


#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "ngx_http_moa_usage.h"
#include "relabel_batch_run.h"


/* rounds past --batch-retry for calls whose batch never ran them */
#define RELABEL_BATCH_EXTRA_ROUNDS  5


static char *relabel_batch_rows_text(relabel_batch_t *b,
    relabel_batch_row_t *row);
static char *relabel_batch_rows_line(relabel_batch_t *b,
    const relabel_batch_ref_t *ref);
static int relabel_batch_rows_replies(relabel_batch_t *b,
    relabel_batch_row_t *row, ngx_http_moa_reply_t *reps, char **lines);
static void relabel_batch_rows_replies_free(relabel_batch_t *b,
    ngx_http_moa_reply_t *reps, char **lines);
static void relabel_batch_rows_fail(relabel_batch_ref_t *ref,
    relabel_ref_kind_e kind, long status, const char *why);
static int relabel_batch_rows_cands(relabel_batch_t *b,
    relabel_batch_row_t *row);
static int relabel_batch_rows_check(relabel_batch_t *b,
    relabel_batch_row_t *row, const char *text);


char *
relabel_batch_rows_path(relabel_batch_t *b, int pi, const char *what)
{
    char  *p;

    if (asprintf(&p, "%s/%s.%s.jsonl", b->dir, b->st.parts[pi].part, what)
        < 0)
    {
        return NULL;
    }

    return p;
}


/*
 * A row the module would refuse is rejected before any batch, as the
 * online mode rejects it (the record's fault, or the module's 400).
 */
static int
relabel_batch_rows_check(relabel_batch_t *b, relabel_batch_row_t *row,
    const char *text)
{
    int                       rc;
    char                      err[RELABEL_ERRLEN];
    relabel_batch_request_t   r;

    err[0] = '\0';
    rc = relabel_batch_recipe_request(&b->recipe, text, row->len, &r, err,
                                      sizeof(err));
    relabel_batch_recipe_request_free(&r);

    if (rc == 0) {
        return 0;
    }

    if (strcmp(err, "out of memory") == 0) {
        relabel_run_log(NULL, "out of memory");
        return -1;
    }

    row->status = strncmp(err, "HTTP ", 5) == 0 ? atol(err + 5) : 0;
    row->error = strdup(err);
    row->state = RELABEL_ROW_REJECTED;

    return row->error ? 0 : -1;
}


/*
 * Where the rows of the run are in IN (lines first to last), and the
 * digest of their text; a row that cannot be relabeled is rejected here,
 * as the online mode rejects it before any request.
 */
int
relabel_batch_rows_scan(relabel_batch_t *b, unsigned long long *digest)
{
    int                   rc;
    FILE                 *f;
    off_t                 before, after;
    unsigned long         line, i;
    relabel_line_t        l;
    relabel_batch_row_t  *row;

    f = fopen(b->conf->in_path, "r");
    if (f == NULL) {
        relabel_run_log(NULL, "cannot open IN %s: %s", b->conf->in_path,
                        strerror(errno));
        return -1;
    }

    b->nrows = b->st.last >= b->st.first ? b->st.last - b->st.first + 1 : 0;
    b->rows = calloc(b->nrows + 1, sizeof(relabel_batch_row_t));
    memset(&l, 0, sizeof(relabel_line_t));
    rc = -1;

    if (b->rows == NULL) {
        goto done;
    }

    for (i = 0; i < b->nrows; i++) {
        b->rows[i].refs = calloc(b->ncalls, sizeof(relabel_batch_ref_t));
        if (b->rows[i].refs == NULL) {
            goto done;
        }
        b->rows[i].line = b->st.first + i;
        b->rows[i].state = RELABEL_ROW_BLANK;
    }

    for (line = 1; line <= b->st.last; line++) {
        before = ftello(f);

        if (relabel_io_read_line(f, &l, line) <= 0) {
            break;
        }

        if (line < b->st.first) {
            continue;
        }

        after = ftello(f);
        row = &b->rows[line - b->st.first];

        /* a byte order mark on line 1 is not part of the row */
        row->off = before + ((line == 1 && after - before >= (off_t) l.len + 3)
                             ? 3 : 0);
        row->len = l.len;
        row->state = l.blank ? RELABEL_ROW_BLANK : RELABEL_ROW_ACTIVE;

        *digest = relabel_batch_files_digest(*digest, l.data, l.len + 1);

        if (!l.blank && relabel_batch_rows_check(b, row, l.data) != 0) {
            goto done;
        }
    }

    if (ferror(f)) {
        relabel_run_log(NULL, "reading IN: %s", strerror(errno));
        goto done;
    }

    if (line <= b->st.last) {
        relabel_run_log(NULL, "IN has fewer lines (%lu) than the run's state "
                        "file says (%lu): a different IN?", line - 1,
                        b->st.last);
        goto done;
    }

    rc = 0;

done:

    free(l.data);
    fclose(f);

    return rc;
}


static char *
relabel_batch_rows_text(relabel_batch_t *b, relabel_batch_row_t *row)
{
    char  *p;

    p = malloc(row->len + 1);
    if (p == NULL) {
        return NULL;
    }

    if (pread(b->in_fd, p, row->len, row->off) != (ssize_t) row->len) {
        free(p);
        return NULL;
    }

    p[row->len] = '\0';

    return p;
}


/* a result's line, from its part's output or error file */
static char *
relabel_batch_rows_line(relabel_batch_t *b, const relabel_batch_ref_t *ref)
{
    int     *fd, *fds;
    char    *p, *path;
    size_t   i, n;

    if ((size_t) (2 * ref->part + 2) > b->nfds) {
        /* a descriptor for each part's output and error file, once open */
        n = 2 * b->st.nparts;
        fds = realloc(b->fds, n * sizeof(int));
        if (fds == NULL) {
            return NULL;
        }

        for (i = b->nfds; i < n; i++) {
            fds[i] = -1;
        }

        b->fds = fds;
        b->nfds = n;
    }

    fd = &b->fds[2 * ref->part + ref->err_file];

    if (*fd == -1) {
        path = relabel_batch_rows_path(b, ref->part,
                                       ref->err_file ? "err" : "out");
        if (path == NULL) {
            return NULL;
        }

        *fd = open(path, O_RDONLY | O_CLOEXEC);
        free(path);

        if (*fd == -1) {
            return NULL;
        }
    }

    p = malloc(ref->len + 1);
    if (p == NULL) {
        return NULL;
    }

    if (pread(*fd, p, ref->len, ref->off) != (ssize_t) ref->len) {
        free(p);
        return NULL;
    }

    p[ref->len] = '\0';

    return p;
}


static void
relabel_batch_rows_fail(relabel_batch_ref_t *ref, relabel_ref_kind_e kind,
    long status, const char *why)
{
    ref->kind = kind;
    ref->status = status;
    free(ref->why);
    ref->why = strdup(why);
}


/* the candidates a row has so far */
static int
relabel_batch_rows_cands(relabel_batch_t *b, relabel_batch_row_t *row)
{
    int  i, n;

    for (i = 0, n = 0; i < b->recipe.ncalls; i++) {
        if (row->refs[i].kind == RELABEL_REF_OK) {
            n += row->refs[i].ncands;
        }
    }

    return n;
}


/*
 * The calls of a round: in round 0 every call of every row still in the
 * run; later, the calls that failed in a way a retry may fix, of the rows
 * that need them (below the quorum, for proposals), for --batch-retry
 * rounds, and the calls whose batch never ran them (expired, cancelled,
 * failed) for a few rounds more.
 */
int
relabel_batch_rows_todo(relabel_batch_t *b, int stage, int round,
    relabel_batch_item_t **items, size_t *n)
{
    int                   call, ncalls, below;
    size_t                size;
    unsigned long         i;
    relabel_batch_ref_t  *ref;
    relabel_batch_row_t  *row;
    relabel_batch_item_t *it;

    *items = NULL;
    *n = 0;
    size = 0;
    ncalls = stage == RELABEL_BATCH_PROPOSAL ? b->recipe.ncalls : 1;

    for (i = 0; i < b->nrows; i++) {
        row = &b->rows[i];

        if (row->state != RELABEL_ROW_ACTIVE) {
            continue;
        }

        below = stage != RELABEL_BATCH_PROPOSAL
                || relabel_batch_rows_cands(b, row) < b->recipe.need;

        for (call = 0; call < ncalls; call++) {
            ref = relabel_batch_ref(b, row, stage, call);

            if (!((ref->kind == RELABEL_REF_NONE && round == 0)
                  || (ref->kind == RELABEL_REF_RETRY && below
                      && round <= b->bc->retry)
                  || (ref->kind == RELABEL_REF_NOTRUN
                      && round <= b->bc->retry + RELABEL_BATCH_EXTRA_ROUNDS)))
            {
                continue;
            }

            if (*n == size) {
                size = size ? size * 2 : 256;
                it = realloc(*items, size * sizeof(relabel_batch_item_t));
                if (it == NULL) {
                    free(*items);
                    *items = NULL;
                    return -1;
                }
                *items = it;
            }

            (*items)[*n].row = i;
            (*items)[*n].call = call;
            (*n)++;
        }
    }

    return 0;
}


/* the proposal replies of a row, parsed; reps[i].p NULL when none */
static int
relabel_batch_rows_replies(relabel_batch_t *b, relabel_batch_row_t *row,
    ngx_http_moa_reply_t *reps, char **lines)
{
    int                      i;
    ngx_http_moa_error_t     e;
    relabel_batch_result_t   res;

    for (i = 0; i < b->ncalls; i++) {
        memset(&reps[i], 0, sizeof(ngx_http_moa_reply_t));
        lines[i] = NULL;

        if (row->refs[i].kind != RELABEL_REF_OK
            || i == b->recipe.ncalls + 1)
        {
            continue;
        }

        lines[i] = relabel_batch_rows_line(b, &row->refs[i]);

        if (lines[i] == NULL
            || relabel_batch_files_result(lines[i], row->refs[i].len, &res)
               != 0
            || res.body == NULL
            || ngx_http_moa_reply_parse(&reps[i], res.body, res.body_len, &e)
               != 0)
        {
            relabel_batch_rows_replies_free(b, reps, lines);
            return -1;
        }
    }

    return 0;
}


static void
relabel_batch_rows_replies_free(relabel_batch_t *b,
    ngx_http_moa_reply_t *reps, char **lines)
{
    int  i;

    for (i = 0; i < b->ncalls; i++) {
        if (reps[i].p) {
            ngx_http_moa_reply_free(&reps[i]);
            reps[i].p = NULL;
        }
        free(lines[i]);
        lines[i] = NULL;
    }
}


/* the body of one call of a row, by the module's code */
int
relabel_batch_rows_body(relabel_batch_t *b, relabel_batch_row_t *row,
    int stage, int call, ngx_http_moa_buf_t *out, char *err, size_t errlen)
{
    int                       rc, ncands, fc, fch;
    char                     *text, **lines;
    ngx_http_moa_buf_t        cands;
    ngx_http_moa_reply_t     *reps;
    relabel_batch_request_t   r;
    const ngx_http_moa_choice_t  *critique;

    text = relabel_batch_rows_text(b, row);
    if (text == NULL) {
        snprintf(err, errlen, "cannot read IN line %lu", row->line);
        return -1;
    }

    rc = -1;
    memset(&cands, 0, sizeof(ngx_http_moa_buf_t));
    reps = calloc(b->ncalls, sizeof(ngx_http_moa_reply_t));
    lines = calloc(b->ncalls, sizeof(char *));

    if (reps == NULL || lines == NULL) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }

    if (relabel_batch_recipe_request(&b->recipe, text, row->len, &r, err,
                                     errlen) != 0)
    {
        relabel_batch_recipe_request_free(&r);
        goto done;
    }

    if (stage == RELABEL_BATCH_PROPOSAL) {
        rc = relabel_batch_recipe_proposal(&b->recipe, &r, call, out);

    } else if (relabel_batch_rows_replies(b, row, reps, lines) != 0) {
        snprintf(err, errlen, "cannot read back the results of line %lu",
                 row->line);

    } else if (relabel_batch_recipe_candidates(&b->recipe, reps,
                                               b->recipe.ncalls, &cands,
                                               &ncands, &fc, &fch) == 0)
    {
        critique = reps[b->recipe.ncalls].p
                   ? &reps[b->recipe.ncalls].choices[0] : NULL;

        rc = stage == RELABEL_BATCH_CRITIQUE
             ? relabel_batch_recipe_critique(&b->recipe, &r, &cands, ncands,
                                             out)
             : relabel_batch_recipe_synthesis(&b->recipe, &r, &cands, ncands,
                                              critique, out);
    }

    if (rc != 0 && err[0] == '\0') {
        snprintf(err, errlen, "out of memory");
    }

    relabel_batch_recipe_request_free(&r);
    relabel_batch_rows_replies_free(b, reps, lines);

done:

    ngx_http_moa_buf_free(&cands);
    free(reps);
    free(lines);
    free(text);

    return rc;
}


/* the calls of a part, from its input file: sent in this round */
int
relabel_batch_rows_members(relabel_batch_t *b, int pi)
{
    int                    stage, call;
    char                  *path, *line, *id, *end;
    FILE                  *f;
    size_t                 cap;
    ssize_t                n;
    unsigned long          ln;
    relabel_batch_ref_t   *ref;

    path = relabel_batch_rows_path(b, pi, "in");
    f = path ? fopen(path, "r") : NULL;

    if (f == NULL) {
        relabel_run_log(NULL, "cannot read the batch input file %s: %s",
                        path ? path : b->st.parts[pi].part, strerror(errno));
        free(path);
        return -1;
    }

    free(path);
    line = NULL;
    cap = 0;

    while ((n = getline(&line, &cap, f)) > 0) {
        /* our own lines: {"custom_id":"l17-p0",... */
        id = line + sizeof("{\"custom_id\":\"") - 1;
        end = (size_t) n > sizeof("{\"custom_id\":\"") ? strchr(id, '"')
                                                        : NULL;

        if (end == NULL) {
            break;
        }

        *end = '\0';

        if (relabel_batch_files_custom_id_parse(id, &ln, &stage, &call) != 0
            || ln < b->st.first || ln > b->st.last
            || stage != b->st.parts[pi].stage
            || (stage == RELABEL_BATCH_PROPOSAL && call >= b->recipe.ncalls))
        {
            break;
        }

        ref = relabel_batch_ref(b, &b->rows[ln - b->st.first], stage, call);
        ref->kind = RELABEL_REF_SENT;
        ref->part = pi;
        ref->sent++;
        b->sent[stage]++;
    }

    free(line);
    n = ferror(f) || !feof(f);
    fclose(f);

    if (n) {
        relabel_run_log(NULL, "the batch input file of part %s is not one "
                        "of this run's", b->st.parts[pi].part);
        return -1;
    }

    return 0;
}


/* a 2xx result: usable (OK, its usage summed) or a retry */
static void
relabel_batch_rows_reply(relabel_batch_t *b, int stage,
    relabel_batch_ref_t *ref, const relabel_batch_result_t *res)
{
    int                    j, asked, n;
    ngx_http_moa_error_t   e;
    ngx_http_moa_reply_t   rep;

    memset(&rep, 0, sizeof(ngx_http_moa_reply_t));

    if (ngx_http_moa_reply_parse(&rep, res->body, res->body_len, &e) != 0) {
        relabel_batch_rows_fail(ref, RELABEL_REF_RETRY, res->status,
                                e.message);
        return;
    }

    if (ngx_http_moa_usage_add_reply(b->usage[stage], &rep) < 0) {
        b->run->fatal = 1;
    }

    asked = stage == RELABEL_BATCH_PROPOSAL
            ? b->recipe.expected / b->recipe.ncalls : 1;

    for (j = 0, n = 0; j < rep.nchoices && j < asked; j++) {
        n += ngx_http_moa_reply_choice_usable(&rep.choices[j]);
    }

    ngx_http_moa_reply_free(&rep);

    if (n == 0) {
        relabel_batch_rows_fail(ref, RELABEL_REF_RETRY, res->status,
                                "the reply has no usable answer");
        return;
    }

    ref->kind = RELABEL_REF_OK;
    ref->ncands = n;
}


/* the results of one file of a part; 0, or -1 when it cannot be read */
static int
relabel_batch_rows_join_file(relabel_batch_t *b, int pi, int err_file)
{
    int                      stage, call;
    char                    *path, *line;
    FILE                    *f;
    off_t                    off;
    size_t                   cap, len;
    ssize_t                  n;
    unsigned long            ln;
    relabel_batch_ref_t     *ref;
    relabel_batch_result_t   res;

    path = relabel_batch_rows_path(b, pi, err_file ? "err" : "out");
    f = path ? fopen(path, "r") : NULL;
    free(path);

    if (f == NULL) {
        return errno == ENOENT ? 0 : -1;
    }

    line = NULL;
    cap = 0;
    off = 0;

    while ((n = getline(&line, &cap, f)) > 0) {
        len = line[n - 1] == '\n' ? (size_t) n - 1 : (size_t) n;

        if (relabel_batch_files_result(line, len, &res) != 0
            || relabel_batch_files_custom_id_parse(res.custom_id, &ln, &stage,
                                                   &call) != 0
            || ln < b->st.first || ln > b->st.last
            || stage != b->st.parts[pi].stage
            || (stage == RELABEL_BATCH_PROPOSAL && call >= b->recipe.ncalls))
        {
            /* not a result of ours: nothing to join it to */
            off += n;
            continue;
        }

        ref = relabel_batch_ref(b, &b->rows[ln - b->st.first], stage, call);

        if (ref->kind == RELABEL_REF_SENT && ref->part == pi) {
            ref->err_file = err_file;
            ref->off = off;
            ref->len = len;

            if (res.body) {
                relabel_batch_rows_reply(b, stage, ref, &res);

            } else {
                relabel_batch_rows_fail(ref, res.not_run ? RELABEL_REF_NOTRUN
                                        : res.retryable ? RELABEL_REF_RETRY
                                        : RELABEL_REF_FAIL,
                                        res.status, res.error);
            }

            if (ref->kind != RELABEL_REF_OK) {
                b->failed[stage]++;
            }
        }

        off += n;
    }

    free(line);
    n = ferror(f);
    fclose(f);

    return n ? -1 : 0;
}


/* a finished part's results joined to its calls by custom_id */
int
relabel_batch_rows_join(relabel_batch_t *b, int pi)
{
    int                    call, ncalls, stage;
    char                   why[400];
    unsigned long          i;
    relabel_batch_ref_t   *ref;
    relabel_batch_part_t  *p;

    p = &b->st.parts[pi];
    stage = p->stage;

    if (relabel_batch_rows_join_file(b, pi, 0) != 0
        || relabel_batch_rows_join_file(b, pi, 1) != 0)
    {
        relabel_run_log(NULL, "cannot read the results of part %s: %s",
                        p->part, strerror(errno));
        return -1;
    }

    /* calls without a result line: never run, or lost */

    snprintf(why, sizeof(why), "batch %s %s%s%s", p->batch, p->status,
             strcmp(p->status, "completed") == 0
             ? " without a result for this request" : "",
             "");

    ncalls = stage == RELABEL_BATCH_PROPOSAL ? b->recipe.ncalls : 1;

    for (i = 0; i < b->nrows; i++) {
        for (call = 0; call < ncalls; call++) {
            ref = relabel_batch_ref(b, &b->rows[i], stage, call);

            if (ref->kind == RELABEL_REF_SENT && ref->part == pi) {
                relabel_batch_rows_fail(ref,
                                        strcmp(p->status, "completed") == 0
                                        ? RELABEL_REF_RETRY
                                        : RELABEL_REF_NOTRUN, 0, why);
                b->failed[stage]++;
            }
        }
    }

    return 0;
}


/* the last failure among a row's calls of a stage */
static const relabel_batch_ref_t *
relabel_batch_rows_last_failure(relabel_batch_t *b, relabel_batch_row_t *row,
    int stage)
{
    int                         call, ncalls;
    const relabel_batch_ref_t  *ref, *last;

    ncalls = stage == RELABEL_BATCH_PROPOSAL ? b->recipe.ncalls : 1;
    last = NULL;

    for (call = 0; call < ncalls; call++) {
        ref = relabel_batch_ref(b, row, stage, call);
        if (ref->kind != RELABEL_REF_OK && ref->why) {
            last = ref;
        }
    }

    return last;
}


static void
relabel_batch_rows_reject(relabel_batch_row_t *row, long status,
    const char *fmt, const char *why)
{
    char  buf[600];

    snprintf(buf, sizeof(buf), fmt, why ? why : "no result");
    free(row->error);
    row->error = strdup(buf);
    row->status = status;
    row->state = RELABEL_ROW_REJECTED;
}


/* what a finished stage makes of each row, as the module decides */
void
relabel_batch_rows_settle(relabel_batch_t *b, int stage)
{
    int                         n;
    char                        fmt[128];
    unsigned long               i;
    relabel_batch_row_t        *row;
    const relabel_batch_ref_t  *last, *syn;

    for (i = 0; i < b->nrows; i++) {
        row = &b->rows[i];

        if (row->state != RELABEL_ROW_ACTIVE) {
            continue;
        }

        last = relabel_batch_rows_last_failure(b, row, stage);

        if (stage == RELABEL_BATCH_PROPOSAL) {
            n = relabel_batch_rows_cands(b, row);

            if (n < b->recipe.need) {
                snprintf(fmt, sizeof(fmt), "proposals: %d of %d candidates, "
                         "%d needed: %%s", n, b->recipe.expected,
                         b->recipe.need);
                relabel_batch_rows_reject(row, last ? last->status : 0, fmt,
                                          last ? last->why : NULL);
            }

        } else if (stage == RELABEL_BATCH_SYNTHESIS) {
            syn = relabel_batch_ref(b, row, stage, 0);

            if (syn->kind == RELABEL_REF_OK) {
                row->state = RELABEL_ROW_DONE;

            } else if (b->recipe.fallback
                       && relabel_batch_rows_cands(b, row) > 0)
            {
                row->state = RELABEL_ROW_DONE;
                row->fallback = 1;

            } else {
                relabel_batch_rows_reject(row, syn->status, "synthesis: %s",
                                          syn->why);
            }
        }
    }
}


/*
 * The answer of a done row as the reply the online mode would have got:
 * the synthesis reply, or {"choices":[the first candidate]} as the
 * fallback.
 */
static int
relabel_batch_rows_answer(relabel_batch_t *b, relabel_batch_row_t *row,
    relabel_answer_t *a, char *err, size_t errlen)
{
    int                      rc, ncands, fc, fch;
    char                    *line, **lines;
    ngx_http_moa_buf_t       cands, body;
    ngx_http_moa_reply_t    *reps;
    relabel_batch_result_t   res;

    if (!row->fallback) {
        line = relabel_batch_rows_line(b, &row->refs[b->recipe.ncalls + 1]);

        rc = line == NULL
             || relabel_batch_files_result(line,
                                   row->refs[b->recipe.ncalls + 1].len, &res)
                != 0
             || res.body == NULL
             ? -1
             : relabel_record_answer_parse(res.body, res.body_len, a, err,
                                           errlen);
        free(line);
        return rc;
    }

    rc = -1;
    memset(&cands, 0, sizeof(ngx_http_moa_buf_t));
    memset(&body, 0, sizeof(ngx_http_moa_buf_t));
    reps = calloc(b->ncalls, sizeof(ngx_http_moa_reply_t));
    lines = calloc(b->ncalls, sizeof(char *));

    if (reps && lines && relabel_batch_rows_replies(b, row, reps, lines) == 0) {
        if (relabel_batch_recipe_candidates(&b->recipe, reps,
                                            b->recipe.ncalls, &cands, &ncands,
                                            &fc, &fch) == 0
            && fc >= 0)
        {
            ngx_http_moa_buf_lit(&body, "{\"choices\":[");
            ngx_http_moa_buf_add(&body, reps[fc].choices[fch].span.p,
                                 reps[fc].choices[fch].span.len);
            ngx_http_moa_buf_lit(&body, "]}");

            rc = body.nomem ? -1
                            : relabel_record_answer_parse(body.data, body.len,
                                                          a, err, errlen);
        }

        relabel_batch_rows_replies_free(b, reps, lines);
    }

    ngx_http_moa_buf_free(&cands);
    ngx_http_moa_buf_free(&body);
    free(reps);
    free(lines);

    return rc;
}


static unsigned
relabel_batch_rows_attempts(relabel_batch_t *b, relabel_batch_row_t *row)
{
    int       i;
    unsigned  n;

    for (i = 0, n = 0; i < b->ncalls; i++) {
        n += row->refs[i].sent;
    }

    return n;
}


/* one row's line, to OUT or to the rejects file */
static int
relabel_batch_rows_write_one(relabel_batch_t *b, relabel_batch_row_t *row,
    const char *text, size_t len, ngx_http_moa_buf_t *out)
{
    int                fd;
    char               err[RELABEL_ERRLEN];
    relabel_run_t     *run;
    relabel_record_t   rec;
    relabel_answer_t   a;

    run = b->run;
    err[0] = '\0';

    if (row->state == RELABEL_ROW_DONE) {
        if (relabel_batch_rows_answer(b, row, &a, err, sizeof(err)) != 0
            || relabel_record_split(text, len, &rec) != NULL
            || relabel_record_output_build(out, text, len, &rec, a.message,
                                           a.message_len) != 0)
        {
            relabel_run_log(run, "line %lu: cannot build its output: %s",
                            row->line, err[0] ? err : "out of memory");
            relabel_record_answer_free(&a);
            return -1;
        }

        if (strcmp(a.finish_reason, "length") == 0) {
            run->truncated++;
        }

        relabel_record_answer_free(&a);
        fd = run->out_fd;
        run->written++;

    } else {
        if (relabel_record_reject_build(out, row->line, row->error,
                                        row->status,
                                        relabel_batch_rows_attempts(b, row),
                                        text, len) != 0)
        {
            relabel_run_log(run, "out of memory");
            return -1;
        }

        fd = run->rej_fd;
        run->rejected++;

        if (!b->conf->quiet) {
            relabel_run_log(run, "line %lu: rejected: %s", row->line,
                            row->error);
        }
    }

    if (relabel_files_write_all(fd, out->data, out->len) != 0) {
        relabel_run_log(run, "writing %s: %s",
                        fd == run->out_fd ? "OUT" : "the rejects file",
                        strerror(errno));
        return -1;
    }

    return 0;
}


/* OUT and the rejects file, in input order, from where they stop */
int
relabel_batch_rows_write(relabel_batch_t *b)
{
    int                   rc;
    relabel_run_t        *run;
    relabel_line_t        l;
    ngx_http_moa_buf_t    out;
    relabel_batch_row_t  *row;

    run = b->run;
    memset(&l, 0, sizeof(relabel_line_t));
    rc = 0;

    while (run->covered < b->st.last) {
        if (relabel_io_read_line(run->in, &l, run->covered + 1) <= 0) {
            relabel_run_log(run, "IN ended at line %lu: did it change?",
                            run->covered);
            rc = -1;
            break;
        }

        row = &b->rows[run->covered + 1 - b->st.first];

        if (row->state == RELABEL_ROW_BLANK || l.blank) {
            run->blank++;

        } else if (row->state == RELABEL_ROW_ACTIVE) {
            relabel_run_log(run, "line %lu: no result", row->line);
            rc = -1;
            break;

        } else {
            memset(&out, 0, sizeof(ngx_http_moa_buf_t));
            rc = relabel_batch_rows_write_one(b, row, l.data, l.len, &out);
            ngx_http_moa_buf_free(&out);

            if (rc != 0) {
                break;
            }
        }

        run->covered++;
        relabel_batch_hook("written");
    }

    free(l.data);

    return rc;
}


void
relabel_batch_rows_free(relabel_batch_t *b)
{
    int            i;
    unsigned long  r;

    for (r = 0; b->rows && r < b->nrows; r++) {
        for (i = 0; b->rows[r].refs && i < b->ncalls; i++) {
            free(b->rows[r].refs[i].why);
        }

        free(b->rows[r].refs);
        free(b->rows[r].error);
    }

    free(b->rows);
    b->rows = NULL;

    for (i = 0; b->fds && (size_t) i < b->nfds; i++) {
        if (b->fds[i] != -1) {
            close(b->fds[i]);
        }
    }

    free(b->fds);
    b->fds = NULL;
}
