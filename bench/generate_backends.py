"""Overhead of chatforge's LLM backends over the libraries they wrap.

Same GGUF (the smollm2 built-in), same ~1000-token chat prompt, greedy, 64 new tokens, median of
three runs each. Prints time to first token and decode tokens/s for:

- chatforge's llama.cpp backend vs raw llama-cpp-python ``create_completion(stream=True)``;
- chatforge's transformers backend vs raw ``model.generate`` on the same loaded model.

Run: ``python bench/generate_backends.py``
"""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from chatforge.llm import GenOptions, open_llm  # noqa: E402

NEW_TOKENS = 64
RUNS = 2
TEXT = (
    "The river town kept its records in a stone hall by the bridge. Every spring the clerks "
    "counted boats, barrels of salt and the names of the families who came down from the hills. "
)


def prompt_messages(llm, target: int = 1000) -> list[dict[str, str]]:
    body = TEXT
    while llm.count_tokens(body) < target - 40:
        body += TEXT
    ask = "Retell the text above as a long story, with much more detail."
    return [{"role": "user", "content": f"{body}\n\n{ask}"}]


def timed_stream(pieces) -> tuple[float, float, int]:
    """(seconds to first piece, total seconds, number of pieces)."""
    start = time.perf_counter()
    first, n = None, 0
    for _ in pieces:
        n += 1
        if first is None:
            first = time.perf_counter() - start
    return first or 0.0, time.perf_counter() - start, n


def summary(label: str, runs: list[tuple[float, float, int]]) -> tuple[float, float]:
    ttft = statistics.median(r[0] for r in runs)
    rate = statistics.median((r[2] - 1) / (r[1] - r[0]) for r in runs)
    print(f"{label:38s} ttft {ttft * 1000:8.1f} ms   decode {rate:7.1f} tok/s")
    return ttft, rate


def bench_llamacpp() -> None:
    from llama_cpp import Llama

    ours = open_llm("smollm2", backend="llamacpp")
    messages = prompt_messages(ours)
    print(f"llama.cpp: prompt {ours.count_chat_tokens(messages)} tokens, {NEW_TOKENS} new")
    raw = Llama(
        model_path=str(ours.path),
        n_ctx=4096,
        n_batch=512,
        flash_attn=True,  # as chatforge's own llama.cpp context
        n_threads=os.cpu_count(),
        n_threads_batch=os.cpu_count(),
        verbose=False,
    )
    prompt = ours._prompt_tokens(messages)
    a, b = [], []
    for _ in range(RUNS):
        ours._llama.reset()
        stream = ours.stream(messages, GenOptions(max_tokens=NEW_TOKENS))
        t0, t1, _ = timed_stream(stream)
        a.append((t0, t1, stream.generation.completion_tokens))
        raw.reset()
        chunks = raw.create_completion(prompt, max_tokens=NEW_TOKENS, temperature=0.0, stream=True)
        b.append(timed_stream(chunks))
    ours_ttft, ours_rate = summary("chatforge LlamaCppLLM.stream", a)
    raw_ttft, raw_rate = summary("raw Llama.create_completion(stream)", b)
    print(f"ratio ours/raw: ttft {ours_ttft / raw_ttft:.2f}x, decode {ours_rate / raw_rate:.2f}x")


def bench_transformers() -> None:
    import torch

    ours = open_llm("smollm2", backend="transformers")
    messages = prompt_messages(ours)
    ids = ours._encode(messages).to(ours.device)
    print(f"transformers: prompt {ids['input_ids'].shape[1]} tokens, {NEW_TOKENS} new")
    a, b = [], []
    for _ in range(RUNS):
        stream = ours.stream(messages, GenOptions(max_tokens=NEW_TOKENS))
        t0, t1, _ = timed_stream(stream)
        a.append((t0, t1, stream.generation.completion_tokens))
        with torch.inference_mode():
            start = time.perf_counter()
            ours._model.generate(**ids, max_new_tokens=1, do_sample=False)
            first = time.perf_counter() - start
            start = time.perf_counter()
            out = ours._model.generate(**ids, max_new_tokens=NEW_TOKENS, do_sample=False)
            total = time.perf_counter() - start
        b.append((first, total, out.shape[1] - ids["input_ids"].shape[1]))
    ours_ttft, ours_rate = summary("chatforge TransformersLLM.stream", a)
    raw_ttft, raw_rate = summary("raw model.generate", b)
    print(f"ratio ours/raw: ttft {ours_ttft / raw_ttft:.2f}x, decode {ours_rate / raw_rate:.2f}x")


if __name__ == "__main__":
    print(f"{os.cpu_count()} CPU cores")
    bench_llamacpp()
    bench_transformers()
