
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel --batch: OUT and the rejects file, once every stage is
 * done, written as an online run writes them: in input order, each line
 * with one write(), from where a stopped run left them (the online mode's
 * resume walk found it); a done row gets the synthesis' answer (or the
 * fallback candidate) in place, a rejected row its reason.
 */


#define _GNU_SOURCE

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relabel_batch_run.h"


/*
 * The answer of a done row as the reply the online mode would have got:
 * the synthesis reply, or {"choices":[the first candidate]} as the
 * fallback.
 */
static int
relabel_batch_write_answer(relabel_batch_t *b, relabel_batch_row_t *row,
    relabel_answer_t *a, char *err, size_t errlen)
{
    int                      rc, fc, fch;
    char                    *line, **lines;
    ngx_http_moa_buf_t       body;
    relabel_batch_ref_t     *ref;
    ngx_http_moa_reply_t    *reps;
    relabel_batch_result_t   res;

    ref = relabel_batch_ref(b, row, RELABEL_BATCH_SYNTHESIS, 0);

    if (row->pick_layer == 0) {
        line = relabel_batch_rows_line(b, ref);

        rc = line == NULL
             || relabel_batch_files_result(line, ref->len, &res) != 0
             || res.body == NULL
             ? -1
             : relabel_record_answer_parse(res.body, res.body_len, a, err,
                                           errlen);
        free(line);
        return rc;
    }

    rc = -1;
    memset(&body, 0, sizeof(ngx_http_moa_buf_t));
    reps = calloc(b->ncalls, sizeof(ngx_http_moa_reply_t));
    lines = calloc(b->ncalls, sizeof(char *));

    if (reps && lines && relabel_batch_rows_replies(b, row, reps, lines) == 0) {
        /* the candidate verbatim: an agreement, a pick, the fallback */
        fc = relabel_batch_slot(b, RELABEL_BATCH_LAYER(row->pick_layer), 0);

        if (relabel_batch_cands_pick(&b->recipe, reps + fc, b->recipe.ncalls,
                                     row->pick, &fc, &fch) == 0)
        {
            fc += relabel_batch_slot(b, RELABEL_BATCH_LAYER(row->pick_layer),
                                     0);
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

    ngx_http_moa_buf_free(&body);
    free(reps);
    free(lines);

    return rc;
}


static unsigned
relabel_batch_write_attempts(relabel_batch_t *b, relabel_batch_row_t *row)
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
relabel_batch_write_row(relabel_batch_t *b, relabel_batch_row_t *row,
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
        if (relabel_batch_write_answer(b, row, &a, err, sizeof(err)) != 0
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
                                        relabel_batch_write_attempts(b, row),
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
relabel_batch_write_out(relabel_batch_t *b)
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
            rc = relabel_batch_write_row(b, row, l.data, l.len, &out);
            ngx_http_moa_buf_free(&out);

            if (rc != 0) {
                break;
            }
        }

        run->covered++;
        relabel_batch_run_hook("written");
    }

    free(l.data);

    return rc;
}
