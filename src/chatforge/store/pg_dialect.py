"""The SQLite dialect that chatforge's other parts speak, run on PostgreSQL.

Conversations, memories, ingestion jobs and re-embedding keep their rows in the bot's store and
write plain SQL for SQLite (`?` parameters, `lastrowid`, `INTEGER PRIMARY KEY`...). On a
PostgreSQL bot they receive this connection instead, which rewrites the few constructs they
use, so each part keeps one set of statements and one set of numbered migrations for both
backends. It is deliberately narrow: the rewrites below are the whole dialect.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

_REWRITES = [
    (re.compile(r"\bINTEGER PRIMARY KEY\b"), "BIGSERIAL PRIMARY KEY"),
    (re.compile(r"\bBLOB\b"), "BYTEA"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\browid\b"), "id"),
    (re.compile(r"\bchar\(10\)"), "chr(10)"),
    (re.compile(r"\bLIMIT \?"), "LIMIT NULLIF(GREATEST(?::bigint, -1), -1)"),  # -1: no limit
    (re.compile(r"%"), "%%"),
    (re.compile(r"\?"), "%s"),
]
_INSERT = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)", re.IGNORECASE)
_SERIAL_TABLES = {"messages", "memories", "ingest_log", "documents", "chunks"}
"""Tables whose `id` PostgreSQL hands out: an INSERT into one returns it, as `lastrowid`."""


def translate(sql: str) -> str:
    """`sql` written for SQLite, as PostgreSQL reads it."""
    for pattern, replacement in _REWRITES:
        sql = pattern.sub(replacement, sql)
    match = _INSERT.match(sql)
    if match and match.group(1) in _SERIAL_TABLES and "RETURNING" not in sql.upper():
        sql += " RETURNING id"
    return sql


class Result:
    """What sqlite3's cursor offers the callers: rows, `rowcount` and `lastrowid`."""

    def __init__(self, cursor: Any, returning: bool) -> None:
        self.rowcount = cursor.rowcount
        self._rows = cursor.fetchall() if cursor.description is not None else []
        self.lastrowid = self._rows[-1][0] if returning and self._rows else None
        if returning:
            self._rows = []

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows.pop(0) if self._rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows, self._rows = self._rows, []
        return rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.fetchall())


class SqliteDialect:
    """SQLite-dialect calls on a PostgreSQL connection. `guard()` lends the connection: it holds
    the store's lock, reconnects after a lost connection and turns its error into one line."""

    def __init__(self, guard: Callable[[], AbstractContextManager[Any]]) -> None:
        self.guard = guard

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        with self.guard() as conn:
            return conn.info.transaction_status != TransactionStatus.IDLE

    @contextmanager
    def transaction(self) -> Iterator[SqliteDialect]:
        with self.guard() as conn, conn.transaction():
            yield self

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Result:
        query = translate(sql)
        with self.guard() as conn, conn.cursor() as cur:
            cur.execute(query, tuple(args))
            return Result(cur, query.endswith(" RETURNING id"))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Result:
        query = translate(sql).removesuffix(" RETURNING id")
        with self.guard() as conn, conn.cursor() as cur:
            cur.executemany(query, [tuple(r) for r in rows])
            return Result(cur, False)
