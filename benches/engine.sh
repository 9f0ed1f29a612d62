#!/usr/bin/env bash
# Benchmarks the generation engine against `button sim-serve` (the real HTTP client, the
# real store): throughput with no latency, and efficiency with 200 ms latency.
#
#     bash benches/engine.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin button
B=./target/release/button
mkdir -p bench-data
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
$B sim-serve --port 18190 >/dev/null & PIDS+=($!)
$B sim-serve --port 18191 --latency-ms 200 >/dev/null & PIDS+=($!)
sleep 0.5

echo "== throughput: sim-serve with no latency, 2000 samples, concurrency 64 (nproc $(nproc))"
for stream in off on; do
  rm -rf bench-data/engine-ws
  /usr/bin/time -f "   %e s wall, %M KB max RSS" $B --workspace bench-data/engine-ws run --headless --samples 2000 \
    --endpoint http://127.0.0.1:18190/v1 --model sim --concurrency 64 --stream $stream 2>bench-data/engine.err \
    | grep -o "[0-9]* calls ([0-9]* reused), [0-9]* tokens in [0-9.]* s" | sed "s/^/   stream $stream: /"
  tail -n 1 bench-data/engine.err
done
calls=$(sqlite3 bench-data/engine-ws/button.db "select count(*) from llm_calls" 2>/dev/null || echo "?")
echo "   llm_calls rows in the workspace: $calls"

echo "== latency: sim-serve with 200 ms per call, 1000 samples, concurrency 128"
rm -rf bench-data/engine-lat
out=$($B --workspace bench-data/engine-lat run --headless --samples 1000 --endpoint http://127.0.0.1:18191/v1 \
  --model sim --concurrency 128 2>/dev/null | grep -o "[0-9]* calls ([0-9]* reused), [0-9]* tokens in [0-9.]* s")
echo "   $out"
n=$(echo "$out" | cut -d' ' -f1)
t=$(echo "$out" | grep -o "in [0-9.]* s" | cut -d' ' -f2)
python3 - "$n" "$t" <<'PY'
import sys
n, t = int(sys.argv[1]), float(sys.argv[2])
ideal = n * 0.2 / 128
print(f"   ideal {ideal:.2f} s (calls x 0.2 s / 128); measured {t:.2f} s: {100 * (t / ideal - 1):+.1f}%")
PY

echo "== memory: max RSS for 1000 and 5000 samples (no latency)"
for n in 1000 5000; do
  rm -rf bench-data/engine-mem
  /usr/bin/time -f "   $n samples: %e s wall, %M KB max RSS" $B --workspace bench-data/engine-mem run --headless \
    --samples $n --endpoint http://127.0.0.1:18190/v1 --model sim --concurrency 64 >/dev/null 2>bench-data/engine.err
  tail -n 1 bench-data/engine.err
done
