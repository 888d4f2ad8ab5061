# $moa_capture: one fine-tuning line per answered request, for access_log.

use lib 't/lib';
use MoaTest;
use Test::Nginx::Socket 'no_plan';

moa_setup();
no_long_string();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', MoaTest::http_config() . <<'_EOC_');
    log_format moa_capture escape=none '$moa_capture';
_EOC_

    $block->set_value('config', <<'_EOC_') unless defined $block->config;
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        access_log logs/capture.jsonl moa_capture if=$moa_capture;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: a MoA completion: the conversation, the answer the client got, the metadata
--- mock
{"synthesis": {"content": "Paris is the capital of France.",
               "usage": {"prompt_tokens": 50, "completion_tokens": 8}}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[
  {"role":"system","content":"Be brief."},
  {"role":"user","content":"capture-1: capital of France?"}
]}
--- error_code: 200
--- json
my ($c) = MoaTest::captured('capture-1');
ok $c, 'a line was captured';
is scalar @{ $c->{messages} }, 3, 'conversation + answer';
is_deeply $c->{messages}[0], {role => 'system', content => 'Be brief.'}, 'system';
is_deeply $c->{messages}[2], {role => 'assistant', content => $r->{choices}[0]{message}{content}},
    'the answer the client received';
is $c->{metadata}{model}, 'moa-gpt-4o-v1', 'model';
is $c->{metadata}{base_model}, 'gpt-4o', 'base model';
is_deeply $c->{metadata}{usage}, $r->{usage}, 'usage as the client saw it';
like $c->{metadata}{request_id}, qr/^[0-9a-f]{32}$/, 'request id';
cmp_ok abs($c->{metadata}{time} - time), '<', 60, 'time';
cmp_ok $c->{metadata}{duration}, '>=', 0, 'duration';
ok !exists $c->{tools}, 'no tools';
--- no_error_log
[alert]
[crit]



=== TEST 2: a streamed answer with tool calls is reassembled exactly
--- mock
{"synthesis": {"tool_calls": [{"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
                              {"name": "get_time", "arguments": "{\"tz\":\"CET\"}"}],
               "content": "Let me check.", "chunks": 5, "split": true}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"capture-2: weather and time in Paris?"}],"tools":[{"type":"function","function":{"name":"get_weather"}},{"type":"function","function":{"name":"get_time"}}],"parallel_tool_calls":true}
--- error_code: 200
--- sse
my ($c) = MoaTest::captured('capture-2');
ok $c, 'a line was captured';
# what the client got, reassembled here independently
my (@calls, $content);
for my $e (grep { ref } @e) {
    for my $ch (@{ $e->{choices} }) {
        $content .= $ch->{delta}{content} // '';
        for my $tc (@{ $ch->{delta}{tool_calls} || [] }) {
            my $k = $tc->{index};
            $calls[$k]{id} //= $tc->{id};
            $calls[$k]{type} //= $tc->{type};
            $calls[$k]{function}{name} //= $tc->{function}{name};
            $calls[$k]{function}{arguments} .= $tc->{function}{arguments} // '';
        }
    }
}
my $a = $c->{messages}[-1];
is $a->{role}, 'assistant', 'assistant';
is $a->{content}, $content, 'content';
is_deeply $a->{tool_calls}, \@calls, 'tool calls, ids and arguments';
is scalar @{ $a->{tool_calls} }, 2, 'two calls';
is $a->{tool_calls}[1]{function}{arguments}, '{"tz":"CET"}', 'arguments';
is $c->{tools}[1]{function}{name}, 'get_time', 'the tools';
is $c->{parallel_tool_calls}, JSON::PP::true, 'parallel_tool_calls';
is_deeply $c->{metadata}{usage}, $e[-2]{usage}, 'usage as streamed';
--- no_error_log
[alert]
[crit]



=== TEST 3: passthrough, not streamed
--- mock
{"passthrough": {"content": "direct answer",
                 "usage": {"prompt_tokens": 7, "completion_tokens": 2}}}
--- request
POST /v1/chat/completions
{"model":"gpt-4o-mini","messages":[{"role":"user","content":"capture-3"}]}
--- error_code: 200
--- json
my ($c) = MoaTest::captured('capture-3');
ok $c, 'a line was captured';
is $c->{messages}[-1]{content}, 'direct answer', 'answer';
is $c->{metadata}{model}, 'gpt-4o-mini', 'model';
is $c->{metadata}{base_model}, undef, 'no base model';
is $c->{metadata}{usage}{prompt_tokens}, 7, 'usage';
--- no_error_log
[alert]
[crit]



=== TEST 4: passthrough, streamed
--- mock
{"passthrough": {"content": "streamed direct answer", "chunks": 4}}
--- request
POST /v1/chat/completions
{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"capture-4"}]}
--- error_code: 200
--- sse
my ($c) = MoaTest::captured('capture-4');
ok $c, 'a line was captured';
is $c->{messages}[-1]{content}, 'streamed direct answer', 'answer';
is $c->{metadata}{usage}, undef, 'no usage when the client did not ask';
--- no_error_log
[alert]
[crit]



=== TEST 5: a failed request is not captured
--- mock
{"proposal": {"status": 500}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"capture-5"}]}
--- error_code: 502
--- json
my @c = MoaTest::captured('capture-5');
is scalar @c, 0, 'nothing captured';
--- no_error_log
[alert]
[crit]



=== TEST 6: a stream cut short is not captured
--- mock
{"synthesis": {"content": "one two three", "chunks": 3, "stream_cut_after": 2}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","stream":true,"messages":[{"role":"user","content":"capture-6"}]}
--- error_code: 200
--- sse
my @c = MoaTest::captured('capture-6');
is scalar @c, 0, 'nothing captured';
--- no_error_log
[alert]
[crit]



=== TEST 7: a fallback answer is captured and marked
--- config
    location = /v1/chat/completions {
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_fallback candidate;
        access_log logs/capture.jsonl moa_capture if=$moa_capture;
    }
--- mock
{"proposal": {"content": "candidate {call}"}, "synthesis": {"status": 500}}
--- request
POST /v1/chat/completions
{"model":"moa-gpt-4o-v1","messages":[{"role":"user","content":"capture-7"}]}
--- error_code: 200
--- json
my ($c) = MoaTest::captured('capture-7');
is $c->{messages}[-1]{content}, 'candidate 0', 'the candidate';
is $c->{metadata}{fallback}, JSON::PP::true, 'marked';
--- no_error_log
[alert]
[crit]



=== TEST 8: one line per request, whatever the client's formatting
--- mock
{"synthesis": {"content": "line one\nline two"}}
--- request
POST /v1/chat/completions
{
    "model": "moa-gpt-4o-v1",
    "messages": [
        {"role": "user", "content": "capture-8\nwith a newline"}
    ]
}
--- error_code: 200
--- json
my $path = Test::Nginx::Util::server_root() . '/logs/capture.jsonl';
MoaTest::captured('capture-8');
open my $fh, '<', $path or die $!;
my @lines = grep { /capture-8/ } <$fh>;
is scalar @lines, 1, 'one line';
my $c = MoaTest::decode_json($lines[0]);
is $c->{messages}[0]{content}, "capture-8\nwith a newline", 'content kept';
is $c->{messages}[1]{content}, "line one\nline two", 'answer kept';
--- no_error_log
[alert]
[crit]
