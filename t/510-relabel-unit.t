#!/usr/bin/perl

# Unit tests of moa-relabel's pure parts (tools/relabel/test_relabel.c):
# builds build/test-relabel with mk/relabel.mk, runs it and
# turns each line of its TAP into a test here.
#
# MOA_BUILD overrides the build directory (default <repo>/build).

use strict;
use warnings;

use Cwd qw(abs_path);
use FindBin;
use Test::More;

my $root = abs_path("$FindBin::Bin/..");
my $build = $ENV{MOA_BUILD} // "$root/build";
my $bin = "$build/test-relabel";

my $log = `make -s -f '$root/mk/relabel.mk' ROOT='$root' \\
           BUILD='$build' '$bin' 2>&1`;
is($?, 0, 'build test-relabel') or do { diag($log); done_testing(); exit };

my @tap = `'$bin'`;
my $status = $? >> 8;
my ($plan, $seen) = (undef, 0);

for (@tap) {
    chomp;

    if (/^(not )?ok (\d+) - (.*)$/) {
        $seen++;
        ok(!defined $1, "unit $2: $3");

    } elsif (/^1\.\.(\d+)$/) {
        $plan = $1;

    } elsif (/^#/) {
        diag($_);
    }
}

ok($seen > 0, "test-relabel ran tests");
is($plan, $seen, "test-relabel ran all $seen of its planned tests");
is($status, 0, 'test-relabel exit status');

done_testing();
