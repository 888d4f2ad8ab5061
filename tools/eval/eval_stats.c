
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-eval: the statistics.  The win rate (strong verdicts count three
 * games, ties half a win), its bootstrap confidence interval over prompts
 * with a seeded generator of our own (xorshift128, so that a test can
 * reproduce the draws in a few lines), and the length-controlled win rate:
 * a logistic regression of the outcome on the normalized length difference,
 * fitted by Newton's method (IRLS) and read at zero difference.
 */


#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"


#define EVAL_LC_MAX_ITER   100
#define EVAL_LC_TOL        1e-10
#define EVAL_LC_MAX_COEF   40.0


static int eval_stats_cmp(const void *a, const void *b);
static int eval_stats_cmp_ll(const void *a, const void *b);


/*
 * The generator: Marsaglia's xorshift128 on 32-bit words; its state comes
 * from the seed through a 32-bit LCG (never all zero).
 */

void
eval_stats_rng_seed(eval_rng_t *r, uint32_t seed)
{
    int       i;
    uint32_t  s;

    s = seed;

    for (i = 0; i < 4; i++) {
        s = s * 1664525u + 1013904223u;
        r->s[i] = s;
    }

    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0) {
        r->s[0] = 1;
    }
}


uint32_t
eval_stats_rng_next(eval_rng_t *r)
{
    uint32_t  t;

    t = r->s[0] ^ (r->s[0] << 11);

    r->s[0] = r->s[1];
    r->s[1] = r->s[2];
    r->s[2] = r->s[3];
    r->s[3] = r->s[3] ^ (r->s[3] >> 19) ^ t ^ (t >> 8);

    return r->s[3];
}


/* how many games a verdict counts for: a strong one three */

double
eval_stats_weight(int outcome)
{
    return (outcome == 2 || outcome == -2) ? 3.0 : 1.0;
}


/* the model's score in each of those games */

double
eval_stats_score(int outcome)
{
    return outcome > 0 ? 1.0 : outcome == 0 ? 0.5 : 0.0;
}


/* the win rate of the prompts idx[0..n) (all when idx is NULL), 0..1 */

double
eval_stats_winrate(const eval_item_t *items, const size_t *idx, size_t n)
{
    size_t              i;
    double              s, g;
    const eval_item_t  *it;

    s = 0;
    g = 0;

    for (i = 0; i < n; i++) {
        it = &items[idx ? idx[i] : i];
        s += it->score;
        g += it->games;
    }

    return g > 0 ? s / g : NAN;
}


static int
eval_stats_cmp(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return x < y ? -1 : x > y;
}


static int
eval_stats_cmp_ll(const void *a, const void *b)
{
    long long  x = *(const long long *) a, y = *(const long long *) b;

    return x < y ? -1 : x > y;
}


/*
 * The q-quantile (0..1) of v, sorted here, interpolated linearly between
 * the two closest ranks (numpy's default, "type 7").
 */

double
eval_stats_percentile(double *v, size_t n, double q)
{
    size_t  k;
    double  pos, frac;

    if (n == 0) {
        return NAN;
    }

    qsort(v, n, sizeof(double), eval_stats_cmp);

    pos = q * (double) (n - 1);
    k = (size_t) floor(pos);
    frac = pos - (double) k;

    if (k + 1 >= n) {
        return v[n - 1];
    }

    return v[k] + frac * (v[k + 1] - v[k]);
}


/* the same for latencies (ms), rounded */

double
eval_stats_quantile_ll(long long *v, size_t n, double q)
{
    size_t  k;
    double  pos, frac;

    if (n == 0) {
        return NAN;
    }

    qsort(v, n, sizeof(long long), eval_stats_cmp_ll);

    pos = q * (double) (n - 1);
    k = (size_t) floor(pos);
    frac = pos - (double) k;

    if (k + 1 >= n) {
        return (double) v[n - 1];
    }

    return (double) v[k] + frac * (double) (v[k + 1] - v[k]);
}


/*
 * The length feature, as AlpacaEval 2 LC: x = tanh(d / sd(d)), d the
 * model's answer length minus the baseline's, sd the sample standard
 * deviation over the prompts; all 0 when d does not vary.
 */

void
eval_stats_normalize(const double *diff, size_t n, double *x)
{
    size_t  i;
    double  mean, ss, sd;

    mean = 0;

    for (i = 0; i < n; i++) {
        mean += diff[i];
    }

    mean = n ? mean / (double) n : 0;
    ss = 0;

    for (i = 0; i < n; i++) {
        ss += (diff[i] - mean) * (diff[i] - mean);
    }

    sd = n > 1 ? sqrt(ss / (double) (n - 1)) : 0;

    for (i = 0; i < n; i++) {
        x[i] = sd > 0 ? tanh(diff[i] / sd) : 0;
    }
}


/*
 * The length-controlled fit: maximum likelihood of logit p = b0 + b1 x
 * over the prompts, each weighted by its games, with the outcome its
 * score / games (a fraction: ties and split pairs are half wins).  Newton
 * steps from 0; when x does not vary the slope is 0 and the intercept is
 * the plain win rate's logit.  Perfectly separated outcomes push the
 * coefficients out: they are capped, so the rate tends to 0 or 1.
 */

int
eval_stats_lc(const eval_item_t *items, const size_t *idx, size_t n,
    eval_lc_t *lc)
{
    int                 it;
    size_t              i;
    double              b0, b1, z, p, w, y, g0, g1, h00, h01, h11, det;
    double              d0, d1, sw, sy;
    const eval_item_t  *t;

    memset(lc, 0, sizeof(eval_lc_t));

    b0 = 0;
    b1 = 0;

    for (it = 1; it <= EVAL_LC_MAX_ITER; it++) {
        g0 = g1 = h00 = h01 = h11 = 0;
        sw = sy = 0;

        for (i = 0; i < n; i++) {
            t = &items[idx ? idx[i] : i];

            if (t->games <= 0) {
                continue;
            }

            w = t->games;
            y = t->score / t->games;
            z = b0 + b1 * t->x;
            p = 1.0 / (1.0 + exp(-z));

            g0 += w * (y - p);
            g1 += w * (y - p) * t->x;
            h00 += w * p * (1 - p);
            h01 += w * p * (1 - p) * t->x;
            h11 += w * p * (1 - p) * t->x * t->x;
            sw += w;
            sy += w * y;
        }

        if (sw == 0) {
            lc->winrate = NAN;
            return -1;
        }

        det = h00 * h11 - h01 * h01;

        if (h00 <= 0) {
            break;
        }

        if (fabs(det) <= 1e-12 * h00 * (h11 > 1 ? h11 : 1)) {
            /* no spread in x: the intercept alone */
            d0 = g0 / h00;
            d1 = -b1;

        } else {
            d0 = (h11 * g0 - h01 * g1) / det;
            d1 = (h00 * g1 - h01 * g0) / det;
        }

        b0 += d0;
        b1 += d1;

        if (b0 > EVAL_LC_MAX_COEF || b0 < -EVAL_LC_MAX_COEF
            || b1 > EVAL_LC_MAX_COEF || b1 < -EVAL_LC_MAX_COEF)
        {
            b0 = b0 > EVAL_LC_MAX_COEF ? EVAL_LC_MAX_COEF
                 : b0 < -EVAL_LC_MAX_COEF ? -EVAL_LC_MAX_COEF : b0;
            b1 = b1 > EVAL_LC_MAX_COEF ? EVAL_LC_MAX_COEF
                 : b1 < -EVAL_LC_MAX_COEF ? -EVAL_LC_MAX_COEF : b1;
            lc->iterations = it;
            break;
        }

        lc->iterations = it;

        if (fabs(d0) < EVAL_LC_TOL && fabs(d1) < EVAL_LC_TOL) {
            lc->converged = 1;
            break;
        }
    }

    lc->b0 = b0;
    lc->b1 = b1;
    lc->winrate = 1.0 / (1.0 + exp(-b0));

    return 0;
}


/*
 * The 95% bootstrap interval: rounds resamples of the prompts with
 * replacement (index = next() * n / 2^32), the statistic of each (the win
 * rate, or the LC win rate with lc set), and the 2.5 and 97.5 percentiles.
 */

int
eval_stats_bootstrap(const eval_item_t *items, size_t n, long rounds,
    uint32_t seed, int lc, double *lo, double *hi)
{
    long        r;
    size_t      i, *idx;
    double     *v;
    eval_lc_t   fit;
    eval_rng_t  rng;

    *lo = NAN;
    *hi = NAN;

    if (n == 0 || rounds <= 0) {
        return 0;
    }

    idx = malloc(n * sizeof(size_t));
    v = malloc((size_t) rounds * sizeof(double));

    if (idx == NULL || v == NULL) {
        free(idx);
        free(v);
        return -1;
    }

    eval_stats_rng_seed(&rng, seed);

    for (r = 0; r < rounds; r++) {
        for (i = 0; i < n; i++) {
            idx[i] = (size_t) (((uint64_t) eval_stats_rng_next(&rng)
                                * (uint64_t) n) >> 32);
        }

        if (lc) {
            eval_stats_lc(items, idx, n, &fit);
            v[r] = fit.winrate;

        } else {
            v[r] = eval_stats_winrate(items, idx, n);
        }
    }

    *lo = eval_stats_percentile(v, (size_t) rounds, 0.025);
    *hi = eval_stats_percentile(v, (size_t) rounds, 0.975);

    free(idx);
    free(v);

    return 0;
}
