
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * A main() for a fuzz target without libFuzzer: runs every file named on
 * the command line, or found in a directory named there, through
 * LLVMFuzzerTestOneInput, printing one TAP line per file.  A crash or a
 * failed check aborts; the sanitizers report what went wrong.
 */


#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "fuzz.h"


static int  count;


static int
replay_file(const char *path)
{
    FILE     *f;
    long      size;
    uint8_t  *data;

    f = fopen(path, "rb");
    if (f == NULL) {
        printf("not ok %d - %s: %s\n", ++count, path, strerror(errno));
        return 1;
    }

    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);

    /* a copy of its own, so that ASan sees reads past the input */
    data = malloc(size ? (size_t) size : 1);

    if (data == NULL || fread(data, 1, size, f) != (size_t) size) {
        printf("not ok %d - %s: cannot read\n", ++count, path);
        free(data);
        fclose(f);
        return 1;
    }

    fclose(f);

    LLVMFuzzerTestOneInput(data, (size_t) size);
    free(data);

    printf("ok %d - %s (%ld bytes)\n", ++count, path, size);
    fflush(stdout);

    return 0;
}


static int
replay(const char *path)
{
    int              i, n, failed;
    char             sub[4096];
    struct stat      st;
    struct dirent  **names;

    if (stat(path, &st) != 0) {
        printf("not ok %d - %s: %s\n", ++count, path, strerror(errno));
        return 1;
    }

    if (!S_ISDIR(st.st_mode)) {
        return replay_file(path);
    }

    n = scandir(path, &names, NULL, alphasort);
    if (n < 0) {
        printf("not ok %d - %s: %s\n", ++count, path, strerror(errno));
        return 1;
    }

    failed = 0;

    for (i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            snprintf(sub, sizeof(sub), "%s/%s", path, names[i]->d_name);
            failed |= replay(sub);
        }

        free(names[i]);
    }

    free(names);

    return failed;
}


int
main(int argc, char **argv)
{
    int  i, failed;

    failed = 0;

    for (i = 1; i < argc; i++) {
        failed |= replay(argv[i]);
    }

    printf("1..%d\n", count);

    return failed;
}
