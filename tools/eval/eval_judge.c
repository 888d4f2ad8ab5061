
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-eval: the judge.  The built-in prompt template (the method of
 * Arena-Hard-Auto: the judge answers the prompt itself, compares both
 * answers with its own, ends with one verdict label), filling a template,
 * and reading the verdict label out of the judge's reply.
 */


#include <string.h>

#include "eval.h"


/* the placeholders of a template */
#define EVAL_PH_QUESTION   "{question}"
#define EVAL_PH_A          "{answer_a}"
#define EVAL_PH_B          "{answer_b}"


const char  eval_judge_default_template[] =
"Please act as an impartial judge and evaluate the quality of the answers "
"that two AI assistants gave to the user prompt shown below.\n"
"\n"
"Begin by writing your own answer to the prompt. Then compare both "
"assistants' answers with yours: point out and correct any mistake or "
"inaccurate information. Judge whether each answer is helpful (it does "
"what the prompt asks; when the prompt is ambiguous, asking for "
"clarification is better than guessing), relevant (every part of it "
"relates to the prompt) and concise (clear, not verbose). Where it "
"matters, weigh creativity and novelty, and note important information an "
"answer leaves out. Do not let the order in which the answers appear, "
"their length, or the assistants' names influence you.\n"
"\n"
"After your explanation, end with exactly one of these verdict labels:\n"
"1. Assistant A is significantly better: [[A>>B]]\n"
"2. Assistant A is slightly better: [[A>B]]\n"
"3. Tie, relatively the same: [[A=B]]\n"
"4. Assistant B is slightly better: [[B>A]]\n"
"5. Assistant B is significantly better: [[B>>A]]\n"
"\n"
"Example output: \"My final verdict is tie: [[A=B]]\".\n"
"\n"
"<|User Prompt|>\n"
EVAL_PH_QUESTION "\n"
"\n"
"<|The Start of Assistant A's Answer|>\n"
EVAL_PH_A "\n"
"<|The End of Assistant A's Answer|>\n"
"\n"
"<|The Start of Assistant B's Answer|>\n"
EVAL_PH_B "\n"
"<|The End of Assistant B's Answer|>\n";


static const char  *eval_judge_names[] = {
    "B>>A", "B>A", "A=B", "A>B", "A>>B"
};


static int eval_judge_label(const char *p, const char *end, int *verdict);


/* a template must hold each of the three placeholders */

int
eval_judge_template_check(const char *tpl, char *err, size_t errlen)
{
    const char  *ph[3] = { EVAL_PH_QUESTION, EVAL_PH_A, EVAL_PH_B };
    int          i;

    for (i = 0; i < 3; i++) {
        if (strstr(tpl, ph[i]) == NULL) {
            snprintf(err, errlen, "the judge template has no %s placeholder "
                     "(it needs {question}, {answer_a} and {answer_b})",
                     ph[i]);
            return -1;
        }
    }

    return 0;
}


/* the template with its placeholders replaced (once, not rescanned) */

int
eval_judge_prompt(ngx_http_moa_buf_t *b, const char *tpl,
    const char *question, const char *a, const char *b_answer)
{
    const char  *p, *v;

    b->len = 0;
    p = tpl;

    while (*p) {
        v = NULL;

        if (*p == '{') {
            if (strncmp(p, EVAL_PH_QUESTION, sizeof(EVAL_PH_QUESTION) - 1)
                == 0)
            {
                v = question;
                p += sizeof(EVAL_PH_QUESTION) - 1;

            } else if (strncmp(p, EVAL_PH_A, sizeof(EVAL_PH_A) - 1) == 0) {
                v = a;
                p += sizeof(EVAL_PH_A) - 1;

            } else if (strncmp(p, EVAL_PH_B, sizeof(EVAL_PH_B) - 1) == 0) {
                v = b_answer;
                p += sizeof(EVAL_PH_B) - 1;
            }
        }

        if (v) {
            ngx_http_moa_buf_cstr(b, v);
            continue;
        }

        ngx_http_moa_buf_add(b, p, 1);
        p++;
    }

    return ngx_http_moa_buf_cstring(b) ? 0 : -1;
}


/*
 * One label at p ("[[" seen): [[X op Y]] with X, Y the letters A and B
 * (either case), op one of >> > = < <<, blanks allowed around them.
 * *verdict gets it from A's side (2 for A>>B .. -2 for B>>A).
 */

static int
eval_judge_label(const char *p, const char *end, int *verdict)
{
    int   x, y, op, v;

    p += 2;

    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    if (p >= end) {
        return -1;
    }

    x = (*p == 'A' || *p == 'a') ? 'A' : (*p == 'B' || *p == 'b') ? 'B' : 0;
    if (x == 0) {
        return -1;
    }

    p++;

    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    if (end - p >= 2 && p[0] == '>' && p[1] == '>') {
        op = 2;
        p += 2;

    } else if (end - p >= 2 && p[0] == '<' && p[1] == '<') {
        op = -2;
        p += 2;

    } else if (p < end && (*p == '>' || *p == '<' || *p == '=')) {
        op = *p == '>' ? 1 : *p == '<' ? -1 : 0;
        p++;

    } else {
        return -1;
    }

    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    if (p >= end) {
        return -1;
    }

    y = (*p == 'A' || *p == 'a') ? 'A' : (*p == 'B' || *p == 'b') ? 'B' : 0;
    if (y == 0 || y == x) {
        return -1;
    }

    p++;

    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    if (end - p < 2 || p[0] != ']' || p[1] != ']') {
        return -1;
    }

    v = x == 'A' ? op : -op;
    *verdict = v;

    return 0;
}


/*
 * The verdict of a judge's reply, from A's side (2 .. -2), or
 * EVAL_VERDICT_NONE: no label, or labels that disagree.  Labels inside
 * code (``` fences, `inline`) are quotes, not verdicts, and are skipped;
 * the same label repeated is one verdict.
 */

int
eval_judge_verdict_parse(const char *text, size_t len)
{
    int          fence, inline_code, found, v, verdict;
    const char  *p, *end;

    fence = 0;
    inline_code = 0;
    found = 0;
    verdict = EVAL_VERDICT_NONE;
    p = text;
    end = text + len;

    while (p < end) {
        if (end - p >= 3 && p[0] == '`' && p[1] == '`' && p[2] == '`') {
            fence = !fence;
            inline_code = 0;
            p += 3;
            continue;
        }

        if (*p == '`' && !fence) {
            inline_code = !inline_code;
            p++;
            continue;
        }

        if (*p == '\n') {
            /* an unclosed ` ends with its line */
            inline_code = 0;
        }

        if (!fence && !inline_code && end - p >= 2 && p[0] == '['
            && p[1] == '[' && eval_judge_label(p, end, &v) == 0)
        {
            if (found && v != verdict) {
                return EVAL_VERDICT_NONE;
            }

            found = 1;
            verdict = v;
        }

        p++;
    }

    return verdict;
}


/*
 * The verdict from the model's side: game 0 shows the baseline as A and
 * the model as B, game 1 the other way round.
 */

int
eval_judge_outcome(int verdict, int game)
{
    if (verdict == EVAL_VERDICT_NONE) {
        return EVAL_VERDICT_NONE;
    }

    return game == 0 ? -verdict : verdict;
}


const char *
eval_judge_verdict_name(int verdict)
{
    if (verdict < -2 || verdict > 2) {
        return NULL;
    }

    return eval_judge_names[verdict + 2];
}


int
eval_judge_verdict_value(const char *name)
{
    int  i;

    for (i = 0; i < 5; i++) {
        if (strcmp(name, eval_judge_names[i]) == 0) {
            return i - 2;
        }
    }

    return EVAL_VERDICT_NONE;
}
