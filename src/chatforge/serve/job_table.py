"""Ingestion jobs kept in the bot's store, so every server process answers every job's poll.

With `serve --workers N`, or several hosts on one PostgreSQL, an upload is ingested by the
process that took it while a poll may reach any other: the job's state therefore lives in a
`jobs` table of the store (the SQLite file, or the PostgreSQL database), one JSON row per job.

A process records itself as the job's owner (host, pid) and beats a heartbeat while it runs
jobs. A queued or running job whose owner is gone (its pid is dead on this host, or its
heartbeat stopped elsewhere) reads as failed: each file is stored whole or not at all, so
uploading the same files again resumes, skipping the ones already stored.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from contextlib import AbstractContextManager
from typing import Any

from chatforge.store.migrations import migration
from chatforge.store.side import SideConnection, file_of

STALE_S = 60.0
"""A job of another host whose heartbeat is older than this is reported as failed."""
BEAT_S = 5.0
KEEP_JOBS = 500
HOST = socket.gethostname()
STOPPED = (
    "the server process running this job stopped ({why}); documents are stored whole or not "
    "at all, so upload the same files again to resume (those already stored are skipped)"
)


@migration("jobs")
def m001_jobs(db: sqlite3.Connection) -> None:
    """One row per ingestion job: its state as JSON."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS jobs(id TEXT PRIMARY KEY, created REAL NOT NULL, "
        "state TEXT NOT NULL)"
    )


class JobTable:
    """Reads and writes job rows in `store` (a SQLiteStore or a PostgresStore).

    On SQLite the rows go through a side connection: an ingest reports its progress from its
    own thread, and a poll must answer while the answering store is busy."""

    def __init__(self, store: Any) -> None:
        self.store = store
        store.migrate("jobs")
        self._side = (
            SideConnection(file_of(store.db)) if isinstance(store.db, sqlite3.Connection) else None
        )

    def _write(self) -> AbstractContextManager[Any]:
        return self.store.transaction() if self._side is None else self._side.write()

    def _read(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        if self._side is None:
            return self.store.db.execute(sql, args).fetchall()
        return self._side.read(sql, args)

    def save(self, job_id: str, created: float, state: dict[str, Any]) -> None:
        """Insert or update one job, stamped with this process as its owner."""
        state = {**state, "owner": [HOST, os.getpid()], "beat": time.time()}
        with self._write() as db:
            db.execute(
                "INSERT INTO jobs(id, created, state) VALUES(?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET state = excluded.state",
                (job_id, created, json.dumps(state)),
            )

    def prune(self, keep: int = KEEP_JOBS) -> None:
        """Forget all but the newest `keep` jobs."""
        with self._write() as db:
            db.execute(
                "DELETE FROM jobs WHERE id NOT IN "
                "(SELECT id FROM jobs ORDER BY created DESC LIMIT ?)",
                (keep,),
            )

    def load(self, job_id: str, check: bool = True) -> dict[str, Any] | None:
        """A job's state; an unfinished job whose owner is gone reads as failed."""
        rows = self._read("SELECT state FROM jobs WHERE id = ?", (job_id,))
        if not rows:
            return None
        state = json.loads(rows[0][0])
        if check and state["status"] in ("queued", "running"):
            why = _gone(state)
            if why:
                state.update(status="failed", message=STOPPED.format(why=why))
        return state


def _gone(state: dict[str, Any]) -> str | None:
    """Why the owner of an unfinished job can no longer finish it, or None if it may."""
    host, pid = state["owner"]
    if host == HOST:
        if pid == os.getpid():
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return f"process {pid} is gone"
        except PermissionError:
            pass
        return None
    if time.time() - state["beat"] > STALE_S:
        return f"no heartbeat from {host} for {int(time.time() - state['beat'])} s"
    return None
