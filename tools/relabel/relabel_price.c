
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel --batch: token prices (a small built-in table of OpenAI's
 * published prices, and --price MODEL=IN/OUT[/BATCH_IN/BATCH_OUT]) and the
 * cost arithmetic: tokens / 1,000,000 x the price per million.
 */


#define _GNU_SOURCE

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "relabel_batch.h"


/*
 * USD per million tokens, synchronous and Batch API, as OpenAI published
 * them on RELABEL_PRICE_SNAPSHOT.  A snapshot: prices change, and
 * --price overrides any of them.
 */
static const relabel_price_t  relabel_price_table[] = {
    { "gpt-4o",         2.50, 10.00, 1.25,  5.00 },
    { "gpt-4o-mini",    0.15,  0.60, 0.075, 0.30 },
    { "gpt-4.1",        2.00,  8.00, 1.00,  4.00 },
    { "gpt-4.1-mini",   0.40,  1.60, 0.20,  0.80 },
    { "gpt-4.1-nano",   0.10,  0.40, 0.05,  0.20 },
    { "o3",             2.00,  8.00, 1.00,  4.00 },
    { "o3-mini",        1.10,  4.40, 0.55,  2.20 },
    { "o4-mini",        1.10,  4.40, 0.55,  2.20 },
    { "gpt-4-turbo",   10.00, 30.00, 5.00, 15.00 },
    { "gpt-3.5-turbo",  0.50,  1.50, 0.25,  0.75 },
    { NULL, 0, 0, 0, 0 }
};


static int
relabel_price_number(const char **p, double *v)
{
    char  *end;

    errno = 0;
    *v = strtod(*p, &end);

    if (errno || end == *p || !(*v >= 0) || *v > 1e6) {
        return -1;
    }

    *p = end;

    return 0;
}


/*
 * MODEL=IN/OUT or MODEL=IN/OUT/BATCH_IN/BATCH_OUT (USD per million
 * tokens); without batch prices they are half the synchronous ones, as
 * OpenAI's Batch API charges.  *model is allocated (p->model points to it).
 */
int
relabel_price_parse(const char *arg, relabel_price_t *p, char **model)
{
    const char  *eq, *s;

    memset(p, 0, sizeof(relabel_price_t));
    *model = NULL;

    eq = strchr(arg, '=');
    if (eq == NULL || eq == arg) {
        return -1;
    }

    s = eq + 1;

    if (relabel_price_number(&s, &p->in) != 0 || *s++ != '/'
        || relabel_price_number(&s, &p->out) != 0)
    {
        return -1;
    }

    if (*s == '\0') {
        p->batch_in = p->in / 2;
        p->batch_out = p->out / 2;

    } else if (*s++ != '/' || relabel_price_number(&s, &p->batch_in) != 0
               || *s++ != '/' || relabel_price_number(&s, &p->batch_out) != 0
               || *s != '\0')
    {
        return -1;
    }

    *model = strndup(arg, eq - arg);
    if (*model == NULL) {
        return -1;
    }

    p->model = *model;

    return 0;
}


/* whether name is entry, or entry with a dated snapshot: gpt-4o-2024-08-06 */
static int
relabel_price_matches(const char *entry, const char *name)
{
    size_t  n;

    n = strlen(entry);

    if (strncmp(entry, name, n) != 0) {
        return 0;
    }

    return name[n] == '\0'
           || (name[n] == '-' && name[n + 1] >= '0' && name[n + 1] <= '9');
}


/* the user's prices first, then the table; NULL when the model is unknown */
const relabel_price_t *
relabel_price_find(const relabel_price_t *user, size_t nuser,
    const char *model)
{
    size_t                  i;
    const relabel_price_t  *t;

    for (i = nuser; i > 0; i--) {
        /* the last --price of a model wins */
        if (strcmp(user[i - 1].model, model) == 0) {
            return &user[i - 1];
        }
    }

    for (t = relabel_price_table; t->model; t++) {
        if (relabel_price_matches(t->model, model)) {
            return t;
        }
    }

    return NULL;
}


/* USD for the tokens at in and out USD per million */
double
relabel_price_cost(long long prompt, long long completion, double in,
    double out)
{
    return (double) prompt / 1e6 * in + (double) completion / 1e6 * out;
}
