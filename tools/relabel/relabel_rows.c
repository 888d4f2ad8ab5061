
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel: a row from reading to writing.  Rows are read into the ring
 * of slots, a failed try is retried, rejected or held back (when the
 * endpoint may be to blame), and finished rows leave in input order.
 */


#define _GNU_SOURCE

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "relabel_run.h"


static long long relabel_rows_retry_delay(relabel_run_t *run, relabel_slot_t *s,
    const char **why);
static int relabel_rows_suspect_writable(relabel_run_t *run, relabel_slot_t *s);


/* reads rows into free slots; a row needing no request is done at once */

void
relabel_rows_fill(relabel_run_t *run)
{
    int              rc;
    const char      *why;
    relabel_slot_t  *s;
    relabel_conf_t  *conf;

    conf = run->conf;

    while (!run->in_eof && run->tail - run->head < run->nslots) {

        if (conf->limit && run->lineno >= conf->limit) {
            run->in_eof = 1;
            break;
        }

        rc = relabel_io_read_line(run->in, &run->line, run->lineno + 1);

        if (rc == 0) {
            run->in_eof = 1;
            break;
        }

        if (rc < 0) {
            relabel_run_log(run, "reading IN: %s", strerror(errno));
            run->fatal = 1;
            return;
        }

        run->lineno++;

        s = &run->slots[run->tail % run->nslots];
        run->tail++;
        s->line = run->lineno;

        if (run->line.blank) {
            s->kind = RELABEL_KIND_BLANK;
            relabel_run_set_state(run, s, RELABEL_SLOT_DONE);
            continue;
        }

        /* the slot takes over getline()'s buffer */

        s->text = run->line.data;
        s->len = run->line.len;
        run->line.data = NULL;
        run->line.cap = 0;

        why = relabel_record_split(s->text, s->len, &s->rec);

        if (why) {
            relabel_run_set_state(run, s, RELABEL_SLOT_QUEUED);
            relabel_rows_reject(run, s, why, 0, RELABEL_KIND_REJECT);
            continue;
        }

        relabel_run_set_state(run, s, RELABEL_SLOT_QUEUED);
    }
}


void
relabel_rows_fail(relabel_run_t *run, relabel_slot_t *s, const char *err,
    long status, int retryable, int endpoint)
{
    long long        delay;
    const char      *why;
    relabel_conf_t  *conf;

    conf = run->conf;
    run->failures++;

    ngx_http_moa_buf_free(&s->resp);

    if (retryable && run->stopping) {
        /* not a verdict on the row: a resumed run will try it again */
        relabel_run_set_state(run, s, RELABEL_SLOT_ABANDONED);
        return;
    }

    if (retryable && s->attempts <= (unsigned) conf->retries) {
        delay = relabel_rows_retry_delay(run, s, &why);

        s->due = relabel_run_now_ms() + (uint64_t) delay;
        run->retries++;
        relabel_run_set_state(run, s, RELABEL_SLOT_WAITING);

        if (conf->verbose) {
            relabel_run_log(run, "line %lu: %s (attempt %u of %ld); retrying "
                            "in %lld ms (%s)", s->line, err, s->attempts,
                            conf->retries + 1, delay, why);
        }

        return;
    }

    if (!endpoint) {
        /* the endpoint gave a verdict on this row: it is up */
        run->successes++;
        run->consec = 0;
        relabel_rows_reject(run, s, err, status, RELABEL_KIND_REJECT);
        return;
    }

    run->consec++;

    if (conf->max_consec && run->consec >= conf->max_consec) {
        relabel_run_set_state(run, s, RELABEL_SLOT_ABANDONED);

        if (!run->unhealthy) {
            run->unhealthy = 1;
            relabel_run_log(run, "line %lu: %s; %ld rows in a row failed that "
                            "way: stopping (rows that failed like this are "
                            "left for the resumed run, not rejected)", s->line,
                            err, run->consec);
            relabel_run_stop(run, 1);
        }

        return;
    }

    relabel_rows_reject(run, s, err, status, RELABEL_KIND_SUSPECT);
}


/*
 * The wait before a row's next try, in ms: what a Retry-After asks for
 * (which also pauses new requests), else the exponential backoff; both
 * with jitter.
 */

static long long
relabel_rows_retry_delay(relabel_run_t *run, relabel_slot_t *s,
    const char **why)
{
    long long        delay, ra, cap;
    unsigned         i;
    relabel_conf_t  *conf;

    conf = run->conf;

    ra = relabel_http_retry_after_ms(s->retry_after_ms,
                                     s->retry_after[0] ? s->retry_after : NULL,
                                     time(NULL));

    if (ra >= 0) {
        if (ra > conf->retry_after_max_ms) {
            ra = conf->retry_after_max_ms;
        }

        /*
         * Rate limits are per client: what the server asks for holds
         * for every request, so nothing new starts before then.  The
         * row itself waits a little longer, with jitter, so that rows
         * told the same thing do not all come back at once.
         */

        if (relabel_run_now_ms() + ra > run->pause_until) {
            run->pause_until = relabel_run_now_ms() + ra;

            if (conf->verbose) {
                relabel_run_log(run, "pausing new requests for %lld ms "
                                "(Retry-After)", ra);
            }
        }

        delay = ra + random() % (ra / 10 + 1);
        *why = "Retry-After";

    } else {
        cap = conf->backoff_max_ms;
        delay = conf->backoff_ms;

        for (i = 1; i < s->attempts && delay < cap; i++) {
            delay *= 2;
        }

        if (delay > cap) {
            delay = cap;
        }

        delay = delay / 2 + random() % (delay / 2 + 1);
        *why = "backoff";
    }

    return delay;
}


void
relabel_rows_reject(relabel_run_t *run, relabel_slot_t *s, const char *err,
    long status, relabel_kind_e kind)
{
    if (relabel_record_reject_build(&s->out, s->line, err, status, s->attempts,
                                    s->text, s->len) != 0)
    {
        relabel_run_log(run, "out of memory");
        run->fatal = 1;
        return;
    }

    s->error = strdup(err);
    if (s->error == NULL) {
        relabel_run_log(run, "out of memory");
        run->fatal = 1;
        return;
    }

    free(s->text);
    s->text = NULL;
    ngx_http_moa_buf_free(&s->req);
    ngx_http_moa_buf_free(&s->resp);

    s->kind = kind;
    s->success_mark = run->successes;
    relabel_run_set_state(run, s, RELABEL_SLOT_DONE);
}


/*
 * A reject the endpoint may be to blame for is written once a later reply
 * shows the endpoint working, or when nothing else can happen before it.
 * Until then it is held, so that a run stopped by
 * --max-consecutive-failures leaves those rows to the resumed run.
 */

static int
relabel_rows_suspect_writable(relabel_run_t *run, relabel_slot_t *s)
{
    if (run->conf->max_consec == 0 || run->successes > s->success_mark) {
        return 1;
    }

    return run->count[RELABEL_SLOT_RUNNING] == 0
           && run->count[RELABEL_SLOT_WAITING] == 0
           && run->count[RELABEL_SLOT_QUEUED] == 0
           && !run->stopping
           && (run->in_eof || run->tail - run->head >= run->nslots);
}


/* writes finished rows in input order, each line with one write() */

void
relabel_rows_write_ready(relabel_run_t *run)
{
    int              fd;
    const char      *what;
    relabel_slot_t  *s;

    while (run->head < run->tail && !run->fatal) {
        s = &run->slots[run->head % run->nslots];

        if (s->state != RELABEL_SLOT_DONE) {
            break;
        }

        if (s->kind == RELABEL_KIND_SUSPECT
            && !relabel_rows_suspect_writable(run, s))
        {
            break;
        }

        if (s->kind == RELABEL_KIND_BLANK) {
            run->blank++;

        } else {
            fd = s->kind == RELABEL_KIND_OUT ? run->out_fd : run->rej_fd;
            what = s->kind == RELABEL_KIND_OUT ? "OUT" : "the rejects file";

            if (relabel_files_write_all(fd, s->out.data, s->out.len) != 0) {
                relabel_run_log(run, "writing %s: %s", what, strerror(errno));
                run->fatal = 1;
                return;
            }

            if (s->kind == RELABEL_KIND_OUT) {
                run->written++;

            } else {
                run->rejected++;

                if (!run->conf->quiet) {
                    if (s->attempts == 0) {
                        relabel_run_log(run, "line %lu: rejected: %s", s->line,
                                        s->error);
                    } else {
                        relabel_run_log(run, "line %lu: rejected after %u "
                                        "attempt%s: %s", s->line, s->attempts,
                                        s->attempts == 1 ? "" : "s", s->error);
                    }
                }
            }
        }

        run->covered = s->line;
        relabel_run_slot_clear(run, s);
        run->head++;
    }
}
