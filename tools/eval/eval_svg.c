
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-eval --picture: an SVG written by hand.  Top: the model's win rate
 * per category (and over all prompts) as horizontal bars on a 0-100%
 * axis, with the 95% bootstrap interval as whiskers and a line at 50%
 * (as good as the baseline).  Bottom: tokens per answer per contender,
 * prompt and completion stacked.  Only SVG: a PNG would need a rasterizer
 * for the text, which no small Debian library gives honestly.
 */


#include <math.h>
#include <stdio.h>
#include <string.h>

#include "eval_run.h"


#define EVAL_SVG_W        800
#define EVAL_SVG_LABEL    250      /* the labels' column */
#define EVAL_SVG_PLOT     470      /* the plot's width */
#define EVAL_SVG_ROW      28
#define EVAL_SVG_BAR      16


static void
eval_svg_text(FILE *f, const char *s, size_t max)
{
    size_t  n;

    /* a label is cut at max bytes (at a character's start) */
    for (n = 0; *s; s++, n++) {
        if (n >= max && ((unsigned char) *s & 0xc0) != 0x80) {
            fputs("...", f);
            return;
        }

        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char) *s >= 0x20) {
                fputc(*s, f);
            }
        }
    }
}


static double
eval_svg_x(double rate)
{
    if (isnan(rate)) {
        rate = 0;
    }

    return EVAL_SVG_LABEL + rate * EVAL_SVG_PLOT;
}


/* the win rate panel, from y; returns the y below it */

static int
eval_svg_rates(FILE *f, int y, const eval_svg_bar_t *bars, size_t n)
{
    int     t, top;
    size_t  i;
    double  x0, x1, xm;

    fprintf(f, "<text x=\"10\" y=\"%d\" font-weight=\"bold\">Win rate of the "
            "model against the baseline (ties half), 95%% CI</text>\n", y);
    y += 14;
    top = y;

    for (t = 0; t <= 100; t += 25) {
        x0 = eval_svg_x(t / 100.0);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
                "stroke=\"#ddd\"/>\n<text x=\"%.1f\" y=\"%d\" "
                "text-anchor=\"middle\" fill=\"#666\">%d%%</text>\n",
                x0, top, x0, top + (int) n * EVAL_SVG_ROW, x0,
                top + (int) n * EVAL_SVG_ROW + 14, t);
    }

    for (i = 0; i < n; i++) {
        y = top + (int) i * EVAL_SVG_ROW + (EVAL_SVG_ROW - EVAL_SVG_BAR) / 2;

        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">",
                EVAL_SVG_LABEL - 8, y + 12);
        eval_svg_text(f, bars[i].name, 40);
        fprintf(f, " (%zu)</text>\n", bars[i].n);

        if (isnan(bars[i].winrate)) {
            fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"#666\">no verdict"
                    "</text>\n", EVAL_SVG_LABEL + 4, y + 12);
            continue;
        }

        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
                "fill=\"%s\"/>\n", EVAL_SVG_LABEL, y,
                eval_svg_x(bars[i].winrate) - EVAL_SVG_LABEL, EVAL_SVG_BAR,
                i == 0 ? "#3b6ea8" : "#7fa6d1");

        if (!isnan(bars[i].lo) && !isnan(bars[i].hi)) {
            x0 = eval_svg_x(bars[i].lo);
            x1 = eval_svg_x(bars[i].hi);
            xm = y + EVAL_SVG_BAR / 2.0;
            fprintf(f, "<path d=\"M%.1f %.1fH%.1fM%.1f %dv%dM%.1f %dv%d\" "
                    "stroke=\"#222\" stroke-width=\"1.5\" fill=\"none\"/>\n",
                    x0, xm, x1, x0, y + 2, EVAL_SVG_BAR - 4, x1, y + 2,
                    EVAL_SVG_BAR - 4);
        }

        fprintf(f, "<text x=\"%d\" y=\"%d\">%.1f%%</text>\n",
                EVAL_SVG_LABEL + EVAL_SVG_PLOT + 8, y + 12,
                bars[i].winrate * 100);
    }

    x0 = eval_svg_x(0.5);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
            "stroke=\"#c33\" stroke-dasharray=\"4 3\"/>\n", x0, top - 4, x0,
            top + (int) n * EVAL_SVG_ROW);

    return top + (int) n * EVAL_SVG_ROW + 40;
}


/* the tokens panel, from y; returns the y below it */

static int
eval_svg_tokens(FILE *f, int y, const char *names[2],
    const double tokens[2][2])
{
    int     k;
    double  max, sum, w0, w1;

    fprintf(f, "<text x=\"10\" y=\"%d\" font-weight=\"bold\">Tokens per "
            "answer (prompt, completion)</text>\n", y);
    y += 14;

    max = 0;

    for (k = 0; k < 2; k++) {
        sum = tokens[k][0] + tokens[k][1];

        if (!isnan(sum) && sum > max) {
            max = sum;
        }
    }

    for (k = 0; k < 2; k++) {
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">",
                EVAL_SVG_LABEL - 8, y + 12);
        eval_svg_text(f, names[k], 40);
        fputs("</text>\n", f);

        if (isnan(tokens[k][0]) || max <= 0) {
            fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"#666\">not measured"
                    "</text>\n", EVAL_SVG_LABEL + 4, y + 12);
            y += EVAL_SVG_ROW;
            continue;
        }

        w0 = tokens[k][0] / max * EVAL_SVG_PLOT;
        w1 = tokens[k][1] / max * EVAL_SVG_PLOT;

        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
                "fill=\"#b9c9dd\"/>\n<rect x=\"%.1f\" y=\"%d\" "
                "width=\"%.1f\" height=\"%d\" fill=\"#3b6ea8\"/>\n"
                "<text x=\"%.1f\" y=\"%d\">%.0f + %.0f</text>\n",
                EVAL_SVG_LABEL, y, w0, EVAL_SVG_BAR, EVAL_SVG_LABEL + w0, y,
                w1, EVAL_SVG_BAR, EVAL_SVG_LABEL + w0 + w1 + 6, y + 12,
                tokens[k][0], tokens[k][1]);

        y += EVAL_SVG_ROW;
    }

    return y + 10;
}


int
eval_svg_write(const char *path, const char *title,
    const eval_svg_bar_t *bars, size_t nbars, const char *names[2],
    const double tokens[2][2])
{
    int    h, y;
    FILE  *f;

    h = 60 + (int) nbars * EVAL_SVG_ROW + 60 + 2 * EVAL_SVG_ROW + 40;

    f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }

    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
            "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" "
            "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" "
            "fill=\"white\"/>\n<text x=\"10\" y=\"22\" font-size=\"15\" "
            "font-weight=\"bold\">", EVAL_SVG_W, h, EVAL_SVG_W, h);
    eval_svg_text(f, "moa-eval: ", 20);
    eval_svg_text(f, title, 200);
    fputs("</text>\n", f);

    y = eval_svg_rates(f, 50, bars, nbars);
    eval_svg_tokens(f, y, names, tokens);

    fputs("</svg>\n", f);

    return fclose(f);
}
