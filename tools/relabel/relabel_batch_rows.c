
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel --batch: the rows of a run and the results of their calls.
 * IN is read once for where each row is; a row's text is read again
 * (pread) whenever a body or its output line needs it, and a call's result
 * is a line of a downloaded file, found by its custom_id, read again when
 * a later stage needs it: memory holds only offsets.  Which calls go into
 * a round, and what a stage's results make of a row (the quorum, critique
 * or none, the answer or the fallback or a reject).
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
#include "ngx_http_moa_recipe.h"
#include "relabel_batch_run.h"


/* rounds past --batch-retry for calls whose batch never ran them */
#define RELABEL_BATCH_EXTRA_ROUNDS  5


static char *relabel_batch_rows_text(relabel_batch_t *b,
    relabel_batch_row_t *row);
static int relabel_batch_rows_cands(relabel_batch_t *b,
    relabel_batch_row_t *row, int layer);
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
    row->select = r.select;
    row->agreement = r.agreement;
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
char *
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


void
relabel_batch_rows_fail(relabel_batch_ref_t *ref, relabel_ref_kind_e kind,
    long status, const char *why)
{
    ref->kind = kind;
    ref->status = status;
    free(ref->why);
    ref->why = strdup(why);
}


/* the candidates a row has so far in a layer */
static int
relabel_batch_rows_cands(relabel_batch_t *b, relabel_batch_row_t *row,
    int layer)
{
    int                   i, n;
    relabel_batch_ref_t  *ref;

    for (i = 0, n = 0; i < b->recipe.ncalls; i++) {
        ref = relabel_batch_ref(b, row, RELABEL_BATCH_LAYER(layer), i);

        if (ref->kind == RELABEL_REF_OK) {
            n += ref->ncands;
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
    int                   call, ncalls, below, layer;
    size_t                size;
    unsigned long         i;
    relabel_batch_ref_t  *ref;
    relabel_batch_row_t  *row;
    relabel_batch_item_t *it;

    *items = NULL;
    *n = 0;
    size = 0;
    ncalls = relabel_batch_stage_calls(b, stage);
    layer = relabel_batch_stage_layer(stage);

    for (i = 0; i < b->nrows; i++) {
        row = &b->rows[i];

        /* the row's recipe: a select judge, or critique and synthesis */
        if (row->state != RELABEL_ROW_ACTIVE
            || (stage == RELABEL_BATCH_SELECT && !row->select)
            || ((stage == RELABEL_BATCH_CRITIQUE
                 || stage == RELABEL_BATCH_SYNTHESIS) && row->select))
        {
            continue;
        }

        below = layer == 0
                || relabel_batch_rows_cands(b, row, layer) < b->recipe.need;

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
int
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
            || i == relabel_batch_slot(b, RELABEL_BATCH_SYNTHESIS, 0))
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


void
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
    int                       rc, ncands, fc, fch, layer, first, slot;
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

    /* candidates: the previous layer's for a layer, else the last's */
    layer = relabel_batch_stage_layer(stage);
    layer = layer ? layer - 1 : b->recipe.recipe.layers;
    first = relabel_batch_slot(b, RELABEL_BATCH_LAYER(layer > 0 ? layer : 1),
                               0);
    slot = relabel_batch_slot(b, RELABEL_BATCH_CRITIQUE, 0);

    if (stage == RELABEL_BATCH_PROPOSAL) {
        rc = relabel_batch_recipe_proposal(&b->recipe, &r, call, out);

    } else if (relabel_batch_rows_replies(b, row, reps, lines) != 0) {
        snprintf(err, errlen, "cannot read back the results of line %lu",
                 row->line);

    } else if (relabel_batch_cands_text(&b->recipe, reps + first,
                                        b->recipe.ncalls, &cands, &ncands,
                                        &fc, &fch) == 0)
    {
        critique = reps[slot].p ? &reps[slot].choices[0] : NULL;

        rc = relabel_batch_stage_layer(stage)
             ? relabel_batch_recipe_layer(&b->recipe, &r, call, &cands,
                                          ncands, out)
             : stage == RELABEL_BATCH_SELECT
             ? relabel_batch_recipe_select(&b->recipe, &r, &cands, ncands,
                                           out)
             : stage == RELABEL_BATCH_CRITIQUE
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


/* the last failure among a row's calls of a stage */
static const relabel_batch_ref_t *
relabel_batch_rows_last_failure(relabel_batch_t *b, relabel_batch_row_t *row,
    int stage)
{
    int                         call, ncalls;
    const relabel_batch_ref_t  *ref, *last;

    ncalls = relabel_batch_stage_calls(b, stage);
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
    const char *what, const char *why)
{
    char  buf[600];

    snprintf(buf, sizeof(buf), "%s: %s", what, why ? why : "no result");
    free(row->error);
    row->error = strdup(buf);
    row->status = status;
    row->state = RELABEL_ROW_REJECTED;
}


/*
 * A row answered with candidate k of the last layer, as
 * ngx_http_moa_recipes_select_done(): the judge's pick, or the first
 * candidate when the judge failed or named none.
 */
static int
relabel_batch_rows_pick(relabel_batch_t *b, relabel_batch_row_t *row,
    int layer, ngx_http_moa_reply_t *reps)
{
    int                          k;
    relabel_batch_ref_t         *ref;
    const ngx_http_moa_reply_t  *judge;

    ref = relabel_batch_ref(b, row, RELABEL_BATCH_SELECT, 0);
    judge = &reps[relabel_batch_slot(b, RELABEL_BATCH_SELECT, 0)];
    k = -1;

    if (ref->kind == RELABEL_REF_OK && judge->p && judge->nchoices > 0) {
        k = ngx_http_moa_recipe_best(&judge->choices[0],
                                     relabel_batch_rows_cands(b, row, layer));
    }

    if (k < 0 && !b->conf->quiet) {
        relabel_run_log(NULL, "line %lu: select: the judge %s, answering "
                        "with candidate 1", row->line,
                        ref->kind == RELABEL_REF_OK ? "named no candidate"
                                                    : "failed");
    }

    k = k < 0 ? 0 : k;
    row->pick_layer = layer;
    row->pick = k;
    row->state = RELABEL_ROW_DONE;

    return 0;
}


/*
 * What the replies of a row say once a stage is in: early agreement of a
 * layer's candidates (as ngx_http_moa_recipes_agreement(), each layer), or
 * the select judge's pick.
 */
static int
relabel_batch_rows_decide(relabel_batch_t *b, relabel_batch_row_t *row,
    int stage)
{
    int                    rc, layer;
    char                 **lines;
    ngx_http_moa_reply_t  *reps;

    layer = relabel_batch_stage_layer(stage);

    if (layer && (!row->agreement
                  || relabel_batch_rows_cands(b, row, layer) < 2))
    {
        return 0;
    }

    reps = calloc(b->ncalls, sizeof(ngx_http_moa_reply_t));
    lines = calloc(b->ncalls, sizeof(char *));
    rc = -1;

    if (reps && lines && relabel_batch_rows_replies(b, row, reps, lines) == 0)
    {
        if (layer == 0) {
            rc = relabel_batch_rows_pick(b, row, b->recipe.recipe.layers,
                                         reps);

        } else {
            rc = relabel_batch_cands_agree(&b->recipe,
                       reps + relabel_batch_slot(b, stage, 0),
                       b->recipe.ncalls);

            if (rc == 1) {
                /* critique, synthesis and the layers left skipped */
                row->pick_layer = layer;
                row->pick = 0;
                row->state = RELABEL_ROW_DONE;
                b->agreed++;
                rc = 0;
            }
        }

        relabel_batch_rows_replies_free(b, reps, lines);
    }

    free(reps);
    free(lines);

    if (rc != 0) {
        relabel_run_log(NULL, "line %lu: cannot read back its results",
                        row->line);
    }

    return rc;
}


/* what a finished stage makes of each row, as the module decides */
int
relabel_batch_rows_settle(relabel_batch_t *b, int stage)
{
    int                         n, layer;
    char                        what[128];
    unsigned long               i;
    relabel_batch_row_t        *row;
    const relabel_batch_ref_t  *last, *syn;

    layer = relabel_batch_stage_layer(stage);

    for (i = 0; i < b->nrows; i++) {
        row = &b->rows[i];

        if (row->state != RELABEL_ROW_ACTIVE) {
            continue;
        }

        last = relabel_batch_rows_last_failure(b, row, stage);

        if (layer) {
            n = relabel_batch_rows_cands(b, row, layer);

            if (n < b->recipe.need) {
                snprintf(what, sizeof(what), "%s: %d of %d candidates, %d "
                         "needed", layer > 1 ? relabel_batch_run_stage_name(
                                                   stage) : "proposals",
                         n, b->recipe.expected, b->recipe.need);
                relabel_batch_rows_reject(row, last ? last->status : 0, what,
                                          last ? last->why : NULL);

            } else if (relabel_batch_rows_decide(b, row, stage) != 0) {
                return -1;
            }

        } else if (stage == RELABEL_BATCH_SELECT && row->select) {
            if (relabel_batch_rows_decide(b, row, stage) != 0) {
                return -1;
            }

        } else if (stage == RELABEL_BATCH_SYNTHESIS && !row->select) {
            syn = relabel_batch_ref(b, row, stage, 0);

            if (syn->kind == RELABEL_REF_OK) {
                row->state = RELABEL_ROW_DONE;

            } else if (b->recipe.fallback
                       && relabel_batch_rows_cands(b, row,
                                              b->recipe.recipe.layers) > 0)
            {
                row->state = RELABEL_ROW_DONE;
                row->fallback = 1;
                row->pick_layer = b->recipe.recipe.layers;
                row->pick = 0;

            } else {
                relabel_batch_rows_reject(row, syn->status, "synthesis",
                                          syn->why);
            }
        }
    }

    return 0;
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
