#!/usr/bin/env bash
# Matching benchmark, end to end: builds the release binaries, generates seeded datasets with
# ground truth (10k, 100k, 1M open invoices and as many transactions by default) into bench/out/,
# runs the offline matcher on each (JSON parsing and writing included), and reports wall time,
# CPU time and peak memory (/usr/bin/time -v) with the quality figures against the truth.
#
#   bench/matching/run.sh                 # 10k, 100k, 1M
#   SIZES="10000 100000" bench/matching/run.sh
#   NUMBERING=plain bench/matching/run.sh # invoice numbers without prefix (WHMCS default)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/bench/out"
sizes=${SIZES:-"10000 100000 1000000"}
numbering=${NUMBERING:-prefixed}
seed=${SEED:-42}
target=${CARGO_TARGET_DIR:-$root/target}
bin="$target/release"

(cd "$root" && cargo build --release --quiet -p payymo-offline-match --bins)
mkdir -p "$out"
results="$out/results-$numbering.md"
{
  echo "| transactions x open invoices | wall s | user+sys s | peak RSS MB | auto precision % | auto share of payable % | right suggestion % |"
  echo "|---|---|---|---|---|---|---|"
} > "$results"

for n in $sizes; do
  dir="$out/$numbering-$n"
  if [ ! -s "$dir/truth.json" ]; then
    "$bin/payymo-gen-dataset" --open "$n" --transactions "$n" --seed "$seed" --numbering "$numbering" --out "$dir"
  fi
  /usr/bin/time -v "$bin/payymo-match-offline" \
    --invoices "$dir/INVOICES.json" --transactions "$dir/TRANSACTIONS.json" \
    --output "$dir/out.json" 2> "$dir/time.txt"
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {
      n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s }' "$dir/time.txt")
  cpu=$(awk -F': ' '/User time/ {u = $2} /System time/ {s = $2} END {printf "%.2f", u + s}' "$dir/time.txt")
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$dir/time.txt")
  "$bin/payymo-gen-dataset" --evaluate "$dir/out.json" --truth "$dir/truth.json" > "$dir/quality.json"
  q() { sed -n "s/.*\"$1\": \"\([^\"]*\)\".*/\1/p" "$dir/quality.json"; }
  echo "| $n x $n | $wall | $cpu | $rss | $(q auto_precision_pct) | $(q auto_share_pct) | $(q right_suggestion_pct) |" >> "$results"
done
cat "$results"
