# The three-stage chain: what each stage is sent, in which order, and the
# completion the client gets back.

use lib 't/lib';
use MoaTest;
use Test::Nginx::Socket 'no_plan';

moa_setup();
no_long_string();
run_tests();

__DATA__

=== TEST 1: a MoA completion: model rewritten, usage summed over 5 calls
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- mock
{"proposal": {"usage": {"prompt_tokens": 100, "completion_tokens": 20}},
 "critique": {"usage": {"prompt_tokens": 300, "completion_tokens": 60}},
 "synthesis": {"content": "the final answer",
               "usage": {"prompt_tokens": 500, "completion_tokens": 7}}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hello"}]}
--- more_headers
Content-Type: application/json
--- error_code: 200
--- response_headers_like
Content-Type: application/json
X-Request-Id: [0-9a-f]{32}
--- json
is $r->{object}, 'chat.completion', 'object';
is $r->{model}, 'moa-gpt-4o-v1', 'model is the MoA id';
like $r->{id}, qr/^chatcmpl-/, 'id';
like $r->{created}, qr/^\d+$/, 'created is an integer';
is scalar @{ $r->{choices} }, 1, 'one choice';
my $c = $r->{choices}[0];
is $c->{index}, 0, 'index';
is $c->{finish_reason}, 'stop', 'finish_reason';
ok exists $c->{logprobs}, 'logprobs present';
is $c->{message}{role}, 'assistant', 'role';
is $c->{message}{content}, 'the final answer', 'content of the synthesis';
ok !exists $c->{message}{tool_calls}, 'no tool_calls key';
is $r->{usage}{prompt_tokens}, 3 * 100 + 300 + 500, 'prompt tokens summed';
is $r->{usage}{completion_tokens}, 3 * 20 + 60 + 7, 'completion tokens summed';
is $r->{usage}{total_tokens}, 3 * 120 + 360 + 507, 'total summed';
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



=== TEST 2: proposals carry the client's messages and tools, the base model, the proposer temperature, no stream
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_proposer_temperature 0.9;
    }
--- mock
{}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","temperature":0.1,"stream":false,"n":1,"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"user":"u-1","store":true}
--- error_code: 200
--- error_log eval
[
qr/stage=proposal call=0 model=gpt-4o stream=false body=\{"tools":\[\{"type":"function","function":\{"name":"f","parameters":\{"type":"object"\}\}\}\],"user":"u-1","model":"gpt-4o","temperature":0.9,"messages":\[\{"role":"system","content":"be brief"\},\{"role":"user","content":"hi"\}\],"stream":false\}/,
qr/stage=proposal call=1 model=gpt-4o stream=false body=.*"temperature":0.9/,
qr/stage=proposal call=2 model=gpt-4o stream=false body=.*"temperature":0.9/,
]
--- no_error_log eval
[
"[alert]",
"[crit]",
qr/stage=(proposal|critique) .*"store"/,
]



=== TEST 3: the critique gets the conversation and every candidate, numbered; the synthesis gets candidates and critiques
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- mock
{"proposal": {"content": "candidate text {call}"},
 "critique": {"echo": true},
 "synthesis": {"echo": true}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"what is 2+2?"}],"temperature":0.5,"max_tokens":300,"tools":[{"type":"function","function":{"name":"calc"}}],"tool_choice":"auto","top_p":0.9,"seed":7,"stop":["END"],"user":"u-2","response_format":{"type":"text"}}
--- error_code: 200
--- json
# the synthesis echoes its own request; the critique echoed its own
my $s = decode_json($r->{choices}[0]{message}{content});
is $s->{model}, 'gpt-4o', 'synthesis: base model';
is $s->{stream}, JSON::PP::false, 'synthesis: not streamed';
is $s->{temperature}, 0.5, "synthesis: the client's temperature";
is $s->{max_tokens}, 300, "synthesis: the client's max_tokens";
is $s->{top_p}, 0.9, 'synthesis: top_p';
is $s->{seed}, 7, 'synthesis: seed';
is_deeply $s->{stop}, ['END'], 'synthesis: stop';
is $s->{user}, 'u-2', 'synthesis: user';
is $s->{tool_choice}, 'auto', 'synthesis: tool_choice';
is $s->{tools}[0]{function}{name}, 'calc', 'synthesis: tools';
is_deeply $s->{response_format}, {type => 'text'}, 'synthesis: response_format';
is scalar @{ $s->{messages} }, 2, 'synthesis: conversation + 1 instruction';
is_deeply $s->{messages}[0], {role => 'user', content => 'what is 2+2?'},
    'synthesis: the conversation unchanged';
my $inst = $s->{messages}[1]{content};
is $s->{messages}[1]{role}, 'user', 'instruction role';
for my $i (0 .. 2) {
    my $n = $i + 1;
    like $inst, qr/<candidate number="$n">\ncandidate text $i\n<\/candidate>/,
        "synthesis: candidate $n";
}
like $inst, qr/<critiques>\n.*\n<\/critiques>/s, 'synthesis: critiques';
unlike $inst, qr/\{\{/, 'no placeholder left';
my ($crit) = $inst =~ /<critiques>\n(.*)\n<\/critiques>/s;
my $c = decode_json($crit);
is $c->{model}, 'gpt-4o', 'critique: base model';
is $c->{temperature}, 0.2, 'critique: low temperature';
is $c->{stream}, JSON::PP::false, 'critique: not streamed';
is $c->{tool_choice}, 'none', 'critique: tools may not be called';
ok !exists $c->{max_tokens}, "critique: not the client's max_tokens";
ok !exists $c->{response_format}, "critique: not the client's format";
ok !exists $c->{stop}, "critique: not the client's stop";
is $c->{user}, 'u-2', 'critique: user';
is_deeply $c->{messages}[0], {role => 'user', content => 'what is 2+2?'},
    'critique: the conversation';
my $ci = $c->{messages}[1]{content};
like $ci, qr/<candidate number="$_">/, "critique: candidate $_" for 1 .. 3;
like $ci, qr/candidate text 2/, 'critique: candidate text';
--- no_error_log
[alert]
[crit]
[error]



=== TEST 4: seeds: each proposal gets its own, so candidates differ
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- mock
{}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","seed":40,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- error_log eval
[
qr/stage=proposal call=0 .*"seed":40,/,
qr/stage=proposal call=1 .*"seed":41,/,
qr/stage=proposal call=2 .*"seed":42,/,
]
--- no_error_log
[alert]
[crit]



=== TEST 5: moa_proposers 5 and moa_critique off: five candidates, no critique
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_proposers 5;
        moa_critique off;
        add_header X-Calls $moa_upstream_calls;
        add_header X-Candidates $moa_candidates;
    }
--- mock
{"proposal": {"content": "cand {call}"}, "synthesis": {"echo": true}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers
X-Calls: 6
X-Candidates: 5
--- json
my $s = decode_json($r->{choices}[0]{message}{content});
my $inst = $s->{messages}[-1]{content};
like $inst, qr/<candidate number="5">\ncand 4\n/, 'five candidates';
unlike $inst, qr/<critiques>/, 'no critiques';
is $r->{usage}{prompt_tokens}, 60, 'usage of 6 calls';
--- grep_error_log eval: qr/mock: start stage=\w+/
--- grep_error_log_out
mock: start stage=proposal
mock: start stage=proposal
mock: start stage=proposal
mock: start stage=proposal
mock: start stage=proposal
mock: start stage=synthesis
--- no_error_log
[alert]
[crit]



=== TEST 6: variables for log_format
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        add_header X-Moa "$moa_model|$moa_base_model|$moa_candidates|$moa_upstream_calls|$moa_prompt_tokens|$moa_completion_tokens|$moa_total_tokens";
        add_header X-Times "$moa_proposal_time $moa_critique_time $moa_synthesis_time";
    }
--- mock
{"proposal": {"delay": 100}, "proposal.2": {"status": 500},
 "critique": {"delay": 100}, "synthesis": {"delay": 100}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers_like
X-Moa: moa-gpt-4o-v1\|gpt-4o\|2\|5\|40\|20\|60
X-Times: 0\.1\d\d 0\.1\d\d 0\.1\d\d
--- no_error_log
[alert]
[crit]



=== TEST 7: a candidate that is a tool call reaches the critique as JSON; the answer can be a tool call
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- mock
{"proposal": {"tool_calls": [{"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}]},
 "synthesis": {"tool_calls": [{"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}]}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"weather in Paris?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}
--- error_code: 200
--- json
my $c = $r->{choices}[0];
is $c->{finish_reason}, 'tool_calls', 'finish_reason tool_calls';
is $c->{message}{content}, undef, 'content null';
is scalar @{ $c->{message}{tool_calls} }, 1, 'one tool call';
is $c->{message}{tool_calls}[0]{id}, 'call_synthesis_0_0', 'tool call id kept';
is $c->{message}{tool_calls}[0]{type}, 'function', 'type';
is $c->{message}{tool_calls}[0]{function}{name}, 'get_weather', 'name';
is $c->{message}{tool_calls}[0]{function}{arguments}, '{"city":"Paris"}',
    'arguments';
--- no_error_log
[alert]
[crit]



=== TEST 8: candidates that are tool calls are rendered as their JSON
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_critique off;
    }
--- mock
{"proposal": {"tool_calls": [{"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}]},
 "proposal.1": {"content": "It is sunny.", "tool_calls": []},
 "synthesis": {"echo": true}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"weather in Paris?"}],"tools":[{"type":"function","function":{"name":"get_weather"}}]}
--- error_code: 200
--- json
my $s = decode_json($r->{choices}[0]{message}{content});
my $inst = $s->{messages}[-1]{content};
like $inst, qr/<candidate number="1">\nTool calls \(JSON\): \[\{"name":"get_weather","arguments":"\{\\"city\\":\\"Paris\\"\}"\}\]\n<\/candidate>/,
    'candidate 1 is its tool call as JSON';
like $inst, qr/<candidate number="2">\nIt is sunny.\n<\/candidate>/,
    'candidate 2 is text';
is $s->{tools}[0]{function}{name}, 'get_weather', 'synthesis has the tools';
--- no_error_log
[alert]
[crit]
