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
