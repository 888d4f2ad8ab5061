
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-eval: what every part of the tool uses: the clock and the log (which
 * clears the progress bar's line first).
 */


#define _GNU_SOURCE

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "eval_run.h"


uint64_t
eval_run_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}


void
eval_run_log(eval_run_t *run, const char *fmt, ...)
{
    va_list  args;

    if (run->bar_shown) {
        /* clear the progress bar's line first */
        fputs("\r\033[K", stderr);
        run->bar_shown = 0;
    }

    fputs("moa-eval: ", stderr);
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fputc('\n', stderr);
}
