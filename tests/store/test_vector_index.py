"""The FAISS index: HNSW removals become tombstones that searches skip, saved with the index."""

from __future__ import annotations

import numpy as np

from chatforge.store import faiss_index
from chatforge.store.faiss_index import VectorIndex

DIM = 8


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _hnsw(tmp_path, n: int = 200) -> tuple[VectorIndex, np.ndarray]:
    vectors = _unit(np.random.default_rng(0), n)
    index = VectorIndex(tmp_path, DIM, "test", "hnsw")
    index.add(np.arange(n, dtype=np.int64), vectors)
    return index, vectors


def test_a_removed_id_is_never_found_again_and_stays_removed_after_reload(tmp_path):
    index, vectors = _hnsw(tmp_path)
    assert index.search(vectors[7], 1)[0][0] == 7
    assert index.remove([7, 8])
    assert len(index) == 198
    found = [i for i, _ in index.search(vectors[7], 10)]
    assert 7 not in found and 8 not in found and len(found) == 10
    assert 7 not in index.ids().tolist()
    index.save(generation=3)
    again, why = VectorIndex.load(tmp_path, DIM, "test", "hnsw")
    assert why == "ok" and again.tombstones == {7, 8} and len(again) == 198
    assert 7 not in [i for i, _ in again.search(vectors[7], 10)]


def test_a_source_filter_also_skips_tombstones(tmp_path):
    index, vectors = _hnsw(tmp_path)
    index.remove([7])
    allowed = np.array([7, 9], dtype=np.int64)
    assert [i for i, _ in index.search(vectors[7], 5, allowed)] == [9]
    assert index.search(vectors[7], 5, np.array([7], dtype=np.int64)) == []


def test_too_many_tombstones_ask_for_a_rebuild(tmp_path):
    index, _ = _hnsw(tmp_path, n=100)
    limit = int(faiss_index.TOMBSTONE_SHARE * 100)
    assert index.remove(range(limit))
    assert not index.remove([limit])


def test_an_id_freed_and_used_again_asks_for_a_rebuild(tmp_path):
    """SQLite hands a freed rowid out again; adding it under its tombstone would hide it."""
    index, _ = _hnsw(tmp_path)
    index.remove([199])
    assert index.revives([199, 200])
    assert not index.revives([200])


def test_forget_and_reingest_on_an_hnsw_store_keep_search_right(make_bot, docs):
    bot = make_bot()
    bot.settings.store.index = "hnsw"
    bot.ingest(["."])
    index = bot.store.index()
    assert index.kind == "hnsw"
    bot.forget("guide/network.md")
    assert bot.store.index() is index and index.tombstones  # removed in place, not rebuilt
    assert all(h.source != "guide/network.md" for h in bot.search("daemon port", k=5))
    bot.ingest(["."])
    assert bot.search("which port does the daemon use", k=1)[0].source == "guide/network.md"
    assert len(bot.store.index()) == bot.store.chunk_count()


def test_the_flat_index_finds_the_exact_neighbours_with_scores_close_to_float32(tmp_path):
    rng = np.random.default_rng(1)
    vectors = _unit(rng, 500)
    index = VectorIndex(tmp_path, DIM, "test", "flat")
    index.add(np.arange(500, dtype=np.int64), vectors)
    for query in _unit(rng, 20):
        exact = vectors @ query
        found = index.search(query, 5)
        assert [i for i, _ in found] == np.argsort(-exact)[:5].tolist()
        assert np.allclose([s for _, s in found], np.sort(exact)[::-1][:5], atol=1e-3)


def test_an_index_saved_with_another_codec_is_rebuilt(tmp_path):
    index = VectorIndex(tmp_path, DIM, "test", "flat")
    index.add(np.arange(3, dtype=np.int64), _unit(np.random.default_rng(2), 3))
    index.save(generation=1)
    record = tmp_path / faiss_index.RECORD
    record.write_text(record.read_text().replace('"fp16"', '"fp32"'))
    again, why = VectorIndex.load(tmp_path, DIM, "test", "flat")
    assert why == "built for another model or index type" and len(again) == 0
