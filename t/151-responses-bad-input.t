# POST /v1/responses: every bad input is a 400 (or 404) in OpenAI's shape,
# with the parameter named as OpenAI names it, and no provider call.

use lib 't/lib';
use MoaTest;
use Test::Nginx::Socket 'no_plan';

moa_setup();
no_long_string();

# added last, so it runs before moa_setup()'s, which compiles "json"
add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', <<'_EOC_') unless defined $block->config;
    location = /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
_EOC_

    if (!defined $block->json) {
        my $param = $block->param // 'undef';
        my $code = $block->code // 'undef';
        my $type = $block->type // 'invalid_request_error';
        $block->set_value('json', <<_EOC_);
is_deeply [sort keys %{ \$r->{error} }], [qw(code message param type)],
    'the four keys';
is \$r->{error}{type}, '$type', 'type';
is \$r->{error}{param}, $param, 'param';
is \$r->{error}{code}, $code, 'code';
like \$r->{error}{message}, qr/\\S/, 'a message';
_EOC_
    }

    $block->set_value('no_error_log', "[alert]\n[crit]\nmock: start\n")
        unless defined $block->no_error_log;
});

run_tests();

__DATA__
=== TEST 1: invalid JSON
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"hi"
--- error_code: 400



=== TEST 2: a JSON array
--- request
POST /v1/responses
[{"model":"moa-gpt-4o-v1"}]
--- error_code: 400



=== TEST 3: no model
--- request
POST /v1/responses
{"input":"hi"}
--- error_code: 400
--- param: 'model'
--- code: 'missing_required_parameter'



=== TEST 4: model not a string
--- request
POST /v1/responses
{"model":7,"input":"hi"}
--- error_code: 400
--- param: 'model'
--- code: 'invalid_type'



=== TEST 5: no input
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1"}
--- error_code: 400
--- param: 'input'
--- code: 'missing_required_parameter'



=== TEST 6: input a number
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":42}
--- error_code: 400
--- param: 'input'
--- code: 'invalid_type'



=== TEST 7: input empty
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":[]}
--- error_code: 400
--- param: 'input'
--- code: 'empty_array'



=== TEST 8: an item not an object
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":["hi"]}
--- error_code: 400
--- param: 'input[0]'
--- code: 'invalid_type'



=== TEST 9: an unknown item type
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":[{"type":"note","text":"x"}]}
--- error_code: 400
--- param: 'input[0].type'
--- code: 'invalid_value'



=== TEST 10: a message without role
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":[{"type":"message","content":"x"}]}
--- error_code: 400
--- param: 'input[0].role'
--- code: 'missing_required_parameter'



=== TEST 11: an unknown role
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":[{"role":"robot","content":"x"}]}
--- error_code: 400
--- param: 'input[0].role'
--- code: 'invalid_value'



=== TEST 12: a message without content
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":[{"role":"user"}]}
--- error_code: 400
--- param: 'input[0].content'
--- code: 'missing_required_parameter'



=== TEST 13: content a number
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":[{"role":"user","content":1}]}
--- error_code: 400
--- param: 'input[0].content'
--- code: 'invalid_type'



=== TEST 14: content empty
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":[{"role":"user","content":[]}]}
--- error_code: 400
--- param: 'input[0].content'
--- code: 'empty_array'



=== TEST 15: an unknown part type
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":[{"role":"user","content":"a"},{"role":"user","content":[{"type":"image","url":"x"}]}]}
--- error_code: 400
--- param: 'input[1].content[0].type'
--- code: 'invalid_value'



=== TEST 16: input_text without text
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":[{"role":"user","content":[{"type":"input_text"}]}]}
--- error_code: 400
--- param: 'input[0].content[0].text'
--- code: 'missing_required_parameter'



=== TEST 17: an image URL that is no URL
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":[{"type":"input_image","image_url":"ftp://x/y.png"}]}]}
--- error_code: 400
--- param: 'input[2].content[0].image_url'
--- code: 'invalid_value'



=== TEST 18: an image without URL or file id
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":[{"role":"user","content":[{"type":"input_image","detail":"low"}]}]}
--- error_code: 400
--- param: 'input[0].content[0].image_url'
--- code: 'missing_required_parameter'



=== TEST 19: an image detail unknown
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":[{"role":"user","content":[{"type":"input_image","image_url":"https://x/y.png","detail":"max"}]}]}
--- error_code: 400
--- param: 'input[0].content[0].detail'
--- code: 'invalid_value'



=== TEST 20: a file without data
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":[{"role":"user","content":[{"type":"input_file","filename":"a.pdf"}]}]}
--- error_code: 400
--- param: 'input[0].content[0].file_id'
--- code: 'missing_required_parameter'



=== TEST 21: an assistant with input_text
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":[{"role":"assistant","content":[{"type":"input_text","text":"x"}]}]}
--- error_code: 400
--- param: 'input[0].content[0].type'
--- code: 'invalid_value'



=== TEST 22: a user with output_text
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":[{"role":"user","content":[{"type":"output_text","text":"x"}]}]}
--- error_code: 400
--- param: 'input[0].content[0].type'
--- code: 'invalid_value'



=== TEST 23: a function_call without call_id
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":[{"type":"function_call","name":"f","arguments":"{}"}]}
--- error_code: 400
--- param: 'input[0].call_id'
--- code: 'missing_required_parameter'



=== TEST 24: a function_call with a bad name
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":[{"type":"function_call","call_id":"c1","name":"a b","arguments":"{}"}]}
--- error_code: 400
--- param: 'input[0].name'
--- code: 'invalid_value'



=== TEST 25: a function_call with arguments not a string
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":[{"type":"function_call","call_id":"c1","name":"f","arguments":{}}]}
--- error_code: 400
--- param: 'input[0].arguments'
--- code: 'invalid_type'



=== TEST 26: an output with no call
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":[{"role":"user","content":"x"},{"type":"function_call_output","call_id":"c9","output":"1"}]}
--- error_code: 400
--- param: 'input[1].call_id'
--- code: 'invalid_value'



=== TEST 27: an output that is a number
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":[{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c1","output":5}]}
--- error_code: 400
--- param: 'input[1].output'
--- code: 'invalid_type'



=== TEST 28: reasoning without summary
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":[{"type":"reasoning","id":"rs_1"},{"role":"user","content":"x"}]}
--- error_code: 400
--- param: 'input[0].summary'
--- code: 'missing_required_parameter'



=== TEST 29: instructions not a string
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x","instructions":["a"]}
--- error_code: 400
--- param: 'instructions'
--- code: 'invalid_type'



=== TEST 30: tools not an array
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x","tools":{}}
--- error_code: 400
--- param: 'tools'
--- code: 'invalid_type'



=== TEST 31: a tool without name
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x","tools":[{"type":"function","parameters":{}}]}
--- error_code: 400
--- param: 'tools[0].name'
--- code: 'missing_required_parameter'



=== TEST 32: a tool with parameters not an object
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x","tools":[{"type":"function","name":"f","parameters":[]}]}
--- error_code: 400
--- param: 'tools[0].parameters'
--- code: 'invalid_type'



=== TEST 33: tool_choice unknown
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x","tool_choice":"sometimes"}
--- error_code: 400
--- param: 'tool_choice'
--- code: 'invalid_value'



=== TEST 34: tool_choice function without name
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x","tool_choice":{"type":"function"}}
--- error_code: 400
--- param: 'tool_choice.name'
--- code: 'missing_required_parameter'



=== TEST 35: parallel_tool_calls not a boolean
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x","parallel_tool_calls":1}
--- error_code: 400
--- param: 'parallel_tool_calls'
--- code: 'invalid_type'



=== TEST 36: text.format.type unknown
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x","text":{"format":{"type":"xml"}}}
--- error_code: 400
--- param: 'text.format.type'
--- code: 'invalid_value'



=== TEST 37: json_schema without name
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x","text":{"format":{"type":"json_schema","schema":{}}}}
--- error_code: 400
--- param: 'text.format.name'
--- code: 'missing_required_parameter'



=== TEST 38: json_schema without schema
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x","text":{"format":{"type":"json_schema","name":"s"}}}
--- error_code: 400
--- param: 'text.format.schema'
--- code: 'missing_required_parameter'



=== TEST 39: text.verbosity unknown
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x","text":{"verbosity":"loud"}}
--- error_code: 400
--- param: 'text.verbosity'
--- code: 'invalid_value'



=== TEST 40: max_output_tokens below 16
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x","max_output_tokens":5}
--- error_code: 400
--- param: 'max_output_tokens'
--- code: 'integer_below_min_value'



=== TEST 41: max_output_tokens a decimal
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x","max_output_tokens":50.5}
--- error_code: 400
--- param: 'max_output_tokens'
--- code: 'invalid_type'



=== TEST 42: temperature above 2
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x","temperature":3}
--- error_code: 400
--- param: 'temperature'
--- code: 'decimal_above_max_value'



=== TEST 43: top_p a string
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x","top_p":"x"}
--- error_code: 400
--- param: 'top_p'
--- code: 'invalid_type'



=== TEST 44: reasoning.effort unknown
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x","reasoning":{"effort":"max"}}
--- error_code: 400
--- param: 'reasoning.effort'
--- code: 'invalid_value'



=== TEST 45: truncation unknown
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x","truncation":"sometimes"}
--- error_code: 400
--- param: 'truncation'
--- code: 'invalid_value'



=== TEST 46: stream not a boolean
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x","stream":"yes"}
--- error_code: 400
--- param: 'stream'
--- code: 'invalid_type'



=== TEST 47: store not a boolean
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x","store":"no"}
--- error_code: 400
--- param: 'store'
--- code: 'invalid_type'



=== TEST 48: include not strings
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x","include":[1]}
--- error_code: 400
--- param: 'include'
--- code: 'invalid_type'



=== TEST 49: metadata with a number
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x","metadata":{"k":1}}
--- error_code: 400
--- param: 'metadata.k'
--- code: 'invalid_type'



=== TEST 50: previous_response_id without a store
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x","previous_response_id":"resp_abc"}
--- error_code: 400
--- param: 'previous_response_id'
--- code: 'invalid_value'



=== TEST 51: a built-in tool on a MoA model
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x","tools":[{"type":"function","name":"f"},{"type":"web_search"}]}
--- error_code: 400
--- param: 'tools[1].type'
--- code: 'unsupported_parameter'



=== TEST 52: background on a MoA model
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x","background":true}
--- error_code: 400
--- param: 'background'
--- code: 'unsupported_parameter'



=== TEST 53: an image by file id on a MoA model
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":[{"role":"user","content":[{"type":"input_image","file_id":"file-1"}]}]}
--- error_code: 400
--- param: 'input[0].content[0].image_url'
--- code: 'unsupported_parameter'



=== TEST 54: an item_reference without a store
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":[{"role":"user","content":"x"},{"type":"item_reference","id":"msg_1"}]}
--- error_code: 400
--- param: 'input[1].id'
--- code: 'unsupported_parameter'



=== TEST 55: a built-in tool's item on a MoA model
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":[{"role":"user","content":"x"},{"type":"web_search_call","id":"ws_1","status":"completed"}]}
--- error_code: 400
--- param: 'input[1].type'
--- code: 'unsupported_parameter'



=== TEST 56: a hosted tool_choice on a MoA model
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x","tool_choice":{"type":"file_search"}}
--- error_code: 400
--- param: 'tool_choice.type'
--- code: 'unsupported_parameter'



=== TEST 57: a built-in tool on a translated passthrough
--- request
POST /v1/responses
{"model":"gpt-4o-mini","input":"x","tools":[{"type":"code_interpreter","container":{"type":"auto"}}]}
--- error_code: 400
--- param: 'tools[0].type'
--- code: 'unsupported_parameter'



=== TEST 58: an unknown model without passthrough
--- config
    location = /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_passthrough off;
    }
--- request
POST /v1/responses
{"model":"gpt-4o-mini","input":"x"}
--- error_code: 404
--- param: 'model'
--- code: 'model_not_found'



=== TEST 59: an unknown parameter with moa_unknown_params reject
--- config
    location = /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_unknown_params reject;
    }
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x","frobnicate":1}
--- error_code: 400
--- param: 'frobnicate'
--- code: 'unknown_parameter'



=== TEST 60: an unknown parameter is ignored by default
--- request
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"x","frobnicate":1}
--- error_code: 200
--- json
is $r->{status}, 'completed', 'answered';
--- no_error_log
[alert]
[crit]
