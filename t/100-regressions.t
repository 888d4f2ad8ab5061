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
