#!/usr/bin/env bash
# What `button lint` costs per line, in numbers that a busy shared machine does not blur:
# the instructions callgrind counts for the first 1,000 lines of the benchmark file (the
# same every run), and the fastest of N wall-clock runs on all 100,000, each binary given
# taking turns (so a neighbour's load falls on all of them alike).
#
#     bash benches/lint-cost.sh                      # this checkout's release build
#     bash benches/lint-cost.sh /tmp/button-before   # ... against another build of it
#     N=7 bash benches/lint-cost.sh ...
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-5}
DATA=bench-data/button-100000.jsonl
cargo build --release --quiet --bin button --example gen_dataset
[ -f "$DATA" ] || ./target/release/examples/gen_dataset 100000 "$DATA"
head -n 1000 "$DATA" > bench-data/lint-1000.jsonl
bins=(./target/release/button "$@")
for b in "${bins[@]}"; do
  ir=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$b" lint bench-data/lint-1000.jsonl 2>&1 >/dev/null |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
  echo "$b: $ir instructions for 1,000 lines (callgrind)"
done
cat "$DATA" > /dev/null
for i in $(seq "$N"); do
  for b in "${bins[@]}"; do
    /usr/bin/time -f "$b %e %U" "$b" lint "$DATA" 2>&1 >/dev/null | tail -n 1
  done
done | awk '{ if (!($1 in w) || $2 < w[$1]) w[$1] = $2; if (!($1 in u) || $3 < u[$1]) u[$1] = $3 }
  END { for (b in w) printf "%s: fastest of '"$N"' on 100,000 lines: %.2f s wall, %.2f s user\n", b, w[b], u[b] }'
