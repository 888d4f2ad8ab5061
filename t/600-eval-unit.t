#!/usr/bin/perl

# Unit tests of moa-eval's pure parts (tools/eval/test_eval.c):
# builds build/test-eval with mk/eval.mk, runs it and
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
my $bin = "$build/test-eval";

my $log = `make -s -f '$root/mk/eval.mk' ROOT='$root' \\
           BUILD='$build' '$bin' 2>&1`;
is($?, 0, 'build test-eval') or do { diag($log); done_testing(); exit };

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

ok($seen > 0, "test-eval ran tests");
is($plan, $seen, "test-eval ran all $seen of its planned tests");
is($status, 0, 'test-eval exit status');

done_testing();
