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



=== TEST 5: passthrough 401 with the operator's key: the status, a generic message, the provider's text in the log
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- upstream_config
    location = /_moa_upstream {
        internal;
        proxy_pass http://moa_mock/mock/chat;
        proxy_set_header Authorization "Bearer sk-operator-key-abcd";
        proxy_set_header X-Moa-Stage $moa_stage;
        proxy_set_header X-Moa-Call $moa_call;
    }
--- mock
{"passthrough": {"status": 401, "error": {"message": "Incorrect API key provided: sk-oper************abcd.", "code": "invalid_api_key"}}}
--- more_headers
Authorization: Bearer sk-client-key
--- request
POST /v1/chat/completions
{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}
--- error_code: 401
--- response_headers
X-Should-Retry: false
--- json
is $r->{error}{code}, 'upstream_auth_error', 'code';
like $r->{error}{message}, qr/credentials \(upstream status 401\)/, 'message';
unlike $body, qr/sk-|Incorrect/, 'nothing of the provider\'s text';
--- error_log eval
qr/\[error\] .*moa passthrough call 0: the provider answered 401, not relayed: Incorrect API key provided: sk-oper\*+abcd\./
--- no_error_log
[alert]
[crit]



=== TEST 6: the same for 403, streamed, the client with no Authorization
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- mock
{"passthrough": {"status": 403, "body": "{\"error\":{\"message\":\"Project proj_x does not have access to model gpt-4o-mini\",\n\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"model_not_found\"}}"}}
--- request
POST /v1/chat/completions
{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 403
--- json
is $r->{error}{code}, 'upstream_auth_error', 'code';
like $r->{error}{message}, qr/credentials \(upstream status 403\)/, 'message';
unlike $body, qr/proj_x/, 'nothing of the provider\'s text';
--- error_log eval
qr/\[error\] .*moa passthrough call 0: the provider answered 403, not relayed: Project proj_x does not have access/
--- no_error_log
[alert]
[crit]



=== TEST 7: a reply that is not OpenAI's shape: its first bytes in the log, on one line
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- mock
{"passthrough": {"status": 401, "content_type": "text/html", "body": "<html>\n<b>key sk-oper-abcd refused</b>\n</html>"}}
--- request
POST /v1/chat/completions
{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}
--- error_code: 401
--- json
is $r->{error}{code}, 'upstream_auth_error', 'code';
unlike $body, qr/sk-oper|html/, 'nothing of the provider\'s text';
--- error_log eval
qr/\[error\] .*moa passthrough call 0: the provider answered 401, not relayed: <html> <b>key sk-oper-abcd refused<\/b> <\/html>(?: while [a-z ]+)?, client/
--- no_error_log
[alert]
[crit]



=== TEST 8: the client's own key, passed: its 401 is relayed as the provider wrote it
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_pass_client_authorization on;
    }
--- mock
{"passthrough": {"status": 401, "error": {"message": "Incorrect API key provided: sk-clie****-key.", "code": "invalid_api_key"}}}
--- more_headers
Authorization: Bearer sk-client-key
--- request
POST /v1/chat/completions
{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}
--- error_code: 401
--- json
is $r->{error}{code}, 'invalid_api_key', 'code';
is $r->{error}{message}, 'Incorrect API key provided: sk-clie****-key.',
    'the provider\'s own message';
--- no_error_log
[alert]
[crit]
not relayed



=== TEST 9: passed on, but no Authorization from the client: the operator's key, hidden
--- request
POST /v1/chat/completions
{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}
--- error_code: 401
--- json
is $r->{error}{code}, 'upstream_auth_error', 'code';
unlike $body, qr/sk-/, 'nothing of the provider\'s text';
--- error_log
moa passthrough call 0: the provider answered 401, not relayed: Incorrect API key provided: sk-clie****-key.
--- no_error_log
[alert]
[crit]



=== TEST 10: passed on, but replaced by the internal location: what reached the provider decides
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_pass_client_authorization on;
    }
--- upstream_config
    location = /_moa_upstream {
        internal;
        proxy_pass http://moa_mock/mock/chat;
        proxy_set_header Authorization "Bearer sk-operator-key-abcd";
        proxy_set_header X-Moa-Stage $moa_stage;
        proxy_set_header X-Moa-Call $moa_call;
    }
--- mock
{"passthrough": {"status": 401, "error": {"message": "Incorrect API key provided: sk-oper****abcd.", "code": "invalid_api_key"}}}
--- more_headers
Authorization: Bearer sk-client-key
--- request
POST /v1/chat/completions
{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}
--- error_code: 401
--- json
is $r->{error}{code}, 'upstream_auth_error', 'code';
unlike $body, qr/sk-/, 'nothing of the provider\'s text';
--- error_log
moa passthrough call 0: the provider answered 401, not relayed
--- no_error_log
[alert]
[crit]



=== TEST 11: other statuses are relayed as they are
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- mock
{"passthrough": {"status": 400, "error": {"message": "This model's maximum context length is 128000 tokens.", "code": "context_length_exceeded"}}}
--- request
POST /v1/chat/completions
{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}
--- error_code: 400
--- json
is $r->{error}{code}, 'context_length_exceeded', 'code';
like $r->{error}{message}, qr/maximum context length/, 'the provider\'s own message';
--- no_error_log
[alert]
[crit]
not relayed



=== TEST 12: a header the internal location sets itself replaces the one the module passes; the proxy sends the body's length
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_pass_client_authorization on;
    }
--- upstream_config
    location = /_moa_upstream {
        internal;
        proxy_pass http://127.0.0.1:$server_port/echo-auth;
        proxy_set_header Authorization "Bearer sk-operator-key-abcd";
    }
    location = /echo-auth {
        return 200 '{"choices":[{"index":0,"message":{"role":"assistant","content":"auth=[$http_authorization] len=[$http_content_length]"},"finish_reason":"stop"}]}';
    }
--- more_headers
Authorization: Bearer sk-client-key
--- request
POST /v1/chat/completions
{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- json
is $r->{choices}[0]{message}{content},
    'auth=[Bearer sk-operator-key-abcd] len=[67]',
    'one Authorization, the location\'s, and the body\'s length';
--- no_error_log
[alert]
[crit]
