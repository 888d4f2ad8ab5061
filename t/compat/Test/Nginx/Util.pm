package Test::Nginx::Util;

# A small Test::Nginx-compatible runner for ngx_http_moa_module.
#
# It is used only when the real Test::Nginx (openresty/test-nginx, on CPAN,
# not packaged by Debian) is absent: the Makefile then runs
# `prove -I t/compat t/*.t`.  The test files are the same for both runners.
#
# This half owns the nginx side: settings (functions and TEST_NGINX_* env
# vars), $TEST_NGINX_* expansion, the server root, the generated nginx.conf,
# starting and stopping nginx, the block loop and reading the logs.
# Test::Nginx::Socket owns the requests and the checks.  See t/compat/README.md
# for what is supported and where it differs from the real one.

use strict;
use warnings;

use base 'Exporter';

use File::Path qw(make_path remove_tree);
use File::Spec ();
use IO::Socket::INET ();
use List::Util qw(shuffle);
use POSIX qw(SIGKILL SIGQUIT SIGTERM);
use Test::LongString ();
use Test::More ();
use Time::HiRes qw(sleep);

our $VERSION = '0.33';

our @EXPORT = qw(
    run_tests run_test repeat_each no_shuffle no_long_string no_root_location
    workers worker_connections log_level master_on master_off
    master_process_enabled env_to_nginx config_preamble timeout
    server_addr server_name server_port server_port_for_client server_root
    html_dir check_accum_error_log add_block_preprocessor add_cleanup_handler
    add_test_cleanup_handler bail_out expand_env_in_text parse_time
    parse_headers is_str trim sleep_time verbose error_log_data
    access_log_data get_nginx_version is_running get_pid_from_pidfile
);

sub bail_out (@);

# ---------------------------------------------------------------------------
# settings: same names, defaults and environment variables as the real one

our $NginxBinary          = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $LoadModules          = $ENV{TEST_NGINX_LOAD_MODULES};
our $Workers              = 1;
our $WorkerConnections    = 64;
our $LogLevel             = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $DaemonEnabled        = 'on';
our $ServerAddr           = '127.0.0.1';
our $ServerName           = 'localhost';
our $ServerPort           = $ENV{TEST_NGINX_SERVER_PORT}
                            || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerPortForClient  = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
our $Timeout              = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $RepeatEach           = 1;
our $NoShuffle            = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $NoRootLocation       = 0;
our $NoLongString;
our $TestNginxSleep       = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $Verbose              = $ENV{TEST_NGINX_VERBOSE};
our $CheckAccumErrLog     = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $EventType            = $ENV{TEST_NGINX_EVENT_TYPE};
our $WorkerUser           = $ENV{TEST_NGINX_WORKER_USER};
our $Randomize            = $ENV{TEST_NGINX_RANDOMIZE};
our $ForceRestartOnTest   = $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST} // 1;
our $ConfigPreamble       = '';

our (@EnvToNginx, @BlockPreprocessors, @CleanupHandlers, @TestCleanupHandlers);

# set by Test::Nginx::Socket: runs the requests and checks of one block
our $RunTestHelper;

# per-run state
our $RandPorts = {};        # $TEST_NGINX_RAND_PORT_N of the current block
our $PrevConfig;            # expanded --- config of the running nginx
our $NginxPid;              # the nginx we started last
our $ErrLogFilePos = 0;     # error.log offset where the next check starts
our $NginxVersion;
my  $MainPid = $$;

if ($Randomize) {
    $ServerPort = gen_rand_port({})
        or bail_out("Cannot find an available listening port number");
    $ServerPortForClient = $ServerPort;
}

our $ServRoot = $Randomize
    ? File::Spec->rel2abs("t/servroot_$ServerPort")
    : ($ENV{TEST_NGINX_SERVROOT} || File::Spec->rel2abs('t/servroot'));
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $LogDir     = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $HtmlDir    = "$ServRoot/html";
our $ConfDir    = "$ServRoot/conf";
our $ConfFile   = "$ConfDir/nginx.conf";
our $PidFile    = "$LogDir/nginx.pid";
our $CacheDir   = "$ServRoot/cache";

# the test modes of the real one that this runner does not have
for my $v (qw(USE_HUP USE_VALGRIND USE_STAP CHECK_LEAK BENCHMARK USE_HTTP2
              USE_HTTP3 USE_RR))
{
    warn "WARNING: TEST_NGINX_$v is not supported by the compat runner "
         . "(t/compat); ignored\n" if $ENV{"TEST_NGINX_$v"};
}

# an interrupted run still stops its nginx (END blocks run on exit)
my %SigNum = (HUP => 1, INT => 2, TERM => 15);
for my $sig (keys %SigNum) {
    $SIG{$sig} //= sub { exit 128 + $SigNum{$sig} };
}

# ---------------------------------------------------------------------------
# setters and getters (called by the test files before run_tests)

sub repeat_each (@)   { $RepeatEach = shift if @_; $RepeatEach }
sub workers (@)       { @_ ? ($Workers = shift) : $Workers }
sub worker_connections (@) {
    @_ ? ($WorkerConnections = shift) : $WorkerConnections
}
sub log_level (@)     { @_ ? ($LogLevel = shift) : $LogLevel }
sub timeout (@)       { @_ ? ($Timeout = shift) : $Timeout }
sub server_addr (@)   { @_ ? ($ServerAddr = shift) : $ServerAddr }
sub server_name (@)   { @_ ? ($ServerName = shift) : $ServerName }
sub server_port (@)   { @_ ? ($ServerPort = shift) : $ServerPort }
sub server_port_for_client (@) {
    @_ ? ($ServerPortForClient = shift) : $ServerPortForClient
}
sub server_root ()    { $ServRoot }
sub html_dir ()       { $HtmlDir }
sub sleep_time ()     { $TestNginxSleep }
sub verbose ()        { $Verbose }
sub no_shuffle ()     { $NoShuffle = 1 }
sub no_long_string () { $NoLongString = 1 }
sub no_root_location () { $NoRootLocation = 1 }
sub master_on ()      { $MasterProcessEnabled = 'on' }
sub master_off ()     { $MasterProcessEnabled = 'off' }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub config_preamble ($) { $ConfigPreamble = shift }

sub master_process_enabled (@) {
    return $MasterProcessEnabled if !@_;
    $MasterProcessEnabled = shift() ? 'on' : 'off';
}

sub env_to_nginx (@) {
    die "env_to_nginx: no arguments specified\n" if !@_;
    for my $v (@_) {
        die "env_to_nginx: bad argument value: $v\n"
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_cleanup_handler ($)    { unshift @CleanupHandlers, shift }
sub add_test_cleanup_handler ($) { unshift @TestCleanupHandlers, shift }

# ---------------------------------------------------------------------------
# small helpers

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(join '', @_);
}

sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    return Test::More::like($got, $expected, $desc)
        if ref $expected && ref $expected eq 'Regexp';
    return Test::More::is($got, $expected, $desc) if $NoLongString;
    return Test::LongString::is_string($got, $expected, $desc);
}

# "500ms" -> 0.5, "2s" -> 2, "1.5" -> 1.5
sub parse_time ($) {
    my $tm = shift;
    return $tm if !defined $tm;
    if ($tm =~ s/([^_a-zA-Z])ms$/$1/) {
        $tm /= 1000;
    } else {
        $tm =~ s/([^_a-zA-Z])s$/$1/;
    }
    return $tm;
}

sub trim ($) {
    my $s = shift;
    return undef if !defined $s;
    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\n/ /gs;
    $s =~ s/\s{2,}/ /gs;
    return $s;
}

# "Name: value" lines -> { Name => value }; "!Name" -> { Name => undef }
sub parse_headers ($) {
    my $s = shift;
    my %headers;
    for my $line (split /\n/, $s) {
        $line =~ s/^\s+|\s+$//g;
        if ($line =~ s/^!\s*//) {
            $headers{$line} = undef;
        } else {
            my ($key, $val) = split /\s*:\s*/, $line, 2;
            $headers{$key} = $val;
        }
    }
    return \%headers;
}

# replace $TEST_NGINX_FOO by $ENV{TEST_NGINX_FOO}; $TEST_NGINX_RAND_PORT_N
# by a free port, the same one for the same N within a block
sub expand_env_in_text ($$$) {
    my ($text, $name, $rand_ports) = @_;
    return $text if !defined $text || ref $text;

    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        my $val;
        if ($var =~ /^TEST_NGINX_RAND_PORT_[0-9]+$/) {
            if (!defined $rand_ports->{$var}) {
                my %used = map { $_ => 1 } $ServerPort, values %$rand_ports;
                $rand_ports->{$var} = gen_rand_port(\%used)
                    // bail_out("$name - Cannot find an available "
                                . "listening port number for $var.\n");
            }
            $val = $rand_ports->{$var};
        } else {
            $val = $ENV{$var}
                // bail_out("$name - No environment $var defined.\n");
        }
        $val;
    }eg;

    return $text;
}

# a port nobody listens on (same range as the real one)
sub gen_rand_port {
    my ($used) = @_;
    for (1 .. 1000) {
        my $port = int(rand 63547) + 1988;
        next if $used->{$port};
        # nginx binds the wildcard address: probe the same way
        my $sock = IO::Socket::INET->new(LocalPort => $port, Proto => 'tcp',
                                         Listen => 1, ReuseAddr => 1);
        if ($sock) {
            close $sock;
            return $port;
        }
    }
    return undef;
}

sub get_nginx_version () {
    my $out = `$NginxBinary -V 2>&1`;
    if (!defined $out || $? != 0) {
        bail_out("Failed to run \"$NginxBinary -V\" (set TEST_NGINX_BINARY): "
                 . ($out // ''));
    }
    $out =~ m{nginx/(\d+)\.(\d+)\.(\d+)}
        or bail_out("Failed to parse the output of \"nginx -V\": $out\n");
    return sprintf "%d.%03d%03d", $1, $2, $3;
}

# ---------------------------------------------------------------------------
# the nginx process

# alive and not a zombie (init may be slow to reap a daemon)
sub is_running ($) {
    my $pid = shift;
    return 0 if !$pid || !kill 0, $pid;
    if (open my $in, '<', "/proc/$pid/stat") {
        my $stat = <$in> // '';
        return 0 if $stat =~ /^\d+ \(.*\) [ZX]/s;
    }
    return 1;
}

# only ever signal an nginx started on this server root
sub is_our_nginx ($) {
    my $pid = shift;
    return 0 if !is_running($pid);
    open my $in, '<', "/proc/$pid/cmdline" or return 1;   # no procfs
    my $cmd = do { local $/; <$in> } // '';
    $cmd =~ tr/\0/ /;
    return $cmd =~ /nginx/ && index($cmd, $ServRoot) >= 0;
}

sub get_pid_from_pidfile ($) {
    open my $in, '<', $PidFile or return undef;
    my $pid = <$in>;
    close $in;
    return undef if !defined $pid || $pid !~ /^\s*(\d+)\s*$/;
    return $1;
}

sub kill_process ($$) {
    my ($pid, $name) = @_;

    kill $ENV{TEST_NGINX_FAST_SHUTDOWN} ? SIGTERM : SIGQUIT, $pid;

    my $left = timeout();
    while ($left > 0 && is_running($pid)) {
        sleep 0.01;
        $left -= 0.01;
    }
    return if !is_running($pid);

    warn "$name - WARNING: nginx $pid did not exit in time, killing it\n";
    # a daemonized nginx leads its own process group: take its workers too
    my $pgrp = getpgrp($pid);
    kill SIGKILL, (defined $pgrp && $pgrp == $pid) ? -$pid : $pid;
    for (1 .. 100) {
        last if !is_running($pid);
        sleep 0.01;
    }
}

sub stop_nginx ($) {
    my $name = shift;
    for my $pid (get_pid_from_pidfile($name), $NginxPid) {
        kill_process($pid, $name) if $pid && is_our_nginx($pid);
    }
    undef $NginxPid;
    unlink $PidFile;
}

# is someone listening on $port (IPv4 or IPv6)?  Read from procfs so that
# no connection shows up in the error log.
sub is_tcp_port_listening ($) {
    my $port = shift;
    for my $file ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $in, '<', $file or next;
        while (<$in>) {
            return 1 if /^\s*\d+: [0-9A-F]+:([0-9A-F]+) [0-9A-F]+:[0-9A-F]+ 0A /
                        && hex($1) == $port;
        }
    }
    return 0;
}

sub start_nginx ($) {
    my $name = shift;

    my $cmd = "$NginxBinary -p $ServRoot/ -c $ConfFile -e $ErrLogFile"
              . " > /dev/null";

    for my $try (1 .. 5) {
        warn "$name - $cmd\n" if $Verbose;
        system($cmd);
        last if $? == 0;

        my $status = $?;
        my $log = '';
        if (open my $in, '<', $ErrLogFile) {
            $log = join '', grep { /\[(?:emerg|alert|crit)\]/ } <$in>;
        }
        # a previous nginx (or another test run) may still hold the port
        if ($log =~ /Address already in use/ && $try < 5) {
            warn "$name - port $ServerPort is in use, retrying\n";
            sleep 0.5 * $try;
            next;
        }
        Test::More::diag($log) if $log ne '';
        bail_out("$name - Cannot start nginx using command \"$cmd\" "
                 . "(status code $status).");
    }

    # the daemon writes its pid file after the parent returned
    for (1 .. 500) {
        my $pid = get_pid_from_pidfile($name);
        if ($pid && is_running($pid) && is_tcp_port_listening($ServerPort)) {
            $NginxPid = $pid;
            sleep $TestNginxSleep;
            return;
        }
        sleep 0.01;
    }
    bail_out("$name - nginx did not come up (no pid file or not listening "
             . "on port $ServerPort); see $ErrLogFile");
}

# ---------------------------------------------------------------------------
# the server root and nginx.conf

sub setup_server_root () {
    if (-d $ServRoot) {
        # remove only what we create: a mis-set TEST_NGINX_SERVROOT holding
        # anything else makes the rmdir fail instead of wiping it
        remove_tree($ConfDir, $HtmlDir, $LogDir, $CacheDir,
                    glob("$ServRoot/*_temp"), glob("$ServRoot/*_cache"));
        rmdir $ServRoot
            or bail_out("Can't remove $ServRoot (not empty?): $!");
    }
    make_path($ServRoot, $LogDir, $HtmlDir, $ConfDir);
    -d $ConfDir or bail_out("Failed to create $ServRoot: $!");

    my $index = "$HtmlDir/index.html";
    open my $out, '>', $index or bail_out("Can't open $index for writing: $!");
    print $out '<html><head><title>It works!</title></head>'
               . '<body>It works!</body></html>';
    close $out;
}

# --- user_files: ">>> path [touch -t date]" followed by the content
sub write_user_files ($) {
    my $block = shift;
    my $name = $block->name;
    my $files = $block->user_files;
    return if !$files;

    if (!ref $files) {
        my @list;
        for my $line (split /^/, $files) {
            if ($line =~ />>> (\S+)(?:\s+(.+))?/) {
                push @list, [$1, undef, $2];
            } elsif (@list) {
                $list[-1][1] .= $line;
            }
        }
        $files = \@list;
    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - wrong value type: ", ref $files,
                 ", only scalar or ARRAY are accepted");
    }

    for my $file (@$files) {
        my ($fname, $body, $date) = @$file;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        if ($path =~ m{(.*)/} && !-d $1) {
            make_path($1) or bail_out("$name - Cannot create directory $1");
        }
        $body = expand_env_in_text($body // '', $name, $RandPorts);
        open my $out, '>', $path
            or bail_out("$name - Cannot open $path for writing: $!\n");
        binmode $out;
        print $out $body;
        close $out;
        if ($date) {
            system("TZ=GMT touch -t '$date' '$path'") == 0
                or bail_out("$name - touch -t '$date' '$path' failed\n");
        }
    }
}

sub write_config_file ($$) {
    my ($block, $config) = @_;
    my $name = $block->name;

    my $http_config = expand_env_in_text($block->http_config, $name,
                                         $RandPorts) // '';
    my $main_config = expand_env_in_text($block->main_config, $name,
                                         $RandPorts) // '';
    my $post_main_config = expand_env_in_text($block->post_main_config,
                                              $name, $RandPorts) // '';
    my $err_log_file = expand_env_in_text($block->error_log_file, $name,
                                          $RandPorts) || $ErrLogFile;
    my $server_name = $block->server_name // $ServerName;
    $config //= '';

    # one "load_module" per TEST_NGINX_LOAD_MODULES entry, before the rest
    if ($LoadModules) {
        my @mods = map { "load_module $_;" } grep { $_ } split /\s+/,
                   $LoadModules;
        $main_config = join ' ', @mods, $main_config;
    }

    my $temp_paths = '';
    for my $t (qw(client_body proxy fastcgi scgi uwsgi)) {
        $temp_paths .= " ${t}_temp_path $ServRoot/${t}_temp;"
            if $http_config !~ /\b${t}_temp_path\b/;
    }

    my $env = '';
    for my $v (qw(LD_PRELOAD LD_LIBRARY_PATH ASAN_OPTIONS), @EnvToNginx) {
        $env .= $v =~ /\s/ ? "env '$v';\n" : "env $v;\n";
    }

    my $root_location = $NoRootLocation ? '' : <<_EOC_;
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_

    my $user = defined $WorkerUser ? "user $WorkerUser;\n"
             : $> == 0             ? "user root;\n"
             :                       '';
    my $use_events = $EventType ? "    use $EventType;\n" : '';

    open my $out, '>', $ConfFile
        or bail_out("Can't open $ConfFile for writing: $!\n");
    print $out <<_EOC_;
worker_processes  $Workers;
daemon $DaemonEnabled;
master_process $MasterProcessEnabled;
error_log $err_log_file $LogLevel;
pid       $PidFile;
$env
$main_config

http {
    access_log $AccLogFile;$temp_paths

    default_type text/plain;
    keepalive_timeout  68000ms;

$http_config
    server {
        listen          $ServerPort;
        server_name     '$server_name';
        client_max_body_size 30M;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_location    }
}

$post_main_config

events {
    accept_mutex off;
    worker_connections  $WorkerConnections;
$use_events}
$user
_EOC_
    close $out;
}

# ---------------------------------------------------------------------------
# logs

# error.log lines written since the previous check of this block (or all of
# them with check_accum_error_log)
sub error_log_data () {
    # log-phase lines are written after nginx sent the response
    sleep $TestNginxSleep * 3;

    open my $in, '<', $ErrLogFile or return [];
    seek $in, $ErrLogFilePos, 0 if !$CheckAccumErrLog && $ErrLogFilePos;
    my @lines = <$in>;
    $ErrLogFilePos = tell $in if !$CheckAccumErrLog;
    close $in;
    return \@lines;
}

sub access_log_data () {
    sleep $TestNginxSleep * 3;
    open my $in, '<', $AccLogFile or return [];
    my @lines = <$in>;
    close $in;
    return \@lines;
}

# ---------------------------------------------------------------------------
# the block loop

# sections of the real Test::Nginx this runner does not implement: refuse
# them loudly rather than pass a test that would fail under the real one
my %Unsupported = map { $_ => 1 } qw(
    http2 http3 http09 stap stap_out stap_out_like stap_out_unlike
    tcp_listen tcp_reply tcp_query tcp_query_len udp_listen udp_reply
    udp_query must_die reload_fails shutdown_error_log no_shutdown_error_log
    response_body_filters curl curl_error curl_options charset
    skip_nginx2 skip_openssl skip_slave todo todo_nginx
    post_setup_server_root write_resp_body_file
);

# (number of tests, reason) when --- skip_nginx / --- skip_eval apply
sub skip_spec ($) {
    my $block = shift;
    my $name = $block->name;

    if (defined(my $spec = $block->skip_eval)) {
        $spec =~ /^\s*(\d+)\s*:\s*(.*)/s
            or bail_out("$name - Invalid --- skip_eval spec: $spec");
        my ($n, $code) = ($1, $2);
        my $skip = eval $code;
        bail_out("$name - skip_eval - failed to eval \"$code\": $@") if $@;
        return $skip ? ($n, 'skip_eval') : ();
    }

    if (defined(my $spec = $block->skip_nginx)) {
        $spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)
                  (?:\s*:\s*(.*))?\s*$/x
            or bail_out("$name - Invalid --- skip_nginx spec: $spec");
        my ($n, $op, $reason) = ($1, $2, $6);
        my $ver = sprintf "%d.%03d%03d", $3, $4, $5;
        my %cmp = ('<' => sub { $_[0] < $_[1] }, '<=' => sub { $_[0] <= $_[1] },
                   '>' => sub { $_[0] > $_[1] }, '>=' => sub { $_[0] >= $_[1] });
        return $cmp{$op}->($NginxVersion, $ver)
            ? ($n, $reason || "nginx version $op $3.$4.$5") : ();
    }

    return ();
}

sub run_tests () {
    srand($$ ^ int(Time::HiRes::time() * 1000000));
    $NginxVersion = get_nginx_version();
    $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort
        if $Randomize || !defined $ENV{TEST_NGINX_SERVER_PORT};

    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks if !$NoShuffle;

    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value(name => "$0 " . $block->name);
        run_test($block);
        $_->($block) for @TestCleanupHandlers;
    }

    cleanup();
}

sub run_test ($) {
    my $block = shift;
    return if defined $block->SKIP;

    my $name = $block->name;

    for my $section (sort keys %$block) {
        bail_out("$name - --- $section is not supported by the compat "
                 . "runner (t/compat); install the real Test::Nginx")
            if $Unsupported{$section};
    }

    $RandPorts = {};
    my $config = expand_env_in_text($block->config, $name, $RandPorts);

    local $LogLevel = $block->log_level || $LogLevel;

    my ($skip_n, $skip_reason) = skip_spec($block);

    # Like the real one: a block with --- config gets a freshly started
    # nginx (unless TEST_NGINX_FORCE_RESTART_ON_TEST=0 and the config did
    # not change); a block without one reuses the previous block's nginx.
    my $restart;
    if (!defined $config) {
        bail_out("$name - No '--- config' section specified and could not "
                 . "get previous one.") if !defined $PrevConfig;
        $restart = 0;
    } else {
        $restart = $ForceRestartOnTest || !defined $PrevConfig
                   || $config ne $PrevConfig;
    }

    if ($restart && !$skip_n) {
        $PrevConfig = $config;
        stop_nginx($name);
        setup_server_root();
        write_user_files($block);
        write_config_file($block, $config);
        start_nginx($name);
        # startup lines count as this block's, as in the real one
        $ErrLogFilePos = 0;
    } else {
        # checks only look at what this block makes nginx log
        $ErrLogFilePos = -s $ErrLogFile || 0;
    }

    if (defined $block->init) {
        eval $block->init;
        bail_out("$name - init failed: $@") if $@;
    }

    for my $i (0 .. $RepeatEach - 1) {
        if ($skip_n) {
            SKIP: { Test::More::skip("$name - $skip_reason", $skip_n) }
            next;
        }
        write_user_files($block) if $i > 0;
        $RunTestHelper->($block, $i);
    }
}

sub cleanup () {
    $_->() for @CleanupHandlers;
}

END {
    if ($$ == $MainPid) {
        local $?;   # keep Test::Builder's exit status
        cleanup();
        if (!$ENV{TEST_NGINX_NO_CLEAN}) {
            stop_nginx('END');
            remove_tree($ServRoot)
                if $Randomize && $ServRoot =~ m{/t/servroot_\d+$};
        }
    }
}

1;
