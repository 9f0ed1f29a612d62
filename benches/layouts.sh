#!/usr/bin/env bash
# What `button lint` costs on each layout it writes, on the same 100,000 trajectories: the
# benchmark file (BUTTONInstruct) and its OpenAI, ShareGPT and Hermes exports. For each:
# callgrind's instructions for the first 1,000 lines (the same every run), and the fastest
# of N wall-clock runs on all of it, `jq -c .` on the same file in turns.
#
#     bash benches/layouts.sh                      # this checkout's release build
#     bash benches/layouts.sh /tmp/button-before   # ... against another build of it
#     N=3 bash benches/layouts.sh ...
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-5}
DATA=bench-data/button-100000.jsonl
cargo build --release --quiet --bin button --example gen_dataset
[ -f "$DATA" ] || ./target/release/examples/gen_dataset 100000 "$DATA"
files=("$DATA")
for f in openai sharegpt hermes; do
  out=bench-data/button-100000.$f.jsonl
  if [ ! -f "$out" ]; then
    ws=bench-data/ws-layouts
    [ -d "$ws" ] || ./target/release/button --workspace "$ws" import "$DATA" >/dev/null
    ./target/release/button --workspace "$ws" export --format "$f" --status all --out "$out" >/dev/null
    rm -f "$out".*.provenance.jsonl
  fi
  files+=("$out")
done
bins=(./target/release/button "$@")
for f in "${files[@]}"; do
  head -n 1000 "$f" > bench-data/layout-1000.jsonl
  for b in "${bins[@]}"; do
    ir=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$b" lint bench-data/layout-1000.jsonl 2>&1 >/dev/null |
      sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
    echo "$f $b: $ir instructions for 1,000 lines (callgrind)"
  done
done
cat "${files[@]}" > /dev/null
for i in $(seq "$N"); do
  for f in "${files[@]}"; do
    /usr/bin/time -f "$f jq %e" jq -c . "$f" 2>&1 >/dev/null | tail -n 1
    for b in "${bins[@]}"; do
      /usr/bin/time -f "$f $b %e" "$b" lint "$f" 2>&1 >/dev/null | tail -n 1
    done
  done
done | awk '{ k = $1 " " $2; if (!(k in w) || $3 < w[k]) w[k] = $3; if ($2 == "jq") jq[$1] = w[k] }
  END { for (k in w) { split(k, p, " "); r = (p[2] == "jq") ? "" : sprintf(", %.1fx jq", jq[p[1]] / w[k]);
    printf "%s: fastest of '"$N"': %.2f s%s\n", k, w[k], r } }' | sort
