# moa_max_total_tokens: every stage's token limit set so that the summed
# usage stays within the cap (the prompts estimated at one token per 3
# bytes), a stage's own smaller limit kept, 400 up front when it cannot
# fit; as max_completion_tokens for a reasoning model.

use lib 't/lib';
use MoaTest;
use Test::Nginx::Socket 'no_plan';

moa_setup();
no_long_string();

our $Critique = "Critique: {{candidates}}\n";
our $Synthesis = "Write the best reply. {{candidates}} {{critiques}}\n";
our $Body = '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"budget"}]}';
our $Tools = '{"model":"moa-gpt-4o-v1","stream":true,"tools":[{"type":"function","function":{"name":"f"}}],"messages":[{"role":"user","content":"budget"}]}';
our $Short = '{"model":"moa-gpt-4o-v1","max_tokens":20,"messages":[{"role":"user","content":"budget"}]}';

sub tok { int(($_[0] + 2) / 3) }

# the limit of the three-prompt chain with N = 3 (README, "A cost cap"):
# 3 (P + m) + (P + critique + 3 (m + 16) + m)
#   + (P + synthesis + 3 (m + 16) + m + 16 + m)
sub limit {
    my ($cap, $body) = @_;
    my $p = tok(length $body);
    my $a = 5 * $p + tok(length $Critique) + tok(length $Synthesis)
            + 2 * 3 * 16 + 16;
    return int(($cap - $a) / 12);
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> critique.txt\n$Critique"
                                    . ">>> synthesis.txt\n$Synthesis");
});

run_tests();

__DATA__

=== TEST 1: every stage gets the same limit, the largest that keeps the sum within the cap
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_critique_prompt ../html/critique.txt;
        moa_synthesis_prompt ../html/synthesis.txt;
        moa_max_total_tokens 2000;
    }
--- mock
{"proposal": {"echo": true}, "critique": {"echo": true}, "synthesis": {"echo": true}}
--- request eval
"POST /v1/chat/completions\n$main::Body"
--- error_code: 200
--- json
my $m = main::limit(2000, $main::Body);
cmp_ok $m, '>=', 16, "the limit ($m)";
my $s = decode_json($r->{choices}[0]{message}{content});
is $s->{max_tokens}, $m, 'the synthesis';
my $prompt = $s->{messages}[-1]{content};
my @limits = $prompt =~ /"max_tokens":(\d+)/g;
is_deeply \@limits, [$m, $m, $m, $m], 'the three proposals and the critique';
--- no_error_log
[alert]
[crit]



=== TEST 2: the client's smaller max_tokens stays on the proposals and the synthesis; the critique gets the budget
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_critique_prompt ../html/critique.txt;
        moa_synthesis_prompt ../html/synthesis.txt;
        moa_max_total_tokens 2000;
    }
--- mock
{"proposal": {"echo": true}, "critique": {"echo": true}, "synthesis": {"echo": true}}
--- request eval
"POST /v1/chat/completions\n$main::Short"
--- error_code: 200
--- json
my $m = main::limit(2000, $main::Short);
my $s = decode_json($r->{choices}[0]{message}{content});
is $s->{max_tokens}, 20, "the synthesis: the client's 20";
my @limits = $s->{messages}[-1]{content} =~ /"max_tokens":(\d+)/g;
is_deeply \@limits, [20, 20, 20, $m], "proposals: the client's; the critique: the budget ($m)";
--- no_error_log
[alert]
[crit]



=== TEST 3: a request that cannot fit is refused up front, before any call
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_critique_prompt ../html/critique.txt;
        moa_synthesis_prompt ../html/synthesis.txt;
        moa_max_total_tokens 300;
    }
--- mock
{}
--- request eval
"POST /v1/chat/completions\n$main::Body"
--- error_code: 400
--- json
is $r->{error}{type}, 'invalid_request_error', 'type';
is $r->{error}{code}, 'token_budget_exceeded', 'code';
like $r->{error}{message}, qr/moa_max_total_tokens \(300 tokens/, 'message';
cmp_ok main::limit(300, $main::Body), '<', 16, 'under the minimum indeed';
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 4: a reasoning model gets the limits as max_completion_tokens
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o reasoning;
        moa_critique_prompt ../html/critique.txt;
        moa_synthesis_prompt ../html/synthesis.txt;
        moa_max_total_tokens 2000;
    }
--- mock
{"default": {"reasoning_model": true, "echo": true}}
--- request eval
"POST /v1/chat/completions\n$main::Body"
--- error_code: 200
--- json
my $m = main::limit(2000, $main::Body);
my $s = decode_json($r->{choices}[0]{message}{content});
is $s->{max_completion_tokens}, $m, 'the synthesis';
my @limits = $s->{messages}[-1]{content} =~ /"max_completion_tokens":(\d+)/g;
is_deeply \@limits, [$m, $m, $m, $m], 'the proposals and the critique';
--- no_error_log eval
["[alert]", "[crit]", qr/"max_tokens"/]



=== TEST 5: per-request choice within the cap: fewer proposers leave each call more tokens
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_critique_prompt ../html/critique.txt;
        moa_synthesis_prompt ../html/synthesis.txt;
        moa_max_total_tokens 2000;
        moa_request_overrides on;
    }
--- mock
{"synthesis": {"echo": true}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","moa":{"proposers":1,"critique":false},"messages":[{"role":"user","content":"budget"}]}
--- error_code: 200
--- json
# 1 (P + m) + (P + synthesis + (m + 16) + m): a = 2 P + s + 16, b = 3
my $sent = '{"model":"moa-gpt-4o-v1","moa":{"proposers":1,"critique":false},"messages":[{"role":"user","content":"budget"}]}';
my $p = main::tok(length $sent);
my $m = int((2000 - 2 * $p - main::tok(length $main::Synthesis) - 16) / 3);
is decode_json($r->{choices}[0]{message}{content})->{max_tokens}, $m,
    "one proposer, no critique: $m";
--- no_error_log
[alert]
[crit]



=== TEST 6: streamed, with tools: the streamed synthesis gets the limit too
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_critique_prompt ../html/critique.txt;
        moa_synthesis_prompt ../html/synthesis.txt;
        moa_max_total_tokens 5000;
    }
--- mock
{"synthesis": {"content": "streamed"}}
--- request eval
"POST /v1/chat/completions\n$main::Tools"
--- error_code: 200
--- sse
is MoaTest::sse_data(\@e), 'streamed', 'the synthesis';
is $e[-1], '[DONE]', '[DONE]';
--- error_log eval
my $m = main::limit(5000, $main::Tools);
[
qr/stage=proposal call=2 model=gpt-4o stream=false body=\{"tools":.*"max_tokens":$m,/,
qr/stage=critique call=0 model=gpt-4o stream=false body=\{"tools":.*"tool_choice":"none",.*"max_tokens":$m,/,
qr/stage=synthesis call=0 model=gpt-4o stream=true body=\{"tools":.*"max_tokens":$m,/,
]
--- no_error_log
[alert]
[crit]
