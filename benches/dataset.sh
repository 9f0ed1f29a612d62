#!/usr/bin/env bash
# Benchmarks `button lint` and `button import` on a BUTTONInstruct file of 100,000
# trajectories (generated, deterministic), three runs each: wall time and peak memory.
#
#     bash benches/dataset.sh            # N=100000 by default
#     N=20000 bash benches/dataset.sh    # a quicker look
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
DATA=bench-data/button-$N.jsonl
cargo build --release --quiet --bin button --example gen_dataset
[ -f "$DATA" ] || ./target/release/examples/gen_dataset "$N" "$DATA"
echo "input: $DATA, $(wc -l <"$DATA") lines, $(du -m "$DATA" | cut -f1) MB; $(nproc) cores"
run() {
  local what=$1; shift
  for i in 1 2 3; do
    [ "$what" = import ] && rm -rf bench-data/ws
    /usr/bin/time -f "$what run $i: %e s wall, %U s user, %S s sys, %M KB max RSS" "$@" >/dev/null 2>bench-data/time.txt || true
    tail -n 1 bench-data/time.txt
  done
}
run lint ./target/release/button lint "$DATA"
run import ./target/release/button --workspace bench-data/ws import "$DATA"
echo "workspace: $(du -m bench-data/ws/button.db | cut -f1) MB"
