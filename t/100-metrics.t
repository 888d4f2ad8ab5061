# Prometheus metrics (moa_metrics_zone, moa_metrics): the exposition passes
# promtool, every request is counted exactly once whichever of the two
# workers took it, the counters survive a reload, the in-flight gauge goes
# back to 0 after client aborts.

use lib 't/lib';
use MoaTest;
use Test::Nginx::Socket 'no_plan';

workers(2);
master_on();
no_shuffle();       # the abort blocks and the block after them share nginx
moa_setup();
no_long_string();

our $Msg = '"messages":[{"role":"user","content":"hi"}]';

# one MoA location per route, each with its own internal location and its
# own mock scenario; the route's name is its MoA model id
sub routes {
    my (@routes) = @_;
    my $config = <<'_EOC_';
    location = /metrics {
        moa_metrics;
        add_header X-Worker $pid;
    }
_EOC_
    for my $r (@routes) {
        my $name = $r->{name};
        my $scenario = $r->{mock} // '';
        $scenario =~ s/\\/\\\\/g;
        $scenario =~ s/'/\\'/g;
        my $moa = $r->{moa} // '';
        my $upstream = $r->{upstream} // '';
        $config .= <<_EOC_;
    location = /$name/v1/chat/completions {
        moa_pass /_moa_$name;
        moa_model $name gpt-4o;
        add_header X-Worker \$pid always;
        $moa
    }
    location = /_moa_$name {
        internal;
        proxy_pass http://moa_mock/mock-$name/chat;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering off;
        proxy_set_header X-Moa-Stage \$moa_stage;
        proxy_set_header X-Moa-Call \$moa_call;
        $upstream
    }
    location /mock-$name/ {
        client_body_buffer_size 16m;
        client_max_body_size 16m;
        postpone_output 0;
        set \$mock_scenario '$scenario';
        js_content mock.chat;
    }
_EOC_
    }
    return $config;
}

# "POST /route/v1/chat/completions\n{body}" for a block's request list
sub post {
    my ($route, $body) = @_;
    return "POST /$route/v1/chat/completions\n$body";
}

# the samples of a known set of series, for is_deeply: every sample of
# these metrics that is not listed must be 0
sub expect {
    my ($m, %want) = @_;
    my (%got, %exp);
    for my $key (keys %$m) {
        my ($name) = $key =~ /^(\w+)\{/;
        next unless grep { $name eq $_ } qw(moa_requests_total
            moa_upstream_calls_total moa_tokens_total moa_fallbacks_total
            moa_critiques_skipped_total moa_proposals_dropped_total
            moa_requests_in_flight moa_request_duration_seconds_count
            moa_stage_duration_seconds_count moa_stream_ttfb_seconds_count);
        $got{$key} = $m->{$key};
        $exp{$key} = 0;
    }
    for my $key (keys %want) {
        die "expect: no sample $key\n" unless exists $exp{$key};
        $exp{$key} = $want{$key};
    }
    Test::More::is_deeply(\%got, \%exp, 'every counter as expected')
        or Test::More::diag(join "\n", map { "$_ = $got{$_}" }
                            grep { $got{$_} ne $exp{$_} } sort keys %got);
}

sub k { MoaTest::metric_key(@_) }

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', MoaTest::http_config()
                      . "    moa_metrics_zone moa_metrics 1m;\n")
        unless defined $block->http_config;
});

run_tests();

__DATA__

=== TEST 1: the exposition on a fresh nginx: every series at 0, promtool check metrics passes
--- config eval
main::routes({name => 'moa-a'}, {name => 'moa-b'})
--- request
GET /metrics
--- error_code: 200
--- response_headers
Content-Type: text/plain; version=0.0.4; charset=utf-8
--- check
my ($rc, $out) = MoaTest::promtool($body);
is $rc, 0, 'promtool check metrics passes';
is $out, '', 'no lint message';
for my $name (qw(moa_requests_total moa_requests_in_flight
                 moa_upstream_calls_total moa_tokens_total moa_fallbacks_total
                 moa_critiques_skipped_total moa_proposals_dropped_total)) {
    like $body, qr/^# HELP $name \S.*\n# TYPE $name (counter|gauge)\n/m,
        "$name: HELP and TYPE";
}
for my $name (qw(moa_request_duration_seconds moa_stage_duration_seconds
                 moa_stream_ttfb_seconds)) {
    like $body, qr/^# HELP $name \S.*\n# TYPE $name histogram\n/m,
        "$name: HELP and TYPE";
}
my $m = MoaTest::metrics_parse($body);
my @models = sort map { /model=([^,}]+)/ } grep { /^moa_requests_total/ } keys %$m;
my %seen;
is_deeply [grep { !$seen{$_}++ } @models], [qw(moa-a moa-b none passthrough)],
    'a series per MoA id, passthrough, none';
is scalar(grep { /^moa_requests_total/ } keys %$m), 4 * 6, 'six outcomes each';
is scalar(grep { /^moa_upstream_calls_total/ } keys %$m), 4 * 5,
    'four stages, five status classes';
ok !grep({ $m->{$_} != 0 } keys %$m), 'everything at 0';
is $m->{k('moa_request_duration_seconds_bucket', model => 'moa-a', le => '+Inf')},
    0, '+Inf bucket';
is $m->{k('moa_stream_ttfb_seconds_bucket', model => 'passthrough', le => '0.01')},
    0, 'finer TTFB buckets';
ok !exists $m->{k('moa_fallbacks_total', model => 'passthrough')},
    'no MoA-only counter for passthrough';
ok !exists $m->{k('moa_requests_in_flight', model => 'none')},
    'no gauge for refused requests';
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 2: a known sequence of requests: every outcome, stage, status class and degradation counted exactly once
--- config eval
main::routes(
    {name => 'ok', moa => 'client_max_body_size 1k;'},
    {name => 'fallback', moa => 'moa_fallback candidate;',
     mock => '{"critique": {"status": 500}, "synthesis": {"status": 500}}'},
    {name => 'dropped', moa => 'moa_proposal_timeout 300ms;',
     mock => '{"proposal.2": {"delay": 1500}}'},
    {name => 'deadline', moa => 'moa_proposal_timeout 200ms;',
     mock => '{"proposal": {"delay": 1500}}'},
    {name => 'limited',
     mock => '{"proposal": {"status": 429, "headers": {"Retry-After": "1"}}}'},
    {name => 'broken',
     mock => '{"proposal": {"status": 500}, "passthrough": {"status": 400}}'},
    {name => 'streamerr', mock => '{"synthesis": {"stream_error": {}}}'},
    {name => 'slow', upstream => 'proxy_read_timeout 200ms;',
     mock => '{"proposal": {"delay": 1000}}'})
--- request eval
[
main::post('ok', qq~{"model":"ok",$main::Msg}~),
main::post('ok', qq~{"model":"ok","stream":true,$main::Msg}~),
main::post('ok', qq~{"model":"gpt-4o",$main::Msg}~),
main::post('ok', qq~{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},$main::Msg}~),
main::post('ok', '{bad'),
"GET /ok/v1/chat/completions",
main::post('ok', qq~{"model":"ok","prediction":{"type":"content","content":"x"},$main::Msg}~),
main::post('ok', qq~{"model":"ok","messages":[{"role":"user","content":"~ . ('x' x 2000) . '"}]}'),
main::post('fallback', qq~{"model":"fallback",$main::Msg}~),
main::post('dropped', qq~{"model":"dropped",$main::Msg}~),
main::post('deadline', qq~{"model":"deadline",$main::Msg}~),
main::post('limited', qq~{"model":"limited",$main::Msg}~),
main::post('broken', qq~{"model":"broken",$main::Msg}~),
main::post('broken', qq~{"model":"gpt-4o",$main::Msg}~),
main::post('streamerr', qq~{"model":"streamerr","stream":true,$main::Msg}~),
main::post('slow', qq~{"model":"slow",$main::Msg}~),
"GET /metrics",
]
--- error_code eval
[200, 200, 200, 200, 400, 405, 400, 413, 200, 200, 504, 429, 502, 400, 200, 504, 200]
--- timeout: 10
--- check
my ($rc, $out) = MoaTest::promtool($body);
is $rc, 0, "promtool check metrics passes $out";
# the requests are counted once nginx is done with them, which may be a
# little after their replies (scrape_settled): 16 in all
my ($m) = MoaTest::scrape_settled(16);
my $calls = 'moa_upstream_calls_total';
main::expect($m,
    k('moa_requests_total', model => 'ok', outcome => 'ok') => 2,
    k('moa_requests_total', model => 'ok', outcome => 'client_error') => 1,
    k('moa_requests_total', model => 'passthrough', outcome => 'ok') => 2,
    k('moa_requests_total', model => 'passthrough', outcome => 'upstream_error') => 1,
    k('moa_requests_total', model => 'none', outcome => 'client_error') => 3,
    k('moa_requests_total', model => 'fallback', outcome => 'ok') => 1,
    k('moa_requests_total', model => 'dropped', outcome => 'ok') => 1,
    k('moa_requests_total', model => 'deadline', outcome => 'timeout') => 1,
    k('moa_requests_total', model => 'limited', outcome => 'upstream_error') => 1,
    k('moa_requests_total', model => 'broken', outcome => 'upstream_error') => 1,
    k('moa_requests_total', model => 'streamerr', outcome => 'upstream_error') => 1,
    k('moa_requests_total', model => 'slow', outcome => 'timeout') => 1,

    # ok: 2 x 5, fallback: 3 + 2 failed, dropped: 2 + 1 cancelled + 2,
    # deadline: 3 cancelled, limited: 3 x 429, broken: 3 x 500 + a relayed
    # 400, streamerr: 5, slow: 3 x 504 (proxy_read_timeout), passthrough: 2
    k($calls, stage => 'proposal', status => '2xx') => 6 + 3 + 2 + 3,
    k($calls, stage => 'proposal', status => '4xx') => 3,
    k($calls, stage => 'proposal', status => '5xx') => 3 + 3,
    k($calls, stage => 'proposal', status => 'canceled') => 1 + 3,
    k($calls, stage => 'critique', status => '2xx') => 2 + 1 + 1,
    k($calls, stage => 'critique', status => '5xx') => 1,
    k($calls, stage => 'synthesis', status => '2xx') => 2 + 1 + 1,
    k($calls, stage => 'synthesis', status => '5xx') => 1,
    k($calls, stage => 'passthrough', status => '2xx') => 2,
    k($calls, stage => 'passthrough', status => '4xx') => 1,

    # the mock's usage is 10 + 5 a call that answers 200; a stream's comes
    # in its last chunk, which a stream cut by an error event lacks
    k('moa_tokens_total', model => 'ok', kind => 'prompt') => 100,
    k('moa_tokens_total', model => 'ok', kind => 'completion') => 50,
    k('moa_tokens_total', model => 'passthrough', kind => 'prompt') => 20,
    k('moa_tokens_total', model => 'passthrough', kind => 'completion') => 10,
    k('moa_tokens_total', model => 'fallback', kind => 'prompt') => 30,
    k('moa_tokens_total', model => 'fallback', kind => 'completion') => 15,
    k('moa_tokens_total', model => 'dropped', kind => 'prompt') => 40,
    k('moa_tokens_total', model => 'dropped', kind => 'completion') => 20,
    k('moa_tokens_total', model => 'streamerr', kind => 'prompt') => 40,
    k('moa_tokens_total', model => 'streamerr', kind => 'completion') => 20,

    k('moa_fallbacks_total', model => 'fallback') => 1,
    k('moa_critiques_skipped_total', model => 'fallback') => 1,
    k('moa_proposals_dropped_total', model => 'dropped') => 1,
    k('moa_proposals_dropped_total', model => 'deadline') => 3,

    k('moa_request_duration_seconds_count', model => 'ok') => 3,
    k('moa_request_duration_seconds_count', model => 'passthrough') => 3,
    k('moa_request_duration_seconds_count', model => 'none') => 3,
    (map { (k('moa_request_duration_seconds_count', model => $_) => 1) }
         qw(fallback dropped deadline limited broken streamerr slow)),

    k('moa_stage_duration_seconds_count', stage => 'proposal') => 2 + 7,
    k('moa_stage_duration_seconds_count', stage => 'critique') => 2 + 3,
    k('moa_stage_duration_seconds_count', stage => 'synthesis') => 2 + 3,

    k('moa_stream_ttfb_seconds_count', model => 'ok') => 1,
    k('moa_stream_ttfb_seconds_count', model => 'passthrough') => 1,
    k('moa_stream_ttfb_seconds_count', model => 'streamerr') => 1,
);
cmp_ok $m->{k('moa_stage_duration_seconds_sum', stage => 'proposal')}, '>=',
    0.3 + 0.2 + 0.2, 'stage time sum: the deadlines and the timeout';
cmp_ok $m->{k('moa_request_duration_seconds_bucket', model => 'deadline', le => '0.1')},
    '==', 0, 'deadline: not under 100 ms';
cmp_ok $m->{k('moa_request_duration_seconds_bucket', model => 'deadline', le => '1')},
    '==', 1, 'deadline: under 1 s';
--- no_error_log
[alert]
[crit]



=== TEST 3: parallel clients over both workers: each request counted once, whatever worker took it
--- config eval
main::routes({name => 'ok', mock => '{"default": {"delay": 30}}'},
             {name => 'broken', mock => '{"proposal": {"status": 500}}'})
--- request
GET /metrics
--- timeout: 30
--- check
my @round = (
    ['POST', '/ok/v1/chat/completions', qq~{"model":"ok",$main::Msg}~],
    ['POST', '/ok/v1/chat/completions', qq~{"model":"ok",$main::Msg}~],
    ['POST', '/ok/v1/chat/completions', qq~{"model":"ok","stream":true,$main::Msg}~],
    ['POST', '/ok/v1/chat/completions', qq~{"model":"gpt-4o",$main::Msg}~],
    ['POST', '/ok/v1/chat/completions', '{bad'],
    ['POST', '/broken/v1/chat/completions', qq~{"model":"broken",$main::Msg}~],
);
my (%workers, %status, $rounds);
for (1 .. 20) {
    $rounds++;
    for my $res (MoaTest::http_parallel(@round)) {
        $workers{ $res->{headers}{'x-worker'} // 'none' }++;
        $status{ $res->{status} }++;
    }
    last if keys %workers >= 2 && $rounds >= 3;
}
is scalar keys %workers, 2, "both workers answered ($rounds rounds: "
    . join(', ', map { "$_: $workers{$_}" } sort keys %workers) . ')';
is_deeply \%status, {200 => 4 * $rounds, 400 => $rounds, 502 => $rounds},
    'statuses';
my ($m) = MoaTest::scrape_settled(6 * $rounds);
main::expect($m,
    k('moa_requests_total', model => 'ok', outcome => 'ok') => 3 * $rounds,
    k('moa_requests_total', model => 'passthrough', outcome => 'ok') => $rounds,
    k('moa_requests_total', model => 'none', outcome => 'client_error') => $rounds,
    k('moa_requests_total', model => 'broken', outcome => 'upstream_error') => $rounds,
    k('moa_upstream_calls_total', stage => 'proposal', status => '2xx') => 9 * $rounds,
    k('moa_upstream_calls_total', stage => 'proposal', status => '5xx') => 3 * $rounds,
    k('moa_upstream_calls_total', stage => 'critique', status => '2xx') => 3 * $rounds,
    k('moa_upstream_calls_total', stage => 'synthesis', status => '2xx') => 3 * $rounds,
    k('moa_upstream_calls_total', stage => 'passthrough', status => '2xx') => $rounds,
    k('moa_tokens_total', model => 'ok', kind => 'prompt') => 150 * $rounds,
    k('moa_tokens_total', model => 'ok', kind => 'completion') => 75 * $rounds,
    k('moa_tokens_total', model => 'passthrough', kind => 'prompt') => 10 * $rounds,
    k('moa_tokens_total', model => 'passthrough', kind => 'completion') => 5 * $rounds,
    k('moa_request_duration_seconds_count', model => 'ok') => 3 * $rounds,
    k('moa_request_duration_seconds_count', model => 'passthrough') => $rounds,
    k('moa_request_duration_seconds_count', model => 'none') => $rounds,
    k('moa_request_duration_seconds_count', model => 'broken') => $rounds,
    k('moa_stage_duration_seconds_count', stage => 'proposal') => 4 * $rounds,
    k('moa_stage_duration_seconds_count', stage => 'critique') => 3 * $rounds,
    k('moa_stage_duration_seconds_count', stage => 'synthesis') => 3 * $rounds,
    k('moa_stream_ttfb_seconds_count', model => 'ok') => $rounds,
);
--- no_error_log
[alert]
[crit]



=== TEST 4: counters survive nginx -s reload, and a reload that adds a model keeps them too
--- config eval
main::routes({name => 'ok'})
--- request
GET /metrics
--- timeout: 30
--- check
for my $body (qq~{"model":"ok",$main::Msg}~, qq~{"model":"ok",$main::Msg}~,
              qq~{"model":"gpt-4o",$main::Msg}~, '{bad') {
    MoaTest::http('POST', '/ok/v1/chat/completions', $body);
}
my ($before) = MoaTest::scrape_settled(4);
is $before->{k('moa_requests_total', model => 'ok', outcome => 'ok')}, 2,
    'counted before';

my %old = map { $_ => 1 } MoaTest::reload(2);
my ($after, $res2) = MoaTest::scrape();
ok !$old{ $res2->{headers}{'x-worker'} }, 'scraped from a new worker';
is_deeply $after, $before, 'every sample the same after the reload';

MoaTest::http('POST', '/ok/v1/chat/completions', qq~{"model":"ok",$main::Msg}~);
($after) = MoaTest::scrape_settled(5);
is $after->{k('moa_requests_total', model => 'ok', outcome => 'ok')}, 3,
    'the new workers count on';

# the same zone with one more MoA id
my $conf = Test::Nginx::Util::server_root() . '/conf/nginx.conf';
open my $in, '<', $conf or die "$conf: $!";
my $text = do { local $/; <$in> };
close $in;
$text =~ s/(moa_model ok gpt-4o;)/$1 moa_model moa-new gpt-4o-mini;/
    or die 'no moa_model line';
open my $out, '>', $conf or die "$conf: $!";
print $out $text;
close $out;

%old = map { $_ => 1 } MoaTest::reload(2);
my ($grown, $res3) = MoaTest::scrape();
ok !$old{ $res3->{headers}{'x-worker'} }, 'scraped from a new worker';
my %kept = map { $_ => $grown->{$_} } grep { !/moa-new/ } keys %$grown;
is_deeply \%kept, $after, 'the old series kept their values';
is $grown->{k('moa_requests_total', model => 'moa-new', outcome => 'ok')}, 0,
    'a series for the new id';
my ($rc, $lint) = MoaTest::promtool($res3->{body});
is $rc, 0, "promtool check metrics passes $lint";
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 5: the client goes away during the proposals
--- config eval
main::routes(
    {name => 'hang', mock => '{"proposal": {"delay": 1000}, "passthrough": {"content": "a b c", "chunks": 3, "interval": 600}}'},
    {name => 'slowstream', mock => '{"synthesis": {"content": "a b c", "chunks": 3, "interval": 600}}'})
--- request eval
main::post('hang', qq~{"model":"hang",$main::Msg}~)
--- timeout: 0.3
--- abort
--- ignore_response
--- no_error_log
[alert]
[crit]



=== TEST 6: the client goes away during a streamed synthesis
--- request eval
main::post('slowstream', qq~{"model":"slowstream","stream":true,$main::Msg}~)
--- timeout: 0.5
--- abort
--- ignore_response
--- no_error_log
[alert]
[crit]



=== TEST 7: the client goes away during a streamed passthrough
--- request eval
main::post('hang', qq~{"model":"gpt-4o","stream":true,$main::Msg}~)
--- timeout: 0.5
--- abort
--- ignore_response
--- no_error_log
[alert]
[crit]



=== TEST 8: after the aborts: each one counted, the gauge back to 0; the gauge follows one more request up and down
--- request
GET /metrics
--- timeout: 30
--- check
my ($m) = MoaTest::scrape_settled(3);
my $calls = 'moa_upstream_calls_total';
main::expect($m,
    k('moa_requests_total', model => 'hang', outcome => 'client_abort') => 1,
    k('moa_requests_total', model => 'slowstream', outcome => 'client_abort') => 1,
    k('moa_requests_total', model => 'passthrough', outcome => 'client_abort') => 1,
    k($calls, stage => 'proposal', status => 'canceled') => 3,
    k($calls, stage => 'proposal', status => '2xx') => 3,
    k($calls, stage => 'critique', status => '2xx') => 1,
    k($calls, stage => 'synthesis', status => 'canceled') => 1,
    k($calls, stage => 'passthrough', status => 'canceled') => 1,
    k('moa_tokens_total', model => 'slowstream', kind => 'prompt') => 40,
    k('moa_tokens_total', model => 'slowstream', kind => 'completion') => 20,
    k('moa_request_duration_seconds_count', model => 'hang') => 1,
    k('moa_request_duration_seconds_count', model => 'slowstream') => 1,
    k('moa_request_duration_seconds_count', model => 'passthrough') => 1,
    k('moa_stage_duration_seconds_count', stage => 'proposal') => 1,
    k('moa_stage_duration_seconds_count', stage => 'critique') => 1,
    k('moa_stream_ttfb_seconds_count', model => 'slowstream') => 1,
    k('moa_stream_ttfb_seconds_count', model => 'passthrough') => 1,
);

# one more: in flight while the proposals hang, then gone with the client
my $s = MoaTest::_connect();
my $req = qq~{"model":"hang",$main::Msg}~;
print $s MoaTest::_request_text('POST', '/hang/v1/chat/completions', $req);
my $up;
for (1 .. 100) {
    ($m) = MoaTest::scrape();
    $up = $m->{k('moa_requests_in_flight', model => 'hang')};
    last if $up;
    select undef, undef, undef, 0.02;
}
is $up, 1, 'one request in flight';
close $s;
($m) = MoaTest::scrape_settled(4);
is $m->{k('moa_requests_in_flight', model => 'hang')}, 0, 'back to 0';
is $m->{k('moa_requests_total', model => 'hang', outcome => 'client_abort')}, 2,
    'counted as client_abort';
--- no_error_log
[alert]
[crit]



=== TEST 9: configuration errors: moa_metrics without a zone, a reserved model id, a zone too small
--- config eval
main::routes({name => 'ok'})
--- request
GET /metrics
--- check
my $root = Test::Nginx::Util::server_root();
my $load = join '', map { "load_module $_;\n" }
           split ' ', $ENV{TEST_NGINX_LOAD_MODULES};
my @cases = (
    ['location /m { moa_metrics; }', '',
     qr/"moa_metrics" requires "moa_metrics_zone" at the http level/],
    ['location /v1 { moa_pass /u; moa_model none gpt-4o; }',
     'moa_metrics_zone m 1m;',
     qr/the MoA model id "none" is reserved by "moa_metrics_zone"/],
    ['location /v1 { moa_pass /u; moa_model passthrough gpt-4o; }',
     'moa_metrics_zone m 1m;',
     qr/the MoA model id "passthrough" is reserved/],
    ['location /m { moa_metrics; }', 'moa_metrics_zone m 4k;',
     qr/zone "m" is too small/],
    ['location /m { moa_metrics; }', 'moa_metrics_zone m 1m; moa_metrics_zone n 1m;',
     qr/"moa_metrics_zone" directive is duplicate/],
);
for my $case (@cases) {
    my ($loc, $http, $expected) = @$case;
    my $file = "$root/conf/bad.conf";
    open my $out, '>', $file or die "$file: $!";
    print $out "${load}error_log stderr;\nevents {}\nhttp {\n$http\n"
               . "server { listen 127.0.0.1:1; $loc }\n}\n";
    close $out;
    my $res = `$ENV{TEST_NGINX_BINARY} -t -p $root/ -c $file -e stderr 2>&1`;
    isnt $?, 0, "refused: $loc $http";
    like $res, $expected, 'the reason';
}
--- no_error_log
[alert]
[crit]



=== TEST 10: the metrics location answers GET and HEAD only
--- config eval
main::routes({name => 'ok'})
--- request eval
["HEAD /metrics", "POST /metrics\nx", "DELETE /metrics"]
--- error_code eval
[200, 405, 405]
--- response_body eval
["", qr/405 Not Allowed/, qr/405 Not Allowed/]
--- no_error_log
[alert]
[crit]
