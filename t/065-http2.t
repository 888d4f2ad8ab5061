# HTTP/2 clients (curl with prior knowledge on a second listener): the
# completion, the stream, and an abort while the proposals run.

use lib 't/lib';
use MoaTest;
use Test::Nginx::Socket 'no_plan';

moa_setup();
no_long_string();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', <<'_EOC_') unless defined $block->config;
    listen $TEST_NGINX_RAND_PORT_1 http2;

    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }

    location = /h2 {
        return 200 "h2 port $TEST_NGINX_RAND_PORT_1\n";
    }
_EOC_

    $block->set_value('request', "GET /h2\n") unless defined $block->request;
});

run_tests();

__DATA__

=== TEST 1: a completion over HTTP/2
--- mock
{"synthesis": {"content": "over h2"}}
--- response_body_like: ^h2 port \d+$
--- sse
my ($port) = $body =~ /port (\d+)/;
my $out = MoaTest::curl_h2($port, '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}');
like $out->{head}, qr{^HTTP/2 200}, 'HTTP/2 200';
my $r = MoaTest::decode_json($out->{body});
is $r->{choices}[0]{message}{content}, 'over h2', 'content';
is $r->{model}, 'moa-gpt-4o-v1', 'model';
--- no_error_log
[alert]
[crit]



=== TEST 2: a stream over HTTP/2
--- mock
{"synthesis": {"content": "streamed over h2", "chunks": 3}}
--- response_body_like: ^h2 port \d+$
--- sse
my ($port) = $body =~ /port (\d+)/;
my $out = MoaTest::curl_h2($port, '{"model":"moa-gpt-4o-v1","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}');
like $out->{head}, qr{^HTTP/2 200}, 'HTTP/2 200';
like $out->{head}, qr{^content-type: text/event-stream}mi, 'SSE';
my @ev = MoaTest::sse_events($out->{body});
is $ev[-1], '[DONE]', '[DONE]';
is MoaTest::sse_data(\@ev), 'streamed over h2', 'content';
is $ev[-2]{usage}{prompt_tokens}, 50, 'usage';
--- no_error_log
[alert]
[crit]



=== TEST 3: an HTTP/2 client that resets the stream while proposals run: every call cancelled
--- mock
{"proposal": {"delay": 1500}}
--- response_body_like: ^h2 port \d+$
--- sse
my ($port) = $body =~ /port (\d+)/;
my $out = MoaTest::curl_h2($port, '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}',
                           '--max-time', '0.4');
is $out->{body}, '', 'no answer';
--- wait: 0.3
--- error_log
moa: client prematurely closed connection
--- grep_error_log eval: qr/close http upstream connection/
--- grep_error_log_out
close http upstream connection
close http upstream connection
close http upstream connection
--- no_error_log
[alert]
[crit]



=== TEST 4: a passthrough completion and a passthrough stream over HTTP/2 end with the provider's reply
--- mock
{"passthrough": {"content": "relayed over h2", "chunks": 4}}
--- response_body_like: ^h2 port \d+$
--- sse
my ($port) = $body =~ /port (\d+)/;
my $out = MoaTest::curl_h2($port, '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}', '--max-time', '10');
like $out->{head}, qr{^HTTP/2 200}, 'completion: HTTP/2 200';
my $r = MoaTest::decode_json($out->{body});
is $r->{choices}[0]{message}{content}, 'relayed over h2', 'completion: content';
is $r->{model}, 'gpt-4o', 'completion: model unchanged';
$out = MoaTest::curl_h2($port, '{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}', '--max-time', '10');
like $out->{head}, qr{^HTTP/2 200}, 'stream: HTTP/2 200';
my @ev = MoaTest::sse_events($out->{body});
is $ev[-1], '[DONE]', 'stream: [DONE]';
is MoaTest::sse_data(\@ev), 'relayed over h2', 'stream: content';
--- no_error_log
[alert]
[crit]
[error]
