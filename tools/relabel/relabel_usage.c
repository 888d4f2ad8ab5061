
/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel's --help text: every option, online and --batch, and the
 * exit statuses (the option table itself is in relabel_args.c).
 */


#include <stdio.h>

#include "relabel.h"


static const char  relabel_usage_text[] =
"Usage: moa-relabel [options] IN.jsonl OUT.jsonl\n"
"\n"
"Relabels a chat fine-tuning file.  For each record of IN, the messages up\n"
"to its final assistant message (all of them when the last message is not\n"
"an assistant message), with its tools, go to a chat completions endpoint;\n"
"the record is written to OUT with that message replaced by (or appended\n"
"as) the answer, everything else byte for byte, in input order.  Rows that\n"
"cannot be relabeled go to the rejects file.  Run the same command again\n"
"to resume an interrupted run.\n"
"\n"
"Options:\n"
"  -e, --endpoint URL      chat completions URL (default\n"
"                          http://127.0.0.1:8080/v1/chat/completions)\n"
"  -m, --model NAME        model to ask for (default moa-gpt-4o-v1)\n"
"  -c, --concurrency N     requests in flight at once (default 8)\n"
"  -w, --window N          most rows held between reading and writing\n"
"                          (default 8 x concurrency, at least 64)\n"
"      --api-key KEY       bearer token (default $OPENAI_API_KEY)\n"
"  -H, --header 'N: V'     extra request header (repeatable)\n"
"  -p, --param KEY=VALUE   extra request field; VALUE is used as JSON when\n"
"                          it parses, else as a string (repeatable):\n"
"                          -p temperature=0.7 -p 'stop=[\"###\"]'\n"
"  -r, --retries N         retries per row after the first try (default 5)\n"
"  -t, --timeout SECS      per request (default 600)\n"
"      --connect-timeout SECS\n"
"                          (default 10)\n"
"      --backoff SECS      first retry delay, doubled per retry, with\n"
"                          jitter (default 1)\n"
"      --backoff-max SECS  longest retry delay (default 60)\n"
"      --retry-after-max SECS\n"
"                          longest delay a server may ask for (default 300)\n"
"      --rejects FILE      rejected rows (default OUT.rejects.jsonl, i.e.\n"
"                          OUT with .jsonl replaced by .rejects.jsonl)\n"
"      --max-consecutive-failures N\n"
"                          stop (exit 4) when N rows in a row fail in ways\n"
"                          that point at the endpoint (default 10; 0 never)\n"
"      --limit N           stop after input line N\n"
"      --overwrite         start from scratch: empty OUT and rejects first\n"
"  -k, --insecure          do not verify the endpoint's TLS certificate\n"
"      --progress-interval SECS\n"
"                          seconds between progress lines when stderr is\n"
"                          not a terminal (default 5)\n"
"  -q, --quiet             no progress or reject lines; summary and errors\n"
"  -v, --verbose           also log every retry and its delay\n"
"  -h, --help              this text\n"
"  -V, --version           version and libcurl version\n"
"\n"
"Batch mode (the provider's Batch API: half the price, within 24 hours):\n"
"      --batch             run the MoA stages as batch jobs of the provider\n"
"                          itself: -m names the provider's model (default\n"
"                          gpt-4o); the state is kept in OUT.batch and the\n"
"                          directory OUT.batch.d until OUT is complete\n"
"      --batch-url BASE    the provider's API (default\n"
"                          https://api.openai.com/v1)\n"
"      --batch-retry N     rounds that send failed requests again (429, 5xx,\n"
"                          bad replies) before their rows are rejected\n"
"                          (default 2; 0: reject at once)\n"
"      --batch-cancel      cancel the open batches of the run of OUT\n"
"      --poll-interval SECS\n"
"                          between two looks at a batch (default 30)\n"
"      --price MODEL=IN/OUT[/BATCH_IN/BATCH_OUT]\n"
"                          USD per million tokens (repeatable); batch\n"
"                          prices default to half\n"
"      --completion-window W   (default 24h)\n"
"      --file-purpose P    of the uploaded files (default batch; Together:\n"
"                          batch-api)\n"
"      --batch-max-requests N  requests a batch file (default 50000)\n"
"      --batch-max-mb N    megabytes a batch file (default 190)\n"
"      --batch-keep        keep the state file and work directory\n"
"  The recipe, as the module's directives (moa_proposers ...):\n"
"      --proposers N (3)  --proposer-temperature T (1.0)\n"
"      --proposer model=M[,temperature=T] (repeatable: replaces --proposers)\n"
"      --proposer-n on|off (off)  --proposer-max-tokens N\n"
"      --critique on|off (on)  --critic-model M\n"
"      --critique-temperature T (0.2)  --critic-max-tokens N\n"
"      --aggregator-model M  --aggregator-temperature T\n"
"      --critique-prompt FILE  --synthesis-prompt FILE\n"
"      --min-proposals N (1)  --unknown-params pass|drop|reject (pass)\n"
"      --fallback candidate|error (error)\n"
"      --layers N (1)  --layer-prompt FILE  --agreement on|off (off)\n"
"      --aggregate synthesize|select (synthesize)  --select-prompt FILE\n"
"      --select-format json_schema|json_object|none (json_schema)\n"
"      --select-json-schema on|off (on)  --max-total-tokens N\n"
"      --reasoning         the model is a reasoning model (moa_model ...\n"
"                          reasoning): no temperature, max_completion_tokens\n"
"\n"
"Exit status: 0 all rows relabeled; 1 finished, with rows in the rejects\n"
"file; 2 usage, file or resume error; 3 the final count check failed;\n"
"4 stopped because the endpoint kept failing; 128+N stopped by signal N\n"
"(130 SIGINT, 143 SIGTERM).  After 4 or 128+N, run the same command again\n"
"(without --overwrite) to resume.\n";


void
relabel_usage_print(FILE *f)
{
    fputs(relabel_usage_text, f);
}
