package Test::Nginx::Socket;

# A small Test::Nginx::Socket-compatible runner for ngx_http_moa_module,
# used only when the real Test::Nginx (CPAN) is absent; see
# t/compat/README.md.  Same block format, sections, exported functions and
# test counts as the real one for everything it supports.
#
# This half builds the requests of a block, talks HTTP/1.x over a plain
# socket, parses the responses and runs the checks; Test::Nginx::Util starts
# nginx and runs the block loop.
#
# NB: "use Test::Base -Base" makes this package a Test::Base subclass (block
# parsing, filters, `use Test::Nginx::Socket 'no_plan'`, plan, blocks) and
# runs Spiffy's source filter on this file: it adds "my $self = shift;" to
# every "sub name {" without a prototype.  Every sub here has a prototype.

use Test::Base -Base;

use IO::Select ();
use IO::Socket::INET ();
use JSON::PP ();
use List::Util qw(min);
use POSIX qw(EAGAIN EINTR);
use Test::LongString ();
use Time::HiRes qw(sleep);

use Test::Nginx::Util;

our $VERSION = '0.33';

our @EXPORT = qw(
    env_to_nginx is_str plan run_tests run_test repeat_each config_preamble
    worker_connections master_process_enabled no_long_string workers
    master_on master_off log_level no_shuffle no_root_location server_name
    server_addr server_root html_dir server_port server_port_for_client
    timeout check_accum_error_log add_block_preprocessor bail_out
    add_test_cleanup_handler add_cleanup_handler add_response_body_check
);

our @ResponseBodyChecks;
our $TotalConnectingTimeouts = 0;

$Test::Nginx::Util::RunTestHelper = \&run_test_helper;

sub add_response_body_check ($) {
    push @ResponseBodyChecks, shift;
}

# ---------------------------------------------------------------------------
# building requests

# "--- more_headers" text -> ("Key: value\r\n"..., is_chunked)
sub parse_more_headers ($) {
    my $in = shift;
    my ($out, $is_chunked) = ('');
    for my $line (split /\n+/, $in) {
        next if $line =~ /^\s*#/;
        my ($key, $val) = split /:\s*/, $line, 2;
        $val //= '';
        $is_chunked = 1
            if lc($key) eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $is_chunked);
}

# "METHOD [URI [VERSION]]\n[body]" -> the bytes to send, as the real one
# builds them: default URI "/" and version HTTP/1.1, then Host and
# Connection (unless in more_headers), the more_headers, and a
# Content-Length for a body, which is then trimmed of surrounding
# whitespace (not for chunked bodies or an explicit Content-Length).
sub build_request ($$$$$) {
    my ($name, $more_headers, $is_chunked, $conn, $text) = @_;

    my ($first, $body) = ($text // '') =~ /\A([^\n]*\n?)(.*)\z/s;
    bail_out("$name - Request line should be non-empty") if $first eq '';

    my ($meth, $uri, $ver) = $first =~ /^\s*(\S+) *(?:(\S+) *)?(?:(\S+) *)?\s*$/
        or bail_out("$name - Request line is not valid. Should be "
                    . "'meth [url [version]]' but got \"$first\".");
    $uri //= '/';
    $ver //= 'HTTP/1.1';

    my $len_header = '';
    if (!$is_chunked && $body ne ''
        && $more_headers !~ /(?:^|\n)Content-Length:/)
    {
        $body =~ s/^\s+|\s+$//gs;
        $len_header = "Content-Length: " . length($body) . "\r\n";
    }

    $more_headers =~ s/(?<!\r)\n/\r\n/gs;

    my $headers = '';
    $headers .= "Host: " . server_name() . "\r\n"
        if $more_headers !~ /(?:^|\n)Host:/msi;
    $headers .= "Connection: $conn\r\n"
        if $more_headers !~ /(?:^|\n)Connection/msi;

    return "$meth $uri $ver\r\n$headers$more_headers$len_header\r\n$body";
}

# The requests of a block: a list of connections, each a list of packets
# ({ value => bytes, delay_before => secs }) sent in order on it.
sub get_req_from_block ($) {
    my $block = shift;
    my $name = $block->name;

    if (defined $block->raw_request) {
        my $raw = $block->raw_request;
        my @packets = ref $raw eq 'ARRAY' ? @$raw : ($raw);
        return [[ map { { value => $_ } } @packets ]];
    }

    my $request;
    if (defined $block->request_eval) {
        Test::More::diag("$name - request_eval DEPRECATED. "
                         . "Use request eval instead.");
        $request = eval $block->request_eval;
        warn $@ if $@;
    } else {
        $request = $block->request;
        if (defined $request && !ref $request) {
            # leading blank and "# comment" lines are not part of it
            1 while $request =~ s/^\s*\#[^\n]+\s+|^\s+//gs;
        }
    }

    my $more_headers = $block->more_headers || '';
    my $headers_for = sub {     # more_headers for the i-th request
        my $i = shift;
        return parse_more_headers($more_headers)
            if ref $more_headers ne 'ARRAY';
        my $h = $more_headers->[$i]
            // bail_out("$name - --- more_headers lacks data for request $i");
        return parse_more_headers($h);
    };

    # several requests on one keep-alive connection, sent at once
    if (my $reqs = $block->pipelined_requests) {
        bail_out("$name - invalid entries in --- pipelined_requests")
            if ref $reqs ne 'ARRAY';
        my $all = '';
        for my $i (0 .. $#$reqs) {
            my $text = expand_env_in_text($reqs->[$i], $name,
                                          $Test::Nginx::Util::RandPorts);
            my ($hdr, $chunked) = $headers_for->($i);
            $all .= build_request($name, $hdr, $chunked,
                                  $i == $#$reqs ? 'close' : 'keep-alive',
                                  $text);
        }
        return [[ { value => $all } ]];
    }

    bail_out("$name - request empty") if !defined $request;

    if (!ref $request) {
        my ($hdr, $chunked) = $headers_for->(0);
        return [[ { value => build_request($name, $hdr, $chunked, 'close',
                                           $request) } ]];
    }

    # several requests, each on its own connection
    if (ref $request eq 'ARRAY') {
        my @conns;
        for my $i (0 .. $#$request) {
            bail_out("$name - requests given as arrays of packets are not "
                     . "supported by the compat runner (use raw_request)")
                if ref $request->[$i];
            my ($hdr, $chunked) = $headers_for->($i);
            push @conns, [ { value => build_request($name, $hdr, $chunked,
                                                    'close',
                                                    $request->[$i]) } ];
        }
        return \@conns;
    }

    bail_out("$name - invalid --- request: MUST be string or array of "
             . "requests");
}

# ---------------------------------------------------------------------------
# the HTTP client

sub connect_to_server ($$) {
    my ($block, $timeout) = @_;
    my $name = $block->name;
    my $addr = $block->server_addr_for_client // server_addr();
    my $port = server_port_for_client();
    my $sleep = sleep_time();
    my $err;

    for my $try (1 .. 20) {
        my $sock = IO::Socket::INET->new(PeerAddr => $addr,
                                         PeerPort => $port,
                                         Proto    => 'tcp',
                                         Timeout  => $timeout);
        return $sock if $sock;
        $err = $!;
        my $wait = min(1, ($sleep + $sleep * $try) * $try / 2);
        warn "$name - Can't connect to $addr:$port: $err; retrying\n"
            if $wait >= 0.6;
        sleep $wait;
    }

    my $msg = "$name - Can't connect to $addr:$port: $err (aborted)\n";
    bail_out($msg) if ++$TotalConnectingTimeouts >= 3;
    fail($msg);
    return undef;
}

# Send the packets of one connection and read until the server closes it.
# The timeout is an inactivity timeout, as in the real one: when nothing
# can be read or written for that long the client gives up, which fails
# the test unless the block has --- abort.
sub send_request ($$$$) {
    my ($req, $middle_delay, $timeout, $block) = @_;
    my $name = $block->name;
    my @packets = @$req;
    my $head_req = (join '', map { $_->{value} } @packets) =~ /^\s*HEAD\s+/
                   ? 1 : 0;

    my $sock = connect_to_server($block, $timeout)
        or return (undef, $head_req);
    $sock->blocking(0);
    local $SIG{PIPE} = 'IGNORE';    # nginx may close while we still write

    my $resp = '';
    my $wbuf = (shift @packets)->{value};
    my $woff = 0;

    while (1) {
        my $rsel = IO::Select->new($sock);
        my $wsel = IO::Select->new(defined $wbuf ? ($sock) : ());
        $! = 0;
        my ($readable, $writable) = IO::Select->select($rsel, $wsel, undef,
                                                       $timeout);
        if (!$readable && !$writable) {
            next if $! == EINTR;
            if (!defined $block->abort) {
                fail("ERROR: client socket timed out - $name\n");
            } else {
                sleep 0.005;
            }
            last;
        }

        if (@{ $readable || [] }) {
            my $done;
            while (1) {                 # read all there is
                my $n = sysread($sock, my $buf, 65536);
                if (!defined $n) {
                    last if $! == EAGAIN || $! == EINTR;
                    warn "WARNING: $name - HTTP response read failure: $!\n";
                    $done = 1;
                    last;
                }
                if ($n == 0) {          # the server closed the connection
                    $done = 1;
                    last;
                }
                $resp .= $buf;
            }
            last if $done;
        }

        if (@{ $writable || [] } && defined $wbuf) {
            my $n = syswrite($sock, $wbuf, length($wbuf) - $woff, $woff);
            if (!defined $n) {
                next if $! == EAGAIN || $! == EINTR;
                warn "write failed: $!\n";
                $resp = "write failed: $!" if $resp eq '';
                last;
            }
            $woff += $n;
            next if $woff < length $wbuf;

            if (my $next = shift @packets) {
                my $delay = $next->{delay_before} // $middle_delay;
                sleep $delay if $delay;
                ($wbuf, $woff) = ($next->{value}, 0);
            } else {
                undef $wbuf;
                my $how = $block->shutdown;
                shutdown($sock, $how =~ /\S/ ? $how : 1) if defined $how;
            }
        }
    }

    close $sock;
    return ($resp, $head_req);
}

# ---------------------------------------------------------------------------
# parsing responses

# status line, headers and the rest, the way HTTP::Response->parse splits
# them; a response is { code, headers => [[name, value]...], content }
sub parse_http_message ($) {
    my $str = shift;

    my $status;
    if ($str =~ s/^(.*)\n//) {
        $status = $1;
    } else {
        ($status, $str) = ($str, '');
    }
    $status =~ s/\r\z//;
    my (undef, $code) = $status =~ /^\d{3} / ? (undef, split ' ', $status)
                                              : split ' ', $status;

    my @headers;
    while (1) {
        if ($str =~ s/^([^\s:]+)[ \t]*: ?(.*)\n?//) {
            push @headers, [$1, $2];
        } elsif (@headers && $str =~ s/^([ \t].*)\n?//) {
            $headers[-1][1] .= "\n$1";
        } else {
            $str =~ s/^\r?\n//;
            last;
        }
        $headers[-1][1] =~ s/\r\z//;
    }

    undef $code if defined $code && $code !~ /^\d+$/;
    return { code => $code, headers => \@headers, content => $str };
}

# a response header's value, several joined by ", "; names compare
# case-insensitively and with "_" as "-" (like HTTP::Headers)
sub resp_header ($$) {
    my ($res, $key) = @_;
    return undef if !$res;
    (my $want = lc $key) =~ tr/_/-/;
    my @vals;
    for my $h (@{ $res->{headers} }) {
        (my $have = lc $h->[0]) =~ tr/_/-/;
        push @vals, $h->[1] if $have eq $want;
    }
    return @vals ? join(', ', @vals) : undef;
}

# -> (decoded body, bytes after the last chunk) or (undef, undef, error)
sub decode_chunked ($) {
    my $raw = shift;
    my $decoded = '';
    pos($raw) = 0;

    while (1) {
        if ($raw =~ /\G0[ \t]*\r\n/gc) {
            1 while $raw =~ /\G[^\r\n]+\r\n/gc;     # trailer fields
            $raw =~ /\G\r\n/gc
                or return (undef, undef,
                           "invalid chunked data received (expected CRLF).");
            my $left = substr $raw, pos $raw;
            return ($decoded, length $left ? $left : undef);
        }

        if ($raw =~ /\G[ \t]*([A-Fa-f0-9]+)[ \t]*\r\n/gc) {
            my $size = hex $1;
            my $p = pos $raw;
            return (undef, undef, "invalid chunked data received "
                                  . "(not enough octets for the data section)")
                if length($raw) - $p < $size;
            $decoded .= substr $raw, $p, $size;
            pos($raw) = $p + $size;
            $raw =~ /\G\r\n/gc
                or return (undef, undef,
                           "invalid chunked data received (expected CRLF).");
            next;
        }

        return (undef, undef, "invalid chunked body received: "
                              . substr($raw, pos $raw))
            if pos($raw) < length $raw;
        return (undef, undef, "no last chunk found - $raw");
    }
}

# -> (response, raw header text, bytes after this response)
sub parse_response ($$$) {
    my ($name, $raw, $head_req) = @_;

    my $raw_headers = $raw =~ /(.*?\r\n)\r\n/s ? $1 : '';
    my $res = parse_http_message($raw);
    my $code = $res->{code};

    return ($res, $raw_headers) if $code && ($code == 304 || $code == 101);

    my $enc = resp_header($res, 'Transfer-Encoding');
    my $len = resp_header($res, 'Content-Length');
    my $left;

    if (defined $enc && $enc eq 'chunked') {
        my ($body, $rest, $err) = decode_chunked($res->{content});
        if (defined $err) {
            fail("$name - $err");
            return;
        }
        $res->{content} = $body;
        $left = $rest;

    } elsif (defined $len && $len =~ /^\d+$/) {
        my $got = length $res->{content};
        if ($got < $len) {
            warn "WARNING: $name - response body truncated: $len expected, "
                 . "but got $got\n" if !$head_req;
        } elsif ($got > $len) {
            $left = substr $res->{content}, $len;
            $res->{content} = substr $res->{content}, 0, $len;
        }
    }

    return ($res, $raw_headers, $left);
}

# ---------------------------------------------------------------------------
# running one block

sub run_test_helper ($$) {
    my ($block, $repeated_req_idx) = @_;
    my $name = $block->name;

    my $conns = get_req_from_block($block);
    bail_out("$name - request empty") if !@$conns;

    my $timeout = parse_time($block->timeout) // timeout();

    my ($res, $need_array);
    my $req_idx = 0;

    for my $conn (@$conns) {
        my ($raw_resp, $head_req) = send_request($conn,
                                      $block->raw_request_middle_delay,
                                      $timeout, $block);

        # responses still to parse from this connection (pipelining)
        my $n = 0;
        if ($block->pipelined_requests) {
            $n = @{ $block->pipelined_requests };
            $need_array = 1;
        } else {
            $need_array = @$conns > 1;
        }

        while (1) {
            $raw_resp //= '';
            my ($raw_headers, $left);

            if (!defined $block->ignore_response) {
                ($res, $raw_headers, $left) = parse_response($name, $raw_resp,
                                                             $head_req);
            }

            if ($n) {
                $raw_resp = $left;
                $n--;
            } elsif (defined $left) {
                (my $l = $left) =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}', ord $1)/eg;
                warn "WARNING: $name - unexpected extra bytes after last "
                     . "chunk in response: \"$l\"\n";
            }

            if (!defined $block->ignore_response) {
                check_error_code($block, $res, $req_idx, $need_array);
                check_raw_response_headers($block, $raw_headers, $req_idx,
                                           $need_array);
                check_response_headers($block, $res, $raw_headers, $req_idx,
                                       $need_array);
                check_response_body($block, $res, $req_idx,
                                    $repeated_req_idx, $need_array);
            }

            # the logs are checked after every response but the last one
            # here, and once more below (so N times for N requests)
            if ($n || $req_idx < @$conns - 1) {
                sleep $block->wait if $block->wait;
                check_error_log($block, $repeated_req_idx);
                check_access_log($block, $repeated_req_idx)
                    if !defined $block->ignore_response;
            }

            $req_idx++;
            last if !$n;
        }
    }

    sleep $block->wait if $block->wait;
    check_error_log($block, $repeated_req_idx);
    check_access_log($block, $repeated_req_idx)
        if !defined $block->ignore_response;
}

# ---------------------------------------------------------------------------
# checks

# the expected value for the req_idx-th response: sections must be arrays
# when a block sends several requests
sub get_indexed_value ($$$$) {
    my ($name, $value, $req_idx, $need_array) = @_;
    if ($need_array) {
        return $value->[$req_idx] if ref $value eq 'ARRAY';
        bail_out("$name - You asked for many requests, the expected results "
                 . "should be arrays as well.");
    }
    return ref $value eq 'ARRAY' ? $value->[0] : $value;
}

sub check_error_code ($$$$) {
    my ($block, $res, $req_idx, $need_array) = @_;
    my $name = $block->name;
    my $got = ($res && $res->{code}) || '';

    if (defined $block->error_code_like) {
        my $pat = get_indexed_value($name, $block->error_code_like, $req_idx,
                                    $need_array);
        like($got, qr/$pat/sm, "$name - status code ok");
    } elsif (defined $block->error_code) {
        is($got, get_indexed_value($name, $block->error_code, $req_idx,
                                   $need_array), "$name - status code ok");
    } else {
        is($got, 200, "$name - status code ok");
    }
}

sub check_raw_response_headers ($$$$) {
    my ($block, $raw_headers, $req_idx, $need_array) = @_;
    my $name = $block->name;

    if (defined $block->raw_response_headers_like) {
        my $pat = get_indexed_value($name, $block->raw_response_headers_like,
                                    $req_idx, $need_array);
        like($raw_headers, qr/$pat/s, "$name - raw resp headers like");
    }
    if (defined $block->raw_response_headers_unlike) {
        my $pat = get_indexed_value($name,
                                    $block->raw_response_headers_unlike,
                                    $req_idx, $need_array);
        unlike($raw_headers, qr/$pat/s, "$name - raw resp headers unlike");
    }
}

# one test per header line; "!Name" checks the header is absent;
# --- response_headers_like is ignored when --- response_headers is there
sub check_response_headers ($$$$$) {
    my ($block, $res, $raw_headers, $req_idx, $need_array) = @_;
    my $name = $block->name;

    if (defined $block->response_headers) {
        my $headers = parse_headers(get_indexed_value($name,
                          $block->response_headers, $req_idx, $need_array));
        for my $key (sort keys %$headers) {
            my $val = $headers->{$key};
            if (!defined $val) {
                unlike($raw_headers // '', qr/^\s*\Q$key\E\s*:/ms,
                       "$name - header $key not present in the raw headers");
                next;
            }
            $val =~ s/\$ServerPort\b/server_port()/ge;
            $val =~ s/\$ServerPortForClient\b/server_port_for_client()/ge;
            is(resp_header($res, $key) // '', $val, "$name - header $key ok");
        }

    } elsif (defined $block->response_headers_like) {
        my $headers = parse_headers(get_indexed_value($name,
                          $block->response_headers_like, $req_idx,
                          $need_array));
        for my $key (sort keys %$headers) {
            my $val = $headers->{$key} // '';
            like(resp_header($res, $key) // '', qr/^$val$/,
                 "$name - header $key like ok");
        }
    }
}

sub check_response_body ($$$$$) {
    my ($block, $res, $req_idx, $repeated_req_idx, $need_array) = @_;
    my $name = $block->name;
    my $content = $res ? $res->{content} : undef;
    my $which = "repeated req $repeated_req_idx, req $req_idx";

    if (defined $block->response_body || defined $block->response_body_eval) {
        if (defined $block->response_body_json_sort && defined $content) {
            # compare canonical JSON (sorted keys) plus a newline
            my $js = JSON::PP->new->canonical(1);
            my $obj = eval { $js->loose(1)->decode($content) };
            $content = $js->encode($obj) . "\n" if !$@;
        }

        my $expected;
        if ($block->response_body_eval) {
            Test::More::diag("$name - response_body_eval is DEPRECATED. "
                             . "Use response_body eval instead.");
            $expected = eval get_indexed_value($name,
                            $block->response_body_eval, $req_idx,
                            $need_array);
            warn $@ if $@;
        } else {
            $expected = get_indexed_value($name, $block->response_body,
                                          $req_idx, $need_array);
        }

        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/server_port()/ge;
            $expected =~ s/\$ServerPortForClient\b/server_port_for_client()/ge;
            $expected = expand_env_in_text($expected, $name,
                                           $Test::Nginx::Util::RandPorts);
        }

        if (ref $expected) {
            like($content, $expected, "$name - response_body - like ($which)");
        } elsif ($Test::Nginx::Util::NoLongString) {
            is($content, $expected,
               "$name - response_body - response is expected ($which)");
        } else {
            Test::LongString::is_string($content, $expected,
                "$name - response_body - response is expected ($which)");
        }

    } elsif (defined $block->response_body_like
             || defined $block->response_body_unlike)
    {
        my $type = defined $block->response_body_like ? 'like' : 'unlike';
        my $pat = get_indexed_value($name, $type eq 'like'
                                           ? $block->response_body_like
                                           : $block->response_body_unlike,
                                    $req_idx, $need_array);
        $pat =~ s/\$ServerPort\b/server_port()/ge;
        $pat =~ s/\$ServerPortForClient\b/server_port_for_client()/ge;
        my $desc = "$name - response_body_$type - response is expected ("
                   . (trim($content) // '') . ")";
        if ($type eq 'like') {
            like($content, qr/$pat/s, $desc);
        } else {
            unlike($content, qr/$pat/s, $desc);
        }
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $content, $req_idx, $repeated_req_idx, 0);
    }
}

# a section value -> a fresh list of patterns: text is one pattern per
# line, eval may give a qr// or an array of strings and qr//s
sub pattern_list ($) {
    my $pats = shift;
    if (!ref $pats) {
        chomp $pats;
        return [split /\n+/, $pats];
    }
    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats];
}

# strings match as substrings, qr// as regexes
sub line_matches ($$) {
    my ($line, $pat) = @_;
    return ref $pat ? $line =~ /$pat/ : index($line, $pat) >= 0;
}

sub value_contains ($$) {
    my ($val, $pat) = @_;
    return grep { !ref $_ || ref $_ eq 'Regexp' ? "$_" =~ /\Q$pat\E/ : 0 }
                (ref $val eq 'ARRAY' ? @$val : ($val));
}

sub fmt_str ($) {
    my $s = shift;
    chomp $s;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

# one test per pattern: passes when some line matches it
sub check_log_has ($$$$$) {
    my ($name, $pats, $lines, $file, $req) = @_;
    my @pats = @{ pattern_list($pats) };
    for my $line (@$lines) {
        for my $pat (@pats) {
            next if !defined $pat || !line_matches($line, $pat);
            pass("$name - pattern \"$pat\" matches a line in $file "
                 . "(req $req)");
            undef $pat;
        }
    }
    for my $pat (grep { defined } @pats) {
        fail("$name - pattern \"$pat\" should match a line in $file "
             . "(req $req)");
    }
}

# one test per pattern: passes when no line matches it
sub check_log_lacks ($$$$$) {
    my ($name, $pats, $lines, $file, $req) = @_;
    for my $pat (@{ pattern_list($pats) }) {
        my $p = fmt_str($pat);
        my @hits = grep { line_matches($lines->[$_], $pat) } 0 .. $#$lines;
        if (!@hits) {
            pass("$name - pattern \"$p\" does not match a line in $file "
                 . "(req $req)");
            next;
        }
        my $i = $hits[0];
        my $last = min($i + 10, $#$lines);
        fail("$name - pattern \"$p\" should not match any line in $file "
             . "but matches line \"" . fmt_str($lines->[$i]) . "\" (req "
             . "$req; " . scalar(@hits) . " matching lines)\n"
             . join '', @$lines[$i + 1 .. $last]);
    }
}

sub check_error_log ($$) {
    my ($block, $req) = @_;
    my $name = $block->name;
    my $lines;
    my %warn_on = map { $_ => 1 } qw(alert crit emerg);

    if (defined(my $grep = $block->grep_error_log)) {
        $grep = $grep->[$req] if ref $grep eq 'ARRAY';
        my $expected = $block->grep_error_log_out;
        bail_out("$name - No --- grep_error_log_out defined but "
                 . "--- grep_error_log is defined") if !defined $expected;
        $expected = $expected->[$req] if ref $expected eq 'ARRAY';
        $expected = expand_env_in_text($expected, $name,
                                       $Test::Nginx::Util::RandPorts);

        $lines ||= error_log_data();
        my $matched = '';
        for my $line (@$lines) {
            if (ref $grep ? $line =~ /$grep/ : $line =~ /\Q$grep\E/) {
                $matched .= "$&\n" if $& !~ /\n/;
            }
        }

        my $desc = "$name - grep_error_log_out (req $req)";
        if (ref $expected eq 'Regexp') {
            like($matched, $expected, $desc);
        } elsif ($Test::Nginx::Util::NoLongString) {
            is($matched, $expected, $desc);
        } else {
            Test::LongString::is_string($matched, $expected, $desc);
        }

    } elsif (defined $block->grep_error_log_out) {
        bail_out("$name - No --- grep_error_log defined but "
                 . "--- grep_error_log_out is defined");
    }

    for my $section (qw(error_log no_error_log)) {
        my $pats = $block->$section;
        next if !defined $pats;
        # a block that names a level itself gets no warnings for it
        for my $level (keys %warn_on) {
            delete $warn_on{$level} if value_contains($pats, "[$level");
        }
        $lines ||= error_log_data();
        if ($section eq 'error_log') {
            check_log_has($name, $pats, $lines, 'error.log', $req);
        } else {
            check_log_lacks($name, $pats, $lines, 'error.log', $req);
        }
    }

    $lines ||= error_log_data() if %warn_on;
    for my $line (@{ $lines || [] }) {
        if ($line =~ /\[(alert|crit|emerg)\]/ && $warn_on{$1}) {
            warn "WARNING: $name - " . fmt_str($line) . "\n";
        }
        if ($line =~ /\bAssertion .*?failed\b/) {
            chomp(my $l = $line);
            fail("$name - $l\n");
        }
    }
}

sub check_access_log ($$) {
    my ($block, $req) = @_;
    my $name = $block->name;
    my $lines;

    if (defined $block->access_log) {
        $lines ||= access_log_data();
        check_log_has($name, $block->access_log, $lines, 'access.log', $req);
    }
    if (defined $block->no_access_log) {
        $lines ||= access_log_data();
        check_log_lacks($name, $block->no_access_log, $lines, 'access.log',
                        $req);
    }
}

1;
