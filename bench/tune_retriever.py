"""Tuning the retriever on generated questions: the Debian FAQ bot before and after.

Builds (or reuses) the Debian FAQ bot of bench/retrieval.py, copies it to a work folder, has
the bot's model write questions from up to `--limit` of its chunks (`eval generate-questions`;
cached under .cache/bench/generated, since qwen takes seconds a question on a CPU), then runs
`tune-retriever` on them and prints hit@1, hit@5 and MRR@10 before and after on sets never
trained on: questions in users' own words (bench/data/debian_faq_users.jsonl, kind own-words),
harder ones that share at most two content words with their answer's section
(debian_faq_hard.jsonl), questions copied from the FAQ's headings (debian_faq_questions.jsonl,
kind heading) and the held-out generated ones; the tuning's wall time and peak memory (psutil,
sampled); and whether `eval retrieval` gives the same figures as bench/retrieval.py's own
scoring on the same bot.

``--timing N`` measures only the cost on a bigger bot: the python-docs bot of
bench/retrieval.py (150 pages, thousands of chunks), tuned on N of its chunks with their own
headings standing in for generated questions (no generation, no quality figures).

Run from bench/: ``python tune_retriever.py`` (``--limit 120 --model qwen`` by default).
"""

from __future__ import annotations

import argparse
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import corpora
from common import DATA, offline, read_jsonl, table

GENERATED = corpora.DEFAULT_CACHE / "generated"
WORK = corpora.DEFAULT_CACHE / "bots" / "debian-faq-tuned"
SETS = {
    "own words": (DATA / "debian_faq_users.jsonl", "own-words"),
    "hard own words": (DATA / "debian_faq_hard.jsonl", "own-words"),
    "headings": (DATA / "debian_faq_questions.jsonl", "heading"),
}
KEYS = ("hit@1", "hit@5", "mrr@10")


class PeakMemory:
    """Peak resident memory of this process while the block runs, sampled by psutil."""

    def __init__(self, every: float = 0.2) -> None:
        import psutil

        self.proc, self.every, self.peak = psutil.Process(), every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.every)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def hand_sets(bot: Any) -> dict[str, list]:
    from chatforge.evaluate import questions as qs

    out = {}
    for name, (path, kind) in SETS.items():
        got = [q for q in qs.read_questions(path) if q.kind == kind and q.sources]
        out[name] = qs.label(bot.store, got, path)
    return out


def measure(bot: Any, sets: dict[str, list]) -> dict[str, dict[str, float]]:
    from chatforge.evaluate.retrieval_eval import evaluate_retrieval

    return {name: evaluate_retrieval(bot, s)["metrics"] for name, s in sets.items()}


def same_as_bench(bot: Any) -> bool:
    """`eval retrieval`'s figures against bench/retrieval.py's scoring, on the heading set."""
    import retrieval

    from chatforge.evaluate import questions as qs
    from chatforge.evaluate.retrieval_eval import evaluate_retrieval

    raw = read_jsonl(DATA / "debian_faq_questions.jsonl")
    ours = evaluate_retrieval(bot, qs.label(bot.store, qs.read_questions(SETS["headings"][0]),
                                            SETS["headings"][0]))["metrics"]  # fmt: skip
    theirs = retrieval.score(lambda q: bot.search(q, 10), raw)
    print("eval retrieval vs bench/retrieval.py on", len(raw), "questions:",
          {k: (round(ours[k], 4), round(theirs[k], 4)) for k in KEYS})  # fmt: skip
    return all(abs(ours[k] - theirs[k]) < 1e-9 for k in KEYS)


def generated_questions(bot: Any, args: argparse.Namespace) -> Path:
    """The cached generated set for these arguments, written first if missing."""
    from chatforge.evaluate import questions as qs
    from chatforge.evaluate.generate_questions import generate_questions
    from chatforge.llm import open_llm

    path = GENERATED / f"debian-faq-{args.model}-{args.limit}-{args.check}.jsonl"
    if path.is_file() and not args.regenerate:
        print(f"generated questions: {path} (cached)")
        return path
    t0 = time.perf_counter()
    got, counts = generate_questions(bot, open_llm(args.model, n_ctx=2048), args.limit, args.check)
    s = time.perf_counter() - t0
    qs.write_questions(path, got)
    print(f"generated {len(got)} questions with {args.model} in {s:.0f} s "
          f"({s / counts['chunks']:.1f} s a chunk): {counts}")  # fmt: skip
    return path


def timing(pairs: int, epochs: int) -> None:
    """Tuning and re-embedding time, and peak memory, on the python-docs bot."""
    import random

    import retrieval

    from chatforge.bot import Bot
    from chatforge.evaluate import questions as qs
    from chatforge.evaluate.tune_retriever import tune_retriever

    ns = argparse.Namespace(bot=None, fresh=False, embed=None, pages=150)
    source, _, _ = retrieval.open_bot("python-docs", ns)
    source.close()
    work = WORK.with_name("python-docs-tuned")
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(source.folder, work, ignore=shutil.ignore_patterns("*.lock", "reports"))
    bot = Bot(work)
    rows = bot.store.db.execute(
        "SELECT c.id, d.path, c.section FROM chunks c JOIN documents d ON d.id = c.doc_id "
        "WHERE c.section != ''"
    ).fetchall()
    picked = random.Random(0).sample(rows, min(pairs, len(rows)))
    made = [qs.Question(s.split(" > ")[-1], [p], generated=True, chunk=i) for i, p, s in picked]
    path = work / "tests" / "questions.jsonl"
    qs.write_questions(path, made)
    with PeakMemory() as peak:
        result = tune_retriever(bot, path, epochs=epochs, force=True)
    print(
        f"SUMMARY tune-retriever timing: {bot.store.chunk_count()} chunks, {result['pairs']} "
        f"pairs, {epochs} epoch(s): training {result['train_seconds']:.0f} s, with re-embedding "
        f"{result['total_seconds']:.0f} s; peak RSS {peak.peak / 2**20:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=120, help="chunks to write questions from")
    parser.add_argument("--model", default="qwen", help="model that writes the questions")
    parser.add_argument("--check", default="top5", help="first, top5 or none")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=3e-5, help="learning rate")
    parser.add_argument("--regenerate", action="store_true", help="ignore cached questions")
    parser.add_argument("--timing", type=int, metavar="N", help="only time N pairs on python-docs")
    args = parser.parse_args()
    offline()
    if args.timing:
        timing(args.timing, args.epochs)
        return
    import retrieval

    from chatforge.bot import Bot
    from chatforge.config import Settings
    from chatforge.evaluate.tune_retriever import no_worse, tune_retriever

    ns = argparse.Namespace(bot=None, fresh=False, embed=None, pages=0)
    source, _, _ = retrieval.open_bot("debian-faq", ns)
    source.close()
    shutil.rmtree(WORK, ignore_errors=True)
    shutil.copytree(source.folder, WORK, ignore=shutil.ignore_patterns("*.lock", "reports"))
    bot = Bot(WORK)
    print("eval retrieval equals bench/retrieval.py:", "yes" if same_as_bench(bot) else "NO")
    path = generated_questions(bot, args)
    sets = hand_sets(bot)
    before = measure(bot, sets)
    with PeakMemory() as peak:
        # force: the tuned model is measured even where tune-retriever would keep the bot's own
        result = tune_retriever(bot, path, epochs=args.epochs, learning_rate=args.lr, force=True)
    settings = Settings.load(WORK)
    settings.embed.model = result["model"]
    after = measure(Bot(WORK, settings), sets)
    before["held-out generated"] = result["before"]["held-out generated"]
    after["held-out generated"] = result["after"]["held-out generated"]
    rows = [[name, b["n"], *(x for k in KEYS for x in (b[k], after[name][k]))]
            for name, b in before.items()]  # fmt: skip
    head = ["set", "n", *(f"{k} {w}" for k in KEYS for w in ("before", "after"))]
    print(f"\n{bot.store.chunk_count()} chunks, {result['pairs']} training pairs, "
          f"{args.epochs} epoch(s), learning rate {args.lr}")  # fmt: skip
    print(table(rows, head))
    gain = {n: after[n]["hit@5"] - before[n]["hit@5"] for n in before}
    print(
        f"\nSUMMARY tune-retriever debian-faq: hit@5 own words {before['own words']['hit@5']:.3f}"
        f" -> {after['own words']['hit@5']:.3f} ({gain['own words'] * 100:+.1f} points), hard "
        f"own words {before['hard own words']['hit@5']:.3f} -> "
        f"{after['hard own words']['hit@5']:.3f} ({gain['hard own words'] * 100:+.1f} points), "
        f"headings {gain['headings'] * 100:+.1f} points, held-out generated "
        f"{gain['held-out generated'] * 100:+.1f} points; tuning {result['train_seconds']:.0f} s"
        f" (with re-embed {result['total_seconds']:.0f} s), peak RSS {peak.peak / 2**20:.0f} MB;"
        f" without --force, tune-retriever would "
        f"{'switch to' if no_worse(result['before'], result['after']) else 'keep the bot off'} "
        "the tuned model"
    )


if __name__ == "__main__":
    main()
