"""Limits shared by every server process of a bot, kept in the bot's SQLite file.

Three counters, each a small table, so `--workers N` processes see one budget, not N:

- sign-in failures per client address: after `FREE_TRIES` wrong keys the client waits 1 s
  before its next try, twice as long after each further wrong key, up to a cap; a right key
  clears the count, and a count left alone for `FORGET_S` is dropped;
- requests per API key: a token bucket holding a minute's worth, refilled continuously;
- answers waiting or being written per user: one row per answer, with the process that runs
  it (its pid and start time, as a restarted container reuses pids), so the rows of a process
  that died are not counted.

Each call is one short `BEGIN IMMEDIATE` transaction on the limiter's own connection. Calls
block while another connection writes (an ingest's commit), so async callers run them in a
thread.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from chatforge.store.migrations import execute_all, migrate, migration
from chatforge.store.side import SideConnection, file_of

FREE_TRIES = 3
"""Wrong keys a client may send before it has to wait."""
FORGET_S = 3600.0
"""A client's failures are forgotten after this long without a new one."""
STALE_ANSWER_S = 3600.0
"""An answer row older than this is not counted, even if its process still runs."""


@migration("ratelimit")
def m001_limit_tables(db: sqlite3.Connection) -> None:
    """The limiter's tables: sign-in failures, request buckets, answers in progress."""
    execute_all(
        db,
        "CREATE TABLE IF NOT EXISTS limit_signin(client TEXT PRIMARY KEY, "
        "failures INTEGER NOT NULL, last_failed REAL NOT NULL)",
        "CREATE TABLE IF NOT EXISTS limit_rate(bucket TEXT PRIMARY KEY, "
        "tokens REAL NOT NULL, updated REAL NOT NULL)",
        "CREATE TABLE IF NOT EXISTS limit_answers(slot TEXT PRIMARY KEY, user TEXT NOT NULL, "
        "pid INTEGER NOT NULL, pid_started INTEGER, started REAL NOT NULL)",
        "CREATE INDEX IF NOT EXISTS limit_answers_user ON limit_answers(user)",
    )


class Limiter:
    """Sign-in backoff, per-key request rate and per-user answer count for one bot folder.

    `rate_per_minute` 0 means no request limit; `backoff_max_s` 0 means no sign-in wait.
    `clock` is wall time (shared by processes); tests may pass another.
    """

    def __init__(
        self,
        db_path: Path,
        *,
        rate_per_minute: int = 0,
        backoff_max_s: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rate_per_minute = rate_per_minute
        self.backoff_max_s = backoff_max_s
        self.clock = clock
        self._side = SideConnection(Path(db_path))
        self._lock = self._side.lock
        self.db = self._side.db
        migrate(self.db, "ratelimit")

    @classmethod
    def for_store(
        cls, db: sqlite3.Connection, rate_per_minute: int = 0, backoff_max_s: float = 0.0
    ) -> Limiter:
        """A limiter on the same SQLite file as the connection `db` (the bot's store)."""
        return cls(file_of(db), rate_per_minute=rate_per_minute, backoff_max_s=backoff_max_s)

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._side.write()

    # -- sign-in backoff -------------------------------------------------------------------

    def _wait_after(self, failures: int) -> float:
        if failures < FREE_TRIES or self.backoff_max_s <= 0:
            return 0.0
        return min(self.backoff_max_s, 2.0 ** (failures - FREE_TRIES))

    def signin_wait(self, client: str) -> float:
        """Seconds `client` must still wait before its next sign-in try (0: it may try now)."""
        with self._lock:
            row = self.db.execute(
                "SELECT failures, last_failed FROM limit_signin WHERE client = ?", (client,)
            ).fetchone()
        if row is None:
            return 0.0
        failures, last = row
        return max(0.0, last + self._wait_after(failures) - self.clock())

    def signin_failed(self, client: str) -> None:
        """Count a wrong key from `client`."""
        now = self.clock()
        with self._write():
            self.db.execute("DELETE FROM limit_signin WHERE last_failed < ?", (now - FORGET_S,))
            self.db.execute(
                "INSERT INTO limit_signin(client, failures, last_failed) VALUES(?, 1, ?) "
                "ON CONFLICT(client) DO UPDATE SET failures = failures + 1, last_failed = ?",
                (client, now, now),
            )

    def signin_ok(self, client: str) -> None:
        """A right key from `client`: its earlier failures no longer count."""
        with self._lock:
            known = self.db.execute(
                "SELECT 1 FROM limit_signin WHERE client = ?", (client,)
            ).fetchone()
        if known:  # most requests have nothing to clear: no write for them
            with self._write():
                self.db.execute("DELETE FROM limit_signin WHERE client = ?", (client,))

    # -- request rate ----------------------------------------------------------------------

    def request_wait(self, bucket: str) -> float:
        """Take one request from `bucket`'s allowance: 0 if there was one, else the seconds
        until there is (nothing is taken then)."""
        rate = self.rate_per_minute
        if rate <= 0:
            return 0.0
        now = self.clock()
        with self._write():
            row = self.db.execute(
                "SELECT tokens, updated FROM limit_rate WHERE bucket = ?", (bucket,)
            ).fetchone()
            tokens = float(rate) if row is None else row[0] + (now - row[1]) * rate / 60
            tokens = min(float(rate), tokens)
            wait = 0.0 if tokens >= 1 else (1 - tokens) * 60 / rate
            self.db.execute(
                "INSERT OR REPLACE INTO limit_rate(bucket, tokens, updated) VALUES(?, ?, ?)",
                (bucket, tokens - 1 if wait == 0 else tokens, now),
            )
        return wait

    # -- answers per user ------------------------------------------------------------------

    def answer_started(self, user: str, cap: int) -> str | None:
        """A slot for one more answer of `user`, or None when `cap` answers are in progress.

        Hand the slot to `answer_ended` when the answer is over, however it ends.
        """
        now = self.clock()
        with self._write():
            rows = self.db.execute(
                "SELECT slot, pid, pid_started, started FROM limit_answers WHERE user = ?",
                (user,),
            ).fetchall()
            stale = [
                slot
                for slot, pid, pid_started, at in rows
                if at < now - STALE_ANSWER_S or not _alive(pid, pid_started)
            ]
            self.db.executemany("DELETE FROM limit_answers WHERE slot = ?", [(s,) for s in stale])
            if len(rows) - len(stale) >= cap:
                return None
            slot = uuid.uuid4().hex
            self.db.execute(
                "INSERT INTO limit_answers(slot, user, pid, pid_started, started) "
                "VALUES(?, ?, ?, ?, ?)",
                (slot, user, os.getpid(), _started(os.getpid()), now),
            )
        return slot

    def answer_ended(self, slot: str) -> None:
        with self._write():
            self.db.execute("DELETE FROM limit_answers WHERE slot = ?", (slot,))

    def answers_in_progress(self, user: str) -> int:
        with self._lock:
            return self.db.execute(
                "SELECT count(*) FROM limit_answers WHERE user = ?", (user,)
            ).fetchone()[0]

    def close(self) -> None:
        self._side.close()


def _started(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot, Linux), or None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def _alive(pid: int, pid_started: int | None) -> bool:
    """Whether the process that wrote a row still runs (not another one under its pid)."""
    if pid_started is not None and Path("/proc/self/stat").exists():
        return _started(pid) == pid_started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True
