
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel: files.  Reading input lines, cutting a torn last line off
 * OUT, counting lines, and finding where a resumed run starts.
 */


#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "relabel.h"


#define RELABEL_CHUNK  (1024 * 1024)


/* the resume walk: OUT and the rejects file, read along IN */
typedef struct {
    FILE                 *out;
    FILE                 *rej;
    relabel_line_t        ol;
    relabel_line_t        rl;
    unsigned long         next_reject;  /* the line it lists, 0 at the end */
    unsigned long         prev_reject;
    int                   have_out;
    char                 *err;
    size_t                errlen;
} relabel_scan_t;


static int relabel_io_next_reject(FILE *rej, relabel_line_t *l,
    unsigned long *lineno, unsigned long *prev, char *err, size_t errlen);
static int relabel_io_scan_rej(relabel_scan_t *sc, unsigned long lineno,
    const relabel_line_t *il, relabel_resume_t *rs);
static int relabel_io_scan_out(relabel_scan_t *sc, unsigned long lineno,
    const relabel_line_t *il, relabel_resume_t *rs);
static int relabel_io_scan_end(relabel_scan_t *sc, relabel_resume_t *rs);


/*
 * Reads line number lineno: 1 read, 0 end of file, -1 error.  The '\n' is
 * dropped (nothing else is: a '\r' is JSON whitespace and stays with the
 * record), and so is a UTF-8 byte order mark on the first line.
 */

int
relabel_io_read_line(FILE *f, relabel_line_t *l, unsigned long lineno)
{
    size_t   i;
    ssize_t  n;

    errno = 0;
    n = getline(&l->data, &l->cap, f);

    if (n < 0) {
        return (errno && ferror(f)) ? -1 : 0;
    }

    l->len = (size_t) n;

    if (l->len && l->data[l->len - 1] == '\n') {
        l->len--;
    }

    if (lineno == 1 && l->len >= 3
        && memcmp(l->data, "\xef\xbb\xbf", 3) == 0)
    {
        memmove(l->data, l->data + 3, l->len - 3);
        l->len -= 3;
    }

    l->data[l->len] = '\0';

    l->blank = 1;

    for (i = 0; i < l->len; i++) {
        if (l->data[i] != ' ' && l->data[i] != '\t' && l->data[i] != '\r') {
            l->blank = 0;
            break;
        }
    }

    return 1;
}


/*
 * A run killed while writing may leave a last line without its '\n'; it
 * is cut off (every complete line was written by one write() ending with
 * the '\n').  *cut gets the number of bytes removed.
 */

int
relabel_io_cut_torn(int fd, off_t *cut)
{
    char         *buf;
    off_t         size, pos;
    size_t        n, i;
    struct stat   st;

    *cut = 0;

    if (fstat(fd, &st) != 0) {
        return -1;
    }

    size = st.st_size;

    if (size == 0) {
        return 0;
    }

    buf = malloc(RELABEL_CHUNK);
    if (buf == NULL) {
        return -1;
    }

    pos = size;

    while (pos > 0) {
        n = pos > RELABEL_CHUNK ? RELABEL_CHUNK : (size_t) pos;
        pos -= n;

        if (pread(fd, buf, n, pos) != (ssize_t) n) {
            free(buf);
            return -1;
        }

        for (i = n; i > 0; i--) {
            if (buf[i - 1] == '\n') {
                free(buf);
                pos += i;

                if (pos == size) {
                    return 0;
                }

                *cut = size - pos;
                return ftruncate(fd, pos);
            }
        }
    }

    free(buf);

    *cut = size;

    return ftruncate(fd, 0);
}


/* lines in the file: '\n's, plus one for a last line without it */

int
relabel_io_count_lines(int fd, unsigned long *lines)
{
    char     *buf, *p, *end, last;
    off_t     off;
    ssize_t   n;

    *lines = 0;

    buf = malloc(RELABEL_CHUNK);
    if (buf == NULL) {
        return -1;
    }

    off = 0;
    last = '\n';

    for ( ;; ) {
        n = pread(fd, buf, RELABEL_CHUNK, off);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            free(buf);
            return -1;
        }

        if (n == 0) {
            break;
        }

        p = buf;
        end = buf + n;

        while ((p = memchr(p, '\n', end - p)) != NULL) {
            (*lines)++;
            p++;
        }

        last = buf[n - 1];
        off += n;
    }

    if (last != '\n') {
        (*lines)++;
    }

    free(buf);

    return 0;
}


static int
relabel_io_next_reject(FILE *rej, relabel_line_t *l, unsigned long *lineno,
    unsigned long *prev, char *err, size_t errlen)
{
    int  rc;

    *lineno = 0;

    if (rej == NULL) {
        return 0;
    }

    rc = relabel_io_read_line(rej, l, 0);

    if (rc < 0) {
        snprintf(err, errlen, "reading the rejects file: %s",
                 strerror(errno));
        return -1;
    }

    if (rc == 0) {
        return 0;
    }

    if (relabel_record_reject_check(l->data, l->len, NULL, 0, lineno) != 0) {
        snprintf(err, errlen, "the rejects file has a line that is not a "
                 "moa-relabel reject: \"%.60s\"", l->data);
        return -1;
    }

    if (*lineno <= *prev) {
        snprintf(err, errlen, "the rejects file is not in input order "
                 "(line %lu after line %lu)", *lineno, *prev);
        return -1;
    }

    *prev = *lineno;

    return 0;
}


/*
 * Finds how far a previous run got.  Rows are written strictly in input
 * order, each to OUT or to the rejects file, so what is done is a prefix of
 * the input: walk the input lines, taking each from the rejects file when
 * its next entry names this line, else from OUT, checking that the OUT line
 * is this record with an answer spliced in (so a wrong IN, or a rejects
 * file that went missing, is an error and not silent misalignment).  The
 * walk stops at the first line neither file covers; anything left over in
 * either file is an error.  out and rej are read from their start.
 */

int
relabel_io_resume_scan(FILE *in, FILE *out, FILE *rej, relabel_resume_t *rs,
    char *err, size_t errlen)
{
    int               rc;
    off_t             after;
    unsigned long     lineno, pending_blank;
    relabel_line_t    il;
    relabel_scan_t    sc;

    memset(rs, 0, sizeof(relabel_resume_t));
    memset(&il, 0, sizeof(relabel_line_t));
    memset(&sc, 0, sizeof(relabel_scan_t));

    sc.out = out;
    sc.rej = rej;
    sc.have_out = 1;
    sc.err = err;
    sc.errlen = errlen;

    rc = -1;
    lineno = 0;
    pending_blank = 0;

    if (fseeko(in, 0, SEEK_SET) != 0) {
        snprintf(err, errlen, "seeking IN: %s", strerror(errno));
        goto done;
    }

    if (relabel_io_next_reject(rej, &sc.rl, &sc.next_reject, &sc.prev_reject,
                               err, errlen) != 0)
    {
        goto done;
    }

    for ( ;; ) {
        switch (relabel_io_read_line(in, &il, lineno + 1)) {
        case 1:
            break;
        case 0:
            rc = relabel_io_scan_end(&sc, rs);
            goto done;
        default:
            snprintf(err, errlen, "reading IN: %s", strerror(errno));
            goto done;
        }

        lineno++;
        after = ftello(in);

        if (il.blank) {
            if (sc.next_reject == lineno) {
                snprintf(err, errlen, "the rejects file lists line %lu, "
                         "which is blank in IN: is it the same IN?", lineno);
                goto done;
            }

            pending_blank++;
            continue;
        }

        rc = sc.next_reject == lineno
             ? relabel_io_scan_rej(&sc, lineno, &il, rs)
             : relabel_io_scan_out(&sc, lineno, &il, rs);

        if (rc == 0) {
            /* the first line not done yet */
            rc = relabel_io_scan_end(&sc, rs);
            goto done;
        }

        if (rc < 0) {
            goto done;
        }

        rc = -1;

        rs->covered = lineno;
        rs->offset = after;
        rs->blank_rows += pending_blank;
        pending_blank = 0;

        if (sc.next_reject == lineno
            && relabel_io_next_reject(rej, &sc.rl, &sc.next_reject,
                                      &sc.prev_reject, err, errlen) != 0)
        {
            goto done;
        }
    }

done:

    free(il.data);
    free(sc.ol.data);
    free(sc.rl.data);

    return rc;
}


/* line lineno of IN, which the rejects file lists: 1 covered, -1 error */

static int
relabel_io_scan_rej(relabel_scan_t *sc, unsigned long lineno,
    const relabel_line_t *il, relabel_resume_t *rs)
{
    if (relabel_record_reject_check(sc->rl.data, sc->rl.len, il->data, il->len,
                                    &sc->next_reject) != 0)
    {
        snprintf(sc->err, sc->errlen, "the rejects entry for line %lu does "
                 "not hold that line of IN: is it the same IN?", lineno);
        return -1;
    }

    rs->reject_rows++;

    return 1;
}


/* line lineno of IN against OUT's next row: 1 covered, 0 not, -1 error */

static int
relabel_io_scan_out(relabel_scan_t *sc, unsigned long lineno,
    const relabel_line_t *il, relabel_resume_t *rs)
{
    const char        *why;
    relabel_record_t   rec;

    if (sc->have_out) {
        switch (relabel_io_read_line(sc->out, &sc->ol, 0)) {
        case 1:
            break;
        case 0:
            sc->have_out = 0;
            break;
        default:
            snprintf(sc->err, sc->errlen, "reading OUT: %s",
                     strerror(errno));
            return -1;
        }
    }

    if (!sc->have_out) {
        return 0;
    }

    why = relabel_record_split(il->data, il->len, &rec);

    if (why != NULL
        || relabel_record_output_check(il->data, il->len, &rec, sc->ol.data,
                                       sc->ol.len) != 0)
    {
        snprintf(sc->err, sc->errlen, "OUT row %lu does not match line %lu "
                 "of IN (%s): is it the same IN, and the same "
                 "rejects file?", rs->out_rows + 1, lineno,
                 why ? why : "differs outside the answer");
        return -1;
    }

    rs->out_rows++;

    return 1;
}


/* after the walk: nothing may be left in either file.  0 or -1 */

static int
relabel_io_scan_end(relabel_scan_t *sc, relabel_resume_t *rs)
{
    if (sc->next_reject != 0) {
        snprintf(sc->err, sc->errlen, "the rejects file lists line %lu, but "
                 "lines before it are in neither OUT nor the rejects file "
                 "(or IN is shorter): is it the same IN and OUT?",
                 sc->next_reject);
        return -1;
    }

    if (!sc->have_out) {
        return 0;
    }

    switch (relabel_io_read_line(sc->out, &sc->ol, 0)) {
    case 0:
        return 0;
    case 1:
        snprintf(sc->err, sc->errlen, "OUT has more rows than IN has lines "
                 "left after line %lu: is it the same IN?", rs->covered);
        return -1;
    default:
        snprintf(sc->err, sc->errlen, "reading OUT: %s", strerror(errno));
        return -1;
    }
}
