# Unit tests of the pure code (t/unit/*.c) and the fuzz targets replaying
# their seed corpus and every input that once crashed them
# (fuzz/regressions/), all built with ASan and UBSan by "make -s unit".
# Each binary's TAP is passed through as a subtest; a failed assertion, a
# non-zero exit or any sanitizer report fails it.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(basename dirname);
use File::Temp qw(tempfile);
use Test::More;

my $root = abs_path(dirname(__FILE__) . '/..');
my $dir = "$root/build/unit";

# abort on the first report; leaks are reports too
$ENV{ASAN_OPTIONS} = join ':', 'detect_leaks=1', 'abort_on_error=0',
    'halt_on_error=1', 'exitcode=99', $ENV{ASAN_OPTIONS} // ();
$ENV{UBSAN_OPTIONS} = join ':', 'print_stacktrace=1', 'halt_on_error=1',
    $ENV{UBSAN_OPTIONS} // ();

my $out = `make -s -C '$root' unit 2>&1`;
if ($? != 0) {
    fail('make unit');
    diag($out);
    done_testing();
    exit;
}
pass('make unit');

my @tests = sort grep { -x } glob "$dir/test_*";
ok(@tests >= 1, 'unit test binaries built') or diag("none in $dir");

for my $bin (@tests) {
    subtest basename($bin) => sub { run_tap($bin) };
}

# every fuzz target replays its committed seeds and regressions
for my $bin (sort grep { -x } glob "$dir/replay_*") {
    (my $target = basename($bin)) =~ s/^replay_//;
    # a target built with the portable JSON scan replays the same inputs
    (my $seeds = $target) =~ s/_portable$//;
    my @dirs = grep { -d } map { "$root/fuzz/$_/$seeds" }
        qw(corpus regressions);
    subtest "fuzz target $target: seeds and regressions" => sub {
        run_tap($bin, @dirs);
    };
}

done_testing();


# runs a TAP-producing binary and re-emits each of its assertions
sub run_tap {
    my ($bin, @args) = @_;

    my ($efh, $errfile) = tempfile(UNLINK => 1);
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>&', $efh or die "stderr: $!";
        exec $bin, @args or die "exec $bin: $!";
    }

    my ($plan, $count, $failed_last) = (undef, 0, 0);
    while (my $line = <$fh>) {
        chomp $line;
        if ($line =~ /^(not )?ok\b\s*\d*\s*(?:-\s*)?(.*)$/) {
            $count++;
            $failed_last = !ok(!defined $1, $2);
        } elsif ($line =~ /^1\.\.(\d+)/) {
            $plan = $1;
        } elsif ($line =~ /^#\s?(.*)$/) {
            $failed_last ? diag($1) : note($1);
        } elsif ($line =~ /\S/) {
            note($line);
        }
    }
    close $fh;
    my $status = $?;

    local $/;
    open my $err, '<', $errfile or die "$errfile: $!";
    my $stderr = <$err> // '';
    close $err;

    ok($status == 0, 'exit status 0')
        or diag(sprintf "%s exited with status %d, signal %d",
                        basename($bin), $status >> 8, $status & 127);
    ok($stderr !~ /Sanitizer|runtime error|LeakSanitizer/,
       'no sanitizer report')
        or diag($stderr);
    ok(defined $plan && $plan == $count, "plan ($count assertions)")
        or diag('plan ' . ($plan // 'missing') . ", ran $count");
    diag($stderr) if $status != 0 && $stderr =~ /\S/
        && $stderr !~ /Sanitizer|runtime error/;
}
