#!/usr/bin/env bash
# The TUI on a workspace of 100,000 samples (the dataset benchmark's file, imported):
# first frame, cursor moves, filters and search, with the real app, views and store code.
#
#     bash benches/tui.sh            # N=100000 by default
#     N=20000 bash benches/tui.sh    # a quicker look
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
DATA=bench-data/button-$N.jsonl
WS=bench-data/tui-ws-$N
cargo build --release --quiet --bin button --example gen_dataset --example tui_bench
[ -f "$DATA" ] || ./target/release/examples/gen_dataset "$N" "$DATA"
[ -f "$WS/button.db" ] || ./target/release/button --workspace "$WS" import "$DATA"
echo "workspace: $WS, $(du -m "$WS/button.db" | cut -f1) MB; $(nproc) cores"
./target/release/examples/tui_bench "$WS"
