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
# can replace the upstream location with "--- upstream_config".
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
    }
_EOC_

        $block->set_value('config', ($block->config // '') . $upstream
                          . <<_EOC_);
    location /mock/ {
        client_body_buffer_size 16m;
        client_max_body_size 16m;
        postpone_output 0;
        set \$mock_scenario '$scenario';
        js_content mock.chat;
    }
_EOC_

        # "--- json" and "--- sse": Test::More code run on the decoded
        # reply, with $r (the JSON) or @e (the SSE events) and $body
        for my $section (qw(json sse)) {
            my $code = $block->$section;
            next unless defined $code;
            my $vars = $section eq 'json'
                       ? 'my $r = MoaTest::decode_json($body);'
                       : 'my @e = MoaTest::sse_events($body);';
            my $sub = eval "package main; sub { my (\$body, \$block) = \@_;"
                           . " $vars\n#line 1 \"$section\"\n$code\n}";
            die "bad --- $section in \"" . $block->name . "\": $@" if $@;
            $block->{moa_check} = $sub;
        }
    });

    Test::Nginx::Socket::add_response_body_check(sub {
        my ($block, $body, $req_idx, $repeated, $dry_run) = @_;
        my $check = $block->{moa_check};
        return if $dry_run || !$check;
        eval { $check->($body, $block); 1 }
            or Test::More::fail($block->name . " - checks ran: $@");
    });
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
