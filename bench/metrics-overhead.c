
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Microbenchmark of the metrics hot path: what moa_metrics_zone adds to one
 * request, measured on the module's own code (ngx_http_moa_metrics.c is
 * compiled in, with the flags the module is built with), against counters
 * in a MAP_SHARED mapping, as the zone is.  Nothing else of nginx runs: the
 * functions that are not called here stay unresolved (see
 * bench/metrics-overhead.sh).
 *
 *   per request: the gauge up (ngx_http_moa_metrics_start without the pool
 *   cleanup allocation), the first streamed event, and the accounting when
 *   the pool goes (ngx_http_moa_metrics_cleanup): outcome, duration, TTFB,
 *   tokens, 5 upstream calls, 3 stage durations, the gauge down.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <sys/mman.h>
#include <sys/wait.h>

#include "../ngx_http_moa_module/ngx_http_moa_metrics.c"


/* the only nginx global the measured code reads */
volatile ngx_time_t  *ngx_cached_time;

static ngx_time_t  bench_time;
static ngx_log_t   bench_log;


static double
bench_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


typedef struct {
    ngx_connection_t             c;
    ngx_http_request_t           r;
    ngx_http_moa_ctx_t           ctx;
    ngx_http_moa_call_t          calls[5];
    ngx_http_moa_metrics_req_t   mr;
    ngx_http_moa_loc_conf_t      conf;
    ngx_http_moa_model_t         model;
} bench_request_t;


/* a MoA request as it is when its pool goes: answered, 5 calls, usage */
static void
bench_request_init(bench_request_t *b, ngx_http_moa_metrics_t *mt,
    ngx_http_moa_series_t *s)
{
    ngx_uint_t  i;

    ngx_memzero(b, sizeof(bench_request_t));

    b->c.log = &bench_log;       /* level 0: debug logging off, as usual */
    b->r.connection = &b->c;
    b->r.headers_out.status = 200;
    b->r.start_sec = bench_time.sec - 2;
    b->r.start_msec = 500;

    b->ctx.request = &b->r;
    b->ctx.conf = &b->conf;
    b->ctx.model = &b->model;
    b->ctx.calls = b->calls;
    b->ctx.nproposals = 3;
    b->ctx.critique = &b->calls[3];
    b->ctx.synthesis = &b->calls[4];
    b->ctx.succeeded = 1;
    b->ctx.proposals_timed = 1;
    b->ctx.critique_timed = 1;
    b->ctx.synthesis_timed = 1;
    b->ctx.proposal_time = 900;
    b->ctx.critique_time = 400;
    b->ctx.synthesis_time = 700;

    b->ctx.usage = cJSON_CreateObject();
    cJSON_AddNumberToObject(b->ctx.usage, "prompt_tokens", 1234);
    cJSON_AddNumberToObject(b->ctx.usage, "completion_tokens", 567);
    cJSON_AddNumberToObject(b->ctx.usage, "total_tokens", 1801);

    for (i = 0; i < 5; i++) {
        b->calls[i].stage = i < 3 ? NGX_HTTP_MOA_PROPOSAL
                                  : i == 3 ? NGX_HTTP_MOA_CRITIQUE
                                           : NGX_HTTP_MOA_SYNTHESIS;
        b->calls[i].started = 1;
        b->calls[i].done = 1;
        b->calls[i].ok = 1;
        b->calls[i].status = 200;
    }

    b->mr.ctx = &b->ctx;
    b->mr.metrics = mt;
    b->mr.series = s;
    b->mr.ttfb = -1;
}


/* one request's metrics work, as ngx_http_moa_metrics_start() + cleanup */
static ngx_inline void
bench_one(bench_request_t *b)
{
    b->mr.ttfb = -1;
    b->ctx.metrics = &b->mr;

    (void) ngx_atomic_fetch_add(&b->mr.series->in_flight, 1);

    ngx_http_moa_metrics_first_event(&b->ctx);

    ngx_http_moa_metrics_cleanup(&b->mr);
}


static double
bench_run(ngx_http_moa_metrics_t *mt, ngx_http_moa_series_t *s, long n)
{
    long              i;
    double            t;
    bench_request_t   b;

    bench_request_init(&b, mt, s);

    for (i = 0; i < n / 10; i++) {
        bench_one(&b);
    }

    t = bench_now();

    for (i = 0; i < n; i++) {
        bench_one(&b);
    }

    t = bench_now() - t;

    cJSON_Delete(b.ctx.usage);

    return t * 1e9 / n;
}


int
main(int argc, char **argv)
{
    long                        n, i;
    pid_t                       pid;
    u_char                     *shm;
    double                      ns, ns2[2];
    ngx_http_moa_series_t      *s;
    ngx_http_moa_metrics_t      mt;
    ngx_http_moa_metrics_sh_t  *sh;
    int                         fd[2][2];

    n = argc > 1 ? atol(argv[1]) : 10000000;

    bench_time.sec = time(NULL);
    bench_time.msec = 0;
    ngx_cached_time = &bench_time;

    /* the zone: shared between the processes forked below, as nginx's is */

    shm = mmap(NULL, 1024 * 1024, PROT_READ|PROT_WRITE,
               MAP_SHARED|MAP_ANONYMOUS, -1, 0);
    if (shm == MAP_FAILED) {
        perror("mmap");
        return 1;
    }

    sh = (ngx_http_moa_metrics_sh_t *) shm;
    s = (ngx_http_moa_series_t *) (shm + 64 * 1024);

    ngx_memzero(&mt, sizeof(ngx_http_moa_metrics_t));
    mt.sh = sh;
    sh->series = s;

    ns = bench_run(&mt, s, n);

    printf("one process:   %.1f ns per request (%ld requests)\n", ns, n);

    if (s->requests[NGX_HTTP_MOA_OUTCOME_OK] != (ngx_atomic_uint_t)
                                                (n + n / 10)
        || s->in_flight != 0)
    {
        printf("wrong counts\n");
        return 1;
    }

    if (argc > 2 && strcmp(argv[2], "one") == 0) {
        return 0;
    }

    /* two processes on the same counters: the worst case, every update
     * contended (in nginx the workers rarely end requests at once) */

    for (i = 0; i < 2; i++) {
        if (pipe(fd[i]) != 0) {
            perror("pipe");
            return 1;
        }

        pid = fork();

        if (pid == 0) {
            ns = bench_run(&mt, s, n);

            /* a short write shows as a failed read in the parent */
            _exit(write(fd[i][1], &ns, sizeof(double)) != sizeof(double));
        }

        close(fd[i][1]);
    }

    for (i = 0; i < 2; i++) {
        if (read(fd[i][0], &ns2[i], sizeof(double)) != sizeof(double)) {
            perror("read");
            return 1;
        }

        close(fd[i][0]);
    }

    while (wait(NULL) > 0) { /* void */ }

    printf("two processes: %.1f and %.1f ns per request, contended\n",
           ns2[0], ns2[1]);

    if (s->requests[NGX_HTTP_MOA_OUTCOME_OK] != (ngx_atomic_uint_t)
                                                (3 * (n + n / 10))
        || s->in_flight != 0)
    {
        printf("wrong counts after two processes: %lu\n",
               (unsigned long) s->requests[NGX_HTTP_MOA_OUTCOME_OK]);
        return 1;
    }

    printf("counts exact: %lu requests, %lu calls\n",
           (unsigned long) s->requests[NGX_HTTP_MOA_OUTCOME_OK],
           (unsigned long) (sh->calls[0][0] + sh->calls[1][0]
                            + sh->calls[2][0]));

    return 0;
}
