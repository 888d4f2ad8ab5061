
/*
 * moa-relabel: relabel a fine-tuning JSONL file through an OpenAI-compatible
 * chat completions endpoint (the MoA model by default).
 *
 * One thread, libcurl's multi interface: up to --concurrency requests in
 * flight.  Rows live in a ring of --window slots between being read and
 * being written; output leaves strictly in input order, so a full ring
 * pauses reading (and with it new requests) while the oldest row is still
 * being worked on.  That bounds memory and makes OUT plus the rejects file
 * an exact prefix of IN at every moment, which is what resuming relies on.
 */


#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "relabel.h"


#define RELABEL_EXIT_OK           0
#define RELABEL_EXIT_REJECTS      1
#define RELABEL_EXIT_FATAL        2
#define RELABEL_EXIT_CHECK        3
#define RELABEL_EXIT_UNHEALTHY    4

#define RELABEL_MAX_RESPONSE      (64 * 1024 * 1024)
#define RELABEL_TICK_MS           250
#define RELABEL_ERRLEN            512


typedef enum {
    RELABEL_SLOT_FREE = 0,
    RELABEL_SLOT_QUEUED,
    RELABEL_SLOT_RUNNING,
    RELABEL_SLOT_WAITING,
    RELABEL_SLOT_DONE,
    RELABEL_SLOT_ABANDONED,
    RELABEL_SLOT_NSTATES
} relabel_state_e;


typedef enum {
    RELABEL_KIND_BLANK = 0,
    RELABEL_KIND_OUT,
    RELABEL_KIND_REJECT,
    RELABEL_KIND_SUSPECT      /* a reject the endpoint may be to blame for */
} relabel_kind_e;


typedef struct {
    const char           *endpoint;
    const char           *model;
    const char           *api_key;
    const char           *in_path;
    const char           *out_path;
    char                 *rejects_path;
    relabel_param_t      *params;
    size_t                nparams;
    struct curl_slist    *headers;
    long                  concurrency;
    long                  window;
    long                  retries;
    long                  max_consec;
    long long             timeout_ms;
    long long             connect_timeout_ms;
    long long             backoff_ms;
    long long             backoff_max_ms;
    long long             retry_after_max_ms;
    long long             progress_ms;
    unsigned long         limit;
    int                   overwrite;
    int                   insecure;
    int                   quiet;
    int                   verbose;
} relabel_conf_t;


typedef struct {
    relabel_state_e       state;
    relabel_kind_e        kind;
    unsigned long         line;
    char                 *text;
    size_t                len;
    relabel_record_t      rec;
    ngx_http_moa_buf_t    req;
    ngx_http_moa_buf_t    resp;
    ngx_http_moa_buf_t    out;
    CURL                 *easy;
    unsigned              attempts;
    uint64_t              due;
    uint64_t              success_mark;
    int                   too_large;
    char                  retry_after[64];
    char                  retry_after_ms[32];
    char                  should_retry[8];
    char                  request_id[80];
    char                 *error;        /* why a rejected row was rejected */
    char                  errbuf[CURL_ERROR_SIZE];
} relabel_slot_t;


typedef struct {
    relabel_conf_t       *conf;
    FILE                 *in;
    int                   out_fd;
    int                   rej_fd;
    relabel_line_t        line;

    relabel_slot_t       *slots;
    unsigned long         nslots;
    unsigned long         head;         /* oldest row not written */
    unsigned long         tail;         /* next row to read */
    long                  count[RELABEL_SLOT_NSTATES];

    unsigned long         lineno;       /* last input line read */
    unsigned long         covered;      /* input lines 1..covered written */
    unsigned long         total_lines;
    int                   in_eof;

    CURLM                *multi;

    relabel_resume_t      resume;
    unsigned long         written;
    unsigned long         rejected;
    unsigned long         blank;
    unsigned long         requests;
    unsigned long         retries;
    unsigned long         failures;
    unsigned long         truncated;
    long long             prompt_tokens;
    long long             completion_tokens;

    uint64_t              pause_until;  /* no new requests before (ms) */
    uint64_t              successes;    /* replies showing the endpoint works */
    long                  consec;       /* rows failed since the last one */

    int                   stopping;     /* 1: drain, 2: abandon in flight */
    int                   signals_seen;
    int                   stop_signal;
    int                   unhealthy;
    int                   fatal;

    uint64_t              start_ms;
    uint64_t              last_progress_ms;
    int                   tty;
    int                   bar_shown;
} relabel_run_t;


static volatile sig_atomic_t  relabel_signals;
static volatile sig_atomic_t  relabel_signo;
static int                    relabel_pipe[2] = { -1, -1 };


static const char  relabel_usage[] =
"Usage: moa-relabel [options] IN.jsonl OUT.jsonl\n"
"\n"
"Relabels a chat fine-tuning file.  For each record of IN, the messages up\n"
"to its final assistant message (all of them when the last message is not\n"
"an assistant message), with its tools, go to a chat completions endpoint;\n"
"the record is written to OUT with that message replaced by (or appended\n"
"as) the answer, everything else byte for byte, in input order.  Rows that\n"
"cannot be relabeled go to the rejects file.  Run the same command again\n"
"to resume an interrupted run.\n"
"\n"
"Options:\n"
"  -e, --endpoint URL      chat completions URL (default\n"
"                          http://127.0.0.1:8080/v1/chat/completions)\n"
"  -m, --model NAME        model to ask for (default moa-gpt-4o-v1)\n"
"  -c, --concurrency N     requests in flight at once (default 8)\n"
"  -w, --window N          most rows held between reading and writing\n"
"                          (default 8 x concurrency, at least 64)\n"
"      --api-key KEY       bearer token (default $OPENAI_API_KEY)\n"
"  -H, --header 'N: V'     extra request header (repeatable)\n"
"  -p, --param KEY=VALUE   extra request field; VALUE is used as JSON when\n"
"                          it parses, else as a string (repeatable):\n"
"                          -p temperature=0.7 -p 'stop=[\"###\"]'\n"
"  -r, --retries N         retries per row after the first try (default 5)\n"
"  -t, --timeout SECS      per request (default 600)\n"
"      --connect-timeout SECS\n"
"                          (default 10)\n"
"      --backoff SECS      first retry delay, doubled per retry, with\n"
"                          jitter (default 1)\n"
"      --backoff-max SECS  longest retry delay (default 60)\n"
"      --retry-after-max SECS\n"
"                          longest delay a server may ask for (default 300)\n"
"      --rejects FILE      rejected rows (default OUT.rejects.jsonl, i.e.\n"
"                          OUT with .jsonl replaced by .rejects.jsonl)\n"
"      --max-consecutive-failures N\n"
"                          stop (exit 4) when N rows in a row fail in ways\n"
"                          that point at the endpoint (default 10; 0 never)\n"
"      --limit N           stop after input line N\n"
"      --overwrite         start from scratch: empty OUT and rejects first\n"
"  -k, --insecure          do not verify the endpoint's TLS certificate\n"
"      --progress-interval SECS\n"
"                          seconds between progress lines when stderr is\n"
"                          not a terminal (default 5)\n"
"  -q, --quiet             no progress or reject lines; summary and errors\n"
"  -v, --verbose           also log every retry and its delay\n"
"  -h, --help              this text\n"
"  -V, --version           version and libcurl version\n"
"\n"
"Exit status: 0 all rows relabeled; 1 finished, with rows in the rejects\n"
"file; 2 usage, file or resume error; 3 the final count check failed;\n"
"4 stopped because the endpoint kept failing; 128+N stopped by signal N\n"
"(130 SIGINT, 143 SIGTERM).  After 4 or 128+N, run the same command again\n"
"(without --overwrite) to resume.\n";


static void relabel_signal_handler(int signo);
static uint64_t relabel_now_ms(void);
static void relabel_log(relabel_run_t *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void relabel_set_state(relabel_run_t *run, relabel_slot_t *s,
    relabel_state_e state);
static void relabel_slot_clear(relabel_run_t *run, relabel_slot_t *s);
static int relabel_parse_args(int argc, char **argv, relabel_conf_t *conf);
static int relabel_open_files(relabel_run_t *run);
static int relabel_lock_open(const char *path, const char *what,
    struct stat *st);
static void relabel_fill(relabel_run_t *run);
static void relabel_dispatch(relabel_run_t *run);
static int relabel_start(relabel_run_t *run, relabel_slot_t *s);
static size_t relabel_write_cb(char *p, size_t size, size_t n, void *data);
static size_t relabel_header_cb(char *p, size_t size, size_t n, void *data);
static void relabel_harvest(relabel_run_t *run);
static void relabel_done(relabel_run_t *run, CURL *e, CURLcode res);
static void relabel_fail(relabel_run_t *run, relabel_slot_t *s,
    const char *err, long status, int retryable, int endpoint);
static void relabel_reject(relabel_run_t *run, relabel_slot_t *s,
    const char *err, long status, relabel_kind_e kind);
static void relabel_cancel(relabel_run_t *run, relabel_slot_t *s);
static void relabel_check_signals(relabel_run_t *run);
static void relabel_stop(relabel_run_t *run, int level);
static void relabel_apply_stop(relabel_run_t *run);
static int relabel_suspect_writable(relabel_run_t *run, relabel_slot_t *s);
static void relabel_write_ready(relabel_run_t *run);
static int relabel_write_all(int fd, const char *p, size_t n);
static long relabel_poll_timeout(relabel_run_t *run);
static void relabel_progress(relabel_run_t *run, int force);
static void relabel_human(char *buf, size_t size, double v);
static int relabel_finish(relabel_run_t *run);


static void
relabel_signal_handler(int signo)
{
    int  saved;

    saved = errno;

    if (relabel_signals == 0) {
        relabel_signo = signo;
    }

    relabel_signals++;

    if (relabel_pipe[1] != -1) {
        (void) !write(relabel_pipe[1], "s", 1);
    }

    errno = saved;
}


static uint64_t
relabel_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static void
relabel_log(relabel_run_t *run, const char *fmt, ...)
{
    va_list  ap;

    if (run && run->bar_shown) {
        fputs("\r\033[K", stderr);
        run->bar_shown = 0;
    }

    fputs("moa-relabel: ", stderr);

    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);

    fputc('\n', stderr);
}


static void
relabel_set_state(relabel_run_t *run, relabel_slot_t *s,
    relabel_state_e state)
{
    run->count[s->state]--;
    run->count[state]++;
    s->state = state;
}


static void
relabel_slot_clear(relabel_run_t *run, relabel_slot_t *s)
{
    free(s->text);
    free(s->error);
    ngx_http_moa_buf_free(&s->req);
    ngx_http_moa_buf_free(&s->resp);
    ngx_http_moa_buf_free(&s->out);

    run->count[s->state]--;
    memset(s, 0, sizeof(relabel_slot_t));
    run->count[RELABEL_SLOT_FREE]++;
}


static int
relabel_parse_long(const char *arg, const char *name, long min, long max,
    long *v)
{
    char  *end;

    errno = 0;
    *v = strtol(arg, &end, 10);

    if (errno || end == arg || *end != '\0' || *v < min || *v > max) {
        fprintf(stderr, "moa-relabel: %s: expected a number from %ld to %ld, "
                "got \"%s\"\n", name, min, max, arg);
        return -1;
    }

    return 0;
}


static int
relabel_parse_secs(const char *arg, const char *name, long long *ms)
{
    char    *end;
    double   d;

    errno = 0;
    d = strtod(arg, &end);

    if (errno || end == arg || *end != '\0' || !(d >= 0) || d > 1e7) {
        fprintf(stderr, "moa-relabel: %s: expected seconds, got \"%s\"\n",
                name, arg);
        return -1;
    }

    *ms = (long long) (d * 1000 + 0.5);

    return 0;
}


enum {
    RELABEL_OPT_API_KEY = 256,
    RELABEL_OPT_CONNECT_TIMEOUT,
    RELABEL_OPT_BACKOFF,
    RELABEL_OPT_BACKOFF_MAX,
    RELABEL_OPT_RETRY_AFTER_MAX,
    RELABEL_OPT_REJECTS,
    RELABEL_OPT_MAX_CONSEC,
    RELABEL_OPT_LIMIT,
    RELABEL_OPT_OVERWRITE,
    RELABEL_OPT_PROGRESS
};


/* 0 ok, 1 done (help, version), -1 usage error */

static int
relabel_parse_args(int argc, char **argv, relabel_conf_t *conf)
{
    int                  c, have_auth;
    long                 v;
    size_t               n;
    char                *h;
    const char          *env;
    relabel_param_t     *params;
    struct curl_slist   *l, *u, *user;

    static const struct option  opts[] = {
        { "endpoint", required_argument, NULL, 'e' },
        { "model", required_argument, NULL, 'm' },
        { "concurrency", required_argument, NULL, 'c' },
        { "window", required_argument, NULL, 'w' },
        { "api-key", required_argument, NULL, RELABEL_OPT_API_KEY },
        { "header", required_argument, NULL, 'H' },
        { "param", required_argument, NULL, 'p' },
        { "retries", required_argument, NULL, 'r' },
        { "timeout", required_argument, NULL, 't' },
        { "connect-timeout", required_argument, NULL,
          RELABEL_OPT_CONNECT_TIMEOUT },
        { "backoff", required_argument, NULL, RELABEL_OPT_BACKOFF },
        { "backoff-max", required_argument, NULL, RELABEL_OPT_BACKOFF_MAX },
        { "retry-after-max", required_argument, NULL,
          RELABEL_OPT_RETRY_AFTER_MAX },
        { "rejects", required_argument, NULL, RELABEL_OPT_REJECTS },
        { "max-consecutive-failures", required_argument, NULL,
          RELABEL_OPT_MAX_CONSEC },
        { "limit", required_argument, NULL, RELABEL_OPT_LIMIT },
        { "overwrite", no_argument, NULL, RELABEL_OPT_OVERWRITE },
        { "insecure", no_argument, NULL, 'k' },
        { "progress-interval", required_argument, NULL, RELABEL_OPT_PROGRESS },
        { "quiet", no_argument, NULL, 'q' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };

    conf->endpoint = "http://127.0.0.1:8080/v1/chat/completions";
    conf->model = "moa-gpt-4o-v1";
    conf->concurrency = 8;
    conf->window = 0;
    conf->retries = 5;
    conf->max_consec = 10;
    conf->timeout_ms = 600000;
    conf->connect_timeout_ms = 10000;
    conf->backoff_ms = 1000;
    conf->backoff_max_ms = 60000;
    conf->retry_after_max_ms = 300000;
    conf->progress_ms = 5000;

    user = NULL;

    while ((c = getopt_long(argc, argv, "e:m:c:w:H:p:r:t:kqvhV", opts, NULL))
           != -1)
    {
        switch (c) {

        case 'e':
            conf->endpoint = optarg;
            break;

        case 'm':
            conf->model = optarg;
            break;

        case 'c':
            if (relabel_parse_long(optarg, "--concurrency", 1, 4096,
                                   &conf->concurrency) != 0)
            {
                return -1;
            }
            break;

        case 'w':
            if (relabel_parse_long(optarg, "--window", 1, 1 << 20,
                                   &conf->window) != 0)
            {
                return -1;
            }
            break;

        case RELABEL_OPT_API_KEY:
            conf->api_key = optarg;
            break;

        case 'H':
            if (strchr(optarg, ':') == NULL) {
                fprintf(stderr, "moa-relabel: --header: expected "
                        "'Name: value', got \"%s\"\n", optarg);
                return -1;
            }
            l = curl_slist_append(user, optarg);
            if (l == NULL) {
                return -1;
            }
            user = l;
            break;

        case 'p':
            params = realloc(conf->params,
                             (conf->nparams + 1) * sizeof(relabel_param_t));
            if (params == NULL) {
                return -1;
            }
            conf->params = params;

            if (relabel_param_parse(optarg, &params[conf->nparams]) != 0) {
                fprintf(stderr, "moa-relabel: --param: expected KEY=VALUE, "
                        "got \"%s\"\n", optarg);
                return -1;
            }

            conf->nparams++;

            if (strcmp(params[conf->nparams - 1].key, "model") == 0
                || strcmp(params[conf->nparams - 1].key, "messages") == 0)
            {
                fprintf(stderr, "moa-relabel: --param: use --model, and "
                        "messages come from the records\n");
                return -1;
            }
            break;

        case 'r':
            if (relabel_parse_long(optarg, "--retries", 0, 1000,
                                   &conf->retries) != 0)
            {
                return -1;
            }
            break;

        case 't':
            if (relabel_parse_secs(optarg, "--timeout", &conf->timeout_ms)
                != 0)
            {
                return -1;
            }
            break;

        case RELABEL_OPT_CONNECT_TIMEOUT:
            if (relabel_parse_secs(optarg, "--connect-timeout",
                                   &conf->connect_timeout_ms) != 0)
            {
                return -1;
            }
            break;

        case RELABEL_OPT_BACKOFF:
            if (relabel_parse_secs(optarg, "--backoff", &conf->backoff_ms)
                != 0)
            {
                return -1;
            }
            break;

        case RELABEL_OPT_BACKOFF_MAX:
            if (relabel_parse_secs(optarg, "--backoff-max",
                                   &conf->backoff_max_ms) != 0)
            {
                return -1;
            }
            break;

        case RELABEL_OPT_RETRY_AFTER_MAX:
            if (relabel_parse_secs(optarg, "--retry-after-max",
                                   &conf->retry_after_max_ms) != 0)
            {
                return -1;
            }
            break;

        case RELABEL_OPT_REJECTS:
            free(conf->rejects_path);
            conf->rejects_path = strdup(optarg);
            if (conf->rejects_path == NULL) {
                return -1;
            }
            break;

        case RELABEL_OPT_MAX_CONSEC:
            if (relabel_parse_long(optarg, "--max-consecutive-failures", 0,
                                   1 << 30, &conf->max_consec) != 0)
            {
                return -1;
            }
            break;

        case RELABEL_OPT_LIMIT:
            if (relabel_parse_long(optarg, "--limit", 1, LONG_MAX, &v) != 0) {
                return -1;
            }
            conf->limit = (unsigned long) v;
            break;

        case RELABEL_OPT_OVERWRITE:
            conf->overwrite = 1;
            break;

        case 'k':
            conf->insecure = 1;
            break;

        case RELABEL_OPT_PROGRESS:
            if (relabel_parse_secs(optarg, "--progress-interval",
                                   &conf->progress_ms) != 0)
            {
                return -1;
            }
            if (conf->progress_ms < 100) {
                conf->progress_ms = 100;
            }
            break;

        case 'q':
            conf->quiet = 1;
            break;

        case 'v':
            conf->verbose = 1;
            break;

        case 'h':
            fputs(relabel_usage, stdout);
            curl_slist_free_all(user);
            return 1;

        case 'V':
            printf("moa-relabel %s (%s)\n", RELABEL_VERSION, curl_version());
            curl_slist_free_all(user);
            return 1;

        default:
            fprintf(stderr, "Try 'moa-relabel --help'.\n");
            curl_slist_free_all(user);
            return -1;
        }
    }

    if (argc - optind != 2) {
        fprintf(stderr, "moa-relabel: expected IN.jsonl OUT.jsonl\n"
                "Try 'moa-relabel --help'.\n");
        curl_slist_free_all(user);
        return -1;
    }

    conf->in_path = argv[optind];
    conf->out_path = argv[optind + 1];

    if (conf->window == 0) {
        conf->window = conf->concurrency * 8 < 64 ? 64
                                                  : conf->concurrency * 8;
    }

    if (conf->window < conf->concurrency) {
        conf->window = conf->concurrency;
    }

    if (conf->backoff_max_ms < conf->backoff_ms) {
        conf->backoff_max_ms = conf->backoff_ms;
    }

    if (conf->rejects_path == NULL) {
        n = strlen(conf->out_path);
        if (n > 6 && strcmp(conf->out_path + n - 6, ".jsonl") == 0) {
            n -= 6;
        }

        conf->rejects_path = malloc(n + sizeof(".rejects.jsonl"));
        if (conf->rejects_path == NULL) {
            curl_slist_free_all(user);
            return -1;
        }

        memcpy(conf->rejects_path, conf->out_path, n);
        memcpy(conf->rejects_path + n, ".rejects.jsonl",
               sizeof(".rejects.jsonl"));
    }

    if (conf->api_key == NULL) {
        env = getenv("OPENAI_API_KEY");
        if (env && *env) {
            conf->api_key = env;
        }
    }

    /* request headers: ours first, then the user's */

    have_auth = 0;
    for (l = user; l; l = l->next) {
        if (strncasecmp(l->data, "authorization:", 14) == 0) {
            have_auth = 1;
        }
    }

    l = curl_slist_append(NULL, "Content-Type: application/json");
    if (l) {
        conf->headers = l;
        l = curl_slist_append(conf->headers, "Accept: application/json");
    }
    if (l) {
        /* no "Expect: 100-continue" round trip before each body */
        l = curl_slist_append(conf->headers, "Expect:");
    }

    if (l && conf->api_key && !have_auth) {
        n = strlen(conf->api_key) + sizeof("Authorization: Bearer ");
        h = malloc(n);
        if (h == NULL) {
            curl_slist_free_all(user);
            return -1;
        }
        snprintf(h, n, "Authorization: Bearer %s", conf->api_key);
        l = curl_slist_append(conf->headers, h);
        free(h);
    }

    for (u = user; u && l; u = u->next) {
        l = curl_slist_append(conf->headers, u->data);
    }

    curl_slist_free_all(user);

    if (l == NULL) {
        return -1;
    }

    return 0;
}


/* opens and locks OUT or the rejects file; -1 after saying why */

static int
relabel_lock_open(const char *path, const char *what, struct stat *st)
{
    int  fd;

    fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd == -1) {
        relabel_log(NULL, "cannot open %s %s: %s", what, path,
                    strerror(errno));
        return -1;
    }

    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        relabel_log(NULL, "%s %s is in use by another process (%s)", what,
                    path, strerror(errno));
        close(fd);
        return -1;
    }

    if (fstat(fd, st) != 0) {
        relabel_log(NULL, "cannot stat %s %s: %s", what, path,
                    strerror(errno));
        close(fd);
        return -1;
    }

    if (!S_ISREG(st->st_mode)) {
        /* resuming needs to read it back, and to cut a torn line off */
        relabel_log(NULL, "%s %s must be a regular file", what, path);
        close(fd);
        return -1;
    }

    return fd;
}


static int
relabel_open_files(relabel_run_t *run)
{
    int              rc;
    FILE            *of, *rf;
    off_t            cut;
    char             err[RELABEL_ERRLEN];
    struct stat      ist, ost, rst;
    relabel_conf_t  *conf;

    conf = run->conf;

    run->in = fopen(conf->in_path, "r");
    if (run->in == NULL) {
        relabel_log(NULL, "cannot open IN %s: %s", conf->in_path,
                    strerror(errno));
        return -1;
    }

    if (fstat(fileno(run->in), &ist) != 0 || !S_ISREG(ist.st_mode)) {
        relabel_log(NULL, "IN %s must be a regular file (it is read twice, "
                    "and seeked on resume)", conf->in_path);
        return -1;
    }

    run->out_fd = relabel_lock_open(conf->out_path, "OUT", &ost);
    if (run->out_fd == -1) {
        return -1;
    }

    if (ost.st_dev == ist.st_dev && ost.st_ino == ist.st_ino) {
        relabel_log(NULL, "OUT is the same file as IN");
        return -1;
    }

    run->rej_fd = relabel_lock_open(conf->rejects_path, "rejects file",
                                    &rst);
    if (run->rej_fd == -1) {
        return -1;
    }

    if ((rst.st_dev == ist.st_dev && rst.st_ino == ist.st_ino)
        || (rst.st_dev == ost.st_dev && rst.st_ino == ost.st_ino))
    {
        relabel_log(NULL, "the rejects file must differ from IN and OUT");
        return -1;
    }

    if (conf->overwrite
        && (ftruncate(run->out_fd, 0) != 0
            || ftruncate(run->rej_fd, 0) != 0))
    {
        relabel_log(NULL, "cannot empty OUT or the rejects file: %s",
                    strerror(errno));
        return -1;
    }

    if (relabel_cut_torn(run->out_fd, &cut) != 0) {
        relabel_log(NULL, "cannot check OUT's last line: %s",
                    strerror(errno));
        return -1;
    }

    if (cut) {
        relabel_log(NULL, "cut a torn last line (%lld bytes) off %s",
                    (long long) cut, conf->out_path);
    }

    if (relabel_cut_torn(run->rej_fd, &cut) != 0) {
        relabel_log(NULL, "cannot check the rejects file's last line: %s",
                    strerror(errno));
        return -1;
    }

    if (cut) {
        relabel_log(NULL, "cut a torn last line (%lld bytes) off %s",
                    (long long) cut, conf->rejects_path);
    }

    of = fopen(conf->out_path, "r");
    rf = fopen(conf->rejects_path, "r");

    if (of == NULL || rf == NULL) {
        relabel_log(NULL, "cannot read back OUT or the rejects file: %s",
                    strerror(errno));
        if (of) {
            fclose(of);
        }
        if (rf) {
            fclose(rf);
        }
        return -1;
    }

    rc = relabel_resume_scan(run->in, of, rf, &run->resume, err,
                             sizeof(err));
    fclose(of);
    fclose(rf);

    if (rc != 0) {
        relabel_log(NULL, "cannot resume: %s (use --overwrite to start "
                    "again, or another OUT)", err);
        return -1;
    }

    if (fseeko(run->in, run->resume.offset, SEEK_SET) != 0) {
        relabel_log(NULL, "cannot seek IN: %s", strerror(errno));
        return -1;
    }

    run->lineno = run->resume.covered;
    run->covered = run->resume.covered;

    if (relabel_count_lines(fileno(run->in), &run->total_lines) != 0) {
        relabel_log(NULL, "cannot read IN: %s", strerror(errno));
        return -1;
    }

    if (conf->limit && conf->limit < run->total_lines) {
        run->total_lines = conf->limit;
    }

    return 0;
}


/* reads rows into free slots; a row needing no request is done at once */

static void
relabel_fill(relabel_run_t *run)
{
    int              rc;
    const char      *why;
    relabel_slot_t  *s;
    relabel_conf_t  *conf;

    conf = run->conf;

    while (!run->in_eof && run->tail - run->head < run->nslots) {

        if (conf->limit && run->lineno >= conf->limit) {
            run->in_eof = 1;
            break;
        }

        rc = relabel_read_line(run->in, &run->line, run->lineno + 1);

        if (rc == 0) {
            run->in_eof = 1;
            break;
        }

        if (rc < 0) {
            relabel_log(run, "reading IN: %s", strerror(errno));
            run->fatal = 1;
            return;
        }

        run->lineno++;

        s = &run->slots[run->tail % run->nslots];
        run->tail++;
        s->line = run->lineno;

        if (run->line.blank) {
            s->kind = RELABEL_KIND_BLANK;
            relabel_set_state(run, s, RELABEL_SLOT_DONE);
            continue;
        }

        /* the slot takes over getline()'s buffer */

        s->text = run->line.data;
        s->len = run->line.len;
        run->line.data = NULL;
        run->line.cap = 0;

        why = relabel_record_split(s->text, s->len, &s->rec);

        if (why) {
            relabel_set_state(run, s, RELABEL_SLOT_QUEUED);
            relabel_reject(run, s, why, 0, RELABEL_KIND_REJECT);
            continue;
        }

        relabel_set_state(run, s, RELABEL_SLOT_QUEUED);
    }
}


/* starts queued rows and retries that are due, oldest first */

static void
relabel_dispatch(relabel_run_t *run)
{
    uint64_t         now;
    unsigned long    seq;
    relabel_slot_t  *s;

    if (run->count[RELABEL_SLOT_QUEUED] == 0
        && run->count[RELABEL_SLOT_WAITING] == 0)
    {
        return;
    }

    now = relabel_now_ms();

    if (now < run->pause_until) {
        return;
    }

    for (seq = run->head;
         seq < run->tail
         && run->count[RELABEL_SLOT_RUNNING] < run->conf->concurrency;
         seq++)
    {
        s = &run->slots[seq % run->nslots];

        if (s->state == RELABEL_SLOT_QUEUED
            || (s->state == RELABEL_SLOT_WAITING && s->due <= now))
        {
            if (relabel_start(run, s) != 0) {
                relabel_log(run, "cannot start a request: out of memory");
                run->fatal = 1;
                return;
            }
        }
    }
}


static int
relabel_start(relabel_run_t *run, relabel_slot_t *s)
{
    CURL            *e;
    relabel_conf_t  *conf;

    conf = run->conf;

    if (s->req.len == 0
        && relabel_request_build(&s->req, s->text, &s->rec, conf->model,
                                 conf->params, conf->nparams) != 0)
    {
        return -1;
    }

    e = curl_easy_init();
    if (e == NULL) {
        return -1;
    }

    s->resp.len = 0;
    s->too_large = 0;
    s->retry_after[0] = '\0';
    s->retry_after_ms[0] = '\0';
    s->should_retry[0] = '\0';
    s->request_id[0] = '\0';
    s->errbuf[0] = '\0';

    curl_easy_setopt(e, CURLOPT_URL, conf->endpoint);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, s->req.data);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) s->req.len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, conf->headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "moa-relabel/" RELABEL_VERSION);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, relabel_write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, relabel_header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(e, CURLOPT_PRIVATE, s);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) conf->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long) conf->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);

    if (conf->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }

    if (curl_multi_add_handle(run->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        return -1;
    }

    s->easy = e;
    s->attempts++;
    run->requests++;
    relabel_set_state(run, s, RELABEL_SLOT_RUNNING);

    return 0;
}


static size_t
relabel_write_cb(char *p, size_t size, size_t n, void *data)
{
    relabel_slot_t  *s = data;

    n *= size;

    if (s->resp.len + n > RELABEL_MAX_RESPONSE) {
        s->too_large = 1;
        return 0;
    }

    ngx_http_moa_buf_add(&s->resp, p, n);

    if (s->resp.nomem) {
        return 0;
    }

    return n;
}


static void
relabel_header_copy(char *dst, size_t size, const char *v, size_t n)
{
    if (n >= size) {
        n = size - 1;
    }

    memcpy(dst, v, n);
    dst[n] = '\0';
}


static size_t
relabel_header_cb(char *p, size_t size, size_t n, void *data)
{
    char            *colon, *v;
    size_t           len, name, vlen;
    relabel_slot_t  *s = data;

    len = size * n;

    if (len >= 5 && strncasecmp(p, "HTTP/", 5) == 0) {
        /* a new response (after a 100 Continue, say): forget the last */
        s->retry_after[0] = '\0';
        s->retry_after_ms[0] = '\0';
        s->should_retry[0] = '\0';
        s->request_id[0] = '\0';
        return len;
    }

    colon = memchr(p, ':', len);
    if (colon == NULL) {
        return len;
    }

    name = colon - p;
    v = colon + 1;
    vlen = len - name - 1;

    while (vlen && (*v == ' ' || *v == '\t')) {
        v++;
        vlen--;
    }

    while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n'
                    || v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
    {
        vlen--;
    }

    if (name == 11 && strncasecmp(p, "retry-after", 11) == 0) {
        relabel_header_copy(s->retry_after, sizeof(s->retry_after), v, vlen);

    } else if (name == 14 && strncasecmp(p, "retry-after-ms", 14) == 0) {
        relabel_header_copy(s->retry_after_ms, sizeof(s->retry_after_ms), v,
                            vlen);

    } else if (name == 14 && strncasecmp(p, "x-should-retry", 14) == 0) {
        relabel_header_copy(s->should_retry, sizeof(s->should_retry), v,
                            vlen);

    } else if (name == 12 && strncasecmp(p, "x-request-id", 12) == 0) {
        relabel_header_copy(s->request_id, sizeof(s->request_id), v, vlen);
    }

    return len;
}


static void
relabel_harvest(relabel_run_t *run)
{
    int       left;
    CURLMsg  *msg;

    while ((msg = curl_multi_info_read(run->multi, &left)) != NULL) {
        if (msg->msg == CURLMSG_DONE) {
            relabel_done(run, msg->easy_handle, msg->data.result);
        }
    }
}


static void
relabel_done(relabel_run_t *run, CURL *e, CURLcode res)
{
    int                retryable, endpoint;
    long               status;
    char               err[RELABEL_ERRLEN], text[300], *priv;
    relabel_slot_t    *s;
    relabel_answer_t   a;

    priv = NULL;
    status = 0;

    curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
    s = (relabel_slot_t *) priv;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(run->multi, e);
    curl_easy_cleanup(e);

    s->easy = NULL;

    if (res != CURLE_OK) {
        if (s->too_large) {
            relabel_fail(run, s, "the reply is larger than 64 MiB", status,
                         0, 0);
            return;
        }

        snprintf(err, sizeof(err), "%s%s%s", curl_easy_strerror(res),
                 s->errbuf[0] ? ": " : "", s->errbuf);

        /* timeouts, refused or dropped connections: all worth a retry */
        relabel_fail(run, s, err, 0, 1, 1);
        return;
    }

    if (status >= 200 && status <= 299) {
        if (relabel_answer_parse(s->resp.data ? s->resp.data : "",
                                 s->resp.len, &a, text, sizeof(text)) != 0)
        {
            snprintf(err, sizeof(err), "HTTP %ld: %s", status, text);
            relabel_fail(run, s, err, status, 1, 1);
            return;
        }

        run->successes++;
        run->consec = 0;
        run->prompt_tokens += a.prompt_tokens;
        run->completion_tokens += a.completion_tokens;

        if (strcmp(a.finish_reason, "length") == 0) {
            run->truncated++;
        }

        if (relabel_output_build(&s->out, s->text, s->len, &s->rec,
                                 a.message, a.message_len) != 0)
        {
            relabel_answer_free(&a);
            relabel_log(run, "out of memory");
            run->fatal = 1;
            return;
        }

        relabel_answer_free(&a);

        free(s->text);
        s->text = NULL;
        ngx_http_moa_buf_free(&s->req);
        ngx_http_moa_buf_free(&s->resp);

        s->kind = RELABEL_KIND_OUT;
        relabel_set_state(run, s, RELABEL_SLOT_DONE);

        return;
    }

    relabel_error_text(s->resp.data ? s->resp.data : "", s->resp.len, text,
                       sizeof(text));

    snprintf(err, sizeof(err), "HTTP %ld%s%s%s%s%s", status,
             text[0] ? ": " : "", text,
             s->request_id[0] ? " (request id " : "", s->request_id,
             s->request_id[0] ? ")" : "");

    retryable = relabel_status_retryable(status);

    /* auth, wrong URL or model, redirects: the endpoint's fault */
    endpoint = retryable || status < 400 || status == 401 || status == 403
               || status == 404 || status == 405 || status == 407;

    if (strcasecmp(s->should_retry, "true") == 0) {
        retryable = 1;

    } else if (strcasecmp(s->should_retry, "false") == 0) {
        retryable = 0;
    }

    relabel_fail(run, s, err, status, retryable, endpoint);
}


static void
relabel_fail(relabel_run_t *run, relabel_slot_t *s, const char *err,
    long status, int retryable, int endpoint)
{
    long long        delay, ra, cap;
    unsigned         i;
    const char      *why;
    relabel_conf_t  *conf;

    conf = run->conf;
    run->failures++;

    ngx_http_moa_buf_free(&s->resp);

    if (retryable && run->stopping) {
        /* not a verdict on the row: a resumed run will try it again */
        relabel_set_state(run, s, RELABEL_SLOT_ABANDONED);
        return;
    }

    if (retryable && s->attempts <= (unsigned) conf->retries) {
        ra = relabel_retry_after_ms(s->retry_after_ms,
                                    s->retry_after[0] ? s->retry_after : NULL,
                                    time(NULL));

        if (ra >= 0) {
            if (ra > conf->retry_after_max_ms) {
                ra = conf->retry_after_max_ms;
            }

            /*
             * Rate limits are per client: what the server asks for holds
             * for every request, so nothing new starts before then.  The
             * row itself waits a little longer, with jitter, so that rows
             * told the same thing do not all come back at once.
             */

            if (relabel_now_ms() + ra > run->pause_until) {
                run->pause_until = relabel_now_ms() + ra;

                if (conf->verbose) {
                    relabel_log(run, "pausing new requests for %lld ms "
                                "(Retry-After)", ra);
                }
            }

            delay = ra + random() % (ra / 10 + 1);
            why = "Retry-After";

        } else {
            cap = conf->backoff_max_ms;
            delay = conf->backoff_ms;

            for (i = 1; i < s->attempts && delay < cap; i++) {
                delay *= 2;
            }

            if (delay > cap) {
                delay = cap;
            }

            delay = delay / 2 + random() % (delay / 2 + 1);
            why = "backoff";
        }

        s->due = relabel_now_ms() + (uint64_t) delay;
        run->retries++;
        relabel_set_state(run, s, RELABEL_SLOT_WAITING);

        if (conf->verbose) {
            relabel_log(run, "line %lu: %s (attempt %u of %ld); retrying in "
                        "%lld ms (%s)", s->line, err, s->attempts,
                        conf->retries + 1, delay, why);
        }

        return;
    }

    if (!endpoint) {
        /* the endpoint gave a verdict on this row: it is up */
        run->successes++;
        run->consec = 0;
        relabel_reject(run, s, err, status, RELABEL_KIND_REJECT);
        return;
    }

    run->consec++;

    if (conf->max_consec && run->consec >= conf->max_consec) {
        relabel_set_state(run, s, RELABEL_SLOT_ABANDONED);

        if (!run->unhealthy) {
            run->unhealthy = 1;
            relabel_log(run, "line %lu: %s; %ld rows in a row failed that "
                        "way: stopping (rows that failed like this are "
                        "left for the resumed run, not rejected)", s->line,
                        err, run->consec);
            relabel_stop(run, 1);
        }

        return;
    }

    relabel_reject(run, s, err, status, RELABEL_KIND_SUSPECT);
}


static void
relabel_reject(relabel_run_t *run, relabel_slot_t *s, const char *err,
    long status, relabel_kind_e kind)
{
    if (relabel_reject_build(&s->out, s->line, err, status, s->attempts,
                             s->text, s->len) != 0)
    {
        relabel_log(run, "out of memory");
        run->fatal = 1;
        return;
    }

    s->error = strdup(err);
    if (s->error == NULL) {
        relabel_log(run, "out of memory");
        run->fatal = 1;
        return;
    }

    free(s->text);
    s->text = NULL;
    ngx_http_moa_buf_free(&s->req);
    ngx_http_moa_buf_free(&s->resp);

    s->kind = kind;
    s->success_mark = run->successes;
    relabel_set_state(run, s, RELABEL_SLOT_DONE);
}


static void
relabel_cancel(relabel_run_t *run, relabel_slot_t *s)
{
    curl_multi_remove_handle(run->multi, s->easy);
    curl_easy_cleanup(s->easy);
    s->easy = NULL;
    relabel_set_state(run, s, RELABEL_SLOT_ABANDONED);
}


static void
relabel_check_signals(relabel_run_t *run)
{
    char  buf[64];
    int   n;

    while (read(relabel_pipe[0], buf, sizeof(buf)) > 0) {
        /* drained */
    }

    n = relabel_signals;

    if (n == run->signals_seen) {
        return;
    }

    run->signals_seen = n;

    if (run->stop_signal == 0) {
        run->stop_signal = relabel_signo;
    }

    relabel_stop(run, n >= 2 ? 2 : 1);
}


static void
relabel_stop(relabel_run_t *run, int level)
{
    if (level <= run->stopping) {
        return;
    }

    run->stopping = level;

    if (run->stop_signal == 0) {
        return;
    }

    if (level == 1) {
        relabel_log(run, "%s: no new requests; finishing the ones in flight "
                    "(again to abandon them)", strsignal(run->stop_signal));

    } else {
        relabel_log(run, "%s again: abandoning the requests in flight",
                    strsignal(run->stop_signal));
    }
}


/*
 * Stopping: rows not started, waiting for a retry, or held as suspect
 * rejects are left for the resumed run.  Nothing after the first such row
 * can be written, so its in-flight requests are abandoned too; requests
 * before it are waited for (at level 2 abandoned as well).
 */

static void
relabel_apply_stop(relabel_run_t *run)
{
    int              cut;
    unsigned long    seq;
    relabel_slot_t  *s;

    cut = 0;

    for (seq = run->head; seq < run->tail; seq++) {
        s = &run->slots[seq % run->nslots];

        switch (s->state) {

        case RELABEL_SLOT_QUEUED:
        case RELABEL_SLOT_WAITING:
            relabel_set_state(run, s, RELABEL_SLOT_ABANDONED);
            break;

        case RELABEL_SLOT_DONE:
            if (s->kind == RELABEL_KIND_SUSPECT
                && run->successes <= s->success_mark)
            {
                relabel_set_state(run, s, RELABEL_SLOT_ABANDONED);
            }
            break;

        case RELABEL_SLOT_RUNNING:
            if (cut || run->stopping >= 2) {
                relabel_cancel(run, s);
            }
            break;

        default:
            break;
        }

        if (s->state == RELABEL_SLOT_ABANDONED) {
            cut = 1;
        }
    }
}


/*
 * A reject the endpoint may be to blame for is written once a later reply
 * shows the endpoint working, or when nothing else can happen before it.
 * Until then it is held, so that a run stopped by
 * --max-consecutive-failures leaves those rows to the resumed run.
 */

static int
relabel_suspect_writable(relabel_run_t *run, relabel_slot_t *s)
{
    if (run->conf->max_consec == 0 || run->successes > s->success_mark) {
        return 1;
    }

    return run->count[RELABEL_SLOT_RUNNING] == 0
           && run->count[RELABEL_SLOT_WAITING] == 0
           && run->count[RELABEL_SLOT_QUEUED] == 0
           && !run->stopping
           && (run->in_eof || run->tail - run->head >= run->nslots);
}


static int
relabel_write_all(int fd, const char *p, size_t n)
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


/* writes finished rows in input order, each line with one write() */

static void
relabel_write_ready(relabel_run_t *run)
{
    int              fd;
    const char      *what;
    relabel_slot_t  *s;

    while (run->head < run->tail && !run->fatal) {
        s = &run->slots[run->head % run->nslots];

        if (s->state != RELABEL_SLOT_DONE) {
            break;
        }

        if (s->kind == RELABEL_KIND_SUSPECT
            && !relabel_suspect_writable(run, s))
        {
            break;
        }

        if (s->kind == RELABEL_KIND_BLANK) {
            run->blank++;

        } else {
            fd = s->kind == RELABEL_KIND_OUT ? run->out_fd : run->rej_fd;
            what = s->kind == RELABEL_KIND_OUT ? "OUT" : "the rejects file";

            if (relabel_write_all(fd, s->out.data, s->out.len) != 0) {
                relabel_log(run, "writing %s: %s", what, strerror(errno));
                run->fatal = 1;
                return;
            }

            if (s->kind == RELABEL_KIND_OUT) {
                run->written++;

            } else {
                run->rejected++;

                if (!run->conf->quiet) {
                    if (s->attempts == 0) {
                        relabel_log(run, "line %lu: rejected: %s", s->line,
                                    s->error);
                    } else {
                        relabel_log(run, "line %lu: rejected after %u "
                                    "attempt%s: %s", s->line, s->attempts,
                                    s->attempts == 1 ? "" : "s", s->error);
                    }
                }
            }
        }

        run->covered = s->line;
        relabel_slot_clear(run, s);
        run->head++;
    }
}


static long
relabel_poll_timeout(relabel_run_t *run)
{
    long             t;
    uint64_t         now;
    unsigned long    seq;
    relabel_slot_t  *s;

    t = run->tty ? RELABEL_TICK_MS : 1000;

    if (run->stopping) {
        return t;
    }

    now = relabel_now_ms();

    if (now < run->pause_until) {
        return (long) (run->pause_until - now) < t
               ? (long) (run->pause_until - now) : t;
    }

    /* with every slot busy, only a finished request can let a retry go */

    if (run->count[RELABEL_SLOT_WAITING] == 0
        || run->count[RELABEL_SLOT_RUNNING] >= run->conf->concurrency)
    {
        return t;
    }

    for (seq = run->head; seq < run->tail; seq++) {
        s = &run->slots[seq % run->nslots];

        if (s->state == RELABEL_SLOT_WAITING) {
            if (s->due <= now) {
                return 0;
            }
            if ((long) (s->due - now) < t) {
                t = (long) (s->due - now);
            }
        }
    }

    return t;
}


static void
relabel_human(char *buf, size_t size, double v)
{
    if (v >= 1e9) {
        snprintf(buf, size, "%.2fG", v / 1e9);
    } else if (v >= 1e7) {
        snprintf(buf, size, "%.1fM", v / 1e6);
    } else if (v >= 1e6) {
        snprintf(buf, size, "%.2fM", v / 1e6);
    } else if (v >= 1e5) {
        snprintf(buf, size, "%.0fk", v / 1e3);
    } else if (v >= 1e4) {
        snprintf(buf, size, "%.1fk", v / 1e3);
    } else {
        snprintf(buf, size, "%.0f", v);
    }
}


static void
relabel_progress(relabel_run_t *run, int force)
{
    int              width, barw, fill, i, len;
    char             line[512], bar[64], tok[32], eta[32];
    double           secs, rate, pct;
    uint64_t         now;
    unsigned long    done, total, left, t;
    const char      *paused;
    struct winsize   ws;

    if (run->conf->quiet) {
        return;
    }

    now = relabel_now_ms();

    if (!force
        && now - run->last_progress_ms
           < (uint64_t) (run->tty ? RELABEL_TICK_MS : run->conf->progress_ms))
    {
        return;
    }

    run->last_progress_ms = now;

    secs = (now - run->start_ms) / 1000.0;
    done = run->covered;
    total = run->total_lines > done ? run->total_lines : done;
    rate = secs > 0 ? (done - run->resume.covered) / secs : 0;
    pct = total ? 100.0 * done / total : 100.0;
    left = total - done;
    paused = now < run->pause_until ? " (paused: Retry-After)" : "";

    if (rate > 0) {
        t = (unsigned long) (left / rate);
        if (t >= 3600) {
            snprintf(eta, sizeof(eta), "%lu:%02lu:%02lu", t / 3600,
                     t / 60 % 60, t % 60);
        } else {
            snprintf(eta, sizeof(eta), "%lu:%02lu", t / 60, t % 60);
        }

    } else {
        snprintf(eta, sizeof(eta), "-");
    }

    relabel_human(tok, sizeof(tok),
                  (double) (run->prompt_tokens + run->completion_tokens));

    if (!run->tty) {
        fprintf(stderr, "moa-relabel: %lu/%lu rows (%.1f%%), %.1f rows/s, "
                "ETA %s, tokens %s, in flight %ld, rejected %lu, failed "
                "tries %lu, retries %lu%s\n", done, total, pct, rate, eta,
                tok, run->count[RELABEL_SLOT_RUNNING],
                run->resume.reject_rows + run->rejected, run->failures,
                run->retries, paused);
        return;
    }

    len = snprintf(line, sizeof(line), " %lu/%lu %.0f%% %.*f/s %s%s tok %s "
                   "fail %lu retry %lu rej %lu", done, total, pct,
                   rate < 10 ? 1 : 0, rate, paused[0] ? "" : "ETA ",
                   paused[0] ? "paused" : eta, tok, run->failures,
                   run->retries, run->resume.reject_rows + run->rejected);

    width = 80;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        width = ws.ws_col;
    }

    /*
     * The bar's width depends on the terminal only, so it does not jump
     * as the numbers grow; the text is cut to what is left.
     */

    barw = width - 3 - 62;
    barw = barw > 40 ? 40 : barw < 10 ? 10 : barw;

    if (barw + 2 + 20 > width - 1) {
        barw = 0;
    }

    bar[0] = '\0';

    if (barw) {
        fill = (int) (barw * (total ? (double) done / total : 1.0));
        bar[0] = '[';
        for (i = 0; i < barw; i++) {
            bar[i + 1] = i < fill ? '#' : '.';
        }
        bar[barw + 1] = ']';
        bar[barw + 2] = '\0';
    }

    len = width - 1 - (int) strlen(bar);

    fprintf(stderr, "\r%s%.*s\033[K", bar, len > 0 ? len : 0, line);
    run->bar_shown = 1;
}


/* summary, count check and exit status */

static int
relabel_finish(relabel_run_t *run)
{
    int              rc;
    double           secs;
    unsigned long    out_lines, rej_lines, blank, rows;
    struct stat      st;
    relabel_conf_t  *conf;

    conf = run->conf;

    if (run->bar_shown) {
        relabel_progress(run, 1);
        fputc('\n', stderr);
        run->bar_shown = 0;
    }

    if (fdatasync(run->out_fd) != 0 || fdatasync(run->rej_fd) != 0) {
        relabel_log(run, "syncing OUT or the rejects file: %s",
                    strerror(errno));
        run->fatal = 1;
    }

    secs = (relabel_now_ms() - run->start_ms) / 1000.0;
    rows = run->covered - run->resume.covered;

    relabel_log(run, "%s: this run %lu rows in %.1f s (%.1f rows/s): %lu "
                "written, %lu rejected, %lu blank; %lu requests, %lu failed, "
                "%lu retries; tokens %lld prompt + %lld completion = %lld%s",
                run->fatal ? "failed"
                : run->stopping ? "stopped" : "done",
                rows, secs, secs > 0 ? rows / secs : 0.0, run->written,
                run->rejected, run->blank, run->requests, run->failures,
                run->retries, run->prompt_tokens, run->completion_tokens,
                run->prompt_tokens + run->completion_tokens,
                run->truncated ? "; some answers hit the length limit" : "");

    if (run->truncated) {
        relabel_log(run, "%lu answers have finish_reason \"length\"",
                    run->truncated);
    }

    /* count what is in the files, not what was meant to be written */

    if (relabel_count_lines(run->out_fd, &out_lines) != 0
        || relabel_count_lines(run->rej_fd, &rej_lines) != 0)
    {
        relabel_log(run, "cannot re-read OUT or the rejects file: %s",
                    strerror(errno));
        return RELABEL_EXIT_FATAL;
    }

    blank = run->resume.blank_rows + run->blank;

    if (out_lines + rej_lines + blank == run->covered) {
        relabel_log(run, "check: IN lines 1-%lu: %lu in OUT + %lu rejected "
                    "+ %lu blank = %lu: ok", run->covered, out_lines,
                    rej_lines, blank, run->covered);
        rc = RELABEL_EXIT_OK;

    } else {
        relabel_log(run, "check FAILED: IN lines 1-%lu, but %lu in OUT + %lu "
                    "rejected + %lu blank = %lu", run->covered, out_lines,
                    rej_lines, blank, out_lines + rej_lines + blank);
        rc = RELABEL_EXIT_CHECK;
    }

    if (!run->stopping && !run->fatal && run->covered != run->total_lines) {
        relabel_log(run, "warning: IN had %lu lines at the start and %lu now: "
                    "did it change during the run?", run->total_lines,
                    run->covered);
    }

    if (rej_lines == 0 && fstat(run->rej_fd, &st) == 0 && st.st_size == 0
        && S_ISREG(st.st_mode))
    {
        /* no rejects: leave no empty file behind */
        (void) unlink(conf->rejects_path);

    } else if (rej_lines) {
        relabel_log(run, "%lu rows are in the rejects file %s", rej_lines,
                    conf->rejects_path);
    }

    if (run->fatal) {
        return RELABEL_EXIT_FATAL;
    }

    if (rc != RELABEL_EXIT_OK) {
        return rc;
    }

    if (run->stopping) {
        relabel_log(run, "stopped after line %lu; re-run the same command "
                    "(without --overwrite) to resume at line %lu",
                    run->covered, run->covered + 1);

        if (run->stop_signal) {
            return 128 + run->stop_signal;
        }

        return RELABEL_EXIT_UNHEALTHY;
    }

    if (conf->limit && run->covered >= conf->limit) {
        relabel_log(run, "stopped at --limit %lu", conf->limit);
    }

    return rej_lines ? RELABEL_EXIT_REJECTS : RELABEL_EXIT_OK;
}


int
main(int argc, char **argv)
{
    int                 rc, i;
    unsigned long       seq;
    CURLU              *url;
    relabel_run_t       run;
    relabel_conf_t      conf;
    relabel_slot_t     *s;
    struct sigaction    sa;
    struct curl_waitfd  wfd;

    memset(&conf, 0, sizeof(relabel_conf_t));
    memset(&run, 0, sizeof(relabel_run_t));

    run.conf = &conf;
    run.out_fd = -1;
    run.rej_fd = -1;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "moa-relabel: cannot initialise libcurl\n");
        return RELABEL_EXIT_FATAL;
    }

    rc = relabel_parse_args(argc, argv, &conf);
    if (rc != 0) {
        rc = rc > 0 ? RELABEL_EXIT_OK : RELABEL_EXIT_FATAL;
        goto done;
    }

    rc = RELABEL_EXIT_FATAL;

    url = curl_url();
    if (url == NULL
        || curl_url_set(url, CURLUPART_URL, conf.endpoint, 0) != CURLUE_OK)
    {
        relabel_log(NULL, "--endpoint: not a URL: \"%s\"", conf.endpoint);
        curl_url_cleanup(url);
        goto done;
    }
    curl_url_cleanup(url);

    if (relabel_open_files(&run) != 0) {
        goto done;
    }

    run.nslots = (unsigned long) conf.window;
    run.slots = calloc(run.nslots, sizeof(relabel_slot_t));
    run.multi = curl_multi_init();

    if (run.slots == NULL || run.multi == NULL
        || pipe2(relabel_pipe, O_NONBLOCK | O_CLOEXEC) != 0)
    {
        relabel_log(NULL, "cannot start: %s", strerror(errno));
        goto done;
    }

    run.count[RELABEL_SLOT_FREE] = (long) run.nslots;

    curl_multi_setopt(run.multi, CURLMOPT_MAXCONNECTS,
                      conf.concurrency * 2 + 4);

    memset(&sa, 0, sizeof(struct sigaction));
    sa.sa_handler = relabel_signal_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    srandom((unsigned) time(NULL) ^ (unsigned) getpid());

    run.tty = isatty(STDERR_FILENO);
    run.start_ms = relabel_now_ms();
    run.last_progress_ms = run.start_ms;

    if (!conf.quiet) {
        if (run.resume.covered) {
            relabel_log(&run, "%s: %lu lines; resuming after line %lu (%lu "
                        "in OUT, %lu rejected, %lu blank)", conf.in_path,
                        run.total_lines, run.resume.covered,
                        run.resume.out_rows, run.resume.reject_rows,
                        run.resume.blank_rows);
        } else {
            relabel_log(&run, "%s: %lu lines -> %s (rejects: %s)",
                        conf.in_path, run.total_lines, conf.out_path,
                        conf.rejects_path);
        }

        relabel_log(&run, "endpoint %s, model %s, concurrency %ld, window "
                    "%ld, retries %ld", conf.endpoint, conf.model,
                    conf.concurrency, conf.window, conf.retries);
    }

    wfd.fd = relabel_pipe[0];
    wfd.events = CURL_WAIT_POLLIN;
    wfd.revents = 0;

    for ( ;; ) {
        relabel_check_signals(&run);

        if (!run.stopping) {
            relabel_fill(&run);
            relabel_dispatch(&run);
        }

        if (run.stopping) {
            relabel_apply_stop(&run);
        }

        relabel_write_ready(&run);

        if (run.fatal) {
            break;
        }

        if (run.stopping
            ? run.count[RELABEL_SLOT_RUNNING] == 0
            : run.in_eof && run.head == run.tail)
        {
            break;
        }

        curl_multi_poll(run.multi, &wfd, 1, (int) relabel_poll_timeout(&run),
                        NULL);
        curl_multi_perform(run.multi, &i);
        relabel_harvest(&run);
        relabel_progress(&run, 0);
    }

    rc = relabel_finish(&run);

done:

    if (run.slots) {
        for (seq = 0; seq < run.nslots; seq++) {
            s = &run.slots[seq];
            if (s->easy) {
                curl_multi_remove_handle(run.multi, s->easy);
                curl_easy_cleanup(s->easy);
            }
            free(s->text);
            free(s->error);
            ngx_http_moa_buf_free(&s->req);
            ngx_http_moa_buf_free(&s->resp);
            ngx_http_moa_buf_free(&s->out);
        }
        free(run.slots);
    }

    if (run.multi) {
        curl_multi_cleanup(run.multi);
    }

    if (run.in) {
        fclose(run.in);
    }

    if (run.out_fd != -1) {
        close(run.out_fd);
    }

    if (run.rej_fd != -1) {
        close(run.rej_fd);
    }

    for (i = 0; i < 2; i++) {
        if (relabel_pipe[i] != -1) {
            close(relabel_pipe[i]);
        }
    }

    free(run.line.data);

    for (seq = 0; seq < conf.nparams; seq++) {
        free(conf.params[seq].key);
        free(conf.params[seq].value);
    }

    free(conf.params);
    free(conf.rejects_path);
    curl_slist_free_all(conf.headers);
    curl_global_cleanup();

    return rc;
}
