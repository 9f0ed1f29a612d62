#!/usr/bin/env bash
# The trainer check: exports one workspace with `button export --for` each trainer and
# passes the files through the trainers' own code (trainers/check.py), in two venvs of
# pinned versions without torch:
#   llamafactory: LLaMA-Factory 0.9.5 + datasets 4.0.0 (its pin) + transformers 5.6.0
#   trl:          TRL 1.16.0 + datasets 5.2.0 + transformers 5.24.0
# The trainers themselves go in with --no-deps: their declared dependencies pull torch.
# Venvs live in target/trainer-venvs and are rebuilt when a requirements file changes.
# Usage: bash trainers/check.sh [path/to/button]   (default: target/debug/button, built)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=${1:-}
if [ -z "$bin" ]; then
  cargo build --quiet
  bin=$root/target/debug/button
fi
venvs=$root/target/trainer-venvs
mkdir -p "$venvs"

venv() { # name, trainer package==version
  local name=$1 pkg=$2 dir=$venvs/$1 req=$root/trainers/requirements-$1.txt
  local stamp
  stamp=$(cat "$req" "$root/trainers/check.sh" | sha256sum | cut -c1-16)
  if [ ! -f "$dir/.stamp-$stamp" ]; then
    rm -rf "$dir"
    python3 -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$req"
    "$dir/bin/pip" install --quiet --disable-pip-version-check --no-deps "$pkg"
    touch "$dir/.stamp-$stamp"
  fi
}
venv llamafactory llamafactory==0.9.5
venv trl trl==1.16.0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ws=$work/ws
data=$work/data
mkdir -p "$data"
# Fresh samples from the simulator (parallel calls, thoughts, questions back), and the
# two LLaMA-Factory demo files of tests/fixtures (imported layouts, ids, reasoning parts).
"$bin" --workspace "$ws" run --headless --samples 40 --seed 7 > /dev/null 2>&1
"$bin" --workspace "$ws" import tests/fixtures/llamafactory/reason_tool_use_demo_50.jsonl.gz > /dev/null
"$bin" --workspace "$ws" import tests/fixtures/llamafactory/glaive_toolcall_en_demo.json.gz > /dev/null 2>&1
"$bin" --workspace "$ws" import tests/fixtures/layouts/hermes.jsonl > /dev/null 2>&1
for t in openai trl llamafactory llamafactory-openai; do
  "$bin" --workspace "$ws" export --for "$t" --status all --out "$data/$t.jsonl" 2> /dev/null
done
export HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 TRANSFORMERS_VERBOSITY=error HF_DATASETS_CACHE=$work/hf-cache
quiet() { grep -E '^(ok|FAIL)|Error|Traceback' || true; }
status=0
"$venvs/trl/bin/python" trainers/check.py openai "$data" 2>&1 | quiet; [ "${PIPESTATUS[0]}" = 0 ] || status=1
"$venvs/llamafactory/bin/python" trainers/check.py llamafactory "$data" 2>&1 | quiet; [ "${PIPESTATUS[0]}" = 0 ] || status=1
"$venvs/trl/bin/python" trainers/check.py trl "$data" 2>&1 | quiet; [ "${PIPESTATUS[0]}" = 0 ] || status=1
exit $status
