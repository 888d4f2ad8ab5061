
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel: the command line.  One table says, for every option, its
 * names and what it sets; getopt_long reads them, the table's kind says
 * how a value is checked and stored.
 */


#define _GNU_SOURCE

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "relabel_run.h"


/* how an option's value is checked and stored */
typedef enum {
    RELABEL_ARG_STR = 0,      /* const char *, the argument itself */
    RELABEL_ARG_LONG,         /* long, from min to max */
    RELABEL_ARG_SECS,         /* long long, seconds given, ms stored */
    RELABEL_ARG_FLAG,         /* int, set to 1 */
    RELABEL_ARG_ONOFF,        /* int, "on" 1 or "off" 0 */
    RELABEL_ARG_CALL,         /* a handler does it */
    RELABEL_ARG_EXIT          /* no argument; a handler, then exit 0 */
} relabel_arg_kind_e;


typedef struct relabel_args_s  relabel_args_t;

typedef struct {
    const char           *name;
    int                   val;          /* short option, or >= 256 */
    relabel_arg_kind_e    kind;
    size_t                off;          /* the field in relabel_conf_t */
    long                  min;
    long                  max;
    int                 (*handler)(relabel_args_t *a, const char *arg);
} relabel_arg_t;


/* while parsing: the configuration, and the user's headers so far */
struct relabel_args_s {
    relabel_conf_t       *conf;
    struct curl_slist    *user;
};


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
    RELABEL_OPT_PROGRESS,
    RELABEL_OPT_BATCH,
    RELABEL_OPT_BATCH_CANCEL,
    RELABEL_OPT_BATCH_URL,
    RELABEL_OPT_BATCH_RETRY,
    RELABEL_OPT_BATCH_KEEP,
    RELABEL_OPT_BATCH_MAX_REQUESTS,
    RELABEL_OPT_BATCH_MAX_MB,
    RELABEL_OPT_POLL,
    RELABEL_OPT_WINDOW,
    RELABEL_OPT_PURPOSE,
    RELABEL_OPT_PRICE,
    RELABEL_OPT_PROPOSERS,
    RELABEL_OPT_PROPOSER,
    RELABEL_OPT_PROPOSER_TEMPERATURE,
    RELABEL_OPT_PROPOSER_N,
    RELABEL_OPT_PROPOSER_MAX_TOKENS,
    RELABEL_OPT_CRITIQUE,
    RELABEL_OPT_CRITIC_MODEL,
    RELABEL_OPT_CRITIQUE_TEMPERATURE,
    RELABEL_OPT_CRITIC_MAX_TOKENS,
    RELABEL_OPT_AGGREGATOR_MODEL,
    RELABEL_OPT_AGGREGATOR_TEMPERATURE,
    RELABEL_OPT_CRITIQUE_PROMPT,
    RELABEL_OPT_SYNTHESIS_PROMPT,
    RELABEL_OPT_MIN_PROPOSALS,
    RELABEL_OPT_UNKNOWN_PARAMS,
    RELABEL_OPT_FALLBACK,
    RELABEL_OPT_LAYERS,
    RELABEL_OPT_LAYER_PROMPT,
    RELABEL_OPT_AGGREGATE,
    RELABEL_OPT_SELECT_FORMAT,
    RELABEL_OPT_SELECT_PROMPT,
    RELABEL_OPT_SELECT_JSON_SCHEMA,
    RELABEL_OPT_AGREEMENT,
    RELABEL_OPT_REASONING,
    RELABEL_OPT_MAX_TOTAL_TOKENS
};


static int relabel_args_header(relabel_args_t *a, const char *arg);
static int relabel_args_param(relabel_args_t *a, const char *arg);
static int relabel_args_rejects(relabel_args_t *a, const char *arg);
static int relabel_args_limit(relabel_args_t *a, const char *arg);
static int relabel_args_price(relabel_args_t *a, const char *arg);
static int relabel_args_proposer(relabel_args_t *a, const char *arg);
static int relabel_args_help(relabel_args_t *a, const char *arg);
static int relabel_args_version(relabel_args_t *a, const char *arg);
static int relabel_args_set(relabel_args_t *a, const relabel_arg_t *opt,
    const char *arg);
static int relabel_args_defaults(relabel_conf_t *conf);
static int relabel_args_headers(relabel_conf_t *conf,
    struct curl_slist *user);


#define relabel_conf_field(f)  offsetof(relabel_conf_t, f)

static const relabel_arg_t  relabel_args[] = {
    { "endpoint", 'e', RELABEL_ARG_STR, relabel_conf_field(endpoint),
      0, 0, NULL },
    { "model", 'm', RELABEL_ARG_STR, relabel_conf_field(model), 0, 0, NULL },
    { "concurrency", 'c', RELABEL_ARG_LONG, relabel_conf_field(concurrency),
      1, 4096, NULL },
    { "window", 'w', RELABEL_ARG_LONG, relabel_conf_field(window),
      1, 1 << 20, NULL },
    { "api-key", RELABEL_OPT_API_KEY, RELABEL_ARG_STR,
      relabel_conf_field(api_key), 0, 0, NULL },
    { "header", 'H', RELABEL_ARG_CALL, 0, 0, 0, relabel_args_header },
    { "param", 'p', RELABEL_ARG_CALL, 0, 0, 0, relabel_args_param },
    { "retries", 'r', RELABEL_ARG_LONG, relabel_conf_field(retries),
      0, 1000, NULL },
    { "timeout", 't', RELABEL_ARG_SECS, relabel_conf_field(timeout_ms),
      0, 0, NULL },
    { "connect-timeout", RELABEL_OPT_CONNECT_TIMEOUT, RELABEL_ARG_SECS,
      relabel_conf_field(connect_timeout_ms), 0, 0, NULL },
    { "backoff", RELABEL_OPT_BACKOFF, RELABEL_ARG_SECS,
      relabel_conf_field(backoff_ms), 0, 0, NULL },
    { "backoff-max", RELABEL_OPT_BACKOFF_MAX, RELABEL_ARG_SECS,
      relabel_conf_field(backoff_max_ms), 0, 0, NULL },
    { "retry-after-max", RELABEL_OPT_RETRY_AFTER_MAX, RELABEL_ARG_SECS,
      relabel_conf_field(retry_after_max_ms), 0, 0, NULL },
    { "rejects", RELABEL_OPT_REJECTS, RELABEL_ARG_CALL, 0, 0, 0,
      relabel_args_rejects },
    { "max-consecutive-failures", RELABEL_OPT_MAX_CONSEC, RELABEL_ARG_LONG,
      relabel_conf_field(max_consec), 0, 1 << 30, NULL },
    { "limit", RELABEL_OPT_LIMIT, RELABEL_ARG_CALL, 0, 0, 0,
      relabel_args_limit },
    { "overwrite", RELABEL_OPT_OVERWRITE, RELABEL_ARG_FLAG,
      relabel_conf_field(overwrite), 0, 0, NULL },
    { "insecure", 'k', RELABEL_ARG_FLAG, relabel_conf_field(insecure),
      0, 0, NULL },
    { "progress-interval", RELABEL_OPT_PROGRESS, RELABEL_ARG_SECS,
      relabel_conf_field(progress_ms), 0, 0, NULL },
    { "quiet", 'q', RELABEL_ARG_FLAG, relabel_conf_field(quiet), 0, 0, NULL },
    { "verbose", 'v', RELABEL_ARG_FLAG, relabel_conf_field(verbose),
      0, 0, NULL },

    /* --batch: the provider's Batch API, the recipe under the directives'
     * names (moa_proposers is --proposers, and so on) */
    { "batch", RELABEL_OPT_BATCH, RELABEL_ARG_FLAG,
      relabel_conf_field(batch.on), 0, 0, NULL },
    { "batch-cancel", RELABEL_OPT_BATCH_CANCEL, RELABEL_ARG_FLAG,
      relabel_conf_field(batch.cancel), 0, 0, NULL },
    { "batch-url", RELABEL_OPT_BATCH_URL, RELABEL_ARG_STR,
      relabel_conf_field(batch.url), 0, 0, NULL },
    { "batch-retry", RELABEL_OPT_BATCH_RETRY, RELABEL_ARG_LONG,
      relabel_conf_field(batch.retry), 0, 100, NULL },
    { "batch-keep", RELABEL_OPT_BATCH_KEEP, RELABEL_ARG_FLAG,
      relabel_conf_field(batch.keep), 0, 0, NULL },
    { "batch-max-requests", RELABEL_OPT_BATCH_MAX_REQUESTS, RELABEL_ARG_LONG,
      relabel_conf_field(batch.max_requests), 1, 1 << 30, NULL },
    { "batch-max-mb", RELABEL_OPT_BATCH_MAX_MB, RELABEL_ARG_LONG,
      relabel_conf_field(batch.max_mb), 1, 1 << 20, NULL },
    { "poll-interval", RELABEL_OPT_POLL, RELABEL_ARG_SECS,
      relabel_conf_field(batch.poll_ms), 0, 0, NULL },
    { "completion-window", RELABEL_OPT_WINDOW, RELABEL_ARG_STR,
      relabel_conf_field(batch.window), 0, 0, NULL },
    { "file-purpose", RELABEL_OPT_PURPOSE, RELABEL_ARG_STR,
      relabel_conf_field(batch.purpose), 0, 0, NULL },
    { "price", RELABEL_OPT_PRICE, RELABEL_ARG_CALL, 0, 0, 0,
      relabel_args_price },
    { "proposers", RELABEL_OPT_PROPOSERS, RELABEL_ARG_LONG,
      relabel_conf_field(batch.proposers), 1, RELABEL_BATCH_MAX_PROPOSERS,
      NULL },
    { "proposer", RELABEL_OPT_PROPOSER, RELABEL_ARG_CALL, 0, 0, 0,
      relabel_args_proposer },
    { "proposer-temperature", RELABEL_OPT_PROPOSER_TEMPERATURE,
      RELABEL_ARG_STR, relabel_conf_field(batch.proposer_temperature),
      0, 0, NULL },
    { "proposer-n", RELABEL_OPT_PROPOSER_N, RELABEL_ARG_ONOFF,
      relabel_conf_field(batch.proposer_n), 0, 0, NULL },
    { "proposer-max-tokens", RELABEL_OPT_PROPOSER_MAX_TOKENS, RELABEL_ARG_LONG,
      relabel_conf_field(batch.proposer_max_tokens), 0, 1 << 30, NULL },
    { "critique", RELABEL_OPT_CRITIQUE, RELABEL_ARG_ONOFF,
      relabel_conf_field(batch.critique), 0, 0, NULL },
    { "critic-model", RELABEL_OPT_CRITIC_MODEL, RELABEL_ARG_STR,
      relabel_conf_field(batch.critic_model), 0, 0, NULL },
    { "critique-temperature", RELABEL_OPT_CRITIQUE_TEMPERATURE,
      RELABEL_ARG_STR, relabel_conf_field(batch.critique_temperature),
      0, 0, NULL },
    { "critic-max-tokens", RELABEL_OPT_CRITIC_MAX_TOKENS, RELABEL_ARG_LONG,
      relabel_conf_field(batch.critic_max_tokens), 0, 1 << 30, NULL },
    { "aggregator-model", RELABEL_OPT_AGGREGATOR_MODEL, RELABEL_ARG_STR,
      relabel_conf_field(batch.aggregator_model), 0, 0, NULL },
    { "aggregator-temperature", RELABEL_OPT_AGGREGATOR_TEMPERATURE,
      RELABEL_ARG_STR, relabel_conf_field(batch.aggregator_temperature),
      0, 0, NULL },
    { "critique-prompt", RELABEL_OPT_CRITIQUE_PROMPT, RELABEL_ARG_STR,
      relabel_conf_field(batch.critique_prompt), 0, 0, NULL },
    { "synthesis-prompt", RELABEL_OPT_SYNTHESIS_PROMPT, RELABEL_ARG_STR,
      relabel_conf_field(batch.synthesis_prompt), 0, 0, NULL },
    { "min-proposals", RELABEL_OPT_MIN_PROPOSALS, RELABEL_ARG_LONG,
      relabel_conf_field(batch.min_proposals), 1, RELABEL_BATCH_MAX_PROPOSERS,
      NULL },
    { "unknown-params", RELABEL_OPT_UNKNOWN_PARAMS, RELABEL_ARG_STR,
      relabel_conf_field(batch.unknown_params), 0, 0, NULL },
    { "fallback", RELABEL_OPT_FALLBACK, RELABEL_ARG_STR,
      relabel_conf_field(batch.fallback), 0, 0, NULL },
    { "layers", RELABEL_OPT_LAYERS, RELABEL_ARG_LONG,
      relabel_conf_field(batch.layers), 1, RELABEL_BATCH_MAX_LAYERS, NULL },
    { "layer-prompt", RELABEL_OPT_LAYER_PROMPT, RELABEL_ARG_STR,
      relabel_conf_field(batch.layer_prompt), 0, 0, NULL },
    { "aggregate", RELABEL_OPT_AGGREGATE, RELABEL_ARG_STR,
      relabel_conf_field(batch.aggregate), 0, 0, NULL },
    { "select-format", RELABEL_OPT_SELECT_FORMAT, RELABEL_ARG_STR,
      relabel_conf_field(batch.select_format), 0, 0, NULL },
    { "select-prompt", RELABEL_OPT_SELECT_PROMPT, RELABEL_ARG_STR,
      relabel_conf_field(batch.select_prompt), 0, 0, NULL },
    { "select-json-schema", RELABEL_OPT_SELECT_JSON_SCHEMA, RELABEL_ARG_ONOFF,
      relabel_conf_field(batch.select_json_schema), 0, 0, NULL },
    { "agreement", RELABEL_OPT_AGREEMENT, RELABEL_ARG_ONOFF,
      relabel_conf_field(batch.agreement), 0, 0, NULL },
    { "reasoning", RELABEL_OPT_REASONING, RELABEL_ARG_FLAG,
      relabel_conf_field(batch.reasoning), 0, 0, NULL },
    { "max-total-tokens", RELABEL_OPT_MAX_TOTAL_TOKENS, RELABEL_ARG_LONG,
      relabel_conf_field(batch.max_total_tokens), 0, 1L << 30, NULL },

    { "help", 'h', RELABEL_ARG_EXIT, 0, 0, 0, relabel_args_help },
    { "version", 'V', RELABEL_ARG_EXIT, 0, 0, 0, relabel_args_version }
};

#define RELABEL_NARGS  (sizeof(relabel_args) / sizeof(relabel_args[0]))


static int
relabel_args_long(const char *arg, const char *name, long min, long max,
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
relabel_args_secs(const char *arg, const char *name, long long *ms)
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


/* 0 ok, 1 done (help, version), -1 usage error */

int
relabel_args_parse(int argc, char **argv, relabel_conf_t *conf)
{
    int             c, rc;
    char            shorts[2 * RELABEL_NARGS + 1], *sp;
    size_t          i;
    relabel_args_t  a;
    struct option   opts[RELABEL_NARGS + 1];

    /* getopt_long's tables, from ours */

    sp = shorts;

    for (i = 0; i < RELABEL_NARGS; i++) {
        opts[i].name = relabel_args[i].name;
        opts[i].has_arg = relabel_args[i].kind == RELABEL_ARG_FLAG
                          || relabel_args[i].kind == RELABEL_ARG_EXIT
                          ? no_argument : required_argument;
        opts[i].flag = NULL;
        opts[i].val = relabel_args[i].val;

        if (relabel_args[i].val < 256) {
            *sp++ = (char) relabel_args[i].val;

            if (opts[i].has_arg == required_argument) {
                *sp++ = ':';
            }
        }
    }

    memset(&opts[RELABEL_NARGS], 0, sizeof(struct option));
    *sp = '\0';

    conf->endpoint = "http://127.0.0.1:8080/v1/chat/completions";
    conf->model = NULL;
    relabel_batch_defaults(&conf->batch);
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

    a.conf = conf;
    a.user = NULL;
    rc = 0;

    while (rc == 0 && (c = getopt_long(argc, argv, shorts, opts, NULL)) != -1)
    {
        for (i = 0; i < RELABEL_NARGS && relabel_args[i].val != c; i++) {
            /* void */
        }

        if (i == RELABEL_NARGS) {
            fprintf(stderr, "Try 'moa-relabel --help'.\n");
            rc = -1;
            break;
        }

        rc = relabel_args_set(&a, &relabel_args[i], optarg);
    }

    if (rc == 0 && argc - optind != 2) {
        fprintf(stderr, "moa-relabel: expected IN.jsonl OUT.jsonl\n"
                "Try 'moa-relabel --help'.\n");
        rc = -1;
    }

    if (rc == 0) {
        /* --batch asks the provider itself: the MoA model's base model */
        conf->batch.on |= conf->batch.cancel;

        if (conf->model == NULL) {
            conf->model = conf->batch.on ? "gpt-4o" : "moa-gpt-4o-v1";
        }

        if (!conf->batch.on && relabel_batch_stray(&conf->batch)) {
            /* online, the recipe is the endpoint's configuration */
            fprintf(stderr, "moa-relabel: %s is an option of --batch\n",
                    relabel_batch_stray(&conf->batch));
            rc = -1;
        }

        conf->in_path = argv[optind];
        conf->out_path = argv[optind + 1];

        if (relabel_args_defaults(conf) != 0
            || relabel_args_headers(conf, a.user) != 0)
        {
            rc = -1;
        }
    }

    curl_slist_free_all(a.user);

    return rc;
}


/* one option: 0, 1 done (help, version), -1 after saying why */

static int
relabel_args_set(relabel_args_t *a, const relabel_arg_t *opt,
    const char *arg)
{
    char   name[64];
    char  *field;

    field = (char *) a->conf + opt->off;
    snprintf(name, sizeof(name), "--%s", opt->name);

    switch (opt->kind) {

    case RELABEL_ARG_STR:
        *(const char **) field = arg;
        return 0;

    case RELABEL_ARG_LONG:
        return relabel_args_long(arg, name, opt->min, opt->max,
                                 (long *) field);

    case RELABEL_ARG_SECS:
        return relabel_args_secs(arg, name, (long long *) field);

    case RELABEL_ARG_FLAG:
        *(int *) field = 1;
        return 0;

    case RELABEL_ARG_ONOFF:
        if (strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0) {
            fprintf(stderr, "moa-relabel: %s: expected on or off, got "
                    "\"%s\"\n", name, arg);
            return -1;
        }

        *(int *) field = strcmp(arg, "on") == 0;
        return 0;

    default:
        return opt->handler(a, arg);
    }
}


static int
relabel_args_header(relabel_args_t *a, const char *arg)
{
    struct curl_slist  *l;

    if (strchr(arg, ':') == NULL) {
        fprintf(stderr, "moa-relabel: --header: expected "
                "'Name: value', got \"%s\"\n", arg);
        return -1;
    }

    l = curl_slist_append(a->user, arg);
    if (l == NULL) {
        return -1;
    }

    a->user = l;

    return 0;
}


static int
relabel_args_param(relabel_args_t *a, const char *arg)
{
    relabel_conf_t   *conf;
    relabel_param_t  *params;

    conf = a->conf;

    params = realloc(conf->params,
                     (conf->nparams + 1) * sizeof(relabel_param_t));
    if (params == NULL) {
        return -1;
    }

    conf->params = params;

    if (relabel_record_param_parse(arg, &params[conf->nparams]) != 0) {
        fprintf(stderr, "moa-relabel: --param: expected KEY=VALUE, "
                "got \"%s\"\n", arg);
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

    return 0;
}


static int
relabel_args_rejects(relabel_args_t *a, const char *arg)
{
    free(a->conf->rejects_path);

    a->conf->rejects_path = strdup(arg);
    if (a->conf->rejects_path == NULL) {
        return -1;
    }

    return 0;
}


static int
relabel_args_limit(relabel_args_t *a, const char *arg)
{
    long  v;

    if (relabel_args_long(arg, "--limit", 1, LONG_MAX, &v) != 0) {
        return -1;
    }

    a->conf->limit = (unsigned long) v;

    return 0;
}


static int
relabel_args_price(relabel_args_t *a, const char *arg)
{
    char             **prices, *model;
    relabel_price_t    p;
    relabel_conf_t    *conf;

    conf = a->conf;

    if (relabel_price_parse(arg, &p, &model) != 0) {
        fprintf(stderr, "moa-relabel: --price: expected MODEL=IN/OUT or "
                "MODEL=IN/OUT/BATCH_IN/BATCH_OUT (USD per million tokens), "
                "got \"%s\"\n", arg);
        return -1;
    }

    free(model);

    prices = realloc(conf->batch.prices,
                     (conf->batch.nprices + 1) * sizeof(char *));
    if (prices == NULL) {
        return -1;
    }

    conf->batch.prices = prices;
    prices[conf->batch.nprices++] = (char *) arg;

    return 0;
}


/* moa_proposer's model= and temperature=, checked by the recipe */
static int
relabel_args_proposer(relabel_args_t *a, const char *arg)
{
    char                 **list;
    relabel_batch_conf_t  *bc;

    bc = &a->conf->batch;

    if (bc->nproposer_list == RELABEL_BATCH_MAX_PROPOSERS) {
        fprintf(stderr, "moa-relabel: --proposer: at most %d\n",
                RELABEL_BATCH_MAX_PROPOSERS);
        return -1;
    }

    list = realloc(bc->proposer_list,
                   (bc->nproposer_list + 1) * sizeof(char *));
    if (list == NULL) {
        return -1;
    }

    bc->proposer_list = list;
    list[bc->nproposer_list++] = (char *) arg;

    return 0;
}


static int
relabel_args_help(relabel_args_t *a, const char *arg)
{
    (void) a;
    (void) arg;

    relabel_usage_print(stdout);

    return 1;
}


static int
relabel_args_version(relabel_args_t *a, const char *arg)
{
    (void) a;
    (void) arg;

    printf("moa-relabel %s (%s)\n", RELABEL_VERSION, curl_version());

    return 1;
}


/* what follows from the options: window, rejects path, API key */

static int
relabel_args_defaults(relabel_conf_t *conf)
{
    size_t       n;
    const char  *env;

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

    if (conf->progress_ms < 100) {
        conf->progress_ms = 100;
    }

    if (conf->rejects_path == NULL) {
        n = strlen(conf->out_path);
        if (n > 6 && strcmp(conf->out_path + n - 6, ".jsonl") == 0) {
            n -= 6;
        }

        conf->rejects_path = malloc(n + sizeof(".rejects.jsonl"));
        if (conf->rejects_path == NULL) {
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

    return 0;
}


/* request headers: ours first, then the user's */

static int
relabel_args_headers(relabel_conf_t *conf, struct curl_slist *user)
{
    int                 have_auth;
    char               *h;
    size_t              n;
    struct curl_slist  *l, *u;

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
            return -1;
        }
        snprintf(h, n, "Authorization: Bearer %s", conf->api_key);
        l = curl_slist_append(conf->headers, h);
        free(h);
    }

    for (u = user; u && l; u = u->next) {
        l = curl_slist_append(conf->headers, u->data);
    }

    return l == NULL ? -1 : 0;
}


void
relabel_args_free(relabel_conf_t *conf)
{
    size_t  i;

    for (i = 0; i < conf->nparams; i++) {
        free(conf->params[i].key);
        free(conf->params[i].value);
    }

    free(conf->params);
    free(conf->batch.prices);
    free(conf->batch.proposer_list);
    free(conf->rejects_path);
    curl_slist_free_all(conf->headers);
}
