# moa_model <id> <base> reasoning: no temperature at any stage, token
# limits as max_completion_tokens, the client's reasoning_effort kept,
# seeds differing per proposal, reasoning text never in a prompt, the
# usage's reasoning_tokens summed once.  The mock answers as a reasoning
# model does (reasoning_model): 400 for a temperature or a max_tokens.

use lib 't/lib';
use MoaTest;
use Test::Nginx::Socket 'no_plan';

moa_setup();
no_long_string();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', <<'_EOC_') unless defined $block->config;
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-o3-v1 o3 reasoning;
        moa_model moa-o3-plain o3;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: every stage without temperature, the client's limit as max_completion_tokens, reasoning_effort kept, seeds per proposal
--- mock
{"default": {"reasoning_model": true, "reasoning_content": "SECRET-THOUGHT {call}"},
 "synthesis": {"reasoning_model": true, "content": "the answer"}}
--- request
POST /v1/chat/completions
{"model":"moa-o3-v1","messages":[{"role":"user","content":"hi"}],"temperature":0.3,"max_tokens":100,"reasoning_effort":"high","seed":3}
--- error_code: 200
--- json
is $r->{choices}[0]{message}{content}, 'the answer', 'the synthesis';
is $r->{model}, 'moa-o3-v1', 'the MoA id';
is $r->{choices}[0]{message}{reasoning_content}, 'SECRET-THOUGHT {call}',
    "the answer keeps its own reasoning";
is $r->{usage}{completion_tokens}, 5 * 5, 'completion tokens, reasoning included once';
is $r->{usage}{completion_tokens_details}{reasoning_tokens}, 5 * 3,
    'reasoning tokens summed';
is $r->{usage}{total_tokens}, 5 * 15, 'total';
--- error_log eval
[
qr/stage=proposal call=0 model=o3 stream=false body=\{"reasoning_effort":"high","model":"o3","max_completion_tokens":100,"messages":\[\{"role":"user","content":"hi"\}\],"seed":3,"stream":false\}/,
qr/stage=proposal call=1 model=o3 .*"seed":4,/,
qr/stage=proposal call=2 model=o3 .*"seed":5,/,
qr/stage=critique call=0 model=o3 stream=false body=\{"reasoning_effort":"high","model":"o3","messages":/,
qr/stage=synthesis call=0 model=o3 stream=false body=\{"reasoning_effort":"high","seed":3,"model":"o3","max_completion_tokens":100,"messages":/,
]
--- no_error_log eval
["[alert]", "[crit]", "[error]", qr/"temperature"/, qr/"max_tokens"/,
 qr/stage=(critique|synthesis) .*SECRET-THOUGHT/]



=== TEST 2: the same model without the flag: the provider refuses the temperature
--- mock
{"default": {"reasoning_model": true}}
--- request
POST /v1/chat/completions
{"model":"moa-o3-plain","messages":[{"role":"user","content":"hi"}]}
--- error_code: 400
--- json
is $r->{error}{param}, 'temperature', "the provider's error, relayed";
--- no_error_log
[alert]
[crit]
mock: start stage=critique



=== TEST 3: the stage limits (moa_proposer_max_tokens, moa_critic_max_tokens) as max_completion_tokens; a moa_proposer temperature is not sent either
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-o3-v1 o3 reasoning;
        moa_proposer /_moa_upstream temperature=0.7;
        moa_proposer /_moa_upstream;
        moa_proposer_max_tokens 40;
        moa_critic_max_tokens 50;
        moa_critique_temperature 0.1;
    }
--- mock
{"default": {"reasoning_model": true}}
--- request
POST /v1/chat/completions
{"model":"moa-o3-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- error_log eval
[
qr/stage=proposal call=0 model=o3 stream=false body=\{"model":"o3","max_completion_tokens":40,"messages"/,
qr/stage=proposal call=1 model=o3 stream=false body=\{"model":"o3","max_completion_tokens":40,"messages"/,
qr/stage=critique call=0 model=o3 stream=false body=\{"model":"o3","max_completion_tokens":50,"messages"/,
]
--- no_error_log eval
["[alert]", "[crit]", qr/"temperature"/]



=== TEST 4: streamed: the synthesis without temperature, the usage chunk sums reasoning tokens once
--- mock
{"default": {"reasoning_model": true}}
--- request
POST /v1/chat/completions
{"model":"moa-o3-v1","stream":true,"stream_options":{"include_usage":true},"temperature":1,"max_completion_tokens":64,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- sse
is $e[-1], '[DONE]', '[DONE]';
my $u = $e[-2]{usage};
is $u->{completion_tokens}, 5 * 5, 'completion tokens';
is $u->{completion_tokens_details}{reasoning_tokens}, 5 * 3, 'reasoning tokens once';
--- error_log eval
qr/stage=synthesis call=0 model=o3 stream=true body=\{"model":"o3","max_completion_tokens":64,"messages"/
--- no_error_log eval
["[alert]", "[crit]", qr/"temperature"/]



=== TEST 5: select and layers: the judge and the layer 2 proposals send no temperature, and see no reasoning
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-o3-v1 o3 reasoning;
        moa_layers 2;
        moa_aggregate select;
    }
--- mock
{"default": {"reasoning_model": true, "reasoning_content": "SECRET-THOUGHT"},
 "proposal": {"content": "candidate {call}"},
 "critique": {"content": "{\"best\": 1}"}}
--- request
POST /v1/chat/completions
{"model":"moa-o3-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- json
is $r->{choices}[0]{message}{content}, 'candidate 0', 'the pick';
--- error_log eval
[
qr/mock: layer=2 stage=proposal call=0/,
qr/stage=critique call=0 model=o3 stream=false body=\{"response_format"/,
]
--- no_error_log eval
["[alert]", "[crit]", qr/"temperature"/,
 qr/stage=(proposal|critique) .*SECRET-THOUGHT/]



=== TEST 6: tools: the critique may call none and sends no temperature; the synthesis' tool call is the answer
--- mock
{"default": {"reasoning_model": true},
 "synthesis": {"reasoning_model": true, "tool_calls": [{"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}]}}
--- request
POST /v1/chat/completions
{"model":"moa-o3-v1","messages":[{"role":"user","content":"weather?"}],"tools":[{"type":"function","function":{"name":"get_weather"}}],"tool_choice":"auto"}
--- error_code: 200
--- json
is $r->{choices}[0]{finish_reason}, 'tool_calls', 'a tool call';
--- error_log eval
[
qr/stage=critique call=0 model=o3 stream=false body=\{"tools":\[\{"type":"function","function":\{"name":"get_weather"\}\}\],"tool_choice":"none","model":"o3","messages"/,
qr/stage=synthesis call=0 model=o3 stream=false body=\{"tools":\[[^\]]*\],"tool_choice":"auto","model":"o3","messages"/,
]
--- no_error_log eval
["[alert]", "[crit]", qr/"temperature"/]



=== TEST 7: quorum and moa_proposal_timeout: a failed and a late proposal leave one candidate, enough for moa_min_proposals 1
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-o3-v1 o3 reasoning;
        moa_proposal_timeout 300ms;
    }
--- mock
{"default": {"reasoning_model": true},
 "proposal.1": {"status": 500}, "proposal.2": {"delay": 3000},
 "synthesis": {"reasoning_model": true, "echo": true}}
--- request
POST /v1/chat/completions
{"model":"moa-o3-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- json
my $s = decode_json($r->{choices}[0]{message}{content});
ok !exists $s->{temperature}, 'the synthesis: no temperature';
like $s->{messages}[-1]{content}, qr/Below are 1 candidate/, 'one candidate';
unlike $s->{messages}[-1]{content}, qr/mock reasoning/, 'no reasoning in the prompt';
--- error_log
moa_proposal_timeout: going on with 2 of 3 proposals
--- no_error_log
[alert]
[crit]



=== TEST 8: the client goes away while the reasoning proposals run
--- mock
{"default": {"reasoning_model": true, "delay": 1000}}
--- request
POST /v1/chat/completions
{"model":"moa-o3-v1","stream":true,"messages":[{"role":"user","content":"hi"}]}
--- timeout: 0.3
--- abort
--- ignore_response
--- wait: 0.2
--- error_log
moa: client prematurely closed connection
--- no_error_log
[alert]
[crit]
mock: start stage=critique
