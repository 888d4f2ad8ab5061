# Failure policy: quorum, deadline, critique and synthesis failures, the
# status the client gets, the provider key, client aborts.

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
    }
_EOC_

    $block->set_value('request', <<'_EOC_') unless defined $block->request;
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
_EOC_
});

run_tests();

__DATA__

=== TEST 1: moa_min_proposals 2: one good candidate is not enough
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_min_proposals 2;
    }
--- mock
{"proposal": {"status": 503}, "proposal.1": {"status": 200}}
--- error_code: 502
--- json
is $r->{error}{code}, 'not_enough_candidates', 'code';
like $r->{error}{message}, qr/only 1 of 3 proposal calls gave a usable candidate \(moa_min_proposals is 2\)/,
    'message';
--- no_error_log
[alert]
[crit]
mock: start stage=critique



=== TEST 2: moa_min_proposals 2: two are enough
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_min_proposals 2;
        add_header X-Candidates $moa_candidates;
    }
--- mock
{"proposal.1": {"status": 503}}
--- error_code: 200
--- response_headers
X-Candidates: 2
--- no_error_log
[alert]
[crit]



=== TEST 3: moa_proposal_timeout: go on with the candidates in, cancel the straggler
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_proposal_timeout 300ms;
        add_header X-Candidates $moa_candidates;
        add_header X-Proposal-Time $moa_proposal_time;
    }
--- mock
{"proposal.2": {"delay": 1500}, "synthesis": {"echo": true}}
--- error_code: 200
--- response_headers_like
X-Candidates: 2
X-Proposal-Time: 0\.[34]\d\d
--- json
my $s = decode_json($r->{choices}[0]{message}{content});
unlike $s->{messages}[-1]{content}, qr/<candidate number="3">/, 'two candidates';
--- error_log
moa: moa_proposal_timeout: going on with 2 of 3 proposals
moa proposal call 2 canceled
--- grep_error_log eval: qr/cleanup http upstream request|close http upstream connection/
--- grep_error_log_out
cleanup http upstream request
close http upstream connection
--- no_error_log
[alert]
[crit]



=== TEST 4: moa_proposal_timeout with fewer candidates than the minimum: 504
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_proposal_timeout 200ms;
    }
--- mock
{"proposal": {"delay": 1500}}
--- error_code: 504
--- json
is $r->{error}{code}, 'upstream_timeout', 'code';
like $r->{error}{message}, qr/moa_proposal_timeout/, 'message';
--- error_log
moa proposal call 0 canceled
moa proposal call 1 canceled
moa proposal call 2 canceled
--- no_error_log
[alert]
[crit]
mock: start stage=critique



=== TEST 5: the critique fails: synthesis without critiques, logged at warn
--- mock
{"critique": {"status": 500}, "synthesis": {"echo": true}}
--- error_code: 200
--- json
my $s = decode_json($r->{choices}[0]{message}{content});
my $inst = $s->{messages}[-1]{content};
like $inst, qr/<candidate number="3">/, 'candidates';
unlike $inst, qr/<critiques>/, 'no critiques';
unlike $inst, qr/status 500/, 'no error text';
--- error_log eval
qr/\[warn\] .*moa critique failed, synthesis without critiques/
--- no_error_log
[alert]
[crit]



=== TEST 6: the synthesis fails, moa_fallback error (default): the status mapping
--- mock
{"synthesis": {"status": 503}}
--- error_code: 502
--- json
like $r->{error}{message}, qr/the synthesis call failed: upstream status 503/,
    'message';
--- no_error_log
[alert]
[crit]



=== TEST 7: the synthesis fails, moa_fallback candidate: the first good candidate, usage of all calls
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_fallback candidate;
    }
--- mock
{"proposal": {"content": "candidate {call}"}, "proposal.0": {"body": "junk"},
 "synthesis": {"status": 500}}
--- error_code: 200
--- response_headers
X-MoA-Fallback: candidate
--- json
is $r->{model}, 'moa-gpt-4o-v1', 'model';
is $r->{choices}[0]{message}{content}, 'candidate 1', 'first good candidate';
is scalar @{ $r->{choices} }, 1, 'one choice';
is $r->{choices}[0]{index}, 0, 'index 0';
is $r->{usage}{prompt_tokens}, 30, 'usage of the calls that answered';
--- error_log
moa synthesis failed, answering with candidate 1
--- no_error_log
[alert]
[crit]



=== TEST 8: every proposal 400: the provider's error is the client's, relayed
--- mock
{"proposal": {"status": 400, "error": {"message": "This model's maximum context length is 128000 tokens.", "code": "context_length_exceeded", "param": "messages"}}}
--- error_code: 400
--- json
is $r->{error}{code}, 'context_length_exceeded', 'code';
is $r->{error}{param}, 'messages', 'param';
is $r->{error}{type}, 'invalid_request_error', 'type';
like $r->{error}{message}, qr/maximum context length/, 'message';
--- no_error_log
[alert]
[crit]



=== TEST 9: every proposal 401: 502 naming a credentials problem, never the provider's text, not retried
--- upstream_config
    location = /_moa_upstream {
        internal;
        proxy_pass http://moa_mock/mock/chat;
        proxy_set_header Authorization "Bearer sk-test-secret-key-123";
        proxy_set_header X-Moa-Stage $moa_stage;
        proxy_set_header X-Moa-Call $moa_call;
    }
--- mock
{"proposal": {"status": 401, "error": {"message": "Incorrect API key provided: sk-test-secret-key-123.", "code": "invalid_api_key"}}}
--- log_level: info
--- error_code: 502
--- response_headers
X-Should-Retry: false
--- json
is $r->{error}{code}, 'upstream_auth_error', 'code';
like $r->{error}{message}, qr/credentials \(upstream status 401\)/, 'message';
unlike $body, qr/sk-test/, 'the key is not in the response';
--- no_error_log
[alert]
[crit]
sk-test-secret-key



=== TEST 10: every proposal 429: 429 with the provider's Retry-After
--- mock
{"proposal": {"status": 429, "headers": {"Retry-After": "20"},
              "error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}}}
--- error_code: 429
--- response_headers
Retry-After: 20
--- json
is $r->{error}{code}, 'rate_limit_exceeded', 'code';
like $r->{error}{message}, qr/Rate limit reached/, 'message';
--- no_error_log
[alert]
[crit]



=== TEST 11: Retry-After survives proxy_hide_header
--- upstream_config
    location = /_moa_upstream {
        internal;
        proxy_pass http://moa_mock/mock/chat;
        proxy_hide_header Retry-After;
        proxy_set_header X-Moa-Stage $moa_stage;
        proxy_set_header X-Moa-Call $moa_call;
    }
--- mock
{"proposal": {"status": 429, "headers": {"Retry-After": "9"}}}
--- error_code: 429
--- response_headers
Retry-After: 9
--- no_error_log
[alert]
[crit]



=== TEST 12: every proposal 5xx: 502
--- mock
{"proposal": {"status": 500}}
--- error_code: 502
--- json
like $r->{error}{message}, qr/all 3 proposal calls failed: upstream status 500/, 'message';
--- no_error_log
[alert]
[crit]



=== TEST 13: every proposal times out at the proxy: 504
--- upstream_config
    location = /_moa_upstream {
        internal;
        proxy_pass http://moa_mock/mock/chat;
        proxy_read_timeout 200ms;
        proxy_set_header X-Moa-Stage $moa_stage;
        proxy_set_header X-Moa-Call $moa_call;
    }
--- mock
{"proposal": {"delay": 1000}}
--- error_code: 504
--- json
is $r->{error}{code}, 'upstream_timeout', 'code';
--- no_error_log
[alert]
[crit]



=== TEST 14: mixed failures: 502 listing the statuses
--- mock
{"proposal.0": {"status": 500}, "proposal.1": {"status": 429},
 "proposal.2": {"body": "<html>oops</html>"}}
--- error_code: 502
--- json
like $r->{error}{message}, qr/all 3 proposal calls failed \(upstream statuses 500, 429, 200\)/,
    'message';
--- no_error_log
[alert]
[crit]



=== TEST 15: a truncated reply counts as failed
--- mock
{"proposal": {"body": "{\"id\":\"x\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"cut he"}}
--- error_code: 502
--- no_error_log
[alert]
[crit]



=== TEST 16: the client goes away while proposals run: every call cancelled
--- mock
{"proposal": {"delay": 1000}}
--- timeout: 0.3
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
cleanup http upstream request
close http upstream connection
cleanup http upstream request
close http upstream connection
--- no_error_log
[alert]
[crit]
mock: start stage=critique



=== TEST 17: the client goes away during the critique
--- mock
{"critique": {"delay": 1000}}
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



=== TEST 18: the client goes away during a streamed synthesis
--- mock
{"synthesis": {"content": "a b c d", "chunks": 4, "interval": 1000}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","stream":true,"messages":[{"role":"user","content":"hi"}]}
--- timeout: 0.5
--- abort
--- ignore_response
--- wait: 0.2
--- error_log
client prematurely closed connection
close http upstream connection
--- no_error_log
[alert]
[crit]



=== TEST 19: after an abort, the next request on a new connection works
--- mock
{"proposal": {"delay": 100}}
--- request eval
["POST /v1/chat/completions\n" . '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}',
 "POST /v1/chat/completions\n" . '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}']
--- error_code eval
[200, 200]
--- no_error_log eval
[["[alert]", "[crit]"], ["[alert]", "[crit]"]]



=== TEST 20: pipelined bytes while the stages run are not an abort
--- mock
{"proposal": {"delay": 200}}
--- pipelined_requests eval
["POST /v1/chat/completions\n" . '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"one"}]}',
 "POST /v1/chat/completions\n" . '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"two"}]}']
--- error_code eval
[200, 200]
--- no_error_log eval
[["[alert]", "[crit]", "prematurely closed"], ["[alert]", "[crit]", "prematurely closed"]]
