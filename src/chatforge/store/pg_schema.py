"""PostgreSQL: connecting with errors a user can act on, and the schema's numbered migrations.

Like the SQLite migrations (store.migrations), each step runs in a transaction of its own with
the `_migrations` row that records it, under an advisory lock, so two processes opening one
database at once apply each step once. A database that records a step this code does not know
was upgraded by a newer chatforge: it is refused rather than written with an older schema.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from chatforge.errors import ConfigError

Migration = Callable[[Any], None]
MIGRATIONS: list[Migration] = []
LOCK_KEY = 7_104_211  # the advisory lock that serialises migrations of one database


def pg_migration(fn: Migration) -> Migration:
    """Register `fn` as the next step; a released step is never renamed or reordered."""
    MIGRATIONS.append(fn)
    return fn


def safe_url(url: str) -> str:
    """`url` without its password, for messages."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


def connect(url: str) -> Any:
    """An autocommit connection with pgvector's types, or one line naming what to fix."""
    try:
        import psycopg
    except ImportError:
        raise ConfigError(
            "store.backend postgres needs the PostgreSQL client: pip install 'chatforge[postgres]'"
        ) from None

    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as e:
        reason = " ".join(str(e).split()) or type(e).__name__
        raise ConfigError(
            f"cannot connect to PostgreSQL at {safe_url(url)} ({reason}); "
            "check store.url (postgresql://USER:PASSWORD@HOST:PORT/DATABASE) and that the "
            "server is running"
        ) from None
    except psycopg.ProgrammingError as e:  # a URL psycopg cannot parse
        raise ConfigError(
            f"store.url {safe_url(url)!r} is not a PostgreSQL URL ({e}); "
            "write it as postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
        ) from None
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except psycopg.Error as e:
        conn.close()
        reason = " ".join(str(e).split()).split(" HINT")[0]
        raise ConfigError(
            f"the database at {safe_url(url)} lacks the pgvector extension ({reason}); "
            "install pgvector on the server (e.g. apt install postgresql-NN-pgvector) and run "
            "CREATE EXTENSION vector as its owner"
        ) from None
    from pgvector.psycopg import register_vector

    register_vector(conn)
    return conn


def migrate(conn: Any, url: str) -> list[str]:
    """Apply the steps the database lacks; refuse a database made by a newer chatforge."""
    known = [fn.__name__ for fn in MIGRATIONS]
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS _migrations(name TEXT PRIMARY KEY, "
            "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        done = {r[0] for r in conn.execute("SELECT name FROM _migrations")}
    newer = sorted(n for n in done - set(known) if "/" not in n)  # others' are checked apart
    if newer:
        raise ConfigError(
            f"the database at {safe_url(url)} was upgraded by a newer chatforge (schema step "
            f"{newer[0]} is unknown here); upgrade chatforge (pip install -U chatforge)"
        )
    applied = []
    for fn in MIGRATIONS:
        if fn.__name__ in done:
            continue
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            row = conn.execute("SELECT 1 FROM _migrations WHERE name = %s", (fn.__name__,))
            if row.fetchone():
                continue
            fn(conn)
            conn.execute("INSERT INTO _migrations(name) VALUES(%s)", (fn.__name__,))
        applied.append(fn.__name__)
    return applied


def migrate_part(db: Any, url: str, namespace: str) -> list[str]:
    """Apply another part's SQLite-dialect migrations (store.migrations) through `db`, a
    store.pg_dialect connection; each is recorded as NAMESPACE/NAME."""
    from chatforge.store.migrations import REGISTRY

    known = [f"{namespace}/{fn.__name__}" for fn in REGISTRY[namespace]]
    rows = db.execute("SELECT name FROM _migrations WHERE name LIKE ?", (f"{namespace}/%",))
    newer = sorted({r[0] for r in rows} - set(known))
    if newer:
        raise ConfigError(
            f"the database at {safe_url(url)} was upgraded by a newer chatforge (schema step "
            f"{newer[0]} is unknown here); upgrade chatforge (pip install -U chatforge)"
        )
    applied = []
    for fn, name in zip(REGISTRY[namespace], known, strict=True):
        with db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(?)", (LOCK_KEY,))
            if db.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone():
                continue
            fn(db)
            db.execute("INSERT INTO _migrations(name) VALUES(?)", (name,))
        applied.append(name)
    return applied


def _all(conn: Any, *statements: str) -> None:
    for statement in statements:
        conn.execute(statement)


@pg_migration
def m001_documents(conn: Any) -> None:
    """Files, documents, chunks with their vector and keyword terms, the embedding cache."""
    _all(
        conn,
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE files(path TEXT PRIMARY KEY, hash TEXT NOT NULL, size BIGINT NOT NULL,
          ingested_at TEXT NOT NULL, chunking TEXT NOT NULL DEFAULT '')""",
        """CREATE TABLE documents(id BIGSERIAL PRIMARY KEY,
          path TEXT NOT NULL REFERENCES files(path) ON DELETE CASCADE,
          part TEXT NOT NULL DEFAULT '', title TEXT NOT NULL, text TEXT NOT NULL,
          meta TEXT NOT NULL, UNIQUE(path, part))""",
        """CREATE TABLE chunks(id BIGSERIAL PRIMARY KEY,
          doc_id BIGINT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
          ord INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
          section TEXT NOT NULL, context TEXT NOT NULL, text TEXT NOT NULL, hash TEXT NOT NULL,
          lang TEXT NOT NULL DEFAULT '', context_terms TEXT NOT NULL DEFAULT '',
          text_terms TEXT NOT NULL DEFAULT '', vec vector)""",
        "CREATE INDEX chunks_doc ON chunks(doc_id)",
        "CREATE INDEX chunks_hash ON chunks(hash)",
        "CREATE TABLE vectors(hash TEXT PRIMARY KEY, vec vector NOT NULL)",
        """CREATE TABLE ingest_log(id BIGSERIAL PRIMARY KEY, at TEXT NOT NULL,
          path TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '')""",
    )


@pg_migration
def m002_vectors_inline(conn: Any) -> None:
    """Keep each chunk's vector in its row, moving the texts out of line instead: an exact scan
    (a filtered search, a small table) then reads one page per few rows, not a TOAST lookup
    per row."""
    conn.execute("ALTER TABLE chunks ALTER COLUMN vec SET STORAGE MAIN")
