
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel: relabel a fine-tuning JSONL file through an OpenAI-compatible
 * chat completions endpoint (the MoA model by default).
 *
 * One thread, libcurl's multi interface: up to --concurrency requests in
 * flight.  Rows live in a ring of --window slots between being read and
 * being written; output leaves strictly in input order, so a full ring
 * pauses reading (and with it new requests) while the oldest row is still
 * being worked on.  That bounds memory and makes OUT plus the rejects file
 * an exact prefix of IN at every moment, which is what resuming relies on.
 *
 * This file: main (setup, the loop, cleanup), signals and stopping.
 */


#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "relabel_run.h"
#include "relabel_batch_run.h"


static volatile sig_atomic_t  relabel_signals;
static volatile sig_atomic_t  relabel_signo;
static int                    relabel_pipe[2] = { -1, -1 };


static void relabel_signal_handler(int signo);
static int relabel_setup(relabel_run_t *run);
static void relabel_announce(relabel_run_t *run);
static void relabel_loop(relabel_run_t *run);
static void relabel_cleanup(relabel_run_t *run);
static void relabel_cancel(relabel_run_t *run, relabel_slot_t *s);
static void relabel_check_signals(relabel_run_t *run);
static void relabel_apply_stop(relabel_run_t *run);
static long relabel_poll_timeout(relabel_run_t *run);


int
main(int argc, char **argv)
{
    int             rc;
    relabel_run_t   run;
    relabel_conf_t  conf;

    memset(&conf, 0, sizeof(relabel_conf_t));
    memset(&run, 0, sizeof(relabel_run_t));

    run.conf = &conf;
    run.out_fd = -1;
    run.rej_fd = -1;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "moa-relabel: cannot initialise libcurl\n");
        return RELABEL_EXIT_FATAL;
    }

    rc = relabel_args_parse(argc, argv, &conf);

    if (rc != 0) {
        rc = rc > 0 ? RELABEL_EXIT_OK : RELABEL_EXIT_FATAL;

    } else if (conf.batch.on) {
        /* relabel_batch.c: the provider's Batch API */
        rc = relabel_batch_main(&run);

    } else if (relabel_setup(&run) != 0) {
        rc = RELABEL_EXIT_FATAL;

    } else {
        relabel_loop(&run);
        rc = relabel_report_finish(&run);
    }

    relabel_cleanup(&run);

    return rc;
}


/* the endpoint checked, files opened, slots, signals: -1 after saying why */

static int
relabel_setup(relabel_run_t *run)
{
    CURLU             *url;
    relabel_conf_t    *conf;
    struct sigaction   sa;

    conf = run->conf;

    url = curl_url();
    if (url == NULL
        || curl_url_set(url, CURLUPART_URL, conf->endpoint, 0) != CURLUE_OK)
    {
        relabel_run_log(NULL, "--endpoint: not a URL: \"%s\"", conf->endpoint);
        curl_url_cleanup(url);
        return -1;
    }
    curl_url_cleanup(url);

    if (relabel_files_open(run) != 0) {
        return -1;
    }

    run->nslots = (unsigned long) conf->window;
    run->slots = calloc(run->nslots, sizeof(relabel_slot_t));
    run->multi = curl_multi_init();

    if (run->slots == NULL || run->multi == NULL
        || pipe2(relabel_pipe, O_NONBLOCK | O_CLOEXEC) != 0)
    {
        relabel_run_log(NULL, "cannot start: %s", strerror(errno));
        return -1;
    }

    run->count[RELABEL_SLOT_FREE] = (long) run->nslots;

    curl_multi_setopt(run->multi, CURLMOPT_MAXCONNECTS,
                      conf->concurrency * 2 + 4);

    memset(&sa, 0, sizeof(struct sigaction));
    sa.sa_handler = relabel_signal_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    srandom((unsigned) time(NULL) ^ (unsigned) getpid());

    run->tty = isatty(STDERR_FILENO);
    run->start_ms = relabel_run_now_ms();
    run->last_progress_ms = run->start_ms;

    relabel_announce(run);

    return 0;
}


static void
relabel_announce(relabel_run_t *run)
{
    relabel_conf_t  *conf;

    conf = run->conf;

    if (conf->quiet) {
        return;
    }

    if (run->resume.covered) {
        relabel_run_log(run, "%s: %lu lines; resuming after line %lu (%lu "
                        "in OUT, %lu rejected, %lu blank)", conf->in_path,
                        run->total_lines, run->resume.covered,
                        run->resume.out_rows, run->resume.reject_rows,
                        run->resume.blank_rows);
    } else {
        relabel_run_log(run, "%s: %lu lines -> %s (rejects: %s)",
                        conf->in_path, run->total_lines, conf->out_path,
                        conf->rejects_path);
    }

    relabel_run_log(run, "endpoint %s, model %s, concurrency %ld, window "
                    "%ld, retries %ld", conf->endpoint, conf->model,
                    conf->concurrency, conf->window, conf->retries);
}


/* until every row is written, or the run stops or fails */

static void
relabel_loop(relabel_run_t *run)
{
    int                 running;
    struct curl_waitfd  wfd;

    wfd.fd = relabel_pipe[0];
    wfd.events = CURL_WAIT_POLLIN;
    wfd.revents = 0;

    for ( ;; ) {
        relabel_check_signals(run);

        if (!run->stopping) {
            relabel_rows_fill(run);
            relabel_multi_dispatch(run);
        }

        if (run->stopping) {
            relabel_apply_stop(run);
        }

        relabel_rows_write_ready(run);

        if (run->fatal) {
            break;
        }

        if (run->stopping
            ? run->count[RELABEL_SLOT_RUNNING] == 0
            : run->in_eof && run->head == run->tail)
        {
            break;
        }

        curl_multi_poll(run->multi, &wfd, 1,
                        (int) relabel_poll_timeout(run), NULL);
        curl_multi_perform(run->multi, &running);
        relabel_multi_harvest(run);
        relabel_report_progress(run, 0);
    }
}


static void
relabel_cleanup(relabel_run_t *run)
{
    int              i;
    unsigned long    seq;
    relabel_slot_t  *s;

    if (run->slots) {
        for (seq = 0; seq < run->nslots; seq++) {
            s = &run->slots[seq];
            if (s->easy) {
                curl_multi_remove_handle(run->multi, s->easy);
                curl_easy_cleanup(s->easy);
            }
            free(s->text);
            free(s->error);
            ngx_http_moa_buf_free(&s->req);
            ngx_http_moa_buf_free(&s->resp);
            ngx_http_moa_buf_free(&s->out);
        }
        free(run->slots);
    }

    if (run->multi) {
        curl_multi_cleanup(run->multi);
    }

    if (run->in) {
        fclose(run->in);
    }

    if (run->out_fd != -1) {
        close(run->out_fd);
    }

    if (run->rej_fd != -1) {
        close(run->rej_fd);
    }

    for (i = 0; i < 2; i++) {
        if (relabel_pipe[i] != -1) {
            close(relabel_pipe[i]);
        }
    }

    free(run->line.data);

    relabel_args_free(run->conf);
    curl_global_cleanup();
}


static void
relabel_signal_handler(int signo)
{
    int  saved;

    saved = errno;

    if (relabel_signals == 0) {
        relabel_signo = signo;
    }

    relabel_signals++;

    if (relabel_pipe[1] != -1) {
        (void) !write(relabel_pipe[1], "s", 1);
    }

    errno = saved;
}


static void
relabel_cancel(relabel_run_t *run, relabel_slot_t *s)
{
    curl_multi_remove_handle(run->multi, s->easy);
    curl_easy_cleanup(s->easy);
    s->easy = NULL;
    relabel_run_set_state(run, s, RELABEL_SLOT_ABANDONED);
}


static void
relabel_check_signals(relabel_run_t *run)
{
    char  buf[64];
    int   n;

    while (read(relabel_pipe[0], buf, sizeof(buf)) > 0) {
        /* drained */
    }

    n = relabel_signals;

    if (n == run->signals_seen) {
        return;
    }

    run->signals_seen = n;

    if (run->stop_signal == 0) {
        run->stop_signal = relabel_signo;
    }

    relabel_run_stop(run, n >= 2 ? 2 : 1);
}


/*
 * Stopping: rows not started, waiting for a retry, or held as suspect
 * rejects are left for the resumed run.  Nothing after the first such row
 * can be written, so its in-flight requests are abandoned too; requests
 * before it are waited for (at level 2 abandoned as well).
 */

static void
relabel_apply_stop(relabel_run_t *run)
{
    int              cut;
    unsigned long    seq;
    relabel_slot_t  *s;

    cut = 0;

    for (seq = run->head; seq < run->tail; seq++) {
        s = &run->slots[seq % run->nslots];

        switch (s->state) {

        case RELABEL_SLOT_QUEUED:
        case RELABEL_SLOT_WAITING:
            relabel_run_set_state(run, s, RELABEL_SLOT_ABANDONED);
            break;

        case RELABEL_SLOT_DONE:
            if (s->kind == RELABEL_KIND_SUSPECT
                && run->successes <= s->success_mark)
            {
                relabel_run_set_state(run, s, RELABEL_SLOT_ABANDONED);
            }
            break;

        case RELABEL_SLOT_RUNNING:
            if (cut || run->stopping >= 2) {
                relabel_cancel(run, s);
            }
            break;

        default:
            break;
        }

        if (s->state == RELABEL_SLOT_ABANDONED) {
            cut = 1;
        }
    }
}


static long
relabel_poll_timeout(relabel_run_t *run)
{
    long             t;
    uint64_t         now;
    unsigned long    seq;
    relabel_slot_t  *s;

    t = run->tty ? RELABEL_TICK_MS : 1000;

    if (run->stopping) {
        return t;
    }

    now = relabel_run_now_ms();

    if (now < run->pause_until) {
        return (long) (run->pause_until - now) < t
               ? (long) (run->pause_until - now) : t;
    }

    /* with every slot busy, only a finished request can let a retry go */

    if (run->count[RELABEL_SLOT_WAITING] == 0
        || run->count[RELABEL_SLOT_RUNNING] >= run->conf->concurrency)
    {
        return t;
    }

    for (seq = run->head; seq < run->tail; seq++) {
        s = &run->slots[seq % run->nslots];

        if (s->state == RELABEL_SLOT_WAITING) {
            if (s->due <= now) {
                return 0;
            }
            if ((long) (s->due - now) < t) {
                t = (long) (s->due - now);
            }
        }
    }

    return t;
}
