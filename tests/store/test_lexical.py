"""BM25 on a large store leaves out terms that most chunks hold (see store.sqlite.COMMON_SHARE)."""

from __future__ import annotations

import hashlib

import numpy as np

from chatforge.schema import Chunk, Document
from chatforge.store.sqlite import COMMON_MIN_DOCS, SQLiteStore

DIM = 4


def _store(tmp_path, texts: list[str]) -> SQLiteStore:
    """Chunks written through the real store path; vectors are placeholders (BM25 only)."""
    store = SQLiteStore(tmp_path / "data", model="test", dim=lambda: DIM)
    for start in range(0, len(texts), 500):
        part = texts[start : start + 500]
        body = "\n".join(part)
        doc = Document(source=f"f{start}.txt", text=body, title=f"f{start}", sections=[])
        chunks, hashes, offset = [], [], 0
        for t in part:
            chunks.append(Chunk(t, offset, offset + len(t), "", ""))
            hashes.append(hashlib.sha256(t.encode()).hexdigest())
            offset += len(t) + 1
        vectors = {h: np.ones(DIM, dtype=np.float32) / 2 for h in hashes}
        store.replace_file(doc.source, doc.source, len(body), [(doc, chunks, hashes)], vectors)
    return store


def test_a_term_most_chunks_hold_is_left_out_of_a_big_store_query(tmp_path):
    n = COMMON_MIN_DOCS + 500
    texts = [f"widget note number {i}" for i in range(n - 2)]
    texts += ["the zorbulator manual", "a zorbulator widget"]
    store = _store(tmp_path, texts)
    hits = store.lexical("widget zorbulator", 50)
    # Only the two chunks with the rare word: "widget" (in nearly every chunk) was left out.
    assert len(hits) == 2
    assert {store.hits(hits)[i].text for i in range(2)} == set(texts[-2:])
    # A query of common words alone still searches with the rarest of them.
    assert len(store.lexical("widget note", 50)) == 50
    store.close()


def test_small_stores_score_every_term(tmp_path):
    texts = [f"widget note number {i}" for i in range(200)] + ["the zorbulator manual"]
    store = _store(tmp_path, texts)
    assert len(store.lexical("widget zorbulator", 50)) == 50
    store.close()
