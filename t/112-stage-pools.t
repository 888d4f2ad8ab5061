# The calls of a stage (a layer's proposals, the critique) live in a pool
# of the stage, their subrequests included, destroyed once the stage is
# over: what nginx shares between the calls and the client's request
# outlives it (a cached variable's value), a call still running keeps it.

use lib 't/lib';
use MoaTest;
use Test::Nginx::Socket 'no_plan';

moa_setup();
no_long_string();
run_tests();

__DATA__

=== TEST 1: $request_id first made by a proposal call is the same for every later call and the response
--- http_config eval
MoaTest::http_config() . "    log_format rid '\$moa_stage \$moa_call \$request_id';\n"
--- config
    location = /v1/chat/completions {
        moa_pass /_rid;
        moa_model moa-test-v1 gpt-4o;
        moa_layers 2;
    }
    location = /_rid {
        internal;
        log_subrequest on;
        access_log logs/rid.log rid;
        proxy_pass http://moa_mock/mock/chat;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header X-Moa-Stage $moa_stage;
        proxy_set_header X-Moa-Call $moa_call;
        proxy_set_header X-Moa-Layer $moa_layer;
        proxy_set_header X-Request-Id $request_id;
    }
--- request
POST /v1/chat/completions
{"model":"moa-test-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- check
my $res = MoaTest::http('POST', '/v1/chat/completions',
    '{"model":"moa-test-v1","messages":[{"role":"user","content":"again"}]}');
is $res->{status}, 200, 'answered';
my $id = $res->{headers}{'x-request-id'};
like $id, qr/^[0-9a-f]{32}$/, 'X-Request-Id';
my @lines = grep { /\Q$id\E/ } do {
    open my $fh, '<', Test::Nginx::Util::server_root() . '/logs/rid.log'
        or die $!;
    <$fh>;
};
is scalar(@lines), 8, 'the 6 proposals of 2 layers, the critique and the '
    . 'synthesis sent the response\'s id';
--- no_error_log
[alert]
[crit]
