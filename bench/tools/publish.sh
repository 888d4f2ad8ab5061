#!/usr/bin/env bash
# publish.sh RESULTS_DIR: keep a run as the reference one. Copies its
# summary to bench/results/final/ (the only results kept in git) and puts its
# tables between the results markers of BENCHMARKS.md (top level).
set -euo pipefail
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
src=${1:?usage: publish.sh RESULTS_DIR}
[ -f "$src/tables.md" ] || { echo "publish: no tables.md in $src" >&2; exit 1; }
dst=$BENCH/results/final
rm -rf "$dst"
mkdir -p "$dst"
for f in machine.txt runs.jsonl summary.json summary.csv tables.md \
         latency.dat latency.png; do
    [ -f "$src/$f" ] && cp "$src/$f" "$dst/"
done
node - "$BENCH/../BENCHMARKS.md" "$dst/tables.md" "$(basename "$src")" <<'JS'
const fs = require('fs');
const [doc, tables, run] = process.argv.slice(2);
const begin = '<!-- results:begin -->', end = '<!-- results:end -->';
const text = fs.readFileSync(doc, 'utf8');
const i = text.indexOf(begin), j = text.indexOf(end);
if (i < 0 || j < i) {
    console.error(`publish: markers ${begin} ... ${end} missing in ${doc}`);
    process.exit(1);
}
fs.writeFileSync(doc, text.slice(0, i + begin.length) +
    `\n<!-- written by bench/tools/publish.sh from run ${run} -->\n\n` +
    fs.readFileSync(tables, 'utf8').trim() + '\n\n' + text.slice(j));
JS
echo "publish: $src -> $dst and BENCHMARKS.md"
