
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Shared checks of the fuzz targets.  A target is built with libFuzzer
 * (make fuzz) or with fuzz/replay.c (make unit: the seed corpus and the
 * regressions replayed under ASan).  A failed check prints what failed and
 * aborts, which both count as a crash.
 */


#ifndef _FUZZ_H_INCLUDED_
#define _FUZZ_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ngx_http_moa_json.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


#define fuzz_assert(cond, what)                                              \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fuzz_fail(what, #cond, __FILE__, __LINE__);                      \
        }                                                                    \
    } while (0)


static inline void
fuzz_fail(const char *what, const char *cond, const char *file, int line)
{
    fprintf(stderr, "fuzz check failed: %s (%s) at %s:%d\n", what, cond,
            file, line);
    abort();
}


/* FNV-1a: settings derived from the input without taking bytes from it */
static inline uint64_t
fuzz_hash(const uint8_t *p, size_t n)
{
    size_t    i;
    uint64_t  h;

    h = 14695981039346656037ULL;

    for (i = 0; i < n; i++) {
        h = (h ^ p[i]) * 1099511628211ULL;
    }

    return h;
}


static inline uint64_t
fuzz_next(uint64_t *state)
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;

    return *state >> 33;
}


/* p[0..len) must be valid for the scanner and for cJSON */
static inline cJSON *
fuzz_json(const char *p, size_t len, const char *what)
{
    cJSON  *v;

    fuzz_assert(p != NULL && len > 0, what);
    fuzz_assert(ngx_http_moa_json_valid(p, len) == 0, what);

    v = cJSON_ParseWithLength(p, len);
    fuzz_assert(v != NULL, what);

    return v;
}


/* case-sensitive: cJSON_GetObjectItem() ignores case */
static inline cJSON *
fuzz_get(const cJSON *obj, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(obj, name);
}


static inline int
fuzz_str_is(const cJSON *obj, const char *name, const char *s)
{
    const cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsString(item) && strcmp(item->valuestring, s) == 0;
}


/* how many members of obj cJSON names name */
static inline int
fuzz_count_key(const cJSON *obj, const char *name)
{
    int           n;
    const cJSON  *c;

    n = 0;

    for (c = obj ? obj->child : NULL; c; c = c->next) {
        if (c->string && strcmp(c->string, name) == 0) {
            n++;
        }
    }

    return n;
}


/*
 * out[0..len) must be a sequence of "data: <one-line JSON>\n\n" events;
 * check() is called with each parsed event.
 */
static inline int
fuzz_sse_events(const char *p, size_t len,
    void (*check)(const cJSON *ev, void *data), void *data)
{
    int          n;
    cJSON       *v;
    const char  *end, *nl;

    n = 0;
    end = p + len;

    while (p < end) {
        fuzz_assert(end - p >= 8 && memcmp(p, "data: ", 6) == 0,
                    "an event starts with \"data: \"");

        nl = memchr(p, '\n', end - p);
        fuzz_assert(nl != NULL && nl + 1 < end && nl[1] == '\n',
                    "an event is one line and an empty line");

        v = fuzz_json(p + 6, nl - p - 6, "an event's data");

        if (check) {
            check(v, data);
        }

        cJSON_Delete(v);
        n++;
        p = nl + 2;
    }

    return n;
}


#endif /* _FUZZ_H_INCLUDED_ */
