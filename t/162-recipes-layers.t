# moa_layers: layers 2..n run the proposers again with the previous layer's
# successful candidates as references; the prompts' shape checked from the
# mock's side; quorum and moa_proposal_timeout per layer; streaming
# progress naming the layer; tools; early agreement ending the layers; a
# client abort; $moa_layers, $moa_layer, the capture record, the metrics.

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
        moa_layers 2;
        moa_critique off;
        add_header X-Layers "$moa_layers" always;
        access_log logs/capture.jsonl moa_capture if=$moa_capture;
    }
    location = /metrics {
        moa_metrics;
    }
_EOC_
});

# the candidates' texts of a prompt, in order
sub cands {
    my ($text) = @_;
    return [ $text =~ /<candidate number="\d+">\n(.*?)\n<\/candidate>/gs ];
}

run_tests();

__DATA__

=== TEST 1: layer 2 sees exactly layer 1's candidates, in a system message first; the synthesis sees layer 2's
--- mock
{"proposal": {"content": "first {call}"},
 "proposal@2": {"content": "second {call}"},
 "synthesis": {"echo": true}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"layers-1: hi"}],"seed":5}
--- error_code: 200
--- response_headers
X-Layers: 2
--- json
my $s = decode_json($r->{choices}[0]{message}{content});
is_deeply main::cands($s->{messages}[-1]{content}), ['second 0', 'second 1', 'second 2'],
    "the synthesis: layer 2's candidates only";
is $r->{usage}{prompt_tokens}, 7 * 10, 'usage: six proposals and the synthesis';
my ($c) = MoaTest::captured('layers-1');
is $c->{metadata}{layers}, 2, 'capture: layers';
--- grep_error_log eval: qr/mock: (start stage=\w+|layer=\d stage=\w+ call=\d)/
--- grep_error_log_out
mock: start stage=proposal
mock: start stage=proposal
mock: start stage=proposal
mock: start stage=proposal
mock: layer=2 stage=proposal call=0
mock: start stage=proposal
mock: layer=2 stage=proposal call=1
mock: start stage=proposal
mock: layer=2 stage=proposal call=2
mock: start stage=synthesis
--- error_log eval
[
qr/stage=proposal call=0 model=gpt-4o stream=false body=\{"model":"gpt-4o","temperature":1.0,"messages":\[\{"role":"user","content":"layers-1: hi"\}\],"seed":5,"stream":false\}/,
qr/stage=proposal call=1 model=gpt-4o stream=false body=\{"model":"gpt-4o","temperature":1.0,"messages":\[\{"role":"system","content":"You have been provided with 3 responses from various models[^"]*Responses from models:\\n<candidate number=\\"1\\">\\nfirst 0\\n<\/candidate>\\n\\n<candidate number=\\"2\\">\\nfirst 1\\n<\/candidate>\\n\\n<candidate number=\\"3\\">\\nfirst 2\\n<\/candidate>"\},\{"role":"user","content":"layers-1: hi"\}\],"seed":6,"stream":false\}/,
]
--- no_error_log
[alert]
[crit]
[error]



=== TEST 2: a failed proposal of layer 1 is left out: layer 2 sees the two that succeeded, renumbered
--- mock
{"proposal": {"content": "first {call}"}, "proposal.1": {"status": 500},
 "proposal@2": {"status": 200, "echo": true},
 "synthesis": {"content": "done"}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- error_log eval
qr/stage=proposal call=1 model=gpt-4o stream=false body=\{"model":"gpt-4o","temperature":1.0,"messages":\[\{"role":"system","content":"You have been provided with 2 responses[^"]*<candidate number=\\"1\\">\\nfirst 0\\n<\/candidate>\\n\\n<candidate number=\\"2\\">\\nfirst 2\\n<\/candidate>"\}/
--- no_error_log eval
["[alert]", "[crit]", qr/<candidate number=\\"3\\">/]



=== TEST 3: quorum per layer: layer 2 with too few candidates fails the request
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_layers 2;
        moa_min_proposals 2;
    }
--- mock
{"proposal@2": {"status": 500}, "proposal@2.0": {"status": 200}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 502
--- json
is $r->{error}{code}, 'not_enough_candidates', 'the quorum error';
like $r->{error}{message}, qr/only 1 of 3 proposal calls/, 'the message';
--- no_error_log
[alert]
[crit]
mock: start stage=critique



=== TEST 4: moa_proposal_timeout applies to each layer: a straggler of layer 2 is cancelled
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_layers 2;
        moa_critique off;
        moa_proposal_timeout 400ms;
    }
--- mock
{"proposal": {"delay": 250}, "proposal@2.2": {"delay": 3000},
 "synthesis": {"echo": true}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- json
my $s = decode_json($r->{choices}[0]{message}{content});
is scalar @{ main::cands($s->{messages}[-1]{content}) }, 2,
    'the synthesis: the two layer 2 candidates in time';
--- grep_error_log eval: qr/moa_proposal_timeout: going on with \d of \d/
--- grep_error_log_out
moa_proposal_timeout: going on with 2 of 3
--- no_error_log
[alert]
[crit]



=== TEST 5: streamed: the keep-alive comments name the layer, then the synthesis streams
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_layers 2;
        moa_stream_keepalive 100ms;
    }
--- mock
{"proposal": {"delay": 250}, "proposal.0": {"delay": 10},
 "synthesis": {"content": "the answer"}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like eval
qr/\A(: moa layer 1 proposals [0-3]\/3\n\n)+(: moa layer 2 proposals [0-3]\/3\n\n)+(: moa (critique|synthesis)\n\n)*data: /
--- sse
like $body, qr/^: moa layer 2 proposals 1\/3$/m, 'progress within layer 2';
is MoaTest::sse_data(\@e), 'the answer', 'the synthesis';
is $e[-1], '[DONE]', '[DONE]';
--- no_error_log
[alert]
[crit]



=== TEST 6: tools: layer 2 proposals carry the tools and see layer 1's tool calls; their call is answered
--- mock
{"proposal": {"tool_calls": [{"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}]},
 "synthesis": {"tool_calls": [{"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}]}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"weather?"}],"tools":[{"type":"function","function":{"name":"get_weather"}}]}
--- error_code: 200
--- json
is $r->{choices}[0]{finish_reason}, 'tool_calls', 'a tool call';
--- error_log eval
qr/stage=proposal call=2 model=gpt-4o stream=false body=\{"tools":\[\{"type":"function","function":\{"name":"get_weather"\}\}\],"model":"gpt-4o","temperature":1.0,"messages":\[\{"role":"system","content":"You have been.*<candidate number=\\"3\\">\\nTool calls \(JSON\): \[\{\\"name\\":\\"get_weather\\",\\"arguments\\":\\"\{\\\\\\"city\\\\\\":\\\\\\"Paris\\\\\\"\}\\"\}\]\\n<\/candidate>"\}/
--- no_error_log
[alert]
[crit]



=== TEST 7: early agreement in layer 1 ends the layers
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_layers 3;
        moa_agreement on;
        add_header X-Layers "$moa_layers" always;
    }
--- mock
{"proposal": {"content": "same"}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers
X-MoA-Shortcut: agreement
X-Layers: 1
--- grep_error_log eval: qr/mock: start stage=\w+/
--- grep_error_log_out
mock: start stage=proposal
mock: start stage=proposal
mock: start stage=proposal
--- no_error_log
[alert]
[crit]



=== TEST 8: agreement in layer 2: no critique, no synthesis; a layer 2 candidate is the answer
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_layers 2;
        moa_agreement on;
    }
--- mock
{"proposal": {"content": "first {call}"}, "proposal@2": {"content": "refined"}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- json
is $r->{choices}[0]{message}{content}, 'refined', 'the agreed layer 2 answer';
--- error_log
the 3 candidates of layer 2 agree
--- no_error_log
[alert]
[crit]
mock: start stage=critique



=== TEST 9: three layers and select: the judge sees the last layer's candidates
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_layers 3;
        moa_aggregate select;
    }
--- mock
{"proposal": {"content": "first {call}"}, "proposal@2": {"content": "second {call}"},
 "proposal@3": {"content": "third {call}"}, "critique": {"content": "{\"best\": 2}"}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- json
is $r->{choices}[0]{message}{content}, 'third 1', "the judge's pick of layer 3";
--- error_log eval
[
qr/mock: layer=3 stage=proposal call=2/,
qr/stage=proposal call=0 .*"content":"You have been provided with 3 responses.*second 0/,
qr/stage=critique .*<candidate number=\\"1\\">\\nthird 0\\n/,
]
--- no_error_log eval
["[alert]", "[crit]", qr/stage=critique .*(first|second) \d/]



=== TEST 10: moa_layer_prompt replaces the layer instruction
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_layers 2;
        moa_layer_prompt ../html/layer.txt;
    }
--- user_files
>>> layer.txt
Improve on these {{count}} drafts: {{candidates}}
--- mock
{"proposal": {"content": "draft {call}"}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- error_log eval
qr/stage=proposal call=0 .*"messages":\[\{"role":"system","content":"Improve on these 3 drafts: <candidate number=\\"1\\">\\ndraft 0\\n/
--- no_error_log
[alert]
[crit]



=== TEST 11: the client goes away during layer 2: its calls are cancelled, nothing more starts
--- mock
{"proposal@2": {"delay": 1000}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- timeout: 0.5
--- abort
--- ignore_response
--- wait: 0.2
--- error_log
moa: client prematurely closed connection
mock: layer=2 stage=proposal call=2
--- grep_error_log eval: qr/cleanup http upstream request|close http upstream connection|http terminate request/
--- grep_error_log_out
http terminate request
cleanup http upstream request
close http upstream connection
cleanup http upstream request
close http upstream connection
cleanup http upstream request
close http upstream connection
--- no_error_log
[alert]
[crit]
mock: start stage=synthesis



=== TEST 12: moa_layer_duration_seconds times each layer
--- mock
{}
--- request eval
["POST /v1/chat/completions\n" . '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}',
 "GET /metrics"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/"object":"chat.completion"/,
 qr/^moa_layer_duration_seconds_count\{layer="2"\} 1\n(?s:.*)^moa_layer_duration_seconds_count\{layer="3"\} 0\n/m]
--- no_error_log
[alert]
[crit]

