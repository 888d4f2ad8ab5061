# Hostile and sloppy providers: X-Accel-* control headers in a reply are
# ignored by the module's calls; a reply cut short is a failed call and a
# cut passthrough reaches the client as a cut; a stream held open after
# [DONE] (or after a malformed event) ends the client's stream at once; an
# event stream is recognised by its bytes when its Content-Type is missing
# or wrong.  The byte-level misbehaviours come from t/lib/RawProvider.pm.

use lib 't/lib';
use MoaTest;
use RawProvider;
use Test::Nginx::Socket 'no_plan';
use Time::HiRes ();

our $Msg = '"messages":[{"role":"user","content":"hi"}]';

sub chunk { RawProvider::chunk(@_) }

my $sse_head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
               . "Transfer-Encoding: chunked\r\n\r\n";
my $ev1 = 'data: {"id":"c1","object":"chat.completion.chunk","created":1,'
          . '"model":"gpt-4o","choices":[{"index":0,"delta":{"role":'
          . '"assistant","content":"one "},"finish_reason":null}]}' . "\n\n";
my $ev2 = 'data: {"id":"c1","object":"chat.completion.chunk","created":1,'
          . '"model":"gpt-4o","choices":[{"index":0,"delta":{"content":'
          . '"two"},"finish_reason":null}]}' . "\n\n";
my $ev3 = 'data: {"id":"c1","object":"chat.completion.chunk","created":1,'
          . '"model":"gpt-4o","choices":[{"index":0,"delta":{},'
          . '"finish_reason":"stop"}]}' . "\n\n";
my $done = "data: [DONE]\n\n";

# a whole chat.completion of exactly $len bytes (padded content)
sub completion {
    my ($len, $content) = @_;
    my $json = '{"model":"gpt-4o","choices":[{"index":0,"message":'
               . '{"role":"assistant","content":"' . $content . '%s"},'
               . '"finish_reason":"stop"}]}';
    my $pad = $len - length(sprintf $json, '');
    die "completion: $len is too short\n" if $pad < 0;
    return sprintf $json, 'x' x $pad;
}

my $json156 = completion(156, 'cut ');
our $Whole = completion(200, 'whole ');
my $whole = $Whole;

sub json_head {
    my ($len) = @_;
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
           . "Content-Length: $len\r\n\r\n";
}

our $Raw = RawProvider->start(
    # a passthrough stream: two events, then a reset or a close
    'sse_rst-passthrough'   => [[send => $sse_head . chunk($ev1) . chunk($ev2)],
                                [sleep => 0.3], ['rst']],
    'sse_close-passthrough' => [[send => $sse_head . chunk($ev1) . chunk($ev2)],
                                [sleep => 0.3], ['close']],
    # Content-Length: 312, 156 bytes, then a reset or a close
    'cl_rst-passthrough'    => [[send => json_head(312) . $json156],
                                [sleep => 0.3], ['rst']],
    'cl_close-passthrough'  => [[send => json_head(312) . $json156],
                                [sleep => 0.3], ['close']],
    # a streamed synthesis reset after two events
    'mcut-proposal'         => [[send => json_head(200) . $whole], ['keep']],
    'mcut-critique'         => [[send => json_head(200) . $whole], ['keep']],
    'mcut-synthesis'        => [[send => $sse_head . chunk($ev1) . chunk($ev2)],
                                [sleep => 0.3], ['rst']],
    # a stream whose [DONE] and last chunk come in one piece
    'ka-proposal'           => [[send => json_head(200) . $whole], ['keep']],
    'ka-critique'           => [[send => json_head(200) . $whole], ['keep']],
    'ka-synthesis'          => [[send => $sse_head . chunk($ev1) . chunk($ev2)
                                          . chunk($ev3) . chunk($done)
                                          . "0\r\n\r\n"], ['keep']],
    'kab-proposal'          => [[send => json_head(200) . $whole], ['keep']],
    'kab-critique'          => [[send => json_head(200) . $whole], ['keep']],
    'kab-synthesis'         => [[send => $sse_head . chunk($ev1) . chunk($ev2)
                                          . chunk($ev3) . chunk($done)
                                          . "0\r\n\r\n"], ['keep']],
    # whole replies, for the connection to go on after them
    'ok204-passthrough'     => [[send => "HTTP/1.1 204 No Content\r\n\r\n"],
                                ['keep']],
    'whole-passthrough'     => [[send => json_head(200) . $whole], ['keep']],
    # proposals whose bytes form a whole JSON but are short of their length
    'cutjson-proposal'      => [[send => json_head(312) . $json156],
                                [sleep => 0.1], ['close']],
    'cutjson-critique'      => [[send => json_head(200) . $whole], ['keep']],
    'cutjson-synthesis'     => [[send => json_head(200) . $whole], ['keep']],
    # a stream that sends [DONE] (or a malformed event) and stays open
    'hold-proposal'         => [[send => json_head(200) . $whole], ['keep']],
    'hold-critique'         => [[send => json_head(200) . $whole], ['keep']],
    'hold-synthesis'        => [[send => $sse_head . chunk($ev1) . chunk($ev2)
                                          . chunk($ev3) . chunk($done)],
                                [sleep => 12]],
    'holdbad-proposal'      => [[send => json_head(200) . $whole], ['keep']],
    'holdbad-critique'      => [[send => json_head(200) . $whole], ['keep']],
    'holdbad-synthesis'     => [[send => $sse_head . chunk($ev1)
                                          . chunk("data: {\"choices\":[\n\n")],
                                [sleep => 12]],
    # a JSON reply without a Content-Type to a streamed request
    'nojson-proposal'       => [[send => json_head(200) . $whole], ['keep']],
    'nojson-critique'       => [[send => json_head(200) . $whole], ['keep']],
    'nojson-synthesis'      => [[send => "HTTP/1.1 200 OK\r\nContent-Length: "
                                          . length($whole) . "\r\n\r\n"
                                          . $whole], ['keep']],
    # the same, its first field split after "da"
    'split-proposal'        => [[send => json_head(200) . $whole], ['keep']],
    'split-critique'        => [[send => json_head(200) . $whole], ['keep']],
    'split-synthesis'       => [[send => "HTTP/1.1 200 OK\r\n"
                                          . "Connection: close\r\n\r\n\n\nda"],
                                [sleep => 0.2],
                                [send => substr($ev1, 2) . $ev2 . $done],
                                ['close']],
    # an event stream without a Content-Type, ended by a close
    'noct-proposal'         => [[send => json_head(200) . $whole], ['keep']],
    'noct-critique'         => [[send => json_head(200) . $whole], ['keep']],
    'noct-synthesis'        => [[send => "HTTP/1.1 200 OK\r\n"
                                          . "Connection: close\r\n\r\n"
                                          . $ev1 . $ev2 . $ev3 . $done],
                                ['close']],
);
$ENV{TEST_NGINX_RAW_PORT} = $Raw->port;

# one HTTP/1.1 exchange on a connection of its own, kept alive unless the
# reply says otherwise: everything read until nginx closes it or $wait
# seconds pass: {raw, closed (1 if nginx closed it), time (s to the end)}
# ($at_end, if given, runs before the client's side is closed: its result
# is {at_end})
sub raw_exchange {
    my ($text, $wait, $at_end) = @_;
    my $s = IO::Socket::INET->new(
        PeerAddr => '127.0.0.1',
        PeerPort => Test::Nginx::Util::server_port_for_client(),
        Timeout  => 5) or die "connect: $!";
    my $start = Time::HiRes::time();
    print $s $text;
    my ($raw, $closed) = ('', 0);
    my $sel = IO::Select->new($s);
    while (Time::HiRes::time() - $start < $wait) {
        next unless $sel->can_read(0.05);
        my $n = sysread $s, my $buf, 65536;
        if (!$n) {
            $closed = 1;
            last;
        }
        $raw .= $buf;
    }
    my $time = Time::HiRes::time() - $start;
    my $end = $at_end ? $at_end->() : undef;
    close $s;
    return {raw => $raw, closed => $closed, time => $time, at_end => $end};
}

sub post11 {
    my ($body, $path) = @_;
    return 'POST ' . ($path // '/v1/chat/completions') . " HTTP/1.1\r\n"
           . "Host: localhost\r\nContent-Type: application/json\r\n"
           . 'Content-Length: ' . length($body) . "\r\n\r\n$body";
}

# how many TCP connections to 127.0.0.1:$port are established (nginx's
# side of its provider calls)
sub established_to {
    my ($port) = @_;
    my $n = 0;
    for my $file ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $in, '<', $file or next;
        while (<$in>) {
            my @f = split ' ';
            next unless @f > 3 && $f[2] =~ /:([0-9A-F]{4})$/;
            $n++ if hex($1) == $port && $f[3] eq '01';
        }
    }
    return $n;
}

# the open descriptors of the nginx worker (one worker in this file)
sub worker_fds {
    my @w = MoaTest::children(MoaTest::master_pid());
    die "expected one worker, got @w\n" unless @w == 1;
    opendir my $d, "/proc/$w[0]/fd" or die "/proc/$w[0]/fd: $!";
    return scalar grep { /^\d+$/ } readdir $d;
}

# the sum of the moa_requests_in_flight samples, once it is 0 (or after 5 s)
sub in_flight {
    my $busy;
    for (1 .. 100) {
        my ($m) = MoaTest::scrape();
        $busy = 0;
        $busy += $m->{$_} for grep { /^moa_requests_in_flight\{/ } keys %$m;
        last if $busy == 0;
        Time::HiRes::sleep(0.05);
    }
    return $busy;
}

master_on();
workers(1);
worker_connections(1024);
no_shuffle();
moa_setup();
no_long_string();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', MoaTest::http_config()
                      . "    moa_metrics_zone moa_metrics 1m;\n")
        if !defined $block->http_config && defined $block->config;
});

run_tests();

__DATA__

=== TEST 1: X-Accel-Redirect in a proposal reply is ignored
--- config
    location = /metrics {
        moa_metrics;
    }
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-x gpt-4o;
    }
--- mock
{"proposal": {"headers": {"X-Accel-Redirect": "/metrics"}}}
--- request eval
"POST /v1/chat/completions\n{\"model\":\"moa-x\",$main::Msg}"
--- error_code: 200
--- response_body_unlike: moa_requests
--- json
like $r->{choices}[0]{message}{content}, qr/^synthesis 0:/, 'the synthesis';
--- no_error_log
[alert]
[crit]
[error]



=== TEST 2: X-Accel-Redirect in a passthrough reply is ignored
--- config
    location = /metrics {
        moa_metrics;
    }
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-x gpt-4o;
    }
--- mock
{"passthrough": {"headers": {"X-Accel-Redirect": "/metrics"},
                 "content": "plain"}}
--- request eval
"POST /v1/chat/completions\n{\"model\":\"gpt-4o\",$main::Msg}"
--- error_code: 200
--- response_headers
Content-Type: application/json
!X-Accel-Redirect
--- response_body_unlike: moa_requests
--- json
is $r->{choices}[0]{message}{content}, 'plain', 'the provider reply';
--- no_error_log
[alert]
[crit]
[error]



=== TEST 3: X-Accel-Redirect in a streamed passthrough reply is ignored
--- request eval
"POST /v1/chat/completions\n{\"model\":\"gpt-4o\",\"stream\":true,$main::Msg}"
--- error_code: 200
--- response_body_unlike: moa_requests
--- sse
is MoaTest::sse_data(\@e), 'plain', 'the provider stream';
--- no_error_log
[alert]
[crit]
[error]



=== TEST 4: X-Accel-Redirect in a streamed synthesis reply is ignored
--- config
    location = /metrics {
        moa_metrics;
    }
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-x gpt-4o;
    }
--- mock
{"synthesis": {"headers": {"X-Accel-Redirect": "/metrics"},
               "content": "final answer"}}
--- request eval
"POST /v1/chat/completions\n{\"model\":\"moa-x\",\"stream\":true,$main::Msg}"
--- error_code: 200
--- response_body_unlike: moa_requests
--- sse
is MoaTest::sse_data(\@e), 'final answer', 'the synthesis stream';
is $e[-1], '[DONE]', 'ends with [DONE]';
--- no_error_log
[alert]
[crit]
[error]



=== TEST 5: X-Accel-Redirect to a named location, in a non-streamed synthesis
--- config
    location = /metrics {
        moa_metrics;
    }
    location @elsewhere {
        return 200 "elsewhere";
    }
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-x gpt-4o;
    }
--- mock
{"default": {"headers": {"X-Accel-Redirect": "@elsewhere"}}}
--- request eval
"POST /v1/chat/completions\n{\"model\":\"moa-x\",$main::Msg}"
--- error_code: 200
--- response_body_unlike: elsewhere
--- json
like $r->{choices}[0]{message}{content}, qr/^synthesis 0:/, 'the synthesis';
--- no_error_log
[alert]
[crit]
[error]



=== TEST 6: X-Accel-Buffering: yes does not switch a streamed passthrough to buffering (no event pipe in the debug log)
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-x gpt-4o;
    }
--- mock
{"passthrough": {"headers": {"X-Accel-Buffering": "yes"},
                 "content": "a b c d", "chunks": 4, "interval": 400}}
--- request
POST /v1/chat/completions
{bad
--- error_code: 400
--- check
my @lines = MoaTest::timed_events(
    Test::Nginx::Util::server_port_for_client(), '/v1/chat/completions',
    qq~{"model":"gpt-4o","stream":true,$main::Msg}~);
my @data = grep { $_->[1] =~ /^data:/ } @lines;
ok @data >= 5, 'the events came' or diag(join ' ', map { $_->[1] } @lines);
cmp_ok $data[-1][0] - $data[0][0], '>', 0.9,
    'the first event was not held back until the end';
--- no_error_log
[alert]
[crit]
pipe write downstream



=== TEST 7: X-Accel-Charset and X-Accel-Limit-Rate on a passthrough: the whole reply, its Content-Type as sent
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-x gpt-4o;
    }
--- mock
{"passthrough": {"headers": {"X-Accel-Charset": "koi8-r",
                             "X-Accel-Limit-Rate": "100"},
                 "size": 4000}}
--- request eval
"POST /v1/chat/completions\n{\"model\":\"gpt-4o\",$main::Msg}"
--- timeout: 10
--- error_code: 200
--- response_headers
Content-Type: application/json
--- json
cmp_ok length($body), '>', 4000, 'the whole reply';
--- no_error_log
[alert]
[crit]



=== TEST 8: 200 requests whose every reply carries X-Accel-Redirect: no descriptor left open, nothing in flight, no alert at reload
--- config
    location = /metrics {
        moa_metrics;
    }
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-x gpt-4o;
    }
--- mock
{"default": {"headers": {"X-Accel-Redirect": "/metrics"}}}
--- request
GET /metrics
--- timeout: 120
--- check
my @kinds = (qq~{"model":"moa-x",$main::Msg}~,
             qq~{"model":"moa-x","stream":true,$main::Msg}~,
             qq~{"model":"gpt-4o",$main::Msg}~,
             qq~{"model":"gpt-4o","stream":true,$main::Msg}~);
my $batch = sub {
    my ($n, $from) = @_;
    return MoaTest::http_parallel(map {
        ['POST', '/v1/chat/completions', $kinds[($from + $_) % @kinds]]
    } 1 .. $n);
};
# the keepalive connections to the mock are opened by a first batch
$batch->(20, 0);
is main::in_flight(), 0, 'nothing in flight after the first batch';
my $before = main::worker_fds();
my ($bad, $leak) = (0, 0);
for my $i (0 .. 9) {
    for my $res ($batch->(20, $i)) {
        $bad++ if $res->{status} != 200;
        $leak++ if $res->{body} =~ /moa_requests|# HELP/;
    }
}
is $bad, 0, 'every reply a 200';
is $leak, 0, 'no reply carries the redirect target';
is main::in_flight(), 0, 'moa_requests_in_flight back to 0';
my $after = main::worker_fds();
cmp_ok $after, '<=', $before + 4, "worker fds: $before before, $after after";
MoaTest::reload(1);
--- no_error_log
[alert]
[crit]
[error]



=== TEST 9: a streamed passthrough reset after two events reaches the client as a cut: connection closed at once, no terminator
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-x gpt-4o;
    }
--- upstream_config
    location = /_moa_upstream {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAW_PORT/v1/chat/completions;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering off;
        proxy_set_header X-Raw sse_rst-$moa_stage;
    }
--- request
POST /v1/chat/completions
{bad
--- error_code: 400
--- check
my $res = main::raw_exchange(
    main::post11(qq~{"model":"gpt-4o","stream":true,$main::Msg}~), 5);
like $res->{raw}, qr/^HTTP\/1.1 200 .*"one ".*"two"/s, 'the two events came';
ok $res->{closed}, 'nginx closed the connection';
cmp_ok $res->{time}, '<', 1, sprintf 'within 1 s (%.2f s)', $res->{time};
unlike $res->{raw}, qr/\r\n0\r\n\r\n\z/, 'no chunked terminator';
--- no_error_log
[alert]
[crit]



=== TEST 10: a streamed passthrough closed after two events (no last chunk) reaches the client as a cut
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-x gpt-4o;
    }
--- upstream_config
    location = /_moa_upstream {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAW_PORT/v1/chat/completions;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering off;
        proxy_set_header X-Raw sse_close-$moa_stage;
    }
--- request
POST /v1/chat/completions
{bad
--- error_code: 400
--- check
my $res = main::raw_exchange(
    main::post11(qq~{"model":"gpt-4o","stream":true,$main::Msg}~), 5);
like $res->{raw}, qr/^HTTP\/1.1 200 .*"one ".*"two"/s, 'the two events came';
ok $res->{closed}, 'nginx closed the connection';
cmp_ok $res->{time}, '<', 1, sprintf 'within 1 s (%.2f s)', $res->{time};
unlike $res->{raw}, qr/\r\n0\r\n\r\n\z/, 'no chunked terminator';
--- no_error_log
[alert]
[crit]



=== TEST 11: Content-Length 312, 156 bytes, then a reset: the connection closed at once, nothing glued to the pipelined next response
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-x gpt-4o;
    }
--- upstream_config
    location = /_moa_upstream {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAW_PORT/v1/chat/completions;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering off;
        proxy_set_header X-Raw cl_rst-$moa_stage;
    }
--- request
POST /v1/chat/completions
{bad
--- error_code: 400
--- check
my $req = qq~{"model":"gpt-4o",$main::Msg}~;
my $res = main::raw_exchange(main::post11($req)
                             . "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n", 5);
my ($head, $rest) = split /\r\n\r\n/, $res->{raw}, 2;
like $head, qr/^HTTP\/1.1 200 .*\r\nContent-Length: 312\r\n/s,
    'the provider status and length';
ok $res->{closed}, 'nginx closed the connection';
cmp_ok $res->{time}, '<', 1, sprintf 'within 1 s (%.2f s)', $res->{time};
is length($rest // ''), 156, 'the 156 bytes, nothing after them';
unlike $res->{raw}, qr/HTTP\/1.1 404/, 'no pipelined response glued on';
--- no_error_log
[alert]
[crit]



=== TEST 12: Content-Length 312, 156 bytes, then a close: the same
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-x gpt-4o;
    }
--- upstream_config
    location = /_moa_upstream {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAW_PORT/v1/chat/completions;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering off;
        proxy_set_header X-Raw cl_close-$moa_stage;
    }
--- request
POST /v1/chat/completions
{bad
--- error_code: 400
--- check
my $req = qq~{"model":"gpt-4o",$main::Msg}~;
my $res = main::raw_exchange(main::post11($req)
                             . "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n", 5);
my ($head, $rest) = split /\r\n\r\n/, $res->{raw}, 2;
like $head, qr/^HTTP\/1.1 200 .*\r\nContent-Length: 312\r\n/s,
    'the provider status and length';
ok $res->{closed}, 'nginx closed the connection';
cmp_ok $res->{time}, '<', 1, sprintf 'within 1 s (%.2f s)', $res->{time};
is length($rest // ''), 156, 'the 156 bytes, nothing after them';
unlike $res->{raw}, qr/HTTP\/1.1 404/, 'no pipelined response glued on';
--- no_error_log
[alert]
[crit]



=== TEST 13: MoA: proposal replies cut short whose bytes form a whole JSON are failed calls
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-x gpt-4o;
    }
--- upstream_config
    location = /_moa_upstream {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAW_PORT/v1/chat/completions;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering off;
        proxy_set_header X-Raw cutjson-$moa_stage;
    }
--- request eval
"POST /v1/chat/completions\n{\"model\":\"moa-x\",$main::Msg}"
--- error_code: 502
--- json
like $r->{error}{message}, qr/proposal/, 'the proposals failed';
--- error_log
upstream prematurely closed connection
--- no_error_log
[alert]
[crit]



=== TEST 14: whole passthrough replies (204, Content-Length) are not taken for cuts: the pipelined next request is answered on the same connection
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-x gpt-4o;
    }
    location = /next {
        return 200 "next";
    }
    location = /v2/chat/completions {
        moa_pass /_moa_upstream2;
        moa_model moa-x gpt-4o;
    }
    location = /_moa_upstream2 {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAW_PORT/v1/chat/completions;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering off;
        proxy_set_header X-Raw whole-$moa_stage;
    }
--- upstream_config
    location = /_moa_upstream {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAW_PORT/v1/chat/completions;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering off;
        proxy_set_header X-Raw ok204-$moa_stage;
    }
--- request
GET /next
--- error_code: 200
--- check
my $req = qq~{"model":"gpt-4o",$main::Msg}~;
my $res = main::raw_exchange(main::post11($req)
                             . main::post11($req, '/v2/chat/completions')
                             . "GET /next HTTP/1.1\r\nHost: x\r\n"
                             . "Connection: close\r\n\r\n", 5);
my @status = $res->{raw} =~ /HTTP\/1.1 (\d+) /g;
is "@status", '204 200 200', 'three answers on one connection'
    or diag $res->{raw};
like $res->{raw}, qr/next\z/, 'the last one';
like $res->{raw}, qr/\Q$main::Whole\E/, 'the whole 200 reply';
ok $res->{closed}, 'closed after the last';
--- no_error_log
[alert]
[crit]
[error]



=== TEST 15: a streamed synthesis that sends [DONE] and holds the response open: the client's stream ends at once (usage chunk, [DONE]), the call is cancelled
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-x gpt-4o;
    }
--- upstream_config
    location = /_moa_upstream {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAW_PORT/v1/chat/completions;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering off;
        proxy_read_timeout 60s;
        proxy_set_header X-Raw hold-$moa_stage;
    }
--- request
POST /v1/chat/completions
{bad
--- error_code: 400
--- timeout: 20
--- check
my $req = qq~{"model":"moa-x","stream":true,~
          . qq~"stream_options":{"include_usage":true},$main::Msg}~;
my $res = main::raw_exchange(main::post11($req) =~ s/HTTP\/1.1/HTTP\/1.0/r, 5,
    sub { main::established_to($ENV{TEST_NGINX_RAW_PORT}) });
ok $res->{closed}, 'the response ended';
cmp_ok $res->{time}, '<', 1.5,
    sprintf 'within 1.5 s (%.2f s; the provider holds it 12 s)', $res->{time};
my ($head, $rest) = split /\r\n\r\n/, $res->{raw}, 2;
my @e = MoaTest::sse_events($rest // '');
is MoaTest::sse_data(\@e), 'one two', 'the content';
# no call reported usage: the usage chunk says null (README, Usage)
ok((grep { ref $_ && exists $_->{usage} && !@{ $_->{choices} || [1] } } @e),
   'a usage chunk');
is $e[-1], '[DONE]', 'ends with [DONE]';
is $res->{at_end}, 0, 'no provider connection left open';
--- no_error_log
[alert]
[crit]
[error]



=== TEST 16: a streamed synthesis that sends a malformed event and holds the response open: the error event goes out at once
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-x gpt-4o;
    }
--- upstream_config
    location = /_moa_upstream {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAW_PORT/v1/chat/completions;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering off;
        proxy_read_timeout 60s;
        proxy_set_header X-Raw holdbad-$moa_stage;
    }
--- request
POST /v1/chat/completions
{bad
--- error_code: 400
--- timeout: 20
--- check
my $req = qq~{"model":"moa-x","stream":true,$main::Msg}~;
my $res = main::raw_exchange(main::post11($req) =~ s/HTTP\/1.1/HTTP\/1.0/r, 5,
    sub { main::established_to($ENV{TEST_NGINX_RAW_PORT}) });
ok $res->{closed}, 'the response ended';
cmp_ok $res->{time}, '<', 1.5,
    sprintf 'within 1.5 s (%.2f s; the provider holds it 12 s)', $res->{time};
my ($head, $rest) = split /\r\n\r\n/, $res->{raw}, 2;
my @e = MoaTest::sse_events($rest // '');
is MoaTest::sse_data(\@e), 'one ', 'the content before the bad event';
ok((grep { ref $_ && $_->{error} } @e), 'an error event');
is $e[-1], '[DONE]', 'ends with [DONE]';
is $res->{at_end}, 0, 'no provider connection left open';
--- no_error_log
[alert]
[crit]



=== TEST 17: [DONE] and the response held open, with proxy_buffering on
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-x gpt-4o;
    }
--- upstream_config
    location = /_moa_upstream {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAW_PORT/v1/chat/completions;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering on;
        proxy_read_timeout 60s;
        proxy_set_header X-Raw hold-$moa_stage;
    }
--- request
POST /v1/chat/completions
{bad
--- error_code: 400
--- timeout: 20
--- check
my $req = qq~{"model":"moa-x","stream":true,~
          . qq~"stream_options":{"include_usage":true},$main::Msg}~;
my $res = main::raw_exchange(main::post11($req) =~ s/HTTP\/1.1/HTTP\/1.0/r, 5,
    sub { main::established_to($ENV{TEST_NGINX_RAW_PORT}) });
ok $res->{closed}, 'the response ended';
cmp_ok $res->{time}, '<', 1.5,
    sprintf 'within 1.5 s (%.2f s; the provider holds it 12 s)', $res->{time};
my ($head, $rest) = split /\r\n\r\n/, $res->{raw}, 2;
my @e = MoaTest::sse_events($rest // '');
is MoaTest::sse_data(\@e), 'one two', 'the content';
# no call reported usage: the usage chunk says null (README, Usage)
ok((grep { ref $_ && exists $_->{usage} && !@{ $_->{choices} || [1] } } @e),
   'a usage chunk');
is $e[-1], '[DONE]', 'ends with [DONE]';
is $res->{at_end}, 0, 'no provider connection left open';
--- no_error_log
[alert]
[crit]
[error]



=== TEST 18: a streamed synthesis without a Content-Type: recognised as an event stream by its bytes
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-x gpt-4o;
    }
--- upstream_config
    location = /_moa_upstream {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAW_PORT/v1/chat/completions;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering off;
        proxy_set_header X-Raw noct-$moa_stage;
    }
--- request eval
"POST /v1/chat/completions\n{\"model\":\"moa-x\",\"stream\":true,$main::Msg}"
--- error_code: 200
--- response_headers
Content-Type: text/event-stream; charset=utf-8
--- sse
is MoaTest::sse_data(\@e), 'one two', 'the content';
is $e[-1], '[DONE]', 'ends with [DONE]';
is $e[0]{model}, 'moa-x', 'rewritten as the stream is';
--- no_error_log
[alert]
[crit]
[error]
[warn]



=== TEST 19: a JSON reply without a Content-Type to a streamed request is still a reply, sent as chunks
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-x gpt-4o;
    }
--- upstream_config
    location = /_moa_upstream {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAW_PORT/v1/chat/completions;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering off;
        proxy_set_header X-Raw nojson-$moa_stage;
    }
--- request eval
"POST /v1/chat/completions\n{\"model\":\"moa-x\",\"stream\":true,$main::Msg}"
--- error_code: 200
--- response_headers
Content-Type: text/event-stream; charset=utf-8
--- sse
like MoaTest::sse_data(\@e), qr/^whole x+$/, 'the content';
is $e[-1], '[DONE]', 'ends with [DONE]';
--- no_error_log
[alert]
[crit]
[error]
[warn]



=== TEST 20: a streamed synthesis with a wrong Content-Type (application/json), a comment first: recognised by its bytes
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-x gpt-4o;
    }
--- mock eval
my $ev = '{"id":"x","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"abc"},"finish_reason":null}]}';
'{"synthesis": {"content_type": "application/json", "body": '
. '"' . MoaTest::json_escape("\n: keep-alive\n\ndata: $ev\n\ndata: [DONE]\n\n") . '"'
. '}}'
--- request eval
"POST /v1/chat/completions\n{\"model\":\"moa-x\",\"stream\":true,$main::Msg}"
--- error_code: 200
--- response_headers
Content-Type: text/event-stream; charset=utf-8
--- sse
is MoaTest::sse_data(\@e), 'abc', 'the content';
is $e[-1], '[DONE]', 'ends with [DONE]';
--- no_error_log
[alert]
[crit]
[error]
failed



=== TEST 21: the same with Content-Type: text/plain
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-x gpt-4o;
    }
--- mock eval
my $ev = '{"id":"x","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"abc"},"finish_reason":null}]}';
'{"synthesis": {"content_type": "text/plain", "body": '
. '"' . MoaTest::json_escape("data: $ev\n\ndata: [DONE]\n\n") . '"'
. '}}'
--- request eval
"POST /v1/chat/completions\n{\"model\":\"moa-x\",\"stream\":true,$main::Msg}"
--- error_code: 200
--- sse
is MoaTest::sse_data(\@e), 'abc', 'the content';
is $e[-1], '[DONE]', 'ends with [DONE]';
--- no_error_log
[alert]
[crit]
[error]
failed



=== TEST 22: the same, its first bytes split after "da", blank lines first
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-x gpt-4o;
    }
--- upstream_config
    location = /_moa_upstream {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAW_PORT/v1/chat/completions;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering off;
        proxy_set_header X-Raw split-$moa_stage;
    }
--- request eval
"POST /v1/chat/completions\n{\"model\":\"moa-x\",\"stream\":true,$main::Msg}"
--- error_code: 200
--- response_headers
Content-Type: text/event-stream; charset=utf-8
--- sse
is MoaTest::sse_data(\@e), 'one two', 'the content';
is $e[-1], '[DONE]', 'ends with [DONE]';
is $e[0]{model}, 'moa-x', 'rewritten as the stream is';
--- no_error_log
[alert]
[crit]
[error]
[warn]



=== TEST 23: a streamed synthesis reset after two events: the client's stream ends at once with an error event
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-x gpt-4o;
    }
--- upstream_config
    location = /_moa_upstream {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAW_PORT/v1/chat/completions;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering off;
        proxy_set_header X-Raw mcut-$moa_stage;
    }
--- request
POST /v1/chat/completions
{bad
--- error_code: 400
--- check
my $req = qq~{"model":"moa-x","stream":true,$main::Msg}~;
my $res = main::raw_exchange(main::post11($req) =~ s/HTTP\/1.1/HTTP\/1.0/r, 5);
ok $res->{closed}, 'the response ended';
cmp_ok $res->{time}, '<', 1, sprintf 'within 1 s (%.2f s)', $res->{time};
my ($head, $rest) = split /\r\n\r\n/, $res->{raw}, 2;
my @e = MoaTest::sse_events($rest // '');
is MoaTest::sse_data(\@e), 'one two', 'the content before the cut';
my ($err) = grep { ref $_ && $_->{error} } @e;
like $err->{error}{message}, qr/cut short/, 'an error event';
is $e[-1], '[DONE]', 'ends with [DONE]';
--- no_error_log
[alert]
[crit]



=== TEST 24: X-Accel-Redirect ignored also when the call's phases were delayed (limit_req in the internal location)
--- http_config eval
MoaTest::http_config() . "    moa_metrics_zone moa_metrics 1m;\n"
. "    limit_req_zone \$server_name zone=calls:1m rate=2r/s;\n"
--- config
    location = /metrics {
        moa_metrics;
    }
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-x gpt-4o;
    }
--- upstream_config
    location = /_moa_upstream {
        internal;
        limit_req zone=calls burst=5;
        proxy_pass http://moa_mock/mock/chat;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering off;
        proxy_set_header X-Moa-Stage $moa_stage;
        proxy_set_header X-Moa-Call $moa_call;
    }
--- mock
{"passthrough": {"headers": {"X-Accel-Redirect": "/metrics"},
                 "content": "plain"}}
--- request eval
"POST /v1/chat/completions\n{\"model\":\"gpt-4o\",$main::Msg}"
--- error_code: 200
--- response_body_unlike: moa_requests
--- check
for my $n (2, 3) {
    my $res = MoaTest::http('POST', '/v1/chat/completions',
                            qq~{"model":"gpt-4o",$main::Msg}~);
    is $res->{status}, 200, "request $n: 200";
    unlike $res->{body}, qr/moa_requests/, "request $n: not the redirect target";
    like $res->{body}, qr/"plain"/, "request $n: the provider reply";
}
--- error_log
delaying request
--- no_error_log
[alert]
[crit]



=== TEST 25: a stream whose [DONE] and last chunk come together keeps its provider connection alive
--- http_config eval
MoaTest::http_config() . <<"_EOC_";
    upstream raw_ka {
        server 127.0.0.1:$ENV{TEST_NGINX_RAW_PORT};
        keepalive 4;
    }
_EOC_
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-x gpt-4o;
    }
--- upstream_config
    location = /_moa_upstream {
        internal;
        proxy_pass http://raw_ka/v1/chat/completions;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering off;
        proxy_set_header X-Raw ka-$moa_stage;
    }
--- request eval
"POST /v1/chat/completions\n{\"model\":\"moa-x\",\"stream\":true,$main::Msg}"
--- error_code: 200
--- sse
is MoaTest::sse_data(\@e), 'one two', 'the content';
is $e[-1], '[DONE]', 'ends with [DONE]';
--- check
my $res = MoaTest::http('POST', '/v1/chat/completions',
                        qq~{"model":"moa-x","stream":true,$main::Msg}~);
is $res->{status}, 200, 'the second request';
my @calls = grep { $_->[0] =~ /^ka-/ } $main::Raw->requests;
is scalar(@calls), 10, 'ten calls in all';
my %ports = map { $_->[2] => 1 } @calls;
is scalar(keys %ports), 3,
    'three connections: the synthesis one went back to the pool';
--- no_error_log
[alert]
[crit]
[error]



=== TEST 26: the same with proxy_buffering on
--- http_config eval
MoaTest::http_config() . <<"_EOC_";
    upstream raw_ka {
        server 127.0.0.1:$ENV{TEST_NGINX_RAW_PORT};
        keepalive 4;
    }
_EOC_
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-x gpt-4o;
    }
--- upstream_config
    location = /_moa_upstream {
        internal;
        proxy_pass http://raw_ka/v1/chat/completions;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering on;
        proxy_set_header X-Raw kab-$moa_stage;
    }
--- request eval
"POST /v1/chat/completions\n{\"model\":\"moa-x\",\"stream\":true,$main::Msg}"
--- error_code: 200
--- sse
is MoaTest::sse_data(\@e), 'one two', 'the content';
is $e[-1], '[DONE]', 'ends with [DONE]';
--- check
my $res = MoaTest::http('POST', '/v1/chat/completions',
                        qq~{"model":"moa-x","stream":true,$main::Msg}~);
is $res->{status}, 200, 'the second request';
my @calls = grep { $_->[0] =~ /^kab-/ } $main::Raw->requests;
is scalar(@calls), 10, 'ten calls in all';
my %ports = map { $_->[2] => 1 } @calls;
is scalar(keys %ports), 3,
    'three connections: the synthesis one went back to the pool';
--- no_error_log
[alert]
[crit]
[error]
