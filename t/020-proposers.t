# Stage 1: parallel proposals, mixed proposers, n=N, other critic and
# aggregator.

use lib 't/lib';
use MoaTest;
use Test::Nginx::Socket 'no_plan';

moa_setup();
no_long_string();
run_tests();

__DATA__

=== TEST 1: three proposals delayed 300 ms each overlap in time
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_critique off;
        add_header X-Proposal-Time $moa_proposal_time;
    }
--- mock
{"proposal": {"delay": 300}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers_like
X-Proposal-Time: 0\.[3-6]\d\d
--- grep_error_log eval: qr/mock: (start|done) stage=proposal/
--- grep_error_log_out
mock: start stage=proposal
mock: start stage=proposal
mock: start stage=proposal
mock: done stage=proposal
mock: done stage=proposal
mock: done stage=proposal
--- no_error_log
[alert]
[crit]



=== TEST 2: moa_proposer lines: each hits its own location with its own model and temperature
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-mix-v1 gpt-4o;
        moa_proposer /_p_a model=gpt-4o-mini temperature=0.7;
        moa_proposer /_p_b model=claude-3-5-sonnet;
        moa_proposer /_moa_upstream;
        moa_proposer_temperature 1.2;
        moa_critique off;
    }
    location = /_p_a {
        internal;
        proxy_pass http://moa_mock/mock/chat;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header X-Moa-Stage provider-a;
        proxy_set_header X-Moa-Call $moa_call;
    }
    location = /_p_b {
        internal;
        proxy_pass http://moa_mock/mock/chat;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header X-Moa-Stage provider-b;
        proxy_set_header X-Moa-Call $moa_call;
    }
--- mock
{"synthesis": {"echo": true}}
--- request
POST /v1/chat/completions
{"model":"moa-mix-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- error_log eval
[
qr/mock: stage=provider-a call=0 model=gpt-4o-mini .*"temperature":0.7,/,
qr/mock: stage=provider-b call=1 model=claude-3-5-sonnet .*"temperature":1.2,/,
qr/mock: stage=proposal call=2 model=gpt-4o .*"temperature":1.2,/,
qr/mock: stage=synthesis call=0 model=gpt-4o /,
]
--- json
my $s = decode_json($r->{choices}[0]{message}{content});
my $inst = $s->{messages}[-1]{content};
like $inst, qr/<candidate number="1">\nprovider-a 0: model=gpt-4o-mini temperature=0.7\n/,
    'candidate 1 from provider a';
like $inst, qr/<candidate number="2">\nprovider-b 1: model=claude-3-5-sonnet temperature=1.2\n/,
    'candidate 2 from provider b';
like $inst, qr/<candidate number="3">\nproposal 2: model=gpt-4o temperature=1.2\n/,
    'candidate 3 from the default upstream';
--- no_error_log
[alert]
[crit]



=== TEST 3: moa_proposer_n on: one call with n=3 gives three candidates
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_proposer_n on;
        add_header X-Calls $moa_upstream_calls;
        add_header X-Candidates $moa_candidates;
    }
--- mock
{"critique": {"echo": true}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers
X-Calls: 3
X-Candidates: 3
--- grep_error_log eval: qr/mock: start stage=\w+/
--- grep_error_log_out
mock: start stage=proposal
mock: start stage=critique
mock: start stage=synthesis
--- error_log eval
qr/stage=proposal call=0 model=gpt-4o .*"n":3,/
--- no_error_log
[alert]
[crit]



=== TEST 4: moa_critic and moa_aggregator use their own location and model
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_critic /_critic model=o1-mini temperature=0;
        moa_aggregator /_aggregator model=gpt-4.1;
    }
    location = /_critic {
        internal;
        proxy_pass http://moa_mock/mock/chat;
        proxy_set_header X-Moa-Stage critic;
    }
    location = /_aggregator {
        internal;
        proxy_pass http://moa_mock/mock/chat;
        proxy_set_header X-Moa-Stage aggregator;
    }
--- mock
{}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}],"temperature":0.3}
--- error_code: 200
--- json
is $r->{model}, 'moa-gpt-4o-v1', 'model';
is $r->{choices}[0]{message}{content}, 'aggregator 0: model=gpt-4.1 temperature=0.3',
    "the aggregator's answer, at the client's temperature";
--- error_log eval
[
qr/mock: stage=critic call=0 model=o1-mini .*"temperature":0,/,
qr/mock: stage=aggregator call=0 model=gpt-4.1 /,
]
--- no_error_log
[alert]
[crit]



=== TEST 5: moa_proposer_max_tokens and moa_critic_max_tokens limit their stage only
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_proposer_max_tokens 512;
        moa_critic_max_tokens 256;
    }
--- mock
{}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":100}
--- error_code: 200
--- error_log eval
[
qr/stage=proposal call=0 .*"max_completion_tokens":512[,}]/,
qr/stage=critique call=0 .*"max_completion_tokens":256[,}]/,
qr/stage=synthesis call=0 .*"max_completion_tokens":100[,}]/,
]
--- no_error_log eval
[
"[alert]",
"[crit]",
qr/stage=(proposal|critique) .*"max_completion_tokens":100/,
]



=== TEST 6: no max_tokens is invented when neither the client nor the config sets one
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
--- no_error_log eval
[
"[alert]",
"[crit]",
qr/mock: stage=.*max_(completion_)?tokens/,
]
