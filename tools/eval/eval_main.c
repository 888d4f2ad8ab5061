
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-eval: is a model (a Mixture-of-Agents one, say) better than a
 * baseline on the user's own prompts?  One thread, libcurl's multi
 * interface; the prompts are in memory, every answer and verdict is
 * appended to the results file as it arrives, and the figures are
 * computed from all of them at the end.
 *
 * This file: main (setup, the loop, cleanup), signals.
 */


#define _GNU_SOURCE

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "eval_run.h"


static volatile sig_atomic_t  eval_signals;
static volatile sig_atomic_t  eval_signo;


static void eval_main_signal(int signo);
static void eval_main_loop(eval_run_t *run);


static void
eval_main_signal(int signo)
{
    eval_signo = signo;
    eval_signals++;
}


int
main(int argc, char **argv)
{
    int                rc;
    eval_run_t         run;
    eval_conf_t        conf;
    struct sigaction   sa;

    memset(&conf, 0, sizeof(eval_conf_t));
    memset(&run, 0, sizeof(eval_run_t));

    run.conf = &conf;
    run.out_fd = -1;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "moa-eval: cannot initialise libcurl\n");
        return EVAL_EXIT_FATAL;
    }

    rc = EVAL_EXIT_FATAL;

    if (eval_args_parse(argc, argv, &conf) != 0) {
        goto done;
    }

    if (eval_prompts_load(&run) != 0) {
        goto done;
    }

    if (run.nprompts == 0) {
        eval_run_log(&run, "%s: no prompts to evaluate", conf.in_path);
        goto done;
    }

    if (conf.dry_run) {
        if (access(conf.out_path, F_OK) == 0
            && eval_results_open(&run) != 0)
        {
            goto done;
        }

        if (eval_calls_plan(&run) != 0) {
            goto done;
        }

        eval_calls_dry_run(&run);
        rc = EVAL_EXIT_OK;
        goto done;
    }

    if (eval_results_open(&run) != 0 || eval_calls_plan(&run) != 0) {
        goto done;
    }

    run.multi = curl_multi_init();
    if (run.multi == NULL) {
        eval_run_log(&run, "cannot initialise libcurl");
        goto done;
    }

    memset(&sa, 0, sizeof(struct sigaction));
    sa.sa_handler = eval_main_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    run.tty = !conf.quiet && isatty(STDERR_FILENO);
    run.start_ms = eval_run_now_ms();

    if (!conf.quiet) {
        eval_run_log(&run, "%zu prompts, %zu calls to make (model %s, "
                      "baseline %s, judge %s)", run.nprompts, run.total,
                      conf.model,
                      conf.baseline ? conf.baseline : conf.baseline_answers,
                      conf.judge);
    }

    eval_main_loop(&run);
    eval_report_progress(&run, 1);

    if (run.fatal) {
        goto done;
    }

    if (eval_signals) {
        eval_run_log(&run, "stopped by a signal: run the same command again "
                      "to resume");
        rc = 128 + eval_signo;
        goto done;
    }

    rc = eval_report_write(&run) != 0 ? EVAL_EXIT_FATAL
         : run.failures || run.bad_lines || run.missing_answers
           ? EVAL_EXIT_INCOMPLETE : EVAL_EXIT_OK;

done:

    eval_calls_cancel_all(&run);

    if (run.multi) {
        curl_multi_cleanup(run.multi);
    }

    if (run.out_fd >= 0) {
        close(run.out_fd);
    }

    free(run.calls);
    eval_prompts_free(&run);
    eval_args_free(&conf);
    curl_global_cleanup();

    return rc;
}


/* until every call is done or failed (or a signal drained them) */

static void
eval_main_loop(eval_run_t *run)
{
    int       still;
    long      timeout;
    uint64_t  now;

    while (!run->fatal) {
        if (eval_signals && !run->stopping) {
            run->stopping = 1;
            eval_run_log(run, "stopping: waiting for %ld request%s in "
                          "flight (again to quit now)", run->running,
                          run->running == 1 ? "" : "s");
        }

        if (eval_signals > 1) {
            break;
        }

        eval_calls_dispatch(run);
        eval_report_progress(run, 0);

        if (run->running == 0 && (run->pending == 0 || run->stopping)) {
            break;
        }

        timeout = EVAL_TICK_MS;
        now = eval_run_now_ms();

        if (run->running == 0 && run->pause_until > now
            && run->pause_until - now < (uint64_t) timeout)
        {
            timeout = (long) (run->pause_until - now);
        }

        if (curl_multi_poll(run->multi, NULL, 0, (int) timeout, NULL)
            != CURLM_OK)
        {
            eval_run_log(run, "curl_multi_poll failed");
            run->fatal = 1;
            break;
        }

        if (curl_multi_perform(run->multi, &still) != CURLM_OK) {
            eval_run_log(run, "curl_multi_perform failed");
            run->fatal = 1;
            break;
        }

        eval_calls_harvest(run);
    }
}
