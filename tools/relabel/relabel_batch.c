
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel --batch: the run.  The MoA stages as three chained rounds of
 * provider batch jobs: every row's proposals, the critique of each row
 * whose proposals met the quorum, the synthesis; each stage in rounds
 * (round 0, then the calls to send again), each round in parts (batch
 * input files within the provider's limits).  A part goes through: planned
 * (its input file written), upload started, uploaded, create started,
 * created, ended, downloaded; the state file records each step before the
 * next builds on it, so that a run killed at any moment resumes where it
 * was, never uploading a file or creating a batch twice (a step started
 * but not recorded is looked up at the provider first).  Then OUT and the
 * rejects file are written as an online run writes them.
 */


#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "relabel_batch_run.h"


static int relabel_batch_setup(relabel_batch_t *b);
static int relabel_batch_open_state(relabel_batch_t *b, int must_exist);
static int relabel_batch_start(relabel_batch_t *b);
static int relabel_batch_stage(relabel_batch_t *b, int stage);
static int relabel_batch_round(relabel_batch_t *b, int stage, int round);
static void relabel_batch_remove_dir(const char *dir);
static void relabel_batch_cleanup(relabel_batch_t *b, int remove_state);


void
relabel_batch_defaults(relabel_batch_conf_t *bc)
{
    memset(bc, 0, sizeof(relabel_batch_conf_t));

    bc->url = "https://api.openai.com/v1";
    bc->window = "24h";
    bc->purpose = "batch";
    bc->retry = 2;
    bc->poll_ms = 30000;
    bc->max_requests = 50000;
    bc->max_mb = 190;
    bc->proposers = 3;
    bc->proposer_temperature = "1.0";
    bc->critique = 1;
    bc->critique_temperature = "0.2";
    bc->min_proposals = 1;
    bc->unknown_params = "pass";
    bc->fallback = "error";
    bc->layers = 1;
    bc->aggregate = "synthesize";
    bc->select_format = "json_schema";
    bc->select_json_schema = 1;
}


/* the first --batch option given without --batch, or NULL */
const char *
relabel_batch_stray(const relabel_batch_conf_t *bc)
{
    relabel_batch_conf_t  d;

    relabel_batch_defaults(&d);

#define relabel_batch_differs(f, name)                                        \
    if (bc->f != d.f) {                                                       \
        return name;                                                          \
    }

    relabel_batch_differs(url, "--batch-url");
    relabel_batch_differs(window, "--completion-window");
    relabel_batch_differs(purpose, "--file-purpose");
    relabel_batch_differs(retry, "--batch-retry");
    relabel_batch_differs(poll_ms, "--poll-interval");
    relabel_batch_differs(max_requests, "--batch-max-requests");
    relabel_batch_differs(max_mb, "--batch-max-mb");
    relabel_batch_differs(keep, "--batch-keep");
    relabel_batch_differs(proposers, "--proposers");
    relabel_batch_differs(nproposer_list, "--proposer");
    relabel_batch_differs(proposer_temperature, "--proposer-temperature");
    relabel_batch_differs(proposer_n, "--proposer-n");
    relabel_batch_differs(proposer_max_tokens, "--proposer-max-tokens");
    relabel_batch_differs(critique, "--critique");
    relabel_batch_differs(critic_model, "--critic-model");
    relabel_batch_differs(critique_temperature, "--critique-temperature");
    relabel_batch_differs(critic_max_tokens, "--critic-max-tokens");
    relabel_batch_differs(aggregator_model, "--aggregator-model");
    relabel_batch_differs(aggregator_temperature, "--aggregator-temperature");
    relabel_batch_differs(critique_prompt, "--critique-prompt");
    relabel_batch_differs(synthesis_prompt, "--synthesis-prompt");
    relabel_batch_differs(min_proposals, "--min-proposals");
    relabel_batch_differs(unknown_params, "--unknown-params");
    relabel_batch_differs(fallback, "--fallback");
    relabel_batch_differs(layers, "--layers");
    relabel_batch_differs(layer_prompt, "--layer-prompt");
    relabel_batch_differs(aggregate, "--aggregate");
    relabel_batch_differs(select_format, "--select-format");
    relabel_batch_differs(select_prompt, "--select-prompt");
    relabel_batch_differs(select_json_schema, "--select-json-schema");
    relabel_batch_differs(agreement, "--agreement");
    relabel_batch_differs(reasoning, "--reasoning");
    relabel_batch_differs(max_total_tokens, "--max-total-tokens");
    relabel_batch_differs(nprices, "--price");

#undef relabel_batch_differs

    return NULL;
}


int
relabel_batch_main(relabel_run_t *run)
{
    int               rc, stage;
    relabel_batch_t   b;

    memset(&b, 0, sizeof(relabel_batch_t));
    b.run = run;
    b.conf = run->conf;
    b.bc = &run->conf->batch;
    b.state_fd = -1;
    b.in_fd = -1;

    relabel_batch_run_signals();

    run->tty = isatty(STDERR_FILENO);
    run->start_ms = relabel_run_now_ms();
    b.tty = run->tty;

    if (relabel_batch_setup(&b) != 0) {
        relabel_batch_cleanup(&b, 0);
        return RELABEL_EXIT_FATAL;
    }

    if (b.bc->cancel) {
        rc = relabel_batch_parts_cancel(&b);
        relabel_batch_cleanup(&b, 0);
        return rc;
    }

    rc = relabel_batch_start(&b);

    for (stage = relabel_batch_run_next_stage(&b, 0);
         rc == 0 && stage != 0;
         stage = relabel_batch_run_next_stage(&b, stage))
    {
        rc = relabel_batch_stage(&b, stage);
    }

    if (rc == 0) {
        rc = relabel_batch_write_out(&b);
    }

    if (rc != 0 && !run->stopping) {
        run->fatal = 1;
    }

    relabel_batch_report_tokens(&b);

    if (run->stopping) {
        relabel_run_log(run, "%s: stopped; the batches already created go "
                        "on at the provider: run the same command again to "
                        "resume (--batch-cancel to cancel them)",
                        strsignal(run->stop_signal));
    }

    rc = relabel_report_finish(run);

    if (run->stopping) {
        rc = 128 + run->stop_signal;
    }

    relabel_batch_cleanup(&b, !run->stopping && !run->fatal
                              && run->covered == b.st.last
                              && !b.bc->keep);

    return rc;
}


/* the recipe, the API and the files (not for --batch-cancel) */
static int
relabel_batch_setup(relabel_batch_t *b)
{
    int              i;
    char             err[RELABEL_ERRLEN];
    relabel_conf_t  *conf;

    conf = b->conf;

    if (relabel_batch_recipe_init(&b->recipe, b->bc, conf->model,
                                  conf->params, conf->nparams, err,
                                  sizeof(err)) != 0)
    {
        relabel_run_log(NULL, "%s", err);
        return -1;
    }

    b->ncalls = b->recipe.ncalls * b->recipe.recipe.layers + 3;
    b->usage = calloc(b->ncalls, sizeof(ngx_http_moa_usage_t));
    if (b->usage == NULL) {
        return -1;
    }

    for (i = 0; i < b->ncalls; i++) {
        ngx_http_moa_usage_record_init(&b->usage[i]);
    }

    /* it goes into a form field and a query string */
    if (b->bc->purpose[0] == '\0'
        || strspn(b->bc->purpose, "abcdefghijklmnopqrstuvwxyz0123456789-_")
           != strlen(b->bc->purpose))
    {
        relabel_run_log(NULL, "--file-purpose: expected letters, digits, "
                        "'-' or '_', got \"%s\"", b->bc->purpose);
        return -1;
    }

    if (relabel_batch_api_init(&b->api, conf, b->bc->url) != 0
        || asprintf(&b->state_path, "%s.batch", conf->out_path) < 0
        || asprintf(&b->dir, "%s.batch.d", conf->out_path) < 0)
    {
        b->state_path = NULL;
        b->dir = NULL;
        relabel_run_log(NULL, "out of memory");
        return -1;
    }

    if (b->bc->cancel) {
        return relabel_batch_open_state(b, 1);
    }

    if (relabel_files_open(b->run) != 0) {
        return -1;
    }

    b->in_fd = fileno(b->run->in);

    if (mkdir(b->dir, 0755) != 0 && errno != EEXIST) {
        relabel_run_log(NULL, "cannot make the work directory %s: %s",
                        b->dir, strerror(errno));
        return -1;
    }

    return relabel_batch_open_state(b, 0);
}


/* the state file, locked; read back, a torn last line cut off */
static int
relabel_batch_open_state(relabel_batch_t *b, int must_exist)
{
    int           rc;
    char          err[RELABEL_ERRLEN], *text;
    size_t        torn;
    ssize_t       n;
    struct stat   st;

    b->state_fd = open(b->state_path, O_RDWR | O_APPEND | O_CLOEXEC
                                      | (must_exist ? 0 : O_CREAT), 0644);

    if (b->state_fd == -1) {
        relabel_run_log(NULL, "cannot open the state file %s: %s",
                        b->state_path, strerror(errno));
        return -1;
    }

    if (flock(b->state_fd, LOCK_EX | LOCK_NB) != 0) {
        relabel_run_log(NULL, "the state file %s is in use by another "
                        "process", b->state_path);
        return -1;
    }

    if (b->conf->overwrite && ftruncate(b->state_fd, 0) != 0) {
        relabel_run_log(NULL, "cannot empty the state file: %s",
                        strerror(errno));
        return -1;
    }

    if (fstat(b->state_fd, &st) != 0) {
        return -1;
    }

    text = malloc(st.st_size + 1);
    if (text == NULL) {
        return -1;
    }

    n = pread(b->state_fd, text, st.st_size, 0);
    rc = n == st.st_size
         ? relabel_batch_state_parse(&b->st, text, n, &torn, err, sizeof(err))
         : -1;
    free(text);

    if (rc != 0) {
        relabel_run_log(NULL, "the state file %s: %s (use --overwrite to "
                        "start again)", b->state_path,
                        n == st.st_size ? err : "cannot read it");
        return -1;
    }

    if (torn && ftruncate(b->state_fd, st.st_size - torn) != 0) {
        relabel_run_log(NULL, "cannot cut the state file's torn line: %s",
                        strerror(errno));
        return -1;
    }

    if (must_exist && b->st.run == NULL) {
        relabel_run_log(NULL, "the state file %s is empty: no batches to "
                        "cancel", b->state_path);
        return -1;
    }

    return 0;
}


/* a new run's header, or the check that the state is this run's */
static int
relabel_batch_start(relabel_batch_t *b)
{
    char                 id[32], recipe[32];
    unsigned             rnd;
    unsigned long long   digest;
    ngx_http_moa_buf_t   line, settings;
    relabel_run_t       *run;

    run = b->run;
    memset(&line, 0, sizeof(ngx_http_moa_buf_t));
    memset(&settings, 0, sizeof(ngx_http_moa_buf_t));

    if (b->st.run == NULL) {
        b->st.first = run->resume.covered + 1;
        b->st.last = run->total_lines;
    }

    digest = 14695981039346656037ULL;

    if (relabel_batch_recipe_settings(&b->recipe, &settings) != 0) {
        return -1;
    }

    digest = relabel_batch_files_digest(digest, settings.data, settings.len);
    ngx_http_moa_buf_free(&settings);

    if (relabel_batch_rows_scan(b, &digest) != 0) {
        return -1;
    }

    snprintf(recipe, sizeof(recipe), "%016llx", digest);

    if (b->st.run) {
        if (strcmp(b->st.recipe, recipe) != 0) {
            relabel_run_log(NULL, "the state file %s belongs to another run "
                            "(another IN, or other settings): use "
                            "--overwrite to start again, or another OUT",
                            b->state_path);
            return -1;
        }

        if (!b->conf->quiet) {
            relabel_run_log(NULL, "resuming batch run %s (lines %lu-%lu), "
                            "%zu parts in %s", b->st.run, b->st.first,
                            b->st.last, b->st.nparts, b->state_path);
        }

        return 0;
    }

    /* a new run: no file of an earlier one (--overwrite) may be joined */
    relabel_batch_remove_dir(b->dir);

    if (mkdir(b->dir, 0755) != 0) {
        relabel_run_log(NULL, "cannot make the work directory %s: %s",
                        b->dir, strerror(errno));
        return -1;
    }

    rnd = (unsigned) time(NULL) ^ (unsigned) getpid() << 16
          ^ (unsigned) relabel_run_now_ms();
    snprintf(id, sizeof(id), "mr%08x", rnd);

    b->st.run = strdup(id);
    b->st.recipe = strdup(recipe);

    if (b->st.run == NULL || b->st.recipe == NULL
        || relabel_batch_state_header(&line, &b->st) != 0
        || relabel_files_write_all(b->state_fd, line.data, line.len) != 0
        || fdatasync(b->state_fd) != 0)
    {
        relabel_run_log(NULL, "writing the state file %s: %s", b->state_path,
                        strerror(errno));
        ngx_http_moa_buf_free(&line);
        return -1;
    }

    ngx_http_moa_buf_free(&line);

    if (!b->conf->quiet) {
        relabel_run_log(NULL, "batch run %s: lines %lu-%lu of %s, state in "
                        "%s, %s %s%s%s%s at %s", b->st.run, b->st.first,
                        b->st.last, b->conf->in_path, b->state_path,
                        b->conf->model,
                        b->recipe.recipe.layers > 1 ? "layered " : "",
                        b->recipe.recipe.aggregate
                        ? "proposals, select"
                        : b->bc->critique ? "proposals, critique, synthesis"
                        : "proposals, synthesis",
                        b->bc->agreement ? " (early agreement)" : "",
                        b->bc->reasoning ? " (reasoning model)" : "",
                        b->bc->url);
    }

    return 0;
}


/* the rounds of a stage, then what they make of each row */
static int
relabel_batch_stage(relabel_batch_t *b, int stage)
{
    int  round, rc;

    for (round = 0; ; round++) {
        rc = relabel_batch_round(b, stage, round);

        if (rc < 0) {
            return -1;
        }

        if (rc == 0) {
            break;
        }
    }

    return relabel_batch_rows_settle(b, stage);
}


/* one round: 1 when it ran, 0 when it had nothing to send, -1 */
static int
relabel_batch_round(relabel_batch_t *b, int stage, int round)
{
    int                   *pis;
    char                   prefix[32];
    size_t                 i, n, npis;
    relabel_batch_item_t  *items;

    snprintf(prefix, sizeof(prefix), "s%d.r%d.", stage, round);

    pis = calloc(b->st.nparts + 1, sizeof(int));
    if (pis == NULL) {
        return -1;
    }

    /* the parts planned before (by a run that was stopped) */

    for (i = 0, npis = 0; i < b->st.nparts; i++) {
        if (strncmp(b->st.parts[i].part, prefix, strlen(prefix)) == 0) {
            if (relabel_batch_join_members(b, (int) i) != 0) {
                free(pis);
                return -1;
            }
            pis[npis++] = (int) i;
        }
    }

    if (relabel_batch_rows_todo(b, stage, round, &items, &n) != 0) {
        free(pis);
        return -1;
    }

    if (n) {
        i = b->st.nparts;

        if (relabel_batch_parts_plan(b, stage, round, items, n) != 0) {
            free(items);
            free(pis);
            return -1;
        }

        free(pis);
        pis = calloc(b->st.nparts + 1, sizeof(int));
        if (pis == NULL) {
            free(items);
            return -1;
        }

        for (npis = 0, i = 0; i < b->st.nparts; i++) {
            if (strncmp(b->st.parts[i].part, prefix, strlen(prefix)) == 0) {
                pis[npis++] = (int) i;
            }
        }
    }

    free(items);

    if (npis == 0) {
        free(pis);
        return 0;
    }

    if (round > 0) {
        b->rounds_retried++;
    }

    for (i = 0; i < npis; i++) {
        /* a signal stops the run before its next upload or create */
        if (relabel_batch_run_stopped(b)
            || relabel_batch_parts_submit(b, pis[i]) != 0)
        {
            free(pis);
            return -1;
        }
    }

    if (relabel_batch_parts_wait(b, pis, npis) != 0) {
        free(pis);
        return -1;
    }

    for (i = 0; i < npis; i++) {
        if (relabel_batch_parts_fetch(b, pis[i]) != 0
            || relabel_batch_join_part(b, pis[i]) != 0)
        {
            free(pis);
            return -1;
        }
    }

    free(pis);

    return 1;
}


/* the work directory's files, then the directory */
static void
relabel_batch_remove_dir(const char *dir)
{
    char           *path;
    DIR            *d;
    struct dirent  *e;

    d = opendir(dir);
    if (d == NULL) {
        return;
    }

    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }

        if (asprintf(&path, "%s/%s", dir, e->d_name) >= 0) {
            (void) unlink(path);
            free(path);
        }
    }

    closedir(d);
    (void) rmdir(dir);
}


static void
relabel_batch_cleanup(relabel_batch_t *b, int remove_state)
{
    int  i;

    if (remove_state) {
        /* the run is over: OUT has every row */
        relabel_batch_remove_dir(b->dir);
        (void) unlink(b->state_path);
    }

    if (b->state_fd != -1) {
        close(b->state_fd);
    }

    for (i = 0; b->usage && i < b->ncalls; i++) {
        ngx_http_moa_usage_record_free(&b->usage[i]);
    }

    free(b->usage);

    relabel_batch_rows_free(b);
    relabel_batch_state_free(&b->st);
    relabel_batch_recipe_free(&b->recipe);
    relabel_batch_api_free(&b->api);
    free(b->state_path);
    free(b->dir);
}
