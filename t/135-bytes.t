# Faithful bytes: what the client gets is what the provider and the client
# wrote, whole (a \u0000 in content, a NUL in a model id), in valid UTF-8
# (error messages cut on a character boundary), and in the shape SDKs
# check (every choice has an index, a stream has one id).

use lib 't/lib';
use MoaTest;
use Test::Nginx::Socket 'no_plan';
use Encode ();

moa_setup();
no_long_string();
no_shuffle();

# strict UTF-8, as the parsers of other languages are
sub main::utf8_strict {
    my $copy = $_[0];
    return eval { Encode::decode('UTF-8', $copy, Encode::FB_CROAK); 1 };
}

run_tests();

__DATA__

=== TEST 1: a long bad role: the 400 is valid UTF-8 (the '%.64s' cut drops a half character)
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-test-v1 gpt-4o;
        moa_passthrough off;
    }
--- request eval
"POST /v1/chat/completions\n"
    . '{"model":"moa-test-v1","messages":[{"role":"a'
    . ("\xc3\xa9" x 100) . '","content":"hi"}]}'
--- error_code: 400
--- check
ok main::utf8_strict($body), 'the body is valid UTF-8';
my $r = MoaTest::decode_json($body);
like $r->{error}{message}, qr/: 'a\x{e9}{31}' is not one of/, 'cut after 31 characters';
--- no_error_log
[alert]
[crit]



=== TEST 2: a long unknown model: the 404 is valid UTF-8 (cut at 128 bytes)
--- request eval
"POST /v1/chat/completions\n"
    . '{"model":"a' . ("\xc3\xa9" x 100)
    . '","messages":[{"role":"user","content":"hi"}]}'
--- error_code: 404
--- check
ok main::utf8_strict($body), 'the body is valid UTF-8';
my $r = MoaTest::decode_json($body);
like $r->{error}{message}, qr/^The model 'a\x{e9}{63}' does not exist/,
    'cut after 63 characters';
--- no_error_log
[alert]
[crit]



=== TEST 3: a provider's long error relayed: valid UTF-8 (cut at 255 bytes)
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-test-v1 gpt-4o;
        moa_passthrough off;
    }
--- mock eval
'{"proposal": {"status": 400, "error": {"message": "a'
    . ('\u00e9' x 200) . '", "code": "a' . ('\u00e9' x 40)
    . '", "type": "' . ('\u00e9' x 40) . '"}}}'
--- request
POST /v1/chat/completions
{"model":"moa-test-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 400
--- check
ok main::utf8_strict($body), 'the body is valid UTF-8';
my $r = MoaTest::decode_json($body);
is $r->{error}{message}, 'a' . ("\x{e9}" x 127), 'message: whole characters';
is $r->{error}{code}, 'a' . ("\x{e9}" x 31), 'code: whole characters';
is $r->{error}{type}, "\x{e9}" x 31, 'type: whole characters';
--- no_error_log
[alert]
[crit]



=== TEST 4: "moa-test-v1\u0000zzz" is not the MoA model: 404 with passthrough off
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-test-v1 gpt-4o;
        moa_passthrough off;
    }
--- request
POST /v1/chat/completions
{"model":"moa-test-v1\u0000zzz","messages":[{"role":"user","content":"hi"}]}
--- error_code: 404
--- json
is $r->{error}{code}, 'model_not_found', 'model_not_found';
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 5: the same with passthrough on: forwarded as is, not the MoA chain
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-test-v1 gpt-4o;
    }
--- request
POST /v1/chat/completions
{"model":"moa-test-v1\u0000zzz","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- json
is $r->{model}, "moa-test-v1\x{0}zzz", 'the model as sent';
like $r->{choices}[0]{message}{content}, qr/^passthrough 0: /, 'passthrough';
--- error_log
mock: start stage=passthrough
--- no_error_log
[alert]
[crit]
mock: start stage=proposal



=== TEST 6: a synthesis reply not in shape (no refusal, logprobs, index): content with \u0000 whole, index filled in
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-test-v1 gpt-4o;
    }
--- mock
{"synthesis": {"body": "{\"id\":\"s1\",\"object\":\"chat.completion\",\"created\":1,\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"before\\u0000after\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}"}}
--- request
POST /v1/chat/completions
{"model":"moa-test-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- json
is $r->{choices}[0]{message}{content}, "before\x{0}after", 'the content whole';
is $r->{choices}[0]{index}, 0, 'index: the position';
ok exists $r->{choices}[0]{logprobs}, 'logprobs added';
ok exists $r->{choices}[0]{message}{refusal}, 'refusal added';
is $r->{model}, 'moa-test-v1', 'model';
--- no_error_log
[alert]
[crit]



=== TEST 7: moa_fallback candidate: a candidate with \u0000 is answered whole
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-test-v1 gpt-4o;
        moa_fallback candidate;
    }
--- mock
{"proposal": {"content": "before\u0000after {call}"}, "synthesis": {"status": 500}}
--- request
POST /v1/chat/completions
{"model":"moa-test-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers
X-MoA-Fallback: candidate
--- json
is $r->{choices}[0]{message}{content}, "before\x{0}after 0", 'the candidate whole';
is $r->{choices}[0]{index}, 0, 'index 0';
--- no_error_log
[alert]
[crit]



=== TEST 8: the same streamed as chunks
--- request
POST /v1/chat/completions
{"model":"moa-test-v1","stream":true,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- response_headers
X-MoA-Fallback: candidate
--- sse
is MoaTest::sse_data(\@e), "before\x{0}after 0", 'the candidate whole';
is $e[-1], '[DONE]', '[DONE]';
--- no_error_log
[alert]
[crit]



=== TEST 9: a streamed synthesis with a new id per chunk and no index: one id, every choice indexed
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-test-v1 gpt-4o;
    }
--- mock
{"synthesis": {"content_type": "text/event-stream", "body": "data: {\"id\":\"a1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\ndata: {\"id\":\"a2\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"delta\":{\"content\":\"be\\u0000fore\"}}]}\n\ndata: {\"id\":\"a3\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"}}
--- request
POST /v1/chat/completions
{"model":"moa-test-v1","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- sse
my @chunks = grep { ref } @e;
is scalar(@chunks), 4, 'three chunks and the usage chunk';
is_deeply [map { $_->{id} } @chunks], [('a1') x 4], 'one id, the first';
is_deeply [map { $_->{index} } map { @{ $_->{choices} } } @chunks], [0, 0, 0],
    'every choice indexed';
is MoaTest::sse_data(\@e), "be\x{0}fore", 'content whole';
is $e[-1], '[DONE]', '[DONE]';
--- no_error_log
[alert]
[crit]



=== TEST 10: the capture line keeps the client's and the answer's \u0000 (plain and collected from a stream)
--- http_config eval
MoaTest::http_config() . "    log_format moa_capture escape=none '\$moa_capture';\n"
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-test-v1 gpt-4o;
        access_log logs/capture.jsonl moa_capture if=$moa_capture;
    }
--- mock
{"synthesis": {"content": "before\u0000after", "refusal": "no\u0000pe"}}
--- request eval
["POST /v1/chat/completions\n"
   . '{"model":"moa-test-v1","messages":[{"role":"user","content":"cap-plain x\u0000y"}]}',
 "POST /v1/chat/completions\n"
   . '{"model":"moa-test-v1","stream":true,"messages":[{"role":"user","content":"cap-stream x\u0000y"}]}']
--- error_code eval
[200, 200]
--- check
for my $m (qw(cap-plain cap-stream)) {
    my ($c) = MoaTest::captured($m);
    is $c->{messages}[-1]{content}, "before\x{0}after", "$m: content whole";
    is $c->{messages}[-1]{refusal}, "no\x{0}pe", "$m: refusal whole";
    is $c->{messages}[0]{content}, "$m x\x{0}y", "$m: the client's message whole";
}
--- no_error_log
[alert]
[crit]
