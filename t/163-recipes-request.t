# Per-request choice: the client's "moa" member (moa_request_overrides)
# within moa_max_proposers / moa_max_layers; 400 naming the field when out
# of bounds or unknown; the member never reaches the provider; and the
# recipes' configuration errors.

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
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_request_overrides on;
        moa_max_proposers 5;
        moa_max_layers 2;
        add_header X-Recipe "$moa_recipe $moa_layers $moa_upstream_calls" always;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: the issue's example: 5 proposers, 2 layers, no critique, select, a 2 s proposal timeout
--- mock
{"proposal": {"content": "candidate {call}"}, "critique": {"content": "{\"best\": 4}"}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}],"moa":{"proposers":5,"layers":2,"critique":false,"aggregate":"select","proposal_timeout_ms":2000}}
--- error_code: 200
--- response_headers
X-Recipe: select 2 11
X-MoA-Selected: 4
--- json
is $r->{choices}[0]{message}{content}, 'candidate 3', 'the pick of layer 2';
--- grep_error_log eval: qr/mock: (start stage=\w+|layer=2 stage=proposal call=\d)/
--- grep_error_log_out
mock: start stage=proposal
mock: start stage=proposal
mock: start stage=proposal
mock: start stage=proposal
mock: start stage=proposal
mock: start stage=proposal
mock: layer=2 stage=proposal call=0
mock: start stage=proposal
mock: layer=2 stage=proposal call=1
mock: start stage=proposal
mock: layer=2 stage=proposal call=2
mock: start stage=proposal
mock: layer=2 stage=proposal call=3
mock: start stage=proposal
mock: layer=2 stage=proposal call=4
mock: start stage=critique
--- no_error_log eval
["[alert]", "[crit]", "[error]", qr/body=.*"moa":/]



=== TEST 2: fewer proposers and synthesize over the configured select
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_aggregate select;
        moa_request_overrides on;
        add_header X-Recipe "$moa_recipe $moa_layers $moa_upstream_calls" always;
    }
--- mock
{"synthesis": {"content": "synthesized"}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","moa":{"proposers":2,"aggregate":"synthesize","critique":false},"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers
X-Recipe: synthesize 1 3
--- json
is $r->{choices}[0]{message}{content}, 'synthesized', 'the synthesis';
--- no_error_log eval
["[alert]", "[crit]", qr/body=.*"moa":/, "mock: start stage=critique"]



=== TEST 3: moa_request_overrides off (the default): "moa" is refused, no call made
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- mock
{}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}],"moa":{"proposers":1}}
--- error_code: 400
--- json
is $r->{error}{type}, 'invalid_request_error', 'type';
is $r->{error}{code}, 'unsupported_parameter', 'code';
is $r->{error}{param}, 'moa', 'param';
like $r->{error}{message}, qr/not enabled/, 'message';
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 4: out of bounds: 400 naming the field, no call made
--- mock
{}
--- request eval
["POST /v1/chat/completions\n" . '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}],"moa":{"proposers":6}}',
 "POST /v1/chat/completions\n" . '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}],"moa":{"layers":3}}',
 "POST /v1/chat/completions\n" . '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}],"moa":{"proposal_timeout_ms":0}}',
 "POST /v1/chat/completions\n" . '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}],"moa":{"aggregate":"vote"}}',
 "POST /v1/chat/completions\n" . '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}],"moa":{"critique":"no"}}',
 "POST /v1/chat/completions\n" . '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}],"moa":{"proposers":2,"temperature":0}}',
 "POST /v1/chat/completions\n" . '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}],"moa":[2]}']
--- error_code eval
[400, 400, 400, 400, 400, 400, 400]
--- response_body_like eval
[qr/"param":"moa\.proposers","code":"integer_above_max_value"/,
 qr/"param":"moa\.layers","code":"integer_above_max_value"/,
 qr/"param":"moa\.proposal_timeout_ms","code":"integer_below_min_value"/,
 qr/"param":"moa\.aggregate","code":"invalid_value"/,
 qr/"param":"moa\.critique","code":"invalid_type"/,
 qr/"message":"Unrecognized request argument supplied: moa\.temperature[^"]*","type":"invalid_request_error","param":"moa\.temperature","code":"unknown_parameter"/,
 qr/"param":"moa","code":"invalid_type"/]
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 5: the bounds default to the location's own recipe: clients may spend less, not more
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_request_overrides on;
        add_header X-Recipe "$moa_recipe $moa_layers $moa_upstream_calls" always;
    }
--- mock
{}
--- request eval
["POST /v1/chat/completions\n" . '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}],"moa":{"proposers":4}}',
 "POST /v1/chat/completions\n" . '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}],"moa":{"layers":2}}',
 "POST /v1/chat/completions\n" . '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}],"moa":{"proposers":1}}']
--- error_code eval
[400, 400, 200]
--- response_body_like eval
[qr/Expected a value <= 3/, qr/Expected a value <= 1/, qr/"object":"chat.completion"/]
--- no_error_log
[alert]
[crit]



=== TEST 6: the default bounds are the location's own even when the overrides are on at the server level
--- config
    moa_request_overrides on;
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_proposers 5;
        moa_layers 2;
        add_header X-Recipe "$moa_recipe $moa_layers $moa_upstream_calls" always;
    }
--- mock
{}
--- request eval
["POST /v1/chat/completions\n" . '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}],"moa":{"proposers":5,"layers":2,"critique":false}}',
 "POST /v1/chat/completions\n" . '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}],"moa":{"proposers":6}}']
--- error_code eval
[200, 400]
--- response_body_like eval
[qr/"object":"chat.completion"/, qr/Expected a value <= 5/]
--- no_error_log
[alert]
[crit]



=== TEST 7: moa_proposer targets: the first k of them
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_proposer /_moa_upstream model=model-a;
        moa_proposer /_moa_upstream model=model-b;
        moa_proposer /_moa_upstream model=model-c;
        moa_request_overrides on;
    }
--- mock
{}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}],"moa":{"proposers":2}}
--- error_code: 200
--- error_log
stage=proposal call=0 model=model-a
stage=proposal call=1 model=model-b
--- no_error_log
[alert]
[crit]
model=model-c



=== TEST 8: "moa" is the gateway's own: accepted with moa_unknown_params reject, never sent on
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_request_overrides on;
        moa_unknown_params reject;
    }
--- mock
{"synthesis": {"echo": true}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","moa":{"critique":false},"messages":[{"role":"user","content":"hi"}],"temperature":0.5}
--- error_code: 200
--- json
my $s = decode_json($r->{choices}[0]{message}{content});
ok !exists $s->{moa}, 'not in the synthesis';
is $s->{temperature}, 0.5, "the client's other members are";
--- no_error_log eval
["[alert]", "[crit]", qr/body=.*"moa":/, "mock: start stage=critique"]



=== TEST 9: a passthrough request is forwarded as the client sent it, "moa" included
--- mock
{}
--- request
POST /v1/chat/completions
{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"moa":{"proposers":99}}
--- error_code: 200
--- error_log eval
qr/stage=passthrough call=0 .*"moa":\{"proposers":99\}/
--- no_error_log
[alert]
[crit]



=== TEST 10: proposal_timeout_ms, agreement and streaming per request
--- mock
{"proposal": {"content": "same"}, "proposal.2": {"delay": 3000}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","stream":true,"messages":[{"role":"user","content":"hi"}],"moa":{"proposal_timeout_ms":300,"agreement":true}}
--- error_code: 200
--- response_headers
X-MoA-Shortcut: agreement
--- sse
is MoaTest::sse_data(\@e), 'same', 'the agreed candidate';
is $e[-1], '[DONE]', '[DONE]';
--- error_log
moa_proposal_timeout: going on with 2 of 3 proposals
--- no_error_log
[alert]
[crit]
mock: start stage=critique



=== TEST 11: the recipes' directives are checked at start-up
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- mock
{}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- check
my $root = Test::Nginx::Util::server_root();
my $load = join '', map { "load_module $_;\n" }
           split ' ', $ENV{TEST_NGINX_LOAD_MODULES};
my @cases = (
    ['moa_layers 9;', qr/value must be between 1 and 8/],
    ['moa_layers 0;', qr/value must be between 1 and 8/],
    ['moa_max_layers 9;', qr/value must be between 1 and 8/],
    ['moa_max_proposers 65;', qr/value must be between 1 and 64/],
    ['moa_max_total_tokens 0;', qr/value must be between 1 and 1000000000/],
    ['moa_aggregate vote;', qr/invalid value "vote"/],
    ['moa_select_format yaml;', qr/invalid value "yaml"/],
    ['moa_model m2 o3 reasonin;', qr/invalid parameter "reasonin": expected "reasoning"/],
    ['moa_layer_prompt /dev/null;', qr/prompt file "\/dev\/null" is empty/],
);
for my $case (@cases) {
    my ($directive, $expected) = @$case;
    my $file = "$root/conf/bad.conf";
    open my $out, '>', $file or die "$file: $!";
    print $out "${load}error_log stderr;\nevents {}\nhttp {\n"
               . "server { listen 127.0.0.1:1; location /v1 { moa_pass /u; "
               . "moa_model m gpt-4o; $directive } }\n}\n";
    close $out;
    my $res = `$ENV{TEST_NGINX_BINARY} -t -p $root/ -c $file -e stderr 2>&1`;
    isnt $?, 0, "refused: $directive";
    like $res, $expected, "the reason: $directive";
}
--- no_error_log
[alert]
[crit]



=== TEST 12: per request, quorum per layer: two proposers asked, one fails, moa_min_proposals 2 refuses
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_request_overrides on;
        moa_min_proposals 2;
    }
--- mock
{"proposal.1": {"status": 500}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}],"moa":{"proposers":2}}
--- error_code: 502
--- json
like $r->{error}{message}, qr/only 1 of 2 proposal calls/, 'two asked, one came';
--- no_error_log
[alert]
[crit]
mock: start stage=critique



=== TEST 13: per request, two layers with tools; the client goes away during layer 2
--- mock
{"proposal": {"tool_calls": [{"name": "f", "arguments": "{}"}]}, "proposal@2": {"delay": 1000}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"moa":{"layers":2}}
--- timeout: 0.5
--- abort
--- ignore_response
--- wait: 0.2
--- error_log eval
[
"moa: client prematurely closed connection",
qr/stage=proposal call=0 model=gpt-4o stream=false body=\{"tools":\[\{"type":"function","function":\{"name":"f"\}\}\],"model":"gpt-4o","temperature":1.0,"messages":\[\{"role":"system","content":"You have been.*Tool calls \(JSON\)/,
]
--- no_error_log
[alert]
[crit]
mock: start stage=synthesis
