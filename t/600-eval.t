#!/usr/bin/perl

# moa-eval end to end, against an nginx it starts itself (plain perl, not
# Test::Nginx blocks): the module's MoA endpoint (moa-gpt-4o-v1 through the
# MoA chain, gpt-4o passed through) in front of conf/mock-judge.js, which
# also answers as the judge.  Every expected figure (win rate, weighted
# games, swap handling, bootstrap CI, length-controlled win rate, the
# per-category split) is computed here, in Perl, from the words the test
# puts in its prompts, with a second implementation of the method
# (xorshift128 draws, Newton's method for the logistic fit).
#
# Environment: TEST_NGINX_BINARY (default /usr/sbin/nginx),
# TEST_NGINX_LOAD_MODULES (modules to load; the njs module is added when
# it is not among them), MOA_BUILD (build directory), MOA_KEEP=1 keeps the
# temp dir.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Temp qw(tempdir);
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(WNOHANG);
use Test::More;
use ToolTest;
use Time::HiRes qw(sleep);

my $root = abs_path("$FindBin::Bin/..");
my $build = $ENV{MOA_BUILD} // "$root/build";
my $bin = "$build/moa-eval";
my $nginx_bin = $ENV{TEST_NGINX_BINARY} // '/usr/sbin/nginx';
my $js_module = '/usr/lib/nginx/modules/ngx_http_js_module.so';
my $json = JSON::PP->new->utf8->canonical;

my $log = `make -s -f '$root/mk/eval.mk' ROOT='$root' BUILD='$build' \\
           '$bin' 2>&1`;
is($?, 0, 'build moa-eval') or do { diag($log); done_testing(); exit };

my $dir = tempdir('moa-eval-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{MOA_KEEP});
diag("temp dir kept: $dir") if $ENV{MOA_KEEP};

my ($nginx_pid, $port);

$SIG{INT} = $SIG{TERM} = sub { exit 1 };

END {
    if ($nginx_pid) {
        kill 'TERM', $nginx_pid;
        waitpid($nginx_pid, 0);
    }
}


# ---------------------------------------------------------------- nginx

sub nginx_conf {
    my ($port) = @_;

    my @mods = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');
    push @mods, $js_module unless grep { /ngx_http_js_module/ } @mods;
    unless (grep { /ngx_http_moa_module/ } @mods) {
        push @mods, "$build/ngx_http_moa_module.so";
    }
    my $load = join '', map { "load_module $_;\n" } @mods;

    return <<"CONF";
$load
daemon off;
master_process off;
worker_processes 1;
error_log $dir/error.log info;
pid $dir/nginx.pid;

events {
    worker_connections 1024;
}

http {
    access_log off;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    client_body_buffer_size 1m;
    client_max_body_size 16m;

    js_import evalmock from $root/conf/mock-judge.js;
    js_import mock from $root/conf/mock-provider.js;

    server {
        listen 127.0.0.1:$port;
        set \$evalmock_state $dir/state;

        moa_model moa-gpt-4o-v1 gpt-4o;

        # the module: MoA for moa-gpt-4o-v1, passthrough for the others
        location = /v1/chat/completions {
            moa_pass /_provider;
        }

        location = /_provider {
            internal;
            proxy_pass http://127.0.0.1:$port/provider;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Moa-Stage \$moa_stage;
        }

        location = /provider {
            js_content evalmock.chat;
        }

        # the mock straight: the judge, and contenders without the module
        location = /direct/v1/chat/completions {
            js_content evalmock.chat;
        }

        # make run's offline demo provider behind the module
        location = /demo/v1/chat/completions {
            moa_pass /_demo;
        }

        location = /_demo {
            internal;
            proxy_pass http://127.0.0.1:$port/demo-provider;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Moa-Stage \$moa_stage;
            proxy_set_header X-Moa-Call \$moa_call;
        }

        location = /demo-provider {
            js_content mock.demo;
        }
    }
}
CONF
}

sub start_nginx {
    mkdir("$dir/state");

    for my $try (1 .. 5) {
        $port = free_port();
        spew("$dir/nginx.conf", nginx_conf($port));
        unlink("$dir/error.log");

        $nginx_pid = fork() // die "fork: $!";

        if ($nginx_pid == 0) {
            open(STDOUT, '>', '/dev/null');
            open(STDERR, '>>', "$dir/nginx.stderr");
            exec($nginx_bin, '-p', "$dir/", '-c', "$dir/nginx.conf",
                 '-e', "$dir/error.log") or POSIX::_exit(127);
        }

        for (1 .. 100) {
            my $c = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                          Proto => 'tcp');
            return 1 if $c && waitpid($nginx_pid, WNOHANG) == 0;
            last if waitpid($nginx_pid, WNOHANG) != 0;
            sleep(0.05);
        }

        kill 'TERM', $nginx_pid;
        waitpid($nginx_pid, 0);
        $nginx_pid = undef;
    }

    diag(slurp("$dir/error.log") // '', slurp("$dir/nginx.stderr") // '');
    return 0;
}

ok(start_nginx(), 'nginx with the module and the mock judge started')
    or do { done_testing(); exit };

my $moa_url = "http://127.0.0.1:$port/v1/chat/completions";
my $direct = "http://127.0.0.1:$port/direct/v1/chat/completions";


# ---------------------------------------------------------------- helpers

# runs moa-eval; (exit status, stdout, stderr)
sub run_eval {
    my (@args) = @_;
    my $out = "$dir/stdout";
    my $err = "$dir/stderr";

    system($bin, '--bootstrap', '1000', @args) if 0;
    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        open(STDOUT, '>', $out);
        open(STDERR, '>', $err);
        exec($bin, @args) or POSIX::_exit(127);
    }

    waitpid($pid, 0);

    return ($? >> 8, slurp($out) // '', slurp($err) // '');
}

# the mock's log lines from byte offset $from of error.log
sub mock_calls {
    my ($from) = @_;
    my $l = slurp("$dir/error.log") // '';
    my @calls;

    for (split /\n/, substr($l, $from // 0)) {
        if (/evalmock: answer who=(\S+) qid=(\S+) stage=(\S+)/) {
            push @calls, { kind => 'answer', who => $1, qid => $2,
                           stage => $3 };
        } elsif (/evalmock: judge qid=(\S+) a=(\S+) b=(\S+) reply=(\S+)/) {
            push @calls, { kind => 'judge', qid => $1, a => $2, b => $3,
                           reply => $4 };
        }
    }

    return @calls;
}

sub log_size { return -s "$dir/error.log" // 0 }

sub results {
    my ($path) = @_;
    my @r;

    for (split /\n/, slurp($path) // '') {
        push @r, eval { $json->decode($_) } // next;
    }

    return @r;
}

sub arena_line {
    my ($id, $cat, $text) = @_;
    return $json->encode({ question_id => $id, category => $cat,
                           turns => [{ content => $text }] }) . "\n";
}

# the figures of a report: win rate, CI, LC, categories, weighted games
sub figures {
    my ($out) = @_;
    my %f;
    my $pct = qr/\s*([\d.]+|n\/a)%?/;

    ($f{wr}, $f{lo}, $f{hi}) =
        $out =~ /^win rate\s+([\d.]+)%\s+\[\s*([\d.]+)%,\s*([\d.]+)%/m;
    ($f{lc}, $f{lc_lo}, $f{lc_hi}) =
        $out =~ /^length-controlled\s+([\d.]+)%\s+\[\s*([\d.]+)%,\s*([\d.]+)%/m;
    ($f{wins}, $f{ties}, $f{losses}) =
        $out =~ /model wins (\d+), ties (\d+), baseline wins (\d+)/;
    ($f{unparsed}) = $out =~ /(\d+) unparseable/;
    ($f{disagree}) = $out =~ /(\d+) prompts whose two games disagree/;
    ($f{judged}) = $out =~ /(\d+) judged/;

    while ($out =~ /^(\S+)\s+(\d+)\s+([\d.]+)%\s+\[\s*([\d.]+)%,\s*([\d.]+)%/mg) {
        $f{cat}{$1} = [$2, $3, $4, $5];
    }

    return \%f;
}


# ------------------------------------------------- the method, in Perl

# the markers the mock puts in an answer: 2 strong, 1 win, 0 none
sub marks {
    my ($words, $who) = @_;
    return 2 if $words =~ /(?:^|\s)strong=\Q$who\E(?:\s|$)/;
    return 1 if $words =~ /(?:^|\s)win=\Q$who\E(?:\s|$)/;
    return 0;
}

# the judge's verdict (A's side) for answers with marks a, b
sub verdict {
    my ($a, $b, $bias) = @_;
    return ($a == 2 && $b == 0) ? 2 : 1 if $a > $b;
    return ($b == 2 && $a == 0) ? -2 : -1 if $b > $a;
    return $bias ? 1 : 0;
}

# [outcome of game 0, of game 1], the model's side: game 0 shows the
# baseline as A
sub outcomes {
    my ($words, $model, $base) = @_;
    my ($m, $g) = (marks($words, $model), marks($words, $base));
    my $bias = $words =~ /(?:^|\s)bias(?:\s|$)/ ? 1 : 0;
    return [-verdict($g, $m, $bias), verdict($m, $g, $bias)];
}

sub answer_text {
    my ($words, $who, $qid) = @_;
    my $t = "Answer of $who to $qid.";
    my $m = marks($words, $who);
    $t .= ' MARK-STRONG' if $m == 2;
    $t .= ' MARK-WIN' if $m == 1;
    my ($n) = $words =~ /(?:^|\s)pad=\Q$who\E:(\d+)/;
    $t .= ' pad' x ($n // 0);
    return $t;
}

sub item {
    my ($outs) = @_;
    my ($s, $g) = (0, 0);
    for my $o (@$outs) {
        my $w = abs($o) == 2 ? 3 : 1;
        $g += $w;
        $s += $w * ($o > 0 ? 1 : $o == 0 ? 0.5 : 0);
    }
    return { score => $s, games => $g };
}

sub winrate {
    my ($items, $idx) = @_;
    my ($s, $g) = (0, 0);
    for my $i (@{ $idx // [0 .. $#$items] }) {
        $s += $items->[$i]{score};
        $g += $items->[$i]{games};
    }
    return $g ? $s / $g : 'nan';
}

sub tanh_ { my $x = shift; my $e = exp(2 * $x); return ($e - 1) / ($e + 1) }

sub set_x {
    my ($items, $diffs) = @_;
    my $n = @$diffs;
    my $mean = 0;
    $mean += $_ for @$diffs;
    $mean /= $n;
    my $ss = 0;
    $ss += ($_ - $mean) ** 2 for @$diffs;
    my $sd = $n > 1 ? sqrt($ss / ($n - 1)) : 0;
    $items->[$_]{x} = $sd > 0 ? tanh_($diffs->[$_] / $sd) : 0 for 0 .. $n - 1;
}

# logit p = b0 + b1 x, Newton's method from 0, as the README describes
sub lc_fit {
    my ($items, $idx) = @_;
    my ($b0, $b1) = (0, 0);

    for my $it (1 .. 100) {
        my ($g0, $g1, $h00, $h01, $h11) = (0) x 5;
        for my $i (@{ $idx // [0 .. $#$items] }) {
            my $t = $items->[$i];
            my $w = $t->{games};
            my $y = $t->{score} / $w;
            my $p = 1 / (1 + exp(-($b0 + $b1 * $t->{x})));
            $g0 += $w * ($y - $p);
            $g1 += $w * ($y - $p) * $t->{x};
            $h00 += $w * $p * (1 - $p);
            $h01 += $w * $p * (1 - $p) * $t->{x};
            $h11 += $w * $p * (1 - $p) * $t->{x} ** 2;
        }
        last if $h00 <= 0;
        my $det = $h00 * $h11 - $h01 ** 2;
        my ($d0, $d1);
        if (abs($det) <= 1e-12 * $h00 * ($h11 > 1 ? $h11 : 1)) {
            ($d0, $d1) = ($g0 / $h00, -$b1);
        } else {
            $d0 = ($h11 * $g0 - $h01 * $g1) / $det;
            $d1 = ($h00 * $g1 - $h01 * $g0) / $det;
        }
        $b0 += $d0;
        $b1 += $d1;
        if (abs($b0) > 40 || abs($b1) > 40) {
            $b0 = $b0 > 40 ? 40 : $b0 < -40 ? -40 : $b0;
            $b1 = $b1 > 40 ? 40 : $b1 < -40 ? -40 : $b1;
            last;
        }
        last if abs($d0) < 1e-10 && abs($d1) < 1e-10;
    }

    return 1 / (1 + exp(-$b0));
}

# xorshift128 seeded by a 32-bit LCG; draws index = u * n >> 32
sub rng {
    my ($seed) = @_;
    my ($s, @st) = ($seed);
    for (1 .. 4) {
        $s = ($s * 1664525 + 1013904223) % 4294967296;
        push @st, $s;
    }
    $st[0] = 1 unless grep { $_ } @st;
    return \@st;
}

sub rng_next {
    my ($st) = @_;
    my $t = ($st->[0] ^ ($st->[0] << 11)) & 0xffffffff;
    shift @$st;
    my $x = $st->[2];
    push @$st, ($x ^ ($x >> 19) ^ $t ^ ($t >> 8)) & 0xffffffff;
    return $st->[3];
}

sub percentile {
    my ($v, $q) = @_;
    my @s = sort { $a <=> $b } @$v;
    my $pos = $q * (@s - 1);
    my $k = int($pos);
    return $s[-1] if $k + 1 >= @s;
    return $s[$k] + ($pos - $k) * ($s[$k + 1] - $s[$k]);
}

sub bootstrap {
    my ($items, $rounds, $seed, $lc) = @_;
    my $st = rng($seed);
    my $n = @$items;
    my @v;
    for (1 .. $rounds) {
        my @idx = map { (rng_next($st) * $n) >> 32 } 1 .. $n;
        push @v, $lc ? lc_fit($items, \@idx) : winrate($items, \@idx);
    }
    return (percentile(\@v, 0.025), percentile(\@v, 0.975));
}

sub near_pct {
    my ($got, $want, $name) = @_;
    ok(defined $got && abs($got - 100 * $want) < 0.0051, $name)
        or diag("got " . ($got // 'undef') . "%, want " . 100 * $want . "%");
}


# ------------------------------------- 1. the figures, through the module

my @prompts = (
    ['p01', 'code',    'Sort a list. strong=moa pad=moa:12'],
    ['p02', 'code',    'Reverse a string. win=moa pad=moa:3'],
    ['p03', 'code',    'Parse JSON. win=gpt-4o pad=gpt-4o:5'],
    ['p04', 'code',    'Explain pointers. bias pad=moa:20'],
    ['p05', 'code',    'Fix this bug. strong=moa win=gpt-4o pad=moa:7'],
    ['p06', 'writing', 'A haiku. strong=gpt-4o pad=moa:2'],
    ['p07', 'writing', 'A limerick. win=moa pad=moa:30'],
    ['p08', 'writing', 'A letter. pad=gpt-4o:9'],
    ['p09', 'writing', 'A story. strong=moa pad=moa:16'],
    ['p10', 'writing', 'An essay. win=moa bias pad=gpt-4o:4'],
    ['p11', 'math',    'Integrate x. win=gpt-4o pad=moa:25'],
    ['p12', 'math',    'Prove it. strong=moa pad=moa:1'],
);

my $in = "$dir/prompts.jsonl";
spew($in, join '', map { arena_line($_->[0], $_->[1],
                                    "$_->[2] qid=$_->[0]") } @prompts);

my $res = "$dir/results.jsonl";
my ($rc, $out, $err) = run_eval('-u', $moa_url, '--judge-url', $direct,
    '-m', 'moa-gpt-4o-v1', '-b', 'gpt-4o', '-j', 'judge-1', '-o', $res,
    '--report', "$dir/report.md", '--picture', "$dir/picture.svg",
    '--seed', '7', '-q', $in);

is($rc, 0, 'a run through the module: exit 0') or diag($err);

my (@items, @diffs, %bycat, $wins, $ties, $losses, $disagree);
($wins, $ties, $losses, $disagree) = (0, 0, 0, 0);

for my $p (@prompts) {
    my $words = $p->[2];
    my $o = outcomes($words, 'moa', 'gpt-4o');
    my $it = item($o);
    push @items, $it;
    push @{ $bycat{$p->[1]} }, $it;
    push @diffs, length(answer_text($words, 'moa', $p->[0]))
                 - length(answer_text($words, 'gpt-4o', $p->[0]));
    for (@$o) {
        my $w = abs($_) == 2 ? 3 : 1;
        $wins += $w if $_ > 0;
        $ties += $w if $_ == 0;
        $losses += $w if $_ < 0;
    }
    $disagree++ if ($o->[0] <=> 0) != ($o->[1] <=> 0);
}

set_x(\@items, \@diffs);

my $f = figures($out);
is($f->{judged}, 12, 'all 12 prompts judged');
is_deeply([$f->{wins}, $f->{ties}, $f->{losses}], [$wins, $ties, $losses],
          "weighted games: strong verdicts count 3 ($wins/$ties/$losses)");
is($f->{disagree}, $disagree,
   "$disagree prompts whose two orders disagree (the position bias)");
near_pct($f->{wr}, winrate(\@items), 'win rate');

my ($lo, $hi) = bootstrap(\@items, 1000, 7, 0);
near_pct($f->{lo}, $lo, 'bootstrap CI, low end (seed 7)');
near_pct($f->{hi}, $hi, 'bootstrap CI, high end');
near_pct($f->{lc}, lc_fit(\@items), 'length-controlled win rate');
ok(abs($f->{lc} - $f->{wr}) > 0.5, 'length control moves the win rate')
    or diag("LC $f->{lc} vs $f->{wr}");
my ($llo, $lhi) = bootstrap(\@items, 1000, 7, 1);
near_pct($f->{lc_lo}, $llo, 'LC bootstrap CI, low end');
near_pct($f->{lc_hi}, $lhi, 'LC bootstrap CI, high end');

for my $cat (sort keys %bycat) {
    my $c = $f->{cat}{$cat} // [];
    is($c->[0], scalar @{ $bycat{$cat} }, "category $cat: prompts");
    near_pct($c->[1], winrate($bycat{$cat}), "category $cat: win rate");
    my ($clo, $chi) = bootstrap($bycat{$cat}, 1000, 7, 0);
    near_pct($c->[2], $clo, "category $cat: CI low");
    near_pct($c->[3], $chi, "category $cat: CI high");
}

# the swap: each order judged once, with the sides the results file says
my @calls = mock_calls();
my @judge = grep { $_->{kind} eq 'judge' } @calls;
is(scalar @judge, 24, 'two judge calls per prompt');
my %orders = map { ("$_->{qid} $_->{a} $_->{b}" => 1) } @judge;
is(scalar(grep { $orders{"$_->[0] gpt-4o moa"} && $orders{"$_->[0] moa gpt-4o"} }
          @prompts), 12, 'every pair judged in both orders');

my @r = results($res);
is($r[0]{type}, 'run', 'results: the run line first');
my @v = grep { $_->{type} eq 'verdict' } @r;
my %want_name = (2 => 'A>>B', 1 => 'A>B', 0 => 'A=B', -1 => 'B>A',
                 -2 => 'B>>A');
my $mapped = 0;
for my $p (@prompts) {
    my $o = outcomes($p->[2], 'moa', 'gpt-4o');
    for my $g (0, 1) {
        my ($line) = grep { $_->{id} eq $p->[0] && $_->{game} == $g } @v;
        # game 0 shows the baseline as A: the judge's label is the model's
        # outcome negated
        $mapped++ if $line && $line->{verdict} eq
                     $want_name{$g == 0 ? -$o->[$g] : $o->[$g]};
    }
}
is($mapped, 24, 'each verdict recorded as the judge gave it, per order');

my @answers = grep { $_->{type} eq 'answer' } @r;
is(scalar @answers, 24, 'results: 24 answers');
my ($moa_a) = grep { $_->{id} eq 'p01' && $_->{who} eq 'model' } @answers;
is($moa_a->{content}, answer_text($prompts[0][2], 'moa', 'p01'),
   'the MoA answer is the synthesis');

# cost: MoA's usage sums its stages, so its prompt tokens dwarf gpt-4o's
my ($mp, $mc) = $out =~ /^moa-gpt-4o-v1\s+12\s+([\d.]+)\s+([\d.]+)/m;
my ($bp, $bc) = $out =~ /^gpt-4o\s+12\s+([\d.]+)\s+([\d.]+)/m;
ok(defined $mp && defined $bp && $mp > 3 * $bp,
   'tokens per answer: MoA sums its calls') or diag($out);
my $sum = 0;
$sum += $_->{prompt_tokens} for grep { $_->{who} eq 'baseline' } @answers;
is(sprintf('%.1f', $sum / 12), $bp, 'baseline prompt tokens from usage');
like($out, qr/^gpt-4o\s+12\s+[\d.]+\s+[\d.]+\s+\d+\s+\d+$/m,
     'latency p50 and p95 per contender');

my $md = slurp("$dir/report.md") // '';
like($md, qr/^# moa-eval: moa-gpt-4o-v1 against gpt-4o, judged by judge-1/m,
     'markdown report: title');
like($md, qr/^\| win rate\s+\|\s+[\d.]+% \| \[/m, 'markdown report: table');
unlike($md, qr/DEMO/, 'no demo notice for real answers');

my $svg = slurp("$dir/picture.svg") // '';
like($svg, qr/^<\?xml.*\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/,
     'picture: an SVG');
is(scalar(() = $svg =~ /<path d="M/g), 4,
   'picture: whiskers for all prompts and 3 categories');
like($svg, qr/>writing \(5\)</, 'picture: a category label');
like($svg, qr/Tokens per answer/, 'picture: the tokens panel');
like($svg, qr/<\/svg>\n\z/, 'picture: complete');

# a second run with the same output asks nothing
my $before = log_size();
($rc, $out, $err) = run_eval('-u', $moa_url, '--judge-url', $direct,
    '-m', 'moa-gpt-4o-v1', '-b', 'gpt-4o', '-j', 'judge-1', '-o', $res,
    '--seed', '7', $in);
is($rc, 0, 'run again: exit 0');
is(scalar(mock_calls($before)), 0, 'run again: nothing asked twice');
is(figures($out)->{wr}, $f->{wr}, 'run again: the same win rate');

# another evaluation into the same file is refused
($rc, $out, $err) = run_eval('-u', $moa_url, '-m', 'moa-gpt-4o-v1', '-b',
    'gpt-4o-mini', '-j', 'judge-1', '-o', $res, $in);
is($rc, 2, 'another baseline, same results file: refused');
like($err, qr/the results of another evaluation \(baseline gpt-4o/,
     'saying why');


# ------------------------------------------- 2. verdicts the judge mangles

my @vp = (
    ['v1', 'judge=two win=m1'],       # labels that disagree: unparseable
    ['v2', 'judge=code win=m1'],      # a quoted label and the real one
    ['v3', 'judge=lower strong=m1'],  # [[a>>b]]
    ['v4', 'judge=flaky win=b1'],     # no label once, then a label
    ['v5', 'judge=garbage win=m1'],   # never a label
    ['v6', 'strong=b1'],
);
spew("$dir/v.jsonl", join '', map { arena_line($_->[0], '', "$_->[1] qid=$_->[0]") } @vp);
$before = log_size();
($rc, $out, $err) = run_eval('-u', $direct, '-m', 'm1', '-b', 'b1', '-j',
    'j1', '-o', "$dir/v-results.jsonl", '-q', "$dir/v.jsonl");
is($rc, 0, 'mangled verdicts: exit 0') or diag($err);
@calls = grep { $_->{kind} eq 'judge' } mock_calls($before);
my %per;
$per{$_->{qid}}++ for @calls;
is_deeply(\%per, { v1 => 4, v2 => 2, v3 => 2, v4 => 4, v5 => 4, v6 => 2 },
          'a reply without a verdict is asked once more, once');
$f = figures($out);
is($f->{unparsed}, 4, 'two labels and no label: 4 games unparseable');
is($f->{judged}, 4, 'the prompts without any verdict are left out');
my @vi = map { item(outcomes($_->[1], 'm1', 'b1')) }
         grep { $_->[0] !~ /^v[15]$/ } @vp;
near_pct($f->{wr}, winrate(\@vi),
         'win rate: a quoted label is skipped, lower case read');
my ($v3) = grep { $_->{type} eq 'verdict' && $_->{id} eq 'v3'
                  && $_->{game} == 1 }
           results("$dir/v-results.jsonl");
is($v3->{verdict}, 'A>>B', 'lower case [[a>>b]] recorded as A>>B');
my ($v1) = grep { $_->{type} eq 'verdict' && $_->{id} eq 'v1' } results("$dir/v-results.jsonl");
ok($v1 && !defined $v1->{verdict} && $v1->{judge_replies} == 2,
   'unparseable: verdict null after two replies');


# the judge's request: temperature 0 unless --judge-param says otherwise
like(slurp("$dir/error.log"), qr/judge qid=v6 a=b1 b=m1 reply=A>>B temperature=0 max_tokens=undefined/,
     'the judge is asked with temperature 0');
spew("$dir/jp.jsonl", arena_line('jp', '', 'win=m1 qid=jp'));
$before = log_size();
($rc) = run_eval('-u', $direct, '-m', 'm1', '-b', 'b1', '-j', 'j1',
    '--judge-param', 'temperature=1', '--judge-max-tokens', '99', '-o',
    "$dir/jp-results.jsonl", '-q', "$dir/jp.jsonl");
is($rc, 0, '--judge-param: exit 0');
is(scalar(grep { /judge qid=jp .* temperature=1 max_tokens=99$/ }
          split /\n/, substr(slurp("$dir/error.log"), $before)), 2,
   '--judge-param temperature=1 replaces the 0; --judge-max-tokens sent');


# ----------------------------------------------------------- 3. faults

my @fp = (
    ['f1', 'fail=b1:500 win=m1'],
    ['f2', 'fail=m1:429 win=m1'],
    ['f3', 'fail=m1:garbage win=b1'],
    ['f4', 'fail=b1:400'],
    ['f5', 'win=m1'],
);
spew("$dir/f.jsonl", join '', map { arena_line($_->[0], '', "$_->[1] qid=$_->[0]") } @fp);
$before = log_size();
($rc, $out, $err) = run_eval('-u', $direct, '-m', 'm1', '-b', 'b1', '-j',
    'j1', '-o', "$dir/f-results.jsonl", "$dir/f.jsonl");
is($rc, 1, 'faults: exit 1 (a prompt failed for good)');
@calls = grep { $_->{kind} eq 'answer' } mock_calls($before);
%per = ();
$per{"$_->{qid} $_->{who}"}++ for @calls;
is_deeply([@per{'f1 b1', 'f2 m1', 'f3 m1', 'f4 b1', 'f5 m1'}],
          [2, 2, 2, 1, 1],
          '500, 429 and a garbage reply retried once each; 400 not');
like($err, qr/f\.jsonl:4 \(f4\) baseline: failed after 1 attempt: HTTP 400: evalmock refuses f4/,
     'the 400 reported with its line and the error text');
$f = figures($out);
is($f->{judged}, 4, 'the other four prompts judged');
near_pct($f->{wr}, winrate([map { item(outcomes($_->[1], 'm1', 'b1')) }
                            grep { $_->[0] ne 'f4' } @fp]),
         'win rate after the faults');
my ($fl) = grep { $_->{type} eq 'failure' } results("$dir/f-results.jsonl");
is($fl->{id} . ' ' . $fl->{status}, 'f4 400', 'the failure recorded');
$before = log_size();
($rc) = run_eval('-u', $direct, '-m', 'm1', '-b', 'b1', '-j', 'j1', '-o',
                 "$dir/f-results.jsonl", '-q', "$dir/f.jsonl");
is($rc, 1, 'run again: still failing');
is_deeply([map { "$_->{qid} $_->{who}" } mock_calls($before)], ['f4 b1'],
          'run again: only the failed call is asked again');


# ---------------------------------------------------- 4. malformed input

spew("$dir/bad.jsonl", join '',
     arena_line('b1', '', 'ok qid=b1'),
     "not json\n",
     "[1,2]\n",
     "\n",
     qq({"prompt":"x"}\n),
     $json->encode({ question_id => 'b5',
                     turns => [{ content => 'a' }, { content => 'b' }] })
         . "\n",
     arena_line('b1', '', 'again qid=b1'),
     $json->encode({ messages => [{ role => 'user',
                                    content => 'ok qid=b8' }] }) . "\n");
($rc, $out, $err) = run_eval('-u', $direct, '-m', 'm1', '-b', 'b1', '-j',
    'j1', '-o', "$dir/bad-results.jsonl", "$dir/bad.jsonl");
is($rc, 1, 'malformed lines: exit 1');
like($err, qr/bad\.jsonl:2: skipped: not a JSON object/, 'line 2 reported');
like($err, qr/bad\.jsonl:3: skipped: not a JSON object/, 'line 3 reported');
like($err, qr/bad\.jsonl:5: skipped: neither a non-empty "messages"/,
     'line 5 reported');
like($err, qr/bad\.jsonl:6: skipped: "turns" has 2 entries/,
     'line 6 reported');
like($err, qr/bad\.jsonl:7: skipped: id "b1" again \(line 1 has it\)/,
     'line 7: a repeated id');
unlike($err, qr/bad\.jsonl:4:/, 'a blank line is no error');
like($out, qr/prompts: 2 read, 2 judged, 0 with a failed call; 5 input lines skipped/,
     'the two good prompts judged, five lines skipped');
ok((grep { ($_->{id} // '') eq 'line-8' } results("$dir/bad-results.jsonl")),
   'a prompt without an id is named by its line');


# ------------------------------------------------- 5. kill -9, then resume

my @kp = map { ["k$_", "slow=150 win=" . ($_ % 3 ? 'm1' : 'b1')] } 1 .. 12;
spew("$dir/k.jsonl", join '', map { arena_line($_->[0], '', "$_->[1] qid=$_->[0]") } @kp);
my $kres = "$dir/k-results.jsonl";
my $kpid = fork() // die "fork: $!";

if ($kpid == 0) {
    open(STDOUT, '>', '/dev/null');
    open(STDERR, '>', '/dev/null');
    exec($bin, '-u', $direct, '-m', 'm1', '-b', 'b1', '-j', 'j1', '-o', $kres,
         '-c', '3', '-q', "$dir/k.jsonl") or POSIX::_exit(127);
}

for (1 .. 400) {
    last if scalar(() = (slurp($kres) // '') =~ /\n/g) >= 10;
    sleep(0.025);
}

kill 'KILL', $kpid;
waitpid($kpid, 0);
is($? & 127, 9, 'moa-eval killed with -9 mid-run');

my %done;
for (results($kres)) {
    $done{"answer $_->{id} " . ($_->{who} eq 'model' ? 'm1' : 'b1')} = 1
        if $_->{type} eq 'answer';
    $done{"judge $_->{id} " . ($_->{game} == 0 ? 'b1' : 'm1')} = 1
        if $_->{type} eq 'verdict';
}
ok(keys(%done) >= 9 && keys(%done) < 48, 'killed with part of the work done: '
   . scalar(keys %done) . ' results');

$before = log_size();
($rc, $out, $err) = run_eval('-u', $direct, '-m', 'm1', '-b', 'b1', '-j',
    'j1', '-o', $kres, '-c', '3', "$dir/k.jsonl");
is($rc, 0, 'resumed: exit 0') or diag($err);
my @again = grep { $done{$_} }
            map { $_->{kind} eq 'answer' ? "answer $_->{qid} $_->{who}"
                                         : "judge $_->{qid} $_->{a}" }
            mock_calls($before);
is_deeply(\@again, [], 'resumed: nothing recorded before the kill asked again');
my %seen;
$seen{"$_->{type} $_->{id} " . ($_->{who} // $_->{game})}++
    for grep { $_->{type} ne 'run' } results($kres);
is(scalar(keys %seen), 48, 'resumed: 24 answers and 24 verdicts');
is(scalar(grep { $_ > 1 } values %seen), 0, 'resumed: none twice');
near_pct(figures($out)->{wr},
         winrate([map { item(outcomes($_->[1], 'm1', 'b1')) } @kp]),
         'resumed: the win rate of all 12');


# a TERM: the requests in flight finish and are recorded, then exit 143

my @tp = map { ["t$_", "slow=200 win=m1"] } 1 .. 8;
spew("$dir/t.jsonl", join '', map { arena_line($_->[0], '', "$_->[1] qid=$_->[0]") } @tp);
my $tres = "$dir/t-results.jsonl";
$kpid = fork() // die "fork: $!";

if ($kpid == 0) {
    open(STDOUT, '>', '/dev/null');
    open(STDERR, '>', "$dir/t-stderr");
    exec($bin, '-u', $direct, '-m', 'm1', '-b', 'b1', '-j', 'j1', '-o', $tres,
         '-c', '2', "$dir/t.jsonl") or POSIX::_exit(127);
}

for (1 .. 400) {
    last if scalar(() = (slurp($tres) // '') =~ /\n/g) >= 4;
    sleep(0.025);
}

my $lines_at_term = scalar(() = (slurp($tres) // '') =~ /\n/g);
kill 'TERM', $kpid;
waitpid($kpid, 0);
is($? >> 8, 143, 'TERM: exit 128 + 15');
like(slurp("$dir/t-stderr") // '', qr/stopped by a signal: run the same command again/,
     'TERM: saying how to resume');
my $t = slurp($tres) // '';
ok($t =~ /\n\z/ && !grep({ !eval { $json->decode($_) } } split /\n/, $t),
   'TERM: only whole lines');
ok(scalar(() = $t =~ /\n/g) > $lines_at_term,
   'TERM: the requests in flight were recorded');
($rc, $out, $err) = run_eval('-u', $direct, '-m', 'm1', '-b', 'b1', '-j',
    'j1', '-o', $tres, '-q', "$dir/t.jsonl");
is($rc, 0, 'TERM, then resumed: exit 0');
%seen = ();
$seen{"$_->{type} $_->{id} " . ($_->{who} // $_->{game})}++
    for grep { $_->{type} ne 'run' } results($tres);
is(scalar(keys %seen) . ' ' . scalar(grep { $_ > 1 } values %seen), '32 0',
   'TERM, then resumed: 32 results, none twice');


# ------------------------------------------------------------ 6. dry run

my @dp = map { { messages => [{ role => 'user', content => "q$_ qid=d$_" },
                              { role => 'assistant',
                                content => 'x' x (40 * $_) }],
                 metadata => { uid => "d$_" } } } 1 .. 5;
spew("$dir/d.jsonl", join '', map { $json->encode($_) . "\n" } @dp);
$before = log_size();
($rc, $out) = run_eval('-u', $direct, '-m', 'm1', '-b', 'b1', '-j', 'j1',
    '-o', "$dir/d-results.jsonl", '--dry-run', "$dir/d.jsonl");
is($rc, 0, '--dry-run: exit 0');
is(scalar(mock_calls($before)), 0, '--dry-run asks nothing');
ok(!-e "$dir/d-results.jsonl", '--dry-run writes no results file');
like($out, qr/5 prompts; 20 calls to make/, '--dry-run: 20 calls');
my $ptok = 0;
for (@dp) {
    my $m = $json->encode([{ role => 'user',
                             content => $_->{messages}[0]{content} }]);
    $ptok += int((length($m) + 3) / 4);
}
like($out, qr/^answer\s+m1\s+5\s+$ptok\s+2500$/m,
     "--dry-run: the model's 5 calls, $ptok prompt tokens");
like($out, qr/^judge\s+j1\s+10\s+\d+\s+6000$/m, '--dry-run: 10 judge calls');

# the baseline's answers from the file itself: its assistant messages
($rc, $out) = run_eval('-u', $direct, '-m', 'm1', '--baseline-answers',
    "$dir/d.jsonl", '-j', 'j1', '-o', "$dir/d-results.jsonl", '--dry-run',
    "$dir/d.jsonl");
like($out, qr/5 prompts; 15 calls to make/,
     '--dry-run with --baseline-answers: 15 calls');
like($out, qr/an answer ~30 tokens \(the mean of the answers at hand\)/,
     '--dry-run: answers estimated from the baseline answers');

$before = log_size();
($rc, $out, $err) = run_eval('-u', $direct, '-m', 'm1', '--baseline-answers',
    "$dir/d.jsonl", '-j', 'j1', '-o', "$dir/d-results.jsonl", '-q',
    "$dir/d.jsonl");
is($rc, 0, '--baseline-answers: exit 0') or diag($err);
is(scalar(grep { $_->{kind} eq 'answer' && $_->{who} ne 'm1' }
          mock_calls($before)), 0, '--baseline-answers: the baseline not asked');
like($out, qr/^\Q$dir\E\/d\.jsonl\s+5\s+\(from a file\)/m,
     '--baseline-answers: no cost row for the file');
is(figures($out)->{judged}, 5, '--baseline-answers: 5 judged');


# a prompt without its baseline answer is skipped, and said to be
spew("$dir/ans.jsonl", $json->encode({ question_id => 'd1',
    choices => [{ index => 0, turns => [{ content => 'ref MARK-WIN' }] }] })
    . "\n" . "garbage\n");
($rc, $out, $err) = run_eval('-u', $direct, '-m', 'm1', '--baseline-answers',
    "$dir/ans.jsonl", '-j', 'j1', '-o', "$dir/ans-results.jsonl", '-q',
    "$dir/d.jsonl");
is($rc, 1, 'missing baseline answers: exit 1');
like($err, qr/ans\.jsonl:2: skipped: not a JSON object/,
     'a bad answer line reported');
like($err, qr/d\.jsonl:2: skipped: no baseline answer for id "d2"/,
     'a prompt without an answer reported');
like($out, qr/prompts: 5 read, 1 judged, 0 with a failed call, 4 without a baseline answer; 0 input lines skipped/,
     'the report counts them apart');
near_pct(figures($out)->{wr}, 0,
         'd1: the file\'s marked answer beats the model\'s plain one');


# ------------------------------------------------------- 7. demo provider

($rc, $out, $err) = run_eval('-u', "http://127.0.0.1:$port/demo/v1/chat/completions",
    '-m', 'moa-gpt-4o-v1', '-b', 'gpt-4o', '-j', 'gpt-4o-mini', '-o',
    "$dir/demo-results.jsonl", '--report', "$dir/demo.md", '-q', $in);
like($out, qr/^NOTE: The offline DEMO provider answered .* these numbers mean nothing/m,
     'the demo provider answered: the report says so');
like(slurp("$dir/demo.md") // '', qr/DEMO provider answered/,
     'and so does the markdown report');
is(figures($out)->{judged}, 12, 'the demo judge gives verdicts: 12 judged');


# ---------------------------------------------------------- 8. usage

($rc, $out, $err) = run_eval('--help');
is($rc, 0, '--help: exit 0');
like($out, qr/^Usage: moa-eval/, '--help: usage');
($rc, $out) = run_eval('--version');
like($out, qr/^moa-eval \d+\.\d+\.\d+ /, '--version');
($rc, $out, $err) = run_eval('-m', 'x', '-j', 'y', $in);
is($rc, 2, 'no baseline: exit 2');
like($err, qr/give one of --baseline MODEL and --baseline-answers FILE/,
     'no baseline: saying so');
($rc, $out, $err) = run_eval('-m', 'x', '-b', 'z', '-j', 'y', '--picture',
                             "$dir/p.png", $in);
like($err, qr/only SVG is written/, '--picture: PNG refused, saying why');
spew("$dir/tpl.txt", "Judge {question} and {answer_a}\n");
($rc, $out, $err) = run_eval('-m', 'x', '-b', 'z', '-j', 'y', '--template',
                             "$dir/tpl.txt", $in);
like($err, qr/has no \{answer_b\} placeholder/, '--template: checked');

like(slurp("$dir/error.log") // '', qr/^/, 'error log readable');
unlike(slurp("$dir/error.log") // '', qr/\[(?:alert|crit|emerg)\]|js exception/,
       'no alert, crit or js exception in the error log');

done_testing();
