# Regressions: each block reproduces a bug that the sanitizer run or the
# soak (issue #4, RELIABILITY.md) found, fixed in the commit it names.

use lib 't/lib';
use MoaTest;
use Test::Nginx::Socket 'no_plan';

moa_setup();
no_long_string();

# added last, so it runs before moa_setup()'s
add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', MoaTest::http_config() . <<'_EOC_')
    log_format moa_vars 'model=$moa_model base=$moa_base_model '
                        'calls=$moa_upstream_calls cands=$moa_candidates '
                        'tokens=$moa_total_tokens '
                        'times=$moa_proposal_time,$moa_critique_time,'
                        '$moa_synthesis_time';
_EOC_
        unless defined $block->http_config;

    $block->set_value('config', <<'_EOC_') unless defined $block->config;
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        access_log logs/access.log moa_vars;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: $moa_model in the access log of a body that is not JSON (the worker crashed in strlen(NULL))
--- request
POST /v1/chat/completions
{"model": "moa-gpt-4o-v1", "messages": [
--- error_code: 400
--- access_log
model=- base=- calls=0 cands=0 tokens=0 times=-,-,-
--- no_error_log
[alert]
[crit]



=== TEST 2: $moa_model in the access log of a request without a model
--- request
POST /v1/chat/completions
{"messages": [{"role": "user", "content": "hi"}]}
--- error_code: 400
--- access_log
model=- base=- calls=0 cands=0 tokens=0 times=-,-,-
--- no_error_log
[alert]
[crit]



=== TEST 3: $moa_model of a request with an invalid field is still the model asked for
--- request
POST /v1/chat/completions
{"model": "moa-gpt-4o-v1", "messages": [{"role": "wizard", "content": "hi"}]}
--- error_code: 400
--- access_log
model=moa-gpt-4o-v1 base=- calls=0 cands=0 tokens=0 times=-,-,-
--- no_error_log
[alert]
[crit]



=== TEST 4: a chunked request body (the worker crashed: ngx_read_file() on the empty last buffer)
--- mock
{"synthesis": {"echo": true}}
--- more_headers
Transfer-Encoding: chunked
--- request eval
my $body = '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"chunked-4"}]}';
"POST /v1/chat/completions\n" . sprintf("%x\r\n%s\r\n0\r\n\r\n", length $body, $body)
--- error_code: 200
--- json
like $r->{choices}[0]{message}{content}, qr/chunked-4/, 'the synthesis saw the conversation';
--- no_error_log
[alert]
[crit]



=== TEST 5: a body spooled to a temporary file (over client_body_buffer_size, not in_file_only)
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        client_body_buffer_size 1k;
    }
--- mock
{"synthesis": {"echo": true}}
--- request eval
"POST /v1/chat/completions\n" . '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"' . ('spool ' x 2000) . 'END-5"}]}'
--- error_code: 200
--- json
like $r->{choices}[0]{message}{content}, qr/spool spool.*END-5/s, 'the synthesis saw the whole conversation';
--- no_error_log
[alert]
[crit]



=== TEST 6: a chunked body spooled to a temporary file
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        client_body_buffer_size 1k;
    }
--- mock
{"synthesis": {"echo": true}}
--- more_headers
Transfer-Encoding: chunked
--- request eval
my $body = '{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"' . ('spool ' x 2000) . 'END-6"}]}';
"POST /v1/chat/completions\n" . sprintf("%x\r\n%s\r\n0\r\n\r\n", length $body, $body)
--- error_code: 200
--- json
like $r->{choices}[0]{message}{content}, qr/spool spool.*END-6/s, 'the synthesis saw the whole conversation';
--- no_error_log
[alert]
[crit]



=== TEST 7: a chunked passthrough body
--- mock
{"passthrough": {"echo": true}}
--- more_headers
Transfer-Encoding: chunked
--- request eval
my $body = '{"model":"gpt-4o","messages":[{"role":"user","content":"chunked-7"}]}';
"POST /v1/chat/completions\n" . sprintf("%x\r\n%s\r\n0\r\n\r\n", length $body, $body)
--- error_code: 200
--- json
like $r->{choices}[0]{message}{content}, qr/chunked-7/, 'the provider got the body';
--- no_error_log
[alert]
[crit]
