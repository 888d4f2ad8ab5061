# What the module sends and relays beyond the client's own request: the
# bodies it builds for its stages are not held to client_max_body_size,
# and a provider's refusal of the operator's key is not relayed.

use lib 't/lib';
use MoaTest;
use Test::Nginx::Socket 'no_plan';

moa_setup();
no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a request just under client_max_body_size goes through critique and synthesis
(the server's limit, 1m as nginx's default, holds in the internal location too)
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        client_max_body_size 1m;
        client_body_buffer_size 1m;
        moa_max_response_size 8m;
    }
--- upstream_config
    location = /_moa_upstream {
        internal;
        client_max_body_size 1m;
        proxy_pass http://moa_mock/mock/chat;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header X-Moa-Stage $moa_stage;
        proxy_set_header X-Moa-Call $moa_call;
    }
--- mock
{"synthesis": {"echo": true}}
--- request eval
my $pre = '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"';
my $post = 'END"}]}';
"POST /v1/chat/completions\n" . $pre
    . ('x' x (1048376 - length($pre) - length($post) - 3)) . $post
--- error_code: 200
--- json
my $s = decode_json($r->{choices}[0]{message}{content});
cmp_ok length($r->{choices}[0]{message}{content}), '>', 1048576,
    'the synthesis body, over the limit, reached the provider whole';
like $s->{messages}[0]{content}, qr/^x+END$/, 'the conversation';
like $s->{messages}[-1]{content}, qr/critique 0: /, 'after a critique';
--- error_log
mock: start stage=critique
--- no_error_log
[alert]
[crit]
client intended to send too large body



=== TEST 2: an internal location with a small client_max_body_size holds no call back
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- upstream_config
    location = /_moa_upstream {
        internal;
        client_max_body_size 1k;
        proxy_pass http://moa_mock/mock/chat;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header X-Moa-Stage $moa_stage;
        proxy_set_header X-Moa-Call $moa_call;
    }
--- mock
{"synthesis": {"echo": true}}
--- request eval
"POST /v1/chat/completions\n"
    . '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"'
    . ('y' x 2000) . '"}]}'
--- error_code: 200
--- json
my $s = decode_json($r->{choices}[0]{message}{content});
is $s->{messages}[0]{content}, 'y' x 2000, 'the conversation';
like $s->{messages}[-1]{content}, qr/critique 0: /, 'after a critique';
--- no_error_log
[alert]
[crit]
client intended to send too large body



=== TEST 3: the same for a passthrough
--- request eval
"POST /v1/chat/completions\n"
    . '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"'
    . ('z' x 2000) . '"}]}'
--- error_code: 200
--- json
like $r->{choices}[0]{message}{content}, qr/^direct 0|^passthrough 0: /,
    'answered';
--- no_error_log
[alert]
[crit]
client intended to send too large body



=== TEST 4: the client's own body is still held to the limit
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        client_max_body_size 1m;
    }
--- request eval
"POST /v1/chat/completions\n"
    . '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"'
    . ('w' x 1048576) . '"}]}'
--- error_code: 413
--- error_log
client intended to send too large body
--- no_error_log
[alert]
[crit]
mock: start
