"""Re-embedding a bot with another model, resumable, with the old vectors serving until the end.

A bot with many chunks takes minutes to re-embed. The new vectors are gathered in a side file
(`data/reembed.sqlite`, committed every few batches), so an interrupted run loses at most a
batch and the next run carries on; the store keeps the old model's vectors, whole, until every
chunk has a new one, and then swaps them in. Should the process die inside the swap, the side
file still holds every vector: `interrupted` says so and the next run finishes the swap.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np

from chatforge.embed import Embedder
from chatforge.store.sqlite import SQLiteStore

SIDE_FILE = "reembed.sqlite"
STEP = 256
"""Chunks embedded between two commits of the side file."""


def _open_side(folder: Path, model: str) -> sqlite3.Connection:
    """The side file for `model`; one left by a run for another model is started afresh."""
    db = sqlite3.connect(folder / SIDE_FILE)
    db.execute("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT)")
    db.execute("CREATE TABLE IF NOT EXISTS vectors(hash TEXT PRIMARY KEY, vec BLOB NOT NULL)")
    row = db.execute("SELECT value FROM meta WHERE key = 'model'").fetchone()
    if row is None or row[0] != model:
        db.execute("DELETE FROM vectors")
        db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('model', ?)", (model,))
    db.commit()
    return db


def interrupted(folder: Path, store: SQLiteStore) -> str | None:
    """The model of a re-embed that died while swapping its vectors in, else None."""
    path = folder / SIDE_FILE
    if not path.is_file():
        return None
    with sqlite3.connect(path) as db:
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'model'").fetchone()
        except sqlite3.DatabaseError:
            return None
    return row[0] if row and row[0] == store.meta("embed_model") else None


def reembed(
    folder: Path,
    store: SQLiteStore,
    embedder: Embedder,
    model: str,
    progress: Callable[[int, int], None] | None = None,
    step: int = STEP,
) -> int:
    """Give every chunk a vector from `embedder`, then make `model` the store's; returns the
    chunks embedded in this run. `progress(done, total)` follows the chunks, `step` at a time."""
    side = _open_side(folder, model)
    try:
        chunks = dict(
            store.db.execute("SELECT DISTINCT hash, context || char(10) || text FROM chunks")
        )
        have = {h for (h,) in side.execute("SELECT hash FROM vectors")}
        todo = [h for h in chunks if h not in have]
        done = len(chunks) - len(todo)
        if progress:
            progress(done, len(chunks))
        for i in range(0, len(todo), step):
            part = todo[i : i + step]
            vecs = embedder.encode([chunks[h] for h in part], bulk=True)
            side.executemany(
                "INSERT OR REPLACE INTO vectors(hash, vec) VALUES(?, ?)",
                ((h, v.astype(np.float32).tobytes()) for h, v in zip(part, vecs, strict=True)),
            )
            side.commit()
            done += len(part)
            if progress:
                progress(done, len(chunks))
        vectors = {
            h: np.frombuffer(v, dtype=np.float32)
            for h, v in side.execute("SELECT hash, vec FROM vectors")
            if h in chunks
        }
        store.reset_vectors(model, embedder.dim)
        store.add_vectors(vectors)
    finally:
        side.close()
    (folder / SIDE_FILE).unlink()
    return len(todo)
