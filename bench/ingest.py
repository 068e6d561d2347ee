"""Ingest benchmark: chatforge vs LangChain's standard recipe over the same HTML pages.

LangChain side: a LangChain loader (BSHTMLLoader by default, or chatforge's extracted text with
`--lc-text chatforge`), RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200),
HuggingFaceEmbeddings on the same model folder, FAISS.from_documents, save_local.
chatforge side: Bot.init + bot.ingest (SQLite + FAISS on disk). Each side runs in a fresh
subprocess, one after the other, so its time and peak RSS are its own. Time is end to end, from
before the first heavy import to the saved index. Retrieval is then measured on both with
labelled questions (hit@5 and MRR@5 by page path).

A shared machine's speed drifts by 10% within minutes, so the sides take turns `--repeat` times
(chatforge first in odd rounds, LangChain first in even ones) and the figure is the ratio of the
median times; every round is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import corpora
from common import DATA, first_rank, offline, peak_rss_mb, rank_metrics, read_jsonl, table
from corpora import pick_pages

QUESTIONS = {
    "python-docs": DATA / "python_docs_questions.jsonl",
}
K = 5
STORES = {"chatforge": "chatforge-bot", "langchain": "langchain-faiss"}  # folders under --work


def evaluate(
    search: Any, questions: list[dict[str, Any]], present: set[str]
) -> tuple[dict[str, float], int]:
    """hit@1, hit@5, MRR@5 over the questions whose answer pages were ingested."""
    ranks = []
    for q in questions:
        accepted = set(q["sources"]) & present
        if not accepted:
            continue
        ranks.append(first_rank(search(q["question"]), lambda s, a=accepted: s in a))
    return rank_metrics(ranks, (1, K)), len(ranks)


def run_chatforge(root: Path, pages: list[str], work: Path, questions: list[dict]) -> dict:
    t0 = time.perf_counter()
    from chatforge.bot import Bot
    from chatforge.config import RetrieveSettings
    from chatforge.retrieve import Retriever

    os.chdir(root)
    bot = Bot.init(work / STORES["chatforge"])
    report = bot.ingest(pages)
    seconds = time.perf_counter() - t0
    rss = peak_rss_mb()
    chunks = sum(f.chunks for f in report.files)
    present = set(pages)
    quality, n = evaluate(lambda q: [h.source for h in bot.search(q, k=K)], questions, present)
    dense_only = Retriever(bot.store, bot.embedder, RetrieveSettings(dense=True, lexical=False))
    dense_quality, _ = evaluate(
        lambda q: [h.source for h in dense_only.search(q, K)], questions, present
    )
    batch: int | str = bot.embedder.batch_size
    if bot.embedder.backend == "openvino":  # bulk: one batch per CPU stream
        streams = bot.embedder.model.streams(bulk=True)
        batch = f"{streams}x{-(-batch // streams)}"
    return {
        "files": report.totals["ingested"],
        "failed": report.totals["failed"] + report.totals["skipped"],
        "chunks": chunks,
        "seconds": seconds,
        "rss_mb": rss,
        "dtype": bot.embedder.dtype,
        "batch": batch,
        "quality": quality,
        "dense_quality": dense_quality,
        "questions": n,
    }


def run_langchain(
    root: Path, pages: list[str], work: Path, questions: list[dict], text_from: str
) -> dict:
    t0 = time.perf_counter()
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from chatforge.models import resolve_embedder

    os.chdir(root)
    docs: list[Document] = []
    failed = 0
    if text_from == "bshtml":
        from langchain_community.document_loaders import BSHTMLLoader

        for p in pages:
            try:
                docs.extend(BSHTMLLoader(p, open_encoding="utf-8").load())
            except Exception:  # a page the loader cannot read counts as failed, as in chatforge
                failed += 1
    else:
        from chatforge.formats import load

        for p in pages:
            for d in load(Path(p), p):
                docs.append(Document(page_content=d.text, metadata={"source": p}))
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    chunks = splitter.split_documents(docs)
    embeddings = HuggingFaceEmbeddings(
        model=resolve_embedder("all-MiniLM-L6-v2"),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True},
    )
    store = FAISS.from_documents(chunks, embeddings)
    store.save_local(str(work / STORES["langchain"]))
    seconds = time.perf_counter() - t0
    rss = peak_rss_mb()
    quality, n = evaluate(
        lambda q: [d.metadata["source"] for d in store.similarity_search(q, k=K)],
        questions,
        set(pages),
    )
    dtype = str(next(embeddings._client.parameters()).dtype).removeprefix("torch.")
    return {
        "files": len(pages) - failed,
        "failed": failed,
        "chunks": len(chunks),
        "seconds": seconds,
        "rss_mb": rss,
        "dtype": dtype,
        "batch": embeddings.encode_kwargs.get("batch_size", 32),
        "quality": quality,
        "questions": n,
    }


def child(args: argparse.Namespace) -> None:
    spec = json.loads(Path(args.spec).read_text(encoding="utf-8"))
    root, work, pages = Path(spec["root"]), Path(spec["work"]), spec["pages"]
    questions = read_jsonl(Path(spec["questions"]))
    if args.side == "chatforge":
        result = run_chatforge(root, pages, work, questions)
    else:
        result = run_langchain(root, pages, work, questions, spec["lc_text"])
    Path(args.out).write_text(json.dumps(result), encoding="utf-8")


def side(name: str, spec_path: Path, work: Path) -> dict:
    shutil.rmtree(work / STORES[name], ignore_errors=True)  # each round starts from nothing
    out = work / f"{name}.json"
    cmd = [sys.executable, __file__, "--side", name, "--spec", str(spec_path), "--out", str(out)]
    done = subprocess.run(cmd, env=os.environ.copy())
    if done.returncode != 0:
        raise SystemExit(f"the {name} side failed (exit {done.returncode})")
    return json.loads(out.read_text(encoding="utf-8"))


def median_run(runs: list[dict]) -> dict:
    """The run of median time, with the highest peak RSS of all runs (quality is the same)."""
    ranked = sorted(runs, key=lambda r: r["seconds"])
    middle = dict(ranked[(len(ranked) - 1) // 2])
    middle["seconds"] = statistics.median(r["seconds"] for r in runs)
    middle["rss_mb"] = max(r["rss_mb"] for r in runs)
    return middle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", default="python-docs", choices=list(QUESTIONS))
    parser.add_argument("--limit", type=int, help="ingest N pages (answer pages first)")
    parser.add_argument(
        "--lc-text",
        choices=["bshtml", "chatforge"],
        default="bshtml",
        help="LangChain's text: its BSHTMLLoader, or the text chatforge's loader extracts",
    )
    parser.add_argument("--repeat", type=int, default=3, help="rounds of both sides (median)")
    parser.add_argument("--work", type=Path, help="keep both stores here (default: temp dir)")
    parser.add_argument("--side", choices=["chatforge", "langchain"], help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    offline()
    if args.side:
        child(args)
        return

    root, all_pages = corpora.corpus(args.corpus)
    questions = read_jsonl(QUESTIONS[args.corpus])
    pages = pick_pages(all_pages, questions, args.limit)
    size_mb = sum((root / p).stat().st_size for p in pages) / 1e6
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    work = args.work or Path(tempfile.mkdtemp(prefix="chatforge-bench-ingest-"))
    work.mkdir(parents=True, exist_ok=True)
    spec = {
        "root": str(root),
        "work": str(work.resolve()),
        "pages": [p.as_posix() for p in pages],
        "questions": str(QUESTIONS[args.corpus]),
        "lc_text": args.lc_text,
    }
    spec_path = work / "spec.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    loader = "BSHTMLLoader" if args.lc_text == "bshtml" else "chatforge's extracted text"
    print(f"corpus {args.corpus}: {len(pages)} of {len(all_pages)} pages, {size_mb:.1f} MB HTML")
    print(
        f"LangChain text: {loader}; cores: {os.cpu_count()}; sides take turns, "
        f"{args.repeat} round(s)",
        flush=True,
    )

    runs: dict[str, list[dict]] = {"chatforge": [], "langchain": []}
    for i in range(args.repeat):
        order = ["chatforge", "langchain"] if i % 2 == 0 else ["langchain", "chatforge"]
        for name in order:
            runs[name].append(side(name, spec_path, work))
        cf_s, lc_s = runs["chatforge"][-1]["seconds"], runs["langchain"][-1]["seconds"]
        print(
            f"round {i + 1}: chatforge {cf_s:.1f}s, LangChain {lc_s:.1f}s ({lc_s / cf_s:.2f}x)",
            flush=True,
        )
    for name, results in runs.items():
        if len({json.dumps(r["quality"], sort_keys=True) for r in results}) > 1:
            print(f"note: {name}'s retrieval differed between rounds; the median run's is shown")
    cf, lc = (median_run(runs[name]) for name in ("chatforge", "langchain"))
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)

    rows = []
    for name, r, quality in (
        ("chatforge (hybrid)", cf, cf["quality"]),
        ("chatforge (dense only)", cf, cf["dense_quality"]),
        ("langchain", lc, lc["quality"]),
    ):
        rows.append(
            [
                name,
                r["files"],
                r["failed"],
                r["chunks"],
                r["seconds"],
                r["chunks"] / r["seconds"],
                len(pages) / r["seconds"],
                r["rss_mb"],
                r["dtype"],
                r["batch"],
                quality["hit@1"],
                quality[f"hit@{K}"],
                quality[f"mrr@{K}"],
            ]
        )
    header = [
        "side", "files", "failed", "chunks", "seconds", "chunks/s", "pages/s", "peak RSS MB",
        "dtype", "batch", "hit@1", f"hit@{K}", f"MRR@{K}",
    ]  # fmt: skip
    print(table(rows, header))
    print(f"questions evaluated: {cf['questions']} (answer page among the ingested pages)")
    speed = lc["seconds"] / cf["seconds"]
    rounds = [b["seconds"] / a["seconds"] for a, b in zip(*runs.values(), strict=True)]
    cq, lq = cf["quality"], lc["quality"]
    print(
        f"SUMMARY ingest {args.corpus} ({len(pages)} pages): chatforge {speed:.2f}x faster than "
        f"LangChain end to end (median of {args.repeat}: {cf['seconds']:.1f}s vs "
        f"{lc['seconds']:.1f}s; rounds {min(rounds):.2f}-{max(rounds):.2f}x; target >= 3x), "
        f"peak RSS {cf['rss_mb']:.0f} MB vs {lc['rss_mb']:.0f} MB (target < 1500), "
        f"hit@{K} {cq[f'hit@{K}']:.3f} vs {lq[f'hit@{K}']:.3f}, "
        f"MRR@{K} {cq[f'mrr@{K}']:.3f} vs {lq[f'mrr@{K}']:.3f}"
    )


if __name__ == "__main__":
    main()
