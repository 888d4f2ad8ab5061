# moa_aggregate select: a judge picks the best candidate, which is the
# answer verbatim (X-MoA-Selected, the capture record,
# moa_selections_total); select by default for a json_schema answer; the
# judge's request from the mock's side; streaming, tools, quorum, a failed
# or chatty judge, a client abort.

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
        moa_aggregate select;
        add_header X-Recipe "$moa_recipe [$moa_selected]" always;
        access_log logs/capture.jsonl moa_capture if=$moa_capture;
    }
    location = /metrics {
        moa_metrics;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: the judge's pick is the answer, verbatim; no synthesis; usage summed over the proposals and the judge
--- mock
{"proposal": {"content": "candidate {call}", "usage": {"prompt_tokens": 10, "completion_tokens": 3}},
 "critique": {"content": "{\"best\": 2}", "usage": {"prompt_tokens": 100, "completion_tokens": 6}}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"select-1: pick"}],"temperature":0.7}
--- error_code: 200
--- response_headers
X-MoA-Selected: 2
X-Recipe: select [2]
--- json
is $r->{model}, 'moa-gpt-4o-v1', 'the MoA id';
is $r->{choices}[0]{message}{content}, 'candidate 1', 'candidate 2 (proposal 1), verbatim';
is $r->{usage}{prompt_tokens}, 3 * 10 + 100, 'prompt tokens: proposals and judge';
is $r->{usage}{completion_tokens}, 3 * 3 + 6, 'completion tokens';
my ($c) = MoaTest::captured('select-1');
is $c->{metadata}{recipe}, 'select', 'capture: recipe';
is $c->{metadata}{selected}, 2, 'capture: selected';
ok !exists $c->{metadata}{fallback}, 'capture: no fallback';
--- grep_error_log eval: qr/mock: start stage=\w+/
--- grep_error_log_out
mock: start stage=proposal
mock: start stage=proposal
mock: start stage=proposal
mock: start stage=critique
--- error_log eval
[
qr/stage=critique call=0 model=gpt-4o stream=false body=\{"tool_choice":"none",|stage=critique call=0 model=gpt-4o stream=false body=\{"response_format"/,
qr/stage=critique .*"response_format":\{"type":"json_schema","json_schema":\{"name":"moa_selection","strict":true,"schema":\{"type":"object","properties":\{"best":\{"type":"integer"\}\},"required":\["best"\],"additionalProperties":false\}\}\}/,
qr/stage=critique .*"temperature":0,/,
qr/stage=critique .*<candidate number=\\"1\\">\\ncandidate 0\\n<\/candidate>\\n\\n<candidate number=\\"2\\">\\ncandidate 1\\n<\/candidate>\\n\\n<candidate number=\\"3\\">\\ncandidate 2\\n<\/candidate>/,
qr/stage=critique .*\{\\"best\\": N\}/,
]
--- no_error_log
[alert]
[crit]
[error]



=== TEST 2: a json_schema response_format selects by default: the answer is a candidate's JSON, valid against the schema
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        add_header X-Recipe "$moa_recipe" always;
    }
--- mock
{"proposal": {"content": "{\"city\":\"Paris {call}\"}"},
 "critique": {"content": "{\"best\":3}"},
 "synthesis": {"content": "not JSON at all"}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"city?"}],"response_format":{"type":"json_schema","json_schema":{"name":"city","strict":true,"schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}}}}
--- error_code: 200
--- response_headers
X-Recipe: select
X-MoA-Selected: 3
--- json
is_deeply decode_json($r->{choices}[0]{message}{content}), {city => 'Paris 2'},
    'the third candidate, valid JSON';
--- error_log eval
qr/stage=proposal call=0 .*"response_format":\{"type":"json_schema","json_schema":\{"name":"city"/
--- no_error_log
[alert]
[crit]
mock: start stage=synthesis



=== TEST 3: moa_select_json_schema off: a json_schema answer is synthesized
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_select_json_schema off;
        add_header X-Recipe "$moa_recipe" always;
    }
--- mock
{"synthesis": {"content": "{\"city\":\"Paris\"}"}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"city?"}],"response_format":{"type":"json_schema","json_schema":{"name":"city","schema":{"type":"object"}}}}
--- error_code: 200
--- response_headers
X-Recipe: synthesize
X-MoA-Selected:
--- error_log
mock: start stage=synthesis
--- no_error_log
[alert]
[crit]



=== TEST 4: a chatty judge in a code fence is still read; json_object format
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_aggregate select;
        moa_select_format json_object;
    }
--- mock
{"proposal": {"content": "candidate {call}"},
 "critique": {"content": "After weighing them: ```json\n{\"best\": 3}\n```"}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers
X-MoA-Selected: 3
--- json
is $r->{choices}[0]{message}{content}, 'candidate 2', 'candidate 3';
--- error_log eval
qr/stage=critique .*"response_format":\{"type":"json_object"\}/
--- no_error_log
[alert]
[crit]



=== TEST 5: moa_select_format none: no response_format; "candidate 2" in a sentence
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_aggregate select;
        moa_select_format none;
    }
--- mock
{"proposal": {"content": "candidate {call}"},
 "critique": {"content": "Candidate 2 is the most accurate."}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- json
is $r->{choices}[0]{message}{content}, 'candidate 1', 'candidate 2';
--- no_error_log eval
["[alert]", "[crit]", qr/stage=critique .*response_format/]



=== TEST 6: the judge fails: the first candidate is the answer, logged
--- mock
{"proposal": {"content": "candidate {call}"}, "critique": {"status": 500}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers
X-MoA-Selected: 1
--- json
is $r->{choices}[0]{message}{content}, 'candidate 0', 'the first candidate';
--- error_log
moa select: the judge failed, answering with candidate 1
--- no_error_log
[alert]
[crit]
mock: start stage=synthesis



=== TEST 7: the judge names no candidate (out of range): the first one
--- mock
{"proposal": {"content": "candidate {call}"}, "critique": {"content": "{\"best\": 7}"}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- json
is $r->{choices}[0]{message}{content}, 'candidate 0', 'the first candidate';
--- error_log
moa select: the judge named no candidate
--- no_error_log
[alert]
[crit]



=== TEST 8: streamed: the pick as chat chunks, usage of every call, [DONE]
--- mock
{"proposal": {"content": "candidate {call}", "usage": {"prompt_tokens": 10, "completion_tokens": 3}},
 "critique": {"content": "{\"best\": 3}", "usage": {"prompt_tokens": 50, "completion_tokens": 4}}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers
Content-Type: text/event-stream; charset=utf-8
X-MoA-Selected: 3
--- sse
is $e[-1], '[DONE]', '[DONE] last';
is MoaTest::sse_data(\@e), 'candidate 2', 'the pick';
my @c = grep { ref && @{ $_->{choices} } } @e;
ok !grep({ $_->{object} ne 'chat.completion.chunk' } @c), 'chunks';
is $c[-1]{choices}[0]{finish_reason}, 'stop', 'finish_reason';
is $e[-2]{usage}{prompt_tokens}, 3 * 10 + 50, 'usage: every call';
is $e[-2]{usage}{completion_tokens}, 3 * 3 + 4, 'completion tokens';
--- no_error_log
[alert]
[crit]
mock: start stage=synthesis



=== TEST 9: keep-alive comments name the judge
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_aggregate select;
        moa_stream_keepalive 100ms;
    }
--- mock
{"proposal": {"content": "candidate {call}"}, "critique": {"content": "{\"best\": 1}", "delay": 350}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like eval
qr/\A(: moa proposals [0-3]\/3\n\n)*(: moa select\n\n)+data: /
--- no_error_log
[alert]
[crit]



=== TEST 10: tool calls: the judge sees them, may call none; the picked call is the answer
--- mock
{"proposal": {"tool_calls": [{"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}]},
 "proposal.1": {"tool_calls": [{"name": "get_weather", "arguments": "{\"city\":\"Paris 1\"}"}]},
 "critique": {"content": "{\"best\": 2}"}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"weather?"}],"tools":[{"type":"function","function":{"name":"get_weather"}}]}
--- error_code: 200
--- json
my $c = $r->{choices}[0];
is $c->{finish_reason}, 'tool_calls', 'finish_reason';
is $c->{message}{tool_calls}[0]{function}{arguments}, '{"city":"Paris 1"}', "the second candidate's call";
is $c->{message}{tool_calls}[0]{id}, 'call_proposal_1_0', 'its id';
--- error_log eval
[
qr/stage=critique call=0 model=gpt-4o stream=false body=\{"tools":\[\{"type":"function","function":\{"name":"get_weather"\}\}\],"tool_choice":"none",/,
qr/stage=critique .*Tool calls \(JSON\): \[\{\\"name\\":\\"get_weather\\"/,
]
--- no_error_log
[alert]
[crit]



=== TEST 11: quorum: a failed proposal is left out, the others renumbered; the pick maps back to its proposal
--- mock
{"proposal": {"content": "candidate {call}"}, "proposal.0": {"status": 500},
 "critique": {"content": "{\"best\": 2}"}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- json
is $r->{choices}[0]{message}{content}, 'candidate 2', 'candidate 2 of 2 is proposal 2';
--- error_log eval
qr/stage=critique .*<candidate number=\\"1\\">\\ncandidate 1\\n<\/candidate>\\n\\n<candidate number=\\"2\\">\\ncandidate 2\\n<\/candidate>\\n\\nJudge/
--- no_error_log
[alert]
[crit]



=== TEST 12: moa_proposal_timeout: the judge chooses among the candidates in time
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_aggregate select;
        moa_proposal_timeout 300ms;
    }
--- mock
{"proposal": {"content": "candidate {call}"}, "proposal.0": {"delay": 3000},
 "critique": {"content": "{\"best\": 2}"}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers
X-MoA-Selected: 2
--- json
is $r->{choices}[0]{message}{content}, 'candidate 2', 'the second of the two in time';
--- error_log eval
[
"moa_proposal_timeout: going on with 2 of 3 proposals",
qr/stage=critique .*Below are 2 candidate replies/,
]
--- no_error_log
[alert]
[crit]



=== TEST 13: n = 2 is answered by a synthesis
--- mock
{"synthesis": {"content": "synthesized"}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","n":2,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers
X-Recipe: synthesize []
--- json
is scalar @{ $r->{choices} }, 2, 'two choices';
--- no_error_log
[alert]
[crit]



=== TEST 14: the client goes away while the judge runs: it is cancelled, nothing answered
--- mock
{"critique": {"delay": 1000}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- timeout: 0.4
--- abort
--- ignore_response
--- wait: 0.2
--- error_log
moa: client prematurely closed connection
--- grep_error_log eval: qr/cleanup http upstream request|close http upstream connection|http terminate request/
--- grep_error_log_out
http terminate request
cleanup http upstream request
close http upstream connection
--- no_error_log
[alert]
[crit]
mock: start stage=synthesis



=== TEST 15: moa_selections_total counts the selection
--- mock
{"proposal": {"content": "candidate {call}"}, "critique": {"content": "{\"best\": 1}"}}
--- request eval
["POST /v1/chat/completions\n" . '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}',
 "GET /metrics"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/"content":"candidate 0"/,
 qr/^moa_selections_total\{model="moa-gpt-4o-v1"\} 1$/m]
--- no_error_log
[alert]
[crit]
