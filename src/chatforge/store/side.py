"""A second connection to a bot's SQLite file, for small bookkeeping writes.

The answering store serialises its own statements behind one lock and one connection; job
states and rate-limit counters are written from other threads (an ingest's progress, a
heartbeat, every request) and must not queue behind it. Each write here is one short
`BEGIN IMMEDIATE` transaction on this connection, which waits only for SQLite's write lock.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import AbstractContextManager
from pathlib import Path

from chatforge.store.transaction import immediate


class SideConnection:
    """One connection to `path` (WAL mode), its lock, and short write transactions."""

    def __init__(self, path: Path) -> None:
        self.lock = threading.Lock()
        self.db = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")

    def write(self) -> AbstractContextManager[sqlite3.Connection]:
        """A short write transaction on this connection (see `transaction.immediate`)."""
        return immediate(self.db, self.lock)

    def read(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with self.lock:
            return self.db.execute(sql, args).fetchall()

    def close(self) -> None:
        with self.lock:
            self.db.close()


def file_of(db: sqlite3.Connection) -> Path:
    """The file the connection `db` has open (the bot's store)."""
    return Path(next(row[2] for row in db.execute("PRAGMA database_list") if row[1] == "main"))
