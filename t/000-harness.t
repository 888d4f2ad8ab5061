# Self-test of the test harness: exercises the Test::Nginx::Socket sections
# the project's tests use, with plain nginx only (no njs, no moa module), so
# that it passes unchanged under the real Test::Nginx and under the compat
# runner in t/compat, with the same number of tests.

use Test::Nginx::Socket;
use IO::Socket::INET;

# An upstream that accepts connections (in the kernel's backlog) but never
# answers: a request proxied to it hangs until the client gives up.
my $silent = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                   Listen => 16, Proto => 'tcp')
    or die "cannot open the silent listener: $!";
$ENV{TEST_NGINX_HARNESS_SILENT_PORT} = $silent->sockport;

repeat_each(2);
no_shuffle();
env_to_nginx("HARNESS_ENV=1");

# every block checks for [alert] and [crit] unless it lists its own patterns
add_block_preprocessor(sub {
    my $block = shift;
    if (!defined $block->no_error_log) {
        $block->set_value("no_error_log", "[alert]\n[crit]");
    }
});

# a custom section, checked on every response body
add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    my $lacks = $block->body_lacks;
    return if !defined $lacks;
    unlike($body // '', qr/\Q$lacks\E/,
           $block->name . " - body lacks \"$lacks\"");
});

# tests per repetition of each block: status + headers + body + custom
# check + error log patterns (error_log, no_error_log, grep_error_log)
#    1: 1+3+1+3=8     2: 1+2+1+2=6     3: 1+1+1+2=5     4: 1+1+1+2+2=7
#    5: 1+1+3=5       6: 1+1+2+2=6     7: 1+1+2=4       8: 1+1+2=4
#    9: 1+3+1+2=7    10: 3*(1+1+1+2)=15 (one log check per response)
#   11: 1+1+2=4      12: 2*(1+1+2)=8   13: 1+1+2=4     14: 1+1+2=4
#   15: 1+1+1+1+2=6  16: 1+2=3 (ignore_response)       18: 1+1+2=4
#   17 (SKIP) and 19 (after LAST) do not run
plan tests => repeat_each() * 100;

run_tests();

__DATA__

=== TEST 1: return, add_header, response_headers, no_error_log lines
--- config
    location = /t {
        add_header X-Harness "yes";
        return 200 "hello\n";
    }
--- request
GET /t
--- response_headers
X-Harness: yes
Content-Type: text/plain
!X-Absent
--- response_body
hello
--- no_error_log
[error]
[alert]
[crit]



=== TEST 2: http_config, more_headers, comments, response_headers_like
--- http_config
    map $http_x_who $greeting {
        default  "stranger";
        alice    "friend";
    }
--- config
    location = /greet {
        return 200 "hello $greeting, $http_x_extra\n";
    }
--- more_headers
X-Who: alice
# a comment line in more_headers is not sent
X-Extra: two words
--- request
# a leading comment line is not sent
GET /greet
--- response_body_like: ^hello friend, two words$
--- response_headers_like
Server: nginx/\d+\.\d+\.\d+
Content-Length: \d+



=== TEST 3: a block without --- config reuses the previous nginx
--- request
GET /greet
--- response_body_unlike: friend
--- body_lacks: alice



=== TEST 4: error_code, error_log lines, grep_error_log
--- config
    location /missing/ {
        root /nonexistent-harness-root;
    }
--- request
GET /missing/file.txt
--- error_code: 404
--- response_body_like: 404 Not Found
--- error_log
open() "/nonexistent-harness-root/missing/file.txt" failed
No such file or directory
--- grep_error_log eval: qr/open\(\) "[^"]+" failed/
--- grep_error_log_out
open() "/nonexistent-harness-root/missing/file.txt" failed
--- no_error_log
[alert]
[crit]



=== TEST 5: log_level, main_config, no_error_log eval array
--- main_config
    error_log logs/main.log notice;
--- config
    location = /mainlog {
        alias logs/main.log;
    }
--- log_level: warn
--- request
GET /mainlog
--- response_body_like: \[notice\] \d+#\d+: nginx/\d+\.\d+\.\d+
--- no_error_log eval
[qr/\[(?:notice|info|debug)\]/, "[error]", "[alert]"]



=== TEST 6: error_log eval array of qr// and strings
--- config
    rewrite_log on;
    location /old/ {
        rewrite ^/old/(.*)$ /new/$1 last;
    }
    location /new/ {
        return 200 "new: $uri\n";
    }
--- request
GET /old/page
--- response_body
new: /new/page
--- error_log eval
[qr/"\^\/old\/\(\.\*\)\$" matches "\/old\/page"/,
 'rewritten data: "/new/page"']



=== TEST 7: multi-line request body gets a Content-Length and is trimmed
--- config
    location = /echo {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/back;
    }
    location = /back {
        return 200 "$request_method $http_content_length\n";
    }
--- request
POST /echo
hello
world
--- response_body
POST 11



=== TEST 8: request eval, body echoed through a header
--- config
    location = /echo {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/back;
        proxy_set_header X-Body $request_body;
    }
    location = /back {
        return 200 "$http_content_length $http_x_body\n";
    }
--- request eval
"POST /echo\n" . ("x" x 10) . "\n\n"
--- response_body
10 xxxxxxxxxx



=== TEST 9: chunked response (SSI), user_files, raw_response_headers_like
--- user_files
>>> ssi/page.html
[<!--# echo var="arg_name" default="nobody" -->]
--- config
    location /ssi/ {
        ssi on;
    }
--- request
GET /ssi/page.html?name=harness
--- response_headers
Transfer-Encoding: chunked
!Content-Length
--- raw_response_headers_like: Transfer-Encoding: chunked\r\n
--- response_body
[harness]



=== TEST 10: pipelined_requests, one response each, chunked in the middle
--- user_files
>>> ssi/page.html
[<!--# echo var="arg_name" default="nobody" -->]
>>> plain.txt
plain file
--- config
    location /ssi/ {
        ssi on;
    }
--- pipelined_requests eval
["GET /ssi/page.html?name=p1", "GET /plain.txt", "GET /ssi/page.html"]
--- response_body eval
["[p1]\n", "plain file\n", "[nobody]\n"]
--- response_headers eval
["Transfer-Encoding: chunked", "Content-Length: 11", "!Content-Length"]



=== TEST 11: chunked request body
--- config
    location = /echo {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/back;
    }
    location = /back {
        return 200 "$request_method $http_content_length\n";
    }
--- more_headers
Transfer-Encoding: chunked
--- request eval
"POST /echo\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
--- response_body
POST 11



=== TEST 12: several requests, each on its own connection
--- config
    location = /a { return 200 "A\n"; }
    location = /b { return 201 "B\n"; }
--- request eval
["GET /a", "GET /b"]
--- error_code eval
[200, 201]
--- response_body eval
["A\n", "B\n"]



=== TEST 13: raw_request in packets, raw_request_middle_delay
--- config
    location = /raw {
        return 200 "raw $server_protocol $http_x_raw\n";
    }
--- raw_request eval
["GET /raw HTTP/1.0\r\nHost: localhost\r\n", "X-Raw: split\r\n\r\n"]
--- raw_request_middle_delay: 0.05
--- response_body
raw HTTP/1.0 split



=== TEST 14: HEAD, error_code_like, empty body
--- config
    location = /t {
        return 200 "hello\n";
    }
--- request
HEAD /t
--- error_code_like: ^2\d\d$
--- response_body chomp



=== TEST 15: $ServerPort, $TEST_NGINX_* and helpers in expectations
--- config
    location = /where {
        return 200 "port=$server_port root=$document_root\n";
    }
--- request
GET /where
--- response_body
port=$ServerPort root=$TEST_NGINX_SERVER_ROOT/html
--- response_headers eval
"Content-Length: " . length("port=" . Test::Nginx::Socket::server_port() . " root="
                            . Test::Nginx::Socket::html_dir() . "\n")
--- body_lacks: nginx.conf



=== TEST 16: abort: the client gives up after the timeout, not a failure
--- config
    location = /slow {
        proxy_pass http://127.0.0.1:$TEST_NGINX_HARNESS_SILENT_PORT;
        proxy_read_timeout 10s;
    }
--- request
GET /slow
--- timeout: 0.3
--- abort
--- ignore_response
--- wait: 0.1
--- error_log
client prematurely closed connection
--- no_check_leak



=== TEST 17: SKIP: never runs
--- SKIP
--- config
    location = /t {
        return 500;
    }
--- request
GET /t
--- response_body
this block would fail



=== TEST 18: LAST: the last block that runs
--- config
    location = /t {
        return 200 "last\n";
    }
--- request
GET /t
--- response_body
last
--- LAST



=== TEST 19: after LAST: never runs
--- config
    location = /t {
        return 500;
    }
--- request
GET /t
--- response_body
this block would fail
