# "stream": true: the synthesis passed through as SSE, byte for byte where
# it matters, with keepalive comments while the first stages run.

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
});

run_tests();

__DATA__

=== TEST 1: SSE framing: data lines only, one id, the MoA model, role first, [DONE] last
--- mock
{"synthesis": {"content": "Hello streaming world", "chunks": 4}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers_like
Content-Type: text/event-stream; charset=utf-8
Cache-Control: no-cache
X-Accel-Buffering: no
X-Request-Id: [0-9a-f]{32}
--- response_body_like chomp
\A(data: \{[^\n]*\}\n\n)+data: \[DONE\]\n\n\z
--- sse
is $e[-1], '[DONE]', '[DONE] last';
my @c = grep { ref } @e;
cmp_ok scalar @c, '>=', 6, 'role, 4 content chunks, finish';
my %ids = map { $_->{id} => 1 } @c;
is scalar keys %ids, 1, 'one id';
ok !grep({ $_->{model} ne 'moa-gpt-4o-v1' } @c), 'model is the MoA id';
ok !grep({ $_->{object} ne 'chat.completion.chunk' } @c), 'object';
ok !grep({ exists $_->{usage} } @c), 'no usage without include_usage';
ok !grep({ exists $_->{error} } @c), 'no error key';
is_deeply $c[0]{choices}[0]{delta}, {role => 'assistant', content => ''},
    'first delta';
is scalar(grep { exists $_->{choices}[0]{delta}{role} } @c), 1, 'role once';
is MoaTest::sse_data(\@e), 'Hello streaming world', 'content';
is $c[-1]{choices}[0]{finish_reason}, 'stop', 'finish_reason on the last';
ok !grep({ defined $_->{choices}[0]{finish_reason} } @c[0 .. $#c - 1]),
    'finish_reason null before';
--- no_error_log
[alert]
[crit]
[error]



=== TEST 2: include_usage: one usage chunk before [DONE], summed over every call
--- mock
{"proposal": {"usage": {"prompt_tokens": 11, "completion_tokens": 3}},
 "critique": {"usage": {"prompt_tokens": 13, "completion_tokens": 5}},
 "synthesis": {"usage": {"prompt_tokens": 17, "completion_tokens": 7}}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- sse
is $e[-1], '[DONE]', '[DONE] last';
my $u = $e[-2];
is_deeply $u->{choices}, [], 'usage chunk has no choices';
is $u->{usage}{prompt_tokens}, 3 * 11 + 13 + 17, 'prompt tokens';
is $u->{usage}{completion_tokens}, 3 * 3 + 5 + 7, 'completion tokens';
is $u->{usage}{total_tokens}, 3 * 14 + 18 + 24, 'total';
is $u->{model}, 'moa-gpt-4o-v1', 'model';
is $u->{id}, $e[0]{id}, 'same id';
ok !grep({ ref && exists $_->{usage} } @e[0 .. $#e - 2]), 'usage on no other chunk';
--- error_log eval
qr/stage=synthesis call=0 model=gpt-4o stream=true .*"stream":true,"stream_options":\{"include_usage":true\}\}$/
--- no_error_log
[alert]
[crit]



=== TEST 3: the provider's usage is asked for even when the client did not ask
--- mock
{}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","stream":true,"stream_options":{"include_usage":false,"other":1},"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- sse
ok !grep({ ref && exists $_->{usage} } @e), 'no usage chunk for the client';
--- error_log eval
qr/stage=synthesis .*"stream_options":\{"other":1,"include_usage":true\}/
--- no_error_log
[alert]
[crit]



=== TEST 4: keepalive comments while proposals run, with progress
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_stream_keepalive 100ms;
    }
--- mock
{"proposal": {"delay": 450}, "proposal.2": {"delay": 650}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_body_like chomp
\A(: moa proposals [0-3]/3\n\n){3,}(: moa [a-z0-9/ ]+\n\n)*data: 
--- sse
like $body, qr/^: moa proposals 2\/3$/m, 'progress after two proposals';
like $body, qr/^: moa critique$/m, 'critique announced';
is $e[-1], '[DONE]', 'then the answer';
--- no_error_log
[alert]
[crit]



=== TEST 5: chunks the provider sends 100 ms apart reach the client spread out
--- mock
{"synthesis": {"content": "a b c d e f", "chunks": 6, "interval": 100}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- sse
# a second, timed request on a socket of our own
my @t = MoaTest::timed_events(Test::Nginx::Socket::server_port(),
    '/v1/chat/completions',
    '{"model":"moa-gpt-4o-v1","stream":true,"messages":[{"role":"user","content":"hi"}]}');
my @content = grep { $_->[1] =~ /"content":"[a-f] ?"/ } @t;
is scalar @content, 6, 'six content events';
my $spread = $content[-1][0] - $content[0][0];
cmp_ok $spread, '>', 0.3, "spread over ${spread}s, not one burst";
my $gaps = grep { $content[$_][0] - $content[$_ - 1][0] > 0.05 } 1 .. 5;
cmp_ok $gaps, '>=', 4, 'each arrives on its own';
--- no_error_log
[alert]
[crit]



=== TEST 6: streamed tool calls arrive intact, in fragments
--- mock
{"synthesis": {"tool_calls": [{"name": "get_weather", "arguments": "{\"city\":\"Paris\",\"unit\":\"celsius\"}"},
                              {"name": "get_time", "arguments": "{\"tz\":\"Europe/Paris\"}"}],
               "chunks": 4, "split": true, "crlf": true}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","stream":true,"messages":[{"role":"user","content":"weather and time in Paris?"}],"tools":[{"type":"function","function":{"name":"get_weather"}},{"type":"function","function":{"name":"get_time"}}],"tool_choice":"auto","parallel_tool_calls":true}
--- error_code: 200
--- sse
my (%calls, %first);
for my $c (grep { ref } @e) {
    for my $tc (@{ $c->{choices}[0]{delta}{tool_calls} || [] }) {
        my $k = $tc->{index};
        $first{$k} //= $tc;
        $calls{$k}{args} .= $tc->{function}{arguments} // '';
    }
}
is_deeply [sort keys %calls], [0, 1], 'two calls, index 0 and 1';
is $first{0}{id}, 'call_synthesis_0_0', 'first fragment has the id';
is $first{0}{type}, 'function', 'and the type';
is $first{0}{function}{name}, 'get_weather', 'and the name';
is $first{1}{function}{name}, 'get_time', 'second name';
is_deeply MoaTest::decode_json($calls{0}{args}), {city => 'Paris', unit => 'celsius'},
    'arguments reassembled';
is_deeply MoaTest::decode_json($calls{1}{args}), {tz => 'Europe/Paris'},
    'second arguments';
my @fin = grep { ref && $_->{choices}[0]{finish_reason} } @e;
is $fin[-1]{choices}[0]{finish_reason}, 'tool_calls', 'finish_reason';
--- error_log eval
qr/stage=synthesis .*"tool_choice":"auto","parallel_tool_calls":true,/
--- no_error_log
[alert]
[crit]



=== TEST 7: n=2: both choices stream
--- mock
{}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","stream":true,"n":2,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- sse
like MoaTest::sse_data(\@e, 0), qr/^synthesis 0: /, 'choice 0';
like MoaTest::sse_data(\@e, 1), qr/^synthesis 0: .* #1$/, 'choice 1';
--- error_log eval
qr/stage=synthesis .*"n":2,/
--- no_error_log
[alert]
[crit]



=== TEST 8: an error event from the provider mid-stream ends the stream cleanly
--- mock
{"synthesis": {"content": "partial answer here", "chunks": 3,
               "stream_error": {"message": "server overloaded", "type": "server_error"}}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- sse
is $e[-1], '[DONE]', '[DONE] after the error';
is $e[-2]{error}{message}, 'server overloaded', "the provider's error event";
like MoaTest::sse_data(\@e), qr/^partial/, 'what came before';
--- no_error_log
[alert]
[crit]



=== TEST 9: a stream cut short (no [DONE]) ends with an error event, never a hang
--- mock
{"synthesis": {"content": "one two three four", "chunks": 4, "stream_cut_after": 3}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- sse
is $e[-1], '[DONE]', '[DONE] last';
is $e[-2]{error}{type}, 'upstream_error', 'error event';
like $e[-2]{error}{message}, qr/cut short/, 'message';
ok exists $e[-2]{error}{param} && exists $e[-2]{error}{code}, 'all four keys';
--- error_log
moa synthesis stream ended before [DONE]
--- no_error_log
[alert]
[crit]



=== TEST 10: a malformed event from the provider ends the stream with an error
--- mock
{"synthesis": {"body": "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\ndata: {not json}\n\ndata: [DONE]\n\n",
               "content_type": "text/event-stream"}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- sse
is $e[-1], '[DONE]', '[DONE] last';
ok $e[-2]{error}, 'error event';
is $e[0]{model}, 'moa-gpt-4o-v1', 'the good chunk passed, rewritten';
--- error_log
the provider sent a malformed event
--- no_error_log
[alert]
[crit]



=== TEST 11: the synthesis fails before anything was sent: a real status
--- mock
{"synthesis": {"status": 429, "headers": {"Retry-After": "3"}}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 429
--- response_headers
Retry-After: 3
Content-Type: application/json
--- json
is $r->{error}{type}, 'invalid_request_error', "the provider's type";
like $r->{error}{message}, qr/status 429/, "the provider's message";
--- no_error_log
[alert]
[crit]



=== TEST 12: the synthesis fails after keepalives went out: an SSE error event
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_stream_keepalive 100ms;
    }
--- mock
{"proposal": {"delay": 250}, "synthesis": {"status": 500}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- sse
like $body, qr/\A: moa /, 'keepalive first';
is $e[-1], '[DONE]', '[DONE] last';
like $e[-2]{error}{message}, qr/the synthesis call failed: upstream status 500/,
    'error event names the status';
is scalar(grep { ref && $_->{choices} } @e), 0, 'no chunk';
--- no_error_log
[alert]
[crit]



=== TEST 13: moa_fallback candidate: the first candidate streams when the synthesis fails
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_fallback candidate;
    }
--- mock
{"proposal.0": {"status": 500}, "proposal": {"content": "candidate {call} text"},
 "synthesis": {"status": 502}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers
X-MoA-Fallback: candidate
--- sse
is MoaTest::sse_data(\@e), 'candidate 1 text', 'the first good candidate';
is $e[-1], '[DONE]', '[DONE]';
is $e[-2]{usage}{prompt_tokens}, 30, 'usage of the calls that answered';
is $e[0]{model}, 'moa-gpt-4o-v1', 'model';
is_deeply $e[0]{choices}[0]{delta}, {role => 'assistant', content => ''},
    'first delta';
--- no_error_log
[alert]
[crit]



=== TEST 14: a provider that ignores "stream" (JSON reply): converted to chunks
--- mock
{"synthesis": {"body": "{\"id\":\"chatcmpl-j\",\"object\":\"chat.completion\",\"created\":5,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"whole answer\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}}"}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- sse
is MoaTest::sse_data(\@e), 'whole answer', 'content';
is $e[0]{id}, 'chatcmpl-j', 'id';
is $e[0]{created}, 5, 'created';
is $e[-2]{usage}{completion_tokens}, 4 * 5 + 2, 'usage summed';
--- no_error_log
[alert]
[crit]



=== TEST 15: curl -N style HTTP/1.0 client: the stream ends with the connection
--- mock
{}
--- raw_request eval
my $body = '{"model":"moa-gpt-4o-v1","stream":true,"messages":[{"role":"user","content":"hi"}]}';
"POST /v1/chat/completions HTTP/1.0\r\nHost: localhost\r\nContent-Length: "
. length($body) . "\r\n\r\n" . $body
--- error_code: 200
--- response_body_like chomp
data: \[DONE\]\n\n\z
--- no_error_log
[alert]
[crit]
