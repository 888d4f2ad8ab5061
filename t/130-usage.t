# Usage a provider reports, however absurd or absent, and choices it was
# not asked for: the answer's usage is OpenAI's CompletionUsage (three
# integer counts) or absent (plain) / null (the stream's usage chunk) when
# no call reported a count; a count is an integer from 0 to 2^53 - 1, other
# members are ignored and logged at info; what is kept of a provider's own
# members is bounded; candidates are the choices the proposals asked for.

use lib 't/lib';
use MoaTest;
use Test::Nginx::Socket 'no_plan';

moa_setup();
no_long_string();
no_shuffle();

# a usage as OpenAI's published CompletionUsage: the three counts required,
# integers >= 0 (as text in the body, not 1e+308 nor 2.5)
sub usage_ok {
    my ($u, $name) = @_;
    ok ref $u eq 'HASH', "$name: usage is an object";
    for my $k (qw(prompt_tokens completion_tokens total_tokens)) {
        like $u->{$k} // '', qr/^(0|[1-9][0-9]{0,15})$/,
            "$name: $k an integer >= 0";
    }
}

# the members CreateChatCompletionResponse requires
sub completion_ok {
    my ($r, $name) = @_;
    ok !ref $r->{id} && length $r->{id}, "$name: id";
    is $r->{object}, 'chat.completion', "$name: object";
    like $r->{created}, qr/^[0-9]+$/, "$name: created";
    is $r->{model}, 'moa-gpt-4o-v1', "$name: model";
    ok ref $r->{choices} eq 'ARRAY' && @{ $r->{choices} }, "$name: choices";
    usage_ok($r->{usage}, $name) if exists $r->{usage};
}

# a provider's reply, as a static file: n choices, a usage of k other
# members around prompt 10, completion 5, total 15
sub reply_file {
    my ($n, $k) = @_;
    my $choices = join ',', map {
        qq({"index":$_,"message":{"role":"assistant","content":"cand #$_",)
        . qq("refusal":null},"logprobs":null,"finish_reason":"stop"})
    } 0 .. $n - 1;
    my $usage = join '', map { qq("k$_":1,) } 0 .. $k - 1;
    return qq({"id":"chatcmpl-big","object":"chat.completion","created":1,)
        . qq("model":"gpt-4o","choices":[$choices],)
        . qq("usage":{${usage}"prompt_tokens":10,"completion_tokens":5,)
        . qq("total_tokens":15}});
}

our $Big = <<'_EOC_';
    location = /_big {
        internal;
        proxy_pass http://moa_mock/reply.json;
        proxy_method GET;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_http_version 1.1;
        proxy_set_header Connection "";
    }

    location = /reply.json {
        types { }
        default_type application/json;
    }
_EOC_

run_tests();

__DATA__

=== TEST 1: absurd counts are not summed: negative, 30 digits, a string, 1e308, a fraction; valid ones are
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- mock
{"proposal.0": {"body": "{\"id\":\"p\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"cand\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":-5,\"completion_tokens\":123456789012345678901234567890,\"total_tokens\":\"9\",\"x\":1e308,\"cost\":0.25}}"},
 "proposal.1": {"usage": {"prompt_tokens": 7, "completion_tokens": 2.5}}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- json
completion_ok($r, 'answer');
is $r->{usage}{prompt_tokens}, 7 + 10 + 10 + 10, 'prompt: the valid counts';
is $r->{usage}{completion_tokens}, 5 + 5 + 5, 'completion: the valid counts';
is $r->{usage}{total_tokens}, 7 + 15 + 15 + 15,
    'total: a call without a valid total adds its valid prompt + completion';
ok !exists $r->{usage}{x} && !exists $r->{usage}{cost},
    '1e308 and a fraction are not counts';
like $body, qr/"usage":\{"prompt_tokens":37,"completion_tokens":15,"total_tokens":52\}/,
    'printed as integers';
--- error_log
moa proposal call 0: 5 usage members not summed
moa proposal call 1: 2 usage members not summed
--- no_error_log
[alert]
[crit]



=== TEST 2: no call reports usage: a plain answer has no usage (optional in OpenAI's schema)
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        add_header X-Tokens "$moa_prompt_tokens|$moa_completion_tokens|$moa_total_tokens";
    }
--- mock
{"default": {"usage": null}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers
X-Tokens: 0|0|0
--- json
completion_ok($r, 'answer');
ok !exists $r->{usage}, 'no usage member';
unlike $body, qr/"usage"/, 'not even null or {}';
--- no_error_log
[alert]
[crit]
usage members not summed



=== TEST 3: the same when the synthesis is a fallback candidate: no usage
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_fallback candidate;
    }
--- mock
{"default": {"usage": null}, "synthesis": {"status": 500}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- json
completion_ok($r, 'answer');
ok !exists $r->{usage}, 'no usage member';
--- no_error_log
[alert]
[crit]



=== TEST 4: no call reports usage, streamed with include_usage: the usage chunk says null
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- mock
{"default": {"usage": null}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- sse
is $e[-1], '[DONE]', '[DONE] last';
my $u = $e[-2];
is_deeply $u->{choices}, [], 'the usage chunk has no choices';
ok exists $u->{usage} && !defined $u->{usage}, 'usage null (nullable in a chunk)';
is $u->{object}, 'chat.completion.chunk', 'a chunk';
like $body, qr/"choices":\[\],"usage":null\}\n\ndata: \[DONE\]\n\n$/, 'as text';
--- no_error_log
[alert]
[crit]



=== TEST 5: some calls report usage, some do not (plain): the sum of those that did
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- mock
{"proposal": {"usage": null}, "critique": {"usage": null},
 "synthesis": {"usage": {"prompt_tokens": 17, "completion_tokens": 7,
                         "prompt_tokens_details": {"cached_tokens": 3}}}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- json
completion_ok($r, 'answer');
is $r->{usage}{prompt_tokens}, 17, 'prompt';
is $r->{usage}{completion_tokens}, 7, 'completion';
is $r->{usage}{total_tokens}, 24, 'total';
is $r->{usage}{prompt_tokens_details}{cached_tokens}, 3, 'details';
--- no_error_log
[alert]
[crit]



=== TEST 6: some calls report usage, some do not (stream): the sum of those that did
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- mock
{"proposal": {"usage": {"prompt_tokens": 11, "completion_tokens": 3}},
 "synthesis": {"usage": null}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- sse
is $e[-1], '[DONE]', '[DONE] last';
my $u = $e[-2]{usage};
usage_ok($u, 'usage chunk');
is $u->{prompt_tokens}, 3 * 11 + 10, 'prompt: proposals and critique';
is $u->{completion_tokens}, 3 * 3 + 5, 'completion';
is $u->{total_tokens}, 3 * 14 + 15, 'total';
--- no_error_log
[alert]
[crit]



=== TEST 7: a streamed synthesis whose usage chunk has absurd counts: the valid ones, logged
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- mock
{"default": {"usage": null},
 "synthesis": {"usage": {"prompt_tokens": -1, "completion_tokens": 2.5, "total_tokens": 4}}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- sse
my $u = $e[-2]{usage};
usage_ok($u, 'usage chunk');
is_deeply $u, {prompt_tokens => 0, completion_tokens => 0, total_tokens => 4},
    'total 4; the required counts no call reported are 0';
--- error_log
moa synthesis call: 2 usage members not summed
--- no_error_log
[alert]
[crit]



=== TEST 8: a passthrough's usage read for the variables: the same rule (plain)
--- http_config eval
MoaTest::http_config() . <<'_EOC_'
    log_format moa_tokens 'tokens=$moa_prompt_tokens,$moa_completion_tokens,$moa_total_tokens';
_EOC_
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        access_log logs/access.log moa_tokens;
    }
--- mock
{"passthrough": {"body": "{\"id\":\"p\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"x\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":-5,\"completion_tokens\":7,\"total_tokens\":1e308}}"}}
--- request
POST /v1/chat/completions
{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like: "total_tokens":1e308\}\}$
--- access_log
tokens=0,7,7
--- error_log
moa passthrough call: 2 usage members not summed
--- no_error_log
[alert]
[crit]



=== TEST 9: a passthrough's usage read for the variables: the same rule (stream)
--- http_config eval
MoaTest::http_config() . <<'_EOC_'
    log_format moa_tokens 'tokens=$moa_prompt_tokens,$moa_completion_tokens,$moa_total_tokens';
_EOC_
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        access_log logs/access.log moa_tokens;
    }
--- mock
{"passthrough": {"usage": {"prompt_tokens": 2.5}}}
--- request
POST /v1/chat/completions
{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like: "usage":\{"prompt_tokens":2.5,
--- access_log
tokens=0,5,5
--- error_log
moa passthrough call: 2 usage members not summed
--- no_error_log
[alert]
[crit]



=== TEST 10: a usage of 60,000 members: the answer's usage stays small and its counts right
--- config eval
<<'_EOC_' . $main::Big
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_proposer /_big model=gpt-4o;
        moa_proposer /_big model=gpt-4o;
        moa_proposer /_big model=gpt-4o;
        moa_max_response_size 8m;
    }
_EOC_
--- user_files eval
">>> reply.json\n" . main::reply_file(1, 60000)
--- mock
{}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- json
completion_ok($r, 'answer');
is $r->{usage}{prompt_tokens}, 3 * 10 + 10 + 10, 'prompt';
is $r->{usage}{completion_tokens}, 3 * 5 + 5 + 5, 'completion';
is $r->{usage}{total_tokens}, 3 * 15 + 15 + 15, 'total';
my ($u) = $body =~ /("usage":\{[^}]*\})/;
cmp_ok length($u), '<', 256, "the usage printed is small: $u";
is scalar(grep { /^k/ } keys %{ $r->{usage} }), 8,
    'the first 8 other members are kept';
--- error_log
moa proposal call 0: 59992 usage members not summed
--- no_error_log
[alert]
[crit]



=== TEST 11: 2,000 choices per proposal: only the one each proposal asked for is a candidate; usage still counted
--- config eval
<<'_EOC_' . $main::Big
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_proposer /_big model=gpt-4o;
        moa_proposer /_big model=gpt-4o;
        moa_proposer /_big model=gpt-4o;
        moa_max_response_size 8m;
        add_header X-Cands $moa_candidates always;
    }
_EOC_
--- user_files eval
">>> reply.json\n" . main::reply_file(2000, 0)
--- mock
{"synthesis": {"echo": true}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers
X-Cands: 3
--- json
my $s = $r->{choices}[0]{message}{content};
my @c = $s =~ /cand #(\d+)/g;
is_deeply [sort { $a <=> $b } @c], [0, 0, 0], 'three candidates: choice 0 of each';
cmp_ok length($s), '<', 16384, 'a small synthesis prompt';
is $r->{usage}{prompt_tokens}, 3 * 10 + 10 + 10, 'the usage of every proposal';
--- no_error_log
[alert]
[crit]



=== TEST 12: with moa_proposer_n: one call asks n=3, the provider's 2,000 choices give 3 candidates
--- config eval
<<'_EOC_' . $main::Big
    location = /v1/chat/completions {
        moa_pass /_big;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_proposer_n on;
        moa_max_response_size 8m;
        add_header X-Cands $moa_candidates always;
    }
_EOC_
--- user_files eval
">>> reply.json\n" . main::reply_file(2000, 0)
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers
X-Cands: 3
--- json
completion_ok($r, 'answer');
is $r->{usage}{prompt_tokens}, 3 * 10,
    'the usage of the three calls (proposal, critique, synthesis)';
--- no_error_log
[alert]
[crit]
