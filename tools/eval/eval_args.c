
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-eval: the command line, its checks and defaults, --help and
 * --version.
 */


#define _GNU_SOURCE

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eval_run.h"


#define EVAL_DEFAULT_URL  "http://127.0.0.1:8080/v1/chat/completions"


enum {
    EVAL_OPT_BASELINE_ANSWERS = 256,
    EVAL_OPT_JUDGE_URL,
    EVAL_OPT_API_KEY,
    EVAL_OPT_JUDGE_API_KEY,
    EVAL_OPT_REPORT,
    EVAL_OPT_PICTURE,
    EVAL_OPT_TEMPLATE,
    EVAL_OPT_CONNECT_TIMEOUT,
    EVAL_OPT_RETRY_AFTER_MAX,
    EVAL_OPT_JUDGE_MAX_TOKENS,
    EVAL_OPT_BOOTSTRAP,
    EVAL_OPT_SEED,
    EVAL_OPT_LIMIT,
    EVAL_OPT_PRINT_TEMPLATE,
    EVAL_OPT_JUDGE_PARAM
};


static const struct option  eval_args_options[] = {
    { "url",              required_argument, NULL, 'u' },
    { "model",            required_argument, NULL, 'm' },
    { "baseline",         required_argument, NULL, 'b' },
    { "baseline-answers", required_argument, NULL, EVAL_OPT_BASELINE_ANSWERS },
    { "judge",            required_argument, NULL, 'j' },
    { "judge-url",        required_argument, NULL, EVAL_OPT_JUDGE_URL },
    { "api-key",          required_argument, NULL, EVAL_OPT_API_KEY },
    { "judge-api-key",    required_argument, NULL, EVAL_OPT_JUDGE_API_KEY },
    { "output",           required_argument, NULL, 'o' },
    { "report",           required_argument, NULL, EVAL_OPT_REPORT },
    { "picture",          required_argument, NULL, EVAL_OPT_PICTURE },
    { "template",         required_argument, NULL, EVAL_OPT_TEMPLATE },
    { "param",            required_argument, NULL, 'p' },
    { "judge-param",      required_argument, NULL, EVAL_OPT_JUDGE_PARAM },
    { "header",           required_argument, NULL, 'H' },
    { "concurrency",      required_argument, NULL, 'c' },
    { "retries",          required_argument, NULL, 'r' },
    { "timeout",          required_argument, NULL, 't' },
    { "connect-timeout",  required_argument, NULL, EVAL_OPT_CONNECT_TIMEOUT },
    { "retry-after-max",  required_argument, NULL, EVAL_OPT_RETRY_AFTER_MAX },
    { "judge-max-tokens", required_argument, NULL, EVAL_OPT_JUDGE_MAX_TOKENS },
    { "bootstrap",        required_argument, NULL, EVAL_OPT_BOOTSTRAP },
    { "seed",             required_argument, NULL, EVAL_OPT_SEED },
    { "limit",            required_argument, NULL, EVAL_OPT_LIMIT },
    { "print-template",   no_argument,       NULL, EVAL_OPT_PRINT_TEMPLATE },
    { "dry-run",          no_argument,       NULL, 'n' },
    { "insecure",         no_argument,       NULL, 'k' },
    { "quiet",            no_argument,       NULL, 'q' },
    { "verbose",          no_argument,       NULL, 'v' },
    { "help",             no_argument,       NULL, 'h' },
    { "version",          no_argument,       NULL, 'V' },
    { NULL, 0, NULL, 0 }
};


static const char  eval_usage[] =
"Usage: moa-eval [options] --model MODEL (--baseline MODEL | --baseline-\n"
"                answers FILE) --judge MODEL PROMPTS.jsonl\n"
"\n"
"Is MODEL better than the baseline on these prompts?  Both answer every\n"
"prompt through a chat completions endpoint (or the baseline's answers come\n"
"from a file); a judge model compares each pair twice, positions swapped,\n"
"and ends with a verdict label [[A>>B]] [[A>B]] [[A=B]] [[B>A]] [[B>>A]]\n"
"(the method of Arena-Hard-Auto).  Prints the win rate with a 95%\n"
"bootstrap confidence interval, the length-controlled win rate, per\n"
"category when the prompts have one, and what each contender cost in\n"
"tokens and time.\n"
"\n"
"PROMPTS.jsonl: the chat fine-tuning format ({\"messages\":[...]}, a final\n"
"assistant message is dropped) or Arena-Hard's questions\n"
"({\"question_id\",\"category\",\"turns\":[{\"content\"}]}).  Malformed lines\n"
"are reported and skipped.\n"
"\n"
"Contenders and judge:\n"
"  -u, --url URL              chat completions endpoint of both contenders\n"
"                 (default " EVAL_DEFAULT_URL ")\n"
"  -m, --model MODEL          the model under test, e.g. moa-gpt-4o-v1\n"
"  -b, --baseline MODEL       the model it is compared with, e.g. gpt-4o\n"
"      --baseline-answers FILE  the baseline's answers instead: Arena-Hard\n"
"                             model answers, {\"id\",\"answer\"} or the\n"
"                             fine-tuning format (its last assistant\n"
"                             message); matched by question_id,\n"
"                             metadata.uid, id, else by line number\n"
"  -j, --judge MODEL          the judge model, e.g. gpt-4o-mini\n"
"      --judge-url URL        the judge's endpoint (default: --url)\n"
"      --template FILE        the judge prompt, with the placeholders\n"
"                             {question} {answer_a} {answer_b} (default:\n"
"                             built in: --print-template prints it)\n"
"      --judge-max-tokens N   max_tokens of the judge's requests\n"
"      --judge-param KEY=JSON an extra field of the judge's requests; its\n"
"                             temperature is 0 unless given here\n"
"  -p, --param KEY=JSON       an extra field of the contenders' requests,\n"
"                             e.g. -p temperature=0 -p max_tokens=1024\n"
"      --api-key KEY          bearer token (default: $OPENAI_API_KEY)\n"
"      --judge-api-key KEY    the judge's (default: $MOA_EVAL_JUDGE_API_KEY,\n"
"                             else the one above)\n"
"  -H, --header 'NAME: VALUE' an extra request header (repeatable)\n"
"\n"
"Output:\n"
"  -o, --output FILE          results JSONL: every answer and verdict is\n"
"                             appended as it arrives; running again with\n"
"                             the same file resumes (default moa-eval.jsonl)\n"
"      --report FILE          the report as markdown\n"
"      --picture FILE.svg     win rate with CI whiskers per category, and\n"
"                             tokens per answer per contender (SVG)\n"
"      --bootstrap N          bootstrap rounds (default 1000)\n"
"      --seed N               bootstrap seed (default 1)\n"
"  -n, --dry-run              print the calls and the tokens this run would\n"
"                             spend, ask nothing\n"
"\n"
"Requests:\n"
"  -c, --concurrency N        requests in flight (default 8)\n"
"  -r, --retries N            retries of a failed call: timeouts, 408, 409,\n"
"                             429, 5xx, bad replies (default 5)\n"
"  -t, --timeout SECS         per request (default 600)\n"
"      --connect-timeout SECS (default 10)\n"
"      --retry-after-max SECS the longest Retry-After honoured (default 120)\n"
"      --limit N              the first N prompts only\n"
"  -k, --insecure             do not verify TLS certificates\n"
"  -q, --quiet                no progress, no notes\n"
"  -v, --verbose              log every failed attempt\n"
"  -h, --help                 this help\n"
"  -V, --version              the version\n"
"\n"
"Exit status: 0 every prompt judged; 1 some were not (malformed lines,\n"
"calls that failed for good: run again to retry them); 2 bad usage or a\n"
"fatal error; 128+N stopped by signal N (run again to resume).\n";


static int eval_args_long(const char *name, const char *arg, long min,
    long max, long *out);
static int eval_args_secs(const char *name, const char *arg, long long *out);
static int eval_args_headers(struct curl_slist **out, const char *key,
    struct curl_slist *user);
static int eval_args_check(eval_conf_t *conf, struct curl_slist *user);
static int eval_args_number(eval_conf_t *conf, int c, const char *arg);
static int eval_args_param(relabel_param_t **params, size_t *n,
    const char *name, const char *arg);
static int eval_args_template(eval_conf_t *conf);


static int
eval_args_long(const char *name, const char *arg, long min, long max,
    long *out)
{
    char  *end;
    long   v;

    errno = 0;
    v = strtol(arg, &end, 10);

    if (errno || end == arg || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "moa-eval: %s: \"%s\" is not a number from %ld to "
                "%ld\n", name, arg, min, max);
        return -1;
    }

    *out = v;

    return 0;
}


static int
eval_args_secs(const char *name, const char *arg, long long *out)
{
    char    *end;
    double   v;

    errno = 0;
    v = strtod(arg, &end);

    if (errno || end == arg || *end != '\0' || !isfinite(v) || v < 0
        || v > 86400 * 7)
    {
        fprintf(stderr, "moa-eval: %s: \"%s\" is not a number of seconds\n",
                name, arg);
        return -1;
    }

    *out = (long long) (v * 1000);

    return 0;
}


/* an option with a number: 0, -1 after saying why, -2 not one of them */

static int
eval_args_number(eval_conf_t *conf, int c, const char *arg)
{
    long  v;

    switch (c) {
    case 'c':
        if (eval_args_long("--concurrency", arg, 1, 1024,
                           &conf->concurrency) != 0)
        {
            return -1;
        }
        return 0;

    case 'r':
        if (eval_args_long("--retries", arg, 0, 100, &conf->retries)
            != 0)
        {
            return -1;
        }
        return 0;

    case 't':
        if (eval_args_secs("--timeout", arg, &conf->timeout_ms) != 0) {
            return -1;
        }
        return 0;

    case EVAL_OPT_CONNECT_TIMEOUT:
        if (eval_args_secs("--connect-timeout", arg,
                           &conf->connect_timeout_ms) != 0)
        {
            return -1;
        }
        return 0;

    case EVAL_OPT_RETRY_AFTER_MAX:
        if (eval_args_secs("--retry-after-max", arg,
                           &conf->retry_after_max_ms) != 0)
        {
            return -1;
        }
        return 0;

    case EVAL_OPT_JUDGE_MAX_TOKENS:
        if (eval_args_long("--judge-max-tokens", arg, 1, 1 << 24,
                           &conf->judge_max_tokens) != 0)
        {
            return -1;
        }
        return 0;

    case EVAL_OPT_BOOTSTRAP:
        if (eval_args_long("--bootstrap", arg, 0, 1000000,
                           &conf->bootstrap) != 0)
        {
            return -1;
        }
        return 0;

    case EVAL_OPT_SEED:
        if (eval_args_long("--seed", arg, 0, 4294967295L, &conf->seed)
            != 0)
        {
            return -1;
        }
        return 0;

    case EVAL_OPT_LIMIT:
        if (eval_args_long("--limit", arg, 1, LONG_MAX, &v) != 0) {
            return -1;
        }
        conf->limit = (unsigned long) v;
        return 0;

    }

    return -2;
}


/* --param, --judge-param: KEY=JSON (else sent as a string) */

static int
eval_args_param(relabel_param_t **params, size_t *n, const char *name,
    const char *arg)
{
    relabel_param_t  *np;

    np = realloc(*params, (*n + 1) * sizeof(relabel_param_t));
    if (np == NULL) {
        fprintf(stderr, "moa-eval: out of memory\n");
        return -1;
    }

    *params = np;

    if (relabel_record_param_parse(arg, &np[*n]) != 0) {
        fprintf(stderr, "moa-eval: %s: \"%s\" is not KEY=VALUE\n", name,
                arg);
        return -1;
    }

    (*n)++;

    return 0;
}


int
eval_args_parse(int argc, char **argv, eval_conf_t *conf)
{
    int                 c, rc;
    struct curl_slist  *user, *l;

    conf->url = EVAL_DEFAULT_URL;
    conf->out_path = "moa-eval.jsonl";
    conf->concurrency = 8;
    conf->retries = 5;
    conf->bootstrap = 1000;
    conf->seed = 1;
    conf->timeout_ms = 600000;
    conf->connect_timeout_ms = 10000;
    conf->retry_after_max_ms = 120000;

    user = NULL;
    opterr = 0;

    while ((c = getopt_long(argc, argv, ":u:m:b:j:o:p:H:c:r:t:nkqvhV",
                            eval_args_options, NULL)) != -1)
    {
        switch (c) {
        case 'u': conf->url = optarg; break;
        case 'm': conf->model = optarg; break;
        case 'b': conf->baseline = optarg; break;
        case 'j': conf->judge = optarg; break;
        case 'o': conf->out_path = optarg; break;
        case 'n': conf->dry_run = 1; break;
        case 'k': conf->insecure = 1; break;
        case 'q': conf->quiet = 1; break;
        case 'v': conf->verbose = 1; break;
        case EVAL_OPT_BASELINE_ANSWERS: conf->baseline_answers = optarg; break;
        case EVAL_OPT_JUDGE_URL: conf->judge_url = optarg; break;
        case EVAL_OPT_API_KEY: conf->api_key = optarg; break;
        case EVAL_OPT_JUDGE_API_KEY: conf->judge_api_key = optarg; break;
        case EVAL_OPT_REPORT: conf->report_path = optarg; break;
        case EVAL_OPT_PICTURE: conf->picture_path = optarg; break;
        case EVAL_OPT_TEMPLATE: conf->template_path = optarg; break;

        case 'p':
        case EVAL_OPT_JUDGE_PARAM:
            if (eval_args_param(c == 'p' ? &conf->params : &conf->judge_params,
                                c == 'p' ? &conf->nparams
                                         : &conf->njudge_params,
                                c == 'p' ? "--param" : "--judge-param",
                                optarg) != 0)
            {
                goto fail;
            }
            break;

        case 'H':
            if (strchr(optarg, ':') == NULL) {
                fprintf(stderr, "moa-eval: --header: \"%s\" is not "
                        "'NAME: VALUE'\n", optarg);
                goto fail;
            }
            l = curl_slist_append(user, optarg);
            if (l == NULL) {
                goto nomem;
            }
            user = l;
            break;

        case 'h':
            fputs(eval_usage, stdout);
            curl_slist_free_all(user);
            exit(EVAL_EXIT_OK);

        case EVAL_OPT_PRINT_TEMPLATE:
            fputs(eval_judge_default_template, stdout);
            curl_slist_free_all(user);
            exit(EVAL_EXIT_OK);

        case 'V':
            printf("moa-eval %s (ngx_http_moa_module; %s)\n", EVAL_VERSION,
                   curl_version());
            curl_slist_free_all(user);
            exit(EVAL_EXIT_OK);

        case ':':
            fprintf(stderr, "moa-eval: %s needs a value\n", argv[optind - 1]);
            goto usage;

        default:
            rc = eval_args_number(conf, c, optarg);

            if (rc == -1) {
                goto fail;
            }

            if (rc == -2) {
                fprintf(stderr, "moa-eval: unknown option %s\n",
                        argv[optind - 1]);
                goto usage;
            }
        }
    }

    if (argc - optind != 1) {
        fprintf(stderr, "moa-eval: %s\n", argc - optind == 0
                ? "no PROMPTS.jsonl given" : "one PROMPTS.jsonl only");
        goto usage;
    }

    conf->in_path = argv[optind];

    if (eval_args_check(conf, user) != 0) {
        goto fail;
    }

    curl_slist_free_all(user);

    return 0;

usage:

    fprintf(stderr, "Try 'moa-eval --help'.\n");

fail:

    curl_slist_free_all(user);
    return -1;

nomem:

    fprintf(stderr, "moa-eval: out of memory\n");
    curl_slist_free_all(user);
    return -1;
}


/* what the options must say together; keys, headers, the template */

static int
eval_args_check(eval_conf_t *conf, struct curl_slist *user)
{
    const char  *ext;

    if (conf->model == NULL || conf->judge == NULL) {
        fprintf(stderr, "moa-eval: %s is required\n",
                conf->model == NULL ? "--model" : "--judge");
        return -1;
    }

    if ((conf->baseline == NULL) == (conf->baseline_answers == NULL)) {
        fprintf(stderr, "moa-eval: give one of --baseline MODEL and "
                "--baseline-answers FILE\n");
        return -1;
    }

    if (conf->picture_path) {
        ext = strrchr(conf->picture_path, '.');

        if (ext == NULL || strcasecmp(ext, ".svg") != 0) {
            fprintf(stderr, "moa-eval: --picture: \"%s\": only SVG is "
                    "written (name it .svg; rsvg-convert makes a PNG of "
                    "it)\n", conf->picture_path);
            return -1;
        }
    }

    if (conf->judge_url == NULL) {
        conf->judge_url = conf->url;
    }

    if (conf->api_key == NULL) {
        conf->api_key = getenv("OPENAI_API_KEY");
    }

    if (conf->judge_api_key == NULL) {
        conf->judge_api_key = getenv("MOA_EVAL_JUDGE_API_KEY");
    }

    if (conf->judge_api_key == NULL) {
        conf->judge_api_key = conf->api_key;
    }

    if (eval_args_headers(&conf->headers, conf->api_key, user) != 0
        || eval_args_headers(&conf->judge_headers, conf->judge_api_key, user)
           != 0)
    {
        fprintf(stderr, "moa-eval: out of memory\n");
        return -1;
    }

    return eval_args_template(conf);
}


static int
eval_args_headers(struct curl_slist **out, const char *key,
    struct curl_slist *user)
{
    int                 have_auth;
    char               *h;
    size_t              n;
    struct curl_slist  *l, *u;

    have_auth = 0;

    for (u = user; u; u = u->next) {
        if (strncasecmp(u->data, "authorization:", 14) == 0) {
            have_auth = 1;
        }
    }

    l = curl_slist_append(NULL, "Content-Type: application/json");
    *out = l;

    if (l) {
        l = curl_slist_append(*out, "Accept: application/json");
    }

    if (l) {
        l = curl_slist_append(*out, "Expect:");
    }

    if (l && key && *key && !have_auth) {
        n = strlen(key) + sizeof("Authorization: Bearer ");
        h = malloc(n);
        if (h == NULL) {
            return -1;
        }
        snprintf(h, n, "Authorization: Bearer %s", key);
        l = curl_slist_append(*out, h);
        free(h);
    }

    for (u = user; u && l; u = u->next) {
        l = curl_slist_append(*out, u->data);
    }

    return l == NULL ? -1 : 0;
}


/* the judge template: a file, checked, or the built-in one */

static int
eval_args_template(eval_conf_t *conf)
{
    char    err[EVAL_ERRLEN], *t;
    FILE   *f;
    long    size;
    size_t  n;

    if (conf->template_path == NULL) {
        return 0;
    }

    f = fopen(conf->template_path, "r");
    if (f == NULL) {
        fprintf(stderr, "moa-eval: --template: %s: %s\n", conf->template_path,
                strerror(errno));
        return -1;
    }

    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0 || size > 16 * 1024 * 1024)
    {
        fprintf(stderr, "moa-eval: --template: %s: not a readable file of "
                "at most 16 MiB\n", conf->template_path);
        fclose(f);
        return -1;
    }

    t = malloc((size_t) size + 1);
    if (t == NULL) {
        fclose(f);
        fprintf(stderr, "moa-eval: out of memory\n");
        return -1;
    }

    n = fread(t, 1, (size_t) size, f);
    fclose(f);
    t[n] = '\0';

    if (strlen(t) != n) {
        fprintf(stderr, "moa-eval: --template: %s: holds a NUL byte\n",
                conf->template_path);
        free(t);
        return -1;
    }

    if (eval_judge_template_check(t, err, sizeof(err)) != 0) {
        fprintf(stderr, "moa-eval: --template: %s: %s\n", conf->template_path,
                err);
        free(t);
        return -1;
    }

    conf->template = t;

    return 0;
}


void
eval_args_free(eval_conf_t *conf)
{
    size_t  i;

    for (i = 0; i < conf->nparams; i++) {
        free(conf->params[i].key);
        free(conf->params[i].value);
    }

    for (i = 0; i < conf->njudge_params; i++) {
        free(conf->judge_params[i].key);
        free(conf->judge_params[i].value);
    }

    free(conf->params);
    free(conf->judge_params);
    free(conf->template);
    curl_slist_free_all(conf->headers);
    curl_slist_free_all(conf->judge_headers);
}
