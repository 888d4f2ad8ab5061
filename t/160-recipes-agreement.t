# moa_agreement: when every candidate is the same answer, it is the answer,
# without critique and synthesis (X-MoA-Shortcut, $moa_shortcut, the
# capture record, moa_shortcuts_total); with streaming, tools, quorum, the
# proposal deadline and a client abort.

use lib 't/lib';
use MoaTest;
use Test::Nginx::Socket 'no_plan';

moa_setup();
no_long_string();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', MoaTest::http_config() . <<'_EOC_');
    log_format moa_capture escape=none '$moa_capture';
    moa_metrics_zone moa_recipes 1m;
_EOC_

    $block->set_value('config', <<'_EOC_') unless defined $block->config;
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_agreement on;
        add_header X-Shortcut-Var "[$moa_shortcut]" always;
        add_header X-Recipe "$moa_recipe $moa_layers" always;
        access_log logs/capture.jsonl moa_capture if=$moa_capture;
    }
    location = /metrics {
        moa_metrics;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: three candidates that differ only in white space: the first one is the answer, no critique, no synthesis
--- mock
{"proposal": {"content": " Paris\n", "usage": {"prompt_tokens": 10, "completion_tokens": 2}},
 "proposal.1": {"content": "Paris"},
 "proposal.2": {"content": "  Paris  "}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"agree-1: capital of France? One word."}]}
--- error_code: 200
--- response_headers
X-MoA-Shortcut: agreement
X-Shortcut-Var: [agreement]
X-Recipe: synthesize 1
--- json
is $r->{model}, 'moa-gpt-4o-v1', 'the MoA id';
is $r->{choices}[0]{message}{content}, " Paris\n", 'the first candidate, verbatim';
is $r->{choices}[0]{finish_reason}, 'stop', 'its finish_reason';
is $r->{usage}{prompt_tokens}, 30, 'usage: the three proposals only';
is $r->{usage}{completion_tokens}, 3 * 2, 'completion tokens summed';
my ($c) = MoaTest::captured('agree-1');
ok $c, 'captured';
is $c->{metadata}{shortcut}, 'agreement', 'capture: shortcut';
is $c->{metadata}{recipe}, 'synthesize', 'capture: recipe';
is $c->{metadata}{layers}, 1, 'capture: layers';
ok !exists $c->{metadata}{fallback}, 'capture: no fallback';
is $c->{messages}[-1]{content}, " Paris\n", 'capture: the answer';
--- grep_error_log eval: qr/mock: start stage=\w+/
--- grep_error_log_out
mock: start stage=proposal
mock: start stage=proposal
mock: start stage=proposal
--- error_log
the 3 candidates of layer 1 agree
--- no_error_log
[alert]
[crit]
[error]



=== TEST 2: one candidate differs: critique and synthesis as usual, no shortcut
--- mock
{"proposal": {"content": "Paris"},
 "proposal.2": {"content": "Lyon"},
 "synthesis": {"content": "Paris it is"}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers
X-MoA-Shortcut:
X-Shortcut-Var: []
--- json
is $r->{choices}[0]{message}{content}, 'Paris it is', 'the synthesis';
--- grep_error_log eval: qr/mock: start stage=\w+/
--- grep_error_log_out
mock: start stage=proposal
mock: start stage=proposal
mock: start stage=proposal
mock: start stage=critique
mock: start stage=synthesis
--- no_error_log
[alert]
[crit]
[error]



=== TEST 3: moa_agreement off (the default): the same answers still go through the chain
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- mock
{"proposal": {"content": "Paris"}, "synthesis": {"content": "synthesized"}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers
X-MoA-Shortcut:
--- json
is $r->{choices}[0]{message}{content}, 'synthesized', 'the synthesis';
--- grep_error_log eval: qr/mock: start stage=(critique|synthesis)/
--- grep_error_log_out
mock: start stage=critique
mock: start stage=synthesis
--- no_error_log
[alert]
[crit]



=== TEST 4: tool calls with the same name and JSON-equal arguments agree: the first candidate's call is the answer
--- mock
{"proposal": {"tool_calls": [{"name": "get_weather", "arguments": "{\"city\":\"Paris\",\"unit\":\"C\"}"}]},
 "proposal.1": {"tool_calls": [{"name": "get_weather", "arguments": "{ \"unit\": \"C\", \"city\": \"Paris\" }"}]},
 "proposal.2": {"tool_calls": [{"name": "get_weather", "arguments": {"unit": "C", "city": "Paris"}}]}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"weather in Paris?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]}
--- error_code: 200
--- response_headers
X-MoA-Shortcut: agreement
--- json
my $c = $r->{choices}[0];
is $c->{finish_reason}, 'tool_calls', 'finish_reason';
is $c->{message}{tool_calls}[0]{function}{name}, 'get_weather', 'the call';
is $c->{message}{tool_calls}[0]{function}{arguments}, '{"city":"Paris","unit":"C"}',
    "the first candidate's arguments, verbatim";
is $c->{message}{tool_calls}[0]{id}, 'call_proposal_0_0', "the first candidate's id";
--- no_error_log
[alert]
[crit]
mock: start stage=critique



=== TEST 5: tool calls with other arguments do not agree
--- mock
{"proposal": {"tool_calls": [{"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}]},
 "proposal.1": {"tool_calls": [{"name": "get_weather", "arguments": "{\"city\":\"Nice\"}"}]},
 "synthesis": {"tool_calls": [{"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}]}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"weather?"}],"tools":[{"type":"function","function":{"name":"get_weather"}}]}
--- error_code: 200
--- response_headers
X-MoA-Shortcut:
--- error_log
mock: start stage=critique
mock: start stage=synthesis
--- no_error_log
[alert]
[crit]



=== TEST 6: JSON answers agree when they are equal as JSON, however they are laid out
--- mock
{"proposal": {"content": "{\"city\": \"Paris\", \"n\": 1}"},
 "proposal.1": {"content": "{\"n\":1,\"city\":\"Paris\"}"},
 "proposal.2": {"content": "{\n  \"city\": \"Paris\",\n  \"n\": 1.0\n}"}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"json"}],"response_format":{"type":"json_object"}}
--- error_code: 200
--- response_headers
X-MoA-Shortcut: agreement
--- json
is $r->{choices}[0]{message}{content}, '{"city": "Paris", "n": 1}', 'the first candidate, verbatim';
--- no_error_log
[alert]
[crit]
mock: start stage=critique



=== TEST 7: streamed: the agreed candidate as chunks, usage summed over the proposals, [DONE]
--- mock
{"proposal": {"content": "Paris", "usage": {"prompt_tokens": 7, "completion_tokens": 1}}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers
Content-Type: text/event-stream; charset=utf-8
X-MoA-Shortcut: agreement
--- sse
is $e[-1], '[DONE]', '[DONE] last';
is MoaTest::sse_data(\@e), 'Paris', 'the candidate';
my @c = grep { ref && @{ $_->{choices} } } @e;
ok !grep({ $_->{model} ne 'moa-gpt-4o-v1' } @c), 'the MoA id';
is $c[-1]{choices}[0]{finish_reason}, 'stop', 'finish_reason';
is_deeply $e[-2]{choices}, [], 'the usage chunk';
is $e[-2]{usage}{prompt_tokens}, 21, 'usage: three proposals';
is $e[-2]{usage}{completion_tokens}, 3, 'completion tokens';
--- no_error_log
[alert]
[crit]
mock: start stage=critique



=== TEST 8: quorum: a failed proposal leaves two that agree: the shortcut
--- mock
{"proposal": {"content": "42"}, "proposal.1": {"status": 500}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers
X-MoA-Shortcut: agreement
--- json
is $r->{choices}[0]{message}{content}, '42', 'the candidate';
--- error_log
the 2 candidates of layer 1 agree
--- no_error_log
[alert]
[crit]
mock: start stage=critique



=== TEST 9: quorum first: agreeing candidates under moa_min_proposals fail the request
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_agreement on;
        moa_min_proposals 3;
    }
--- mock
{"proposal": {"content": "42"}, "proposal.1": {"status": 500}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 502
--- response_headers
X-MoA-Shortcut:
--- json
is $r->{error}{code}, 'not_enough_candidates', 'the quorum error';
--- no_error_log
[alert]
[crit]



=== TEST 10: a single candidate is no agreement: the chain runs
--- mock
{"proposal": {"status": 500}, "proposal.0": {"status": 200, "content": "alone"},
 "synthesis": {"content": "synthesized"}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers
X-MoA-Shortcut:
--- json
is $r->{choices}[0]{message}{content}, 'synthesized', 'the synthesis';
--- no_error_log
[alert]
[crit]



=== TEST 11: moa_proposal_timeout: the candidates in time agree, the straggler is cancelled
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_agreement on;
        moa_proposal_timeout 300ms;
    }
--- mock
{"proposal": {"content": "yes"}, "proposal.2": {"delay": 3000}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers
X-MoA-Shortcut: agreement
--- json
is $r->{choices}[0]{message}{content}, 'yes', 'the candidate';
--- error_log
moa_proposal_timeout: going on with 2 of 3 proposals
the 2 candidates of layer 1 agree
--- no_error_log
[alert]
[crit]
mock: start stage=critique



=== TEST 12: the client goes away while the proposals run: all cancelled, nothing more started
--- mock
{"proposal": {"delay": 1000, "content": "same"}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- timeout: 0.3
--- abort
--- ignore_response
--- wait: 0.2
--- error_log
moa: client prematurely closed connection
--- no_error_log
[alert]
[crit]
candidates of layer 1 agree
mock: start stage=critique



=== TEST 13: moa_shortcuts_total counts the shortcut
--- mock
{"proposal": {"content": "same"}}
--- request eval
["POST /v1/chat/completions\n" . '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}',
 "GET /metrics"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/"content":"same"/,
 qr/^moa_shortcuts_total\{model="moa-gpt-4o-v1",kind="agreement"\} 1$/m]
--- no_error_log
[alert]
[crit]
