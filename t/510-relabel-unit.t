#!/usr/bin/perl

# Unit tests of moa-relabel's pure parts (tools/relabel/test_relabel.c, test_relabel_io.c and
# test_relabel_batch.c): builds build/test-relabel and
# build/test-relabel-batch with mk/relabel.mk, runs them and turns each
# line of their TAP into a test here.
#
# MOA_BUILD overrides the build directory (default <repo>/build).

use strict;
use warnings;

use Cwd qw(abs_path);
use FindBin;
use Test::More;

my $root = abs_path("$FindBin::Bin/..");
my $build = $ENV{MOA_BUILD} // "$root/build";

# the online mode's pure parts, and --batch's (test_relabel_batch.c)
for my $name ('test-relabel', 'test-relabel-batch') {
    my $bin = "$build/$name";

    my $log = `make -s -f '$root/mk/relabel.mk' ROOT='$root' \\
               BUILD='$build' '$bin' 2>&1`;
    is($?, 0, "build $name") or do { diag($log); next };

    my @tap = `'$bin'`;
    my $status = $? >> 8;
    my ($plan, $seen) = (undef, 0);

    for (@tap) {
        chomp;

        if (/^(not )?ok (\d+) - (.*)$/) {
            $seen++;
            ok(!defined $1, "$name $2: $3");

        } elsif (/^1\.\.(\d+)$/) {
            $plan = $1;

        } elsif (/^#/) {
            diag($_);
        }
    }

    ok($seen > 0, "$name ran tests");
    is($plan, $seen, "$name ran all $seen of its planned tests");
    is($status, 0, "$name exit status");
}

done_testing();
