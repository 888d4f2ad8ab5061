package MoaTest;

# Shared set-up for the module's Test::Nginx files: module paths, the njs
# mock provider wired behind the MoA location, and JSON/SSE helpers.  Works
# with the real Test::Nginx (CPAN) and with the runner in t/compat.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use JSON::PP ();

our $Root;

BEGIN {
    $Root = abs_path(dirname(__FILE__) . '/../..');

    $ENV{TEST_NGINX_BINARY} ||= '/usr/sbin/nginx';
    $ENV{TEST_NGINX_LOAD_MODULES} ||=
        '/usr/lib/nginx/modules/ngx_http_js_module.so '
        . "$Root/build/ngx_http_moa_module.so";
    $ENV{TEST_NGINX_MOCK_JS} ||= "$Root/conf/mock-provider.js";
}

use Exporter 'import';
our @EXPORT = qw(moa_setup decode_json sse_events sse_data json_escape);

my $json = JSON::PP->new->utf8->canonical;

sub decode_json { $json->decode($_[0]) }

# every "data:" payload of an SSE body, JSON decoded ([DONE] kept as is)
sub sse_events {
    my ($body) = @_;
    my @events;
    for my $event (split /\r?\n\r?\n/, $body) {
        my @data = map { /^data: ?(.*)$/ ? $1 : () } split /\r?\n/, $event;
        next unless @data;
        my $data = join "\n", @data;
        push @events, $data eq '[DONE]' ? $data : $json->decode($data);
    }
    return @events;
}

# the concatenated content deltas of choice $i
sub sse_data {
    my ($events, $i) = @_;
    my $text = '';
    for my $e (@$events) {
        next unless ref $e;
        for my $c (@{ $e->{choices} || [] }) {
            next unless $c->{index} == ($i // 0);
            $text .= $c->{delta}{content} // '';
        }
    }
    return $text;
}

# POSTs body to path over HTTP/1.0 and returns [arrival time, line] for
# every non-empty line of the reply body, stamped as it is read
sub timed_events {
    my ($port, $path, $body) = @_;
    require IO::Socket::INET;
    require Time::HiRes;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => 10)
        or die "connect: $!";
    print $s "POST $path HTTP/1.0\r\nHost: localhost\r\n"
        . "Content-Type: application/json\r\nContent-Length: "
        . length($body) . "\r\n\r\n$body";
    my (@lines, $buf, $in_body);
    $buf = '';
    while (1) {
        my $n = sysread($s, my $chunk, 65536);
        last unless $n;
        my $t = Time::HiRes::time();
        $buf .= $chunk;
        while ($buf =~ s/^([^\n]*)\n//) {
            my $line = $1;
            $line =~ s/\r$//;
            if (!$in_body) {
                $in_body = 1 if $line eq '';
                next;
            }
            push @lines, [$t, $line] if length $line;
        }
    }
    close $s;
    return @lines;
}

# the lines of logs/$file (under the server root) that contain $marker,
# JSON decoded; waits a little for the access log to be written
sub captured {
    my ($marker, $file) = @_;
    my $path = Test::Nginx::Util::server_root() . '/logs/'
               . ($file // 'capture.jsonl');
    for (1 .. 20) {
        if (open my $fh, '<', $path) {
            my @found = map { $json->decode($_) } grep { index($_, $marker) >= 0 }
                        <$fh>;
            return @found if @found;
        }
        select undef, undef, undef, 0.1;
    }
    return;
}

# POSTs body to the chat endpoint over HTTP/2 (curl, prior knowledge):
# {head => the response header block, body => the body}
sub curl_h2 {
    my ($port, $body, @extra) = @_;
    open my $fh, '-|', 'curl', '-s', '-N', '-D', '-', '--http2-prior-knowledge',
        '-H', 'Content-Type: application/json', '--data-binary', $body, @extra,
        "http://127.0.0.1:$port/v1/chat/completions"
        or die "curl: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh;
    my ($head, $rest) = split /\r?\n\r?\n/, $out, 2;
    return {head => $head // '', body => $rest // ''};
}

sub json_escape {
    my $s = $json->encode([$_[0]]);
    $s =~ s/^\["//;
    $s =~ s/"\]$//;
    return $s;
}

# The default http_config, and the internal upstream location and the mock
# location appended to every block's config.  A block sets the mock's
# scenario with "--- mock", the MoA location itself in "--- config", and
# can replace the upstream location with "--- upstream_config".  A block
# without "--- config" reuses the previous block's nginx (and scenario).
sub moa_setup {
    Test::Nginx::Socket::add_block_preprocessor(sub {
        my $block = shift;

        if (!defined $block->http_config) {
            $block->set_value('http_config', http_config());
        }

        my $scenario = $block->mock // '';
        chomp $scenario;
        $scenario =~ s/\\/\\\\/g;     # nginx unescapes quoted strings
        $scenario =~ s/'/\\'/g;

        my $upstream = $block->upstream_config // <<'_EOC_';
    location = /_moa_upstream {
        internal;
        proxy_pass http://moa_mock/mock/chat;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering off;
        proxy_set_header X-Moa-Stage $moa_stage;
        proxy_set_header X-Moa-Call $moa_call;
        proxy_set_header X-Moa-Layer $moa_layer;
    }
_EOC_

        my $mock = <<_EOC_;
    location /mock/ {
        client_body_buffer_size 16m;
        client_max_body_size 16m;
        postpone_output 0;
        set \$mock_scenario '$scenario';
        js_content mock.chat;
    }
_EOC_

        # no "--- config": the previous block's nginx goes on, as is
        $block->set_value('config', $block->config . $upstream . $mock)
            if defined $block->config;

        # "--- json" and "--- sse": Test::More code run on the decoded
        # reply, with $r (the JSON) or @e (the SSE events) and $body;
        # "--- check": code run on the body of the block's last reply only
        for my $section (qw(json sse check)) {
            my $code = $block->$section;
            next unless defined $code;
            my $vars = $section eq 'json'
                       ? 'my $r = MoaTest::decode_json($body);'
                       : $section eq 'sse'
                       ? 'my @e = MoaTest::sse_events($body);'
                       : '';
            my $sub = eval "package main; sub { my (\$body, \$block) = \@_;"
                           . " $vars\n#line 1 \"$section\"\n$code\n}";
            die "bad --- $section in \"" . $block->name . "\": $@" if $@;
            $block->{$section eq 'check' ? 'moa_last_check' : 'moa_check'}
                = $sub;
        }
    });

    Test::Nginx::Socket::add_response_body_check(sub {
        my ($block, $body, $req_idx, $repeated, $dry_run) = @_;
        return if $dry_run;
        my $requests = $block->request;
        my $last = ref $requests eq 'ARRAY' ? $#$requests : 0;
        for my $check ($block->{moa_check},
                       $req_idx == $last ? $block->{moa_last_check} : ())
        {
            next unless $check;
            eval { $check->($body, $block); 1 }
                or Test::More::fail($block->name . " - checks ran: $@");
        }
    });
}


# --- raw HTTP/1.0 requests to the nginx under test, for checks that need
# more than the block's own requests (parallel clients, a reload)

sub _connect {
    require IO::Socket::INET;
    my $s = IO::Socket::INET->new(
        PeerAddr => '127.0.0.1',
        PeerPort => Test::Nginx::Util::server_port_for_client(),
        Timeout  => 10);
    die "connect: $!" unless $s;
    return $s;
}

sub _request_text {
    my ($method, $path, $body, $headers) = @_;
    my $text = "$method $path HTTP/1.0\r\nHost: localhost\r\n";
    $text .= "$_: $headers->{$_}\r\n" for sort keys %{ $headers // {} };
    if (defined $body) {
        $text .= "Content-Type: application/json\r\nContent-Length: "
                 . length($body) . "\r\n";
    }
    return $text . "\r\n" . ($body // '');
}

# "HTTP/1.1 200 OK\r\n..." -> { status, headers (lowercase names), body }
sub _parse_response {
    my ($raw) = @_;
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    my ($line, @lines) = split /\r\n/, $head // '';
    my %headers = map { /^([^:]+):\s*(.*)$/ ? (lc $1 => $2) : () } @lines;
    my ($status) = ($line // '') =~ m{^HTTP/\d\.\d (\d{3})};
    return { status => $status // 0, headers => \%headers,
             body => $body // '' };
}

# sends every request (a [method, path, body, {headers}] each) on its own
# connection at once, then reads them all: the replies in the same order
sub http_parallel {
    my @requests = @_;
    require IO::Select;
    require Time::HiRes;
    my @socks = map { _connect() } @requests;
    for my $i (0 .. $#requests) {
        my $s = $socks[$i];
        print $s _request_text(@{ $requests[$i] });
    }
    my %raw = map { $_ => '' } 0 .. $#socks;
    my %index = map { fileno($socks[$_]) => $_ } 0 .. $#socks;
    my $sel = IO::Select->new(@socks);
    my $deadline = Time::HiRes::time() + 20;
    while ($sel->count && Time::HiRes::time() < $deadline) {
        for my $s ($sel->can_read(1)) {
            my $n = sysread($s, my $chunk, 65536);
            if ($n) {
                $raw{ $index{ fileno $s } } .= $chunk;
                next;
            }
            $sel->remove($s);
            close $s;
        }
    }
    die "http_parallel: no reply within 20 s\n" if $sel->count;
    return map { _parse_response($raw{$_}) } 0 .. $#socks;
}

# one request on its own connection: { status, headers, body }
sub http {
    my ($method, $path, $body, $headers) = @_;
    return (http_parallel([$method, $path, $body, $headers]))[0];
}

# --- Prometheus text exposition

# sample lines -> { 'name{label=value,...}' => value }, labels sorted
sub metrics_parse {
    my ($text) = @_;
    my %m;
    for my $line (split /\n/, $text) {
        next if $line =~ /^#/ || $line !~ /\S/;
        $line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/
            or die "not a sample line: $line\n";
        my ($name, $labels, $value) = ($1, $2 // '', $3);
        my %l;
        while ($labels =~ /\G,?([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/gc) {
            my ($k, $v) = ($1, $2);
            $v =~ s/\\(.)/$1 eq 'n' ? "\n" : $1/ge;
            $l{$k} = $v;
        }
        die "bad labels: $line\n" if (pos($labels) // 0) != length $labels;
        $m{ metric_key($name, %l) } = $value;
    }
    return \%m;
}

sub metric_key {
    my ($name, %l) = @_;
    return $name . '{' . join(',', map { "$_=$l{$_}" } sort keys %l) . '}';
}

# the value of one sample (undef if absent) of parsed or raw metrics
sub metric {
    my ($m, $name, %labels) = @_;
    $m = metrics_parse($m) unless ref $m;
    return $m->{ metric_key($name, %labels) };
}

# GET path (default /metrics): [parsed metrics, reply]
sub scrape {
    my ($path) = @_;
    my $res = http('GET', $path // '/metrics');
    die "scrape: status $res->{status}\n" unless $res->{status} == 200;
    return (metrics_parse($res->{body}), $res);
}

# scrapes until $n requests in all are counted and none is in flight: a
# request is counted when nginx is done with it, which for a POST without
# keep-alive is after its lingering close, a little after the reply
sub scrape_settled {
    my ($n, $path) = @_;
    require Time::HiRes;
    my ($m, $res);
    for (1 .. 100) {
        ($m, $res) = scrape($path);
        my ($total, $busy) = (0, 0);
        for my $key (keys %$m) {
            $total += $m->{$key} if $key =~ /^moa_requests_total\{/;
            $busy += $m->{$key} if $key =~ /^moa_requests_in_flight\{/;
        }
        last if $total == $n && $busy == 0;
        Time::HiRes::sleep(0.05);
    }
    return ($m, $res);
}

# `promtool check metrics` on the text: (exit code, output)
sub promtool {
    my ($text) = @_;
    require File::Temp;
    my ($fh, $file) = File::Temp::tempfile();
    print $fh $text;
    close $fh;
    my $out = `promtool check metrics < $file 2>&1`;
    my $rc = $? == -1 ? -1 : $? >> 8;
    unlink $file;
    return ($rc, $out);
}

# --- the nginx master and its workers

sub master_pid {
    my $file = Test::Nginx::Util::server_root() . '/logs/nginx.pid';
    open my $in, '<', $file or die "$file: $!";
    my ($pid) = <$in> =~ /(\d+)/;
    return $pid;
}

# live (not zombie) children of a process
sub children {
    my ($ppid) = @_;
    my @pids;
    opendir my $dir, '/proc' or die "/proc: $!";
    for my $pid (grep { /^\d+$/ } readdir $dir) {
        open my $in, '<', "/proc/$pid/stat" or next;
        my $stat = <$in> // '';
        push @pids, $pid
            if $stat =~ /^\d+ \(.*\) ([A-Z]) (\d+) /s && $2 == $ppid
               && $1 ne 'Z' && $1 ne 'X';
    }
    return @pids;
}

# "nginx -s reload": HUP to the master, then waits until every worker of
# the previous configuration has exited and $workers new ones run; returns
# the pids of the old workers
sub reload {
    my ($workers) = @_;
    require Time::HiRes;
    my $master = master_pid();
    my @old = children($master);
    kill 'HUP', $master or die "kill HUP $master: $!";
    my %old = map { $_ => 1 } @old;
    for (1 .. 200) {
        Time::HiRes::sleep(0.05);
        my @now = children($master);
        return @old if !grep({ $old{$_} } @now)
                       && @now == ($workers // scalar @old);
    }
    die "reload: the old workers (@old) did not exit\n";
}

sub http_config {
    return <<"_EOC_";
    js_import mock from $ENV{TEST_NGINX_MOCK_JS};

    upstream moa_mock {
        server 127.0.0.1:\$TEST_NGINX_SERVER_PORT;
        keepalive 16;
    }
_EOC_
}

1;
