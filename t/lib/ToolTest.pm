package ToolTest;

# What the end-to-end tests of the command line tools (t/520 moa-relabel,
# t/525 moa-relabel --batch, t/600 moa-eval) share: whole files in and
# out, and a free loopback port for the nginx each starts itself.

use strict;
use warnings;

use IO::Socket::INET;

use Exporter 'import';
our @EXPORT = qw(slurp spew free_port);

# the bytes of a file, or undef when it cannot be read
sub slurp {
    my ($path) = @_;
    open(my $fh, '<:raw', $path) or return undef;
    local $/;
    my $s = <$fh>;
    return $s;
}

# writes the bytes of a file, dies on an error
sub spew {
    my ($path, $s) = @_;
    open(my $fh, '>:raw', $path) or die "$path: $!";
    print $fh $s;
    close($fh) or die "$path: $!";
}

# a port nothing listens on now, on 127.0.0.1
sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, Proto => 'tcp')
        or die "no free port: $!";
    my $p = $s->sockport;
    close($s);
    return $p;
}

1;
