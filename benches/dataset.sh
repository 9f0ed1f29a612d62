#!/usr/bin/env bash
# Benchmarks `button lint` and `button import` on a BUTTONInstruct file of 100,000
# trajectories (generated, deterministic), three runs each: wall time and peak memory.
# Also: `jq -c .` on the same file in the same run (the yardstick for lint), and the same
# records as one pretty-printed JSON array (as LLaMA-Factory's data files are) imported.
#
#     bash benches/dataset.sh            # N=100000 by default
#     N=20000 bash benches/dataset.sh    # a quicker look
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
DATA=bench-data/button-$N.jsonl
cargo build --release --quiet --bin button --example gen_dataset
[ -f "$DATA" ] || ./target/release/examples/gen_dataset "$N" "$DATA"
ARRAY=bench-data/button-$N.json
[ -f "$ARRAY" ] || python3 -c '
import json, sys
with open(sys.argv[1]) as src, open(sys.argv[2], "w") as out:
    out.write("[\n")
    for i, line in enumerate(src):
        out.write(("" if i == 0 else ",\n") + json.dumps(json.loads(line), indent=2, ensure_ascii=False))
    out.write("\n]\n")
' "$DATA" "$ARRAY"
echo "input: $DATA, $(wc -l <"$DATA") lines, $(du -m "$DATA" | cut -f1) MB; $ARRAY, $(du -m "$ARRAY" | cut -f1) MB; $(nproc) cores"
cat "$DATA" "$ARRAY" > /dev/null # into the page cache
run() {
  local what=$1; shift
  for i in 1 2 3; do
    case "$what" in import*) rm -rf bench-data/ws ;; esac
    /usr/bin/time -f "$what run $i: %e s wall, %U s user, %S s sys, %M KB max RSS" "$@" >/dev/null 2>bench-data/time.txt || true
    tail -n 1 bench-data/time.txt
  done
}
run lint ./target/release/button lint "$DATA"
run "jq -c ." jq -c . "$DATA"
run import ./target/release/button --workspace bench-data/ws import "$DATA"
run "import (array)" ./target/release/button --workspace bench-data/ws import "$ARRAY"
echo "workspace: $(du -m bench-data/ws/button.db | cut -f1) MB"
