
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel --batch: what every part of a batch run uses: the stages'
 * names, the signals that stop it, a step recorded in the state file, and
 * the test hook that kills the tool after a named step.
 */


#define _GNU_SOURCE

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relabel_batch_run.h"


static volatile sig_atomic_t  relabel_batch_run_signo;


static const char  *relabel_batch_run_stages[] = {
    "", "proposal", "critique", "synthesis", "select", "", "", "", "", "",
    "layer 2 proposal", "layer 3 proposal", "layer 4 proposal",
    "layer 5 proposal", "layer 6 proposal", "layer 7 proposal",
    "layer 8 proposal"
};


static void relabel_batch_run_signal(int signo);


/*
 * The test hook: MOA_RELABEL_BATCH_KILL=STEP[:N] makes the tool SIGKILL
 * itself right after the Nth (default 1st) time it reaches STEP
 * (upload-sent, uploaded, create-sent, created, polled, downloaded,
 * written), so that tests can kill it in each phase deterministically.
 */
void
relabel_batch_run_hook(const char *step)
{
    static long   seen;
    const char   *env, *colon;
    size_t        n;
    long          want;

    env = getenv("MOA_RELABEL_BATCH_KILL");
    if (env == NULL) {
        return;
    }

    colon = strchr(env, ':');
    n = colon ? (size_t) (colon - env) : strlen(env);

    if (strlen(step) != n || strncmp(env, step, n) != 0) {
        return;
    }

    want = colon ? atol(colon + 1) : 1;

    if (++seen >= want) {
        fprintf(stderr, "moa-relabel: MOA_RELABEL_BATCH_KILL: killed after "
                "%s #%ld\n", step, seen);
        raise(SIGKILL);
    }
}


const char *
relabel_batch_run_stage_name(int stage)
{
    return relabel_batch_run_stages[stage];
}


/*
 * The stages in the order they run (0 first, 0 after the last): every
 * layer's proposals, the select judge, the critique, the synthesis; a
 * stage no row takes sends nothing.
 */
int
relabel_batch_run_next_stage(relabel_batch_t *b, int stage)
{
    int  layer;

    layer = relabel_batch_stage_layer(stage);

    if (stage == 0) {
        return RELABEL_BATCH_PROPOSAL;
    }

    if (layer && layer < b->recipe.recipe.layers) {
        return RELABEL_BATCH_LAYER(layer + 1);
    }

    if (layer) {
        return RELABEL_BATCH_SELECT;
    }

    if (stage == RELABEL_BATCH_SELECT && b->bc->critique) {
        return RELABEL_BATCH_CRITIQUE;
    }

    if (stage == RELABEL_BATCH_SELECT || stage == RELABEL_BATCH_CRITIQUE) {
        return RELABEL_BATCH_SYNTHESIS;
    }

    return 0;
}


static void
relabel_batch_run_signal(int signo)
{
    relabel_batch_run_signo = signo;
}


/* SIGINT and SIGTERM stop the run where it can stop */
void
relabel_batch_run_signals(void)
{
    struct sigaction  sa;

    memset(&sa, 0, sizeof(struct sigaction));
    sa.sa_handler = relabel_batch_run_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}


int
relabel_batch_run_stopped(relabel_batch_t *b)
{
    if (relabel_batch_run_signo == 0) {
        return 0;
    }

    b->run->stopping = 1;
    b->run->stop_signal = relabel_batch_run_signo;

    return 1;
}


/* a step of a part, in the state file (written and synced) and applied */
int
relabel_batch_run_record(relabel_batch_t *b, const char *part, const char *key,
    const char *value, int stage, int round, unsigned long lines)
{
    int                 rc;
    char                err[RELABEL_ERRLEN];
    ngx_http_moa_buf_t  line;

    memset(&line, 0, sizeof(ngx_http_moa_buf_t));

    rc = relabel_batch_state_record(&line, part, key, value, stage, round,
                                    lines);

    if (rc == 0
        && (relabel_files_write_all(b->state_fd, line.data, line.len) != 0
            || fdatasync(b->state_fd) != 0))
    {
        relabel_run_log(NULL, "writing the state file %s: %s", b->state_path,
                        strerror(errno));
        rc = -1;

    } else if (rc == 0
               && relabel_batch_state_apply(&b->st, line.data, line.len - 1,
                                            err, sizeof(err)) != 0)
    {
        relabel_run_log(NULL, "the state file: %s", err);
        rc = -1;
    }

    ngx_http_moa_buf_free(&line);

    return rc;
}
