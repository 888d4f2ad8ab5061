
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel --batch: the state file's records.  The file is a journal,
 * one JSON object a line: a header (the run's id, a digest of IN and of the
 * settings, the input lines of the run), then one record per step of a
 * part (a batch input file of one stage and round): planned, upload
 * started, uploaded (file id), create started, created (batch id), ended
 * (status, output and error file ids), downloaded, cancel sent.  Reading
 * it back replays the records; a torn last line (a kill in the middle of
 * its write) is left out and reported, so that the caller cuts it off.
 */


#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "relabel_batch.h"


static int relabel_batch_state_print(ngx_http_moa_buf_t *b, cJSON *o);
static int relabel_batch_state_str(char **dst, const cJSON *o,
    const char *name);


static int
relabel_batch_state_print(ngx_http_moa_buf_t *b, cJSON *o)
{
    char  *s;

    s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);

    if (s == NULL) {
        return -1;
    }

    ngx_http_moa_buf_cstr(b, s);
    ngx_http_moa_buf_lit(b, "\n");
    free(s);

    return ngx_http_moa_buf_cstring(b) == NULL ? -1 : 0;
}


int
relabel_batch_state_header(ngx_http_moa_buf_t *b,
    const relabel_batch_state_t *st)
{
    cJSON  *o;

    o = cJSON_CreateObject();

    if (o == NULL
        || cJSON_AddNumberToObject(o, "moa_relabel_batch", 1) == NULL
        || cJSON_AddStringToObject(o, "run", st->run) == NULL
        || cJSON_AddStringToObject(o, "recipe", st->recipe) == NULL
        || cJSON_AddNumberToObject(o, "first", (double) st->first) == NULL
        || cJSON_AddNumberToObject(o, "last", (double) st->last) == NULL)
    {
        cJSON_Delete(o);
        return -1;
    }

    return relabel_batch_state_print(b, o);
}


/*
 * One step of a part: key "plan" (with stage, round and lines), a flag
 * ("uploading", "creating", "downloaded", "cancel": value NULL) or an id
 * ("file", "batch"); "status" takes value and, in extra, the output and
 * error file ids as "OUTPUT ERROR" ("-" for none).
 */
int
relabel_batch_state_record(ngx_http_moa_buf_t *b, const char *part,
    const char *key, const char *value, int stage, int round,
    unsigned long lines)
{
    int     ok;
    char    st[64], out[128], err[128];
    cJSON  *o;

    o = cJSON_CreateObject();
    if (o == NULL || cJSON_AddStringToObject(o, "part", part) == NULL) {
        cJSON_Delete(o);
        return -1;
    }

    if (strcmp(key, "plan") == 0) {
        ok = cJSON_AddNumberToObject(o, "stage", stage) != NULL
             && cJSON_AddNumberToObject(o, "round", round) != NULL
             && cJSON_AddNumberToObject(o, "lines", (double) lines) != NULL;

    } else if (strcmp(key, "status") == 0) {
        /* value is "STATUS OUTPUT ERROR" */
        ok = value != NULL
             && sscanf(value, "%63s %127s %127s", st, out, err) == 3
             && cJSON_AddStringToObject(o, "status", st) != NULL
             && (strcmp(out, "-") == 0
                 || cJSON_AddStringToObject(o, "output", out) != NULL)
             && (strcmp(err, "-") == 0
                 || cJSON_AddStringToObject(o, "error", err) != NULL);

    } else if (value == NULL) {
        ok = cJSON_AddTrueToObject(o, key) != NULL;

    } else {
        ok = cJSON_AddStringToObject(o, key, value) != NULL;
    }

    if (!ok) {
        cJSON_Delete(o);
        return -1;
    }

    return relabel_batch_state_print(b, o);
}


static int
relabel_batch_state_str(char **dst, const cJSON *o, const char *name)
{
    const cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(o, name);

    if (v == NULL) {
        return 0;
    }

    if (!cJSON_IsString(v) || v->valuestring[0] == '\0'
        || strlen(v->valuestring) > 200)
    {
        return -1;
    }

    free(*dst);
    *dst = strdup(v->valuestring);

    return *dst == NULL ? -1 : 1;
}


relabel_batch_part_t *
relabel_batch_state_part(relabel_batch_state_t *st, const char *part)
{
    size_t  i;

    for (i = 0; i < st->nparts; i++) {
        if (strcmp(st->parts[i].part, part) == 0) {
            return &st->parts[i];
        }
    }

    return NULL;
}


/* one record applied to the state: 0, or -1 with err */
int
relabel_batch_state_apply(relabel_batch_state_t *st, const char *line,
    size_t len, char *err, size_t errlen)
{
    int                    rc, n[3];
    char                  *name, check[64], c;
    cJSON                 *o;
    const cJSON           *v, *f;
    relabel_batch_part_t  *p, *parts;

    o = cJSON_ParseWithLength(line, len);
    if (o == NULL || !cJSON_IsObject(o)) {
        snprintf(err, errlen, "a record is not a JSON object");
        cJSON_Delete(o);
        return -1;
    }

    rc = -1;
    name = NULL;

    if (cJSON_GetObjectItemCaseSensitive(o, "moa_relabel_batch")) {
        v = cJSON_GetObjectItem(o, "first");
        f = cJSON_GetObjectItem(o, "last");

        if (relabel_batch_state_str(&st->run, o, "run") != 1
            || relabel_batch_state_str(&st->recipe, o, "recipe") != 1
            || !cJSON_IsNumber(v) || !cJSON_IsNumber(f)
            || v->valuedouble < 1 || f->valuedouble < 0)
        {
            snprintf(err, errlen, "a bad header");
            goto done;
        }

        st->first = (unsigned long) v->valuedouble;
        st->last = (unsigned long) f->valuedouble;
        rc = 0;
        goto done;
    }

    if (st->run == NULL || relabel_batch_state_str(&name, o, "part") != 1) {
        snprintf(err, errlen, "a record without a part, or before the "
                 "header");
        goto done;
    }

    p = relabel_batch_state_part(st, name);

    if (p == NULL) {
        /* names become file names: only ours, "s1.r0.p0" */
        if (sscanf(name, "s%d.r%d.p%d%c", &n[0], &n[1], &n[2], &c) != 3
            || snprintf(check, sizeof(check), "s%d.r%d.p%d", n[0], n[1],
                        n[2]) < 0
            || strcmp(check, name) != 0)
        {
            snprintf(err, errlen, "a bad part name");
            goto done;
        }

        if (!cJSON_IsNumber(v = cJSON_GetObjectItem(o, "stage"))) {
            snprintf(err, errlen, "part %s: a step before its plan", name);
            goto done;
        }

        parts = realloc(st->parts,
                        (st->nparts + 1) * sizeof(relabel_batch_part_t));
        if (parts == NULL) {
            snprintf(err, errlen, "out of memory");
            goto done;
        }

        st->parts = parts;
        p = &parts[st->nparts++];
        memset(p, 0, sizeof(relabel_batch_part_t));
        p->part = name;
        name = NULL;
        p->stage = (int) v->valuedouble;

        v = cJSON_GetObjectItem(o, "round");
        p->round = cJSON_IsNumber(v) ? (int) v->valuedouble : 0;
        v = cJSON_GetObjectItem(o, "lines");
        p->lines = cJSON_IsNumber(v) ? (unsigned long) v->valuedouble : 0;
    }

    p->uploading |= cJSON_IsTrue(cJSON_GetObjectItem(o, "uploading"));
    p->creating |= cJSON_IsTrue(cJSON_GetObjectItem(o, "creating"));
    p->downloaded |= cJSON_IsTrue(cJSON_GetObjectItem(o, "downloaded"));
    p->cancel_sent |= cJSON_IsTrue(cJSON_GetObjectItem(o, "cancel"));

    if (relabel_batch_state_str(&p->file, o, "file") < 0
        || relabel_batch_state_str(&p->batch, o, "batch") < 0
        || relabel_batch_state_str(&p->status, o, "status") < 0
        || relabel_batch_state_str(&p->output, o, "output") < 0
        || relabel_batch_state_str(&p->error, o, "error") < 0)
    {
        snprintf(err, errlen, "part %s: a bad record", p->part);
        goto done;
    }

    rc = 0;

done:

    free(name);
    cJSON_Delete(o);

    return rc;
}


/*
 * The whole file: 0, or -1 with err.  *torn is the length of a last line
 * without its '\n' (left out).
 */
int
relabel_batch_state_parse(relabel_batch_state_t *st, const char *text,
    size_t len, size_t *torn, char *err, size_t errlen)
{
    size_t       n;
    const char  *p, *nl, *end;

    *torn = 0;
    end = text + len;

    for (p = text; p < end; p = nl + 1) {
        nl = memchr(p, '\n', end - p);

        if (nl == NULL) {
            *torn = end - p;
            break;
        }

        n = nl - p;

        if (n && relabel_batch_state_apply(st, p, n, err, errlen) != 0) {
            return -1;
        }
    }

    if (len && st->run == NULL) {
        snprintf(err, errlen, "no header");
        return -1;
    }

    return 0;
}


void
relabel_batch_state_free(relabel_batch_state_t *st)
{
    size_t                 i;
    relabel_batch_part_t  *p;

    for (i = 0; i < st->nparts; i++) {
        p = &st->parts[i];
        free(p->part);
        free(p->file);
        free(p->batch);
        free(p->status);
        free(p->output);
        free(p->error);
    }

    free(st->parts);
    free(st->run);
    free(st->recipe);
    memset(st, 0, sizeof(relabel_batch_state_t));
}
