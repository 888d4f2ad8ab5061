
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel: IN, OUT and the rejects file.  Opening and locking them,
 * cutting a torn last line off, finding where a resumed run starts; and
 * writing a line whole.
 */


#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "relabel_run.h"


static int relabel_files_lock(const char *path, const char *what,
    struct stat *st);
static int relabel_files_cut(relabel_run_t *run);
static int relabel_files_resume(relabel_run_t *run);


/* opens and locks OUT or the rejects file; -1 after saying why */

static int
relabel_files_lock(const char *path, const char *what, struct stat *st)
{
    int  fd;

    fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd == -1) {
        relabel_run_log(NULL, "cannot open %s %s: %s", what, path,
                        strerror(errno));
        return -1;
    }

    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        relabel_run_log(NULL, "%s %s is in use by another process (%s)", what,
                        path, strerror(errno));
        close(fd);
        return -1;
    }

    if (fstat(fd, st) != 0) {
        relabel_run_log(NULL, "cannot stat %s %s: %s", what, path,
                        strerror(errno));
        close(fd);
        return -1;
    }

    if (!S_ISREG(st->st_mode)) {
        /* resuming needs to read it back, and to cut a torn line off */
        relabel_run_log(NULL, "%s %s must be a regular file", what, path);
        close(fd);
        return -1;
    }

    return fd;
}


/* IN, OUT and the rejects file, and where the run starts */

int
relabel_files_open(relabel_run_t *run)
{
    struct stat      ist, ost, rst;
    relabel_conf_t  *conf;

    conf = run->conf;

    run->in = fopen(conf->in_path, "r");
    if (run->in == NULL) {
        relabel_run_log(NULL, "cannot open IN %s: %s", conf->in_path,
                        strerror(errno));
        return -1;
    }

    if (fstat(fileno(run->in), &ist) != 0 || !S_ISREG(ist.st_mode)) {
        relabel_run_log(NULL, "IN %s must be a regular file (it is read twice, "
                        "and seeked on resume)", conf->in_path);
        return -1;
    }

    run->out_fd = relabel_files_lock(conf->out_path, "OUT", &ost);
    if (run->out_fd == -1) {
        return -1;
    }

    if (ost.st_dev == ist.st_dev && ost.st_ino == ist.st_ino) {
        relabel_run_log(NULL, "OUT is the same file as IN");
        return -1;
    }

    run->rej_fd = relabel_files_lock(conf->rejects_path, "rejects file",
                                     &rst);
    if (run->rej_fd == -1) {
        return -1;
    }

    if ((rst.st_dev == ist.st_dev && rst.st_ino == ist.st_ino)
        || (rst.st_dev == ost.st_dev && rst.st_ino == ost.st_ino))
    {
        relabel_run_log(NULL, "the rejects file must differ from IN and OUT");
        return -1;
    }

    if (relabel_files_cut(run) != 0) {
        return -1;
    }

    return relabel_files_resume(run);
}


/* --overwrite empties OUT and the rejects file; else torn lines go */

static int
relabel_files_cut(relabel_run_t *run)
{
    int              i;
    off_t            cut;
    relabel_conf_t  *conf;

    struct {
        int           fd;
        const char   *what;
        const char   *path;
    } f[2];

    conf = run->conf;

    if (conf->overwrite
        && (ftruncate(run->out_fd, 0) != 0
            || ftruncate(run->rej_fd, 0) != 0))
    {
        relabel_run_log(NULL, "cannot empty OUT or the rejects file: %s",
                        strerror(errno));
        return -1;
    }

    f[0].fd = run->out_fd;
    f[0].what = "OUT's";
    f[0].path = conf->out_path;
    f[1].fd = run->rej_fd;
    f[1].what = "the rejects file's";
    f[1].path = conf->rejects_path;

    for (i = 0; i < 2; i++) {
        if (relabel_io_cut_torn(f[i].fd, &cut) != 0) {
            relabel_run_log(NULL, "cannot check %s last line: %s", f[i].what,
                            strerror(errno));
            return -1;
        }

        if (cut) {
            relabel_run_log(NULL, "cut a torn last line (%lld bytes) off %s",
                            (long long) cut, f[i].path);
        }
    }

    return 0;
}


/* walks OUT and the rejects file along IN; IN is left where to go on */

static int
relabel_files_resume(relabel_run_t *run)
{
    int              rc;
    FILE            *of, *rf;
    char             err[RELABEL_ERRLEN];
    relabel_conf_t  *conf;

    conf = run->conf;

    of = fopen(conf->out_path, "r");
    rf = fopen(conf->rejects_path, "r");

    if (of == NULL || rf == NULL) {
        relabel_run_log(NULL, "cannot read back OUT or the rejects file: %s",
                        strerror(errno));
        if (of) {
            fclose(of);
        }
        if (rf) {
            fclose(rf);
        }
        return -1;
    }

    rc = relabel_io_resume_scan(run->in, of, rf, &run->resume, err,
                                sizeof(err));
    fclose(of);
    fclose(rf);

    if (rc != 0) {
        relabel_run_log(NULL, "cannot resume: %s (use --overwrite to start "
                        "again, or another OUT)", err);
        return -1;
    }

    if (fseeko(run->in, run->resume.offset, SEEK_SET) != 0) {
        relabel_run_log(NULL, "cannot seek IN: %s", strerror(errno));
        return -1;
    }

    run->lineno = run->resume.covered;
    run->covered = run->resume.covered;

    if (relabel_io_count_lines(fileno(run->in), &run->total_lines) != 0) {
        relabel_run_log(NULL, "cannot read IN: %s", strerror(errno));
        return -1;
    }

    if (conf->limit && conf->limit < run->total_lines) {
        run->total_lines = conf->limit;
    }

    return 0;
}


/* all of p: a short write or EINTR goes on where it stopped */

int
relabel_files_write_all(int fd, const char *p, size_t n)
{
    ssize_t  k;

    while (n) {
        k = write(fd, p, n);

        if (k < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }

        p += k;
        n -= k;
    }

    return 0;
}
