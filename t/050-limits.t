# Sizes, bodies in temp files, keep-alive, and failed proposals.

use lib 't/lib';
use MoaTest;
use Test::Nginx::Socket 'no_plan';

moa_setup();
no_long_string();
run_tests();

__DATA__

=== TEST 1: replies larger than nginx's 4k subrequest buffer are captured whole
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- mock
{"proposal": {"size": 7000}, "critique": {"size": 9000},
 "synthesis": {"size": 20000}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- json
cmp_ok length($r->{choices}[0]{message}{content}), '>=', 20000, 'whole answer';
like $r->{choices}[0]{message}{content}, qr/^synthesis 0: /, 'the synthesis';
--- no_error_log
[alert]
[crit]
[error]



=== TEST 2: one proposal over moa_max_response_size fails alone
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_max_response_size 8k;
        add_header X-Candidates $moa_candidates;
    }
--- mock
{"proposal.1": {"size": 20000}, "synthesis": {"echo": true}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers
X-Candidates: 2
--- json
my $s = decode_json($r->{choices}[0]{message}{content});
my $inst = $s->{messages}[-1]{content};
like $inst, qr/<candidate number="2">\nproposal 2: /, 'the third proposal is candidate 2';
unlike $inst, qr/<candidate number="3">/, 'two candidates';
--- error_log
moa proposal call 1 failed: reply over moa_max_response_size
--- no_error_log
[alert]
[crit]



=== TEST 3: every proposal over the cap: 502 naming the cause
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_max_response_size 4k;
    }
--- mock
{"proposal": {"size": 5000}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 502
--- json
like $r->{error}{message}, qr/moa_max_response_size/, 'message';
is $r->{error}{type}, 'upstream_error', 'type';
--- no_error_log
[alert]
[crit]
mock: start stage=critique



=== TEST 4: a request body in a temp file reaches every stage
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        client_body_buffer_size 1k;
        client_body_in_file_only on;
    }
--- mock
{"proposal": {"echo": true}, "synthesis": {"echo": true}}
--- request eval
"POST /v1/chat/completions\n" . '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"' . ('abc ' x 5000) . 'END"}]}'
--- error_code: 200
--- json
my $s = decode_json($r->{choices}[0]{message}{content});
is $s->{messages}[0]{content}, ('abc ' x 5000) . 'END', 'the whole conversation';
like $s->{messages}[-1]{content}, qr/abc abc.*END/s, 'proposals saw it too';
--- no_error_log
[alert]
[crit]
[error]



=== TEST 5: keep-alive: several requests on one connection
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- mock
{"synthesis": {"content": "answer to {model}"}}
--- pipelined_requests eval
[
"POST /v1/chat/completions\n" . '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"one"}]}',
"POST /v1/chat/completions\n" . '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"two"}]}',
"POST /v1/chat/completions\n" . '{"model":"moa-gpt-4o-v1","stream":true,"messages":[{"role":"user","content":"three"}]}',
"POST /v1/chat/completions\n" . '{"model":"moa-gpt-4o-v1","messages":[]}',
"POST /v1/chat/completions\n" . '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"five"}]}',
]
--- error_code eval
[200, 200, 200, 400, 200]
--- response_body_like eval
[
qr/"model":"moa-gpt-4o-v1".*"content":"answer to gpt-4o"/,
qr/"model":"gpt-4o-mini".*"content":"passthrough 0: model=gpt-4o-mini/,
qr/^data: .*"model":"moa-gpt-4o-v1".*data: \[DONE\]\n\n$/s,
qr/"code":"empty_array"/,
qr/"model":"moa-gpt-4o-v1".*"content":"answer to gpt-4o"/,
]
--- no_error_log
[alert]
[crit]



=== TEST 6: a failed proposal is left out; the others go on
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        add_header X-Candidates $moa_candidates;
    }
--- mock
{"proposal.0": {"status": 500}, "proposal.2": {"body": "{\"choices\": ["},
 "synthesis": {"echo": true}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers
X-Candidates: 1
--- json
my $s = decode_json($r->{choices}[0]{message}{content});
my $inst = $s->{messages}[-1]{content};
like $inst, qr/<candidate number="1">\nproposal 1: /, 'the good one';
unlike $inst, qr/<candidate number="2">/, 'only one candidate';
unlike $inst, qr/status 500|choices/, 'no error text in the prompt';
--- error_log
moa proposal call 0 failed: upstream status 500
moa proposal call 2 failed: the provider sent a reply that is not a JSON object
--- no_error_log
[alert]
[crit]



=== TEST 7: no proposal succeeds: 502 naming the upstream status, no critique
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- mock
{"proposal": {"status": 500}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 502
--- json
is $r->{error}{type}, 'upstream_error', 'type';
like $r->{error}{message}, qr/all 3 proposal calls failed: upstream status 500/,
    'names the status';
ok exists $r->{error}{param}, 'param key';
ok exists $r->{error}{code}, 'code key';
--- error_log
moa request failed: all 3 proposal calls failed: upstream status 500
--- no_error_log
[alert]
[crit]
mock: start stage=critique



=== TEST 8: a reply without choices, or an error object, counts as failed
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        add_header X-Candidates $moa_candidates;
    }
--- mock
{"proposal.0": {"body": "{\"id\":\"x\",\"object\":\"chat.completion\"}"},
 "proposal.1": {"body": "{\"error\":{\"message\":\"overloaded\"}}"},
 "proposal.2": {"content": ""}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 502
--- json
like $r->{error}{message}, qr/only 0 of 3 proposal calls gave a usable candidate/,
    'message';
--- error_log
moa proposal call 0 failed: the provider's reply has no choices
moa proposal call 1 failed: the provider answered with an error: overloaded
--- no_error_log
[alert]
[crit]



=== TEST 9: the provider unreachable: 502
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- upstream_config
    location = /_moa_upstream {
        internal;
        proxy_pass http://127.0.0.1:1/;
    }
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 502
--- json
like $r->{error}{message}, qr/could not be reached/, 'message';
--- no_error_log
[alert]
[crit]
