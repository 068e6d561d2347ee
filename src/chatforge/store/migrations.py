"""Schema migrations: each part of the bot's SQLite file changes its tables by numbered steps.

A part (the store, conversations, memory, the server's rate limits...) registers its own ordered
migrations under a namespace with the `migration` decorator, and calls `migrate` when it opens
the database. Each migration runs in a transaction of its own, together with the row in
`_migrations` that records it by name, so a bot opened by newer code gets exactly the changes it
lacks, and a migration that fails leaves the file as it was. The first migration of a namespace
creates its tables only where they are missing, so a bot made before migrations existed is
recognised and keeps its rows.

Migrations run statement by statement (`execute_all`), never with `executescript`, which would
commit the migration's transaction halfway.
"""

from __future__ import annotations

import shlex
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from chatforge.errors import ChatforgeError

Migration = Callable[[sqlite3.Connection], None]

REGISTRY: dict[str, list[Migration]] = {}
"""namespace -> its migrations, in the order they apply; a migration is known by its name."""


class MigrationError(ChatforgeError):
    """A migration that could not be applied; the database is left as it was."""


@dataclass(frozen=True)
class Applied:
    """One migration a database has received, and when (UTC, ISO 8601)."""

    namespace: str
    name: str
    applied_at: str


def migration(namespace: str) -> Callable[[Migration], Migration]:
    """Register the decorated function as the next migration of `namespace`.

    Its name is what the database records, so a released migration is never renamed or
    reordered; a later change is a new function below the others.
    """

    def register(fn: Migration) -> Migration:
        known = REGISTRY.setdefault(namespace, [])
        if any(m.__name__ == fn.__name__ for m in known):
            raise ValueError(f"migration {namespace}/{fn.__name__} is registered twice")
        known.append(fn)
        return fn

    return register


def execute_all(db: sqlite3.Connection, *statements: str) -> None:
    """Run SQL statements one by one inside the migration's transaction."""
    for statement in statements:
        db.execute(statement)


def migrate(db: sqlite3.Connection, namespace: str) -> list[str]:
    """Apply the migrations of `namespace` that the database has not recorded; return their names.

    Safe when several processes open the bot at once: each migration is checked again once its
    transaction holds the write lock, so it is applied once. Opening an up-to-date database
    writes nothing.
    """
    return [fn.__name__ for fn in _pending(db, namespace) if _apply(db, namespace, fn)]


def applied_migrations(db: sqlite3.Connection) -> list[Applied]:
    """Every migration the database has recorded, in the order they were applied."""
    if not _has_table(db):
        return []
    rows = db.execute(
        "SELECT namespace, name, applied_at FROM _migrations ORDER BY rowid"
    ).fetchall()
    return [Applied(*r) for r in rows]


def _has_table(db: sqlite3.Connection) -> bool:
    row = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'"
    ).fetchone()
    return row is not None


def _recorded(db: sqlite3.Connection, namespace: str) -> set[str]:
    if not _has_table(db):
        return set()
    rows = db.execute("SELECT name FROM _migrations WHERE namespace = ?", (namespace,))
    return {r[0] for r in rows}


def _pending(db: sqlite3.Connection, namespace: str) -> list[Migration]:
    if namespace not in REGISTRY:
        raise ValueError(f"no migrations are registered under {namespace!r}")
    done = _recorded(db, namespace)
    return [fn for fn in REGISTRY[namespace] if fn.__name__ not in done]


def _apply(db: sqlite3.Connection, namespace: str, fn: Migration) -> bool:
    """Run one migration and record it in one transaction; False if another process did.

    Opened inside a caller's transaction, it becomes a savepoint of that transaction.
    """
    outer = db.in_transaction
    try:
        db.execute("SAVEPOINT migration" if outer else "BEGIN IMMEDIATE")
        applied = fn.__name__ not in _recorded(db, namespace)
        if applied:
            db.execute(
                "CREATE TABLE IF NOT EXISTS _migrations(namespace TEXT NOT NULL, "
                "name TEXT NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY(namespace, name))"
            )
            fn(db)
            db.execute(
                "INSERT INTO _migrations(namespace, name, applied_at) "
                "VALUES(?, ?, strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now'))",
                (namespace, fn.__name__),
            )
        db.execute("RELEASE migration" if outer else "COMMIT")
    except BaseException as e:
        if outer:
            db.execute("ROLLBACK TO migration")
            db.execute("RELEASE migration")
        elif db.in_transaction:
            db.execute("ROLLBACK")
        if not isinstance(e, Exception):
            raise
        path = shlex.quote(_path(db))
        reason = " ".join(str(e).split()) or type(e).__name__
        raise MigrationError(
            f"cannot upgrade the database {path}: migration {namespace}/{fn.__name__} failed "
            f"({reason}); the file is left as it was; check it with "
            f"`sqlite3 {path} 'PRAGMA integrity_check'` or restore a backup"
        ) from e
    return applied


def _path(db: sqlite3.Connection) -> str:
    row = db.execute("PRAGMA database_list").fetchone()
    return row[2] if row and row[2] else ":memory:"
