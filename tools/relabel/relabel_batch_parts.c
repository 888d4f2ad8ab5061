
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel --batch: the parts of a round (its batch input files) from
 * planned to downloaded: written within the provider's limits (requests
 * and bytes a file), uploaded, created as batches, polled with progress
 * from request_counts until each ends, downloaded; and --batch-cancel.
 * A step whose request went out but whose reply was not recorded (a kill,
 * a lost connection) is looked up at the provider before it is sent again:
 * a file by its name, a batch by its metadata.
 */


#define _GNU_SOURCE

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "relabel_batch_run.h"


static int relabel_batch_parts_by_model(relabel_batch_t *b, int stage,
    relabel_batch_item_t *items, size_t n);
static int relabel_batch_parts_flush(relabel_batch_t *b, FILE **f,
    char **tmp, int stage, int round, unsigned long lines);
static int relabel_batch_parts_step(relabel_batch_t *b,
    relabel_batch_part_t *p, int create);
static void relabel_batch_parts_pause(relabel_batch_t *b, long attempt);
static int relabel_batch_parts_terminal(const char *status);
static void relabel_batch_parts_progress(relabel_batch_t *b, int stage,
    int round, long total, long done, long failed, const char *status,
    int force);


/*
 * The calls of a round grouped by model (in the order of the proposers),
 * rows in input order within a group: with --proposer of several models
 */
static int
relabel_batch_parts_by_model(relabel_batch_t *b, int stage,
    relabel_batch_item_t *items, size_t n)
{
    int                    c, k;
    size_t                 i, j;
    const char            *m;
    relabel_batch_item_t  *sorted;

    if (!relabel_batch_stage_layer(stage) || b->recipe.targets == NULL) {
        return 0;
    }

    sorted = malloc(n * sizeof(relabel_batch_item_t));
    if (sorted == NULL) {
        return -1;
    }

    j = 0;

    for (c = 0; c < b->recipe.ncalls; c++) {
        m = relabel_batch_recipe_call_model(&b->recipe, stage, c);

        /* a model's group starts at its first proposer */
        for (k = 0; k < c; k++) {
            if (strcmp(m, relabel_batch_recipe_call_model(&b->recipe, stage,
                                                          k)) == 0)
            {
                break;
            }
        }

        if (k < c) {
            continue;
        }

        for (i = 0; i < n; i++) {
            if (strcmp(m, relabel_batch_recipe_call_model(&b->recipe, stage,
                                                          items[i].call))
                == 0)
            {
                sorted[j++] = items[i];
            }
        }
    }

    memcpy(items, sorted, n * sizeof(relabel_batch_item_t));
    free(sorted);

    return 0;
}


/* the calls of a round into parts, each file written whole and recorded */
int
relabel_batch_parts_plan(relabel_batch_t *b, int stage, int round,
    relabel_batch_item_t *items, size_t n)
{
    int                   rc;
    FILE                 *f;
    char                  id[64], err[RELABEL_ERRLEN], *tmp;
    size_t                i, bytes, max;
    const char           *model, *prev;
    unsigned long         lines;
    ngx_http_moa_buf_t    body, line;
    relabel_batch_row_t  *row;

    f = NULL;
    tmp = NULL;
    bytes = 0;
    lines = 0;
    rc = 0;
    max = (size_t) b->bc->max_mb * 1024 * 1024;
    model = NULL;

    if (relabel_batch_parts_by_model(b, stage, items, n) != 0) {
        return -1;
    }

    for (i = 0; i < n && rc == 0; i++) {
        row = &b->rows[items[i].row];
        prev = model;
        model = relabel_batch_recipe_call_model(&b->recipe, stage,
                                                items[i].call);

        memset(&body, 0, sizeof(ngx_http_moa_buf_t));
        memset(&line, 0, sizeof(ngx_http_moa_buf_t));
        err[0] = '\0';

        relabel_batch_files_custom_id(id, sizeof(id), row->line, stage,
                                      items[i].call);

        if (relabel_batch_rows_body(b, row, stage, items[i].call, &body, err,
                                    sizeof(err)) != 0
            || relabel_batch_files_request(&line, id, body.data, body.len)
               != 0)
        {
            relabel_run_log(NULL, "line %lu: cannot build its %s body: %s",
                            row->line, relabel_batch_run_stage_name(stage),
                            err[0] ? err : "out of memory");
            rc = -1;

        } else {
            /* a file holds one model: some providers refuse a mix */
            if (f && (lines >= (unsigned long) b->bc->max_requests
                      || bytes + line.len > max
                      || strcmp(prev, model) != 0))
            {
                rc = relabel_batch_parts_flush(b, &f, &tmp, stage, round,
                                               lines);
                lines = 0;
                bytes = 0;
            }

            if (rc == 0 && f == NULL) {
                if (asprintf(&tmp, "%s/plan.tmp", b->dir) < 0) {
                    tmp = NULL;
                    rc = -1;
                } else if ((f = fopen(tmp, "w")) == NULL) {
                    relabel_run_log(NULL, "%s: %s", tmp, strerror(errno));
                    rc = -1;
                }
            }

            if (rc == 0 && fwrite(line.data, 1, line.len, f) != line.len) {
                relabel_run_log(NULL, "%s: %s", tmp, strerror(errno));
                rc = -1;
            }

            lines++;
            bytes += line.len;
        }

        ngx_http_moa_buf_free(&body);
        ngx_http_moa_buf_free(&line);
    }

    if (rc == 0 && f) {
        rc = relabel_batch_parts_flush(b, &f, &tmp, stage, round, lines);
    }

    if (f) {
        fclose(f);
    }

    free(tmp);

    return rc;
}


/* a part's input file in place, then its plan recorded, then its calls */
static int
relabel_batch_parts_flush(relabel_batch_t *b, FILE **f, char **tmp,
    int stage, int round, unsigned long lines)
{
    int     k, rc;
    char    name[64], *path;
    size_t  i;

    for (i = 0, k = 0; i < b->st.nparts; i++) {
        k += b->st.parts[i].stage == stage && b->st.parts[i].round == round;
    }

    snprintf(name, sizeof(name), "s%d.r%d.p%d", stage, round, k);

    rc = fflush(*f) == 0 && fdatasync(fileno(*f)) == 0 ? 0 : -1;
    fclose(*f);
    *f = NULL;

    if (asprintf(&path, "%s/%s.in.jsonl", b->dir, name) < 0) {
        return -1;
    }

    if (rc != 0 || rename(*tmp, path) != 0) {
        relabel_run_log(NULL, "%s: %s", path, strerror(errno));
        free(path);
        return -1;
    }

    free(path);
    free(*tmp);
    *tmp = NULL;

    if (relabel_batch_run_record(b, name, "plan", NULL, stage, round, lines)
        != 0
        || relabel_batch_join_members(b, (int) b->st.nparts - 1) != 0)
    {
        return -1;
    }

    return 0;
}


static void
relabel_batch_parts_pause(relabel_batch_t *b, long attempt)
{
    long long  delay;

    delay = b->conf->backoff_ms << (attempt < 16 ? attempt : 16);

    if (delay > b->conf->backoff_max_ms) {
        delay = b->conf->backoff_max_ms;
    }

    usleep((useconds_t) (delay * 1000));
}


/*
 * A part's upload (create 0) or its batch's creation (create 1), once: a
 * step started before (by a run that was killed, or whose reply was lost)
 * is looked up at the provider before it is sent again.
 */
static int
relabel_batch_parts_step(relabel_batch_t *b, relabel_batch_part_t *p,
    int create)
{
    int          rc;
    char         name[256], id[128], *path;
    long         attempt;
    const char  *key;

    key = create ? "batch" : "file";

    /* the file's name, or the batch's metadata tag */
    snprintf(name, sizeof(name), create ? "%s.%s" : "%s.%s.jsonl", b->st.run,
             p->part);

    if (asprintf(&path, "%s/%s.in.jsonl", b->dir, p->part) < 0) {
        return -1;
    }

    rc = -1;

    for (attempt = 0; attempt <= b->conf->retries; attempt++) {
        if (create ? p->creating : p->uploading) {
            rc = create
                 ? relabel_batch_api_find_batch(&b->api, name, id, sizeof(id))
                 : relabel_batch_api_find_file(&b->api, name, id, sizeof(id));

            if (rc == 1) {
                rc = relabel_batch_run_record(b, p->part, key, id, 0, 0, 0);
                break;
            }

            if (rc < 0) {
                relabel_batch_parts_pause(b, attempt);
                continue;
            }

        } else if (relabel_batch_run_record(b, p->part,
                                        create ? "creating" : "uploading",
                                        NULL, 0, 0, 0) != 0)
        {
            break;
        }

        rc = create
             ? relabel_batch_api_create(&b->api, p->file, name, id,
                                        sizeof(id))
             : relabel_batch_api_upload(&b->api, path, name, id, sizeof(id));

        if (rc == 0) {
            relabel_batch_run_hook(create ? "create-sent" : "upload-sent");
            rc = relabel_batch_run_record(b, p->part, key, id, 0, 0, 0);
            relabel_batch_run_hook(create ? "created" : "uploaded");
            break;
        }

        if (!b->api.retryable || relabel_batch_run_stopped(b)) {
            break;
        }

        relabel_batch_parts_pause(b, attempt);
    }

    free(path);

    if ((create ? p->batch : p->file) == NULL) {
        relabel_run_log(b->run, "%s %s: %s", create ? "creating the batch of"
                        : "uploading", p->part, b->api.error);
        return -1;
    }

    if (create && !b->conf->quiet) {
        relabel_run_log(b->run, "%s: batch %s (%lu requests, file %s)",
                        p->part, p->batch, p->lines, p->file);
    }

    return rc;
}


/* a part uploaded and its batch created, each at most once */
int
relabel_batch_parts_submit(relabel_batch_t *b, int pi)
{
    relabel_batch_part_t  *p;

    p = &b->st.parts[pi];

    if (p->file == NULL && relabel_batch_parts_step(b, p, 0) != 0) {
        return -1;
    }

    if (p->batch == NULL && relabel_batch_parts_step(b, p, 1) != 0) {
        return -1;
    }

    return 0;
}


static int
relabel_batch_parts_terminal(const char *status)
{
    return strcmp(status, "completed") == 0 || strcmp(status, "failed") == 0
           || strcmp(status, "expired") == 0
           || strcmp(status, "cancelled") == 0;
}


/* polls the batches of a round until each has ended */
int
relabel_batch_parts_wait(relabel_batch_t *b, int *pis, size_t n)
{
    int                    open, changed;
    char                   status[64], rec[400];
    size_t                 i;
    long                   total, done, failed;
    uint64_t               until;
    relabel_batch_info_t   info;
    relabel_batch_part_t  *p;

    status[0] = '\0';

    for ( ;; ) {
        open = 0;
        changed = 0;
        total = 0;
        done = 0;
        failed = 0;

        for (i = 0; i < n; i++) {
            p = &b->st.parts[pis[i]];

            if (p->status) {
                total += p->lines;
                done += p->lines;
                continue;
            }

            if (relabel_batch_api_retrieve(&b->api, p->batch, &info) != 0) {
                relabel_run_log(b->run, "batch %s: %s%s", p->batch,
                                b->api.error, b->api.retryable
                                ? " (looking again later)" : "");

                if (!b->api.retryable) {
                    return -1;
                }

                /* a wait of hours outlives an outage of minutes */
                open++;
                continue;
            }

            total += info.total ? info.total : (long) p->lines;
            done += info.completed + info.failed;
            failed += info.failed;

            if (strcmp(status, info.status) != 0) {
                snprintf(status, sizeof(status), "%s", info.status);
                changed = 1;
            }

            if (!relabel_batch_parts_terminal(info.status)) {
                open++;
                continue;
            }

            snprintf(rec, sizeof(rec), "%s %s %s", info.status,
                     info.output[0] ? info.output : "-",
                     info.error[0] ? info.error : "-");

            if (relabel_batch_run_record(b, p->part, "status", rec, 0, 0, 0)
                != 0)
            {
                return -1;
            }

            if (!b->conf->quiet || strcmp(info.status, "completed") != 0) {
                relabel_run_log(b->run, "%s: batch %s %s (%ld done, %ld "
                                "failed)%s%s", p->part, p->batch,
                                info.status, info.completed, info.failed,
                                info.message[0] ? ": " : "", info.message);
            }

            changed = 1;
        }

        relabel_batch_run_hook("polled");
        relabel_batch_parts_progress(b, b->st.parts[pis[0]].stage,
                                     b->st.parts[pis[0]].round, total, done,
                                     failed, open ? status : "ended",
                                     changed || open == 0);

        if (open == 0) {
            return 0;
        }

        until = relabel_run_now_ms() + (uint64_t) b->bc->poll_ms;

        while (relabel_run_now_ms() < until) {
            if (relabel_batch_run_stopped(b)) {
                return -1;
            }

            usleep(50000);
        }
    }
}


/* a part's output and error files, into the work directory */
int
relabel_batch_parts_fetch(relabel_batch_t *b, int pi)
{
    int                    rc, k;
    char                  *path;
    const char            *id;
    relabel_batch_part_t  *p;

    p = &b->st.parts[pi];

    if (p->downloaded) {
        return 0;
    }

    for (k = 0; k < 2; k++) {
        id = k ? p->error : p->output;

        path = relabel_batch_rows_path(b, pi, k ? "err" : "out");
        if (path == NULL) {
            return -1;
        }

        if (id == NULL) {
            /* no such file: nothing of another try may stand for it */
            (void) unlink(path);
            free(path);
            continue;
        }

        rc = relabel_batch_api_download(&b->api, id, path);
        free(path);

        if (rc != 0) {
            relabel_run_log(b->run, "downloading file %s of batch %s: %s",
                            id, p->batch, b->api.error);
            return -1;
        }
    }

    if (relabel_batch_run_record(b, p->part, "downloaded", NULL, 0, 0, 0)
        != 0)
    {
        return -1;
    }

    relabel_batch_run_hook("downloaded");

    return 0;
}


/* --batch-cancel: every batch of the run that has not ended */
int
relabel_batch_parts_cancel(relabel_batch_t *b)
{
    int                    rc, n;
    size_t                 i;
    relabel_batch_part_t  *p;

    rc = RELABEL_EXIT_OK;
    n = 0;

    for (i = 0; i < b->st.nparts; i++) {
        p = &b->st.parts[i];

        if (p->batch == NULL || p->status) {
            continue;
        }

        if (relabel_batch_api_cancel(&b->api, p->batch) != 0) {
            relabel_run_log(NULL, "cancelling batch %s: %s", p->batch,
                            b->api.error);
            rc = RELABEL_EXIT_FATAL;
            continue;
        }

        n++;
        relabel_run_log(NULL, "%s: batch %s: cancelling", p->part, p->batch);

        if (relabel_batch_run_record(b, p->part, "cancel", NULL, 0, 0, 0)
            != 0)
        {
            rc = RELABEL_EXIT_FATAL;
        }
    }

    relabel_run_log(NULL, "run %s: %d open batches cancelled; the state "
                    "file %s stays: run the same command without "
                    "--batch-cancel to send again what did not run, or "
                    "with --overwrite to start again", b->st.run, n,
                    b->state_path);

    return rc;
}


static void
relabel_batch_parts_progress(relabel_batch_t *b, int stage, int round,
    long total, long done, long failed, const char *status, int force)
{
    int              width, fill, i;
    char             bar[64];
    uint64_t         now;
    struct winsize   ws;

    if (b->conf->quiet) {
        return;
    }

    now = relabel_run_now_ms();

    if (!b->tty) {
        if (!force && now - b->last_progress < (uint64_t) b->conf->progress_ms)
        {
            return;
        }

        b->last_progress = now;
        relabel_run_log(NULL, "%s round %d: %ld/%ld requests done, %ld "
                        "failed (%s)", relabel_batch_run_stage_name(stage),
                        round,
                        done, total, failed, status);
        return;
    }

    width = 30;

    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col < 80) {
        width = 10;
    }

    fill = total ? (int) (done * width / total) : 0;

    for (i = 0; i < width; i++) {
        bar[i] = i < fill ? '#' : '.';
    }

    bar[width] = '\0';

    fprintf(stderr, "\r\033[K[%s] %s round %d: %ld/%ld, %ld failed (%s)",
            bar, relabel_batch_run_stage_name(stage), round, done, total,
            failed,
            status);

    if (strcmp(status, "ended") == 0) {
        fputc('\n', stderr);
        b->run->bar_shown = 0;

    } else {
        b->run->bar_shown = 1;
    }
}
