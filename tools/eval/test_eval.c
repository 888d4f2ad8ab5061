
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * Unit tests of moa-eval's pure parts (TAP): verdict labels and the judge
 * prompt (eval_judge.c), the statistics (eval_stats.c), prompt and answer
 * lines (eval_input.c).  Run by t/600-eval-unit.t.
 */


#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "eval.h"


#define S(s)  s, sizeof(s) - 1

#define near(got, want, eps, ...)                                            \
    ok(fabs((got) - (want)) < (eps), __VA_ARGS__)


static void
test_verdicts(void)
{
    is_int(eval_judge_verdict_parse(S("so: [[A>>B]]")), 2, "A>>B is 2");
    is_int(eval_judge_verdict_parse(S("so: [[A>B]]")), 1, "A>B is 1");
    is_int(eval_judge_verdict_parse(S("so: [[A=B]]")), 0, "A=B is 0");
    is_int(eval_judge_verdict_parse(S("so: [[B>A]]")), -1, "B>A is -1");
    is_int(eval_judge_verdict_parse(S("so: [[B>>A]]")), -2, "B>>A is -2");
    is_int(eval_judge_verdict_parse(S("[[B=A]]")), 0, "B=A is a tie too");
    is_int(eval_judge_verdict_parse(S("[[A<B]]")), -1, "A<B is B>A");
    is_int(eval_judge_verdict_parse(S("[[a>>b]]")), 2, "lower case");
    is_int(eval_judge_verdict_parse(S("[[ B > A ]]")), -1, "blanks inside");
    is_int(eval_judge_verdict_parse(S("no verdict here")), EVAL_VERDICT_NONE,
           "no label");
    is_int(eval_judge_verdict_parse(S("[[A>B]] then [[B>A]]")),
           EVAL_VERDICT_NONE, "two labels that disagree");
    is_int(eval_judge_verdict_parse(S("[[A>B]] ... so [[A>B]]")), 1,
           "the same label twice");
    is_int(eval_judge_verdict_parse(S("[[A>>A]]")), EVAL_VERDICT_NONE,
           "A against A");
    is_int(eval_judge_verdict_parse(S("[[C>B]]")), EVAL_VERDICT_NONE,
           "a third letter");
    is_int(eval_judge_verdict_parse(S("[[A>B]")), EVAL_VERDICT_NONE,
           "one bracket short");
    is_int(eval_judge_verdict_parse(S("[A>B]")), EVAL_VERDICT_NONE,
           "single brackets");
    is_int(eval_judge_verdict_parse(S("```\n[[B>>A]]\n```\n[[A>B]]")), 1,
           "a label in a code fence is a quote");
    is_int(eval_judge_verdict_parse(S("labels like `[[B>>A]]`: [[A=B]]")), 0,
           "a label in inline code is a quote");
    is_int(eval_judge_verdict_parse(S("```\n[[B>>A]]\n```")),
           EVAL_VERDICT_NONE, "only a quoted label: none");
    is_int(eval_judge_verdict_parse(S("a ` stray\n[[B>A]]")), -1,
           "an unclosed backtick ends with its line");
    is_int(eval_judge_verdict_parse(S("[[[A>B]]]")), 1, "extra brackets");
    is_int(eval_judge_verdict_parse("", 0), EVAL_VERDICT_NONE, "empty");
    is_int(eval_judge_verdict_parse(S("[[")), EVAL_VERDICT_NONE, "cut short");

    is_int(eval_judge_outcome(2, 0), -2, "game 0: A is the baseline");
    is_int(eval_judge_outcome(-1, 0), 1, "game 0: B>A is a model win");
    is_int(eval_judge_outcome(2, 1), 2, "game 1: A is the model");
    is_int(eval_judge_outcome(EVAL_VERDICT_NONE, 1), EVAL_VERDICT_NONE,
           "no verdict stays none");

    is_str(eval_judge_verdict_name(-2), "B>>A", "name of -2");
    is_int(eval_judge_verdict_value("A>B"), 1, "value of A>B");
    is_int(eval_judge_verdict_value("X"), EVAL_VERDICT_NONE, "unknown name");
    ok(eval_judge_verdict_name(5) == NULL, "no name for 5");
}


static void
test_prompt(void)
{
    char                err[EVAL_ERRLEN];
    ngx_http_moa_buf_t  b;

    memset(&b, 0, sizeof(ngx_http_moa_buf_t));

    ok(eval_judge_prompt(&b, "Q={question} A={answer_a} B={answer_b} {x}",
                         "why?", "one {answer_b}", "two") == 0, "filled");
    is_str(b.data, "Q=why? A=one {answer_b} B=two {x}",
           "placeholders replaced once, not in what replaced them");

    ok(eval_judge_prompt(&b, eval_judge_default_template, "QQ", "AA", "BB")
       == 0, "the default template");
    ok(strstr(b.data, "<|User Prompt|>\nQQ\n") != NULL, "question in it");
    ok(strstr(b.data, "Answer|>\nAA\n<|The End of Assistant A") != NULL,
       "answer A in its place");
    ok(strstr(b.data, "Answer|>\nBB\n<|The End of Assistant B") != NULL,
       "answer B in its place");

    ok(eval_judge_template_check(eval_judge_default_template, err,
                                 sizeof(err)) == 0, "default template valid");
    ok(eval_judge_template_check("{question} {answer_a}", err, sizeof(err))
       == -1, "a template without {answer_b}");
    ok(strstr(err, "{answer_b}") != NULL, "the error names it");

    ngx_http_moa_buf_free(&b);
}


static void
test_rng(void)
{
    eval_rng_t  r, r2;

    eval_stats_rng_seed(&r, 1);
    is_int(eval_stats_rng_next(&r), 3394131486u, "xorshift128, seed 1: 1st");
    is_int(eval_stats_rng_next(&r), 3505566929u, "2nd");
    is_int(eval_stats_rng_next(&r), 3789439552u, "3rd");

    eval_stats_rng_seed(&r, 7);
    eval_stats_rng_seed(&r2, 8);
    ok(eval_stats_rng_next(&r) != eval_stats_rng_next(&r2),
       "another seed, other draws");
}


static void
test_stats(void)
{
    size_t       i;
    double       lo, hi, lo2, hi2, v[5] = { 5, 1, 4, 2, 3 };
    double       d[2] = { 1, -1 }, x[2], d0[3] = { 4, 4, 4 }, x0[3];
    eval_lc_t    lc;
    eval_item_t  it[4], grp[40];

    is_int((long long) eval_stats_weight(2), 3, "a strong win counts 3");
    is_int((long long) eval_stats_weight(-2), 3, "a strong loss counts 3");
    is_int((long long) eval_stats_weight(1), 1, "a win counts 1");
    near(eval_stats_score(0), 0.5, 1e-12, "a tie is half a win");
    near(eval_stats_score(-1), 0, 1e-12, "a loss is 0");

    near(eval_stats_percentile(v, 5, 0.5), 3, 1e-12, "median of 1..5");
    near(eval_stats_percentile(v, 5, 0.025), 1.1, 1e-12,
         "2.5th percentile interpolated");
    near(eval_stats_percentile(v, 5, 1), 5, 1e-12, "the maximum");

    eval_stats_normalize(d, 2, x);
    near(x[0], 0.6088593650139138, 1e-12, "tanh(1 / sd) with sd = sqrt 2");
    near(x[1], -0.6088593650139138, 1e-12, "and its negative");
    eval_stats_normalize(d0, 3, x0);
    near(x0[0] + x0[1] + x0[2], 0, 1e-12, "no spread: all 0");

    memset(it, 0, sizeof(it));
    it[0].score = 3; it[0].games = 3;            /* a strong win */
    it[1].score = 0; it[1].games = 2;            /* two losses */
    it[2].score = 1; it[2].games = 2;            /* a win and a loss */
    near(eval_stats_winrate(it, NULL, 3), 4.0 / 7, 1e-12,
         "win rate: 4 of 7 weighted games");

    /* no length spread: LC is the plain win rate */
    ok(eval_stats_lc(it, NULL, 3, &lc) == 0, "LC fit");
    near(lc.winrate, 4.0 / 7, 1e-9, "LC without spread = win rate");
    near(lc.b1, 0, 1e-12, "slope 0");

    /* two groups at x = +-1 with rates 0.8, 0.4: a closed form */
    memset(grp, 0, sizeof(grp));

    for (i = 0; i < 20; i++) {
        grp[i].x = 1;
        grp[i].games = 1;
        grp[i].score = i < 16;
        grp[20 + i].x = -1;
        grp[20 + i].games = 1;
        grp[20 + i].score = i < 8;
    }

    ok(eval_stats_lc(grp, NULL, 40, &lc) == 0 && lc.converged,
       "LC fit converges");
    near(lc.b0, (log(4) + log(0.4 / 0.6)) / 2, 1e-8,
         "b0 = mean of the two groups' logits");
    near(lc.b1, (log(4) - log(0.4 / 0.6)) / 2, 1e-8, "b1 = half their gap");
    near(lc.winrate, 1 / (1 + exp(-lc.b0)), 1e-12, "LC = sigmoid(b0)");

    /* separated: all wins, the rate tends to 1 without blowing up */
    ok(eval_stats_lc(grp, NULL, 16, &lc) == 0 && lc.winrate > 0.999,
       "all wins: LC near 1");

    ok(eval_stats_bootstrap(it, 3, 200, 1, 0, &lo, &hi) == 0, "bootstrap");
    ok(lo <= 4.0 / 7 && hi >= 4.0 / 7 && lo >= 0 && hi <= 1,
       "the CI holds the estimate");
    eval_stats_bootstrap(it, 3, 200, 1, 0, &lo2, &hi2);
    ok(lo == lo2 && hi == hi2, "same seed, same interval");

    memset(it, 0, sizeof(it));

    for (i = 0; i < 4; i++) {
        it[i].score = 1;
        it[i].games = 2;
    }

    eval_stats_bootstrap(it, 4, 100, 3, 0, &lo, &hi);
    ok(lo == 0.5 && hi == 0.5, "identical prompts: a zero-width CI");
    eval_stats_bootstrap(it, 0, 100, 3, 0, &lo, &hi);
    ok(isnan(lo) && isnan(hi), "no prompts: no CI");
}


static void
test_input(void)
{
    char           err[EVAL_ERRLEN], *id, *content;
    eval_prompt_t  p;

    ok(eval_input_parse(S("{\"messages\":[{\"role\":\"user\",\"content\":"
                          "\"Hi?\"},{\"role\":\"assistant\",\"content\":"
                          "\"old\"}],\"metadata\":{\"uid\":\"u1\","
                          "\"category\":\"chat\"}}"), 1, &p, err,
                        sizeof(err)) == 0, "fine-tuning line");
    is_str(p.messages, "[{\"role\":\"user\",\"content\":\"Hi?\"}]",
           "the final assistant message dropped");
    is_str(p.question, "Hi?", "one user message: the question");
    is_str(p.id, "u1", "id from metadata.uid");
    is_str(p.category, "chat", "category from metadata");
    eval_input_prompt_free(&p);

    ok(eval_input_parse(S("{\"messages\":[{\"role\":\"system\",\"content\":"
                          "\"S\"},{\"role\":\"user\",\"content\":\"U1\"},"
                          "{\"role\":\"assistant\",\"content\":\"A1\"},"
                          "{\"role\":\"user\",\"content\":[{\"type\":"
                          "\"text\",\"text\":\"U2\"}]}]}"), 7, &p, err,
                        sizeof(err)) == 0, "a conversation");
    is_str(p.question, "system: S\n\nuser: U1\n\nassistant: A1\n\nuser: U2",
           "the judge reads the whole conversation");
    is_str(p.id, "line-7", "no id: the line number");
    is_str(p.category, "", "no category");
    eval_input_prompt_free(&p);

    ok(eval_input_parse(S("{\"question_id\":\"q9\",\"category\":\"code\","
                          "\"turns\":[{\"content\":\"Sort it\"}]}"), 2, &p,
                        err, sizeof(err)) == 0, "Arena-Hard question");
    is_str(p.messages, "[{\"role\":\"user\",\"content\":\"Sort it\"}]",
           "sent as one user message");
    is_str(p.id, "q9", "question_id");
    is_str(p.category, "code", "category");
    eval_input_prompt_free(&p);

    ok(eval_input_parse(S("{\"question_id\":3,\"turns\":[{\"content\":\"a\"},"
                          "{\"content\":\"b\"}]}"), 3, &p, err, sizeof(err))
       == -1, "multi-turn question refused");
    ok(strstr(err, "single-turn") != NULL, "saying why");
    ok(eval_input_parse(S("[1,2]"), 1, &p, err, sizeof(err)) == -1,
       "not an object");
    ok(eval_input_parse(S("{\"messages\":"), 1, &p, err, sizeof(err)) == -1,
       "cut JSON");
    ok(eval_input_parse(S("{\"messages\":[{\"role\":\"assistant\","
                          "\"content\":\"x\"}]}"), 1, &p, err, sizeof(err))
       == -1, "no user message");
    ok(eval_input_parse(S("{\"messages\":[1]}"), 1, &p, err, sizeof(err))
       == -1, "a message that is not an object");
    ok(eval_input_parse(S("{\"prompt\":\"x\"}"), 1, &p, err, sizeof(err))
       == -1, "neither format");

    ok(eval_input_answer_parse(S("{\"question_id\":\"q9\",\"choices\":[{"
                                 "\"index\":0,\"turns\":[{\"content\":"
                                 "\"ans\"}]}]}"), 1, &id, &content, err,
                               sizeof(err)) == 0, "Arena-Hard answer");
    is_str(id, "q9", "its id");
    is_str(content, "ans", "its text");
    free(id);
    free(content);

    ok(eval_input_answer_parse(S("{\"messages\":[{\"role\":\"user\","
                                 "\"content\":\"q\"},{\"role\":\"assistant\","
                                 "\"content\":\"rec\"}]}"), 4, &id, &content,
                               err, sizeof(err)) == 0,
       "fine-tuning answer");
    is_str(id, "line-4", "by line");
    is_str(content, "rec", "the final assistant message");
    free(id);
    free(content);

    ok(eval_input_answer_parse(S("{\"id\":\"x\",\"answer\":\"y\"}"), 1, &id,
                               &content, err, sizeof(err)) == 0
       && strcmp(content, "y") == 0, "{id, answer}");
    free(id);
    free(content);

    ok(eval_input_answer_parse(S("{\"id\":\"x\"}"), 1, &id, &content, err,
                               sizeof(err)) == -1, "no answer in it");
}


int
main(void)
{
    test_verdicts();
    test_prompt();
    test_rng();
    test_stats();
    test_input();

    return done_testing();
}
