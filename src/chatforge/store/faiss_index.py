"""The FAISS vector index: derived from SQLite, saved atomically, caught up on open.

The index file never holds anything SQLite does not: it can always be thrown away and rebuilt.
A small JSON record beside it names the index file, the embedding model and the store
generation it reflects, so a stale or foreign index is detected without trusting its contents.

HNSW graphs cannot drop a vector, so removed ids become tombstones that searches skip; the
graph is rebuilt only once tombstones pass TOMBSTONE_SHARE of it. Re-ingesting one file of a
big store then costs a few milliseconds, not a rebuild of every vector.
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
TOMBSTONE_SHARE = 0.2


def codec(kind: str) -> str:
    """How the index holds vectors. A flat index keeps them as float16: half the memory and a
    faster scan (`bench/search.py`), while cosine scores move by about 1e-4,
    far less than the bfloat16 embedding's own error. SQLite keeps the float32 vectors."""
    return "fp16" if kind == "flat" else "fp32"


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
        self.tombstones: set[int] = set()
        self._skip: Any = None  # FAISS selector over the tombstones, built on first search
        if kind == "hnsw":
            base = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
            base.hnsw.efConstruction = 80
            base.hnsw.efSearch = 64
        else:
            base = faiss.IndexScalarQuantizer(
                dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
            )
        self.index: Any = faiss.IndexIDMap2(base)

    def __len__(self) -> int:
        return int(self.index.ntotal) - len(self.tombstones)

    def ids(self) -> np.ndarray:
        """The live ids (tombstones left out)."""
        import faiss

        ids = faiss.vector_to_array(self.index.id_map).astype(np.int64)
        if self.tombstones:
            ids = ids[~np.isin(ids, self._dead())]
        return ids

    def _dead(self) -> np.ndarray:
        return np.fromiter(self.tombstones, dtype=np.int64, count=len(self.tombstones))

    def revives(self, ids: Iterable[int]) -> bool:
        """True when an id to add is a tombstone (SQLite reuses freed ids): rebuild instead."""
        return not self.tombstones.isdisjoint(ids)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)

    def remove(self, ids: Iterable[int]) -> bool:
        """Drop ids; returns False when HNSW has too many tombstones, so rebuild instead."""
        import faiss

        ids = np.fromiter(ids, dtype=np.int64)
        if not len(ids):
            return True
        if self.kind == "hnsw":
            self.tombstones.update(ids.tolist())
            self._skip = None
            return len(self.tombstones) <= TOMBSTONE_SHARE * self.index.ntotal
        self.index.remove_ids(faiss.IDSelectorBatch(ids))
        return True

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        import faiss

        if len(self) == 0 or k <= 0:
            return []
        sel = None
        if allowed is not None:
            if self.tombstones:
                allowed = np.setdiff1d(allowed, self._dead())
            if not len(allowed):
                return []
            sel = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        elif self.tombstones:
            if self._skip is None:
                dead = faiss.IDSelectorBatch(self._dead())
                self._skip = (faiss.IDSelectorNot(dead), dead)  # the pair keeps `dead` alive
            sel = self._skip[0]
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(sel=sel, efSearch=max(64, k))
        else:
            params = faiss.SearchParameters(sel=sel) if sel is not None else None
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
                "codec": codec(self.kind),
                "generation": generation,
                "count": int(self.index.ntotal),
                "tombstones": sorted(self.tombstones),
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
        made = (record.get("model"), record.get("dim"), record.get("kind"), record.get("codec"))
        if made != (model, dim, kind, codec(kind)):
            return fresh, "built for another model or index type"
        try:
            index = faiss.read_index(str(folder / record["file"]))
        except (RuntimeError, KeyError, OSError):
            return fresh, "unreadable"
        if index.d != dim or index.ntotal != record.get("count"):
            return fresh, "unreadable"
        fresh.index = index
        fresh.tombstones = set(record.get("tombstones", ()))
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
