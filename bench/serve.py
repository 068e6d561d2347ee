"""Serving under load: `chatforge serve` vs llama-cpp-python's own OpenAI-compatible server.

Concurrent streaming clients (default 8, for 60 s) send chat completions on loopback, first to
`chatforge serve` with a bot built from the project's docs/ and README.md (default profile,
retrieval on), then, in the same run, to `python -m llama_cpp.server` on the same GGUF with the
same context size, thread count and flash attention, without retrieval (and with
`--interrupt_requests False`: by default it cuts a running stream short whenever another request
arrives). One server runs at a time, so they do not compete for the CPU.

Per request: time to first token (send to the first non-empty content delta) and the completion
tokens (the answer text counted with the GGUF's own tokenizer, the same way for both servers).
Reported per server: aggregate completion tokens/s over the run, p50/p95 time to first token,
requests and their mean completion tokens (a server whose answers are shorter completes more
requests for the same tokens/s), errors (non-200, an error event or a broken stream), and the
server's peak resident memory (sampled every 0.5 s). Then ratios chatforge / llama.cpp.

Answers use `chat.mode: generate` (the model writes; set `--mode auto` to measure the bot's own
default, which quotes passages instead of calling the built-in model).

Each client asks one of eight questions again and again, as users of one bot repeat questions,
so chatforge's prompt cache (`server.prompt_cache`) finds most of each prompt already read.
`--no-prompt-cache` turns it off, to measure a stream of prompts that never repeat.

Targets: zero errors; tokens/s ratio >= 1.0; p95 TTFT ratio <= 1.0; chatforge RSS < 1 GB.

Run from the repository root: `python bench/serve.py [--clients 8] [--seconds 60]`;
`--quick` (2 clients, 10 s) proves it works.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from common import offline, percentile, table

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "How do I create a new bot?",
    "What file formats can chatforge ingest?",
    "How does hybrid search combine dense and keyword results?",
    "Which embedding model is built in?",
    "How do I override a setting for one run?",
    "What does the FAISS index store, and how is it rebuilt?",
    "How are citations numbered in an answer?",
    "What happens when a file changes and I ingest again?",
]
TARGETS = {"tokens_ratio": 1.0, "ttft_p95_ratio": 1.0, "rss_mb": 1024}


@dataclass
class Result:
    ttft: list[float] = field(default_factory=list)
    tokens: int = 0
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    seconds: float = 0.0
    prompt_tokens: dict[str, float] = field(default_factory=dict)
    """chatforge's /metrics token counters by kind (prompt, prompt_cached), warm-up included."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, proc: subprocess.Popen, log: Path, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise SystemExit(f"server exited with {proc.returncode}: {tail}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    raise SystemExit(f"server at {url} did not come up in {timeout:.0f} s")


def watch_rss(pid: int, result: Result, stop: threading.Event) -> None:
    """Peak resident memory of the server process and its children."""
    try:
        proc = psutil.Process(pid)
        while not stop.is_set():
            procs = [proc, *proc.children(recursive=True)]
            rss = sum(p.memory_info().rss for p in procs if p.is_running())
            result.peak_rss_mb = max(result.peak_rss_mb, rss / 1024 / 1024)
            stop.wait(0.5)
    except psutil.NoSuchProcess:
        pass


async def one_request(
    http: httpx.AsyncClient, url: str, model: str, question: str, max_tokens: int
) -> tuple[float | None, str, str | None]:
    """(time to first token, answer text, error) of one streamed completion."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": question}],
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "stream": True,
    }
    started = time.perf_counter()
    ttft: float | None = None
    parts: list[str] = []
    done = False
    async with http.stream("POST", url, json=body) as r:
        if r.status_code != 200:
            return None, "", f"HTTP {r.status_code}: {(await r.aread())[:200]!r}"
        async for line in r.aiter_lines():
            if not line.startswith("data: "):
                continue
            data = line[6:]
            if data.strip() == "[DONE]":
                done = True
                break
            event = json.loads(data)
            if "error" in event:
                return ttft, "".join(parts), f"error event: {event['error']}"
            for choice in event.get("choices", []):
                piece = (choice.get("delta") or {}).get("content") or ""
                if piece and ttft is None:
                    ttft = time.perf_counter() - started
                parts.append(piece)
    return ttft, "".join(parts), None if done else "stream ended without [DONE]"


async def load_test(
    base: str, model: str, clients: int, seconds: float, max_tokens: int, count_tokens: Any
) -> Result:
    result = Result()
    url = base + "/v1/chat/completions"
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=300, limits=limits) as http:
        await one_request(http, url, model, QUESTIONS[0], 8)  # warm-up, not counted
        started = time.perf_counter()
        stop_at = started + seconds

        async def client(i: int) -> None:
            n = i
            while time.perf_counter() < stop_at:
                question = QUESTIONS[n % len(QUESTIONS)]
                n += clients
                try:
                    ttft, text, error = await one_request(http, url, model, question, max_tokens)
                except (httpx.HTTPError, json.JSONDecodeError) as e:
                    ttft, text, error = None, "", f"{type(e).__name__}: {e}"
                result.requests += 1
                if error:
                    result.errors.append(error)
                if ttft is not None:
                    result.ttft.append(ttft)
                result.tokens += count_tokens(text)

        await asyncio.gather(*(client(i) for i in range(clients)))
        result.seconds = time.perf_counter() - started
    return result


def run_server(
    name: str, cmd: list[str], env: dict[str, str], health: str, port: int, args: Any, counter: Any
) -> Result:
    print(f"[{name}] starting: {' '.join(cmd)}", file=sys.stderr)
    log = Path(tempfile.mkstemp(prefix="bench-serve-", suffix=".log")[1])
    with open(log, "w") as out:  # a file, not a pipe: a chatty server never blocks on it
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    stop = threading.Event()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_up(base + health, proc, log)
        result = Result()
        watcher = threading.Thread(target=watch_rss, args=(proc.pid, result, stop), daemon=True)
        watcher.start()
        measured = asyncio.run(
            load_test(base, args.model_name, args.clients, args.seconds, args.max_tokens, counter)
        )
        measured.peak_rss_mb = result.peak_rss_mb
        stop.set()
        watcher.join()
        measured.peak_rss_mb = max(measured.peak_rss_mb, result.peak_rss_mb)
        measured.prompt_tokens = token_counters(base)
        return measured
    finally:
        stop.set()
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.unlink(missing_ok=True)


def token_counters(base: str) -> dict[str, float]:
    """chatforge_tokens_total by kind from /metrics ({} for a server without it)."""
    from prometheus_client.parser import text_string_to_metric_families

    reply = httpx.get(base + "/metrics", timeout=10)
    if reply.status_code != 200:
        return {}
    return {
        s.labels["kind"]: s.value
        for family in text_string_to_metric_families(reply.text)
        if family.name == "chatforge_tokens"
        for s in family.samples
        if s.name == "chatforge_tokens_total"
    }


def build_bot(folder: Path) -> None:
    """The default bot over the project's own docs (what `make run` serves)."""
    from chatforge.bot import Bot

    bot = Bot.init(folder, "general")
    bot.ingest([str(ROOT / "docs"), str(ROOT / "README.md")])
    bot.close()


def summary(r: Result) -> dict[str, Any]:
    return {
        "tokens_per_s": r.tokens / r.seconds if r.seconds else 0.0,
        "ttft_p50_s": percentile(r.ttft, 50) if r.ttft else float("nan"),
        "ttft_p95_s": percentile(r.ttft, 95) if r.ttft else float("nan"),
        "requests": r.requests,
        "tokens_per_answer": r.tokens / r.requests if r.requests else 0.0,
        "errors": len(r.errors),
        "peak_rss_mb": r.peak_rss_mb,
        "first_errors": r.errors[:3],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--mode", default="generate", choices=["generate", "auto", "extractive"])
    p.add_argument(
        "--no-prompt-cache", action="store_true", help="chatforge reads every prompt whole"
    )
    p.add_argument("--bot", type=Path, help="serve this bot instead of building one from docs/")
    p.add_argument("--quick", action="store_true", help="2 clients for 10 s: proves it works")
    p.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = p.parse_args()
    if args.quick:
        args.clients, args.seconds = 2, 10.0
    args.model_name = "default"
    offline()

    from llama_cpp import Llama

    from chatforge.models import resolve_builtin

    gguf = resolve_builtin("smollm2", "q8_0")  # what the bot runs with llm.quant's default
    vocab = Llama(model_path=str(gguf), vocab_only=True, verbose=False)

    def count_tokens(text: str) -> int:
        return len(vocab.tokenize(text.encode(), add_bos=False, special=False)) if text else 0

    threads = str(os.cpu_count() or 1)
    results: dict[str, Result] = {}
    with tempfile.TemporaryDirectory() as tmp:
        bot = args.bot
        if bot is None:
            bot = Path(tmp) / "bot"
            print(f"building the default bot from docs/ and README.md in {bot}", file=sys.stderr)
            build_bot(bot)
        from chatforge.bot import Bot

        n_ctx = Bot(bot).settings.llm.n_ctx
        port = free_port()
        env = {
            **os.environ,
            "CHATFORGE_CHAT__MODE": args.mode,
            "CHATFORGE_SERVER__API_KEYS": "[]",
            "CHATFORGE_SERVER__PROMPT_CACHE": str(not args.no_prompt_cache).lower(),
        }
        cmd = [sys.executable, "-m", "chatforge", "serve", "--bot", str(bot), "--port", str(port)]
        results["chatforge"] = run_server(
            "chatforge", cmd, env, "/health", port, args, count_tokens
        )

        port = free_port()
        cmd = [
            sys.executable, "-m", "llama_cpp.server", "--model", str(gguf),
            "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx),
            "--n_threads", threads, "--n_threads_batch", threads, "--n_batch", "512",
            "--flash_attn", "True", "--model_alias", "default", "--interrupt_requests", "False",
        ]  # fmt: skip
        results["llama.cpp server"] = run_server(
            "llama.cpp", cmd, dict(os.environ), "/v1/models", port, args, count_tokens
        )

    figures = {name: summary(r) for name, r in results.items()}
    rows = [
        [
            name,
            f["tokens_per_s"],
            f["ttft_p50_s"],
            f["ttft_p95_s"],
            f["requests"],
            f["tokens_per_answer"],
            f["errors"],
            f["peak_rss_mb"],
        ]
        for name, f in figures.items()
    ]
    header = ["server", "tokens/s", "TTFT p50 s", "TTFT p95 s", "requests", "tokens/answer",
              "errors", "RSS MB"]  # fmt: skip
    print(
        f"{args.clients} streaming clients for {args.seconds:g} s, max_tokens {args.max_tokens}, "
        f"chat.mode {args.mode}, prompt cache {'off' if args.no_prompt_cache else 'on'}, "
        f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(table(rows, header))
    counted = results["chatforge"].prompt_tokens
    if counted.get("prompt"):
        cached = counted.get("prompt_cached", 0.0)
        print(
            f"chatforge prompt tokens {counted['prompt']:.0f}, taken from the prompt cache "
            f"{cached:.0f} ({cached / counted['prompt']:.0%})"
        )
    c, ll = figures["chatforge"], figures["llama.cpp server"]
    ratios = {
        "tokens_ratio": c["tokens_per_s"] / ll["tokens_per_s"] if ll["tokens_per_s"] else 0.0,
        "ttft_p95_ratio": c["ttft_p95_s"] / ll["ttft_p95_s"] if ll["ttft_p95_s"] else 0.0,
    }
    print(
        f"chatforge / llama.cpp: tokens/s x{ratios['tokens_ratio']:.2f} "
        f"(target >= {TARGETS['tokens_ratio']}), p95 TTFT x{ratios['ttft_p95_ratio']:.2f} "
        f"(target <= {TARGETS['ttft_p95_ratio']}); chatforge errors {c['errors']} (target 0), "
        f"RSS {c['peak_rss_mb']:.0f} MB (target < {TARGETS['rss_mb']})"
    )
    for name, f in figures.items():
        for error in f["first_errors"]:
            print(f"  {name} error: {error}")
    if args.json:
        print(json.dumps({"figures": figures, "ratios": ratios, "args": vars(args)}, default=str))


if __name__ == "__main__":
    main()
