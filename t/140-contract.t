# The request contract (issue 14): every known parameter checked for type
# and range before any provider call (400, OpenAI's param and code, the
# mock never called), unknown parameters per moa_unknown_params, a body
# that is not JSON told where it breaks, and X-Request-Id on every status
# a MoA or moa_models location answers, nginx's own error pages included.

use lib 't/lib';
use MoaTest;
use Test::Nginx::Socket 'no_plan';

moa_setup();
no_long_string();

our $M = '"messages":[{"role":"user","content":"hi"}]';

# [body after {"model":"moa-test-v1", ; param ; code]
our @CASES = (
    [qq~$M,"temperature":"hot"~, 'temperature', 'invalid_type'],
    [qq~$M,"temperature":5~, 'temperature', 'decimal_above_max_value'],
    [qq~$M,"temperature":-1~, 'temperature', 'decimal_below_min_value'],
    [qq~$M,"top_p":1.5~, 'top_p', 'decimal_above_max_value'],
    [qq~$M,"top_p":"x"~, 'top_p', 'invalid_type'],
    [qq~$M,"n":0~, 'n', 'invalid_value'],
    [qq~$M,"n":"2"~, 'n', 'invalid_type'],
    [qq~$M,"max_tokens":-1~, 'max_tokens', 'integer_below_min_value'],
    [qq~$M,"max_tokens":2.5~, 'max_tokens', 'invalid_type'],
    [qq~$M,"max_completion_tokens":0~, 'max_completion_tokens',
     'integer_below_min_value'],
    [qq~$M,"presence_penalty":2.5~, 'presence_penalty',
     'decimal_above_max_value'],
    [qq~$M,"frequency_penalty":-3~, 'frequency_penalty',
     'decimal_below_min_value'],
    [qq~$M,"stop":["a","b","c","d","e"]~, 'stop', 'array_above_max_length'],
    [qq~$M,"stop":7~, 'stop', 'invalid_type'],
    [qq~$M,"stop":["a",1]~, 'stop[1]', 'invalid_type'],
    [qq~$M,"stream":"yes"~, 'stream', 'invalid_type'],
    [qq~$M,"stream":true,"stream_options":{"include_usage":"yes"}~,
     'stream_options.include_usage', 'invalid_type'],
    [qq~$M,"tools":{}~, 'tools', 'invalid_type'],
    [qq~$M,"tools":[{"type":"function","function":{"name":"has space"}}]~,
     'tools[0].function.name', 'invalid_value'],
    [qq~$M,"tools":[{"type":"function"}]~, 'tools[0].function',
     'missing_required_parameter'],
    [qq~$M,"tools":[{"type":"function","function":{"name":"f","parameters":"x"}}]~,
     'tools[0].function.parameters', 'invalid_type'],
    [qq~$M,"tools":[{"type":"function","function":{"name":"f","strict":1}}]~,
     'tools[0].function.strict', 'invalid_type'],
    [qq~$M,"tool_choice":"always"~, 'tool_choice', 'invalid_value'],
    [qq~$M,"tool_choice":{"type":"function"}~, 'tool_choice.function',
     'missing_required_parameter'],
    [qq~$M,"response_format":{"type":"yaml"}~, 'response_format.type',
     'invalid_value'],
    [qq~$M,"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":[]}}~,
     'response_format.json_schema.schema', 'invalid_type'],
    [qq~$M,"logprobs":1~, 'logprobs', 'invalid_type'],
    [qq~$M,"top_logprobs":21~, 'top_logprobs', 'integer_above_max_value'],
    [qq~$M,"seed":1.5~, 'seed', 'invalid_type'],
    [qq~$M,"user":1~, 'user', 'invalid_type'],
    [qq~$M,"metadata":{"k":1}~, 'metadata.k', 'invalid_type'],
    [qq~$M,"metadata":{"k":"~ . ('v' x 513) . '"}', 'metadata.k',
     'string_above_max_length'],
    [qq~$M,"parallel_tool_calls":"no"~, 'parallel_tool_calls',
     'invalid_type'],
    [qq~$M,"reasoning_effort":"extreme"~, 'reasoning_effort',
     'invalid_value'],
    [qq~$M,"modalities":"text"~, 'modalities', 'invalid_type'],
    [qq~$M,"service_tier":5~, 'service_tier', 'invalid_type'],
    [qq~$M,"store":"yes"~, 'store', 'invalid_type'],
    [qq~$M,"web_search_options":true~, 'web_search_options', 'invalid_type'],
    [q~"messages":[{"role":"user","content":"a"},{"role":"robot","content":"b"}]~,
     'messages[1].role', 'invalid_value'],
    [q~"messages":[{"role":"user"}]~, 'messages[0].content',
     'missing_required_parameter'],
    [q~"messages":[{"role":"user","content":[{"type":"video"}]}]~,
     'messages[0].content[0].type', 'invalid_value'],
    [q~"messages":[{"role":"tool","content":"r"}]~,
     'messages[0].tool_call_id', 'missing_required_parameter'],
    [q~"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":{}}}]}]~,
     'messages[0].tool_calls[0].function.arguments', 'invalid_type'],
);

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', <<'_EOC_') unless defined $block->config;
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-test-v1 gpt-4o;
        client_max_body_size 4k;
    }

    location /v1/models {
        moa_models;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: every field's rejection: 400, param, code, X-Request-Id, and no provider call
--- request
POST /v1/chat/completions
{"model":"moa-test-v1","messages":[{"role":"user","content":"hi"}],"temperature":9}
--- error_code: 400
--- check
for my $c (@main::CASES) {
    my ($rest, $param, $code) = @$c;
    my $res = MoaTest::http('POST', '/v1/chat/completions',
                            qq~{"model":"moa-test-v1",$rest}~);
    is $res->{status}, 400, "$param: 400";
    my $r = eval { MoaTest::decode_json($res->{body}) } // {};
    is_deeply [sort keys %{ $r->{error} // {} }],
        [qw(code message param type)], "$param: the four keys";
    is $r->{error}{type}, 'invalid_request_error', "$param: type";
    is $r->{error}{param}, $param, "$param: param";
    is $r->{error}{code}, $code, "$param: code";
    like $r->{error}{message}, qr/\Q$param\E/, "$param: named in the message";
    like $res->{headers}{'x-request-id'} // '', qr/^[0-9a-f]{32}$/,
        "$param: X-Request-Id";
}
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 2: the same request, valid, does reach the provider (the count above can fail)
--- request
POST /v1/chat/completions
{"model":"moa-test-v1","messages":[{"role":"user","content":"hi"}],"temperature":1,"top_p":0.5,"max_tokens":20,"stop":["x"],"metadata":{"k":"v"},"tool_choice":"auto","tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}],"response_format":{"type":"json_object"},"reasoning_effort":"low","user":"u","seed":3}
--- error_code: 200
--- error_log
mock: start stage=proposal
mock: start stage=synthesis
--- no_error_log
[alert]
[crit]



=== TEST 3: an unknown parameter is forwarded by default (moa_unknown_params pass)
--- request
POST /v1/chat/completions
{"model":"moa-test-v1","messages":[{"role":"user","content":"hi"}],"top_k":40}
--- error_code: 200
--- error_log eval
qr/mock: stage=proposal .*"top_k":40/
--- no_error_log
[alert]
[crit]



=== TEST 4: moa_unknown_params reject: 400 naming it, no provider call
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-test-v1 gpt-4o;
        moa_unknown_params reject;
    }
--- request
POST /v1/chat/completions
{"model":"moa-test-v1","messages":[{"role":"user","content":"hi"}],"top_k":40}
--- error_code: 400
--- json
is $r->{error}{param}, 'top_k', 'param';
is $r->{error}{code}, 'unknown_parameter', 'code';
is $r->{error}{message}, 'Unrecognized request argument supplied: top_k',
    'message';
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 5: moa_unknown_params drop: answered, the parameter sent to no stage
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-test-v1 gpt-4o;
        moa_unknown_params drop;
    }
--- request
POST /v1/chat/completions
{"model":"moa-test-v1","top_k":40,"messages":[{"role":"user","content":"hi"}],"user":"u-1"}
--- error_code: 200
--- error_log eval
[qr/mock: stage=proposal .*"user":"u-1"/,
 qr/mock: stage=synthesis .*"user":"u-1"/]
--- no_error_log
[alert]
[crit]
top_k



=== TEST 6: a passthrough request is forwarded unchanged: the provider judges it
--- request
POST /v1/chat/completions
{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":"hot"}
--- error_code: 200
--- error_log eval
qr/mock: stage=passthrough .*"temperature":"hot"/
--- no_error_log
[alert]
[crit]



=== TEST 7: a truncated body: the JSON ends early, and where
--- request
POST /v1/chat/completions
{"model":"moa-test-v1","messages":[
--- error_code: 400
--- json
is $r->{error}{message},
    'We could not parse the JSON body of your request: the JSON ends early '
    . '(at byte 35, the end of the body).', 'message';
is $r->{error}{type}, 'invalid_request_error', 'type';
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 8: invalid JSON: the byte where it breaks
--- request
POST /v1/chat/completions
{"model":"moa-test-v1","messages":[]]}
--- error_code: 400
--- json
is $r->{error}{message},
    'We could not parse the JSON body of your request: invalid JSON at byte '
    . '36.', 'message';
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 9: X-Request-Id on 400, 404, 405 (GET, PUT) and 413 of the chat location, and on the models location's answers
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-test-v1 gpt-4o;
        moa_passthrough off;
        client_max_body_size 1k;
    }

    location /v1/models {
        moa_models;
        client_max_body_size 1k;
    }
--- request
GET /v1/chat/completions
--- error_code: 405
--- check
my @reqs = (
    ['POST', '/v1/chat/completions', '{bad', 400],
    ['POST', '/v1/chat/completions',
     '{"model":"nope","messages":[{"role":"user","content":"hi"}]}', 404],
    ['GET', '/v1/chat/completions', undef, 405],
    ['PUT', '/v1/chat/completions', '{}', 405],
    ['POST', '/v1/chat/completions', '{"x":"' . ('a' x 4096) . '"}', 413],
    ['GET', '/v1/models', undef, 200],
    ['GET', '/v1/models/nope', undef, 404, 'model_not_found'],
    ['POST', '/v1/models', '{}', 405, 'method_not_allowed'],
    ['POST', '/v1/models', '{"x":"' . ('a' x 4096) . '"}', 413,
     'request_too_large'],
);
my %seen;
for my $q (@reqs) {
    my ($method, $path, $body, $status, $code) = @$q;
    my $res = MoaTest::http($method, $path, $body);
    is $res->{status}, $status, "$method $path: $status";
    my $id = $res->{headers}{'x-request-id'} // '';
    like $id, qr/^[0-9a-f]{32}$/, "$method $path $status: X-Request-Id";
    ok !$seen{$id}++, "$method $path $status: an id of its own";
    like $res->{headers}{'content-type'} // '', qr{^application/json},
        "$method $path $status: JSON";
    if ($code) {
        my $r = eval { MoaTest::decode_json($res->{body}) } // {};
        is $r->{error}{code}, $code, "$method $path $status: $code";
    }
}
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 10: X-Request-Id on 429 (every proposal rate limited)
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-test-v1 gpt-4o;
    }
--- mock
{"proposal": {"status": 429, "headers": {"Retry-After": "20"},
              "error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}}}
--- request
POST /v1/chat/completions
{"model":"moa-test-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 429
--- response_headers_like
X-Request-Id: ^[0-9a-f]{32}$
--- no_error_log
[alert]
[crit]



=== TEST 11: X-Request-Id on 502 (the synthesis fails)
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-test-v1 gpt-4o;
    }
--- mock
{"synthesis": {"status": 503}}
--- request
POST /v1/chat/completions
{"model":"moa-test-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 502
--- response_headers_like
X-Request-Id: ^[0-9a-f]{32}$
--- no_error_log
[alert]
[crit]



=== TEST 12: X-Request-Id on 504 (the proposals' deadline passes)
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-test-v1 gpt-4o;
        moa_proposal_timeout 200ms;
    }
--- mock
{"proposal": {"delay": 1500}}
--- request
POST /v1/chat/completions
{"model":"moa-test-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 504
--- response_headers_like
X-Request-Id: ^[0-9a-f]{32}$
--- no_error_log
[alert]
[crit]



=== TEST 13: one id in the header, the error log line and the capture record
--- http_config eval
MoaTest::http_config() . "    log_format moa_capture escape=none '\$moa_capture';\n"
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-test-v1 gpt-4o;
        moa_fallback candidate;
        access_log logs/capture.jsonl moa_capture if=$moa_capture;
    }
--- mock
{"synthesis": {"status": 503}}
--- request
POST /v1/chat/completions
{"model":"moa-test-v1","messages":[{"role":"user","content":"same-id: hi"}]}
--- error_code: 200
--- check
my $res = MoaTest::http('POST', '/v1/chat/completions',
    '{"model":"moa-test-v1","messages":[{"role":"user","content":"same-id-2"}]}');
my $id = $res->{headers}{'x-request-id'};
like $id, qr/^[0-9a-f]{32}$/, 'X-Request-Id';
my ($c) = MoaTest::captured('same-id-2');
is $c->{metadata}{request_id}, $id, 'the capture record has the same id';
my $log = join '', do {
    open my $fh, '<', Test::Nginx::Util::server_root() . '/logs/error.log'
        or die $!;
    <$fh>;
};
like $log, qr/moa synthesis failed, answering with candidate[^\n]*, request_id: $id/,
    'the error log line has the same id';
--- no_error_log
[alert]
[crit]



=== TEST 14: the id of an invalid request's log line is the one the client got
--- request
POST /v1/chat/completions
{"model":"moa-test-v1","messages":[{"role":"user","content":"hi"}],"top_p":9}
--- error_code: 400
--- check
my $res = MoaTest::http('POST', '/v1/chat/completions',
    '{"model":"moa-test-v1","messages":[{"role":"user","content":"hi"}],"top_p":8}');
my $id = $res->{headers}{'x-request-id'};
like $id, qr/^[0-9a-f]{32}$/, 'X-Request-Id';
my $log = join '', do {
    open my $fh, '<', Test::Nginx::Util::server_root() . '/logs/error.log'
        or die $!;
    <$fh>;
};
like $log, qr/moa: invalid request: Invalid 'top_p'[^\n]*got 8 instead[^\n]*, request_id: $id/,
    'the log line names the same id';
--- no_error_log
[alert]
[crit]
mock: start



=== TEST 15: $request_id in the access log is the X-Request-Id the client got, one per request, 32 hex digits (plain, streamed, passthrough, one read in the rewrite phase first)
--- http_config eval
MoaTest::http_config()
. "    log_format ids '\$request_id \$sent_http_x_request_id \$early';\n"
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-test-v1 gpt-4o;
        moa_passthrough on;
        set $early -;
        access_log logs/ids.log ids;
    }

    location = /early/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-test-v1 gpt-4o;
        set $early $request_id;
        access_log logs/ids.log ids;
    }
--- request
POST /v1/chat/completions
{"model":"moa-test-v1","messages":[{"role":"user","content":"ids"}]}
--- error_code: 200
--- check
my @bodies = (
    '{"model":"moa-test-v1","messages":[{"role":"user","content":"a"}]}',
    '{"model":"moa-test-v1","messages":[{"role":"user","content":"b"}]}',
    '{"model":"moa-test-v1","stream":true,"messages":[{"role":"user","content":"c"}]}',
);
my @sent;
for my $b (@bodies) {
    my $res = MoaTest::http('POST', '/v1/chat/completions', $b);
    push @sent, $res->{headers}{'x-request-id'} // '';
}
my $res = MoaTest::http('POST', '/early/chat/completions', $bodies[0]);
my $early = $res->{headers}{'x-request-id'} // '';
MoaTest::http('POST', '/v1/chat/completions',
    '{"model":"gpt-4o","messages":[{"role":"user","content":"p"}]}');
my $path = Test::Nginx::Util::server_root() . '/logs/ids.log';
my @lines;
for (1 .. 20) {
    @lines = do { open my $fh, '<', $path or die $!; <$fh> };
    last if @lines >= 6;
    select undef, undef, undef, 0.1;
}
chomp @lines;
shift @lines;    # the block's own request
is scalar(@lines), 5, 'five lines';
for my $i (0 .. 2) {
    like $sent[$i], qr/^[0-9a-f]{32}$/, "request $i: X-Request-Id";
    is $lines[$i], "$sent[$i] $sent[$i] -",
        "request $i: the access log's \$request_id is the header's";
}
like $early, qr/^[0-9a-f]{32}$/, 'read in the rewrite phase: X-Request-Id';
is $lines[3], "$early $early $early", 'read first in the rewrite phase: one id';
like $lines[4], qr/^[0-9a-f]{32} /, 'a passthrough: $request_id';
my %seen;
$seen{(split / /)[0]}++ for @lines;
is scalar(keys %seen), 5, 'every request its own id';
--- no_error_log
[alert]
[crit]
