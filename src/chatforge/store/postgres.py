"""The PostgreSQL store: one database that many chatforge processes and hosts share.

The same contract as SQLiteStore (store.contract). PostgreSQL is the truth for everything,
the vectors included: each chunk row carries its vector, searched through a pgvector HNSW
index (iterative scans, so a source filter still returns k hits). The lexical half is
chatforge's own BM25 (store.keyword_index), built from the chunk terms kept in the database,
so both backends rank alike; each process rebuilds it when the shared `generation` moves.
A file's documents are replaced in one transaction: a killed writer leaves none half-stored.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import numpy as np
import scipy.sparse as sp

from chatforge.errors import ChatforgeError, ConfigError
from chatforge.languages import SURE, detect
from chatforge.lexical import query_terms
from chatforge.schema import Chunk, Document, Hit
from chatforge.store.chunk_terms import analyse
from chatforge.store.keyword_index import COLUMN_WEIGHTS, KeywordIndex, QueryTokenizer
from chatforge.store.pg_dialect import SqliteDialect
from chatforge.store.pg_schema import connect, migrate, migrate_part, safe_url
from chatforge.store.sqlite import StoredDocument, now

log = logging.getLogger("chatforge.store")
EF_SEARCH = 100
"""HNSW candidates per search by default (store.ef_search); bench/scale.py measures recall."""
GRAPH = (24, 100)
"""HNSW links per vector and build candidates (store.hnsw_m, hnsw_ef_construction). Denser than
pgvector's 16 and 64: at a million chunks, recall@10 at ef_search 100 rose from .855 to .970 for
a build 3.3 times as long (bench/scale.py, docs/scaling.md)."""


class PostgresStore:
    """Documents, chunks and their vectors in PostgreSQL; BM25 built from the stored terms."""

    def __init__(
        self,
        url: str,
        model: str,
        dim: Callable[[], int],
        write_guard: AbstractContextManager[Any] | None = None,
        ef_search: int = EF_SEARCH,
        graph: tuple[int, int] = GRAPH,
    ) -> None:
        self.url = url
        self.model = model
        self._dim = dim
        self._write_guard = write_guard or nullcontext()
        self.conn = connect(url)
        self._lock = threading.RLock()
        self.db = SqliteDialect(self._guard)
        self._keywords: KeywordIndex | None = None
        self._keywords_lock = threading.Lock()
        self._tokenizer = QueryTokenizer()
        self._languages: tuple[int, list[str]] | None = None
        self._bulk = False
        with self._lock:
            migrate(self.conn, url)
        self._ef_search = int(ef_search)
        self._graph = (int(graph[0]), int(graph[1]))
        self._session()

    def _session(self) -> None:
        """This connection's search settings (again after a reconnection)."""
        with self._lock:
            self.conn.execute(f"SET hnsw.ef_search = {self._ef_search}")
            self.conn.execute("SET hnsw.iterative_scan = relaxed_order")

    @property
    def dim(self) -> int:
        stored = self.meta("embed_dim")
        return int(stored) if stored else self._dim()

    # -- transactions and bookkeeping -------------------------------------------------

    @contextmanager
    def _guard(self) -> Iterator[Any]:
        """The connection, under the lock; a lost one is replaced first. Losing it during a
        call (the server restarted or went away) is one line: PostgreSQL rolled back the
        transaction, so nothing is half-written, and the next call connects again."""
        import psycopg

        with self._lock:
            if self.conn.broken:
                self.conn = connect(self.url)
                self._session()
            try:
                yield self.conn
            except psycopg.OperationalError as e:
                if not self.conn.broken:
                    raise
                reason = " ".join(str(e).split()) or type(e).__name__
                raise ChatforgeError(
                    f"lost the connection to PostgreSQL at {safe_url(self.url)} ({reason}); "
                    "nothing was half-written; check that the server runs, then try again"
                ) from None

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        """One transaction on this store's connection, rolled back on any error."""
        with self._guard() as conn, conn.transaction():
            yield conn

    @contextmanager
    def transaction(self) -> Iterator[SqliteDialect]:
        """A transaction for the other parts' SQLite-dialect statements (store.pg_dialect)."""
        with self._tx():
            yield self.db

    def migrate(self, namespace: str) -> list[str]:
        """Bring the tables of another part (conversations, memory, jobs) up to date."""
        return migrate_part(self.db, self.url, namespace)

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._guard() as conn:
            return conn.execute(sql, args).fetchall()

    def generation(self) -> int:
        return int(self.meta("generation") or 0)

    def _bump(self) -> None:
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES('generation', '1') ON CONFLICT(key) "
            "DO UPDATE SET value = (meta.value::bigint + 1)::text"
        )

    def _set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES(%s, %s) "
            "ON CONFLICT(key) DO UPDATE SET value = EXCLUDED.value",
            (key, value),
        )

    def meta(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key = %s", (key,))
        return rows[0][0] if rows else None

    def check_model(self) -> None:
        """Refuse to mix vectors of two embedding models in one bot."""
        stored = self.meta("embed_model")
        if stored is None or self.chunk_count() == 0 or stored == self.model:
            return
        raise ConfigError(
            f"this bot's vectors were made with {stored}, but embed.model is {self.model}; "
            f"run `chatforge reindex --reembed` to re-embed everything, "
            f"or set embed.model back to {stored}"
        )

    def chunk_count(self) -> int:
        return int(self._rows("SELECT count(*) FROM chunks")[0][0])

    # -- writes ----------------------------------------------------------------------

    def file_versions(self) -> dict[str, tuple[str, str]]:
        return {p: (h, c) for p, h, c in self._rows("SELECT path, hash, chunking FROM files")}

    def missing_vectors(self, hashes: Iterable[str]) -> set[str]:
        wanted = set(hashes)
        rows = self._rows("SELECT hash FROM vectors WHERE hash = ANY(%s)", (list(wanted),))
        return wanted - {r[0] for r in rows}

    def replace_file(
        self,
        path: str,
        file_hash: str,
        size: int,
        documents: Sequence[tuple[Document, Sequence[Chunk], Sequence[str]]],
        vectors: dict[str, np.ndarray],
        chunking: str = "",
    ) -> int:
        """Swap in a file's new documents, chunks and vectors in one transaction."""
        analysed = [analyse([(c.context, c.text) for c in chunks]) for _, chunks, _ in documents]
        n = 0
        with self._write_guard, self._tx() as db:
            db.execute("DELETE FROM files WHERE path = %s", (path,))
            db.execute(
                "INSERT INTO files(path, hash, size, ingested_at, chunking) "
                "VALUES(%s, %s, %s, %s, %s)",
                (path, file_hash, size, now(), chunking),
            )
            self._put_vectors(vectors)
            cached = self._cached({h for _, _, hs in documents for h in hs} - set(vectors))
            vec = {**cached, **{h: np.asarray(v, dtype=np.float32) for h, v in vectors.items()}}
            for (doc, chunks, hashes), terms in zip(documents, analysed, strict=True):
                doc_id = db.execute(
                    "INSERT INTO documents(path, part, title, text, meta) "
                    "VALUES(%s, %s, %s, %s, %s) RETURNING id",
                    (path, doc.part, doc.title, doc.text, json.dumps(doc.meta, default=str)),
                ).fetchone()[0]
                rows = [
                    (doc_id, o, c.start, c.end, c.section, c.context, c.text, h, lang, ct, tt)
                    + (vec.get(h),)
                    for o, (c, h, (lang, ct, tt)) in enumerate(
                        zip(chunks, hashes, terms, strict=True)
                    )
                ]
                with db.cursor() as cur:
                    cur.executemany(
                        'INSERT INTO chunks(doc_id, ord, start, "end", section, context, text, '
                        "hash, lang, context_terms, text_terms, vec) "
                        "VALUES(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                        rows,
                    )
                n += len(rows)
            self._record_model(self.model, vectors)
            self._bump()
        return n

    def _put_vectors(self, vectors: dict[str, np.ndarray]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO vectors(hash, vec) VALUES(%s, %s) ON CONFLICT(hash) DO NOTHING",
                [(h, np.asarray(v, dtype=np.float32)) for h, v in vectors.items()],
            )

    def _cached(self, hashes: set[str]) -> dict[str, np.ndarray]:
        if not hashes:
            return {}
        rows = self.conn.execute(
            "SELECT hash, vec FROM vectors WHERE hash = ANY(%s)", (list(hashes),)
        )
        return {h: np.asarray(v.to_numpy(), dtype=np.float32) for h, v in rows}

    def _record_model(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        self._set_meta("embed_model", model)
        if vectors and self.meta("embed_dim") is None:
            dim = len(next(iter(vectors.values())))
            self._set_meta("embed_dim", str(dim))
            self._create_index(dim)

    @contextmanager
    def bulk_load(self) -> Iterator[None]:
        """Write many files without the HNSW index, then build it once: a graph built from all
        vectors at once takes a fraction of the time of inserting them one by one. Searches
        meanwhile scan every vector, so this is for loads before the bot is in use."""
        with self._guard() as conn:
            self._bulk = True
            conn.execute("DROP INDEX IF EXISTS chunks_hnsw")
        try:
            yield
        finally:
            self._bulk = False
            self.rebuild_index()

    def _create_index(self, dim: int) -> None:
        """The HNSW index over chunk vectors of `dim` (inner product: vectors are unit)."""
        if self._bulk:
            return
        m, ef_construction = self._graph
        self.conn.execute(
            "CREATE INDEX IF NOT EXISTS chunks_hnsw ON chunks "
            f"USING hnsw ((vec::vector({int(dim)})) vector_ip_ops) "
            f"WITH (m = {m}, ef_construction = {ef_construction})"
        )

    def remove_file(self, path: str) -> bool:
        with self._write_guard, self._tx() as db:
            found = db.execute("DELETE FROM files WHERE path = %s", (path,)).rowcount > 0
            if found:
                self._bump()
        return found

    def collect_garbage(self) -> int:
        with self._write_guard, self._tx() as db:
            return db.execute(
                "DELETE FROM vectors v WHERE NOT EXISTS "
                "(SELECT 1 FROM chunks c WHERE c.hash = v.hash)"
            ).rowcount

    def log(self, path: str, status: str, reason: str = "") -> None:
        with self._guard() as conn:
            conn.execute(
                "INSERT INTO ingest_log(at, path, status, reason) VALUES(%s, %s, %s, %s)",
                (now(), path, status, reason),
            )

    def reset_vectors(self, model: str, dim: int) -> None:
        """Forget every vector, for re-embedding the bot with another model."""
        with self._tx() as db:
            db.execute("DROP INDEX IF EXISTS chunks_hnsw")
            db.execute("DELETE FROM vectors")
            db.execute("UPDATE chunks SET vec = NULL")
            db.execute("DELETE FROM meta WHERE key = 'embed_dim'")
            self._record_model(model, {})
            self._bump()
        self.model, self._dim = model, (lambda: dim)

    def chunks_to_embed(self) -> list[tuple[str, str]]:
        return [
            (h, t)
            for h, t in self._rows(
                "SELECT DISTINCT c.hash, c.context || chr(10) || c.text FROM chunks c "
                "WHERE NOT EXISTS (SELECT 1 FROM vectors v WHERE v.hash = c.hash)"
            )
        ]

    def add_vectors(self, vectors: dict[str, np.ndarray]) -> None:
        with self._tx() as db:
            self._put_vectors(vectors)
            db.execute(
                "UPDATE chunks c SET vec = v.vec FROM vectors v "
                "WHERE c.vec IS NULL AND v.hash = c.hash"
            )
            self._record_model(self.model, vectors)
            self._bump()

    # -- reads -----------------------------------------------------------------------

    def documents(self, source_glob: str | None = None) -> list[StoredDocument]:
        rows = self._rows(
            "SELECT d.id, d.path, d.part, d.title, f.hash, "
            "(SELECT count(*) FROM chunks c WHERE c.doc_id = d.id), f.ingested_at "
            "FROM documents d JOIN files f ON f.path = d.path ORDER BY d.path, d.id"
        )
        docs = [StoredDocument(*r) for r in rows]
        if source_glob:
            docs = [d for d in docs if fnmatch.fnmatchcase(d.path, source_glob)]
        return docs

    def hits(self, scored: Sequence[tuple[int, float]]) -> list[Hit]:
        if not scored:
            return []
        rows = self._rows(
            'SELECT c.id, c.text, d.path, d.title, c.section, c.start, c."end", d.id, d.part '
            "FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE c.id = ANY(%s)",
            ([i for i, _ in scored],),
        )
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
        rows = dict(self._rows("SELECT id, vec FROM chunks WHERE id = ANY(%s)", (list(chunk_ids),)))
        return np.stack([np.asarray(rows[i].to_numpy(), dtype=np.float32) for i in chunk_ids])

    def _paths_under(self, source_glob: str) -> list[str]:
        """Stored file paths matching `source_glob` (GLOB rules, as the SQLite store)."""
        paths = self.file_versions()
        return [p for p in paths if fnmatch.fnmatchcase(p, source_glob)]

    def dense(
        self, vector: np.ndarray, k: int, source_glob: str | None = None
    ) -> list[tuple[int, float]]:
        """The k chunks nearest `vector` by inner product, through the HNSW index."""
        stored = self.meta("embed_dim")
        if stored is None or k <= 0:
            return []
        dim, q = int(stored), np.asarray(vector, dtype=np.float32)
        where, args = "", []
        if source_glob:
            where = "WHERE doc_id IN (SELECT id FROM documents WHERE path = ANY(%s))"
            args.append(self._paths_under(source_glob))
        rows = self._rows(
            f"SELECT id, vec::vector({dim}) <#> %s FROM chunks {where} "
            f"ORDER BY vec::vector({dim}) <#> %s LIMIT {int(k)}",
            [q, *args, q],
        )
        return [(int(i), -float(s)) for i, s in rows if s is not None]

    def lexical(
        self, query: str, k: int, source_glob: str | None = None
    ) -> list[tuple[int, float]]:
        """BM25 over chunk text and heading context, analysed as the SQLite store does."""
        lang, prob = detect(query)
        langs = [lang] if prob >= SURE else [lang, *self.languages()]
        terms = self._tokenizer.terms(query_terms(query, langs))
        if not terms:
            return []
        allowed = None
        if source_glob:
            rows = self._rows(
                "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc_id "
                "WHERE d.path = ANY(%s)",
                (self._paths_under(source_glob),),
            )
            allowed = np.array([r[0] for r in rows], dtype=np.int64)
        return self.keyword_index().search(terms, k, allowed)

    def languages(self) -> list[str]:
        gen = self.generation()
        if self._languages is None or self._languages[0] != gen:
            rows = self._rows(
                "SELECT lang FROM chunks WHERE lang != '' GROUP BY lang ORDER BY count(*) DESC"
            )
            self._languages = (gen, [r[0] for r in rows])
        return self._languages[1]

    def keyword_index(self) -> KeywordIndex:
        """The BM25 index of the current generation, rebuilt from the stored terms."""
        with self._keywords_lock:
            gen = self.generation()
            if self._keywords is None or self._keywords.generation != gen:
                self._keywords = self._build_keywords()
            return self._keywords

    def _build_keywords(self) -> KeywordIndex:
        """Read every chunk's terms in one snapshot: the postings of exactly one generation.

        Streamed in batches, each turned into numpy arrays at once, so a million chunks cost
        their postings' arrays, not a Python object per term."""
        vocabulary: dict[str, int] = {}
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        rows = top = 0
        with self._tx() as db:
            db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            row = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
            gen = int(row[0]) if row else 0
            with db.cursor(name="chunk_terms") as cur:
                cur.execute("SELECT id, context_terms, text_terms FROM chunks")
                while batch := cur.fetchmany(20_000):
                    parts += _postings(batch, vocabulary)
                    rows += len(batch)
                    top = max(top, max(r[0] for r in batch))
        chunk, term, weight = (
            np.concatenate([p[i] for p in parts]) if parts else np.zeros(0, dtype=t)
            for i, t in enumerate(("i8", "i8", "f4"))
        )
        counts = sp.coo_matrix((weight, (chunk, term)), shape=(top + 1, len(vocabulary))).tocsc()
        lengths = np.bincount(chunk, minlength=top + 1).astype(np.float32)
        return KeywordIndex(gen, list(vocabulary), counts, lengths, rows)

    # -- the vector index is part of the database -----------------------------------------

    def save_index(self) -> None:
        """Nothing to save: the HNSW index is kept by PostgreSQL; warm the BM25 index."""
        self.keyword_index()

    def rebuild_index(self) -> None:
        """Build the HNSW index again from every chunk vector (faster than row by row)."""
        stored = self.meta("embed_dim")
        with self._guard() as conn:
            conn.execute("SET maintenance_work_mem = '2GB'")
            conn.execute("DROP INDEX IF EXISTS chunks_hnsw")
            if stored:
                self._create_index(int(stored))

    def close(self) -> None:
        self.conn.close()


def _postings(
    batch: list[tuple[int, str, str]], vocabulary: dict[str, int]
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(chunk ids, term ids, column weights) of each term occurrence, per column of `batch`."""
    ids = np.array([r[0] for r in batch], dtype=np.int64)
    out = []
    for column in (1, 2):
        words = [r[column].split() for r in batch]
        term = np.fromiter(
            (vocabulary.setdefault(w, len(vocabulary)) for ws in words for w in ws), np.int64
        )
        chunk = np.repeat(ids, [len(ws) for ws in words])
        out.append((chunk, term, np.full(len(term), COLUMN_WEIGHTS[column - 1], np.float32)))
    return out
