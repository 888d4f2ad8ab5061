# Stored responses kept in memcached (moa_responses_store pass=URI), for
# more than one node: Debian's memcached and two nginx sharing it, the
# one of the block and one this file starts itself (its own prefix and
# port, the same module, libnginx-mod-http-memc).  A response stored
# through one continues through the other; with memcached stopped
# mid-run the answers still flow, the failures are logged and counted in
# the metrics, and a continuation gets a 503, never a wrong context.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use IO::Socket::INET;
use POSIX ();

our ($Root, %Memc, $Second);

BEGIN {
    $Root = abs_path(dirname(__FILE__) . '/..');
    $ENV{TEST_NGINX_LOAD_MODULES} ||=
        '/usr/lib/nginx/modules/ngx_http_js_module.so '
        . "$Root/build/ngx_http_moa_module.so";

    # Debian's libnginx-mod-http-memc, besides the modules of every test
    my $memc = '/usr/lib/nginx/modules/ngx_http_memc_module.so';
    $ENV{TEST_NGINX_LOAD_MODULES} .= " $memc"
        unless index($ENV{TEST_NGINX_LOAD_MODULES}, $memc) >= 0;
}

use lib 't/lib';
use MoaTest;
use Test::Nginx::Socket 'no_plan';


sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "no free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

sub wait_port {
    my ($port, $up) = @_;
    for (1 .. 100) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Timeout => 1);
        return 1 if ($s ? 1 : 0) == $up;
        select undef, undef, undef, 0.05;
    }
    die "port $port did not go " . ($up ? 'up' : 'down') . "\n";
}

sub start_memcached {
    my $port = free_port();
    my $bin = '/usr/bin/memcached';
    die "$bin is missing: make deps-test installs memcached\n" unless -x $bin;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec { $bin } $bin, '-l', '127.0.0.1', '-p', $port, '-U', '0',
             '-m', '16', '-t', '1', ($< == 0 ? ('-u', 'nobody') : ())
            or POSIX::_exit(127);
    }
    $Memc{$port} = $pid;
    wait_port($port, 1);
    return $port;
}

# the memcached of that port (the first one's by default)
sub stop_memcached {
    my ($port) = @_;
    $port //= $ENV{TEST_NGINX_MEMC_PORT};
    my $pid = delete $Memc{$port} or return;
    kill 'TERM', $pid;
    waitpid $pid, 0;
}

# the memcached upstream and the store's internal location, as README.md
# shows them; the same in both nginx
sub store_locations {
    return <<'_EOC_';
    location = /_moa_store {
        internal;
        set $key $arg_key;
        set $memc_key $key;
        set $memc_cmd $arg_cmd;
        set $memc_exptime $arg_exptime;
        set $memc_flags 0;
        memc_connect_timeout 1s;
        memc_send_timeout 1s;
        memc_read_timeout 1s;
        memc_pass moa_memcached;
    }
_EOC_
}

sub responses_location {
    return <<'_EOC_';
    location /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_proposers 1;
        moa_critique off;
        moa_responses_owner $http_x_user;
    }
_EOC_
}

sub store_http_config {
    my ($memc, $ttl) = @_;
    $ttl //= '1h';
    return <<"_EOC_";
    moa_responses_store pass=/_moa_store ttl=$ttl;
    upstream moa_memcached {
        hash \$key consistent;
        server 127.0.0.1:$memc;
        keepalive 4;
    }
_EOC_
}

# the second nginx: its own prefix and port; its provider is the mock in
# the block's nginx
sub start_second {
    my ($memc) = @_;
    my $port = free_port();
    my $prefix = "$Root/t/servroot_second_$$";
    remove_tree($prefix);
    make_path("$prefix/logs", "$prefix/conf");
    my $mods = join '', map { "load_module $_;\n" }
               split ' ', $ENV{TEST_NGINX_LOAD_MODULES};
    my $a_port = Test::Nginx::Util::server_port();
    my $http = store_http_config($memc);
    my $locs = responses_location() . store_locations();
    open my $fh, '>', "$prefix/conf/nginx.conf" or die "$!";
    print $fh <<"_EOC_";
$mods
daemon on;
master_process off;
pid logs/nginx.pid;
error_log logs/error.log info;
events { worker_connections 64; }
http {
    access_log off;
$http
    upstream moa_mock { server 127.0.0.1:$a_port; }
    server {
        listen 127.0.0.1:$port;
$locs
        location = /_moa_upstream {
            internal;
            proxy_pass http://moa_mock/mock/chat;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_set_header X-Moa-Stage \$moa_stage;
            proxy_set_header X-Moa-Call \$moa_call;
        }
    }
}
_EOC_
    close $fh;
    my $bin = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
    system($bin, '-p', "$prefix/", '-c', 'conf/nginx.conf') == 0
        or die "the second nginx did not start: $?\n";
    wait_port($port, 1);
    $Second = { port => $port, prefix => $prefix };
    return $Second;
}

sub stop_second {
    return unless $Second;
    if (open my $fh, '<', "$Second->{prefix}/logs/nginx.pid") {
        my $pid = <$fh>;
        chomp $pid;
        kill 'QUIT', $pid if $pid;
        for (1 .. 100) {
            last unless kill 0, $pid;
            select undef, undef, undef, 0.05;
        }
    }
    remove_tree($Second->{prefix}) unless $ENV{TEST_NGINX_NO_CLEAN};
    undef $Second;
}

END { stop_second(); stop_memcached($_) for keys %Memc; }

# one request to port (the block's nginx when undef)
sub req {
    my ($port, $method, $path, $body, %h) = @_;
    my $s = IO::Socket::INET->new(
        PeerAddr => '127.0.0.1',
        PeerPort => $port // Test::Nginx::Util::server_port_for_client(),
        Timeout => 10) or die "connect: $!";
    my $text = "$method $path HTTP/1.0\r\nHost: localhost\r\n";
    $text .= "$_: $h{$_}\r\n" for sort keys %h;
    $text .= "Content-Type: application/json\r\nContent-Length: "
             . length($body) . "\r\n" if defined $body;
    print $s $text . "\r\n" . ($body // '');
    local $/;
    my $raw = <$s>;
    my ($head, $rbody) = split /\r\n\r\n/, $raw // '', 2;
    my ($status) = ($head // '') =~ m{^HTTP/\d\.\d (\d{3})};
    return { status => $status // 0, body => $rbody // '',
             json => scalar eval { MoaTest::decode_json($rbody) } };
}

sub provider_bodies {
    my $path = Test::Nginx::Util::server_root() . '/logs/error.log';
    open my $fh, '<', $path or die "$path: $!";
    return map { /mock: stage=synthesis call=\d+ .* body=(.*?)(?:, client:|$)/
                 ? $1 : () } <$fh>;
}

sub log_lines {
    my ($re, $path) = @_;
    $path //= Test::Nginx::Util::server_root() . '/logs/error.log';
    open my $fh, '<', $path or die "$path: $!";
    return grep { /$re/ } <$fh>;
}

$ENV{TEST_NGINX_MEMC_PORT} = start_memcached();
$ENV{TEST_NGINX_MEMC_PORT_2} = start_memcached();   # TEST 1 stops the first

# a "memcached" that takes connections and never answers: a slow store
our $Silent = IO::Socket::INET->new(Listen => 16, LocalAddr => '127.0.0.1',
                                    LocalPort => 0, ReuseAddr => 1)
    or die "listen: $!";
$ENV{TEST_NGINX_SILENT_PORT} = $Silent->sockport;

moa_setup();
no_long_string();
run_tests();

__DATA__

=== TEST 1: two nginx share memcached: stored through one, continued, read and deleted through the other; memcached stopped mid-run
--- http_config eval
MoaTest::http_config() . main::store_http_config($ENV{TEST_NGINX_MEMC_PORT})
. "    moa_metrics_zone moa_metrics 1m;\n"
--- config eval
main::responses_location() . main::store_locations()
. "    location = /metrics { moa_metrics; }\n"
--- mock
{"synthesis": {"content": "ANSWER-{stage}"}}
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","instructions":"PIRATE","input":"FIRST-TURN"}
--- more_headers
Content-Type: application/json
X-User: alice
--- error_code: 200
--- check
my $first = MoaTest::decode_json($body)->{id};
like $first, qr/^resp_/, 'stored through the first nginx';

my $b = main::start_second($ENV{TEST_NGINX_MEMC_PORT});

my $r = main::req($b->{port}, 'POST', '/v1/responses',
                  qq{{"model":"moa-gpt-4o-v1","input":"SECOND-TURN",
                      "previous_response_id":"$first"}}, 'X-User' => 'alice');
is $r->{status}, 200, 'continued through the second nginx';
my $last = (main::provider_bodies())[-1];
like $last, qr/FIRST-TURN.*ANSWER-synthesis.*SECOND-TURN/s,
     'the provider got the first turn, its answer, the second turn';
unlike $last, qr/PIRATE/, 'not the first turn\'s instructions';
my $second = $r->{json}{id};

$r = main::req(undef, 'GET', "/v1/responses/$second", undef,
               'X-User' => 'alice');
is $r->{status}, 200, 'stored through the second, read through the first';
is $r->{json}{previous_response_id}, $first, 'the right one';

$r = main::req(undef, 'GET', "/v1/responses/$second/input_items?order=asc",
               undef, 'X-User' => 'alice');
my @text = map { $_->{content}[0]{text} } @{ $r->{json}{data} };
is "@text", 'FIRST-TURN ANSWER-synthesis SECOND-TURN', 'its input items';

$r = main::req($b->{port}, 'GET', "/v1/responses/$first", undef,
               'X-User' => 'bob');
is $r->{status}, 404, 'another owner: 404';
$r = main::req($b->{port}, 'DELETE', "/v1/responses/$first", undef,
               'X-User' => 'bob');
is $r->{status}, 404, 'another owner cannot delete it';
$r = main::req($b->{port}, 'DELETE', "/v1/responses/$first", undef,
               'X-User' => 'alice');
is $r->{status}, 200, 'deleted through the second';
ok $r->{json}{deleted}, 'deleted: true';
$r = main::req(undef, 'GET', "/v1/responses/$first", undef,
               'X-User' => 'alice');
is $r->{status}, 404, 'gone for the first';
$r = main::req(undef, 'POST', '/v1/responses',
               qq{{"model":"moa-gpt-4o-v1","input":"x",
                   "previous_response_id":"$first"}}, 'X-User' => 'alice');
is $r->{status}, 404, 'a continuation from it: 404';
is $r->{json}{error}{param}, 'previous_response_id', 'param';

$r = main::req(undef, 'POST', '/v1/responses',
               q{{"model":"moa-gpt-4o-v1","input":"NOT-KEPT","store":false}},
               'X-User' => 'alice');
is main::req(undef, 'GET', "/v1/responses/$r->{json}{id}", undef,
             'X-User' => 'alice')->{status}, 404, 'store false: not kept';

# a stream is kept before response.completed goes out
$r = main::req(undef, 'POST', '/v1/responses',
               q{{"model":"moa-gpt-4o-v1","input":"STREAMED-KEPT",
                  "stream":true}}, 'X-User' => 'alice');
my ($done) = grep { ($_->{type} // '') eq 'response.completed' }
             MoaTest::sse_events($r->{body});
ok $done, 'a stream completed';
$r = main::req($b->{port}, 'GET', "/v1/responses/$done->{response}{id}",
               undef, 'X-User' => 'alice');
is $r->{status}, 200, 'the streamed response read through the second';
is_deeply $r->{json}, $done->{response}, 'as response.completed had it';

my ($m) = MoaTest::scrape();
is MoaTest::metric($m, 'moa_responses_store_operations_total',
                   op => 'save', result => 'ok'), 2,
   'two saves by the first nginx (the second saved its own)';
is MoaTest::metric($m, 'moa_responses_store_operations_total',
                   op => 'save', result => 'error'), 0, 'no failed save';

# memcached goes away: answers still flow, unstored, counted

main::stop_memcached();

$r = main::req(undef, 'POST', '/v1/responses',
               q{{"model":"moa-gpt-4o-v1","input":"WHILE-DOWN"}},
               'X-User' => 'alice');
is $r->{status}, 200, 'answered with memcached down';
is $r->{json}{output}[0]{content}[0]{text}, 'ANSWER-synthesis', 'the answer';

$r = main::req(undef, 'POST', '/v1/responses',
               q{{"model":"moa-gpt-4o-v1","input":"STREAMED","stream":true}},
               'X-User' => 'alice');
is $r->{status}, 200, 'a stream with memcached down';
like $r->{body}, qr/event: response.completed/, 'completed';

my $calls = () = main::provider_bodies();
$r = main::req(undef, 'POST', '/v1/responses',
               qq{{"model":"moa-gpt-4o-v1","input":"x",
                   "previous_response_id":"$second"}}, 'X-User' => 'alice');
is $r->{status}, 503, 'a continuation that cannot be read: 503';
is $r->{json}{error}{param}, 'previous_response_id', 'param';
is $r->{json}{error}{type}, 'server_error', 'type';
is scalar(() = main::provider_bodies()), $calls, 'no provider call';

$r = main::req(undef, 'GET', "/v1/responses/$second", undef,
               'X-User' => 'alice');
is $r->{status}, 503, 'GET: 503';

($m) = MoaTest::scrape();
is MoaTest::metric($m, 'moa_responses_store_operations_total',
                   op => 'save', result => 'error'), 2,
   'the two failed saves counted';
is MoaTest::metric($m, 'moa_responses_store_operations_total',
                   op => 'load', result => 'error'), 2,
   'the two failed loads counted';
ok scalar(main::log_lines(qr/\[error\].*moa store: save "resp_\w+" failed/)),
   'a failed save is logged';

main::stop_second();
--- no_error_log
[alert]
[crit]



=== TEST 2: a store too slow to answer: the answer still flows, the failure is logged and counted, a continuation gets 503
--- http_config eval
MoaTest::http_config() . main::store_http_config($ENV{TEST_NGINX_SILENT_PORT})
. "    moa_metrics_zone moa_metrics 1m;\n"
--- config eval
main::responses_location() . main::store_locations()
. "    location = /metrics { moa_metrics; }\n"
--- mock
{"synthesis": {"content": "ANSWER-{stage}"}}
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"SLOW-STORE"}
--- more_headers
Content-Type: application/json
X-User: alice
--- error_code: 200
--- check
my $res = MoaTest::decode_json($body);
is $res->{output}[0]{content}[0]{text}, 'ANSWER-synthesis',
   'answered though the store did not answer';
my $r = main::req(undef, 'POST', '/v1/responses',
                  qq{{"model":"moa-gpt-4o-v1","input":"x",
                      "previous_response_id":"$res->{id}"}},
                  'X-User' => 'alice');
is $r->{status}, 503, 'a continuation: 503';
like $r->{json}{error}{message}, qr/could not be reached/, 'says why';
my ($m) = MoaTest::scrape();
is MoaTest::metric($m, 'moa_responses_store_operations_total',
                   op => 'save', result => 'error'), 1, 'the save counted';
is MoaTest::metric($m, 'moa_responses_store_operations_total',
                   op => 'load', result => 'error'), 1, 'the load counted';
ok scalar(main::log_lines(qr/moa store: save "resp_\w+" failed: memcached timed out/)),
   'logged as a timeout';
--- no_error_log
[alert]
[crit]



=== TEST 3: the TTL is memcached's expiry: gone from memcached after it
--- http_config eval
MoaTest::http_config() . main::store_http_config($ENV{TEST_NGINX_MEMC_PORT_2}, '1s')
--- config eval
main::responses_location() . main::store_locations()
--- mock
{"synthesis": {"content": "ANSWER-{stage}"}}
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"SHORT-LIVED"}
--- more_headers
Content-Type: application/json
X-User: alice
--- error_code: 200
--- check
my $id = MoaTest::decode_json($body)->{id};
is main::req(undef, 'GET', "/v1/responses/$id", undef,
             'X-User' => 'alice')->{status}, 200, 'there at first';
select undef, undef, undef, 2.5;
is main::req(undef, 'GET', "/v1/responses/$id", undef,
             'X-User' => 'alice')->{status}, 404, 'expired after its TTL';
# memcached itself no longer has the key
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                              PeerPort => $ENV{TEST_NGINX_MEMC_PORT_2})
    or die "memcached: $!";
print $s "get $id\r\n";
my $line = <$s>;
is $line, "END\r\n", 'memcached expired the item';
--- no_error_log
[alert]
[crit]
