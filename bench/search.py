"""Search latency: bot.search (query embedding included) at 10k and 100k chunks vs raw peers.

The stores are synthesised so they build in minutes: chunk texts are sentences of the Python
documentation recombined at random (so BM25 sees real vocabulary), written through the real
store path (SQLiteStore.replace_file, FTS5 included) with random unit vectors instead of
embeddings. What is timed is search only, not ingest; dense results are meaningless but cost
the same (random vectors are, if anything, harder for HNSW than real ones). The peer is raw
sentence-transformers `encode` + a raw FAISS IndexFlatIP over the same vectors, timed on the
same queries in the same process.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import corpora
import numpy as np
from common import DATA, offline, percentile, read_jsonl, table

CHUNKS_PER_FILE = 100
K = 5
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def sentences(pages: int, seed: int) -> list[tuple[str, str]]:
    """(page title, sentence) pairs from the first `pages` pages of the Python docs."""
    from chatforge.formats import load

    root = corpora.python_docs()
    chosen = corpora.python_doc_pages(root)
    random.Random(seed).shuffle(chosen)
    out = []
    for rel in chosen[:pages]:
        for doc in load(root / rel, rel.as_posix()):
            for s in _SENTENCE.split(doc.text):
                s = " ".join(s.split())
                if 30 <= len(s) <= 300:
                    out.append((doc.title, s))
    return out


def build(folder: Path, n: int, seed: int = 0) -> float:
    """Fill a fresh bot folder with `n` synthetic chunks; returns seconds spent."""
    from chatforge.bot import Bot
    from chatforge.ingest.pipeline import chunk_hash
    from chatforge.schema import Chunk, Document

    t0 = time.perf_counter()
    bot = Bot.init(folder)
    store = bot.store
    dim = bot.embedder.dim
    pool = sentences(200, seed)
    rng = random.Random(seed)
    vrng = np.random.default_rng(seed)
    for f in range(0, n, CHUNKS_PER_FILE):
        count = min(CHUNKS_PER_FILE, n - f)
        title = rng.choice(pool)[0]
        texts = [" ".join(s for _, s in rng.sample(pool, rng.randint(3, 7))) for _ in range(count)]
        text = "\n\n".join(texts)
        chunks, at = [], 0
        for i, t in enumerate(texts):
            section = f"Part {i // 10 + 1}"
            chunks.append(Chunk(t, at, at + len(t), section, f"{title} > {section}"))
            at += len(t) + 2
        doc = Document(f"synth/{f // CHUNKS_PER_FILE:05d}.txt", text, title, [])
        hashes = [chunk_hash(c) for c in chunks]
        vecs = vrng.standard_normal((count, dim), dtype=np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        digest = hashlib.sha256(text.encode()).hexdigest()
        vectors = dict(zip(hashes, vecs, strict=True))
        store.replace_file(doc.source, digest, len(text), [(doc, chunks, hashes)], vectors)
    store.save_index()
    bot.close()
    return time.perf_counter() - t0


def timed(fn: Callable[[str], Any], queries: list[str], rounds: int) -> list[float]:
    """Milliseconds per call, over `rounds` passes of the query list."""
    out = []
    for _ in range(rounds):
        for q in queries:
            t = time.perf_counter()
            fn(q)
            out.append((time.perf_counter() - t) * 1000)
    return out


def stats(ms: list[float]) -> tuple[float, float, float]:
    return percentile(ms, 50), percentile(ms, 95), float(np.mean(ms))


def measure(folder: Path, index: str, queries: list[str], rounds: int) -> dict[str, Any]:
    """Latencies of bot.search and of its parts for one store and index kind."""
    from chatforge.bot import Bot
    from chatforge.config import Settings

    settings = Settings.load(folder)
    settings.store.index = index
    bot = Bot(folder, settings=settings)
    t = time.perf_counter()
    bot.search(queries[0], k=K)
    first = time.perf_counter() - t
    timed(lambda q: bot.search(q, k=K), queries[:10], 1)
    total = timed(lambda q: bot.search(q, k=K), queries, rounds)
    depth = max(bot.settings.retrieve.candidates, K * 2)
    vecs = {q: bot.embedder.encode_query(q) for q in queries}
    parts = {
        "embed query": timed(bot.embedder.encode_query, queries, 1),
        "dense (FAISS)": timed(lambda q: bot.store.dense(vecs[q], depth), queries, rounds),
        "lexical (BM25)": timed(lambda q: bot.store.lexical(q, depth), queries, rounds),
    }
    out = {
        "chunks": bot.store.chunk_count(),
        "first_s": first,
        "search": total,
        "parts": parts,
        "kind": bot.store.index().kind,
        "embedder": bot.embedder,
    }
    out["vectors"] = np.stack(
        [
            np.frombuffer(v, dtype=np.float32)
            for (v,) in bot.store.db.execute(
                "SELECT v.vec FROM chunks c JOIN vectors v ON v.hash = c.hash ORDER BY c.id"
            )
        ]
    )
    bot.close()
    return out


def peer(vectors: np.ndarray, model_path: str, queries: list[str], rounds: int) -> list[float]:
    """Raw sentence-transformers encode + raw FAISS flat inner-product search."""
    import faiss
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_path, device="cpu")
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors))

    def search(q: str) -> Any:
        v = model.encode([q], normalize_embeddings=True, convert_to_numpy=True)
        return index.search(v.astype(np.float32), K)

    timed(search, queries[:10], 1)
    return timed(search, queries, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated chunk counts")
    parser.add_argument("--index", default="flat,hnsw", help="index kinds tried at the largest")
    parser.add_argument("--rounds", type=int, default=2, help="passes over the query set")
    parser.add_argument("--cache", type=Path, default=corpora.DEFAULT_CACHE / "bots")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the synthetic stores")
    args = parser.parse_args()
    offline()
    import torch

    from chatforge.bot import Bot
    from chatforge.models import resolve_embedder

    queries = [q["question"] for q in read_jsonl(DATA / "python_docs_questions.jsonl")]
    queries += [q["question"] for q in read_jsonl(DATA / "debian_faq_questions.jsonl")]
    sizes = [int(s) for s in args.sizes.split(",")]
    kinds = args.index.split(",")
    print(f"{len(queries)} queries x {args.rounds} rounds, k={K}; torch threads "
          f"{torch.get_num_threads()}")  # fmt: skip

    rows, parts_rows, summary = [], [], []
    for n in sizes:
        folder = args.cache / f"search-{n}"
        have = Bot(folder).store.chunk_count() if (folder / "chatforge.yaml").exists() else -1
        if args.rebuild or have != n:
            shutil.rmtree(folder, ignore_errors=True)
            print(f"building {n} synthetic chunks in {folder} ...", flush=True)
            print(f"  built in {build(folder, n):.1f}s", flush=True)
        peer_ms: list[float] | None = None
        for kind in kinds if n == max(sizes) else ["flat"]:
            m = measure(folder, kind, queries, args.rounds)
            if peer_ms is None:
                peer_ms = peer(m["vectors"], resolve_embedder("all-MiniLM-L6-v2"), queries,
                               args.rounds)  # fmt: skip
                p50, p95, mean = stats(peer_ms)
                rows.append([n, "peer: ST encode + FAISS flat", "fp32", "-", p50, p95, mean, "-"])
            p50, p95, mean = stats(m["search"])
            ratio = p95 / stats(peer_ms)[1]
            emb = m["embedder"]
            rows.append([n, f"chatforge bot.search ({m['kind']})", emb.dtype,
                         f"{m['first_s']:.1f}", p50, p95, mean, f"{ratio:.2f}"])  # fmt: skip
            for part, ms in m["parts"].items():
                parts_rows.append([n, m["kind"], part, *stats(ms)])
            summary.append(f"{n // 1000}k {m['kind']} p95 {p95:.1f} ms ({ratio:.2f}x peer)")
            print(f"  {n} chunks {m['kind']}: p50 {p50:.1f} ms, p95 {p95:.1f} ms", flush=True)

    print()
    print(table(rows, ["chunks", "search", "dtype", "first call s", "p50 ms", "p95 ms",
                       "mean ms", "p95 / peer p95"]))  # fmt: skip
    print("\nparts of bot.search (hybrid: embed query + dense + lexical + fusion + hit rows):")
    print(table(parts_rows, ["chunks", "index", "part", "p50 ms", "p95 ms", "mean ms"]))
    print(f"SUMMARY search latency (target p95 < 30 ms at 100k): {'; '.join(summary)}")


if __name__ == "__main__":
    main()
