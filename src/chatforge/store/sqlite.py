"""The SQLite store: documents, chunks, vectors and the keyword index in one file.

SQLite is the truth. Each file's documents are replaced in one transaction, so readers (other
processes included, thanks to WAL) never see half a document, and a killed ingest leaves every
document either whole or absent. The FAISS index and the in-memory BM25 index are derived from
these rows and brought up to date whenever they lag behind the `generation` counter that every
write bumps.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, closing, nullcontext
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from chatforge.errors import ConfigError
from chatforge.languages import SURE, detect
from chatforge.lexical import query_terms
from chatforge.schema import Chunk, Document, Hit
from chatforge.store.chunk_terms import analyse, m002_chunk_languages
from chatforge.store.faiss_index import VectorIndex
from chatforge.store.keyword_index import KeywordIndex, QueryTokenizer
from chatforge.store.migrations import execute_all, migrate, migration
from chatforge.store.transaction import immediate

log = logging.getLogger("chatforge.store")


@migration("store")
def m001_documents(db: sqlite3.Connection) -> None:
    """The tables as they were before migrations: created only where missing."""
    execute_all(
        db,
        "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE IF NOT EXISTS files(
          path TEXT PRIMARY KEY, hash TEXT NOT NULL, size INTEGER NOT NULL,
          ingested_at TEXT NOT NULL, chunking TEXT NOT NULL DEFAULT '')""",
        """CREATE TABLE IF NOT EXISTS documents(
          id INTEGER PRIMARY KEY, path TEXT NOT NULL REFERENCES files(path) ON DELETE CASCADE,
          part TEXT NOT NULL DEFAULT '', title TEXT NOT NULL, text TEXT NOT NULL,
          meta TEXT NOT NULL, UNIQUE(path, part))""",
        """CREATE TABLE IF NOT EXISTS chunks(
          id INTEGER PRIMARY KEY,
          doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
          ord INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
          section TEXT NOT NULL, context TEXT NOT NULL, text TEXT NOT NULL, hash TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id)",
        "CREATE INDEX IF NOT EXISTS chunks_hash ON chunks(hash)",
        "CREATE TABLE IF NOT EXISTS vectors(hash TEXT PRIMARY KEY, vec BLOB NOT NULL)",
        "CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5("
        "context, text, tokenize = 'porter unicode61 remove_diacritics 2')",
        """CREATE TABLE IF NOT EXISTS ingest_log(
          id INTEGER PRIMARY KEY, at TEXT NOT NULL, path TEXT NOT NULL, status TEXT NOT NULL,
          reason TEXT NOT NULL DEFAULT '')""",
    )


migration("store")(m002_chunk_languages)

KEYWORDS = "keywords.npz"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class StoredDocument:
    id: int
    path: str
    part: str
    title: str
    hash: str
    chunks: int
    ingested_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SQLiteStore:
    """Documents and their chunks, vectors keyed by chunk hash, FTS5 for BM25, FAISS for dense."""

    def __init__(
        self,
        folder: Path,
        model: str,
        dim: Callable[[], int],
        index_kind: str = "auto",
        hnsw_threshold: int = 200_000,
        write_guard: AbstractContextManager[Any] | None = None,
    ) -> None:
        """`write_guard` (a lock) is held around each change to the documents, so a caller
        that holds it while retrieving sees them either before or after a file changed."""
        self.folder = folder
        self._write_guard = write_guard or nullcontext()
        self.model = model
        self._dim = dim
        self._index_setting = index_kind
        self._hnsw_threshold = hnsw_threshold
        folder.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(
            folder / "chatforge.db", timeout=60, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.RLock()
        self._keywords: KeywordIndex | None = None
        self._keywords_lock = threading.Lock()
        self._tokenizer = QueryTokenizer()
        self._languages: tuple[int, list[str]] | None = None
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self._index: VectorIndex | None = None
        self.migrate("store")

    @property
    def dim(self) -> int:
        """Vector size: recorded with the vectors, so opening the index needs no model."""
        stored = self.meta("embed_dim")
        return int(stored) if stored else self._dim()

    # -- transactions and bookkeeping -------------------------------------------------

    def migrate(self, namespace: str) -> list[str]:
        """Bring the tables of `namespace` up to date in this database (see store.migrations)."""
        with self._lock:
            return migrate(self.db, namespace)

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate(self.db, self._lock)

    def generation(self) -> int:
        return int(self.meta("generation") or 0)

    def _bump(self) -> None:
        self.db.execute(
            "INSERT INTO meta(key, value) VALUES('generation', '1') ON CONFLICT(key) "
            "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def check_model(self) -> None:
        """Refuse to mix vectors of two embedding models in one bot."""
        stored = self.meta("embed_model")
        if stored is None or self.chunk_count() == 0:
            return
        if stored != self.model:
            raise ConfigError(
                f"this bot's vectors were made with {stored}, but embed.model is {self.model}; "
                f"run `chatforge reindex --reembed` to re-embed everything, "
                f"or set embed.model back to {stored}"
            )

    def chunk_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM chunks").fetchone()[0])

    # -- writes ----------------------------------------------------------------------

    def file_versions(self) -> dict[str, tuple[str, str]]:
        """path -> (content hash, chunking signature) of every stored file."""
        return {p: (h, c) for p, h, c in self.db.execute("SELECT path, hash, chunking FROM files")}

    def missing_vectors(self, hashes: Iterable[str]) -> set[str]:
        """Which chunk hashes have no stored vector yet (the embedding cache)."""
        wanted = set(hashes)
        have: set[str] = set()
        batch = list(wanted)
        for i in range(0, len(batch), 500):
            part = batch[i : i + 500]
            q = f"SELECT hash FROM vectors WHERE hash IN ({','.join('?' * len(part))})"
            have.update(r[0] for r in self.db.execute(q, part))
        return wanted - have

    def replace_file(
        self,
        path: str,
        file_hash: str,
        size: int,
        documents: Sequence[tuple[Document, Sequence[Chunk], Sequence[str]]],
        vectors: dict[str, np.ndarray],
        chunking: str = "",
    ) -> int:
        """Swap in a file's new documents, chunks and vectors in one transaction.

        Each chunk's language and keyword terms are worked out first, outside the transaction,
        so the write lock is held only for the writes."""
        at = now()
        n = 0
        analysed = [analyse([(c.context, c.text) for c in chunks]) for _, chunks, _ in documents]
        with self._write_guard, self.transaction():
            self._delete_file(path)
            self.db.execute(
                "INSERT INTO files(path, hash, size, ingested_at, chunking) VALUES(?,?,?,?,?)",
                (path, file_hash, size, at, chunking),
            )
            self.db.executemany(
                "INSERT OR IGNORE INTO vectors(hash, vec) VALUES(?, ?)",
                ((h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in vectors.items()),
            )
            for (doc, chunks, hashes), terms in zip(documents, analysed, strict=True):
                cur = self.db.execute(
                    "INSERT INTO documents(path, part, title, text, meta) VALUES(?,?,?,?,?)",
                    (path, doc.part, doc.title, doc.text, json.dumps(doc.meta, default=str)),
                )
                doc_id = cur.lastrowid
                rows = zip(chunks, hashes, terms, strict=True)
                for ord_, (chunk, h, (lang, context_terms, text_terms)) in enumerate(rows):
                    cur = self.db.execute(
                        'INSERT INTO chunks(doc_id, ord, start, "end", section, context, text,'
                        " hash, lang) VALUES(?,?,?,?,?,?,?,?,?)",
                        (
                            doc_id,
                            ord_,
                            chunk.start,
                            chunk.end,
                            chunk.section,
                            chunk.context,
                            chunk.text,
                            h,
                            lang,
                        ),
                    )
                    self.db.execute(
                        "INSERT INTO chunks_fts(rowid, context, text) VALUES(?,?,?)",
                        (cur.lastrowid, context_terms, text_terms),
                    )
                    n += 1
            self._record_model(self.model, vectors)
            self._bump()
        return n

    def _record_model(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES('embed_model', ?)", (model,)
        )
        if vectors:
            dim = len(next(iter(vectors.values())))
            self.db.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES('embed_dim', ?)", (str(dim),)
            )

    def remove_file(self, path: str) -> bool:
        with self._write_guard, self.transaction():
            found = self._delete_file(path)
            if found:
                self._bump()
        return found

    def _delete_file(self, path: str) -> bool:
        ids = "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE d.path = ?"
        self.db.execute(f"DELETE FROM chunks_fts WHERE rowid IN ({ids})", (path,))
        cur = self.db.execute("DELETE FROM files WHERE path = ?", (path,))
        return cur.rowcount > 0

    def collect_garbage(self) -> int:
        """Drop cached vectors no chunk uses any more."""
        with self._write_guard, self.transaction():
            cur = self.db.execute(
                "DELETE FROM vectors WHERE hash NOT IN (SELECT DISTINCT hash FROM chunks)"
            )
        return cur.rowcount

    def log(self, path: str, status: str, reason: str = "") -> None:
        self.db.execute(
            "INSERT INTO ingest_log(at, path, status, reason) VALUES(?,?,?,?)",
            (now(), path, status, reason),
        )

    def reset_vectors(self, model: str, dim: int) -> None:
        """Forget every vector, for re-embedding the bot with another model."""
        with self.transaction():
            self.db.execute("DELETE FROM vectors")
            self.db.execute("DELETE FROM meta WHERE key = 'embed_dim'")
            self._record_model(model, {})
            self._bump()
        self.model, self._dim, self._index = model, (lambda: dim), None

    def chunks_to_embed(self) -> list[tuple[str, str]]:
        """(hash, embedded text) of every chunk lacking a vector."""
        return list(
            self.db.execute(
                "SELECT DISTINCT c.hash, c.context || char(10) || c.text FROM chunks c "
                "LEFT JOIN vectors v ON v.hash = c.hash WHERE v.hash IS NULL"
            )
        )

    def add_vectors(self, vectors: dict[str, np.ndarray]) -> None:
        with self.transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO vectors(hash, vec) VALUES(?, ?)",
                ((h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in vectors.items()),
            )
            self._record_model(self.model, vectors)
            self._bump()

    # -- reads -----------------------------------------------------------------------

    def documents(self, source_glob: str | None = None) -> list[StoredDocument]:
        where, args = ("WHERE d.path GLOB ?", (source_glob,)) if source_glob else ("", ())
        rows = self.db.execute(
            "SELECT d.id, d.path, d.part, d.title, f.hash, "
            "(SELECT count(*) FROM chunks c WHERE c.doc_id = d.id), f.ingested_at "
            f"FROM documents d JOIN files f ON f.path = d.path {where} ORDER BY d.path, d.id",
            args,
        )
        return [StoredDocument(*r) for r in rows]

    def hits(self, scored: Sequence[tuple[int, float]]) -> list[Hit]:
        """Full hits for (chunk id, score) pairs, in the given order; vanished ids are dropped."""
        if not scored:
            return []
        ids = [i for i, _ in scored]
        rows = self.db.execute(
            'SELECT c.id, c.text, d.path, d.title, c.section, c.start, c."end", d.id, d.part '
            f"FROM chunks c JOIN documents d ON d.id = c.doc_id "
            f"WHERE c.id IN ({','.join('?' * len(ids))})",
            ids,
        ).fetchall()
        by_id = {r[0]: r for r in rows}
        out = []
        for cid, score in scored:
            r = by_id.get(cid)
            if r is None:
                continue
            section = r[4] if not r[8] else (f"{r[8]} > {r[4]}" if r[4] else r[8])
            out.append(Hit(r[1], score, r[2], r[3], section, r[5], r[6], r[0], r[7]))
        return out

    def vectors_for(self, chunk_ids: Sequence[int]) -> np.ndarray:
        rows = dict(
            self.db.execute(
                "SELECT c.id, v.vec FROM chunks c JOIN vectors v ON v.hash = c.hash "
                f"WHERE c.id IN ({','.join('?' * len(chunk_ids))})",
                list(chunk_ids),
            )
        )
        return np.stack([np.frombuffer(rows[i], dtype=np.float32) for i in chunk_ids])

    def lexical(
        self, query: str, k: int, source_glob: str | None = None
    ) -> list[tuple[int, float]]:
        """BM25 over chunk text and its heading context; higher score is better.

        The question is analysed in its own language when that is sure, else also in each
        language the chunks are in (see lexical.query_terms): stems of a second language only
        add stray matches when the question's own language is known."""
        lang, prob = detect(query)
        langs = [lang] if prob >= SURE else [lang, *self.languages()]
        terms = self._tokenizer.terms(query_terms(query, langs))
        if not terms:
            return []
        allowed = self._ids_under(source_glob) if source_glob else None
        return self.keyword_index().search(terms, k, allowed)

    def languages(self) -> list[str]:
        """The languages of the stored chunks, most chunks first; remembered per generation."""
        gen = self.generation()
        if self._languages is None or self._languages[0] != gen:
            rows = self.db.execute(
                "SELECT lang FROM chunks WHERE lang != '' GROUP BY lang ORDER BY count(*) DESC"
            )
            self._languages = (gen, [r[0] for r in rows])
        return self._languages[1]

    def keyword_index(self) -> KeywordIndex:
        """The BM25 index: loaded or rebuilt from FTS5 whenever the store has moved on.

        Built on a connection of its own, so a rebuild (seconds on a big store) never holds up
        this process's writes; searches wait for it rather than rank with stale postings.
        """
        with self._keywords_lock:
            gen = self.generation()
            if self._keywords is not None and self._keywords.generation == gen:
                return self._keywords
            path = self.folder / KEYWORDS
            saved = KeywordIndex.load(path, gen)
            if saved is not None:
                self._keywords = saved
                return saved
            uri = (self.folder / "chatforge.db").resolve().as_uri() + "?mode=ro"  # quoted path
            with closing(sqlite3.connect(uri, uri=True, timeout=60)) as db:
                db.execute("BEGIN")  # one snapshot: the postings of exactly this generation
                row = db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
                self._keywords = KeywordIndex.build(db, int(row[0]) if row else 0)
            try:
                self._keywords.save(path)
            except OSError as e:  # a read-only bot still searches; it rebuilds next time
                log.info("cannot save the keyword index to %s: %s", path, e.strerror or e)
            return self._keywords

    def _ids_under(self, source_glob: str) -> np.ndarray:
        """Chunk ids of the documents whose path matches `source_glob`."""
        rows = self.db.execute(
            "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE d.path GLOB ?",
            (source_glob,),
        )
        return np.array([r[0] for r in rows], dtype=np.int64)

    def dense(
        self, vector: np.ndarray, k: int, source_glob: str | None = None
    ) -> list[tuple[int, float]]:
        allowed = self._ids_under(source_glob) if source_glob else None
        return self.index().search(vector, k, allowed)

    # -- the derived vector index ------------------------------------------------------

    def _index_kind(self) -> str:
        if self._index_setting != "auto":
            return self._index_setting
        return "hnsw" if self.chunk_count() > self._hnsw_threshold else "flat"

    def index(self) -> VectorIndex:
        """The FAISS index, loaded once and caught up with SQLite whenever it lags behind."""
        with self._lock:
            gen = self.generation()
            if self._index is None:
                self._index, why = VectorIndex.load(
                    self.folder, self.dim, self.model, self._index_kind()
                )
                if why != "ok" or self._index.generation != gen:
                    reason = why if why != "ok" else "behind the store"
                    level = logging.DEBUG if why == "missing" else logging.INFO
                    log.log(level, "vector index %s: catching up from SQLite", reason)
                    self._catch_up(gen)
                    self._index.save(gen)
            elif self._index.generation != gen:
                self._catch_up(gen)
            return self._index

    def save_index(self) -> None:
        """Bring the saved vector and keyword indexes up to date with SQLite (no-op when they
        already are), so the next search, in this process or another, starts at once."""
        with self._lock:
            index = self.index()
            if index.saved_generation != index.generation:
                index.save(index.generation)
        self.keyword_index()

    def rebuild_index(self) -> None:
        with self._lock:
            gen = self.generation()
            self._index = VectorIndex(self.folder, self.dim, self.model, self._index_kind())
            self._catch_up(gen)
            self._index.save(gen)

    def _catch_up(self, gen: int) -> None:
        assert self._index is not None
        index = self._index
        have = set(index.ids().tolist())
        want = {
            r[0]
            for r in self.db.execute("SELECT c.id FROM chunks c JOIN vectors v ON v.hash = c.hash")
        }
        gone = have - want
        new = sorted(want - have)
        if (gone and not index.remove(gone)) or index.revives(new):
            index = self._index = VectorIndex(self.folder, self.dim, self.model, index.kind)
            new = sorted(want)
        for i in range(0, len(new), 5000):
            part = new[i : i + 5000]
            index.add(np.array(part, dtype=np.int64), self.vectors_for(part))
        index.generation = gen

    def close(self) -> None:
        self.db.close()
