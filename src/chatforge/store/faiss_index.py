"""The FAISS vector index: derived from SQLite, saved atomically, caught up on open.

The index file never holds anything SQLite does not: it can always be thrown away and rebuilt.
A small JSON record beside it names the index file, the embedding model and the store
generation it reflects, so a stale or foreign index is detected without trusting its contents.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("chatforge.store")

RECORD = "index.json"


class VectorIndex:
    """Inner-product search over chunk vectors keyed by chunk id."""

    def __init__(self, folder: Path, dim: int, model: str, kind: str = "flat") -> None:
        import faiss

        self.folder = folder
        self.dim = dim
        self.model = model
        self.kind = kind
        self.generation = -1
        self.saved_generation = -2
        if kind == "hnsw":
            base = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
            base.hnsw.efConstruction = 80
            base.hnsw.efSearch = 64
        else:
            base = faiss.IndexFlatIP(dim)
        self.index: Any = faiss.IndexIDMap2(base)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def ids(self) -> np.ndarray:
        import faiss

        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)

    def remove(self, ids: Iterable[int]) -> bool:
        """Drop ids; returns False when the index type cannot remove (HNSW), so rebuild instead."""
        import faiss

        ids = np.fromiter(ids, dtype=np.int64)
        if not len(ids):
            return True
        if self.kind == "hnsw":
            return False
        self.index.remove_ids(faiss.IDSelectorBatch(ids))
        return True

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        import faiss

        if len(self) == 0 or k <= 0:
            return []
        params = None
        if allowed is not None:
            if not len(allowed):
                return []
            sel = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
            params = (
                faiss.SearchParametersHNSW(sel=sel, efSearch=max(64, k))
                if self.kind == "hnsw"
                else faiss.SearchParameters(sel=sel)
            )
        elif self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=max(64, k))
        scores, ids = self.index.search(query.reshape(1, -1).astype(np.float32), k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def save(self, generation: int) -> None:
        """Write the index under a new name, then switch the record to it: never half-written."""
        import faiss

        self.generation = self.saved_generation = generation
        with _locked(self.folder):
            name = f"faiss-{generation}-{os.getpid()}.index"
            tmp = self.folder / (name + ".tmp")
            faiss.write_index(self.index, str(tmp))
            os.replace(tmp, self.folder / name)
            record = {
                "file": name,
                "model": self.model,
                "dim": self.dim,
                "kind": self.kind,
                "generation": generation,
                "count": len(self),
            }
            tmp_rec = self.folder / (RECORD + ".tmp")
            tmp_rec.write_text(json.dumps(record), encoding="utf-8")
            os.replace(tmp_rec, self.folder / RECORD)
            for old in self.folder.glob("faiss-*.index"):
                if old.name != name:
                    old.unlink(missing_ok=True)

    @classmethod
    def load(cls, folder: Path, dim: int, model: str, kind: str) -> tuple[VectorIndex, str]:
        """The saved index if it matches, else an empty one; the second value says why."""
        import faiss

        fresh = cls(folder, dim, model, kind)
        try:
            record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return fresh, "missing"
        except (OSError, ValueError):
            return fresh, "unreadable record"
        if (record.get("model"), record.get("dim"), record.get("kind")) != (model, dim, kind):
            return fresh, "built for another model or index type"
        try:
            index = faiss.read_index(str(folder / record["file"]))
        except (RuntimeError, KeyError, OSError):
            return fresh, "unreadable"
        if index.d != dim or index.ntotal != record.get("count"):
            return fresh, "unreadable"
        fresh.index = index
        fresh.generation = fresh.saved_generation = int(record["generation"])
        return fresh, "ok"


@contextmanager
def _locked(folder: Path):
    """One index writer at a time across processes."""
    with open(folder / "index.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
