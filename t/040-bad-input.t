# Bad input gets an OpenAI-style error with the right status, and no
# upstream call.

use lib 't/lib';
use MoaTest;
use Test::Nginx::Socket 'no_plan';

moa_setup();
no_long_string();

# added last, so it runs before moa_setup()'s, which compiles "json"
add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', <<'_EOC_') unless defined $block->config;
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        client_max_body_size 64k;
    }
_EOC_

    # every error has the four keys, and no call reaches the provider
    if (defined $block->error_code && $block->error_code >= 400
        && !defined $block->json)
    {
        my $param = $block->param // 'undef';
        my $code = $block->code // 'undef';
        $block->set_value('json', <<_EOC_);
is_deeply [sort keys %\$r], ['error'], 'only "error"';
is_deeply [sort keys %{ \$r->{error} }], [qw(code message param type)],
    'the four keys';
is \$r->{error}{type}, 'invalid_request_error', 'type';
is \$r->{error}{param}, $param, 'param';
is \$r->{error}{code}, $code, 'code';
like \$r->{error}{message}, qr/\\S/, 'a message';
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: GET is 405 with Allow: POST
--- request
GET /v1/chat/completions
--- error_code: 405
--- code: 'method_not_allowed'
--- response_headers
Allow: POST
Content-Type: application/json
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 2: invalid JSON is 400
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]
--- error_code: 400
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 3: a JSON array is 400
--- request
POST /v1/chat/completions
[{"model":"moa-gpt-4o-v1"}]
--- error_code: 400
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 4: an empty body is 400
--- request
POST /v1/chat/completions
--- error_code: 400
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 5: missing messages is 400
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1"}
--- error_code: 400
--- param: 'messages'
--- code: 'missing_required_parameter'
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 6: empty messages is 400
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[]}
--- error_code: 400
--- param: 'messages'
--- code: 'empty_array'
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 7: messages that is not an array is 400
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":{"role":"user","content":"hi"}}
--- error_code: 400
--- param: 'messages'
--- code: 'invalid_type'
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 8: a message that is not an object is 400
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":["hi"]}
--- error_code: 400
--- param: 'messages[0]'
--- code: 'invalid_type'
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 9: an unknown role is 400
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"wizard","content":"hi"}]}
--- error_code: 400
--- param: 'messages[0].role'
--- code: 'invalid_value'
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 10: a model that is not a string is 400
--- request
POST /v1/chat/completions
{"model":42,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 400
--- param: 'model'
--- code: 'invalid_type'
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 11: a missing model is 400
--- request
POST /v1/chat/completions
{"messages":[{"role":"user","content":"hi"}]}
--- error_code: 400
--- param: 'model'
--- code: 'missing_required_parameter'
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 12: a body over client_max_body_size is 413
--- request eval
"POST /v1/chat/completions\n" . '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"' . ('x' x 70000) . '"}]}'
--- error_code: 413
--- code: 'request_too_large'
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 13: a chunked body over client_max_body_size is 413 too
--- raw_request eval
my $body = '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"' . ('x' x 70000) . '"}]}';
"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
. sprintf("%x\r\n", length $body) . $body . "\r\n0\r\n\r\n"
--- error_code: 413
--- code: 'request_too_large'
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 14: stream that is not a boolean is 400
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","stream":"yes","messages":[{"role":"user","content":"hi"}]}
--- error_code: 400
--- param: 'stream'
--- code: 'invalid_type'
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 15: stream_options without stream is 400, as at OpenAI
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}
--- error_code: 400
--- param: 'stream_options'
--- code: 'invalid_value'
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 16: n out of range is 400
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","n":0,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 400
--- param: 'n'
--- code: 'invalid_value'
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 17: audio output cannot be honoured by the chain: 400
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","modalities":["text","audio"],"audio":{"voice":"alloy","format":"wav"},"messages":[{"role":"user","content":"hi"}]}
--- error_code: 400
--- param: 'audio'
--- code: 'unsupported_parameter'
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 18: predicted outputs cannot be honoured by the chain: 400
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","prediction":{"type":"content","content":"x"},"messages":[{"role":"user","content":"hi"}]}
--- error_code: 400
--- param: 'prediction'
--- code: 'unsupported_parameter'
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 19: explicit nulls are accepted, tools: [] and assistant content null too
--- mock
{}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","stream":null,"stream_options":null,"n":null,"seed":null,"tools":[],"temperature":null,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_1","content":"42"}]}
--- error_code: 200
--- json
is $r->{object}, 'chat.completion', 'a completion';
--- no_error_log
[alert]
[crit]



=== TEST 20: deep nesting is refused cleanly, not a crash
--- request eval
"POST /v1/chat/completions\n" . '{"model":"moa-gpt-4o-v1","messages":' . ('[' x 5000) . (']' x 5000) . '}'
--- error_code: 400
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 21: trailing garbage after the object is 400
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]} x
--- error_code: 400
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 22: a raw control character in a string is 400
--- request eval
"POST /v1/chat/completions\n" . qq{{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"a\x01b"}]}}
--- error_code: 400
--- no_error_log
[alert]
[crit]
mock: start
