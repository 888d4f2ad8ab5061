#!/usr/bin/env bash
# Builds and runs bench/metrics-overhead.c: the metrics hot path of the
# module, compiled with the very flags and includes of the module's build
# (run `make` first), against counters in shared memory.
#
#   bench/metrics-overhead.sh [requests]      default 10000000
#   CALLGRIND=1 bench/metrics-overhead.sh     instructions per request too
#                                             (Debian package valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/build/metrics-overhead.d
mk=build/Makefile
[ -f "$mk" ] || { echo "run make first" >&2; exit 1; }

cflags=$(sed -n 's/^CFLAGS = *//p' "$mk")
incs=$(awk '/^ALL_INCS = /{p=1} p{print} p&&!/\\$/{exit}' "$mk" \
       | sed 's/^ALL_INCS = //; s/\\$//' | tr -d '\t\n')

mkdir -p "$out"
pure=$(echo lib/*.c ngx_http_moa_module/openai/*.c)
cd build/nginx-src      # ALL_INCS are relative to the nginx tree
for f in bench/metrics-overhead.c $pure
do
    cc -c -fPIC $cflags $incs -o "$out/$(basename "$f" .c).o" "$root/$f"
done
cd "$root"

# what the measured code never calls (directives, the exposition, nginx's
# own functions) is linked to stubs that abort
defined=" $(nm --defined-only "$out"/ngx_http_moa_*.o | awk '{print $3}' \
           | tr '\n' ' ') "
{
    echo '#include <stdlib.h>'
    nm -u "$out/metrics-overhead.o" | awk '$2 ~ /^ngx_/ {print $2}' \
    | while read -r sym; do
        case $defined in *" $sym "*) continue ;; esac
        case $sym in
        *_module|ngx_pagesize) echo "char $sym[4096];" ;;
        *) echo "void $sym(void) { abort(); }" ;;
        esac
    done
} > "$out/stubs.c"
cc -c -o "$out/stubs.o" "$out/stubs.c"

cc -o build/metrics-overhead "$out"/*.o -lcjson

build/metrics-overhead "${1:-10000000}"

if [ -n "${CALLGRIND:-}" ]; then
    # one process at two sizes: the difference is 1.1 x n requests
    for n in 100000 200000; do
        valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            build/metrics-overhead "$n" one 2>&1 \
            | sed -n "s/.*Collected : \([0-9]*\).*/$n \1/p"
    done | awk 'NR == 1 {n1 = $1; i1 = $2}
                NR == 2 {printf "callgrind: %.1f instructions per request\n",
                         ($2 - i1) / (($1 - n1) * 1.1)}'
fi
