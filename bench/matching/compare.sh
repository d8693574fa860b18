#!/usr/bin/env bash
# Speed side by side: the offline matcher of BASE (a commit, built once into target/baseline/)
# against the current one, on the same dataset, alternating runs, each under /usr/bin/time.
# Prints one line per run and the medians (wall s, user+sys s, peak RSS MB), and checks that
# both binaries decide the same where they should (the decisions are compared by count only:
# an engine change may change them on purpose).
#
#   BASE=<commit> bench/matching/compare.sh                   # 100k, real mix, prefixed, 5 runs
#   BASE=<commit> N=10000 RUNS=10 NUMBERING=yearly MIX=classic bench/matching/compare.sh
#   NO_BUILD=1 ...                      # use the binaries as built
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
base=${BASE:?set BASE to the commit to compare against}
n=${N:-100000}
runs=${RUNS:-5}
numbering=${NUMBERING:-prefixed}
mix=${MIX:-real}
seed=${SEED:-42}
target=${CARGO_TARGET_DIR:-$root/target}
out="$root/bench/out"
old_bin="$target/baseline/$base/payymo-match-offline"

if [ ! -x "$old_bin" ]; then
  src="$target/baseline/$base/src"
  mkdir -p "$src"
  git -C "$root" archive "$base" | tar -x -C "$src"
  (cd "$src" && cargo build --release --quiet -p payymo-offline-match --bins --target-dir "$target/baseline/build")
  cp "$target/baseline/build/release/payymo-match-offline" "$old_bin"
  rm -rf "$src"
fi
[ -n "${NO_BUILD:-}" ] || (cd "$root" && cargo build --release --quiet -p payymo-offline-match --bins)
new_bin="$target/release/payymo-match-offline"

dir="$out/$mix-$numbering-$n"
if [ ! -s "$dir/truth.json" ]; then
  "$target/release/payymo-gen-dataset" --open "$n" --transactions "$n" --seed "$seed" \
    --numbering "$numbering" --mix "$mix" --out "$dir"
fi

measure() { # label binary output
  /usr/bin/time -v "$2" --invoices "$dir/INVOICES.json" --transactions "$dir/TRANSACTIONS.json" \
    --output "$3" 2> "$dir/time-$1.txt" > /dev/null
  awk -F': ' -v label="$1" '
    /Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + p[i] }
    /User time/ { u = $2 } /System time/ { s = $2 } /Maximum resident set size/ { r = $2 / 1024 }
    END { printf "%s %.2f %.2f %.0f\n", label, w, u + s, r }' "$dir/time-$1.txt"
}

results="$dir/compare.txt"
: > "$results"
for i in $(seq "$runs"); do
  measure before "$old_bin" "$dir/out-before.json" | tee -a "$results"
  measure after "$new_bin" "$dir/out-after.json" | tee -a "$results"
done
median() { # label column
  awk -v l="$1" -v c="$2" '$1 == l { print $c }' "$results" | sort -n |
    awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
echo "| binary | runs | wall s, median | user+sys s, median | peak RSS MB, median |"
echo "|---|---|---|---|---|"
for l in before after; do
  echo "| $l | $runs | $(median $l 2) | $(median $l 3) | $(median $l 4) |"
done
