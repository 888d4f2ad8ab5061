#!/usr/bin/perl

# moa-relabel --batch end to end, against an nginx it starts itself (plain
# perl, like t/520-relabel.t): the Batch API is conf/mock-batch.js (each
# line answered by conf/mock-provider.js's chat logic), the module runs
# the same recipe online in front of mock-provider.js for the byte-identity
# checks.
#
#   - 300 rows through three chained stages with per-line errors (a 500
#     once, a 400, a 503 always), one expired batch and one failed batch:
#     every row relabeled or rejected with its reason, in order, the tokens
#     equal to what the mock billed, nothing uploaded or created twice
#   - kill -9 right after each step (the MOA_RELABEL_BATCH_KILL hook) and a
#     re-run: OUT equal to an uninterrupted run's, nothing uploaded or
#     created twice
#   - each stage body in a batch file is byte for byte a body the module
#     sent its provider for the same rows and settings (the three-prompt
#     chain in four settings; and the recipes: two layers, select,
#     a reasoning model with a token cap, agreement in layer 2)
#   - the recipes row by row: rows whose candidates agree skip critique
#     and synthesis; select answers with the judge's pick (the first
#     candidate when the judge fails), also for a json_schema answer;
#     kill -9 in a layer-2 stage and a re-run
#   - --batch-cancel, a state file of other settings, bad options
#
# Environment: TEST_NGINX_BINARY (default /usr/sbin/nginx),
# TEST_NGINX_LOAD_MODULES (the module and njs; the njs module is added when
# it is missing), MOA_BUILD (build directory), MOA_KEEP=1 keeps the temp
# dir.

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
use Time::HiRes qw(sleep time);

my $root = abs_path("$FindBin::Bin/..");
my $build = $ENV{MOA_BUILD} // "$root/build";
my $bin = "$build/moa-relabel";
my $nginx_bin = $ENV{TEST_NGINX_BINARY} // '/usr/sbin/nginx';
my $js_module = '/usr/lib/nginx/modules/ngx_http_js_module.so';
my $json = JSON::PP->new->utf8->canonical;

my $log = `make -s -f '$root/mk/relabel.mk' ROOT='$root' \\
           BUILD='$build' '$bin' 2>&1`;
is($?, 0, 'build moa-relabel') or do { diag($log); done_testing(); exit };

my @mods = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');
push @mods, $js_module unless grep { /ngx_http_js_module/ } @mods;
push @mods, "$build/ngx_http_moa_module.so"
    unless grep { /ngx_http_moa_module/ } @mods;

my $dir = tempdir('moa-batch-XXXXXX', TMPDIR => 1,
                  CLEANUP => !$ENV{MOA_KEEP});
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

# the chat logic of the recipes' tests: the judge picks candidate 3; the
# proposals of layer 1 differ, those of layer 2 agree
my $sel_scenario = '{"critique": {"content": "{\\"best\\": 3}"}}';
my $agree_scenario = '{"proposal": {"content": "p{call}"}, '
                     . '"proposal@2": {"content": "all agree"}}';

# the Batch API mocks: prefix => $mock_batch
my %mocks = (
    e2e => { step_ms => 60, quote => JSON::PP::true,
             expire => [2], fail => [3],
             line_errors => { 'please-500' => { status => 500, times => 1 },
                              'please-400' => { status => 400 },
                              'please-503' => { status => 503 } } },
    clean => { step_ms => 40, quote => JSON::PP::true },
    same => { step_ms => 40 },
    same2 => { step_ms => 40 },
    same3 => { step_ms => 40 },
    same4 => { step_ms => 40 },
    same5 => { step_ms => 40 },
    same6 => { step_ms => 40, scenario => $sel_scenario },
    same7 => { step_ms => 40 },
    same8 => { step_ms => 40, scenario => $agree_scenario },
    agree => { step_ms => 40, quote => JSON::PP::true,
               agree => 'please-agree' },
    sel => { step_ms => 40, quote => JSON::PP::true,
             scenario => $sel_scenario,
             line_errors => { 'judge-fails\\n</candidate>' =>
                              { status => 400 } } },
    klayer => { step_ms => 40, quote => JSON::PP::true },
    synfail => { step_ms => 40, quote => JSON::PP::true,
                 line_errors => { 'Merge:' => { status => 400 } } },
    slow => { step_ms => 1500, quote => JSON::PP::true },
    outage => { step_ms => 40, quote => JSON::PP::true, outage => 3 },
);

sub nginx_conf {
    my ($port) = @_;
    my $load = join '', map { "load_module $_;\n" } @mods;
    my $locs = '';
    # in a quoted nginx string, "\\" is one backslash
    (my $sel_conf = $sel_scenario) =~ s/\\/\\\\/g;
    (my $agree_conf = $agree_scenario) =~ s/\\/\\\\/g;

    for my $m (sort keys %mocks) {
        (my $cf = $json->encode($mocks{$m})) =~ s/\\/\\\\/g;
        $locs .= <<"LOC";
        location /$m/ {
            set \$mock_batch_dir $dir/mock-$m;
            set \$mock_batch '$cf';
            js_content batch.api;
        }
LOC
    }

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
    access_log $dir/access.log;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    client_body_buffer_size 64m;
    client_max_body_size 256m;

    js_path $root/conf;
    js_import mock from mock-provider.js;
    js_import batch from mock-batch.js;

    server {
        listen 127.0.0.1:$port;

        moa_model moa-gpt-4o-v1 gpt-4o;
        # an id as long as the base model's: the token cap estimates the
        # prompt from the request's bytes, which name the model
        moa_model moa-o3x o3-mini reasoning;

        # the module with the defaults, and with another recipe
        location = /v1/chat/completions {
            moa_pass /_provider;
        }

        location = /v2/chat/completions {
            moa_pass /_provider;
            moa_proposers 2;
            moa_proposer_temperature 0.7;
            moa_proposer_max_tokens 300;
            moa_critic_max_tokens 200;
            moa_critique_temperature 0.3;
            moa_aggregator /_provider temperature=0.5;
            moa_min_proposals 2;
            moa_critique_prompt $dir/critique.txt;
            moa_synthesis_prompt $dir/synthesis.txt;
        }

        location = /v3/chat/completions {
            moa_pass /_provider;
            moa_proposers 4;
            moa_proposer_n on;
            moa_critique off;
            moa_unknown_params drop;
        }

        location = /v4/chat/completions {
            moa_pass /_provider;
            moa_proposer /_provider model=gpt-4o-mini temperature=0.5;
            moa_proposer /_provider model=gpt-4o;
            moa_proposer /_provider temperature=1.2;
            moa_min_proposals 3;
        }

        # the recipes
        location = /v5/chat/completions {
            moa_pass /_provider;
            moa_layers 2;
            moa_layer_prompt $dir/layer.txt;
            moa_min_proposals 2;
        }

        location = /v6/chat/completions {
            moa_pass /_provider_sel;
            moa_aggregate select;
            moa_select_format json_object;
            moa_critic_max_tokens 50;
        }

        location = /v7/chat/completions {
            moa_pass /_provider;
            moa_proposers 2;
            moa_layers 2;
            moa_max_total_tokens 40000;
        }

        location = /v8/chat/completions {
            moa_pass /_provider_agree;
            moa_layers 3;
            moa_agreement on;
        }

        location = /_provider_sel {
            internal;
            proxy_pass http://127.0.0.1:$port/provider_sel;
            proxy_set_header X-Moa-Stage \$moa_stage;
            proxy_set_header X-Moa-Call \$moa_call;
        }

        location = /_provider_agree {
            internal;
            proxy_pass http://127.0.0.1:$port/provider_agree;
            proxy_set_header X-Moa-Stage \$moa_stage;
            proxy_set_header X-Moa-Call \$moa_call;
            proxy_set_header X-Moa-Layer \$moa_layer;
        }

        location = /provider_sel {
            client_body_in_file_only on;
            client_body_temp_path $dir/bodies;
            set \$mock_scenario '$sel_conf';
            js_content mock.chat;
        }

        location = /provider_agree {
            client_body_in_file_only on;
            client_body_temp_path $dir/bodies;
            set \$mock_scenario '$agree_conf';
            js_content mock.chat;
        }

        location = /_provider {
            internal;
            proxy_pass http://127.0.0.1:$port/provider;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Moa-Stage \$moa_stage;
            proxy_set_header X-Moa-Call \$moa_call;
        }

        # every body the provider gets stays in a file of its own
        location = /provider {
            client_body_in_file_only on;
            client_body_temp_path $dir/bodies;
            set \$mock_scenario '';
            js_content mock.chat;
        }

$locs
    }
}
CONF
}

sub start_nginx {
    spew("$dir/critique.txt", "Judge these {{count}} drafts, \"quoted\":\n"
                              . "{{candidates}}\nBe terse.\n");
    spew("$dir/synthesis.txt", "Merge:\n{{candidates}}\n{{critiques}}Go.");
    spew("$dir/layer.txt", "Refine these {{count}}:\n{{candidates}}\nNow.");
    mkdir("$dir/bodies");
    mkdir("$dir/mock-$_") for keys %mocks;

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

# what a Batch API mock saw: uploads by file name, creates by input file
sub stats {
    my ($m) = @_;
    my $st = slurp("$dir/mock-$m/state.json");
    return $st ? $json->decode($st) : { uploads => {}, creates => {},
                                        order => [], files => {} };
}

sub reset_mock {
    my ($m) = @_;
    unlink glob("$dir/mock-$m/*");
}

sub nothing_twice {
    my ($m, $name) = @_;
    my $st = stats($m);
    my @up = grep { $st->{uploads}{$_} != 1 } keys %{$st->{uploads}};
    my @cr = grep { $st->{creates}{$_} != 1 } keys %{$st->{creates}};

    ok(keys %{$st->{uploads}} > 0 && !@up, "$name: no file uploaded twice")
        or diag(explain($st->{uploads}));
    ok(keys %{$st->{creates}} > 0 && !@cr, "$name: no batch created twice")
        or diag(explain($st->{creates}));
}


# ---------------------------------------------------------------- tool

sub relabel {
    my ($tag, $env, @args) = @_;
    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        $ENV{$_} = $env->{$_} for keys %$env;
        open(STDOUT, '>', "$dir/$tag.stdout");
        open(STDERR, '>', "$dir/$tag.stderr");
        exec($bin, @args) or POSIX::_exit(127);
    }

    return finish($pid, $tag);
}

sub finish {
    my ($pid, $tag) = @_;
    my $deadline = time() + 300;

    while (waitpid($pid, WNOHANG) == 0) {
        if (time() > $deadline) {
            kill 'KILL', $pid;
            waitpid($pid, 0);
            fail("$tag: moa-relabel did not finish in time");
            return (-1, slurp("$dir/$tag.stderr") // '');
        }
        sleep(0.05);
    }

    my $st = $?;
    my $err = slurp("$dir/$tag.stderr") // '';
    return (($st & 127) ? 128 + ($st & 127) : $st >> 8, $err);
}

sub batch_args {
    my ($m, @more) = @_;
    return ('--batch', '--batch-url', "http://127.0.0.1:$port/$m/v1",
            '--poll-interval', '0.05', '--backoff', '0.05', @more);
}


# ---------------------------------------------------------------- input

# [line, prefix, suffix, question, append]: the output line must be
# prefix . answer . suffix (',' before an appended answer)
sub build_rows {
    my ($n, $special) = @_;
    my $tools = '[{"type": "function", "function": {"name": "lookup", '
              . '"parameters": {"type": "object", "properties": {}}}}]';
    my @rows;

    for my $i (1 .. $n) {
        my $q = "[row $i] what is caf\x{e9} \x{1f600} \"quoted\" \\ number $i?"
                . ($special->{$i} // '');
        my $user = $json->encode({role => 'user', content => $q});
        my $asst = $json->encode({role => 'assistant', content => "old $i"});
        my $kind = $i % 10 == 3 ? 'tools' : $i % 10 == 7 ? 'append' : 'plain';
        my $head = $kind eq 'tools'
                   ? qq({"tools": $tools, "tool_choice": "auto", "messages": [)
                   : '{"messages": [{"role": "system", "content": "be kind"}, ';
        my $suffix = qq(], "metadata": {"uid": "u$i"}, "row": $i});
        my ($prefix, $line);

        if ($kind eq 'append') {
            $prefix = $head . $user;
            $line = $prefix . $suffix;
        } else {
            $prefix = "$head$user, ";
            $line = $prefix . $asst . $suffix;
        }

        push @rows, { line => $line, prefix => $prefix, suffix => $suffix,
                      q => $q, append => $kind eq 'append', i => $i };
    }

    return \@rows;
}

sub lines_of {
    my $s = slurp($_[0]);
    return [] unless defined $s;
    return [split /\n/, $s];
}

# why an output line is not its row relabeled with the synthesis' quote
sub check_row {
    my ($row, $out) = @_;
    my ($p, $s) = ($row->{prefix}, $row->{suffix});

    return 'prefix differs' if substr($out, 0, length $p) ne $p;
    return 'suffix differs' if length($out) < length($p) + length($s)
                               || substr($out, -length $s) ne $s;

    my $mid = substr($out, length $p, length($out) - length($p) - length $s);
    if ($row->{append}) {
        return 'no comma before the appended answer' unless $mid =~ s/^,//;
    }

    my $msg = eval { $json->decode($mid) } or return "answer is not JSON: $@";
    return 'role' if ($msg->{role} // '') ne 'assistant';
    return "content differs: $msg->{content}"
        if ($msg->{content} // '') ne "synthesis 0: $row->{q}";
    return '';
}


# ---------------------------------------------------------------- tests

start_nginx() or BAIL_OUT('nginx did not start');

# -- 300 rows, per-line errors, an expired and a failed batch

{
    my %special = (5 => ' please-500', 50 => ' please-500',
                   77 => ' please-400', 150 => ' please-503',
                   299 => ' please-500');
    my $rows = build_rows(300, \%special);
    my @in = map { $_->{line} } @$rows;

    # malformed lines, as the online mode has them; and a blank line
    my @bad = ('{not json', '[1, 2]', '{"messages": []}',
               '{"messages": [{"role": "user", "content": "\udc00"}]}');
    my %bad_at;
    splice(@in, 10, 0, '   ');
    for my $k (0 .. $#bad) {
        my $at = 20 + 40 * $k;
        splice(@in, $at, 0, $bad[$k]);
        $bad_at{$at + 1} = $bad[$k];
    }

    spew("$dir/in.jsonl", join('', map { "$_\n" } @in));

    my ($rc, $err) = relabel('e2e', {}, batch_args('e2e',
                             '--batch-max-requests', '250', '--batch-retry',
                             '2', "$dir/in.jsonl", "$dir/out.jsonl"));

    is($rc, 1, '300 rows: exit status 1 (finished, with rejects)')
        or diag($err);
    like($err, qr/batch \S+ expired/, '300 rows: a batch expired');
    like($err, qr/batch \S+ failed .*token_limit_exceeded/,
         '300 rows: a batch failed');
    like($err, qr/proposal round 1:/, '300 rows: a second proposal round');

    # OUT: the rows that succeed, in order; rejects: the others, with why
    my $out = lines_of("$dir/out.jsonl");
    my $rej = [map { $json->decode($_) } @{lines_of("$dir/out.rejects.jsonl")}];
    my %rejected = map { $_->{line} => $_ } @$rej;
    my (@bad_rows, $k, @want);

    for my $n (1 .. @in) {
        my $line = $in[$n - 1];
        next if $line =~ /^\s*$/;

        if ($bad_at{$n}) {
            ok($rejected{$n} && $rejected{$n}{attempts} == 0
               && $rejected{$n}{record} eq $line,
               "300 rows: malformed line $n rejected before any request")
                or diag(explain($rejected{$n}));
            next;
        }

        my ($row) = grep { $_->{line} eq $line } @$rows;

        if ($line =~ /please-400|please-503/) {
            next;
        }

        push @want, $row;
    }

    for my $i (0 .. $#want) {
        my $why = defined $out->[$i] ? check_row($want[$i], $out->[$i])
                                     : 'missing';
        push @bad_rows, "row $want[$i]{i}: $why" if $why;
        last if @bad_rows > 5;
    }

    is(scalar @$out, scalar @want, '300 rows: OUT has every row that can '
       . 'be relabeled (please-500 ones retried)');
    ok(!@bad_rows, '300 rows: each OUT line is its row with the synthesis '
       . 'in place, in input order') or diag(join "\n", @bad_rows);

    my ($r400) = grep { $_->{record} =~ /please-400/ } @$rej;
    my ($r503) = grep { $_->{record} =~ /please-503/ } @$rej;
    like($r400->{error} // '', qr/^proposals: 0 of 3 candidates, 1 needed: HTTP 400/,
         '300 rows: a 400 line is rejected at once');
    is($r400->{attempts}, 3, '300 rows: ... after its 3 proposals, once');
    like($r503->{error} // '', qr/HTTP 503/,
         '300 rows: a 503 line is rejected after the retries');
    is($r503->{attempts}, 9, '300 rows: ... 3 proposals x 3 rounds');
    is(scalar @$rej, 6, '300 rows: 6 rejects (4 malformed, a 400, a 503)');
    is_deeply([map { $_->{line} } @$rej], [sort { $a <=> $b }
              map { $_->{line} } @$rej], '300 rows: rejects in input order');

    my $st = stats('e2e');
    my ($p, $c) = $err =~ /tokens (\d+) prompt \+ (\d+) completion = /;
    is($p, $st->{billed}{prompt_tokens},
       '300 rows: prompt tokens = what the mock billed');
    is($c, $st->{billed}{completion_tokens},
       '300 rows: completion tokens = what the mock billed');
    like($err, qr/check: IN lines 1-305: 298 in OUT \+ 6 rejected \+ 1 blank/,
         '300 rows: the final count check');
    like($err, qr/cost: batch \$[\d.]+, synchronous \$[\d.]+ \(saved .*50%\)/,
         '300 rows: the cost at batch and synchronous prices');
    nothing_twice('e2e', '300 rows');
    ok(!-e "$dir/out.jsonl.batch" && !-e "$dir/out.jsonl.batch.d",
       '300 rows: the state file and work directory are gone at the end');
}

# -- kill -9 after each step, then the same command again

{
    my $rows = build_rows(30);
    spew("$dir/k.jsonl", join('', map { "$_->{line}\n" } @$rows));

    reset_mock('clean');
    my ($rc, $err) = relabel('ref', {}, batch_args('clean',
                             '--batch-max-requests', '20', "$dir/k.jsonl",
                             "$dir/ref.jsonl"));
    is($rc, 0, 'kill: an uninterrupted run') or diag($err);
    my $ref = slurp("$dir/ref.jsonl");
    is(scalar @{lines_of("$dir/ref.jsonl")}, 30, 'kill: 30 rows relabeled');

    for my $step ('upload-sent', 'uploaded', 'create-sent', 'created',
                  'polled:3', 'downloaded:2', 'written:7')
    {
        (my $t = $step) =~ s/:/-/;
        reset_mock('clean');
        unlink("$dir/k-$t.jsonl");

        ($rc, $err) = relabel("kill-$t", { MOA_RELABEL_BATCH_KILL => $step },
                              batch_args('clean', '--batch-max-requests',
                                         '20', "$dir/k.jsonl",
                                         "$dir/k-$t.jsonl"));
        is($rc, 137, "kill after $step: killed") or diag($err);

        ($rc, $err) = relabel("again-$t", {}, batch_args('clean',
                              '--batch-max-requests', '20', "$dir/k.jsonl",
                              "$dir/k-$t.jsonl"));
        is($rc, 0, "kill after $step: the same command finishes")
            or diag($err);
        like($err, qr/resuming batch run/, "kill after $step: it resumed");
        ok(slurp("$dir/k-$t.jsonl") eq $ref,
           "kill after $step: OUT is the uninterrupted run's");
        nothing_twice('clean', "kill after $step");
    }
}

# -- each body in a batch file is a body the module sent, byte for byte

sub module_bodies {
    my @b;
    for my $f (glob("$dir/bodies/*/*/*"), glob("$dir/bodies/*")) {
        next if -d $f;
        push @b, slurp($f);
    }
    return [sort @b];
}

# the bodies of the batch files a mock got; $mixed counts files of several
# models
sub batch_bodies {
    my ($m, $mixed) = @_;
    my $st = stats($m);
    my @b;

    for my $id (keys %{$st->{files}}) {
        next unless $st->{files}{$id}{purpose} eq 'batch';
        my %models;
        for my $l (split /\n/, slurp("$dir/mock-$m/$id")) {
            $l =~ /^\{"custom_id":"[^"]*","method":"POST","url":"\/v1\/chat\/completions","body":(.*)\}$/s
                or return ["bad line: $l"];
            push @b, $1;
            $models{$json->decode($1)->{model}} = 1;
        }
        $$mixed++ if keys %models > 1;
    }

    return [sort @b];
}

sub identity {
    my ($name, $loc, $m, $rows, $online, $batch) = @_;

    spew("$dir/id.jsonl", join('', map { "$_->{line}\n" } @$rows));
    unlink(glob("$dir/bodies/*/*/*"), glob("$dir/bodies/*"));
    reset_mock($m);

    my ($rc, $err) = relabel("id-online-$m", {}, '-e',
                             "http://127.0.0.1:$port/$loc/chat/completions",
                             '--retries', '0', '--overwrite', @$online,
                             "$dir/id.jsonl", "$dir/id-online.jsonl");
    is($rc, 0, "$name: the module relabels the rows") or diag($err);

    ($rc, $err) = relabel("id-batch-$m", {}, batch_args($m), '--overwrite',
                          @$batch, "$dir/id.jsonl", "$dir/id-batch.jsonl");
    is($rc, 0, "$name: the batch run relabels them") or diag($err);

    my $mixed = 0;
    my $mod = module_bodies();
    my $bat = batch_bodies($m, \$mixed);

    ok(@$mod > 0, "$name: the provider got " . scalar(@$mod) . ' bodies');
    is(scalar @$bat, scalar @$mod, "$name: as many bodies in batch files");
    my @diff = grep { $mod->[$_] ne ($bat->[$_] // '') } 0 .. $#$mod;
    ok(!@diff, "$name: each batch body is a module body, byte for byte")
        or diag("module: $mod->[$diff[0]]\nbatch:  " . ($bat->[$diff[0]] // ''));
    is(slurp("$dir/id-batch.jsonl"), slurp("$dir/id-online.jsonl"),
       "$name: OUT is the online run's");
    is($mixed, 0, "$name: each batch file holds one model");
}

{
    my $rows = build_rows(12);

    identity('same recipe', 'v1', 'same', $rows,
             ['-m', 'moa-gpt-4o-v1', '-p', 'seed=7', '-p', 'max_tokens=900',
              '-p', 'user="u-1"'],
             ['-m', 'gpt-4o', '-p', 'seed=7', '-p', 'max_tokens=900',
              '-p', 'user="u-1"']);

    identity('another recipe', 'v2', 'same2', $rows,
             ['-m', 'moa-gpt-4o-v1', '-p', 'temperature=0.9'],
             ['-m', 'gpt-4o', '-p', 'temperature=0.9', '--proposers', '2',
              '--proposer-temperature', '0.7', '--proposer-max-tokens',
              '300', '--critic-max-tokens', '200', '--critique-temperature',
              '0.3', '--aggregator-temperature', '0.5', '--min-proposals',
              '2', '--critique-prompt', "$dir/critique.txt",
              '--synthesis-prompt', "$dir/synthesis.txt"]);
}

{
    # one proposal call with n, no critique, an unknown parameter dropped
    identity('proposer_n', 'v3', 'same3', build_rows(6),
             ['-m', 'moa-gpt-4o-v1', '-p', 'top_k=5'],
             ['-m', 'gpt-4o', '-p', 'top_k=5', '--proposers', '4',
              '--proposer-n', 'on', '--critique', 'off', '--unknown-params',
              'drop']);
}

{
    # proposers of their own models and temperatures (moa_proposer)
    identity('proposer list', 'v4', 'same4', build_rows(6),
             ['-m', 'moa-gpt-4o-v1'],
             ['-m', 'gpt-4o', '--proposer',
              'model=gpt-4o-mini,temperature=0.5', '--proposer',
              'model=gpt-4o', '--proposer', 'temperature=1.2',
              '--min-proposals', '3']);
    like(slurp("$dir/id-batch-same4.stderr"),
         qr/proposal: 18 requests, 0 failed; .*gpt-4o-mini, gpt-4o: batch/,
         'proposer list: the cost of each proposer at its model');
}

# the custom_ids of the batch input files a mock got
sub custom_ids {
    my ($m) = @_;
    my $st = stats($m);
    my @ids;

    for my $id (keys %{$st->{files}}) {
        next unless $st->{files}{$id}{purpose} eq 'batch';
        push @ids, map { /^\{"custom_id":"([^"]*)"/ ? $1 : 'bad' }
                   split /\n/, slurp("$dir/mock-$m/$id");
    }

    return @ids;
}

# the new answer of each line of OUT
sub answers {
    return map { my $d = eval { $json->decode($_) };
                 $d ? $d->{messages}[-1]{content} // '' : 'not JSON' }
           @{lines_of($_[0])};
}

{
    # the recipes: each stage body in a batch file is a module body
    my $rows = build_rows(6);

    identity('layers 2', 'v5', 'same5', $rows,
             ['-m', 'moa-gpt-4o-v1', '-p', 'seed=7'],
             ['-m', 'gpt-4o', '-p', 'seed=7', '--layers', '2',
              '--layer-prompt', "$dir/layer.txt", '--min-proposals', '2']);
    is(scalar(grep { /^l\d+-L2-p[0-2]$/ } custom_ids('same5')), 18,
       'layers 2: a proposal stage of layer 2');

    identity('select', 'v6', 'same6', $rows,
             ['-m', 'moa-gpt-4o-v1', '-p', 'temperature=0.4'],
             ['-m', 'gpt-4o', '-p', 'temperature=0.4', '--aggregate',
              'select', '--select-format', 'json_object',
              '--critic-max-tokens', '50']);
    my @ids = custom_ids('same6');
    ok(6 == grep({ /-j$/ } @ids) && !grep({ /-[cs]$/ } @ids),
       'select: a judge a row, no critique or synthesis');
    is_deeply([answers("$dir/id-batch.jsonl")],
              [map { 'proposal 2: model=gpt-4o temperature=1' } 1 .. 6],
              'select: candidate 3, the pick, verbatim');

    identity('reasoning', 'v7', 'same7', $rows,
             ['-m', 'moa-o3x', '-p', 'seed=7', '-p', 'max_tokens=900',
              '-p', 'temperature=0.9', '-p', 'reasoning_effort="high"'],
             ['-m', 'o3-mini', '-p', 'seed=7', '-p', 'max_tokens=900',
              '-p', 'temperature=0.9', '-p', 'reasoning_effort="high"',
              '--reasoning', '--proposers', '2', '--layers', '2',
              '--max-total-tokens', '40000']);
    my @bad = grep { /"temperature"|"max_tokens"/
                     || !/"max_completion_tokens"/ } @{batch_bodies('same7')};
    ok(!@bad, 'reasoning: no temperature, max_completion_tokens')
        or diag($bad[0]);

    identity('agreement in layer 2', 'v8', 'same8', $rows,
             ['-m', 'moa-gpt-4o-v1'],
             ['-m', 'gpt-4o', '--layers', '3', '--agreement', 'on']);
    @ids = custom_ids('same8');
    ok(36 == @ids && !grep({ /-L3-|-[cs]$/ } @ids),
       'agreement in layer 2: layer 3, critique and synthesis skipped')
        or diag(explain(\@ids));
    is_deeply([answers("$dir/id-batch.jsonl")],
              [map { 'all agree' } 1 .. 6], 'agreement: the candidate');
}

# -- early agreement row by row

{
    my $rows = build_rows(6, { 2 => ' please-agree', 5 => ' please-agree' });
    spew("$dir/a.jsonl", join('', map { "$_->{line}\n" } @$rows));

    reset_mock('agree');
    my ($rc, $err) = relabel('agree', {}, batch_args('agree', '--agreement',
                             'on'), "$dir/a.jsonl", "$dir/a-out.jsonl");
    is($rc, 0, 'agreement: every row answered') or diag($err);
    is_deeply([answers("$dir/a-out.jsonl")],
              [map { ($_->{i} == 2 || $_->{i} == 5 ? 'agreed: '
                                                   : 'synthesis 0: ')
                     . $_->{q} } @$rows],
              'agreement: the agreeing rows with their candidate, the '
              . 'others synthesized');
    my @ids = custom_ids('agree');
    is(scalar(grep { /-p\d$/ } @ids), 18, 'agreement: 3 proposals a row');
    is_deeply([sort grep { /-[cs]$/ } @ids],
              [sort map { ("l$_-c", "l$_-s") } 1, 3, 4, 6],
              'agreement: critique and synthesis only for the other rows');

    reset_mock('agree');
    ($rc, $err) = relabel('noagree', {}, batch_args('agree'), "$dir/a.jsonl",
                          "$dir/a-out2.jsonl");
    is_deeply([answers("$dir/a-out2.jsonl")],
              [map { "synthesis 0: $_->{q}" } @$rows],
              'agreement off: every row synthesized');
}

# -- select row by row: the pick, or the first candidate

{
    my $rows = build_rows(5, { 3 => ' judge-fails' });
    spew("$dir/j.jsonl", join('', map { "$_->{line}\n" } @$rows));

    reset_mock('sel');
    my ($rc, $err) = relabel('sel', {}, batch_args('sel', '--aggregate',
                             'select'), "$dir/j.jsonl", "$dir/j-out.jsonl");
    is($rc, 0, 'select: every row answered') or diag($err);
    is_deeply([answers("$dir/j-out.jsonl")],
              [map { ($_->{i} == 3 ? 'proposal 0: ' : 'proposal 2: ')
                     . $_->{q} } @$rows],
              'select: the judge\'s pick; the first candidate when it failed');
    like($err, qr/line 3: select: the judge failed, answering with candidate 1/,
         'select: the failed judge is said');
    like($err, qr/select: 5 requests, 1 failed; tokens \d+ prompt/,
         'select: the judge\'s tokens in the report');
    my @ids = custom_ids('sel');
    ok(5 == grep({ /-j$/ } @ids) && !grep({ /-[cs]$/ } @ids),
       'select: no critique or synthesis');

    # a json_schema answer is selected (--select-json-schema on)
    my $rf = 'response_format={"type":"json_schema","json_schema":'
             . '{"name":"a","schema":{"type":"object"}}}';
    reset_mock('sel');
    ($rc, $err) = relabel('selauto', {}, batch_args('sel', '-p', $rf),
                          "$dir/j.jsonl", "$dir/j-out2.jsonl");
    is($rc, 0, 'json_schema: every row answered') or diag($err);
    @ids = custom_ids('sel');
    ok(5 == grep({ /-j$/ } @ids) && !grep({ /-[cs]$/ } @ids),
       'json_schema: selected, not synthesized');

    reset_mock('sel');
    ($rc, $err) = relabel('selnot', {}, batch_args('sel', '-p', $rf,
                          '--select-json-schema', 'off'), "$dir/j.jsonl",
                          "$dir/j-out3.jsonl");
    @ids = custom_ids('sel');
    ok(5 == grep({ /-s$/ } @ids) && !grep({ /-j$/ } @ids),
       'json_schema, --select-json-schema off: synthesized');
}

# -- kill -9 in a stage of layer 2, then the same command again

{
    my $rows = build_rows(10);
    spew("$dir/kl.jsonl", join('', map { "$_->{line}\n" } @$rows));
    my @args = ('--layers', '2', '--batch-max-requests', '20');

    reset_mock('klayer');
    my ($rc, $err) = relabel('klref', {}, batch_args('klayer', @args),
                             "$dir/kl.jsonl", "$dir/kl-ref.jsonl");
    is($rc, 0, 'layer kill: an uninterrupted run') or diag($err);
    my $ref = slurp("$dir/kl-ref.jsonl");
    is_deeply([answers("$dir/kl-ref.jsonl")],
              [map { "synthesis 0: $_->{q}" } @$rows],
              'layer kill: every row synthesized');

    # parts: layer 1 two, layer 2 two, critique one, synthesis one
    for my $step ('uploaded:3', 'created:3', 'polled:8', 'downloaded:4') {
        (my $t = $step) =~ s/:/-/;
        reset_mock('klayer');
        unlink("$dir/kl-$t.jsonl");

        ($rc, $err) = relabel("klk-$t", { MOA_RELABEL_BATCH_KILL => $step },
                              batch_args('klayer', @args), "$dir/kl.jsonl",
                              "$dir/kl-$t.jsonl");
        is($rc, 137, "layer kill after $step: killed") or diag($err);
        like(slurp("$dir/kl-$t.jsonl.batch") // '', qr/"s10\.r0\.p0"/,
             "layer kill after $step: in a layer-2 stage");

        ($rc, $err) = relabel("kla-$t", {}, batch_args('klayer', @args),
                              "$dir/kl.jsonl", "$dir/kl-$t.jsonl");
        is($rc, 0, "layer kill after $step: the same command finishes")
            or diag($err);
        ok(slurp("$dir/kl-$t.jsonl") eq $ref,
           "layer kill after $step: OUT is the uninterrupted run's");
        nothing_twice('klayer', "layer kill after $step");
    }
}

# -- a failed synthesis: the first candidate, or a reject

{
    my $rows = build_rows(4);
    spew("$dir/f.jsonl", join('', map { "$_->{line}\n" } @$rows));

    my ($rc, $err) = relabel('fallback', {}, batch_args('synfail',
                             '--synthesis-prompt', "$dir/synthesis.txt",
                             '--fallback', 'candidate', '--batch-retry',
                             '0'), "$dir/f.jsonl", "$dir/f-out.jsonl");
    is($rc, 0, 'fallback candidate: every row answered') or diag($err);

    my $out = lines_of("$dir/f-out.jsonl");
    my @bad = grep {
        my $d = eval { $json->decode($out->[$_] // '') };
        !$d || ($d->{messages}[-1]{content} // '')
               ne "proposal 0: $rows->[$_]{q}"
    } 0 .. $#$rows;
    ok(@$out == 4 && !@bad, 'fallback candidate: with the first candidate')
        or diag(explain($out));

    reset_mock('synfail');
    ($rc, $err) = relabel('nofallback', {}, batch_args('synfail',
                          '--synthesis-prompt', "$dir/synthesis.txt",
                          '--batch-retry', '0'), "$dir/f.jsonl",
                          "$dir/f-out2.jsonl");
    is($rc, 1, 'fallback error: the rows are rejected');
    my $rej = lines_of("$dir/f-out2.rejects.jsonl");
    ok(@$rej == 4 && !grep({ !/"error":"synthesis: HTTP 400: / } @$rej),
       'fallback error: ... because the synthesis failed')
        or diag(explain($rej));
}

# -- --overwrite after a killed run: a new run in a clean work directory

{
    my ($rc, $err) = relabel('ow-1', { MOA_RELABEL_BATCH_KILL => 'written' },
                             batch_args('synfail', '--synthesis-prompt',
                                        "$dir/synthesis.txt",
                                        '--batch-retry', '0'),
                             "$dir/f.jsonl", "$dir/ow.jsonl");
    is($rc, 137, '--overwrite: a run with failed syntheses, killed');
    ok(-s "$dir/ow.jsonl.batch.d/s3.r0.p0.err.jsonl",
       '--overwrite: ... its error file in the work directory');

    ($rc, $err) = relabel('ow-2', {}, batch_args('synfail', '--overwrite',
                          '--batch-retry', '0'), "$dir/f.jsonl",
                          "$dir/ow.jsonl");
    is($rc, 0, '--overwrite: a new run (another prompt) relabels every row')
        or diag($err);
    unlike($err, qr/resuming/, '--overwrite: it does not resume');
    is(scalar @{lines_of("$dir/ow.jsonl")}, 4, '--overwrite: 4 rows in OUT');
    ok(!-e "$dir/ow.jsonl.rejects.jsonl", '--overwrite: no rejects left');
}

# -- the provider down for a while during the wait: the run waits on

{
    my ($rc, $err) = relabel('outage', {}, batch_args('outage', '--retries',
                             '0'), "$dir/f.jsonl", "$dir/o-out.jsonl");
    is($rc, 0, 'outage: the run finishes') or diag($err);
    is(() = $err =~ /HTTP 503: .*\(looking again later\)/g, 3,
       'outage: ... after three 503s while polling');
    is(scalar @{lines_of("$dir/o-out.jsonl")}, 4, 'outage: 4 rows in OUT');
}

# -- the mock's own checks: a batch of a bad file fails validation

{
    require HTTP::Tiny;
    my $http = HTTP::Tiny->new(timeout => 10);
    my $base = "http://127.0.0.1:$port/same/v1";
    my $bad = qq({"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{}}\n)
            . qq({"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{}}\n);
    my $mp = "--XyZ\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n"
           . "batch\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; "
           . "filename=\"bad.jsonl\"\r\n\r\n$bad\r\n--XyZ--\r\n";

    my $r = $http->post("$base/files", { content => $mp, headers => {
        'Content-Type' => 'multipart/form-data; boundary=XyZ' } });
    my $file = eval { $json->decode($r->{content})->{id} };
    ok($r->{success} && $file, 'mock: a file uploaded');

    $r = $http->post("$base/batches", { content => $json->encode({
        input_file_id => $file, endpoint => '/v1/chat/completions',
        completion_window => '24h' }) });
    my $b = eval { $json->decode($r->{content}) } // {};
    is($b->{status}, 'validating', 'mock: its batch is validating');

    sleep(0.2);
    $r = $http->get("$base/batches/$b->{id}");
    $b = eval { $json->decode($r->{content}) } // {};
    is($b->{status}, 'failed', 'mock: ... then failed');
    is($b->{errors}{data}[0]{code}, 'duplicate_custom_id',
       'mock: ... naming the duplicate custom_id');
    is($b->{errors}{data}[0]{line}, 2, 'mock: ... on line 2');
}

# -- --batch-cancel, and what runs after it

{
    my $rows = build_rows(8);
    spew("$dir/c.jsonl", join('', map { "$_->{line}\n" } @$rows));
    reset_mock('slow');

    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open(STDERR, '>', "$dir/cancel-run.stderr");
        exec($bin, batch_args('slow'), "$dir/c.jsonl", "$dir/c-out.jsonl")
            or POSIX::_exit(127);
    }

    my $deadline = time() + 30;
    sleep(0.05) until (slurp("$dir/c-out.jsonl.batch") // '') =~ /"batch":/
                      || time() > $deadline;
    kill 'TERM', $pid;
    my ($rc) = finish($pid, 'cancel-run');
    is($rc, 143, 'cancel: a run stopped by SIGTERM while polling');

    my $err;
    ($rc, $err) = relabel('cancel', {}, batch_args('slow', '--batch-cancel'),
                          "$dir/c.jsonl", "$dir/c-out.jsonl");
    is($rc, 0, '--batch-cancel: exit 0') or diag($err);
    like($err, qr/s1\.r0\.p0: batch batch_mock1: cancelling/,
         '--batch-cancel: names the batch it cancels');
    is(stats('slow')->{cancels}, 1, '--batch-cancel: the provider got it');

    ($rc, $err) = relabel('after-cancel', {}, batch_args('slow'),
                          "$dir/c.jsonl", "$dir/c-out.jsonl");
    is($rc, 0, 'cancel: the same command sends what did not run')
        or diag($err);
    like($err, qr/batch_mock1 cancelled/, 'cancel: the batch was cancelled');
    is(scalar @{lines_of("$dir/c-out.jsonl")}, 8, 'cancel: every row in OUT');
    nothing_twice('slow', 'cancel');
}

# -- a state file of other settings; bad options

{
    my $rows = build_rows(3);
    spew("$dir/s.jsonl", join('', map { "$_->{line}\n" } @$rows));

    my ($rc, $err) = relabel('s1', { MOA_RELABEL_BATCH_KILL => 'created' },
                             batch_args('clean'), "$dir/s.jsonl",
                             "$dir/s-out.jsonl");
    is($rc, 137, 'other settings: a run killed after its first batch');

    ($rc, $err) = relabel('s2', {}, batch_args('clean', '--proposers', '2'),
                          "$dir/s.jsonl", "$dir/s-out.jsonl");
    is($rc, 2, 'other settings: refused, exit 2');
    like($err, qr/belongs to another run/, 'other settings: says why');

    ($rc, $err) = relabel('s3', {}, batch_args('clean', '--critique', 'maybe'),
                          "$dir/s.jsonl", "$dir/s-out.jsonl");
    is($rc, 2, 'bad option: --critique maybe');

    ($rc, $err) = relabel('s4', {}, batch_args('clean',
                          '--proposer-temperature', '3'), "$dir/s.jsonl",
                          "$dir/s-out2.jsonl");
    is($rc, 2, 'bad option: a temperature over 2');
    like($err, qr/invalid temperature "3"/, 'bad option: says why');

    ($rc, $err) = relabel('s5', {}, '--proposers', '2', "$dir/s.jsonl",
                          "$dir/s-out3.jsonl");
    is($rc, 2, 'a recipe option without --batch is refused');
    like($err, qr/--proposers is an option of --batch/,
         '... saying so');
}

unlike(slurp("$dir/error.log") // '', qr/\[(error|crit|alert|emerg)\]/,
       'no errors in the error log');

done_testing();
