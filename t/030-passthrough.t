# Models that are not MoA ids: forwarded unchanged, or 404.

use lib 't/lib';
use MoaTest;
use Test::Nginx::Socket 'no_plan';

moa_setup();
no_long_string();
run_tests();

__DATA__

=== TEST 1: passthrough: one call, the body unchanged, the provider's answer as is
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        add_header X-Calls $moa_upstream_calls;
    }
--- mock
{"passthrough": {"headers": {"X-Provider": "yes"}, "content": "plain answer"}}
--- request
POST /v1/chat/completions
{"model":"gpt-4o-mini",  "messages":[{"role":"user","content":"hi"}],"temperature":0.25}
--- error_code: 200
--- response_headers
X-Provider: yes
X-Calls: 1
Content-Type: application/json
--- json
is $r->{model}, 'gpt-4o-mini', 'model unchanged';
is $r->{choices}[0]{message}{content}, 'plain answer', 'content';
is $r->{usage}{prompt_tokens}, 10, 'usage of one call';
--- error_log
mock: stage=passthrough call=0 model=gpt-4o-mini stream=false body={"model":"gpt-4o-mini",  "messages":[{"role":"user","content":"hi"}],"temperature":0.25}
--- grep_error_log eval: qr/mock: start stage=\w+/
--- grep_error_log_out
mock: start stage=passthrough
--- no_error_log
[alert]
[crit]



=== TEST 2: passthrough keeps the provider's error status and body
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- mock
{"passthrough": {"status": 429, "headers": {"Retry-After": "7"},
                 "error": {"code": "rate_limit_exceeded"}}}
--- request
POST /v1/chat/completions
{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}
--- error_code: 429
--- response_headers
Retry-After: 7
--- json
is $r->{error}{code}, 'rate_limit_exceeded', "the provider's error";
--- no_error_log
[alert]
[crit]



=== TEST 3: passthrough streams unchanged
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- mock
{"passthrough": {"content": "one two three", "chunks": 3}}
--- request
POST /v1/chat/completions
{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers_like
Content-Type: text/event-stream.*
--- sse
is $e[-1], '[DONE]', 'ends with [DONE]';
is MoaTest::sse_data(\@e), 'one two three', 'content';
is $e[0]{model}, 'gpt-4o', 'model unchanged';
--- no_error_log
[alert]
[crit]



=== TEST 4: moa_passthrough off: an unknown model is 404 model_not_found, no upstream call
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_passthrough off;
    }
--- mock
{}
--- request
POST /v1/chat/completions
{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}
--- error_code: 404
--- json
is $r->{error}{code}, 'model_not_found', 'code';
is $r->{error}{type}, 'invalid_request_error', 'type';
is $r->{error}{param}, 'model', 'param';
like $r->{error}{message}, qr/'gpt-4o'/, 'message names the model';
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 5: client headers do not reach the provider
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- upstream_config
    location = /_moa_upstream {
        internal;
        default_type application/json;
        return 200 '{"choices":[{"index":0,"message":{"role":"assistant","content":"auth=[$http_authorization] cookie=[$http_cookie] ae=[$http_accept_encoding] ct=[$http_content_type] accept=[$http_accept] len=[$http_content_length] ua=[$http_user_agent]"},"finish_reason":"stop"}]}';
    }
--- request
POST /v1/chat/completions
{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}
--- more_headers
Authorization: Bearer client-secret
Cookie: session=1
Accept-Encoding: gzip
User-Agent: test-agent
--- error_code: 200
--- json
is $r->{choices}[0]{message}{content},
    'auth=[] cookie=[] ae=[] ct=[application/json] accept=[application/json] len=[] ua=[]',
    'only Content-Type and Accept';
--- no_error_log
[alert]
[crit]



=== TEST 6: moa_pass_client_authorization on forwards the client's key, nothing else
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_pass_client_authorization on;
    }
--- upstream_config
    location = /_moa_upstream {
        internal;
        default_type application/json;
        return 200 '{"choices":[{"index":0,"message":{"role":"assistant","content":"auth=[$http_authorization] cookie=[$http_cookie]"},"finish_reason":"stop"}]}';
    }
--- request
POST /v1/chat/completions
{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}
--- more_headers
Authorization: Bearer byok-123
Cookie: session=1
--- error_code: 200
--- json
is $r->{choices}[0]{message}{content}, 'auth=[Bearer byok-123] cookie=[]',
    'Authorization forwarded';
--- no_error_log
[alert]
[crit]



=== TEST 7: a streamed request asks the provider for an event stream
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- upstream_config
    location = /_moa_upstream {
        internal;
        default_type text/plain;
        return 200 'accept=[$http_accept]';
    }
--- request
POST /v1/chat/completions
{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body chomp
accept=[text/event-stream]
--- no_error_log
[alert]
[crit]



=== TEST 8: passthrough answers end where the provider's do: plain and streamed on one keep-alive connection
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- mock
{"passthrough": {"content": "alpha beta gamma", "chunks": 3}}
--- pipelined_requests eval
[
"POST /v1/chat/completions\n" . '{"model":"gpt-4o","messages":[{"role":"user","content":"one"}]}',
"POST /v1/chat/completions\n" . '{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"two"}]}',
"POST /v1/chat/completions\n" . '{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"three"}]}',
"POST /v1/chat/completions\n" . '{"model":"gpt-4o","messages":[{"role":"user","content":"four"}]}',
]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[
qr/^\{.*"model":"gpt-4o".*"content":"alpha beta gamma".*\}\s*$/s,
qr/^data: .*"model":"gpt-4o".*data: \[DONE\]\n\n$/s,
qr/^data: .*"usage":\{"prompt_tokens":10.*data: \[DONE\]\n\n$/s,
qr/^\{.*"model":"gpt-4o".*"content":"alpha beta gamma".*\}\s*$/s,
]
--- no_error_log
[alert]
[crit]
[error]




=== TEST 9: passthrough of replies without a body (204) and with one: each ends, and the connection carries the next (curl, one connection)
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- upstream_config
    location = /_moa_upstream {
        internal;
        if ($http_accept = "text/event-stream") {
            return 204;
        }
        default_type application/json;
        return 200 '{"ok":1}';
    }
--- request
POST /v1/chat/completions
{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"one"}]}
--- error_code: 204
--- response_body chomp
--- check
my $url = 'http://127.0.0.1:' . Test::Nginx::Util::server_port_for_client()
          . '/v1/chat/completions';
my @args;
for my $stream (1, 0, 1, 0) {
    push @args, '--next' if @args;
    push @args, '-s', '-H', 'Content-Type: application/json',
        '-w', '%{http_code} %{num_connects} %{size_download}\n',
        '--data-binary', '{"model":"gpt-4o","stream":' . ($stream ? 'true' : 'false')
                         . ',"messages":[{"role":"user","content":"hi"}]}',
        $url;
}
open my $fh, '-|', 'curl', '--max-time', '10', @args or die "curl: $!";
my $out = do { local $/; <$fh> };
close $fh;
# curl writes each body, then "status connects size"
my @w = ($out // '') =~ /(\d{3}) (\d+) (\d+)\n/g;
is scalar(@w), 12, 'four answers';
is join(',', @w[0, 3, 6, 9]), '204,200,204,200', 'statuses';
is join(',', @w[1, 4, 7, 10]), '1,0,0,0',
   'one connection: the three after the first reuse it';
like $out, qr/^204 1 0\n\{"ok":1\}200 0 8\n204 0 0\n\{"ok":1\}200 0 8\n$/,
     'no body for a 204, the whole body for a 200';
--- no_error_log
[alert]
[crit]
[error]
