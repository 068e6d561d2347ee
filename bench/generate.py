"""Generation through chatforge's whole chat path vs the raw libraries, on the same prompt.

A bot is built in a temp folder from the project's ``docs/`` (profile ``assistant``), with
``retrieve.top_k`` chosen so that about ``--context-tokens`` tokens of retrieved passages land in
the prompt. Then, in one process, alternating which side goes first and after one warm-up run
each, the median over ``--reps`` runs of:

- ``bot.stream(question)`` (retrieval + prompt building + llama.cpp generation, the smollm2
  built-in GGUF) vs raw llama-cpp-python ``Llama.create_completion(prompt, stream=True)`` on the
  same GGUF and the exact prompt text chatforge built (``Answer.prompt.text``);
- the same with ``llm.backend: transformers`` vs raw ``model.generate`` with a
  ``TextIteratorStreamer`` on the same cached HF folder (``hf_folder_for_gguf``).

Both sides are greedy (temperature 0) with the same ``max_tokens``. Time to first token (TTFT)
runs from the call to the first text piece; for chatforge that includes retrieval and prompt
building. Decode tokens/s is ``(completion_tokens - 1) / (last piece - first piece)``.
``prepare ms`` is the part of chatforge's TTFT spent before generation starts (retrieval and
prompt building, what ``bot.stream`` does before it returns); its work after the last piece
(citation check, storing the turn) is shown as ``after ms`` and counted in neither. The TTFT
delta is the median of the per-rep differences (both sides run back to back in each rep), and
``cold prepare`` is chatforge's prepare time in the warm-up, before the sentences of the passages
it compresses were ever embedded (later runs find their vectors cached).
The raw ``Llama`` is ``reset()`` (untimed) before each run, as chatforge re-evaluates a greedy
prompt afresh, so both sides pay the full prompt evaluation.

Targets: decode ratio chatforge/raw >= 0.95; TTFT delta chatforge - raw <= 50 ms.

Run from the repository root: ``python bench/generate.py [--max-tokens 128] [--reps 7]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import offline, table

ROOT = Path(__file__).resolve().parent.parent
QUESTION = (
    "Explain in detail how chatforge works, from ingesting documents to answering questions. "
    "Write a long, thorough answer that covers every step."
)
DECODE_TARGET = 0.95
TTFT_TARGET_MS = 50.0

Run = dict[str, Any]


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


# -- one timed run per side -------------------------------------------------------------


def run_chatforge(bot: Any, question: str, max_tokens: int) -> Run:
    start = time.perf_counter()
    first = last = None
    texts: list[str] = []
    answer = None
    stream = bot.stream(question, max_tokens=max_tokens, temperature=0.0)  # retrieval + prompt
    prepared = time.perf_counter() - start
    for item in stream:
        now = time.perf_counter()
        if isinstance(item, str):
            if item and first is None:
                first = now - start
            last = now - start
            texts.append(item)
        else:
            answer = item
    done = time.perf_counter() - start
    assert answer is not None and answer.prompt is not None, "chatforge gave a fixed reply"
    return {
        "ttft": first or 0.0,
        "last": last or 0.0,
        "after": done - (last or 0.0),
        "prepare": prepared,
        "prompt_tokens": answer.usage["prompt_tokens"],
        "completion_tokens": answer.usage["completion_tokens"],
        "text": "".join(texts),
        "prompt": answer.prompt.text,
        "passages": len(answer.sources),
    }


def run_raw_llama(llama: Any, prompt: str, max_tokens: int) -> Run:
    llama.reset()  # no KV-cache reuse between runs: chatforge evaluates a greedy prompt afresh
    n_prompt = len(llama.tokenize(prompt.encode(), special=True))  # as create_completion does
    start = time.perf_counter()
    first = last = None
    texts: list[str] = []
    finish = None
    chunks = llama.create_completion(prompt, stream=True, max_tokens=max_tokens, temperature=0)
    for chunk in chunks:
        now = time.perf_counter()
        choice = chunk["choices"][0]
        text = choice["text"]
        if text:
            if first is None:
                first = now - start
            last = now - start
            texts.append(text)
        finish = choice.get("finish_reason") or finish
    # Tokens evaluated after the prompt; the last sampled token is not evaluated when the
    # length limit ends the run, and an end-of-generation token is sampled but not kept.
    completion = llama.n_tokens - n_prompt + (1 if finish == "length" else 0)
    return {
        "ttft": first or 0.0,
        "last": last or 0.0,
        "after": 0.0,
        "prompt_tokens": n_prompt,
        "completion_tokens": completion,
        "text": "".join(texts),
        "finish": finish,
    }


def run_raw_hf(model: Any, tokenizer: Any, prompt: str, max_tokens: int) -> Run:
    import torch
    from transformers import TextIteratorStreamer

    start = time.perf_counter()
    # A chat-templated prompt carries its own special tokens (as chatforge encodes it).
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
    n_prompt = int(inputs["input_ids"].shape[1])
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    eos = model.generation_config.eos_token_id
    eos_ids = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(eos_ids, default=0)
    out: dict[str, Any] = {}

    def work() -> None:
        with torch.inference_mode():
            out["ids"] = model.generate(
                **inputs,
                max_new_tokens=max_tokens,
                do_sample=False,
                streamer=streamer,
                pad_token_id=pad,
            )

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    first = last = None
    texts: list[str] = []
    for text in streamer:
        now = time.perf_counter()
        if text:
            if first is None:
                first = now - start
            last = now - start
            texts.append(text)
    worker.join()
    new = out["ids"][0, n_prompt:].tolist()
    completion = len(new) - (bool(new) and new[-1] in eos_ids)
    return {
        "ttft": first or 0.0,
        "last": last or 0.0,
        "after": 0.0,
        "prompt_tokens": n_prompt,
        "completion_tokens": completion,
        "text": "".join(texts),
    }


# -- comparison ---------------------------------------------------------------------------


def decode_rate(r: Run) -> float:
    span = r["last"] - r["ttft"]
    return (r["completion_tokens"] - 1) / span if span > 0 else float("nan")


def compare(
    name: str, ours: Callable[[], Run], raw: Callable[[], Run], reps: int, prompt: str
) -> dict[str, Any]:
    """Warm up each side once, then `reps` timed runs each, alternating which goes first."""
    print(f"[{name}] warm-up (load {load()})", flush=True)
    cold = ours()
    raw()
    a: list[Run] = []
    b: list[Run] = []
    for i in range(reps):
        order = [(ours, a), (raw, b)] if i % 2 == 0 else [(raw, b), (ours, a)]
        for fn, runs in order:
            runs.append(fn())
        print(
            f"[{name}] rep {i + 1}/{reps}: chatforge ttft {a[-1]['ttft'] * 1000:.0f} ms "
            f"{decode_rate(a[-1]):.1f} tok/s | raw ttft {b[-1]['ttft'] * 1000:.0f} ms "
            f"{decode_rate(b[-1]):.1f} tok/s (load {load()})",
            flush=True,
        )

    def med(runs: list[Run]) -> dict[str, Any]:
        return {
            "prompt_tokens": runs[-1]["prompt_tokens"],
            "completion_tokens": sorted({r["completion_tokens"] for r in runs}),
            "ttft_ms": statistics.median(r["ttft"] for r in runs) * 1000,
            "decode": statistics.median(decode_rate(r) for r in runs),
            "after_ms": statistics.median(r["after"] for r in runs) * 1000,
            "prepare_ms": statistics.median(r.get("prepare", 0.0) for r in runs) * 1000,
            "text": runs[-1]["text"],
        }

    cf, rw = med(a), med(b)
    # Paired: each rep runs both sides back to back, so a noisy neighbour moves both.
    delta = statistics.median(x["ttft"] - y["ttft"] for x, y in zip(a, b, strict=True))
    return {
        "name": name,
        "chatforge": cf,
        "raw": rw,
        "decode_ratio": cf["decode"] / rw["decode"],
        "ttft_delta_ms": delta * 1000,
        "cold_prepare_ms": cold.get("prepare", 0.0) * 1000,
        "same_text": cf["text"].strip() == rw["text"].strip(),
        "prompt_same": all(r["prompt"] == prompt for r in a),
    }


# -- setup ----------------------------------------------------------------------------------


def build_bot(folder: Path, context_tokens: int) -> tuple[Any, int, int]:
    """A bot over docs/ with top_k set so ~context_tokens of passages fill the prompt.

    Returns (bot, top_k, passage tokens in the prompt).
    """
    from chatforge.bot import Bot

    bot = Bot.init(folder, "assistant")
    bot.settings.llm.temperature = 0.0
    bot.settings.chat.mode = "generate"  # auto would quote passages: SmolLM2 does not read them
    start = time.perf_counter()
    report = bot.ingest(["docs"])
    chunks = sum(f.chunks for f in report.files)
    print(
        f"ingested docs/: {len(report.files)} files, {chunks} chunks in "
        f"{time.perf_counter() - start:.1f} s"
    )
    llm = bot.llm
    system = bot.settings.chat.system_prompt
    bare = llm.count_chat_tokens(
        [{"role": "system", "content": system}, {"role": "user", "content": QUESTION}]
    )
    best = (5, 0)
    for k in range(3, 21):
        bot.settings.retrieve.top_k = k
        prepared = bot.prepare(QUESTION)
        if prepared.prompt is None:
            continue
        passages = prepared.prompt.prompt_tokens - bare
        best = (k, passages)
        if passages >= context_tokens * 0.95 or len(prepared.prompt.sources) < k:
            break
    bot.settings.retrieve.top_k = best[0]
    return bot, best[0], best[1]


def bench_llamacpp(bot: Any, max_tokens: int, reps: int) -> dict[str, Any]:
    from llama_cpp import Llama

    path = bot.llm.path  # the GGUF the bot runs (llm.quant), so both sides read the same file
    prompt = run_chatforge(bot, QUESTION, max_tokens)["prompt"]  # the exact text chatforge built
    raw = Llama(
        model_path=str(path),
        n_ctx=4096,
        n_threads=os.cpu_count(),
        n_batch=512,
        flash_attn=True,  # as chatforge's own llama.cpp context
        verbose=False,
    )
    bot.embedder.encode_query.cache_clear()  # so the warm-up prepares cold: every sentence
    bot.embedder._recurring.clear()  # of every passage embedded afresh
    result = compare(
        "llama.cpp",
        lambda: run_chatforge(bot, QUESTION, max_tokens),
        lambda: run_raw_llama(raw, prompt, max_tokens),
        reps,
        prompt,
    )
    raw.close()
    return result


def bench_transformers(folder: Path, top_k: int, max_tokens: int, reps: int) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from chatforge.bot import Bot
    from chatforge.llm.transformers_backend import hf_folder_for_gguf
    from chatforge.models import resolve_builtin

    bot = Bot.open(folder)
    bot.settings.llm.backend = "transformers"
    bot.settings.chat.mode = "generate"
    bot.settings.llm.temperature = 0.0
    bot.settings.retrieve.top_k = top_k
    hf = hf_folder_for_gguf(resolve_builtin("smollm2"))
    prompt = run_chatforge(bot, QUESTION, max_tokens)["prompt"]
    tokenizer = AutoTokenizer.from_pretrained(hf)
    model = AutoModelForCausalLM.from_pretrained(hf, dtype=torch.float32).eval()
    print(f"transformers: {hf} (torch threads {torch.get_num_threads()})")
    result = compare(
        "transformers",
        lambda: run_chatforge(bot, QUESTION, max_tokens),
        lambda: run_raw_hf(model, tokenizer, prompt, max_tokens),
        reps,
        prompt,
    )
    bot.close()
    return result


def verdict(r: dict[str, Any]) -> str:
    d = "ok" if r["decode_ratio"] >= DECODE_TARGET else "MISS"
    t = "ok" if r["ttft_delta_ms"] <= TTFT_TARGET_MS else "MISS"
    return (
        f"{r['name']} decode_ratio={r['decode_ratio']:.3f} ({d}, >= {DECODE_TARGET}) "
        f"ttft_delta={r['ttft_delta_ms']:+.1f}ms ({t}, <= {TTFT_TARGET_MS:.0f})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-tokens", type=int, default=128, help="new tokens, llama.cpp")
    ap.add_argument("--hf-max-tokens", type=int, default=32, help="new tokens, transformers")
    ap.add_argument("--reps", type=int, default=7, help="timed runs per side (median)")
    ap.add_argument("--context-tokens", type=int, default=1000, help="passage tokens wanted")
    ap.add_argument("--skip-transformers", action="store_true")
    args = ap.parse_args()

    offline()
    os.chdir(ROOT)
    started = time.perf_counter()
    print(f"{os.cpu_count()} CPU cores, load average {load()} (1/5/15 min)")
    results = []
    with tempfile.TemporaryDirectory(prefix="chatforge-bench-gen-") as tmp:
        folder = Path(tmp) / "bot"
        bot, top_k, passage_tokens = build_bot(folder, args.context_tokens)
        prepared = bot.prepare(QUESTION)
        assert prepared.prompt is not None
        print(
            f"retrieve.top_k={top_k}: {len(prepared.prompt.sources)} passages, "
            f"~{passage_tokens} passage tokens, prompt {prepared.prompt.prompt_tokens} tokens "
            f"(llama.cpp tokenizer)"
        )
        results.append(bench_llamacpp(bot, args.max_tokens, args.reps))
        bot.close()
        if not args.skip_transformers:
            results.append(bench_transformers(folder, top_k, args.hf_max_tokens, args.reps))

    rows = []
    for r in results:
        for side in ("chatforge", "raw"):
            s = r[side]
            rows.append(
                [
                    r["name"],
                    side,
                    s["prompt_tokens"],
                    "/".join(map(str, s["completion_tokens"])),
                    s["ttft_ms"],
                    s["decode"],
                    s["prepare_ms"] if side == "chatforge" else "-",
                    s["after_ms"] if side == "chatforge" else "-",
                ]
            )
    print()
    print(
        table(
            rows,
            [
                "backend",
                "side",
                "prompt tok",
                "completion tok",
                "ttft ms",
                "decode tok/s",
                "prepare ms",
                "after ms",
            ],
        )
    )
    print()
    for r in results:
        print(
            f"{r['name']}: decode ratio {r['decode_ratio']:.3f} (target >= {DECODE_TARGET}), "
            f"first-token delta {r['ttft_delta_ms']:+.1f} ms (target <= {TTFT_TARGET_MS:.0f}), "
            f"cold prepare {r['cold_prepare_ms']:.0f} ms; "
            f"same output text: {r['same_text']}; prompt stable across runs: {r['prompt_same']}"
        )
    print(f"load average at end {load()}; {time.perf_counter() - started:.0f} s in all")
    print(
        f"SUMMARY max_tokens={args.max_tokens}/{args.hf_max_tokens} reps={args.reps} "
        f"top_k={top_k} prompt_tokens={prepared.prompt.prompt_tokens} | "
        + " | ".join(verdict(r) for r in results)
        + f" | load {load()}"
    )


if __name__ == "__main__":
    main()
