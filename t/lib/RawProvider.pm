package RawProvider;

# A provider that misbehaves on command, at the byte level, for what the
# njs mock cannot do: a reply cut by a reset or a close, a Content-Length
# that lies, a stream held open after [DONE].  It is a forked Perl server
# on a free loopback port; each request is answered by the script named
# by its X-Raw header (the test's upstream location sets it, e.g.
# `proxy_set_header X-Raw $moa_stage;`).  A script is a list of steps:
#
#   [send => BYTES]     write BYTES
#   [sleep => SECONDS]  wait
#   ['rst']             reset the connection (SO_LINGER 0, then close)
#   ['close']           close it normally
#   ['keep']            (last step only) wait for the next request on it
#
# After the last step the connection is closed, unless that step is keep.
# Each request is logged to the file log() names, one line "X-Raw value,
# body length, the client's port" (the port tells connections apart).  RawProvider::chunk(BYTES) is BYTES as one HTTP/1.1 chunk.
#
#   my $raw = RawProvider->start(cut => [[send => "HTTP/1.1 200 OK\r\n"], ['rst']]);
#   $ENV{TEST_NGINX_RAW_PORT} = $raw->port;   # before run_tests
#
# The server and the processes serving its connections are a process group
# of their own: stop() (also at the test's end) ends them all, a
# connection held open by a sleep step among them.

use strict;
use warnings;

use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_LINGER);
use File::Temp qw(tempfile);
use POSIX ();

sub start {
    my ($class, %scripts) = @_;

    my $listen = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 64,
        ReuseAddr => 1, Proto => 'tcp',
    ) or die "RawProvider: listen: $!\n";

    my (undef, $log) = tempfile('raw-provider-XXXXXX', TMPDIR => 1,
                                UNLINK => 1);
    my $self = bless { port => $listen->sockport, log => $log,
                       parent => $$ }, $class;

    my $pid = fork // die "RawProvider: fork: $!\n";
    if ($pid == 0) {
        setpgrp(0, 0);
        $SIG{CHLD} = 'IGNORE';
        # never outlive the test: an hour at most
        alarm 3600;
        while (my $c = $listen->accept) {
            my $child = fork;
            next if !defined $child;
            if ($child == 0) {
                $listen->close;
                serve($c, \%scripts, $log);
                POSIX::_exit(0);
            }
            $c->close;
        }
        POSIX::_exit(0);
    }

    $listen->close;
    $self->{pid} = $pid;
    return $self;
}

sub chunk { sprintf("%x\r\n", length $_[0]) . "$_[0]\r\n" }

sub port { $_[0]{port} }
sub log  { $_[0]{log} }

# the requests seen so far, as [name, body length, client port]
sub requests {
    my ($self) = @_;
    open my $fh, '<', $self->{log} or return ();
    return map { chomp; [split / /] } <$fh>;
}

sub stop {
    my ($self) = @_;
    return unless $self->{pid} && $$ == $self->{parent};
    # waitpid sets $?: at exit (DESTROY) that would become the test's own
    # exit status, the server's TERM read as 15 failures
    local $?;
    kill 'TERM', -$self->{pid};
    waitpid $self->{pid}, 0;
    delete $self->{pid};
}

sub DESTROY { $_[0]->stop }

sub serve {
    my ($c, $scripts, $log) = @_;

    binmode $c;
    $c->autoflush(1);

    # keep-alive: every request on the connection, until a step closes it
    while (1) {
        my $head = '';
        while ($head !~ /\r\n\r\n/) {
            my $n = sysread $c, $head, 4096, length $head;
            return if !$n;
        }
        my ($hdr, $rest) = split /\r\n\r\n/, $head, 2;
        my ($len) = $hdr =~ /^content-length:\s*(\d+)/mi;
        $len //= 0;
        while (length $rest < $len) {
            my $n = sysread $c, $rest, $len - length $rest, length $rest;
            return if !$n;
        }
        my ($name) = $hdr =~ /^x-raw:\s*(\S+)/mi;
        $name //= 'default';

        if (open my $fh, '>>', $log) {
            print $fh "$name $len " . $c->peerport . "\n";
            close $fh;
        }

        my $steps = $scripts->{$name} // $scripts->{default}
            // [[send => "HTTP/1.1 500 No Script\r\nContent-Length: 0\r\n\r\n"]];

        for my $step (@$steps) {
            my ($op, $arg) = @$step;
            if ($op eq 'send') {
                print {$c} $arg or return;
            } elsif ($op eq 'sleep') {
                select undef, undef, undef, $arg;
            } elsif ($op eq 'rst') {
                setsockopt $c, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0);
                close $c;
                return;
            } elsif ($op eq 'close') {
                close $c;
                return;
            } elsif ($op eq 'keep') {
                last;
            } else {
                die "RawProvider: unknown step $op\n";
            }
        }
        # a script ends the connection unless its last step is 'keep'
        return unless @$steps && $steps->[-1][0] eq 'keep';
    }
}

1;
