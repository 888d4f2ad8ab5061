
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * A tiny TAP producer for the unit tests of the pure code: one "ok N - name"
 * line per assertion, diagnostics as "# ..." lines, the plan "1..N" at the
 * end (done_testing), and an exit status that is non-zero when any assertion
 * failed.  Everything is static: include it in one file per binary.
 */


#ifndef _TAP_H_INCLUDED_
#define _TAP_H_INCLUDED_


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int  tap_count;
static int  tap_failed;


static inline void diag(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));


static inline void
tap_vdiag(const char *fmt, va_list args)
{
    char         buf[4096];
    const char  *p, *nl;

    vsnprintf(buf, sizeof(buf), fmt, args);

    for (p = buf; ; p = nl + 1) {
        nl = strchr(p, '\n');
        printf("# %.*s\n", nl ? (int) (nl - p) : (int) strlen(p), p);

        if (nl == NULL || nl[1] == '\0') {
            break;
        }
    }
}


static inline void
diag(const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    tap_vdiag(fmt, args);
    va_end(args);
}


static inline int
tap_vok(int pass, const char *file, int line, const char *fmt, va_list args)
{
    char           raw[512], name[2048], *d;
    unsigned char  *s;

    vsnprintf(raw, sizeof(raw), fmt, args);

    /* one line per assertion: control bytes in names are shown escaped */
    d = name;

    for (s = (unsigned char *) raw; *s; s++) {
        if (*s >= 0x20 && *s != 0x7f) {
            *d++ = (char) *s;
            continue;
        }

        d += sprintf(d, *s == '\n' ? "\\n" : *s == '\r' ? "\\r"
                        : *s == '\t' ? "\\t" : "\\x%02x", *s);
    }

    *d = '\0';

    tap_count++;

    printf("%sok %d - %s\n", pass ? "" : "not ", tap_count, name);

    if (!pass) {
        tap_failed++;
        diag("  Failed test '%s'\n  at %s line %d.", name, file, line);
    }

    fflush(stdout);

    return pass;
}


static inline int
tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    tap_vok(pass, file, line, fmt, args);
    va_end(args);

    return pass;
}


static inline int
tap_is_int(long long got, long long expected, const char *file, int line,
    const char *fmt, ...)
{
    int      pass;
    va_list  args;

    pass = (got == expected);

    va_start(args, fmt);
    tap_vok(pass, file, line, fmt, args);
    va_end(args);

    if (!pass) {
        diag("         got: %lld\n    expected: %lld", got, expected);
    }

    return pass;
}


/* got may be NULL or hold NULs: it is compared as got[0..got_len) */
static inline int
tap_is_mem(const char *got, size_t got_len, const char *expected,
    const char *file, int line, const char *fmt, ...)
{
    int      pass;
    va_list  args;

    if (got == NULL || expected == NULL) {
        pass = (got == NULL && expected == NULL);

    } else {
        pass = (got_len == strlen(expected)
                && memcmp(got, expected, got_len) == 0);
    }

    va_start(args, fmt);
    tap_vok(pass, file, line, fmt, args);
    va_end(args);

    if (!pass) {
        diag("         got: %s%.*s%s\n    expected: %s%s%s",
             got ? "'" : "", got ? (int) got_len : 4, got ? got : "NULL",
             got ? "'" : "", expected ? "'" : "",
             expected ? expected : "NULL", expected ? "'" : "");
    }

    return pass;
}


static inline size_t
tap_strlen(const char *s)
{
    return s ? strlen(s) : 0;
}


static inline const char *
tap_memmem(const char *hay, size_t hay_len, const char *needle)
{
    size_t  i, n;

    n = strlen(needle);

    if (hay == NULL || n > hay_len) {
        return NULL;
    }

    for (i = 0; i + n <= hay_len; i++) {
        if (memcmp(hay + i, needle, n) == 0) {
            return hay + i;
        }
    }

    return NULL;
}


/* has: hay[0..hay_len) contains needle (want 1) or does not (want 0) */
static inline int
tap_has(const char *hay, size_t hay_len, const char *needle, int want,
    const char *file, int line, const char *fmt, ...)
{
    int      pass;
    va_list  args;

    pass = ((tap_memmem(hay, hay_len, needle) != NULL) == want);

    va_start(args, fmt);
    tap_vok(pass, file, line, fmt, args);
    va_end(args);

    if (!pass) {
        diag("    '%.*s'\n    %s '%s'", hay ? (int) hay_len : 4,
             hay ? hay : "NULL", want ? "does not contain" : "contains",
             needle);
    }

    return pass;
}


static inline int
done_testing(void)
{
    printf("1..%d\n", tap_count);

    if (tap_failed) {
        diag("Looks like you failed %d test%s of %d.", tap_failed,
             tap_failed == 1 ? "" : "s", tap_count);
    }

    fflush(stdout);

    return tap_failed ? 1 : 0;
}


#define ok(cond, ...)                                                        \
    tap_ok((cond) ? 1 : 0, __FILE__, __LINE__, __VA_ARGS__)

#define is_int(got, expected, ...)                                           \
    tap_is_int((long long) (got), (long long) (expected), __FILE__,          \
               __LINE__, __VA_ARGS__)

#define is_mem(got, got_len, expected, ...)                                  \
    tap_is_mem(got, got_len, expected, __FILE__, __LINE__, __VA_ARGS__)

#define is_str(got, expected, ...)                                           \
    tap_is_mem(got, tap_strlen(got), expected, __FILE__, __LINE__,           \
               __VA_ARGS__)

#define has(hay, hay_len, needle, ...)                                       \
    tap_has(hay, hay_len, needle, 1, __FILE__, __LINE__, __VA_ARGS__)

#define hasnt(hay, hay_len, needle, ...)                                     \
    tap_has(hay, hay_len, needle, 0, __FILE__, __LINE__, __VA_ARGS__)


#endif /* _TAP_H_INCLUDED_ */
