
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel: what every part of a run uses: the clock, log lines, the
 * slots' states, and the decision to stop.
 */


#define _GNU_SOURCE

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "relabel_run.h"


uint64_t
relabel_run_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


void
relabel_run_log(relabel_run_t *run, const char *fmt, ...)
{
    va_list  ap;

    if (run && run->bar_shown) {
        fputs("\r\033[K", stderr);
        run->bar_shown = 0;
    }

    fputs("moa-relabel: ", stderr);

    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);

    fputc('\n', stderr);
}


void
relabel_run_set_state(relabel_run_t *run, relabel_slot_t *s,
    relabel_state_e state)
{
    run->count[s->state]--;
    run->count[state]++;
    s->state = state;
}


void
relabel_run_slot_clear(relabel_run_t *run, relabel_slot_t *s)
{
    free(s->text);
    free(s->error);
    ngx_http_moa_buf_free(&s->req);
    ngx_http_moa_buf_free(&s->resp);
    ngx_http_moa_buf_free(&s->out);

    run->count[s->state]--;
    memset(s, 0, sizeof(relabel_slot_t));
    run->count[RELABEL_SLOT_FREE]++;
}


void
relabel_run_stop(relabel_run_t *run, int level)
{
    if (level <= run->stopping) {
        return;
    }

    run->stopping = level;

    if (run->stop_signal == 0) {
        return;
    }

    if (level == 1) {
        relabel_run_log(run, "%s: no new requests; finishing the ones in "
                        "flight (again to abandon them)",
                        strsignal(run->stop_signal));

    } else {
        relabel_run_log(run, "%s again: abandoning the requests in flight",
                        strsignal(run->stop_signal));
    }
}
