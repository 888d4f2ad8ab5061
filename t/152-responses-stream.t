# POST /v1/responses with "stream": true: typed events (event: + data:
# with sequence_number) in OpenAI's order, response.created at once, the
# stages' progress as comments, the end with the whole response and its
# usage, failures as an error event and response.failed, client aborts.

use lib 't/lib';
use MoaTest;
use Test::Nginx::Socket 'no_plan';

moa_setup();
no_long_string();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', <<'_EOC_') unless defined $block->config;
    location = /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
    }
_EOC_

    $block->set_value('request', <<'_EOC_') unless defined $block->request;
POST /v1/responses
{"model":"moa-gpt-4o-v1","input":"hi","stream":true}
_EOC_
});

# every frame: "event: T" then "data: {...}" whose type is T, numbered
# from 0 in order; no [DONE]; returns the events' data
sub main::frames {
    my ($body) = @_;
    my @e;
    for my $frame (split /\n\n/, $body) {
        next if $frame =~ /^:/;
        # two lines: an SSE client reads any other line as a field
        my ($type, $data) = $frame =~ /\Aevent: (\S+)\ndata: ([^\n]*)\z/
            or do { Test::More::fail("a frame of event and data: $frame");
                    next };
        my $d = MoaTest::decode_json($data);
        Test::More::is($d->{type}, $type, "event $type: data of its type")
            unless $d->{type} eq $type;
        Test::More::is($d->{sequence_number}, scalar @e,
                       "$type: sequence_number " . scalar @e)
            unless $d->{sequence_number} == @e;
        push @e, $d;
    }
    Test::More::unlike($body, qr/\[DONE\]/, 'no [DONE]');
    return @e;
}

run_tests();

__DATA__

=== TEST 1: text then a tool call: every event in OpenAI's order, numbered, the whole response and the usage at the end
--- mock
{"proposal": {"usage": {"prompt_tokens": 100, "completion_tokens": 20}},
 "synthesis": {"content": "Hello streaming world", "chunks": 3,
               "tool_calls": [{"name": "get_weather",
                               "arguments": "{\"city\":\"Paris\"}"}],
               "usage": {"prompt_tokens": 500, "completion_tokens": 7}}}
--- error_code: 200
--- response_headers_like
Content-Type: text/event-stream; charset=utf-8
--- check
my @e = main::frames($body);
is_deeply [map { $_->{type} } @e], [qw(
    response.created response.in_progress
    response.output_item.added response.content_part.added
    response.output_text.delta response.output_text.delta
    response.output_text.delta
    response.output_text.done response.content_part.done
    response.output_item.done
    response.output_item.added
    response.function_call_arguments.delta
    response.function_call_arguments.delta
    response.function_call_arguments.delta
    response.function_call_arguments.done
    response.output_item.done
    response.completed)], 'the events in order';
my $id = $e[0]{response}{id};
like $id, qr/^resp_[0-9a-f]{48}$/, 'the response id';
is $e[0]{response}{status}, 'in_progress', 'created: in progress';
is_deeply $e[0]{response}{output}, [], 'created: no output yet';
is $e[0]{response}{model}, 'moa-gpt-4o-v1', 'created: the MoA id';
is $e[1]{response}{id}, $id, 'in_progress: the same id';
my $msg = $e[2]{item};
like $msg->{id}, qr/^msg_/, 'the message item';
is $msg->{status}, 'in_progress', 'added in progress';
is $e[2]{output_index}, 0, 'output_index 0';
is $e[3]{item_id}, $msg->{id}, 'part of the message';
is $e[3]{part}{text}, '', 'an empty part first';
is join('', map { $_->{delta} } @e[4 .. 6]), 'Hello streaming world',
    'the deltas';
is $e[7]{text}, 'Hello streaming world', 'output_text.done: the text';
is $e[8]{part}{text}, 'Hello streaming world', 'content_part.done';
is $e[9]{item}{status}, 'completed', 'message done';
my $fc = $e[10]{item};
is $fc->{type}, 'function_call', 'a function_call item';
is $e[10]{output_index}, 1, 'output_index 1';
is $fc->{name}, 'get_weather', 'its name';
like $fc->{call_id}, qr/^call_synthesis_0_0$/, "the provider's call id";
is $fc->{arguments}, '', 'no arguments yet';
is join('', map { $_->{delta} } @e[11 .. 13]), '{"city":"Paris"}',
    'the arguments deltas';
is $e[14]{arguments}, '{"city":"Paris"}', 'arguments done';
is $e[14]{item_id}, $fc->{id}, 'of the call item';
is $e[15]{item}{arguments}, '{"city":"Paris"}', 'item done, whole';
my $r = $e[16]{response};
is $r->{id}, $id, 'completed: the same id';
is $r->{status}, 'completed', 'status completed';
is scalar @{ $r->{output} }, 2, 'two output items';
is $r->{output}[0]{content}[0]{text}, 'Hello streaming world', 'message';
is $r->{output}[1]{call_id}, $fc->{call_id}, 'the call';
is $r->{usage}{input_tokens}, 3 * 100 + 10 + 500, 'input tokens summed';
is $r->{usage}{output_tokens}, 3 * 20 + 5 + 7, 'output tokens summed';
is $r->{usage}{total_tokens}, 3 * 120 + 15 + 507, 'total';
--- error_log
mock: stage=synthesis call=0 model=gpt-4o stream=true
--- no_error_log
[alert]
[crit]
[error]



=== TEST 2: response.created goes out before the stages run, their progress as comments
--- mock
{"proposal": {"delay": 100}}
--- error_code: 200
--- check
my $created = index $body, 'event: response.created';
my $progress = index $body, ': moa proposals';
ok $created == 0, 'response.created first';
ok $progress > $created, 'then the progress comments';
like $body, qr/^: moa critique$/m, 'the critique';
like $body, qr/^: moa synthesis$/m, 'the synthesis';
my @e = main::frames($body);
is $e[-1]{type}, 'response.completed', 'completed';
--- no_error_log
[alert]
[crit]



=== TEST 3: a refusal is a message with a refusal part
--- mock
{"synthesis": {"refusal": "I cannot help with that"}}
--- error_code: 200
--- check
my @e = main::frames($body);
my @t = map { $_->{type} } @e;
ok((grep { $_ eq 'response.refusal.delta' } @t), 'refusal delta');
my ($done) = grep { $_->{type} eq 'response.refusal.done' } @e;
is $done->{refusal}, 'I cannot help with that', 'refusal done';
my $r = $e[-1]{response};
is $r->{output}[0]{content}[0]{type}, 'refusal', 'a refusal part';
is $r->{output}[0]{content}[0]{refusal}, 'I cannot help with that', 'text';



=== TEST 4: finish_reason length: response.incomplete, max_output_tokens
--- mock
{"synthesis": {"content": "cut", "finish_reason": "length"}}
--- error_code: 200
--- check
my @e = main::frames($body);
is $e[-1]{type}, 'response.incomplete', 'the last event';
my $r = $e[-1]{response};
is $r->{status}, 'incomplete', 'status';
is_deeply $r->{incomplete_details}, {reason => 'max_output_tokens'},
    'reason';
is $r->{output}[0]{status}, 'incomplete', 'the message is incomplete';



=== TEST 5: the provider's error event mid-stream: an error event, then response.failed
--- mock
{"synthesis": {"content": "partial text", "stream_error": {"message": "overloaded"}}}
--- error_code: 200
--- check
my @e = main::frames($body);
is $e[-2]{type}, 'error', 'an error event';
is $e[-2]{message}, 'overloaded', "the provider's message";
is $e[-2]{code}, 'server_error', "its type, as it has no code";
ok exists $e[-2]{param}, 'param';
is $e[-1]{type}, 'response.failed', 'then response.failed';
is $e[-1]{response}{status}, 'failed', 'status failed';
is $e[-1]{response}{error}{code}, 'server_error', 'error.code';
is $e[-1]{response}{error}{message}, 'overloaded', 'error.message';
my ($done) = grep { $_->{type} eq 'response.output_item.done' } @e;
like $done->{item}{content}[0]{text}, qr/^part/, 'what came is closed';
is $done->{item}{status}, 'incomplete', 'as incomplete';
--- error_log
moa synthesis stream failed
--- no_error_log
[alert]
[crit]



=== TEST 6: a stream cut short: error and response.failed
--- mock
{"synthesis": {"content": "a b c", "stream_cut_after": 2}}
--- error_code: 200
--- check
my @e = main::frames($body);
is $e[-1]{type}, 'response.failed', 'failed';
is $e[-2]{type}, 'error', 'after an error event';
--- no_error_log
[alert]
[crit]



=== TEST 7: every proposal fails: the stream started, so error and response.failed, with the status's error
--- mock
{"proposal": {"status": 500}}
--- error_code: 200
--- check
my @e = main::frames($body);
is_deeply [map { $_->{type} } @e],
    [qw(response.created response.in_progress error response.failed)],
    'created, then the failure';
is $e[2]{code}, 'upstream_error', 'the error code';
like $e[2]{message}, qr/all 3 proposal calls failed|proposal/, 'message';
is $e[3]{response}{status}, 'failed', 'failed';
is_deeply $e[3]{response}{output}, [], 'no output';
--- error_log
moa request failed
--- no_error_log
[alert]
[crit]
mock: start stage=critique



=== TEST 8: quorum: moa_min_proposals 2 with one usable candidate fails the response
--- config
    location = /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_min_proposals 2;
    }
--- mock
{"proposal.0": {"status": 500}, "proposal.1": {"status": 500}}
--- error_code: 200
--- check
my @e = main::frames($body);
is $e[-1]{type}, 'response.failed', 'failed';
is $e[-2]{code}, 'not_enough_candidates', 'not enough candidates';
--- no_error_log
[alert]
[crit]
mock: start stage=synthesis



=== TEST 9: deadline: moa_proposal_timeout goes on with the candidates in
--- config
    location = /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_proposal_timeout 300ms;
    }
--- mock
{"proposal.2": {"delay": 5000}, "synthesis": {"content": "on time"}}
--- error_code: 200
--- check
my @e = main::frames($body);
is $e[-1]{type}, 'response.completed', 'completed';
is $e[-1]{response}{output}[0]{content}[0]{text}, 'on time', 'answered';
--- error_log
moa: moa_proposal_timeout: going on with 2 of 3 proposals
--- no_error_log
[alert]
[crit]



=== TEST 10: fallback: the synthesis fails, a candidate answers as a stream
--- config
    location = /v1/responses {
        moa_api responses;
        moa_pass /_moa_upstream;
        moa_model moa-gpt-4o-v1 gpt-4o;
        moa_fallback candidate;
    }
--- mock
{"proposal": {"content": "candidate {call} text"}, "synthesis": {"status": 500}}
--- error_code: 200
--- check
my @e = main::frames($body);
is $e[-1]{type}, 'response.completed', 'completed';
my $r = $e[-1]{response};
is $r->{output}[0]{content}[0]{text}, 'candidate 0 text',
    'the first good candidate';
my ($delta) = grep { $_->{type} eq 'response.output_text.delta' } @e;
is $delta->{delta}, 'candidate 0 text', 'as one delta';
--- error_log
moa synthesis failed, answering with candidate 0
--- no_error_log
[alert]
[crit]



=== TEST 11: the client goes away during a streamed synthesis
--- mock
{"synthesis": {"content": "a b c d", "chunks": 4, "interval": 1000}}
--- timeout: 0.5
--- abort
--- ignore_response
--- wait: 0.2
--- error_log
client prematurely closed connection
close http upstream connection
--- no_error_log
[alert]
[crit]



=== TEST 12: the client goes away while the proposals run: every call cancelled
--- mock
{"proposal": {"delay": 1000}}
--- timeout: 0.3
--- abort
--- ignore_response
--- wait: 0.2
--- error_log
moa: client prematurely closed connection
--- no_error_log
[alert]
[crit]
mock: start stage=critique



=== TEST 13: a translated passthrough streamed: the provider's chat chunks become the events
--- mock
{"passthrough": {"content": "passed through", "chunks": 2}}
--- request
POST /v1/responses
{"model":"gpt-4o-mini","input":"hi","stream":true}
--- error_code: 200
--- check
my @e = main::frames($body);
is_deeply [map { $_->{type} } @e], [qw(
    response.created response.in_progress
    response.output_item.added response.content_part.added
    response.output_text.delta response.output_text.delta
    response.output_text.done response.content_part.done
    response.output_item.done response.completed)], 'the events';
my $r = $e[-1]{response};
is $r->{model}, 'gpt-4o-mini', "the request's model";
is $r->{output}[0]{content}[0]{text}, 'passed through', 'the text';
is $r->{usage}{input_tokens}, 10, 'the usage of the one call';
unlike $body, qr/moa proposals/, 'no stages';
--- error_log
mock: stage=passthrough call=0 model=gpt-4o-mini stream=true body={"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}
--- no_error_log
[alert]
[crit]
[error]



=== TEST 14: a translated passthrough's error before its stream: error and response.failed
--- mock
{"passthrough": {"status": 429, "error": {"code": "rate_limit_exceeded"}}}
--- request
POST /v1/responses
{"model":"gpt-4o-mini","input":"hi","stream":true}
--- error_code: 200
--- check
my @e = main::frames($body);
is $e[-2]{type}, 'error', 'an error event';
is $e[-2]{code}, 'rate_limit_exceeded', "the provider's code";
is $e[-1]{type}, 'response.failed', 'failed';
--- no_error_log
[alert]
[crit]



=== TEST 15: a pretty-printed request: the echo in every event stays on its data line
--- request eval
"POST /v1/responses\n" . <<'_EOB_'
{
  "model": "moa-gpt-4o-v1",
  "input": "hi",
  "stream": true,
  "tools": [
    {
      "type": "function",
      "name": "f",
      "parameters": {
        "type": "object"
      }
    }
  ],
  "metadata": {"k": "v"}
}
_EOB_
--- error_code: 200
--- check
my @e = main::frames($body);
is $e[-1]{type}, 'response.completed', 'completed';
is $e[0]{response}{tools}[0]{parameters}{type}, 'object', 'tools echoed';
is_deeply $e[-1]{response}{metadata}, {k => 'v'}, 'metadata echoed';
--- no_error_log
[alert]
[crit]



=== TEST 16: a text and a refusal: two parts (output_text at 0, refusal at 1) of one message item, each with its part events, the item's done carrying both
--- mock
{"synthesis": {"content": "Part of it", "chunks": 2, "refusal": "not the rest"}}
--- error_code: 200
--- check
my @e = main::frames($body);
my @m = grep { $_->{type} =~ /^response\.(output_item|content_part|output_text|refusal)\./ } @e;
is join(' ', map { $_->{type} =~ s/^response\.//r } @m),
   'output_item.added content_part.added output_text.delta output_text.delta'
   . ' output_text.done content_part.done content_part.added refusal.delta'
   . ' refusal.done content_part.done output_item.done', 'one item, its parts in order';
my %ids = map { ($_->{item_id} // $_->{item}{id}) => 1 } @m;
is scalar(keys %ids), 1, 'one item id throughout';
is_deeply [map { $_->{content_index} } grep { $_->{type} =~ /content_part|refusal|output_text/ } @m],
    [0, 0, 0, 0, 0, 1, 1, 1, 1], 'content_index 0 for the text, 1 for the refusal';
my ($added) = grep { $_->{type} eq 'response.content_part.added' && $_->{content_index} == 1 } @m;
is_deeply $added->{part}, {type => 'refusal', refusal => ''}, 'the refusal part added empty';
my ($rd) = grep { $_->{type} eq 'response.refusal.done' } @m;
is $rd->{refusal}, 'not the rest', 'refusal.done';
my ($item) = grep { $_->{type} eq 'response.output_item.done' } @m;
is scalar @{$item->{item}{content}}, 2, 'output_item.done carries both parts';
is $item->{item}{content}[0]{text}, 'Part of it', 'the text';
is $item->{item}{content}[1]{refusal}, 'not the rest', 'the refusal';
my $r = $e[-1]{response};
is scalar @{$r->{output}}, 1, 'one output item in the response';
is_deeply [map { $_->{type} } @{$r->{output}[0]{content}}],
    ['output_text', 'refusal'], 'its two parts';
--- no_error_log
[alert]
[crit]
