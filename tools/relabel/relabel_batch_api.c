
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel --batch: the provider's Files and Batches API (OpenAI's, and
 * any compatible one): upload a batch input file (multipart, purpose
 * batch), create a batch, retrieve it, cancel it, download a file's
 * content, and find a file by name or a batch by its metadata (what a run
 * killed between a request and its record in the state file looks for
 * before it would send the request again).  Libcurl's easy interface: the
 * calls are few and the run waits for each.  A call that fails in a way a
 * retry may fix (429, 5xx, no reply) is retried with the online mode's
 * backoff, except the two that create something (upload, create): their
 * caller looks first whether the lost reply's work was done.
 */


#define _GNU_SOURCE

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "relabel_batch_run.h"


typedef struct {
    ngx_http_moa_buf_t    body;
    FILE                 *file;          /* downloads go there */
    char                  retry_after[64];
    char                  retry_after_ms[32];
} relabel_batch_api_reply_t;


static size_t relabel_batch_api_write(char *p, size_t size, size_t n,
    void *data);
static size_t relabel_batch_api_header(char *p, size_t size, size_t n,
    void *data);
static int relabel_batch_api_request(relabel_batch_api_t *api,
    const char *method, const char *path, const char *json, curl_mime *mime,
    relabel_batch_api_reply_t *rep, int retry);
static int relabel_batch_api_once(relabel_batch_api_t *api, CURL *h);
static cJSON *relabel_batch_api_json(relabel_batch_api_t *api,
    relabel_batch_api_reply_t *rep);
static int relabel_batch_api_id(relabel_batch_api_t *api, const cJSON *o,
    const char *name, char *id, size_t idlen);


int
relabel_batch_api_init(relabel_batch_api_t *api, relabel_conf_t *conf,
    const char *base)
{
    struct curl_slist  *l, *h;

    memset(api, 0, sizeof(relabel_batch_api_t));

    api->conf = conf;
    api->base = base;

    /* the online headers; an upload sets its own Content-Type */

    for (l = conf->headers; l; l = l->next) {
        h = curl_slist_append(api->json, l->data);
        if (h == NULL) {
            return -1;
        }
        api->json = h;

        if (strncasecmp(l->data, "content-type:", 13) == 0) {
            continue;
        }

        h = curl_slist_append(api->upload, l->data);
        if (h == NULL) {
            return -1;
        }
        api->upload = h;
    }

    return 0;
}


void
relabel_batch_api_free(relabel_batch_api_t *api)
{
    curl_slist_free_all(api->json);
    curl_slist_free_all(api->upload);
    api->json = NULL;
    api->upload = NULL;
}


static size_t
relabel_batch_api_write(char *p, size_t size, size_t n, void *data)
{
    relabel_batch_api_reply_t  *rep = data;

    if (rep->file) {
        return fwrite(p, size, n, rep->file);
    }

    if (rep->body.len + n > RELABEL_MAX_RESPONSE) {
        return 0;
    }

    ngx_http_moa_buf_add(&rep->body, p, size * n);

    return rep->body.nomem ? 0 : size * n;
}


static size_t
relabel_batch_api_header(char *p, size_t size, size_t n, void *data)
{
    size_t                      len, k;
    char                       *dst;
    relabel_batch_api_reply_t  *rep = data;

    len = size * n;

    if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
        dst = rep->retry_after;
        k = 12;
    } else if (len > 15 && strncasecmp(p, "retry-after-ms:", 15) == 0) {
        dst = rep->retry_after_ms;
        k = 15;
    } else {
        return len;
    }

    while (k < len && (p[k] == ' ' || p[k] == '\t')) {
        k++;
    }

    while (len > k && (p[len - 1] == '\r' || p[len - 1] == '\n')) {
        len--;
    }

    if (len - k < 32) {
        memcpy(dst, p + k, len - k);
        dst[len - k] = '\0';
    }

    return size * n;
}


/* one try: 0 with api->status set (any status), -1 without a reply */
static int
relabel_batch_api_once(relabel_batch_api_t *api, CURL *h)
{
    CURLcode  rc;
    char      errbuf[CURL_ERROR_SIZE];

    errbuf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);

    rc = curl_easy_perform(h);

    if (rc != CURLE_OK) {
        snprintf(api->error, sizeof(api->error), "%s",
                 errbuf[0] ? errbuf : curl_easy_strerror(rc));
        api->status = 0;
        api->retryable = 1;
        return -1;
    }

    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &api->status);

    return 0;
}


/*
 * method path: 0 on a 2xx reply (in rep), else -1 with api->error,
 * api->status and api->retryable; retried when retry is set.
 */
static int
relabel_batch_api_request(relabel_batch_api_t *api, const char *method,
    const char *path, const char *json, curl_mime *mime,
    relabel_batch_api_reply_t *rep, int retry)
{
    int              rc;
    char             url[2048], text[256];
    CURL            *h;
    long            attempt;
    long long        delay, ra;
    relabel_conf_t  *conf;

    conf = api->conf;
    snprintf(url, sizeof(url), "%s%s", api->base, path);

    for (attempt = 0; ; attempt++) {
        h = curl_easy_init();
        if (h == NULL) {
            snprintf(api->error, sizeof(api->error), "out of memory");
            api->retryable = 0;
            return -1;
        }

        ngx_http_moa_buf_free(&rep->body);
        rep->retry_after[0] = '\0';
        rep->retry_after_ms[0] = '\0';

        if (rep->file) {
            rewind(rep->file);
            (void) !ftruncate(fileno(rep->file), 0);
        }

        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER,
                         mime ? api->upload : api->json);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, relabel_batch_api_write);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, rep);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, relabel_batch_api_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, rep);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long) conf->timeout_ms);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                         (long) conf->connect_timeout_ms);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_USERAGENT, "moa-relabel/" RELABEL_VERSION);

        if (conf->insecure) {
            curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
        }

        if (mime) {
            curl_easy_setopt(h, CURLOPT_MIMEPOST, mime);
        } else if (json) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
        }

        rc = relabel_batch_api_once(api, h);
        curl_easy_cleanup(h);

        if (rc == 0 && api->status >= 200 && api->status < 300) {
            return 0;
        }

        if (rc == 0) {
            relabel_http_error_text(rep->body.data ? rep->body.data : "",
                                    rep->body.len, text, sizeof(text));
            snprintf(api->error, sizeof(api->error), "HTTP %ld: %s",
                     api->status, text);
            api->retryable = relabel_http_retryable(api->status);
        }

        if (!retry || !api->retryable || attempt >= conf->retries) {
            return -1;
        }

        ra = relabel_http_retry_after_ms(rep->retry_after_ms,
                                         rep->retry_after[0]
                                         ? rep->retry_after : NULL,
                                         time(NULL));
        delay = conf->backoff_ms << (attempt < 16 ? attempt : 16);

        if (delay > conf->backoff_max_ms) {
            delay = conf->backoff_max_ms;
        }

        if (ra >= 0) {
            delay = ra < conf->retry_after_max_ms ? ra
                                                  : conf->retry_after_max_ms;
        }

        if (conf->verbose) {
            relabel_run_log(NULL, "%s %s: %s; retrying in %lld ms", method,
                            path, api->error, delay);
        }

        usleep((useconds_t) (delay * 1000));
    }
}


static cJSON *
relabel_batch_api_json(relabel_batch_api_t *api,
    relabel_batch_api_reply_t *rep)
{
    cJSON  *o;

    o = cJSON_ParseWithLength(rep->body.data ? rep->body.data : "",
                              rep->body.len);

    if (!cJSON_IsObject(o)) {
        snprintf(api->error, sizeof(api->error), "the reply is not a JSON "
                 "object");
        api->retryable = 1;
        cJSON_Delete(o);
        return NULL;
    }

    return o;
}


static int
relabel_batch_api_id(relabel_batch_api_t *api, const cJSON *o,
    const char *name, char *id, size_t idlen)
{
    const cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(o, name);

    if (!cJSON_IsString(v) || v->valuestring[0] == '\0'
        || strlen(v->valuestring) >= idlen
        || strpbrk(v->valuestring, " /?#%\"\\\n") != NULL)
    {
        snprintf(api->error, sizeof(api->error), "the reply has no usable "
                 "\"%s\"", name);
        api->retryable = 0;
        return -1;
    }

    strcpy(id, v->valuestring);

    return 0;
}


/* POST /files, purpose batch; not retried (the caller looks first) */
int
relabel_batch_api_upload(relabel_batch_api_t *api, const char *path,
    const char *name, char *id, size_t idlen)
{
    int                         rc;
    cJSON                      *o;
    curl_mime                  *mime;
    curl_mimepart              *part;
    relabel_batch_api_reply_t   rep;

    memset(&rep, 0, sizeof(relabel_batch_api_reply_t));

    mime = curl_mime_init(NULL);
    if (mime == NULL) {
        return -1;
    }

    part = curl_mime_addpart(mime);
    curl_mime_name(part, "purpose");
    curl_mime_data(part, api->conf->batch.purpose, CURL_ZERO_TERMINATED);

    part = curl_mime_addpart(mime);
    curl_mime_name(part, "file");
    curl_mime_type(part, "application/jsonl");

    rc = -1;

    if (curl_mime_filedata(part, path) != CURLE_OK
        || curl_mime_filename(part, name) != CURLE_OK)
    {
        snprintf(api->error, sizeof(api->error), "cannot read %s", path);
        api->retryable = 0;
        goto done;
    }

    if (relabel_batch_api_request(api, "POST", "/files", NULL, mime, &rep, 0)
        != 0)
    {
        goto done;
    }

    o = relabel_batch_api_json(api, &rep);
    if (o) {
        rc = relabel_batch_api_id(api, o, "id", id, idlen);
        cJSON_Delete(o);
    }

done:

    curl_mime_free(mime);
    ngx_http_moa_buf_free(&rep.body);

    return rc;
}


/* POST /batches, the tag in the metadata; not retried either */
int
relabel_batch_api_create(relabel_batch_api_t *api, const char *file,
    const char *tag, char *id, size_t idlen)
{
    int                         rc;
    char                       *json;
    cJSON                      *o, *m;
    relabel_batch_api_reply_t   rep;

    memset(&rep, 0, sizeof(relabel_batch_api_reply_t));

    o = cJSON_CreateObject();
    m = cJSON_CreateObject();
    json = NULL;

    if (o == NULL || m == NULL
        || cJSON_AddStringToObject(o, "input_file_id", file) == NULL
        || cJSON_AddStringToObject(o, "endpoint", "/v1/chat/completions")
           == NULL
        || cJSON_AddStringToObject(o, "completion_window",
                                   api->conf->batch.window) == NULL
        || cJSON_AddStringToObject(m, "moa_relabel", tag) == NULL
        || !cJSON_AddItemToObject(o, "metadata", m)
        || (m = NULL, json = cJSON_PrintUnformatted(o)) == NULL)
    {
        cJSON_Delete(o);
        cJSON_Delete(m);
        snprintf(api->error, sizeof(api->error), "out of memory");
        return -1;
    }

    cJSON_Delete(o);
    rc = -1;

    if (relabel_batch_api_request(api, "POST", "/batches", json, NULL, &rep,
                                  0)
        == 0)
    {
        o = relabel_batch_api_json(api, &rep);
        if (o) {
            rc = relabel_batch_api_id(api, o, "id", id, idlen);
            cJSON_Delete(o);
        }
    }

    free(json);
    ngx_http_moa_buf_free(&rep.body);

    return rc;
}


static void
relabel_batch_api_str(const cJSON *o, const char *name, char *dst,
    size_t size)
{
    const cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(o, name);
    dst[0] = '\0';

    if (cJSON_IsString(v) && strlen(v->valuestring) < size
        && strpbrk(v->valuestring, " /?#%\"\\\n") == NULL)
    {
        strcpy(dst, v->valuestring);
    }
}


static long
relabel_batch_api_count(const cJSON *o, const char *name)
{
    const cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsNumber(v) && v->valuedouble >= 0 ? (long) v->valuedouble
                                                     : 0;
}


/* GET /batches/{id} */
int
relabel_batch_api_retrieve(relabel_batch_api_t *api, const char *id,
    relabel_batch_info_t *info)
{
    int                         rc;
    char                        path[256];
    cJSON                      *o;
    const cJSON                *c, *e, *d;
    relabel_batch_api_reply_t   rep;

    memset(&rep, 0, sizeof(relabel_batch_api_reply_t));
    memset(info, 0, sizeof(relabel_batch_info_t));
    snprintf(path, sizeof(path), "/batches/%s", id);

    rc = -1;

    if (relabel_batch_api_request(api, "GET", path, NULL, NULL, &rep, 1) != 0
        || (o = relabel_batch_api_json(api, &rep)) == NULL)
    {
        goto done;
    }

    relabel_batch_api_str(o, "id", info->id, sizeof(info->id));
    relabel_batch_api_str(o, "status", info->status, sizeof(info->status));
    relabel_batch_api_str(o, "output_file_id", info->output,
                          sizeof(info->output));
    relabel_batch_api_str(o, "error_file_id", info->error,
                          sizeof(info->error));

    c = cJSON_GetObjectItemCaseSensitive(o, "request_counts");
    info->total = relabel_batch_api_count(c, "total");
    info->completed = relabel_batch_api_count(c, "completed");
    info->failed = relabel_batch_api_count(c, "failed");

    e = cJSON_GetObjectItemCaseSensitive(o, "errors");
    d = cJSON_GetObjectItemCaseSensitive(e, "data");
    d = cJSON_IsArray(d) ? cJSON_GetArrayItem(d, 0) : NULL;

    if (cJSON_IsObject(d)) {
        e = cJSON_GetObjectItemCaseSensitive(d, "message");
        c = cJSON_GetObjectItemCaseSensitive(d, "code");
        snprintf(info->message, sizeof(info->message), "%s%s%s",
                 cJSON_IsString(c) ? c->valuestring : "",
                 cJSON_IsString(c) && cJSON_IsString(e) ? ": " : "",
                 cJSON_IsString(e) ? e->valuestring : "");
    }

    cJSON_Delete(o);

    if (info->status[0] == '\0') {
        snprintf(api->error, sizeof(api->error), "the batch %s has no "
                 "status", id);
        goto done;
    }

    rc = 0;

done:

    ngx_http_moa_buf_free(&rep.body);

    return rc;
}


/* POST /batches/{id}/cancel */
int
relabel_batch_api_cancel(relabel_batch_api_t *api, const char *id)
{
    int                         rc;
    char                        path[256];
    relabel_batch_api_reply_t   rep;

    memset(&rep, 0, sizeof(relabel_batch_api_reply_t));
    snprintf(path, sizeof(path), "/batches/%s/cancel", id);

    rc = relabel_batch_api_request(api, "POST", path, "", NULL, &rep, 1);
    ngx_http_moa_buf_free(&rep.body);

    return rc;
}


/* GET /files/{id}/content into path, whole or not at all */
int
relabel_batch_api_download(relabel_batch_api_t *api, const char *file,
    const char *path)
{
    int                         rc;
    char                        url[256], tmp[4096];
    relabel_batch_api_reply_t   rep;

    memset(&rep, 0, sizeof(relabel_batch_api_reply_t));
    snprintf(url, sizeof(url), "/files/%s/content", file);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);

    rep.file = fopen(tmp, "w+");
    if (rep.file == NULL) {
        snprintf(api->error, sizeof(api->error), "%.300s: %s", tmp,
                 strerror(errno));
        api->retryable = 0;
        return -1;
    }

    rc = relabel_batch_api_request(api, "GET", url, NULL, NULL, &rep, 1);

    if (rc == 0
        && (fflush(rep.file) != 0 || fdatasync(fileno(rep.file)) != 0))
    {
        snprintf(api->error, sizeof(api->error), "%.300s: %s", tmp,
                 strerror(errno));
        api->retryable = 0;
        rc = -1;
    }

    fclose(rep.file);

    if (rc == 0 && rename(tmp, path) != 0) {
        snprintf(api->error, sizeof(api->error), "%.300s: %s", path,
                 strerror(errno));
        api->retryable = 0;
        rc = -1;
    }

    if (rc != 0) {
        (void) unlink(tmp);
    }

    return rc;
}


/*
 * A list's item whose member name (or metadata.moa_relabel when name is
 * NULL) is value: 1 found (its id), 0 not, -1 the list failed.
 */
static int
relabel_batch_api_find(relabel_batch_api_t *api, const char *path,
    const char *name, const char *value, char *id, size_t idlen,
    char *last, size_t lastlen, int *more)
{
    int                         rc;
    cJSON                      *o;
    const cJSON                *data, *it, *v;
    relabel_batch_api_reply_t   rep;

    memset(&rep, 0, sizeof(relabel_batch_api_reply_t));
    rc = -1;
    *more = 0;

    if (relabel_batch_api_request(api, "GET", path, NULL, NULL, &rep, 1) != 0
        || (o = relabel_batch_api_json(api, &rep)) == NULL)
    {
        goto done;
    }

    data = cJSON_GetObjectItemCaseSensitive(o, "data");
    rc = 0;

    cJSON_ArrayForEach(it, data) {
        v = name ? cJSON_GetObjectItemCaseSensitive(it, name)
                 : cJSON_GetObjectItemCaseSensitive(
                       cJSON_GetObjectItemCaseSensitive(it, "metadata"),
                       "moa_relabel");

        relabel_batch_api_str(it, "id", last, lastlen);

        if (cJSON_IsString(v) && strcmp(v->valuestring, value) == 0
            && relabel_batch_api_id(api, it, "id", id, idlen) == 0)
        {
            rc = 1;
            break;
        }
    }

    *more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "has_more"));
    cJSON_Delete(o);

done:

    ngx_http_moa_buf_free(&rep.body);

    return rc;
}


/* every page of a list (after=the last id) until value is found */
static int
relabel_batch_api_find_all(relabel_batch_api_t *api, const char *list,
    const char *name, const char *value, char *id, size_t idlen)
{
    int   rc, more, pages;
    char  path[512], last[128];

    last[0] = '\0';

    for (pages = 0; pages < 100; pages++) {
        snprintf(path, sizeof(path), "%s%s%s", list,
                 last[0] ? "&after=" : "", last);

        rc = relabel_batch_api_find(api, path, name, value, id, idlen, last,
                                    sizeof(last), &more);

        if (rc != 0 || !more || last[0] == '\0') {
            return rc;
        }
    }

    return 0;
}


/* GET /files?purpose=batch: the file uploaded under name, if any */
int
relabel_batch_api_find_file(relabel_batch_api_t *api, const char *name,
    char *id, size_t idlen)
{
    char  list[256];

    snprintf(list, sizeof(list), "/files?purpose=%.64s&limit=10000",
             api->conf->batch.purpose);

    return relabel_batch_api_find_all(api, list, "filename", name, id, idlen);
}


/* GET /batches: the batch created with the tag, if any */
int
relabel_batch_api_find_batch(relabel_batch_api_t *api, const char *tag,
    char *id, size_t idlen)
{
    return relabel_batch_api_find_all(api, "/batches?limit=100", NULL, tag,
                                      id, idlen);
}
