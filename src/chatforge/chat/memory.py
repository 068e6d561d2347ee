"""Long-term memory: facts and conversation summaries per user, recalled by embedding similarity.

Memories live in the bot's SQLite file with their vectors (from the bot's embedder). Every query
filters by user id, so one user's memories never reach another's prompt. Recall is brute-force
cosine over the user's memories with numpy: per-user memory stays small, and an index would be
one more thing to keep in sync. Kinds: `fact` (a first-person statement found by
:mod:`chatforge.chat.facts`), `explicit` (a "remember that ..." request), `summary` (the model's
summary of recent turns), `note` (added by hand).

A memory that says one thing a user has only one of (their name, where they live, their job)
has that slot (see :mod:`chatforge.chat.facts`). An edit, or a newer memory of the same slot,
supersedes rather than overwrites: the memory keeps its id and takes the new text, and the
earlier text stays as a row whose `superseded_by` names it. Recall and lists use current
memories only; `list(..., include_history=True)` shows the earlier versions too.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from chatforge.chat.facts import slot_of
from chatforge.embed import Embedder
from chatforge.errors import ChatforgeError
from chatforge.store.migrations import execute_all, migration
from chatforge.store.sqlite import SQLiteStore, now

_CURRENT = "superseded_by IS NULL"


@migration("memory")
def m001_memories(db: sqlite3.Connection) -> None:
    """The table as it was before migrations: created only where missing."""
    execute_all(
        db,
        """CREATE TABLE IF NOT EXISTS memories(
          id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL,
          vec BLOB NOT NULL, model TEXT NOT NULL, conversation_id TEXT,
          created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS memories_user ON memories(user_id)",
    )


@migration("memory")
def m002_superseded_by(db: sqlite3.Connection) -> None:
    """Edits keep the earlier text: a superseded row points at the memory that replaced it, and
    goes when that memory is deleted."""
    execute_all(
        db,
        "ALTER TABLE memories ADD COLUMN superseded_by INTEGER "
        "REFERENCES memories(id) ON DELETE CASCADE",
        "CREATE INDEX memories_superseded ON memories(superseded_by)",
    )


@migration("memory")
def m003_slot(db: sqlite3.Connection) -> None:
    """Memories get the slot they fill, read from their text. Where a user already has several
    current memories of one slot, all stay current until the user states that slot again."""
    execute_all(
        db,
        "ALTER TABLE memories ADD COLUMN slot TEXT",
        "CREATE INDEX memories_slot ON memories(user_id, slot)",
    )
    rows = db.execute("SELECT id, text FROM memories WHERE kind != 'summary'").fetchall()
    db.executemany(
        "UPDATE memories SET slot = ? WHERE id = ?",
        [(slot, i) for i, text in rows if (slot := slot_of(text))],
    )


@migration("memory")
def m004_thing_slots(db: sqlite3.Connection) -> None:
    """Memories that say "my <thing> is ..." get the slot of that thing, as new ones do."""
    rows = db.execute(
        "SELECT id, text FROM memories WHERE kind != 'summary' AND slot IS NULL"
    ).fetchall()
    db.executemany(
        "UPDATE memories SET slot = ? WHERE id = ?",
        [(slot, i) for i, text in rows if (slot := slot_of(text))],
    )


KINDS = ("fact", "explicit", "summary", "note")
_COLUMNS = "id, user_id, kind, text, conversation_id, created_at, updated_at, superseded_by, slot"


@dataclass
class Memory:
    id: int
    user_id: str
    kind: str
    text: str
    conversation_id: str | None
    created_at: str
    updated_at: str
    superseded_by: int | None = None
    """The memory that replaced this text, or None for a current memory."""
    slot: str | None = None
    """What the memory says about the user ("name", "home"...), or None for a free fact."""
    score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("superseded_by", "slot"):
            if d[key] is None:
                d.pop(key)
        if self.score is None:
            d.pop("score")
        else:
            d["score"] = round(self.score, 4)
        return d

    def prompt_line(self) -> str:
        """How the memory reads in a prompt: summaries are marked as such."""
        if self.kind == "summary":
            return f"(summary of an earlier conversation) {self.text}"
        return self.text


class MemoryStore:
    """A user's memories: add, list, search (recall), edit and delete."""

    def __init__(self, store: SQLiteStore, embedder: Callable[[], Embedder]) -> None:
        self.store = store
        self.db = store.db
        self._embedder = embedder
        store.migrate("memory")

    @property
    def embedder(self) -> Embedder:
        return self._embedder()

    def _vector(self, text: str) -> np.ndarray:
        return self.embedder.encode_query(text)

    def add(
        self, user: str, text: str, kind: str = "note", conversation_id: str | None = None
    ) -> Memory:
        """Store a memory now, in its own transaction; an identical one is refreshed instead."""
        vec = self._vector(text)
        with self.store.transaction() as db:
            mid = self.insert(db, user, text, kind, conversation_id, vec)
        return self.get(user, mid)

    def insert(
        self,
        db: sqlite3.Connection,
        user: str,
        text: str,
        kind: str,
        conversation_id: str | None,
        vector: np.ndarray | None = None,
    ) -> int:
        """Write inside the caller's transaction; returns the memory's id.

        The same current text for the same user is kept once; a text that fills a slot the user
        already has a current memory of supersedes that memory (which keeps its id). `vector` is
        the text's embedding when the caller has it already (else it is computed).
        """
        text = " ".join(text.split())
        if not text:
            raise ChatforgeError("a memory needs some text")
        if kind not in KINDS:
            raise ChatforgeError(f"unknown memory kind {kind!r}; use one of {', '.join(KINDS)}")
        at = now()
        row = db.execute(
            f"SELECT id FROM memories WHERE user_id = ? AND lower(text) = lower(?) AND {_CURRENT}",
            (user, text),
        ).fetchone()
        if row:
            db.execute("UPDATE memories SET updated_at = ? WHERE id = ?", (at, row[0]))
            return int(row[0])
        slot = slot_of(text) if kind != "summary" else None
        vec = np.asarray(vector if vector is not None else self._vector(text), dtype=np.float32)
        older = self._current_ids(db, user, slot) if slot else []
        if older:
            self._supersede(
                db, older[0], text, vec.tobytes(), kind=kind, conversation_id=conversation_id
            )
            db.executemany(  # several current memories of one slot, from before slots
                "UPDATE memories SET superseded_by = ?, updated_at = ? WHERE id = ?",
                [(older[0], at, i) for i in older[1:]],
            )
            return older[0]
        cur = db.execute(
            "INSERT INTO memories(user_id, kind, text, vec, model, conversation_id, created_at, "
            "updated_at, slot) VALUES(?,?,?,?,?,?,?,?,?)",
            (user, kind, text, vec.tobytes(), self.embedder.name, conversation_id, at, at, slot),
        )
        return int(cur.lastrowid or 0)

    @staticmethod
    def _current_ids(db: sqlite3.Connection, user: str, slot: str) -> list[int]:
        """The user's current memories of a slot, newest first."""
        rows = db.execute(
            f"SELECT id FROM memories WHERE user_id = ? AND slot = ? AND {_CURRENT} "
            "ORDER BY updated_at DESC, id DESC",
            (user, slot),
        )
        return [int(r[0]) for r in rows]

    def current(self, user: str, slots: Sequence[str]) -> Memory | None:
        """The user's newest current memory of the first of `slots` they have one of, or None."""
        for slot in slots:
            found = self._current_ids(self.db, user, slot)
            if found:
                return self.get(user, found[0])
        return None

    def get(self, user: str, memory_id: int) -> Memory:
        row = self.db.execute(
            f"SELECT {_COLUMNS} FROM memories WHERE id = ? AND user_id = ?", (memory_id, user)
        ).fetchone()
        if row is None:
            raise ChatforgeError(
                f"memory {memory_id} not found for user {user!r}; "
                f"see `chatforge memory list --user {user}`"
            )
        return Memory(*row)

    def list(
        self, user: str = "local", kind: str | None = None, include_history: bool = False
    ) -> list[Memory]:
        """The user's current memories, oldest first; with `include_history`, each is followed
        by the texts it replaced, newest first."""
        where, args = ("AND kind = ?", (user, kind)) if kind else ("", (user,))
        if not include_history:
            where += f" AND {_CURRENT}"
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM memories WHERE user_id = ? {where} "
            f"ORDER BY coalesce(superseded_by, id), {_CURRENT} DESC, id DESC",
            args,
        )
        return [Memory(*r) for r in rows]

    def search(
        self, user: str, query: str, k: int = 5, min_score: float | None = None
    ) -> list[Memory]:
        """The user's current memories most similar to `query` (cosine), best first."""
        if k <= 0:
            return []
        rows = self.db.execute(
            f"SELECT {_COLUMNS}, vec, model FROM memories WHERE user_id = ? AND {_CURRENT}",
            (user,),
        ).fetchall()
        if not rows:
            return []
        self._refresh_stale(rows)
        rows = self.db.execute(
            f"SELECT {_COLUMNS}, vec FROM memories WHERE user_id = ? AND {_CURRENT}", (user,)
        ).fetchall()
        vecs = np.stack([np.frombuffer(r[-1], dtype=np.float32) for r in rows])
        scores = self.embedder.relevance(
            vecs @ np.asarray(self.embedder.encode_query(query), dtype=np.float32)
        )
        order = np.argsort(-scores, kind="stable")[:k]
        out = []
        for i in order:
            if min_score is not None and scores[i] < min_score:
                break
            out.append(Memory(*rows[i][:-1], score=float(scores[i])))
        return out

    def _refresh_stale(self, rows: list[tuple]) -> None:
        """Re-embed memories written with another embedding model (after a model change)."""
        stale = [(r[0], r[3]) for r in rows if r[-1] != self.embedder.name]
        if not stale:
            return
        vecs = self.embedder.encode([t for _, t in stale])
        with self.store.transaction() as db:
            db.executemany(
                "UPDATE memories SET vec = ?, model = ? WHERE id = ?",
                [
                    (np.asarray(v, dtype=np.float32).tobytes(), self.embedder.name, i)
                    for (i, _), v in zip(stale, vecs, strict=True)
                ],
            )

    def edit(self, user: str, memory_id: int, text: str) -> Memory:
        """Give a memory new text (and vector); the earlier text is kept as a superseded row.

        The memory keeps its id. The superseded row keeps the earlier text, vector, kind and
        creation time; its `updated_at` is when it stopped being current.
        """
        current = self.get(user, memory_id)
        if current.superseded_by is not None:
            raise ChatforgeError(
                f"memory {memory_id} is an earlier version of memory {current.superseded_by}; "
                f"edit memory {current.superseded_by} instead"
            )
        text = " ".join(text.split())
        if not text:
            raise ChatforgeError("a memory needs some text; use `memory delete` to remove one")
        if text == current.text:
            return current
        vec = np.asarray(self._vector(text), dtype=np.float32).tobytes()
        with self.store.transaction() as db:
            self._supersede(db, memory_id, text, vec)
        return self.get(user, memory_id)

    def _supersede(
        self,
        db: sqlite3.Connection,
        memory_id: int,
        text: str,
        vec: bytes,
        **changes: str | None,
    ) -> None:
        """Keep the memory's current text as a history row, then give it `text` (and any other
        `changes`: kind, conversation_id); its slot is read again from the new text."""
        at = now()
        db.execute(
            "INSERT INTO memories(user_id, kind, text, vec, model, conversation_id, "
            "created_at, updated_at, superseded_by, slot) SELECT user_id, kind, text, vec, model, "
            "conversation_id, created_at, ?, id, slot FROM memories WHERE id = ?",
            (at, memory_id),
        )
        kind = (
            changes.get("kind")
            or db.execute("SELECT kind FROM memories WHERE id = ?", (memory_id,)).fetchone()[0]
        )
        sets = {
            "text": text,
            "vec": vec,
            "model": self.embedder.name,
            "updated_at": at,
            "slot": slot_of(text) if kind != "summary" else None,
            **changes,
        }
        assignments = ", ".join(f"{column} = ?" for column in sets)
        db.execute(f"UPDATE memories SET {assignments} WHERE id = ?", (*sets.values(), memory_id))

    def delete(self, user: str, memory_id: int) -> None:
        """Forget a memory, with the earlier texts it replaced."""
        with self.store.transaction() as db:
            cur = db.execute("DELETE FROM memories WHERE id = ? AND user_id = ?", (memory_id, user))
        if cur.rowcount == 0:
            raise ChatforgeError(
                f"memory {memory_id} not found for user {user!r}; "
                f"see `chatforge memory list --user {user}`"
            )
