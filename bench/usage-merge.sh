#!/usr/bin/env bash
# Builds and runs bench/usage-merge.c against the pure code of the tree it
# sits in (lib/ and openai/, -O2 as the module's build): the time to sum a
# usage of N members (issue #20 item 5) and a normal request's usage.
#
#   bench/usage-merge.sh [members [requests]]   default 60000 200000
#   CALLGRIND=1 bench/usage-merge.sh            instructions too (valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/usage-merge
mkdir -p build
cc -O2 -g -Ilib -Ingx_http_moa_module/openai -o "$out" bench/usage-merge.c \
    lib/*.c ngx_http_moa_module/openai/*.c -lcjson -lm
"$out" "$@"
if [ -n "${CALLGRIND:-}" ]; then
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        "$out" "${1:-60000}" 1 2>&1 | grep -E 'Collected|refs'
fi
