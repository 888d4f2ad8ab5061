#!/usr/bin/env bash
# render TEMPLATE OUT: replace every @NAME@ with $R_NAME (fails on unset)
set -euo pipefail
perl -pe 's/\@([A-Z_]+)\@/exists $ENV{"R_$1"} ? $ENV{"R_$1"}
    : die "render: R_$1 unset in $ARGV\n"/ge' "$1" > "$2"
