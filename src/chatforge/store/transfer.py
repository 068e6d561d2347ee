"""Copy a bot's SQLite store into PostgreSQL: no re-embedding, resumable, then verified.

Files are copied one transaction each (PostgresStore.replace_file) with the vectors already
stored, so an interrupted copy keeps every file it finished and the next run copies only the
files whose version differs; files gone from the source are removed. Conversations, messages
and memories keep their ids. Verification compares row counts and the top hits of sample
searches (each half, dense and lexical) on both stores: a copy that does not match is reported,
and the bot keeps its SQLite store.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from chatforge.schema import Chunk, Document
from chatforge.store.postgres import PostgresStore
from chatforge.store.sqlite import SQLiteStore

log = logging.getLogger("chatforge.store")
SAMPLES = 20
TABLES = ("conversations", "messages", "memories")
"""Rows of the other parts that are copied with their ids (in this order: references)."""


@dataclass
class TransferReport:
    copied: int = 0
    unchanged: int = 0
    removed: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    counts: dict[str, list[int]] = field(default_factory=dict)
    samples: int = 0
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def transfer(source: SQLiteStore, target: PostgresStore) -> TransferReport:
    """Copy `source` into `target`, then verify; the report says what matched. The parts
    whose rows are copied (chat.conversations, chat.memory) must be imported first."""
    report = TransferReport()
    for part in ("conversations", "memory"):
        source.migrate(part)
        target.migrate(part)
    if target.chunk_count() == 0:  # a first copy: build the vector index once, at the end
        with target.bulk_load():
            _copy_files(source, target, report)
    else:
        _copy_files(source, target, report)
    for table in TABLES:
        report.rows[table] = _copy_rows(source, target, table)
    verify(source, target, report)
    return report


def _copy_files(source: SQLiteStore, target: PostgresStore, report: TransferReport) -> None:
    have = target.file_versions()
    want = source.file_versions()
    for path in sorted(set(have) - set(want)):
        target.remove_file(path)
        report.removed += 1
    todo = [p for p in sorted(want) if have.get(p) != want[p]]
    report.unchanged = len(want) - len(todo)
    for n, path in enumerate(todo, 1):
        file_hash, chunking = want[path]
        size = source.db.execute("SELECT size FROM files WHERE path = ?", (path,)).fetchone()[0]
        documents, vectors = _file(source, path)
        target.replace_file(path, file_hash, size, documents, vectors, chunking)
        report.copied += 1
        if n % 100 == 0 or n == len(todo):
            log.info("copied %d of %d files", n, len(todo))


def _file(source: SQLiteStore, path: str) -> tuple[list[Any], dict[str, np.ndarray]]:
    """One stored file's documents with their chunks, hashes and vectors."""
    documents = []
    hashes: list[str] = []
    for doc_id, part, title, text, meta in source.db.execute(
        "SELECT id, part, title, text, meta FROM documents WHERE path = ? ORDER BY id", (path,)
    ).fetchall():
        rows = source.db.execute(
            'SELECT text, start, "end", section, context, hash FROM chunks WHERE doc_id = ? '
            "ORDER BY ord",
            (doc_id,),
        ).fetchall()
        doc = Document(path, text, title, [], part, json.loads(meta))
        documents.append((doc, [Chunk(*r[:5]) for r in rows], [r[5] for r in rows]))
        hashes += [r[5] for r in rows]
    vectors = {}
    for i in range(0, len(hashes), 500):
        part = hashes[i : i + 500]
        q = f"SELECT hash, vec FROM vectors WHERE hash IN ({','.join('?' * len(part))})"
        vectors.update(
            {h: np.frombuffer(v, dtype=np.float32) for h, v in source.db.execute(q, part)}
        )
    return documents, vectors


def _copy_rows(source: SQLiteStore, target: PostgresStore, table: str) -> int:
    """Copy the rows `target` lacks, ids kept; returns how many were copied."""
    columns = [r[1] for r in source.db.execute(f"PRAGMA table_info({table})")]
    rows = source.db.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY rowid").fetchall()
    if not rows:
        return 0
    later = "superseded_by" if "superseded_by" in columns else None  # points at a newer row
    at = columns.index(later) if later else -1
    inserted = [tuple(None if i == at else v for i, v in enumerate(r)) for r in rows]
    marks = ", ".join(["?"] * len(columns))
    with target.transaction() as db:
        before = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        db.executemany(
            f"INSERT INTO {table}({', '.join(columns)}) VALUES({marks}) ON CONFLICT DO NOTHING",
            inserted,
        )
        if later:
            db.executemany(
                f"UPDATE {table} SET {later} = ? WHERE id = ?",
                [(r[at], r[0]) for r in rows if r[at] is not None],
            )
        if "id" in columns and isinstance(rows[0][0], int):
            db.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        after = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return int(after - before)


def verify(source: SQLiteStore, target: PostgresStore, report: TransferReport) -> None:
    """Compare counts, then the top five of each half for sample chunks' own vector and words."""
    for table in ("files", "documents", "chunks", *TABLES):
        pair = [
            int(s.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            for s in (source, target)
        ]
        report.counts[table] = pair
        if pair[0] != pair[1]:
            report.mismatches.append(f"{table}: {pair[0]} in SQLite, {pair[1]} in PostgreSQL")
    total = source.chunk_count()
    if not total:
        return
    step = max(1, total // SAMPLES)
    rows = source.db.execute(
        "SELECT c.id, c.text FROM chunks c JOIN vectors v ON v.hash = c.hash "
        "WHERE c.id % ? = 0 LIMIT ?",
        (step, SAMPLES),
    ).fetchall()
    for cid, text in rows:
        vector = source.vectors_for([cid])[0]
        words = " ".join(text.split()[:8])
        for half, run in (
            ("dense", lambda s, v=vector: s.dense(v, 5)),
            ("lexical", lambda s, w=words: s.lexical(w, 5)),
        ):
            tops = [[(h.source, h.text) for h in s.hits(run(s))] for s in (source, target)]
            if not _alike(*tops):
                report.mismatches.append(f"{half} search for chunk {cid}: top hits differ")
        report.samples += 1


def _alike(one: list[tuple[str, str]], other: list[tuple[str, str]]) -> bool:
    """Same best hit and at least four of five in common: an approximate index (HNSW) or
    equal scores may order the tail differently."""
    return bool(one) and one[:1] == other[:1] and len(set(one) & set(other)) >= len(one) - 1
