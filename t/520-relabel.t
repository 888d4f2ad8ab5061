#!/usr/bin/perl

# moa-relabel end to end, against an nginx it starts itself (plain perl,
# not Test::Nginx blocks).  The endpoint is the block of the generated
# nginx.conf between "BEGIN ENDPOINT" and "END ENDPOINT": the module's MoA
# locations, in front of an njs chat provider emulation (below), with real
# nginx failures: split_clients 500s on the provider's calls (a failed
# synthesis reaches the client as 502), limit_req 429s with Retry-After at
# the edge.
#
# Environment: TEST_NGINX_BINARY (default /usr/sbin/nginx),
# TEST_NGINX_LOAD_MODULES (modules to load, space separated; the njs module
# is added when it is not among them), MOA_BUILD (build directory),
# MOA_DATA_DIR (where arena-hard-v0.1-gpt-4-0314.jsonl is; default
# ../shared/data next to the repository), MOA_SYNTHETIC=1 uses synthetic
# rows even when the data file is there, MOA_KEEP=1 keeps the temp dir.

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

my $dir = tempdir('moa-relabel-XXXXXX', TMPDIR => 1,
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

my $mock_js = <<'JS';
/* the conversation's last user message; the module appends its own
   instruction to the critique and synthesis calls */
function lastUserText(r, messages) {
    var i, c, stage = r.headersIn['X-Moa-Stage'];
    if (stage === 'critique' || stage === 'synthesis') {
        messages = messages.slice(0, -1);
    }
    for (i = messages.length - 1; i >= 0; i--) {
        if (messages[i] && messages[i].role === 'user') {
            c = messages[i].content;
            return typeof c === 'string' ? c : JSON.stringify(c);
        }
    }
    return '';
}

function fail(r, status, message) {
    r.headersOut['Content-Type'] = 'application/json';
    r.return(status, JSON.stringify({error: {message: message,
        type: 'invalid_request_error', param: null, code: null}}));
}

/* an OpenAI chat.completion derived from the request */
function chat(r) {
    var body, text, msg, finish, out;
    try {
        body = JSON.parse(r.requestText);
    } catch (e) {
        return fail(r, 400, 'body is not JSON');
    }
    if (!body.messages || !body.messages.length) {
        return fail(r, 400, 'messages is required');
    }
    text = lastUserText(r, body.messages);
    if (text.indexOf('please-fail-400') !== -1) {
        return fail(r, 400, 'the mock refuses this row');
    }
    if (body.tools && body.tools.length && body.tool_choice !== 'none') {
        msg = {role: 'assistant', content: null, tool_calls: [{
            id: 'call_mock_1', type: 'function', function: {
                name: body.tools[0].function.name,
                arguments: JSON.stringify({echo: text.slice(0, 40)})}}]};
        finish = 'tool_calls';
    } else {
        msg = {role: 'assistant', content: 'relabeled: ' + text};
        finish = 'stop';
    }
    out = {id: 'chatcmpl-mock', object: 'chat.completion',
           created: Math.floor(Date.now() / 1000), model: body.model,
           choices: [{index: 0, message: msg, finish_reason: finish,
                      logprobs: null}],
           usage: {prompt_tokens: Math.ceil(r.requestText.length / 4),
                   completion_tokens: Math.ceil(text.length / 4) + 3,
                   total_tokens: 0}};
    out.usage.total_tokens = out.usage.prompt_tokens
                             + out.usage.completion_tokens;
    r.headersOut['Content-Type'] = 'application/json';
    r.return(200, JSON.stringify(out));
}

/* the same, the synthesis 2 s later */
function slow(r) {
    if (r.headersIn['X-Moa-Stage'] !== 'synthesis') {
        return chat(r);
    }
    setTimeout(function () { chat(r); }, 2000);
}

export default {chat, slow};
JS

sub nginx_conf {
    my ($port) = @_;

    my @mods = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');
    push @mods, $js_module unless grep { /ngx_http_js_module/ } @mods;
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
    access_log $dir/access.log;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;

    server {
        listen 127.0.0.1:$port;

        # ==== BEGIN ENDPOINT ==================================================
        # What moa-relabel talks to: the module's MoA locations, each with
        # its own provider behind it (the njs emulation above):
        #   /v1/chat/completions        ~10% of provider calls fail with
        #                               500 (a failed synthesis is a 502
        #                               for the client); ~0.5% of requests
        #                               get 429 with Retry-After: 1 at the
        #                               edge (limit_req)
        #   /clean/v1/chat/completions  no injected failures
        #   /ra/v1/chat/completions     1 r/s: a second request within a
        #                               second gets 429 with Retry-After: 1
        #   /slow/v1/chat/completions   the synthesis answers after 2 s

        moa_model moa-gpt-4o-v1 gpt-4o;

        location = /v1/chat/completions {
            limit_req zone=moa_hot;
            limit_req_status 429;
            add_header Retry-After \$moa_retry_after always;
            moa_pass /_provider_flaky;
        }

        location = /clean/v1/chat/completions {
            moa_pass /_provider_clean;
        }

        location = /slow/v1/chat/completions {
            moa_pass /_provider_slow;
        }

        location = /ra/v1/chat/completions {
            limit_req zone=moa_ra;
            limit_req_status 429;
            add_header Retry-After \$moa_retry_after always;
            moa_pass /_provider_clean;
        }

        location ~ ^/_provider_(\\w+)\$ {
            internal;
            proxy_pass http://127.0.0.1:$port/provider/\$1;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Moa-Stage \$moa_stage;
        }

        location = /provider/flaky {
            if (\$moa_inject = fail) {
                return 500;
            }
            js_content mock.chat;
        }

        location = /provider/clean {
            js_content mock.chat;
        }

        location = /provider/slow {
            js_content mock.slow;
        }

        # ==== END ENDPOINT ====================================================
    }

    # for the endpoint block: split_clients picks the fate of a request (at
    # the edge) or of a provider call; the "limited" ones share a limit_req
    # key allowed one request a minute (an empty key is not limited)
    client_body_buffer_size 1m;
    client_max_body_size 16m;
    js_import mock from $dir/mock.js;
    split_clients "\$request_id" \$moa_inject {
        10%   fail;
        0.5%  limited;
        *     ok;
    }
    map \$moa_inject \$moa_hot_key {
        limited  hot;
        default  "";
    }
    map \$status \$moa_retry_after {
        429      1;
        default  "";
    }
    limit_req_zone \$moa_hot_key zone=moa_hot:1m rate=1r/m;
    limit_req_zone \$server_port zone=moa_ra:1m rate=1r/s;
}
CONF
}

sub start_nginx {
    spew("$dir/mock.js", $mock_js);

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

        # lost the port to someone else, or nginx failed: try again
        kill 'TERM', $nginx_pid;
        waitpid($nginx_pid, 0);
        $nginx_pid = undef;
    }

    diag(slurp("$dir/error.log") // '', slurp("$dir/nginx.stderr") // '');
    return 0;
}


# ---------------------------------------------------------------- input

sub data_file {
    my @dirs = ($ENV{MOA_DATA_DIR} // (), "$root/../shared/data");

    # in a git worktree, also next to the main repository
    my $common = `git -C '$root' rev-parse --path-format=absolute \\
                  --git-common-dir 2>/dev/null`;
    chomp $common;
    push @dirs, "$common/../../shared/data" if $common;

    for (@dirs) {
        my $f = "$_/arena-hard-v0.1-gpt-4-0314.jsonl";
        return abs_path($f) if -r $f;
    }

    return undef;
}

# 500 [prompt, answer, raw metadata JSON] from the data file, or synthetic
sub source_rows {
    my $f = $ENV{MOA_SYNTHETIC} ? undef : data_file();
    my @rows;

    if ($f) {
        open(my $fh, '<:raw', $f) or die "$f: $!";
        while (my $l = <$fh>) {
            chomp $l;
            my $d = decode_json($l);
            my ($meta) = $l =~ /, "metadata": (\{.*\})\}$/
                or die "unexpected layout: $l";
            push @rows, [$d->{messages}[0]{content},
                         $d->{messages}[1]{content}, $meta];
        }
        diag("input: 1000 rows built from $f");
        return \@rows;
    }

    srand(42);
    my @words = (qw(the a model answer write explain code nginx module
                    relabel fine tuning), "caf\x{e9}", "\x{6f22}\x{5b57}",
                 "\x{1f600}", "tab\there", "quote\"d", "back\\slash",
                 "new\nline");
    for my $i (1 .. 500) {
        my $p = join ' ', map { $words[rand @words] } 1 .. 5 + int(rand(40));
        my $a = join ' ', map { $words[rand @words] } 1 .. 50 + int(rand(400));
        push @rows, ["synthetic $i: $p", $a,
                     qq({"source": "synthetic", "uid": "s$i"})];
    }
    diag('input: 1000 synthetic rows ('
         . ($ENV{MOA_SYNTHETIC} ? 'MOA_SYNTHETIC set' : 'data file not found')
         . ')');
    return \@rows;
}

# Every row is [line, prefix, suffix, expected answer, append]: the output
# line must be prefix . answer . suffix, with ',' before the answer when
# it is appended.  Rows cycle through plain, tools and append layouts.
sub build_rows {
    my ($src, $n) = @_;
    my $tools = '[{"type": "function", "function": {"name": "lookup", '
              . '"parameters": {"type": "object", "properties": {}}}}]';
    my @rows;

    for my $i (1 .. $n) {
        my ($q, $a, $meta) = @{$src->[($i - 1) % @$src]};
        $q = "[row $i] $q";
        my $user = $json->encode({role => 'user', content => $q});
        my $asst = $json->encode({role => 'assistant', content => $a});
        my $kind = $i % 10 == 3 ? 'tools' : $i % 10 == 7 ? 'append' : 'plain';
        my $head = $kind eq 'tools'
                   ? qq({"tools": $tools, "tool_choice": "auto", "messages": [)
                   : '{"messages": [';
        my $suffix = qq(], "metadata": $meta, "row": $i});
        my ($prefix, $line);

        if ($kind eq 'append') {
            $prefix = $head . $user;
            $line = $prefix . $suffix;
        } else {
            $prefix = "$head$user, ";
            $line = $prefix . $asst . $suffix;
        }

        my $want = $kind eq 'tools'
            ? { role => 'assistant', content => undef, tools => 1 }
            : { role => 'assistant', content => "relabeled: $q" };

        push @rows, { line => $line, prefix => $prefix, suffix => $suffix,
                      want => $want, append => $kind eq 'append', q => $q };
    }

    return \@rows;
}

sub lines_of {
    my $s = slurp($_[0]);
    return [] unless defined $s;
    return [split /\n/, $s];
}

sub count_lines {
    my $s = slurp($_[0]);
    return defined $s ? ($s =~ tr/\n//) : 0;
}

# why output line $out is not the relabeled $row ('' when it is)
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
    my $want = $row->{want};

    return 'role' if ($msg->{role} // '') ne 'assistant';

    if ($want->{tools}) {
        my $c = $msg->{tool_calls};
        return 'content not null' if defined $msg->{content};
        return 'tool call' unless ref $c eq 'ARRAY' && @$c == 1
                                  && $c->[0]{function}{name} eq 'lookup';
        # a character string already: decode without UTF-8
        my $args = eval { JSON::PP->new->decode($c->[0]{function}{arguments}) };
        return 'tool call arguments' unless $args && defined $args->{echo};
        return '';
    }

    return 'has tool_calls' if exists $msg->{tool_calls};
    return 'content differs' if ($msg->{content} // '') ne $want->{content};
    return '';
}

sub check_output {
    my ($rows, $file, $name) = @_;
    my $out = lines_of($file);
    my @bad;

    for my $i (0 .. $#$rows) {
        my $why = defined $out->[$i] ? check_row($rows->[$i], $out->[$i])
                                     : 'missing';
        push @bad, 'line ' . ($i + 1) . ": $why" if $why;
        last if @bad > 5;
    }

    is(scalar @$out, scalar @$rows, "$name: one output line per input row");
    ok(!@bad, "$name: every line is its input row, relabeled, in order")
        or diag(join "\n", @bad);
}


# ---------------------------------------------------------------- tool

# runs moa-relabel, returns (exit status, stderr); gives up after $limit s
sub relabel {
    my ($tag, @args) = @_;
    my $pid = spawn($tag, @args);
    return finish($pid, $tag);
}

sub spawn {
    my ($tag, @args) = @_;
    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        open(STDOUT, '>', "$dir/$tag.stdout");
        open(STDERR, '>', "$dir/$tag.stderr");
        exec($bin, @args) or POSIX::_exit(127);
    }

    return $pid;
}

sub finish {
    my ($pid, $tag, $limit) = @_;
    my $deadline = time() + ($limit // 300);

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

# 429s and 500s nginx gave on /v1/chat/completions so far
sub injected {
    my $access = slurp("$dir/access.log") // '';
    my $n429 = () = $access =~ m{"POST /v1/chat/completions HTTP/1.1" 429 }g;
    my $n500 = () = $access =~ m{"POST /v1/chat/completions HTTP/1.1" 50\d }g;
    return ($n429, $n500);
}

sub wait_lines {
    my ($file, $n, $pid) = @_;
    my $deadline = time() + 120;

    while (time() < $deadline) {
        return 1 if count_lines($file) >= $n;
        return 0 if waitpid($pid, WNOHANG) != 0;
        sleep(0.02);
    }

    return 0;
}


# ---------------------------------------------------------------- tests

ok(start_nginx(), "nginx started on 127.0.0.1:$port") or do {
    done_testing();
    exit;
};

my $url = "http://127.0.0.1:$port";
my @fast = ('--backoff', '0.05', '--backoff-max', '1', '--retries', '30',
            '--progress-interval', '1');
my $rows = build_rows(source_rows(), 1000);
my $in = "$dir/in.jsonl";
spew($in, join '', map { "$_->{line}\n" } @$rows);

# 1. a whole run through injected 429s and 500s

my $ok_1000 = 'check: IN lines 1-1000: 1000 in OUT + 0 rejected + 0 blank '
             . '= 1000: ok';
my ($rc, $err) = relabel('full', @fast, '-e', "$url/v1/chat/completions",
                         $in, "$dir/full.jsonl");
is($rc, 0, 'full run: exit 0') or diag($err);
check_output($rows, "$dir/full.jsonl", 'full run');
like($err, qr/\Q$ok_1000\E/,
     'full run: the count check is printed');
ok(!-e "$dir/full.rejects.jsonl", 'full run: no rejects file');
my ($tp, $tc) = $err =~ /tokens (\d+) prompt \+ (\d+) completion/;
ok($tp && $tc, 'full run: usage tokens were summed');
like($err, qr/\d+\/1000 rows \([\d.]+%\), [\d.]+ rows\/s, ETA/,
     'full run: plain progress lines when stderr is not a terminal');

my ($n429, $n500) = injected();
ok($n500 > 0, "full run: nginx answered 5xx ($n500 times)");
my ($retries) = $err =~ /(\d+) retries/;
is($retries, $n429 + $n500, "full run: each failure was retried once "
   . "($n429 429s)");

# 2. SIGKILL mid-run, a torn last line, resume

my $pid = spawn('kill1', @fast, '-e', "$url/v1/chat/completions", $in,
                "$dir/kill.jsonl");
ok(wait_lines("$dir/kill.jsonl", 150, $pid), 'kill: 150 rows written');
kill 'KILL', $pid;
($rc) = finish($pid, 'kill1');
is($rc, 128 + 9, 'kill: moa-relabel was SIGKILLed');
my $at_kill = count_lines("$dir/kill.jsonl");
ok($at_kill < 1000, "kill: killed mid-run, after $at_kill rows");

open(my $fh, '>>:raw', "$dir/kill.jsonl") or die;
print $fh substr($rows->[$at_kill]{line}, 0, 50);
close($fh);

($rc, $err) = relabel('kill2', @fast, '-e', "$url/v1/chat/completions", $in,
                      "$dir/kill.jsonl");
is($rc, 0, 'kill: resumed run exit 0') or diag($err);
like($err, qr/cut a torn last line \(50 bytes\)/, 'kill: torn line cut');
like($err, qr/resuming after line $at_kill \($at_kill in OUT/,
     'kill: resumed after the last complete line');
like($err, qr/this run ${\(1000 - $at_kill)} rows/,
     'kill: the resumed run did only the rest');
ok(slurp("$dir/kill.jsonl") eq slurp("$dir/full.jsonl"),
   'kill: output identical to the uninterrupted run');
check_output($rows, "$dir/kill.jsonl", 'kill');

# 3. SIGINT: drain, say how to resume, resume

$pid = spawn('int1', @fast, '-e', "$url/v1/chat/completions", $in,
             "$dir/int.jsonl");
ok(wait_lines("$dir/int.jsonl", 100, $pid), 'sigint: 100 rows written');
kill 'INT', $pid;
($rc, $err) = finish($pid, 'int1');
is($rc, 130, 'sigint: exit 130') or diag($err);
like($err,
     qr/re-run the same command \(without --overwrite\) to resume at line \d+/,
     'sigint: says how to resume');
my $at_int = count_lines("$dir/int.jsonl");
like($err, qr/check: IN lines 1-$at_int: $at_int in OUT/,
     'sigint: the count check covers what was written');

($rc, $err) = relabel('int2', @fast, '-e', "$url/v1/chat/completions", $in,
                      "$dir/int.jsonl");
is($rc, 0, 'sigint: resumed run exit 0') or diag($err);
ok(slurp("$dir/int.jsonl") eq slurp("$dir/full.jsonl"),
   'sigint: output identical to the uninterrupted run');

# 3b. SIGINT twice: requests in flight are abandoned, and redone on resume

my @slow = @$rows[0 .. 19];
spew("$dir/slow.jsonl", join '', map { "$_->{line}\n" } @slow);
$pid = spawn('slow1', '-c', '4', '-e', "$url/slow/v1/chat/completions",
             "$dir/slow.jsonl", "$dir/slow.out.jsonl");
sleep(0.7);
kill 'INT', $pid;
sleep(0.3);
kill 'INT', $pid;
($rc, $err) = finish($pid, 'slow1');
is($rc, 130, 'sigint twice: exit 130') or diag($err);
like($err, qr/again: abandoning the requests in flight/,
     'sigint twice: in-flight requests abandoned');
is(count_lines("$dir/slow.out.jsonl"), 0, 'sigint twice: nothing written');

($rc, $err) = relabel('slow2', '-c', '20',
                      '-e', "$url/slow/v1/chat/completions",
                      "$dir/slow.jsonl", "$dir/slow.out.jsonl");
is($rc, 0, 'sigint twice: resumed run exit 0') or diag($err);
check_output(\@slow, "$dir/slow.out.jsonl", 'sigint twice');

# 4. a finished OUT: nothing is sent again

my $before = slurp("$dir/full.jsonl");
($rc, $err) = relabel('again', @fast, '-e', "$url/v1/chat/completions", $in,
                      "$dir/full.jsonl");
is($rc, 0, 'finished: exit 0');
like($err, qr/this run 0 rows .* 0 requests/, 'finished: no requests');
ok(slurp("$dir/full.jsonl") eq $before, 'finished: OUT unchanged');

# 5. rejects: bad lines, a 400, blank lines; with their line numbers

my @mixed = (
    $rows->[0]{line},
    '{"messages": [{"role": "user", "content": "broken"',
    '{"messages": [{"role": "user", "content": "please-fail-400"}, '
        . '{"role": "assistant", "content": "x"}], "id": 3}',
    '',
    '{"messages": []}',
    $rows->[6]{line},
    '[1, 2, 3]',
    $rows->[2]{line},
);
spew("$dir/mixed.jsonl", join '', map { "$_\n" } @mixed);

($rc, $err) = relabel('mixed', @fast, '-e', "$url/clean/v1/chat/completions",
                      "$dir/mixed.jsonl", "$dir/mixed.out.jsonl");
is($rc, 1, 'rejects: exit 1 when rows were rejected') or diag($err);

my $mo = lines_of("$dir/mixed.out.jsonl");
is(scalar @$mo, 3, 'rejects: 3 rows relabeled');
is(check_row($rows->[0], $mo->[0] // ''), '', 'rejects: line 1 relabeled');
is(check_row($rows->[6], $mo->[1] // ''), '', 'rejects: line 6 appended');
is(check_row($rows->[2], $mo->[2] // ''), '', 'rejects: line 8 tool call');

my @rj = map { decode_json($_) } @{lines_of("$dir/mixed.out.rejects.jsonl")};
is_deeply([map { $_->{line} } @rj], [2, 3, 5, 7],
          'rejects: lines 2, 3, 5, 7 rejected, in order');
is($rj[0]{error}, 'invalid JSON', 'rejects: malformed line: invalid JSON');
is($rj[0]{record}, $mixed[1], 'rejects: the record is the original line');
is($rj[0]{attempts}, 0, 'rejects: a malformed line is never sent');
is($rj[1]{status}, 400, 'rejects: the 400 has its status');
is($rj[1]{attempts}, 1, 'rejects: a 400 is not retried');
like($rj[1]{error}, qr/^HTTP 400: the mock refuses this row/,
     'rejects: the 400 has the error message');
is($rj[2]{error}, 'no messages', 'rejects: empty messages');
is($rj[3]{error}, 'not a JSON object', 'rejects: not an object');
like($err, qr/check: IN lines 1-8: 3 in OUT \+ 4 rejected \+ 1 blank = 8: ok/,
     'rejects: output + rejects + blank = input');
like($err, qr/line 3: rejected after 1 attempt: HTTP 400/,
     'rejects: logged');

($rc, $err) = relabel('mixed2', @fast, '-e', "$url/clean/v1/chat/completions",
                      "$dir/mixed.jsonl", "$dir/mixed.out.jsonl");
is($rc, 1, 'rejects: a re-run still reports the rejects');
like($err, qr/resuming after line 8 \(3 in OUT, 4 rejected, 1 blank\)/,
     'rejects: a re-run counts the rejects file');
like($err, qr/this run 0 rows .* 0 requests/, 'rejects: nothing re-sent');

# 5b. a lone surrogate: the module's JSON rules refuse it, so the row is
# rejected here before any request (sent, it would come back HTTP 400)

my $lone = '{"messages": [{"role": "user", '
           . '"content": "please-fail-400 \udc00"}]}';
spew("$dir/lone.jsonl", "$rows->[0]{line}\n$lone\n");

($rc, $err) = relabel('lone', @fast, '-e', "$url/clean/v1/chat/completions",
                      "$dir/lone.jsonl", "$dir/lone.out.jsonl");
is($rc, 1, 'lone surrogate: exit 1, a row rejected') or diag($err);
like($err, qr/; 1 requests,/, 'lone surrogate: only the other row was sent');

my @lj = map { decode_json($_) } @{lines_of("$dir/lone.out.rejects.jsonl")};
is_deeply([map { $_->{line} } @lj], [2], 'lone surrogate: line 2 rejected');
is($lj[0]{error}, 'invalid JSON', 'lone surrogate: invalid JSON');
is($lj[0]{attempts}, 0, 'lone surrogate: never sent');
ok(!exists $lj[0]{status}, 'lone surrogate: no HTTP status');

# 6. Retry-After is honoured

spew("$dir/ra.jsonl", join '', map { "$rows->[$_]{line}\n" } 0 .. 2);
($rc, $err) = relabel('ra', '-v', '-c', '1',
                      '-e', "$url/ra/v1/chat/completions",
                      "$dir/ra.jsonl", "$dir/ra.out.jsonl");
is($rc, 0, 'retry-after: exit 0') or diag($err);
my @waits = $err =~ /HTTP 429: .* retrying in (\d+) ms \(Retry-After\)/g;
ok(@waits > 0, 'retry-after: a 429 with Retry-After was retried');
ok(!grep({ $_ < 1000 } @waits), "retry-after: waits >= 1000 ms (@waits)");
is(count_lines("$dir/ra.out.jsonl"), 3, 'retry-after: all rows written');

# 7. an endpoint that is down: stop, reject nothing, resume later

my $dead = free_port();
($rc, $err) = relabel('dead', '--backoff', '0.01', '--retries', '1',
                      '--max-consecutive-failures', '3',
                      '-e', "http://127.0.0.1:$dead/v1/chat/completions",
                      $in, "$dir/dead.jsonl");
is($rc, 4, 'endpoint down: exit 4') or diag($err);
like($err, qr/3 rows in a row failed/, 'endpoint down: says why');
ok(!-e "$dir/dead.rejects.jsonl", 'endpoint down: nothing rejected');

($rc, $err) = relabel('dead2', @fast, '-e', "$url/clean/v1/chat/completions",
                      $in, "$dir/dead.jsonl");
is($rc, 0, 'endpoint back: exit 0') or diag($err);
ok(slurp("$dir/dead.jsonl") eq slurp("$dir/full.jsonl"),
   'endpoint back: complete output');

# the 429s (rarer than the 500s: counted over all runs)

($n429) = injected();
ok($n429 > 0, "nginx answered 429 from limit_req ($n429 times)");

# 8. --overwrite: never with OUT == IN; else starts again

my $in_before = slurp($in);
($rc, $err) = relabel('same', '--overwrite', $in, $in);
is($rc, 2, '--overwrite: OUT == IN refused');
like($err, qr/OUT is the same file as IN/, '--overwrite: says why');
ok(slurp($in) eq $in_before, '--overwrite: IN untouched');

($rc, $err) = relabel('over', '--overwrite', '-e',
                      "$url/clean/v1/chat/completions", $in,
                      "$dir/full.jsonl");
is($rc, 0, '--overwrite: exit 0') or diag($err);
like($err, qr/this run 1000 rows/, '--overwrite: all rows done again');
ok(slurp("$dir/full.jsonl") eq $before, '--overwrite: same output');

# 9. the README's usage is --help

my $readme = slurp("$root/tools/relabel/README.md") // '';
my ($usage) = $readme =~ /^## Usage\n\n```\n(.*?)```$/ms;
my $help = `'$bin' --help`;
ok(defined $usage && $usage eq $help, 'README usage matches --help');

# nginx itself had no trouble

my $elog = slurp("$dir/error.log") // '';
unlike($elog, qr/\[(alert|crit|emerg)\]/, 'no alerts in the nginx error log');

done_testing();
