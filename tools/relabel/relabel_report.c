
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel: what a run tells: the progress line (a bar on a terminal),
 * the summary, and the final count check that picks the exit status.
 */


#define _GNU_SOURCE

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "relabel_run.h"


static void relabel_report_human(char *buf, size_t size, double v);


static void
relabel_report_human(char *buf, size_t size, double v)
{
    if (v >= 1e9) {
        snprintf(buf, size, "%.2fG", v / 1e9);
    } else if (v >= 1e7) {
        snprintf(buf, size, "%.1fM", v / 1e6);
    } else if (v >= 1e6) {
        snprintf(buf, size, "%.2fM", v / 1e6);
    } else if (v >= 1e5) {
        snprintf(buf, size, "%.0fk", v / 1e3);
    } else if (v >= 1e4) {
        snprintf(buf, size, "%.1fk", v / 1e3);
    } else {
        snprintf(buf, size, "%.0f", v);
    }
}


void
relabel_report_progress(relabel_run_t *run, int force)
{
    int              width, barw, fill, i, len;
    char             line[512], bar[64], tok[32], eta[32];
    double           secs, rate, pct;
    uint64_t         now;
    unsigned long    done, total, left, t;
    const char      *paused;
    struct winsize   ws;

    if (run->conf->quiet) {
        return;
    }

    now = relabel_run_now_ms();

    if (!force
        && now - run->last_progress_ms
           < (uint64_t) (run->tty ? RELABEL_TICK_MS : run->conf->progress_ms))
    {
        return;
    }

    run->last_progress_ms = now;

    secs = (now - run->start_ms) / 1000.0;
    done = run->covered;
    total = run->total_lines > done ? run->total_lines : done;
    rate = secs > 0 ? (done - run->resume.covered) / secs : 0;
    pct = total ? 100.0 * done / total : 100.0;
    left = total - done;
    paused = now < run->pause_until ? " (paused: Retry-After)" : "";

    if (rate > 0) {
        t = (unsigned long) (left / rate);
        if (t >= 3600) {
            snprintf(eta, sizeof(eta), "%lu:%02lu:%02lu", t / 3600,
                     t / 60 % 60, t % 60);
        } else {
            snprintf(eta, sizeof(eta), "%lu:%02lu", t / 60, t % 60);
        }

    } else {
        snprintf(eta, sizeof(eta), "-");
    }

    relabel_report_human(tok, sizeof(tok),
                         (double) (run->prompt_tokens
                                   + run->completion_tokens));

    if (!run->tty) {
        fprintf(stderr, "moa-relabel: %lu/%lu rows (%.1f%%), %.1f rows/s, "
                "ETA %s, tokens %s, in flight %ld, rejected %lu, failed "
                "tries %lu, retries %lu%s\n", done, total, pct, rate, eta,
                tok, run->count[RELABEL_SLOT_RUNNING],
                run->resume.reject_rows + run->rejected, run->failures,
                run->retries, paused);
        return;
    }

    len = snprintf(line, sizeof(line), " %lu/%lu %.0f%% %.*f/s %s%s tok %s "
                   "fail %lu retry %lu rej %lu", done, total, pct,
                   rate < 10 ? 1 : 0, rate, paused[0] ? "" : "ETA ",
                   paused[0] ? "paused" : eta, tok, run->failures,
                   run->retries, run->resume.reject_rows + run->rejected);

    width = 80;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        width = ws.ws_col;
    }

    /*
     * The bar's width depends on the terminal only, so it does not jump
     * as the numbers grow; the text is cut to what is left.
     */

    barw = width - 3 - 62;
    barw = barw > 40 ? 40 : barw < 10 ? 10 : barw;

    if (barw + 2 + 20 > width - 1) {
        barw = 0;
    }

    bar[0] = '\0';

    if (barw) {
        fill = (int) (barw * (total ? (double) done / total : 1.0));
        bar[0] = '[';
        for (i = 0; i < barw; i++) {
            bar[i + 1] = i < fill ? '#' : '.';
        }
        bar[barw + 1] = ']';
        bar[barw + 2] = '\0';
    }

    len = width - 1 - (int) strlen(bar);

    fprintf(stderr, "\r%s%.*s\033[K", bar, len > 0 ? len : 0, line);
    run->bar_shown = 1;
}


/* summary, count check and exit status */

int
relabel_report_finish(relabel_run_t *run)
{
    int              rc;
    double           secs;
    unsigned long    out_lines, rej_lines, blank, rows;
    struct stat      st;
    relabel_conf_t  *conf;

    conf = run->conf;

    if (run->bar_shown) {
        relabel_report_progress(run, 1);
        fputc('\n', stderr);
        run->bar_shown = 0;
    }

    if (fdatasync(run->out_fd) != 0 || fdatasync(run->rej_fd) != 0) {
        relabel_run_log(run, "syncing OUT or the rejects file: %s",
                        strerror(errno));
        run->fatal = 1;
    }

    secs = (relabel_run_now_ms() - run->start_ms) / 1000.0;
    rows = run->covered - run->resume.covered;

    relabel_run_log(run, "%s: this run %lu rows in %.1f s (%.1f rows/s): "
                    "%lu written, %lu rejected, %lu blank; %lu requests, "
                    "%lu failed, %lu retries; tokens %lld prompt + %lld "
                    "completion = %lld%s",
                    run->fatal ? "failed"
                    : run->stopping ? "stopped" : "done",
                    rows, secs, secs > 0 ? rows / secs : 0.0, run->written,
                    run->rejected, run->blank, run->requests, run->failures,
                    run->retries, run->prompt_tokens, run->completion_tokens,
                    run->prompt_tokens + run->completion_tokens,
                    run->truncated ? "; some answers hit the length limit"
                                   : "");

    if (run->truncated) {
        relabel_run_log(run, "%lu answers have finish_reason \"length\"",
                        run->truncated);
    }

    /* count what is in the files, not what was meant to be written */

    if (relabel_io_count_lines(run->out_fd, &out_lines) != 0
        || relabel_io_count_lines(run->rej_fd, &rej_lines) != 0)
    {
        relabel_run_log(run, "cannot re-read OUT or the rejects file: %s",
                        strerror(errno));
        return RELABEL_EXIT_FATAL;
    }

    blank = run->resume.blank_rows + run->blank;

    if (out_lines + rej_lines + blank == run->covered) {
        relabel_run_log(run, "check: IN lines 1-%lu: %lu in OUT + %lu rejected "
                        "+ %lu blank = %lu: ok", run->covered, out_lines,
                        rej_lines, blank, run->covered);
        rc = RELABEL_EXIT_OK;

    } else {
        relabel_run_log(run, "check FAILED: IN lines 1-%lu, but %lu in OUT "
                        "+ %lu rejected + %lu blank = %lu", run->covered,
                        out_lines, rej_lines, blank,
                        out_lines + rej_lines + blank);
        rc = RELABEL_EXIT_CHECK;
    }

    if (!run->stopping && !run->fatal && run->covered != run->total_lines) {
        relabel_run_log(run, "warning: IN had %lu lines at the start and %lu "
                        "now: did it change during the run?",
                        run->total_lines, run->covered);
    }

    if (rej_lines == 0 && fstat(run->rej_fd, &st) == 0 && st.st_size == 0
        && S_ISREG(st.st_mode))
    {
        /* no rejects: leave no empty file behind */
        (void) unlink(conf->rejects_path);

    } else if (rej_lines) {
        relabel_run_log(run, "%lu rows are in the rejects file %s", rej_lines,
                        conf->rejects_path);
    }

    if (run->fatal) {
        return RELABEL_EXIT_FATAL;
    }

    if (rc != RELABEL_EXIT_OK) {
        return rc;
    }

    if (run->stopping) {
        relabel_run_log(run, "stopped after line %lu; re-run the same command "
                        "(without --overwrite) to resume at line %lu",
                        run->covered, run->covered + 1);

        if (run->stop_signal) {
            return 128 + run->stop_signal;
        }

        return RELABEL_EXIT_UNHEALTHY;
    }

    if (conf->limit && run->covered >= conf->limit) {
        relabel_run_log(run, "stopped at --limit %lu", conf->limit);
    }

    return rej_lines ? RELABEL_EXIT_REJECTS : RELABEL_EXIT_OK;
}
