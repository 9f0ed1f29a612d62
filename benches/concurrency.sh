#!/usr/bin/env bash
# Adaptive concurrency against a server with a capacity: sim-serve --capacity N answers 429
# (with Retry-After) beyond N requests in flight. Fixed limits around N against
# `--concurrency auto` (AIMD: +1 while replies come back in time, -25% on a 429 or a
# timeout): wall time of each, and where auto settled (the mean limit of its second half).
#
#   bash benches/concurrency.sh          # N=16, 40 ms a reply, 300 samples
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
BIN=$PWD/target/release/button
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT
CAP=${CAP:-16}
SAMPLES=${SAMPLES:-300}
PORT=18471
"$BIN" sim-serve --port $PORT --latency-ms 40 --capacity "$CAP" --retry-after 0.02 >/dev/null 2>&1 &
sleep 1
echo "sim-serve: capacity $CAP, 40 ms a reply, 429 + Retry-After 20 ms beyond; $SAMPLES samples"
for c in $((CAP / 2)) $((CAP * 3 / 4)) "$CAP" $((CAP * 5 / 4)) $((CAP * 3 / 2)) auto; do
  ws=$OUT/c-$c
  t0=$(date +%s.%N)
  "$BIN" --workspace "$ws" run --headless --samples "$SAMPLES" --endpoint "http://127.0.0.1:$PORT/v1" \
    --model sim --concurrency "$c" >"$ws.out" 2>/dev/null
  t=$(echo "$(date +%s.%N) - $t0" | bc)
  complete=$(grep -o '([0-9]* complete' "$ws.out" | grep -o '[0-9]*')
  printf 'concurrency %-5s %6.1f s  %s of %s complete' "$c" "$t" "$complete" "$SAMPLES"
  if grep -q "settled near" "$ws.out"; then
    printf '  %s' "$(grep -o 'settled near [0-9.]*' "$ws.out")"
  fi
  echo
done
