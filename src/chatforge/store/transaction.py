"""One write transaction on a SQLite connection shared between threads."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager


@contextmanager
def immediate(
    db: sqlite3.Connection, lock: AbstractContextManager[object]
) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT under `lock`, rolled back on any error.

    IMMEDIATE takes SQLite's write lock at the start, so two writers wait for each other at
    BEGIN (up to the connection's timeout) instead of failing at their first write; a process
    killed mid-transaction leaves nothing of it.
    """
    with lock:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
