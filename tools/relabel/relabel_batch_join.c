
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel --batch: a part's calls and results.  The calls a part
 * holds come from its input file (each line's custom_id); once its batch
 * has ended, the lines of its output and error files are joined to them
 * by custom_id: a usable reply (checked, and its usage summed, by the
 * module's reply and usage code), an error a retry may fix, one it cannot,
 * or a call its batch never ran.  A call without a line gets the batch's
 * fate.  Only where each line is (file, offset, length) is kept.
 */


#define _GNU_SOURCE

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_moa_usage.h"
#include "relabel_batch_run.h"


/* the calls of a part, from its input file: sent in this round */
int
relabel_batch_join_members(relabel_batch_t *b, int pi)
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
        if ((size_t) n < sizeof(RELABEL_BATCH_LINE_START)
            || memcmp(line, RELABEL_BATCH_LINE_START,
                      sizeof(RELABEL_BATCH_LINE_START) - 1) != 0)
        {
            break;
        }

        id = line + sizeof(RELABEL_BATCH_LINE_START) - 1;
        end = strchr(id, '"');

        if (end == NULL) {
            break;
        }

        *end = '\0';

        if (relabel_batch_files_custom_id_parse(id, &ln, &stage, &call) != 0
            || ln < b->st.first || ln > b->st.last
            || stage != b->st.parts[pi].stage
            || call >= relabel_batch_stage_calls(b, stage))
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
relabel_batch_join_reply(relabel_batch_t *b, int stage, int call,
    relabel_batch_ref_t *ref, const relabel_batch_result_t *res)
{
    int                    slot;
    int                    j, asked, n;
    ngx_http_moa_error_t   e;
    ngx_http_moa_reply_t   rep;

    memset(&rep, 0, sizeof(ngx_http_moa_reply_t));

    if (ngx_http_moa_reply_parse(&rep, res->body, res->body_len, &e) != 0) {
        relabel_batch_rows_fail(ref, RELABEL_REF_RETRY, res->status,
                                e.message);
        return;
    }

    /* per call: each proposer may have a model (and price) of its own */
    slot = relabel_batch_slot(b, stage, call);

    if (ngx_http_moa_usage_add_reply(&b->usage[slot], &rep) < 0) {
        b->run->fatal = 1;
    }

    asked = relabel_batch_stage_layer(stage)
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
relabel_batch_join_file(relabel_batch_t *b, int pi, int err_file)
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
            || call >= relabel_batch_stage_calls(b, stage))
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
                relabel_batch_join_reply(b, stage, call, ref, &res);

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
relabel_batch_join_part(relabel_batch_t *b, int pi)
{
    int                    call, ncalls, stage;
    char                   why[400];
    unsigned long          i;
    relabel_batch_ref_t   *ref;
    relabel_batch_part_t  *p;

    p = &b->st.parts[pi];
    stage = p->stage;

    if (relabel_batch_join_file(b, pi, 0) != 0
        || relabel_batch_join_file(b, pi, 1) != 0)
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

    ncalls = relabel_batch_stage_calls(b, stage);

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
