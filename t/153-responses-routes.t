# POST /v1/responses: the response object's shapes (tool calls, refusal,
# incomplete, structured output, the parameters echoed), a tool loop, the
# passthrough translated or forwarded byte for byte (moa_responses_pass),
# moa_not_found's JSON 404, the capture record, $moa_api and the metrics.

use lib 't/lib';
use MoaTest;
use Test::Nginx::Socket 'no_plan';

moa_setup();
no_long_string();

add_block_preprocessor(sub {
    my $block = shift;

    (my $root = $ENV{TEST_NGINX_MOCK_JS}) =~ s{/conf/[^/]+$}{};

    $block->set_value('http_config', MoaTest::http_config() . <<"_EOC_");
    js_import mockresp from $root/conf/mock-responses.js;
    log_format moa_capture escape=none '\$moa_capture';
    log_format moa_api 'api=\$moa_api model=\$moa_model';
    log_format moa_tokens 'tokens=\$moa_prompt_tokens/\$moa_completion_tokens/\$moa_total_tokens';
    moa_metrics_zone moa_metrics 1m;
_EOC_

    $block->set_value('config', <<'_EOC_') unless defined $block->config;
    location = /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        access_log logs/capture.jsonl moa_capture if=$moa_capture;
        access_log logs/api.log moa_api;
    }
    location = /metrics {
        moa_metrics;
    }
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: the parameters echoed as OpenAI echoes them
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"hi","instructions":"be brief","temperature":0.3,"top_p":0.8,"max_output_tokens":64,"tools":[{"type":"function","name":"f","parameters":{"type":"object"}}],"tool_choice":"none","parallel_tool_calls":false,"text":{"format":{"type":"json_object"},"verbosity":"low"},"reasoning":{"effort":"low"},"metadata":{"k":"v"},"user":"u-1","store":false,"truncation":"auto","max_tool_calls":2}
--- error_code: 200
--- json
is $r->{instructions}, 'be brief', 'instructions';
is $r->{temperature}, 0.3, 'temperature';
is $r->{top_p}, 0.8, 'top_p';
is $r->{max_output_tokens}, 64, 'max_output_tokens';
is $r->{tools}[0]{name}, 'f', 'tools as given';
is $r->{tool_choice}, 'none', 'tool_choice';
is $r->{parallel_tool_calls}, JSON::PP::false, 'parallel_tool_calls';
is_deeply $r->{text}, {format => {type => 'json_object'}, verbosity => 'low'},
    'text';
is $r->{reasoning}{effort}, 'low', 'reasoning.effort';
is_deeply $r->{metadata}, {k => 'v'}, 'metadata';
is $r->{user}, 'u-1', 'user';
is $r->{store}, JSON::PP::false, 'store';
is $r->{truncation}, 'auto', 'truncation';
is $r->{max_tool_calls}, 2, 'max_tool_calls';
--- no_error_log
[alert]
[crit]



=== TEST 2: tool calls: function_call items with id, call_id, name, arguments, status
--- mock
{"synthesis": {"tool_calls": [{"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
                              {"name": "get_time", "arguments": "{}"}]}}
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"weather and time?","tools":[{"type":"function","name":"get_weather"},{"type":"function","name":"get_time"}]}
--- error_code: 200
--- json
is scalar @{ $r->{output} }, 2, 'two items, no message';
my ($a, $b) = @{ $r->{output} };
is $a->{type}, 'function_call', 'a function_call';
like $a->{id}, qr/^fc_[0-9a-f]{48}$/, 'its id';
is $a->{call_id}, 'call_synthesis_0_0', 'call_id';
is $a->{name}, 'get_weather', 'name';
is $a->{arguments}, '{"city":"Paris"}', 'arguments';
is $a->{status}, 'completed', 'status';
is $b->{name}, 'get_time', 'the second';
isnt $a->{id}, $b->{id}, 'ids differ';
--- no_error_log
[alert]
[crit]



=== TEST 3: a refusal, and finish_reason length: incomplete
--- mock
{"synthesis": {"refusal": "no", "finish_reason": "length"}}
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x"}
--- error_code: 200
--- json
is $r->{status}, 'incomplete', 'incomplete';
is_deeply $r->{incomplete_details}, {reason => 'max_output_tokens'}, 'why';
is_deeply $r->{output}[0]{content}, [{type => 'refusal', refusal => 'no'}],
    'a refusal part';
is $r->{output}[0]{status}, 'incomplete', 'the item too';



=== TEST 4: structured output: text.format json_schema reaches every proposal as response_format; by default (moa_select_json_schema) the judge picks one candidate, answered verbatim as output_text
--- mock
{"proposal": {"content": "{\"city\":\"Paris {call}\"}"},
 "critique": {"content": "{\"best\": 2}"}}
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"capital of France as JSON","text":{"format":{"type":"json_schema","name":"city","schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true}}}
--- error_code: 200
--- response_headers
X-MoA-Selected: 2
--- json
my $text = $r->{output}[0]{content}[0]{text};
is_deeply decode_json($text), {city => 'Paris 1'}, 'the picked JSON answer';
is $r->{text}{format}{name}, 'city', 'text.format echoed';
--- error_log eval
[
qr/stage=proposal call=0 .*"response_format":\{"type":"json_schema","json_schema":\{"name":"city","schema":\{"type":"object"/,
qr/stage=critique call=0 /,
]
--- no_error_log
stage=synthesis
[alert]



=== TEST 5: a tool loop: the function_call and its output go to the stages as tool_calls and a tool message; the answer
--- mock
{"synthesis": {"content": "It is sunny in Paris."}}
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":[{"role":"user","content":"weather in Paris?"},{"type":"function_call","call_id":"call_9","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},{"type":"function_call_output","call_id":"call_9","output":"sunny, 21C"}],"tools":[{"type":"function","name":"get_weather","parameters":{"type":"object"}}]}
--- error_code: 200
--- json
is $r->{output}[0]{content}[0]{text}, 'It is sunny in Paris.', 'the answer';
is $r->{status}, 'completed', 'completed';
ok $r->{completed_at} >= $r->{created_at}, 'completed_at, once completed';
is_deeply [map { [$_->{name}, $_->{description}, $_->{strict} ? 'true' : 'false'] } @{$r->{tools}}],
    [['get_weather', undef, 'true']], 'a function tool echoed whole: description null, strict true by default';
is $r->{presence_penalty}, 0, 'presence_penalty echoed';
is $r->{frequency_penalty}, 0, 'frequency_penalty echoed';
--- error_log eval
[
qr/stage=proposal call=0 .*"messages":\[\{"role":"user","content":"weather in Paris\?"\},\{"role":"assistant","content":null,"tool_calls":\[\{"id":"call_9","type":"function","function":\{"name":"get_weather","arguments":"\{\\"city\\":\\"Paris\\"\}"\}\}\]\},\{"role":"tool","tool_call_id":"call_9","content":"sunny, 21C"\}\]/,
]
--- no_error_log
[alert]
[crit]



=== TEST 6: a reasoning item never reaches a prompt
--- mock
{"synthesis": {"echo": true}}
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":[{"role":"user","content":"q"},{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"SECRET-THOUGHT"}],"encrypted_content":"SECRET-BLOB"},{"role":"assistant","content":"a"},{"role":"user","content":"q2"}]}
--- error_code: 200
--- json
my $s = $r->{output}[0]{content}[0]{text};
unlike $s, qr/SECRET/, 'not in the synthesis';
like $s, qr/q2/, 'the conversation is';
--- no_error_log
[alert]
[crit]
SECRET



=== TEST 7: a translated passthrough, plain: the chat completion back as a response object
--- mock
{"passthrough": {"content": "plain passthrough", "usage_details": true}}
--- request
POST /v1/responses
{"model":"gpt-4o-mini","input":"hi"}
--- error_code: 200
--- json
is $r->{object}, 'response', 'a response';
is $r->{model}, 'gpt-4o-mini', "the request's model";
is $r->{output}[0]{content}[0]{text}, 'plain passthrough', 'the text';
is $r->{usage}{input_tokens}, 10, 'usage';
is $r->{usage}{input_tokens_details}{cached_tokens}, 2, 'cached';
--- grep_error_log eval: qr/mock: start stage=\w+/
--- grep_error_log_out
mock: start stage=passthrough
--- no_error_log
[alert]
[crit]



=== TEST 8: a translated passthrough's error keeps its status and OpenAI shape
--- mock
{"passthrough": {"status": 429, "headers": {"Retry-After": "7"}, "error": {"code": "rate_limit_exceeded"}}}
--- request
POST /v1/responses
{"model":"gpt-4o-mini","input":"hi"}
--- error_code: 429
--- response_headers
Retry-After: 7
--- json
is $r->{error}{code}, 'rate_limit_exceeded', 'code';



=== TEST 9: moa_responses_pass: a model that is not MoA goes there byte for byte, built-in tools and all; its reply as is
--- config
    location = /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_responses_pass /_moa_responses;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
    location = /_moa_responses {
        internal;
        proxy_pass http://moa_mock/echo/responses;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering off;
    }
    location /echo/ {
        client_body_buffer_size 1m;
        postpone_output 0;
        set $mock_stage passthrough;
        set $mock_scenario '{"passthrough": {"echo": true, "headers": {"X-Responses-Provider": "yes"}}}';
        js_content mockresp.responses;
    }
--- request
POST /v1/responses
{"model":"gpt-4o-mini",  "input":[{"type":"reasoning","id":"rs_1","summary":[]},{"role":"user","content":"hi"}],"tools":[{"type":"web_search"}],"background":true}
--- error_code: 200
--- response_headers
X-Responses-Provider: yes
--- json
is $r->{id}, 'resp_mock_passthrough_0', "the provider's reply";
is $r->{output}[0]{content}[0]{text}, '{"model":"gpt-4o-mini",  "input":[{"type":"reasoning","id":"rs_1","summary":[]},{"role":"user","content":"hi"}],"tools":[{"type":"web_search"}],"background":true}',
    'the body as the client sent it';
--- grep_error_log eval: qr/mock: stage=\w+ call=\d+ (?:api=\w+ )?/
--- grep_error_log_out
mock: stage=passthrough call=0 api=responses 
--- no_error_log
[alert]
[crit]



=== TEST 10: moa_responses_pass streamed: the provider's events as they came
--- config
    location = /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_responses_pass /_moa_responses;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
    location = /_moa_responses {
        internal;
        proxy_pass http://moa_mock/echo/responses;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering off;
    }
    location /echo/ {
        client_body_buffer_size 1m;
        postpone_output 0;
        set $mock_stage passthrough;
        set $mock_scenario '{"passthrough": {"echo": true, "headers": {"X-Responses-Provider": "yes"}}}';
        js_content mockresp.responses;
    }
--- request
POST /v1/responses
{"model":"gpt-4o-mini","input":"hi","stream":true}
--- error_code: 200
--- response_body_like eval
qr/^event: response.created\ndata: \{"type":"response.created","sequence_number":0,.*\n\nevent: response.completed\ndata: \{"type":"response.completed","sequence_number":\d+,[^\n]*\n\n\z/s
--- no_error_log
[alert]
[crit]



=== TEST 11: moa_responses_pass does not change a MoA model's way
--- config
    location = /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_responses_pass /_moa_responses;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
    location = /_moa_responses {
        internal;
        proxy_pass http://moa_mock/echo/responses;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering off;
    }
    location /echo/ {
        client_body_buffer_size 1m;
        postpone_output 0;
        set $mock_stage passthrough;
        set $mock_scenario '{"passthrough": {"echo": true, "headers": {"X-Responses-Provider": "yes"}}}';
        js_content mockresp.responses;
    }
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"hi"}
--- error_code: 200
--- json
is $r->{model}, 'moa-gpt-4o-v1', 'MoA';
--- grep_error_log eval: qr/mock: start stage=\w+/
--- grep_error_log_out
mock: start stage=proposal
mock: start stage=proposal
mock: start stage=proposal
mock: start stage=critique
mock: start stage=synthesis



=== TEST 12: moa_not_found: a path no location serves gets OpenAI's JSON 404, any method
--- config
    location /v1/ {
        moa_not_found;
    }
    location = /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- request eval
["POST /v1/assistants\n{}", "GET /v1/responses/resp_1/input_items?limit=2"]
--- error_code eval
[404, 404]
--- response_headers_like eval
["Content-Type: application/json", "Content-Type: application/json"]
--- response_body_like eval
['^\{"error":\{"message":"Invalid URL \(POST /v1/assistants\)","type":"invalid_request_error","param":null,"code":null\}\}$',
 '^\{"error":\{"message":"Invalid URL \(GET /v1/responses/resp_1/input_items\)","type":"invalid_request_error","param":null,"code":null\}\}$']



=== TEST 13: GET on /v1/responses is a JSON 405
--- request
GET /v1/responses
--- error_code: 405
--- response_headers
Allow: POST
Content-Type: application/json
--- json
is $r->{error}{code}, 'method_not_allowed', 'code';



=== TEST 14: the capture record is the same fine-tuning record as a chat request's
--- mock
{"synthesis": {"content": "Paris.", "usage": {"prompt_tokens": 50, "completion_tokens": 3}}}
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","instructions":"Be brief.","input":[{"role":"user","content":"capture-r1: capital of France?"}],"tools":[{"type":"function","name":"lookup","parameters":{"type":"object"}}]}
--- error_code: 200
--- json
my ($c) = MoaTest::captured('capture-r1');
ok $c, 'a line was captured';
is scalar @{ $c->{messages} }, 3, 'instructions, input, answer';
is_deeply $c->{messages}[0], {role => 'system', content => 'Be brief.'},
    'instructions as the system message';
is_deeply $c->{messages}[1],
    {role => 'user', content => 'capture-r1: capital of France?'}, 'user';
is_deeply $c->{messages}[2], {role => 'assistant', content => 'Paris.'},
    'the answer the client received';
is $c->{tools}[0]{function}{name}, 'lookup', 'tools in the chat shape';
is $c->{metadata}{model}, 'moa-gpt-4o-v1', 'model';
is $c->{metadata}{usage}{prompt_tokens}, $r->{usage}{input_tokens},
    'usage';
--- no_error_log
[alert]
[crit]



=== TEST 15: a streamed response is captured too
--- mock
{"synthesis": {"content": "streamed answer", "chunks": 3}}
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","stream":true,"input":"capture-r2: hi"}
--- error_code: 200
--- check
my ($c) = MoaTest::captured('capture-r2');
ok $c, 'a line was captured';
is_deeply $c->{messages}[-1], {role => 'assistant', content => 'streamed answer'},
    'the streamed answer';



=== TEST 16: $moa_api names the API
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"hi"}
--- error_code: 200
--- check
my $path = Test::Nginx::Util::server_root() . '/logs/api.log';
my ($line, $fh);
for (1 .. 20) {
    last if open($fh, '<', $path) && defined($line = <$fh>);
    select undef, undef, undef, 0.1;
}
is $line, "api=responses model=moa-gpt-4o-v1\n", '$moa_api';



=== TEST 17: moa_responses_requests_total counts the Responses requests of moa_requests_total
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"hi"}]}
--- error_code: 200
--- check
my $res = MoaTest::http('POST', '/v1/responses',
                        '{"model":"moa-gpt-4o-v1","input":"hi"}');
is $res->{status}, 200, 'a Responses request';
my ($m) = MoaTest::scrape_settled(2);
is MoaTest::metric($m, 'moa_requests_total', model => 'moa-gpt-4o-v1',
                   outcome => 'ok'), 2, 'two requests';
is MoaTest::metric($m, 'moa_responses_requests_total',
                   model => 'moa-gpt-4o-v1'), 1, 'one through Responses';



=== TEST 18: plain: every proposal fails, the client's error in OpenAI's shape, its status
--- mock
{"proposal": {"status": 500}}
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"hi"}
--- error_code: 502
--- json
is $r->{error}{type}, 'upstream_error', 'type';
like $r->{error}{message}, qr/proposal/, 'message';
--- no_error_log
[alert]
[crit]
mock: start stage=critique



=== TEST 19: plain: the synthesis fails, moa_fallback candidate answers with a response object
--- config
    location = /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_fallback candidate;
    }
--- mock
{"proposal": {"content": "candidate {call} text"}, "synthesis": {"status": 500}}
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"hi"}
--- error_code: 200
--- response_headers
X-MoA-Fallback: candidate
--- json
is $r->{object}, 'response', 'a response';
is $r->{output}[0]{content}[0]{text}, 'candidate 0 text', 'the candidate';
is $r->{model}, 'moa-gpt-4o-v1', 'the MoA id';



=== TEST 20: structured output with moa_select_json_schema off: the synthesis gets the response_format too, its JSON answer as output_text
--- config
    location = /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_select_json_schema off;
    }
--- mock
{"synthesis": {"content": "{\"city\":\"Paris\"}"}}
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"capital of France as JSON","text":{"format":{"type":"json_schema","name":"city","schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true}}}
--- error_code: 200
--- json
my $text = $r->{output}[0]{content}[0]{text};
is_deeply decode_json($text), {city => 'Paris'}, 'the JSON answer';
--- error_log eval
[
qr/stage=proposal call=0 .*"response_format":\{"type":"json_schema","json_schema":\{"name":"city","schema":\{"type":"object"/,
qr/stage=synthesis call=0 .*"response_format":\{"type":"json_schema"/,
]
--- no_error_log
[alert]
[crit]



=== TEST 21: a text and a refusal: one message item with two parts, as OpenAI
--- mock
{"synthesis": {"content": "Part of it", "refusal": "not the rest"}}
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x"}
--- error_code: 200
--- json
is scalar @{$r->{output}}, 1, 'one output item';
is $r->{output}[0]{type}, 'message', 'a message';
is_deeply [map { $_->{type} } @{$r->{output}[0]{content}}],
    ['output_text', 'refusal'], 'output_text then refusal';
is $r->{output}[0]{content}[0]{text}, 'Part of it', 'the text';
is $r->{output}[0]{content}[1]{refusal}, 'not the rest', 'the refusal';
is $r->{output_text}, 'Part of it', 'output_text: the text alone'
    if exists $r->{output_text};
--- no_error_log
[alert]
[crit]



=== TEST 22: moa_responses_pass plain: the reply as is, its usage counted ($moa_*_tokens, metrics), the capture record from the input and output items
--- config
    location = /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_responses_pass /_moa_responses;
        moa_model moa-gpt-4o-v1 gpt-4o;
        access_log logs/capture.jsonl moa_capture if=$moa_capture;
        access_log logs/tokens.log moa_tokens;
    }
    location = /_moa_responses {
        internal;
        proxy_pass http://moa_mock/echo/responses;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering off;
    }
    location /echo/ {
        client_body_buffer_size 1m;
        postpone_output 0;
        set $mock_stage passthrough;
        set $mock_scenario '{"passthrough": {"content": "forwarded answer", "chunks": 3, "refusal": "not that", "tool_calls": [{"id": "call_7", "name": "f", "arguments": "{\\"x\\":1}"}], "usage": {"prompt_tokens": 21, "completion_tokens": 8}}}';
        js_content mockresp.responses;
    }
    location = /metrics {
        moa_metrics;
    }
--- request
POST /v1/responses
{"model":"gpt-4o-mini","input":"fwd-plain: hi"}
--- error_code: 200
--- response_body_like eval
qr/^\{"object":"response",.*"id":"resp_mock_passthrough_0",/
--- check
my ($c) = MoaTest::captured('fwd-plain');
ok $c, 'a capture line';
is_deeply $c->{messages}[0], {role => 'user', content => 'fwd-plain: hi'},
    "the request's input as messages";
is_deeply $c->{messages}[-1], {role => 'assistant', content => 'forwarded answer',
    refusal => 'not that', tool_calls => [{id => 'call_7', type => 'function',
    function => {name => 'f', arguments => '{"x":1}'}}]},
    'the final assistant turn from the output items';
is $c->{metadata}{usage}{prompt_tokens}, 21, 'captured usage';
my $path = Test::Nginx::Util::server_root() . '/logs/tokens.log';
my ($line, $fh);
for (1 .. 20) {
    last if open($fh, '<', $path) && defined($line = <$fh>);
    select undef, undef, undef, 0.1;
}
is $line, "tokens=21/8/29\n", '$moa_prompt/completion/total_tokens';
my ($m) = MoaTest::scrape_settled(1);
is MoaTest::metric($m, 'moa_tokens_total', model => 'passthrough',
                   kind => 'prompt'), 21, 'prompt tokens counted';
is MoaTest::metric($m, 'moa_tokens_total', model => 'passthrough',
                   kind => 'completion'), 8, 'completion tokens counted';
--- no_error_log
[alert]
[crit]



=== TEST 23: moa_responses_pass streamed: the events as they came, the usage of response.completed counted, the capture record
--- config
    location = /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_responses_pass /_moa_responses;
        moa_model moa-gpt-4o-v1 gpt-4o;
        access_log logs/capture.jsonl moa_capture if=$moa_capture;
        access_log logs/tokens.log moa_tokens;
    }
    location = /_moa_responses {
        internal;
        proxy_pass http://moa_mock/echo/responses;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering off;
    }
    location /echo/ {
        client_body_buffer_size 1m;
        postpone_output 0;
        set $mock_stage passthrough;
        set $mock_scenario '{"passthrough": {"content": "forwarded answer", "chunks": 3, "refusal": "not that", "tool_calls": [{"id": "call_7", "name": "f", "arguments": "{\\"x\\":1}"}], "usage": {"prompt_tokens": 21, "completion_tokens": 8}}}';
        js_content mockresp.responses;
    }
    location = /metrics {
        moa_metrics;
    }
--- request
POST /v1/responses
{"model":"gpt-4o-mini","input":"fwd-stream: hi","stream":true}
--- error_code: 200
--- response_body_like eval
qr/^event: response.created\n.*event: response.completed\ndata: \{"type":"response.completed","sequence_number":\d+,[^\n]*"input_tokens":21[^\n]*\n\n\z/s
--- check
my ($c) = MoaTest::captured('fwd-stream');
ok $c, 'a capture line';
is_deeply $c->{messages}[0], {role => 'user', content => 'fwd-stream: hi'},
    "the request's input as messages";
is_deeply $c->{messages}[-1], {role => 'assistant', content => 'forwarded answer',
    refusal => 'not that', tool_calls => [{id => 'call_7', type => 'function',
    function => {name => 'f', arguments => '{"x":1}'}}]},
    'the final assistant turn from the output items';
is $c->{metadata}{usage}{prompt_tokens}, 21, 'captured usage';
my $path = Test::Nginx::Util::server_root() . '/logs/tokens.log';
my ($line, $fh);
for (1 .. 20) {
    last if open($fh, '<', $path) && defined($line = <$fh>);
    select undef, undef, undef, 0.1;
}
is $line, "tokens=21/8/29\n", '$moa_prompt/completion/total_tokens';
my ($m) = MoaTest::scrape_settled(1);
is MoaTest::metric($m, 'moa_tokens_total', model => 'passthrough',
                   kind => 'prompt'), 21, 'prompt tokens counted';
is MoaTest::metric($m, 'moa_tokens_total', model => 'passthrough',
                   kind => 'completion'), 8, 'completion tokens counted';
--- no_error_log
[alert]
[crit]



=== TEST 24: include: values that need nothing are accepted; message.output_text.logprobs and an unknown value are a 400 naming include[i], no passthrough call
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"hi","include":["reasoning.encrypted_content","message.input_image.image_url","web_search_call.action.sources"]}
--- error_code: 200
--- check
my $res = MoaTest::http('POST', '/v1/responses',
    '{"model":"moa-gpt-4o-v1","input":"hi","include":["reasoning.encrypted_content","message.output_text.logprobs"]}');
is $res->{status}, 400, 'logprobs: 400';
my $e = decode_json($res->{body})->{error};
is $e->{type}, 'invalid_request_error', 'invalid_request_error';
is $e->{param}, 'include[1]', 'include[1]';
like $e->{message}, qr/message\.output_text\.logprobs.*not supported/, 'says what';
$res = MoaTest::http('POST', '/v1/responses',
    '{"model":"gpt-4o-mini","input":"hi","include":["no.such.value"]}');
is $res->{status}, 400, 'unknown, translated passthrough: 400';
$e = decode_json($res->{body})->{error};
is $e->{param}, 'include[0]', 'include[0]';
like $e->{message}, qr/'no\.such\.value' is not supported/, 'names the value';
--- grep_error_log eval: qr/mock: stage=\w+ call=\d+/
--- grep_error_log_out eval
qr/\A(?:mock: stage=(?:proposal|critique|synthesis) call=\d+\n)+\z/
--- no_error_log
[alert]
[crit]
