#!/usr/bin/env bash
# Soak: 10,000 samples against `button sim-serve` with every fault on (429s, 500s, cut
# streams, malformed replies, jitter, and a 2 s outage every 20,000 requests), while a
# second process imports datasets into the same workspace and a third sets verdicts.
# Reports samples complete / failed with a reason / unfinished, verdicts kept, peak memory.
#
#     bash benches/soak.sh [SAMPLES]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
cargo build --release --quiet --bin button
B=./target/release/button
D=bench-data/soak
rm -rf "$D"; mkdir -p "$D"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
$B sim-serve --port 18195 --latency-ms 10 --jitter-ms 20 --error-rate 429=0.03,500=0.03 --retry-after 0.2 \
  --truncate-rate 0.03 --malformed-rate 0.03 --down-every 20000 --down-for-ms 2000 >"$D/serve.log" & PIDS+=($!)
sleep 0.5
WS="$D/ws"
# Import files for the importer: the lint fixtures made distinct per round.
python3 - "$D" <<'PY'
import json, sys, pathlib
d = pathlib.Path(sys.argv[1])
lines = [l for l in open("tests/fixtures/lint/clean.jsonl") if l.strip()]
for r in range(30):
    with open(d / f"import-{r}.jsonl", "w") as f:
        for i in range(200):
            v = json.loads(lines[i % len(lines)])
            v["messages"][1]["content"] += f" (round {r}, copy {i})"
            f.write(json.dumps(v) + "\n")
PY
/usr/bin/time -f "%e %M" -o "$D/run.time" $B --workspace "$WS" run --headless --samples "$N" \
  --endpoint http://127.0.0.1:18195/v1 --model sim --concurrency 64 >"$D/run.out" 2>"$D/run.err" &
RUN=$!
importer() {
  local ok=0 bad=0
  for f in "$D"/import-*.jsonl; do
    if $B --workspace "$WS" import "$f" >>"$D/import.out" 2>&1; then ok=$((ok+1)); else bad=$((bad+1)); fi
    sleep 1
  done
  echo "$ok $bad" >"$D/import.result"
}
reviewer() {
  local ok=0 bad=0 i=0
  sleep 3
  while kill -0 "$RUN" 2>/dev/null && [ $i -lt 600 ]; do
    id=$(printf 's0-%06d' $((i * 7 % N)))
    v=$([ $((i % 3)) -eq 0 ] && echo reject || echo accept)
    if out=$($B --workspace "$WS" verdict "$id" "$v" 2>&1); then ok=$((ok+1)); echo "$id $v" >>"$D/verdicts.set";
    elif echo "$out" | grep -q "is not in the workspace"; then :; else bad=$((bad+1)); echo "$out" >>"$D/verdict.errors"; fi
    i=$((i+1))
  done
  echo "$ok $bad" >"$D/verdict.result"
}
importer & IMP=$!
reviewer & REV=$!
set +e
wait $RUN; rc=$?
set -e
wait $IMP $REV
read -r secs peak_kb <"$D/run.time"
echo "== soak: $N samples, sim-serve with every fault on, an importer and a reviewer beside the run"
echo "   run exit code $rc in ${secs} s, peak RSS $((peak_kb / 1024)) MB"
tail -n 1 "$D/run.out" | sed 's/^/   /'
sqlite3 "$WS/button.db" "select stage, coalesce(failure_reason, ''), count(*) from samples where origin = 'generated' group by 1, 2 order by 3 desc" \
  | awk -F'|' '{printf "   %-10s %-28s %6d\n", $1, $2, $3}'
read -r iok ibad <"$D/import.result"
read -r vok vbad <"$D/verdict.result"
imported=$(sqlite3 "$WS/button.db" "select count(*) from samples where origin = 'imported'")
echo "   importer: $iok imports succeeded, $ibad failed; $imported imported samples in the workspace"
# Each id's last verdict set must be the one stored.
python3 - "$D/verdicts.set" "$WS/button.db" <<'PY'
import sqlite3, sys
last = {}
for line in open(sys.argv[1]):
    i, v = line.split()
    last[i] = "accepted" if v == "accept" else "rejected"
db = sqlite3.connect(sys.argv[2])
kept = sum(1 for i, v in last.items() if db.execute("select verdict from samples where id = ?", (i,)).fetchone()[0] == v)
print(f"   reviewer: {len(last)} samples given verdicts; {kept} of them hold the last verdict set")
PY
echo "   reviewer: $vok verdict commands succeeded, $vbad refused"
