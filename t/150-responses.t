# POST /v1/responses (moa_api responses): a Responses request through the
# same MoA engine, the response object, the translation of each parameter
# and item, as the provider receives it.

use lib 't/lib';
use MoaTest;
use Test::Nginx::Socket 'no_plan';

moa_setup();
no_long_string();
run_tests();

__DATA__

=== TEST 1: a MoA response: the object, the output message, usage summed over 5 calls
--- config
    location = /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- mock
{"proposal": {"usage": {"prompt_tokens": 100, "completion_tokens": 20}},
 "critique": {"usage": {"prompt_tokens": 300, "completion_tokens": 60}},
 "synthesis": {"content": "the final answer", "usage_details": true,
               "usage": {"prompt_tokens": 500, "completion_tokens": 7}}}
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"hello"}
--- more_headers
Content-Type: application/json
--- error_code: 200
--- response_headers_like
Content-Type: application/json
X-Request-Id: [0-9a-f]{32}
--- json
like $r->{id}, qr/^resp_[0-9a-f]{48}$/, 'id';
is $r->{object}, 'response', 'object';
like $r->{created_at}, qr/^\d+$/, 'created_at';
is $r->{status}, 'completed', 'status';
is $r->{model}, 'moa-gpt-4o-v1', 'model is the MoA id';
is $r->{error}, undef, 'error null';
is $r->{incomplete_details}, undef, 'incomplete_details null';
is scalar @{ $r->{output} }, 1, 'one output item';
my $m = $r->{output}[0];
is $m->{type}, 'message', 'a message';
like $m->{id}, qr/^msg_[0-9a-f]{48}$/, 'its id';
is $m->{role}, 'assistant', 'role';
is $m->{status}, 'completed', 'item status';
is $m->{content}[0]{type}, 'output_text', 'output_text part';
is $m->{content}[0]{text}, 'the final answer', 'the synthesis';
is_deeply $m->{content}[0]{annotations}, [], 'annotations';
is $r->{usage}{input_tokens}, 3 * 100 + 300 + 500, 'input tokens summed';
is $r->{usage}{output_tokens}, 3 * 20 + 60 + 7, 'output tokens summed';
is $r->{usage}{total_tokens}, 3 * 120 + 360 + 507, 'total summed';
is $r->{usage}{input_tokens_details}{cached_tokens}, 2, 'cached tokens';
is $r->{usage}{output_tokens_details}{reasoning_tokens}, 1, 'reasoning tokens';
is $r->{store}, JSON::PP::true, 'store defaults to true';
is $r->{instructions}, undef, 'instructions null';
is_deeply $r->{tools}, [], 'tools []';
is $r->{tool_choice}, 'auto', 'tool_choice auto';
is_deeply $r->{text}{format}, {type => 'text'}, 'text.format';
is $r->{temperature}, 1, 'temperature 1';
is $r->{top_p}, 1, 'top_p 1';
is $r->{truncation}, 'disabled', 'truncation';
is $r->{parallel_tool_calls}, JSON::PP::true, 'parallel_tool_calls';
is_deeply $r->{metadata}, {}, 'metadata';
is $r->{previous_response_id}, undef, 'previous_response_id';
--- grep_error_log eval: qr/mock: start stage=\w+/
--- grep_error_log_out
mock: start stage=proposal
mock: start stage=proposal
mock: start stage=proposal
mock: start stage=critique
mock: start stage=synthesis
--- no_error_log
[alert]
[crit]
[error]



=== TEST 2: translated: a string input, instructions and the sampling parameters
--- config
    location = /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- mock
{}
--- request
POST /v1/responses
{"model":"gpt-4o-mini","instructions":"be brief","input":"hi","temperature":0.5,"top_p":0.9,"max_output_tokens":100,"user":"u-1","safety_identifier":"s-1","prompt_cache_key":"k","metadata":{"k":"v"},"store":false,"truncation":"auto","parallel_tool_calls":false,"include":["reasoning.encrypted_content"],"top_logprobs":2,"max_tool_calls":3}
--- error_code: 200
--- error_log
mock: stage=passthrough call=0 model=gpt-4o-mini stream=false body={"model":"gpt-4o-mini","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}],"parallel_tool_calls":false,"max_completion_tokens":100,"temperature":0.5,"top_p":0.9,"metadata":{"k":"v"},"user":"u-1","safety_identifier":"s-1","prompt_cache_key":"k"}
--- no_error_log
[alert]
[crit]
[error]



=== TEST 3: translated: message items: roles, easy and typed, every input part
--- config
    location = /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- mock
{}
--- request
POST /v1/responses
{"model":"gpt-4o-mini","input":[{"role":"developer","content":"dev rules"},{"type":"message","role":"system","content":[{"type":"input_text","text":"sys"}]},{"role":"user","content":[{"type":"input_text","text":"look"},{"type":"input_image","image_url":"https://x.test/a.png","detail":"low"},{"type":"input_image","image_url":"data:image/png;base64,AAAA"},{"type":"input_file","file_data":"data:application/pdf;base64,JVBE","filename":"a.pdf"},{"type":"input_file","file_id":"file-1"}]}]}
--- error_code: 200
--- error_log
mock: stage=passthrough call=0 model=gpt-4o-mini stream=false body={"model":"gpt-4o-mini","messages":[{"role":"system","content":"dev rules"},{"role":"system","content":[{"type":"text","text":"sys"}]},{"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"https://x.test/a.png","detail":"low"}},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}},{"type":"file","file":{"file_data":"data:application/pdf;base64,JVBE","filename":"a.pdf"}},{"type":"file","file":{"file_id":"file-1"}}]}]}
--- no_error_log
[alert]
[crit]
[error]



=== TEST 4: translated: assistant turns: output_text parts, a refusal, reasoning left out
--- config
    location = /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- mock
{}
--- request
POST /v1/responses
{"model":"gpt-4o-mini","input":[{"role":"user","content":"q1"},{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"thinking"}],"encrypted_content":"xyz"},{"type":"message","role":"assistant","id":"msg_1","status":"completed","content":[{"type":"output_text","text":"a1","annotations":[]}]},{"role":"user","content":"q2"},{"role":"assistant","content":[{"type":"refusal","refusal":"no"}]},{"role":"user","content":"q3"}]}
--- error_code: 200
--- error_log
mock: stage=passthrough call=0 model=gpt-4o-mini stream=false body={"model":"gpt-4o-mini","messages":[{"role":"user","content":"q1"},{"role":"assistant","content":[{"type":"text","text":"a1"}]},{"role":"user","content":"q2"},{"role":"assistant","content":null,"refusal":"no"},{"role":"user","content":"q3"}]}
--- no_error_log
[alert]
[crit]
[error]



=== TEST 5: translated: a tool loop: function_call items are the assistant's tool_calls, outputs are tool messages
--- config
    location = /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- mock
{}
--- request
POST /v1/responses
{"model":"gpt-4o-mini","input":[{"role":"user","content":"weather?"},{"role":"assistant","content":"checking"},{"type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},{"type":"function_call","id":"fc_2","call_id":"call_2","name":"get_time","arguments":"{}","status":"completed"},{"type":"function_call_output","call_id":"call_1","output":"sunny"},{"type":"function_call_output","call_id":"call_2","output":[{"type":"input_text","text":"noon"}]}]}
--- error_code: 200
--- error_log
mock: stage=passthrough call=0 model=gpt-4o-mini stream=false body={"model":"gpt-4o-mini","messages":[{"role":"user","content":"weather?"},{"role":"assistant","content":"checking","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},{"id":"call_2","type":"function","function":{"name":"get_time","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_1","content":"sunny"},{"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"noon"}]}]}
--- no_error_log
[alert]
[crit]
[error]



=== TEST 6: translated: tools flat to the chat shape, a named tool_choice, json_schema, verbosity, reasoning effort
--- config
    location = /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- mock
{}
--- request
POST /v1/responses
{"model":"gpt-4o-mini","input":"x","tools":[{"type":"function","name":"f","description":"d","parameters":{"type":"object"},"strict":true},{"type":"function","name":"g"}],"tool_choice":{"type":"function","name":"f"},"text":{"format":{"type":"json_schema","name":"answer","schema":{"type":"object","properties":{"a":{"type":"string"}}},"strict":true,"description":"an answer"},"verbosity":"low"},"reasoning":{"effort":"high","summary":"auto"}}
--- error_code: 200
--- error_log
mock: stage=passthrough call=0 model=gpt-4o-mini stream=false body={"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object"},"strict":true}},{"type":"function","function":{"name":"g"}}],"tool_choice":{"type":"function","function":{"name":"f"}},"response_format":{"type":"json_schema","json_schema":{"name":"answer","schema":{"type":"object","properties":{"a":{"type":"string"}}},"strict":true,"description":"an answer"}},"verbosity":"low","reasoning_effort":"high"}
--- no_error_log
[alert]
[crit]
[error]



=== TEST 7: translated: json_object, tool_choice required, text format text, null as absent
--- config
    location = /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- mock
{}
--- request
POST /v1/responses
{"model":"gpt-4o-mini","input":"x","tool_choice":"required","text":{"format":{"type":"json_object"}},"temperature":null,"instructions":null}
--- error_code: 200
--- error_log
mock: stage=passthrough call=0 model=gpt-4o-mini stream=false body={"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}],"tool_choice":"required","response_format":{"type":"json_object"}}
--- no_error_log
[alert]
[crit]
[error]



=== TEST 8: translated: stream: stream with the usage chunk
--- config
    location = /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
--- mock
{}
--- request
POST /v1/responses
{"model":"gpt-4o-mini","input":"x","stream":true,"stream_options":{"include_obfuscation":false}}
--- error_code: 200
--- error_log
mock: stage=passthrough call=0 model=gpt-4o-mini stream=true body={"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":true}}
--- no_error_log
[alert]
[crit]
[error]



