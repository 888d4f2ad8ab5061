# The store's shared memory zone with a master and two workers: responses
# stored through either worker are read through either, and the zone
# keeps them across a reload (same name and size).

use lib 't/lib';
use MoaTest;
use Test::Nginx::Socket 'no_plan';

workers(2);
master_on();

moa_setup();
no_long_string();
run_tests();

__DATA__

=== TEST 1: shared by the workers, kept across a reload
--- http_config eval: MoaTest::http_config() . "moa_responses_store zone=resp:1m;"
--- config
    location /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_proposers 1;
        moa_critique off;
        add_header X-Worker $pid always;
    }
--- mock
{"synthesis": {"content": "ok {stage}"}}
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"first"}
--- more_headers
Content-Type: application/json
--- error_code: 200
--- check
my @post = map { ['POST', '/v1/responses',
                  qq{{"model":"moa-gpt-4o-v1","input":"turn $_"}}] } 1 .. 16;
my @ids = map { MoaTest::decode_json($_->{body})->{id} }
          MoaTest::http_parallel(@post);
is scalar(grep { defined && /^resp_/ } @ids), 16, '16 responses stored';

# every response read by whichever worker takes the connection, until
# both workers have answered
my @get = map { ['GET', "/v1/responses/$_"] } @ids;
my (%read_by, $all, @res);
$all = 1;
for (1 .. 50) {
    @res = MoaTest::http_parallel(@get);
    $all &&= (grep { $_->{status} == 200 } @res) == 16;
    $read_by{ $_->{headers}{'x-worker'} // '' } = 1 for @res;
    last if keys %read_by >= 2;
}
ok $all, 'every read found its response';
is scalar(keys %read_by), 2, 'read through both workers';

MoaTest::reload(2);

@res = MoaTest::http_parallel(@get);
is scalar(grep { $_->{status} == 200 } @res), 16,
   'all there after a reload';
is MoaTest::decode_json($res[0]{body})->{id}, $ids[0], 'the right one';
--- no_error_log
[error]
[alert]
[emerg]
