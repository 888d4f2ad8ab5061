# Stored responses in a shared memory zone (moa_responses_store zone=):
# previous_response_id chains, GET, DELETE and input_items of
# /v1/responses/{id}, owners, the LRU eviction of a full zone, the TTL,
# store: false, and the errors.  The memcached set-up is in
# t/156-responses-memcached.t.

use lib 't/lib';
use MoaTest;
use Test::Nginx::Socket 'no_plan';

# the bodies the provider got for a stage, from the mock's log lines
sub provider_bodies {
    my ($stage) = @_;
    my $path = Test::Nginx::Util::server_root() . '/logs/error.log';
    open my $fh, '<', $path or die "$path: $!";
    return map { /mock: stage=$stage call=\d+ .* body=(.*?)(?:, client:|$)/
                 ? $1 : () } <$fh>;
}

sub post {
    my ($body, %h) = @_;
    my $res = MoaTest::http('POST', '/v1/responses', $body, \%h);
    $res->{json} = scalar eval { MoaTest::decode_json($res->{body}) };
    return $res;
}

sub get {
    my ($path, %h) = @_;
    my $res = MoaTest::http('GET', $path, undef, \%h);
    $res->{json} = scalar eval { MoaTest::decode_json($res->{body}) };
    return $res;
}

sub del {
    my ($path, %h) = @_;
    my $res = MoaTest::http('DELETE', $path, undef, \%h);
    $res->{json} = scalar eval { MoaTest::decode_json($res->{body}) };
    return $res;
}

moa_setup();
no_long_string();
run_tests();

__DATA__

=== TEST 1: a chain: the provider gets the first turn and its answer, not its instructions
--- http_config eval: MoaTest::http_config() . "moa_responses_store zone=resp:1m;"
--- config
    location /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_proposers 1;
        moa_critique off;
        moa_responses_owner $http_x_user;
    }
--- mock
{"synthesis": {"content": "ANSWER-{stage}"}}
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","instructions":"SPEAK-LIKE-A-PIRATE","input":"FIRST-TURN"}
--- more_headers
Content-Type: application/json
X-User: alice
--- error_code: 200
--- check
my $first = MoaTest::decode_json($body);
like $first->{id}, qr/^resp_\w+$/, 'the first response';

my $r = main::post(qq{{"model":"moa-gpt-4o-v1","input":"SECOND-TURN",
                       "previous_response_id":"$first->{id}"}},
                   'X-User' => 'alice');
is $r->{status}, 200, 'the continuation answered';
is $r->{json}{previous_response_id}, $first->{id}, 'its previous_response_id';

my @bodies = main::provider_bodies('synthesis');
is scalar @bodies, 2, 'two syntheses';
my $last = $bodies[-1];
like $last, qr/FIRST-TURN.*ANSWER-synthesis.*SECOND-TURN/s,
     'the first turn, its answer, then the second turn, in order';
unlike $last, qr/PIRATE/, 'the first turn\'s instructions are not carried';
my @p = main::provider_bodies('proposal');
like $p[-1], qr/FIRST-TURN.*ANSWER-synthesis.*SECOND-TURN/s,
     'the proposals get the chain too';

# a third turn continues from the second: the whole chain
my $second = $r->{json}{id};
$r = main::post(qq{{"model":"moa-gpt-4o-v1","input":"THIRD-TURN",
                    "previous_response_id":"$second"}}, 'X-User' => 'alice');
is $r->{status}, 200, 'a third turn';
like((main::provider_bodies('synthesis'))[-1],
     qr/FIRST-TURN.*ANSWER.*SECOND-TURN.*ANSWER.*THIRD-TURN/s,
     'three turns in order');

# another owner: the same 404 as an unknown id
$r = main::post(qq{{"model":"moa-gpt-4o-v1","input":"x",
                    "previous_response_id":"$first->{id}"}}, 'X-User' => 'bob');
is $r->{status}, 404, 'bob cannot continue alice\'s response';
is $r->{json}{error}{param}, 'previous_response_id', 'param';
is $r->{json}{error}{code}, 'previous_response_not_found', 'code';
is $r->{json}{error}{type}, 'invalid_request_error', 'type';
is $r->{json}{error}{message},
   "Previous response with id '$first->{id}' not found.", 'message';
my $unknown = main::post(q{{"model":"moa-gpt-4o-v1","input":"x",
                            "previous_response_id":"resp_nope"}},
                         'X-User' => 'bob');
is $unknown->{status}, 404, 'an unknown id: 404';
(my $m = $unknown->{json}{error}{message}) =~ s/resp_nope/ID/;
(my $m2 = $r->{json}{error}{message}) =~ s/\Q$first->{id}\E/ID/;
is $m2, $m, 'the same answer as for an unknown id';
is scalar(main::provider_bodies('synthesis')), 3, 'no provider call for them';

# deleting the first turn does not cut the chain after it
is main::del("/v1/responses/$first->{id}", 'X-User' => 'alice')->{status},
   200, 'the first turn deleted';
$r = main::post(qq{{"model":"moa-gpt-4o-v1","input":"FOURTH-TURN",
                    "previous_response_id":"$second"}}, 'X-User' => 'alice');
is $r->{status}, 200, 'the second turn still continues';
like((main::provider_bodies('synthesis'))[-1],
     qr/FIRST-TURN.*ANSWER.*SECOND-TURN.*ANSWER.*FOURTH-TURN/s,
     'with the whole chain: each response holds its context');
--- no_error_log
[error]
[alert]



=== TEST 2: GET, input_items (paged), DELETE; each for its owner only
--- http_config eval: MoaTest::http_config() . "moa_responses_store zone=resp:1m;"
--- config
    location /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_proposers 1;
        moa_critique off;
        moa_responses_owner $http_x_user;
    }
--- mock
{"synthesis": {"content": "ANSWER-{stage}"}}
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":[{"role":"user","content":"ONE"},{"role":"assistant","content":"TWO"},{"type":"message","role":"user","content":[{"type":"input_text","text":"THREE"}]}]}
--- more_headers
Content-Type: application/json
X-User: alice
--- error_code: 200
--- check
my $first = MoaTest::decode_json($body);
my $id = $first->{id};

my $r = main::get("/v1/responses/$id", 'X-User' => 'alice');
is $r->{status}, 200, 'GET: 200';
is_deeply $r->{json}, $first, 'the stored response is the one answered';

$r = main::get("/v1/responses/$id", 'X-User' => 'bob');
is $r->{status}, 404, 'GET by another owner: 404';
is $r->{json}{error}{message}, "Response with id '$id' not found.",
   'as for an unknown id';

$r = main::get("/v1/responses/$id/input_items", 'X-User' => 'alice');
is $r->{status}, 200, 'input_items: 200';
is $r->{json}{object}, 'list', 'a list';
my @text = map { $_->{content}[0]{text} } @{ $r->{json}{data} };
is "@text", 'THREE TWO ONE', 'desc by default: the last item first';
is $r->{json}{first_id}, $r->{json}{data}[0]{id}, 'first_id';
is $r->{json}{last_id}, $r->{json}{data}[2]{id}, 'last_id';
ok !$r->{json}{has_more}, 'has_more false';
is $r->{json}{data}[2]{type}, 'message', 'a message item';
is $r->{json}{data}[2]{content}[0]{type}, 'input_text', 'its part';
is $r->{json}{data}[1]{content}[0]{type}, 'output_text',
   'the assistant\'s part';
like $r->{json}{data}[$_]{id}, qr/^msg_/, "item $_ has an id" for 0 .. 2;

$r = main::get("/v1/responses/$id/input_items?order=asc&limit=2",
               'X-User' => 'alice');
@text = map { $_->{content}[0]{text} } @{ $r->{json}{data} };
is "@text", 'ONE TWO', 'asc, limit 2';
ok $r->{json}{has_more}, 'has_more';
my $after = $r->{json}{last_id};
$r = main::get("/v1/responses/$id/input_items?order=asc&limit=2&after=$after",
               'X-User' => 'alice');
@text = map { $_->{content}[0]{text} } @{ $r->{json}{data} };
is "@text", 'THREE', 'the next page';
ok !$r->{json}{has_more}, 'the last';

$r = main::get("/v1/responses/$id/input_items?limit=0", 'X-User' => 'alice');
is $r->{status}, 400, 'limit 0: 400';
is $r->{json}{error}{param}, 'limit', 'param limit';
$r = main::get("/v1/responses/$id/input_items?order=sideways",
               'X-User' => 'alice');
is $r->{json}{error}{param}, 'order', 'a bad order: param order';
$r = main::get("/v1/responses/$id/input_items", 'X-User' => 'bob');
is $r->{status}, 404, 'input_items by another owner: 404';

$r = main::del("/v1/responses/$id", 'X-User' => 'bob');
is $r->{status}, 404, 'DELETE by another owner: 404';
$r = main::get("/v1/responses/$id", 'X-User' => 'alice');
is $r->{status}, 200, 'still there';

$r = main::del("/v1/responses/$id", 'X-User' => 'alice');
is $r->{status}, 200, 'DELETE: 200';
is_deeply $r->{json}, { id => $id, object => 'response',
                        deleted => JSON::PP::true }, 'the deletion object';

$r = main::get("/v1/responses/$id", 'X-User' => 'alice');
is $r->{status}, 404, 'GET after DELETE: 404';
$r = main::del("/v1/responses/$id", 'X-User' => 'alice');
is $r->{status}, 404, 'DELETE again: 404';
$r = main::post(qq{{"model":"moa-gpt-4o-v1","input":"x",
                    "previous_response_id":"$id"}}, 'X-User' => 'alice');
is $r->{status}, 404, 'continuation after DELETE: 404';
is $r->{json}{error}{param}, 'previous_response_id', 'param';

$r = MoaTest::http('PUT', "/v1/responses/$id", '{}', { 'X-User' => 'alice' });
is $r->{status}, 405, 'PUT: 405';
like $r->{headers}{allow}, qr/DELETE/, 'Allow';
$r = main::get('/v1/responses/not-an-id', 'X-User' => 'alice');
is $r->{status}, 404, 'an id that cannot be one: 404';
--- no_error_log
[error]
[alert]



=== TEST 3: store false: not stored; streamed responses are stored
--- http_config eval: MoaTest::http_config() . "moa_responses_store zone=resp:1m;"
--- config
    location /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_proposers 1;
        moa_critique off;
    }
--- mock
{"synthesis": {"content": "ANSWER-{stage}"}}
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"hi","store":false}
--- more_headers
Content-Type: application/json
--- error_code: 200
--- check
my $res = MoaTest::decode_json($body);
is $res->{store}, JSON::PP::false, 'store false echoed';
my $r = main::get("/v1/responses/$res->{id}");
is $r->{status}, 404, 'not stored';

$r = main::post(q{{"model":"moa-gpt-4o-v1","input":"STREAMED","stream":true}});
is $r->{status}, 200, 'a stream';
my ($done) = grep { ($_->{type} // '') eq 'response.completed' }
             MoaTest::sse_events($r->{body});
ok $done, 'response.completed';
my $id = $done->{response}{id};
$r = main::get("/v1/responses/$id");
is $r->{status}, 200, 'the streamed response is stored';
is $r->{json}{output}[0]{content}[0]{text}, 'ANSWER-synthesis', 'its output';
is_deeply $r->{json}, $done->{response}, 'as response.completed had it';
$r = main::post(qq{{"model":"moa-gpt-4o-v1","input":"AGAIN",
                    "previous_response_id":"$id"}});
is $r->{status}, 200, 'continued';
like((main::provider_bodies('synthesis'))[-1], qr/STREAMED.*ANSWER.*AGAIN/s,
     'from the streamed turn');
--- no_error_log
[error]
[alert]



=== TEST 4: a full zone evicts the least recently used; its id is then unknown
--- http_config eval: MoaTest::http_config() . "moa_responses_store zone=tiny:32k;"
--- config
    location /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_proposers 1;
        moa_critique off;
    }
--- mock
{"synthesis": {"content": "ok"}}
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"the oldest"}
--- more_headers
Content-Type: application/json
--- error_code: 200
--- check
my $oldest = MoaTest::decode_json($body)->{id};
my $big = 'x' x 3000;
my ($recent, @ids);
for my $i (1 .. 12) {
    my $r = main::post(qq{{"model":"moa-gpt-4o-v1","input":"$i $big"}});
    is $r->{status}, 200, "response $i answered";
    push @ids, $r->{json}{id};
    # the second keeps being read: the most recently used, never evicted
    main::get("/v1/responses/$ids[0]") if @ids > 1;
}
my $r = main::get("/v1/responses/$oldest");
is $r->{status}, 404, 'the oldest is evicted';
$r = main::post(qq{{"model":"moa-gpt-4o-v1","input":"x",
                    "previous_response_id":"$oldest"}});
is $r->{status}, 404, 'a continuation from it: 404';
is $r->{json}{error}{param}, 'previous_response_id', 'param';
is $r->{json}{error}{code}, 'previous_response_not_found', 'code';
is main::get("/v1/responses/$ids[-1]")->{status}, 200, 'the newest is there';
is main::get("/v1/responses/$ids[0]")->{status}, 200,
   'one read all along is there';
is main::get("/v1/responses/$ids[1]")->{status}, 404,
   'one not read since is gone';
--- no_error_log
[error]
[alert]



=== TEST 5: the TTL: an expired response is unknown
--- http_config eval: MoaTest::http_config() . "moa_responses_store zone=short:1m ttl=1s;"
--- config
    location /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_proposers 1;
        moa_critique off;
    }
--- mock
{"synthesis": {"content": "ok"}}
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"short-lived"}
--- more_headers
Content-Type: application/json
--- error_code: 200
--- check
my $id = MoaTest::decode_json($body)->{id};
is main::get("/v1/responses/$id")->{status}, 200, 'there at first';
select undef, undef, undef, 2.5;
is main::get("/v1/responses/$id")->{status}, 404, 'gone after its TTL';
my $r = main::post(qq{{"model":"moa-gpt-4o-v1","input":"x",
                       "previous_response_id":"$id"}});
is $r->{status}, 404, 'a continuation: 404';
is $r->{json}{error}{param}, 'previous_response_id', 'param';
--- no_error_log
[error]
[alert]



=== TEST 6: the default owner is the client's Authorization
--- http_config eval: MoaTest::http_config() . "moa_responses_store zone=resp:1m;"
--- config
    location /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_proposers 1;
        moa_critique off;
    }
--- mock
{"synthesis": {"content": "ok"}}
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"mine"}
--- more_headers
Content-Type: application/json
Authorization: Bearer key-A
--- error_code: 200
--- check
my $id = MoaTest::decode_json($body)->{id};
is main::get("/v1/responses/$id", Authorization => 'Bearer key-A')->{status},
   200, 'the same key reads it';
is main::get("/v1/responses/$id", Authorization => 'Bearer key-B')->{status},
   404, 'another key does not';
is main::get("/v1/responses/$id")->{status}, 404, 'nor no key';
--- no_error_log
[error]
[alert]



=== TEST 7: no store configured: previous_response_id is a 400 that says so
--- config
    location /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x","previous_response_id":"resp_abc"}
--- more_headers
Content-Type: application/json
--- error_code: 400
--- json
is $r->{error}{param}, 'previous_response_id', 'param';
like $r->{error}{message}, qr/no response store is configured/, 'says so';
--- no_error_log
[error]
mock: start



=== TEST 8: a previous_response_id that cannot be an id: 400, no provider call
--- http_config eval: MoaTest::http_config() . "moa_responses_store zone=resp:1m;"
--- config
    location /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x","previous_response_id":"msg_abc"}
--- more_headers
Content-Type: application/json
--- error_code: 400
--- json
is $r->{error}{param}, 'previous_response_id', 'param';
is $r->{error}{code}, 'invalid_value', 'code';
is $r->{error}{message}, "Invalid 'previous_response_id': 'msg_abc'. Expected an ID that begins with 'resp'.", 'message';
--- no_error_log
[error]
mock: start



=== TEST 9: a request forwarded to moa_responses_pass keeps previous_response_id for the provider's own store
--- http_config eval
(my $root = $ENV{TEST_NGINX_MOCK_JS}) =~ s{/conf/[^/]+$}{};
MoaTest::http_config() . "moa_responses_store zone=resp:1m;\n"
. "js_import mockresp from $root/conf/mock-responses.js;\n"
--- config
    location /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_responses_pass /_moa_responses;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
    location = /_moa_responses {
        internal;
        proxy_pass http://moa_mock/echo/responses;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
    }
    location /echo/ {
        client_body_buffer_size 1m;
        set $mock_stage passthrough;
        set $mock_scenario '{"passthrough": {"echo": true}}';
        js_content mockresp.responses;
    }
--- request
POST /v1/responses
{"model":"gpt-4o-mini","input":"x","previous_response_id":"resp_of_the_provider"}
--- more_headers
Content-Type: application/json
--- error_code: 200
--- json
like $r->{output}[0]{content}[0]{text},
     qr/"previous_response_id":"resp_of_the_provider"/,
     'the provider got it as sent';
is $r->{previous_response_id}, 'resp_of_the_provider', 'its answer as is';
--- no_error_log
[error]
moa store:



=== TEST 10: item_reference in a continuation: an item of the previous responses in its place
--- http_config eval: MoaTest::http_config() . "moa_responses_store zone=resp:1m;"
--- config
    location /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_proposers 1;
        moa_critique off;
    }
--- mock
{"synthesis": {"content": "ANSWER-{stage}"}}
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"REFERENCED-QUESTION"}
--- more_headers
Content-Type: application/json
--- error_code: 200
--- check
my $first = MoaTest::decode_json($body);
my $items = main::get("/v1/responses/$first->{id}/input_items")->{json};
my $question = $items->{data}[0]{id};
my $answer = $first->{output}[0]{id};
like $question, qr/^msg_/, 'the question has an id';

my $r = main::post(qq{{"model":"moa-gpt-4o-v1",
    "previous_response_id":"$first->{id}",
    "input":[{"type":"item_reference","id":"$answer"},
             {"role":"user","content":"NEW-QUESTION"},
             {"type":"item_reference","id":"$question"}]}});
is $r->{status}, 200, 'answered';
like((main::provider_bodies('synthesis'))[-1],
     qr/REFERENCED-QUESTION.*ANSWER-synthesis.*ANSWER-synthesis.*NEW-QUESTION.*REFERENCED-QUESTION/s,
     'the chain, then the referenced answer, the new turn, the referenced question');

my $calls = () = main::provider_bodies('synthesis');
$r = main::post(qq{{"model":"moa-gpt-4o-v1",
    "previous_response_id":"$first->{id}",
    "input":[{"role":"user","content":"x"},
             {"type":"item_reference","id":"msg_nowhere"}]}});
is $r->{status}, 404, 'a reference to no item of the chain: 404';
is $r->{json}{error}{param}, 'input[1].id', 'param';
is scalar(() = main::provider_bodies('synthesis')), $calls,
   'no provider call';

$r = main::post(q{{"model":"moa-gpt-4o-v1",
    "input":[{"role":"user","content":"x"},
             {"type":"item_reference","id":"msg_1"}]}});
is $r->{status}, 400, 'without previous_response_id: 400';
like $r->{json}{error}{message}, qr/item_reference that is not an item of previous_response_id/,
     'says why';
--- no_error_log
[error]
[alert]



=== TEST 11: configuration errors of moa_responses_store and moa_responses_owner
--- config
    location /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- request
GET /v1/responses/resp_x
--- error_code: 404
--- check
my $root = Test::Nginx::Util::server_root();
my $load = join '', map { "load_module $_;\n" }
           split ' ', $ENV{TEST_NGINX_LOAD_MODULES};
my @cases = (
    ['moa_responses_store zone=s:4k;', qr/zone "s" is too small/],
    ['moa_responses_store zone=s:lots;', qr/invalid zone size/],
    ['moa_responses_store zone=:1m;', qr/invalid parameter "zone=:1m"/],
    ['moa_responses_store pass=nowhere;', qr/"pass=" needs the URI/],
    ['moa_responses_store zone=s:1m ttl=soon;', qr/invalid parameter "ttl=soon"/],
    ['moa_responses_store ttl=1h;', qr/invalid parameter "ttl=1h"/],
    ['moa_responses_store zone=s:1m; moa_responses_store off;',
     qr/"moa_responses_store" directive is duplicate/],
    ['moa_metrics_zone m 1m; moa_responses_store zone=m:1m;',
     qr/zone "m" is already used by "moa_metrics_zone"/],
    ['moa_responses_store zone=s;', qr/zero size shared memory zone "s"/],
    ['moa_responses_owner $remote_user; moa_responses_owner $remote_addr;',
     qr/"moa_responses_owner" directive is duplicate/],
);
for my $case (@cases) {
    my ($http, $expected) = @$case;
    my $file = "$root/conf/bad.conf";
    open my $out, '>', $file or die "$file: $!";
    print $out "${load}error_log stderr;\nevents {}\nhttp {\n$http\n"
               . "server { listen 127.0.0.1:1; }\n}\n";
    close $out;
    my $res = `$ENV{TEST_NGINX_BINARY} -t -p $root/ -c $file -e stderr 2>&1`;
    isnt $?, 0, "refused: $http";
    like $res, $expected, 'the reason';
}

# the same zone named twice, with and without its size, and off below
my $file = "$root/conf/good.conf";
open my $out, '>', $file or die "$file: $!";
print $out "${load}error_log stderr;\nevents {}\nhttp {\n"
           . "moa_responses_store zone=s:1m ttl=0;\n"
           . "server { listen 127.0.0.1:1;\n"
           . "  location /a { moa_pass /u; moa_responses_store zone=s; }\n"
           . "  location /b { moa_pass /u; moa_responses_store off; }\n"
           . "  location /c { moa_pass /u; moa_responses_store pass=/_s ttl=90d; }\n"
           . "}\n}\n";
close $out;
my $res = `$ENV{TEST_NGINX_BINARY} -t -p $root/ -c $file -e stderr 2>&1`;
is $?, 0, 'a zone named again, off, pass= with a long ttl: accepted' or diag $res;
--- no_error_log
[alert]
[crit]
