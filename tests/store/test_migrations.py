"""Schema migrations on real SQLite files: a bot made before migrations existed opens with
every row and gains the new column; migrating again changes nothing; a failing migration leaves
the file as it was and says which one failed."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest

from chatforge.chat.conversations import ConversationStore
from chatforge.chat.memory import MemoryStore
from chatforge.store import migrations
from chatforge.store.migrations import MigrationError, applied_migrations, migrate
from chatforge.store.sqlite import SQLiteStore

# The schema scripts exactly as store/sqlite.py, chat/conversations.py and chat/memory.py ran
# them at every open before migrations existed (the tokenizer written out as it was). Every bot
# made until then has these tables and no `_migrations` table, so they are kept here as test
# data: the code itself no longer has them.
OLD_STORE_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files(
  path TEXT PRIMARY KEY, hash TEXT NOT NULL, size INTEGER NOT NULL, ingested_at TEXT NOT NULL,
  chunking TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS documents(
  id INTEGER PRIMARY KEY, path TEXT NOT NULL REFERENCES files(path) ON DELETE CASCADE,
  part TEXT NOT NULL DEFAULT '', title TEXT NOT NULL, text TEXT NOT NULL, meta TEXT NOT NULL,
  UNIQUE(path, part));
CREATE TABLE IF NOT EXISTS chunks(
  id INTEGER PRIMARY KEY, doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  ord INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, section TEXT NOT NULL,
  context TEXT NOT NULL, text TEXT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE INDEX IF NOT EXISTS chunks_hash ON chunks(hash);
CREATE TABLE IF NOT EXISTS vectors(hash TEXT PRIMARY KEY, vec BLOB NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
  context, text, tokenize = 'porter unicode61 remove_diacritics 2');
CREATE TABLE IF NOT EXISTS ingest_log(
  id INTEGER PRIMARY KEY, at TEXT NOT NULL, path TEXT NOT NULL, status TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '');
"""
OLD_CONVERSATIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations(
  id TEXT PRIMARY KEY, user_id TEXT NOT NULL, title TEXT NOT NULL, created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL, turns INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS conversations_user ON conversations(user_id, updated_at);
CREATE TABLE IF NOT EXISTS messages(
  id INTEGER PRIMARY KEY,
  conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  role TEXT NOT NULL, text TEXT NOT NULL, sources TEXT NOT NULL DEFAULT '[]',
  model TEXT NOT NULL DEFAULT '', prompt_tokens INTEGER NOT NULL DEFAULT 0,
  completion_tokens INTEGER NOT NULL DEFAULT 0, timings TEXT NOT NULL DEFAULT '{}',
  interrupted INTEGER NOT NULL DEFAULT 0, query TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS messages_conversation ON messages(conversation_id, id);
"""
OLD_MEMORY_SCHEMA = """
CREATE TABLE IF NOT EXISTS memories(
  id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL,
  vec BLOB NOT NULL, model TEXT NOT NULL, conversation_id TEXT, created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS memories_user ON memories(user_id);
"""

OLD_TABLES = (
    "meta",
    "files",
    "documents",
    "chunks",
    "vectors",
    "ingest_log",
    "conversations",
    "messages",
    "memories",
)
ALL_MIGRATIONS = [
    ("store", "m001_documents"),
    ("store", "m002_chunk_languages"),
    ("conversations", "m001_conversations"),
    ("memory", "m001_memories"),
    ("memory", "m002_superseded_by"),
    ("memory", "m003_slot"),
    ("memory", "m004_thing_slots"),
]
DOCS = {
    "guide/install.md": [
        ("Installing", "Run apt install widget to install the widget tool on Debian."),
        ("Removing", "To uninstall it completely, use apt purge widget."),
    ],
    "notes/cuisine.md": [
        ("Recettes", "La tarte aux pommes cuit quarante minutes dans un four chaud."),
    ],
}
MEMORIES = [("ada", "fact", "My name is Ada"), ("ada", "fact", "Je m'appelle Ada")]


def _old_bot(folder: Path, embedder) -> Path:
    """A bot database as the code before migrations wrote it: its schema, then rows."""
    folder.mkdir(parents=True)
    path = folder / "chatforge.db"
    db = sqlite3.connect(path, isolation_level=None)
    for script in (OLD_STORE_SCHEMA, OLD_CONVERSATIONS_SCHEMA, OLD_MEMORY_SCHEMA):
        db.executescript(script)
    db.execute("BEGIN")
    at = "2025-01-02T03:04:05+00:00"
    for source, sections in DOCS.items():
        body = "\n".join(text for _, text in sections)
        db.execute("INSERT INTO files VALUES(?, ?, ?, ?, 'sig')", (source, source, len(body), at))
        doc = db.execute(
            "INSERT INTO documents(path, part, title, text, meta) VALUES(?, '', ?, ?, '{}')",
            (source, source, body),
        ).lastrowid
        start = 0
        for ord_, (section, text) in enumerate(sections):
            h = hashlib.sha256(text.encode()).hexdigest()
            cid = db.execute(
                'INSERT INTO chunks(doc_id, ord, start, "end", section, context, text, hash) '
                "VALUES(?,?,?,?,?,?,?,?)",
                (doc, ord_, start, start + len(text), section, section, text, h),
            ).lastrowid
            db.execute(
                "INSERT INTO chunks_fts(rowid, context, text) VALUES(?,?,?)", (cid, section, text)
            )
            vec = embedder.encode([f"{section}\n{text}"])[0]
            db.execute("INSERT INTO vectors VALUES(?, ?)", (h, vec.astype(np.float32).tobytes()))
            start += len(text) + 1
        db.execute("INSERT INTO ingest_log(at, path, status) VALUES(?, ?, 'ok')", (at, source))
    db.executemany(
        "INSERT INTO meta VALUES(?, ?)",
        [("generation", "2"), ("embed_model", embedder.name), ("embed_dim", str(embedder.dim))],
    )
    db.execute("INSERT INTO conversations VALUES('c1', 'ada', 'Four', ?, ?, 1)", (at, at))
    db.execute(
        "INSERT INTO messages(conversation_id, role, text, created_at) VALUES"
        "('c1', 'user', 'Combien de temps cuit la tarte ?', ?),"
        "('c1', 'assistant', 'Quarante minutes [1].', ?)",
        (at, at),
    )
    for user, kind, text in MEMORIES:
        vec = embedder.encode_query(text).astype(np.float32).tobytes()
        db.execute(
            "INSERT INTO memories(user_id, kind, text, vec, model, conversation_id, created_at, "
            "updated_at) VALUES(?, ?, ?, ?, ?, 'c1', ?, ?)",
            (user, kind, text, vec, embedder.name, at, at),
        )
    db.execute("COMMIT")
    db.close()
    return path


def _rows(path: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(path) as db:
        rows = {t: db.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in OLD_TABLES}
        rows["chunks_fts"] = db.execute(
            "SELECT rowid, context, text FROM chunks_fts ORDER BY rowid"
        ).fetchall()
    return rows


def _dump(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return list(db.iterdump())


def _open(folder: Path, embedder) -> tuple[SQLiteStore, ConversationStore, MemoryStore]:
    store = SQLiteStore(folder, embedder.name, lambda: embedder.dim)
    return store, ConversationStore(store), MemoryStore(store, lambda: embedder)


@pytest.fixture
def old_bot(tmp_path, embedder) -> Path:
    return _old_bot(tmp_path / "data", embedder)


def test_a_bot_made_before_migrations_keeps_every_row_and_gains_the_column(old_bot, embedder):
    before = _rows(old_bot)
    assert all(before[t] for t in (*OLD_TABLES, "chunks_fts"))
    store, conversations, memory = _open(old_bot.parent, embedder)
    try:
        assert [(a.namespace, a.name) for a in applied_migrations(store.db)] == ALL_MIGRATIONS
        columns = [r[1] for r in store.db.execute("PRAGMA table_info(memories)")]
        assert columns[-2:] == ["superseded_by", "slot"]
        after = _rows(old_bot)
        after["memories"] = [r[:-2] for r in after["memories"] if r[-2] is None]
        # Chunks gain their language; the keyword index is re-made from language-aware terms.
        assert [r[-1] for r in after["chunks"]] == ["en", "en", "fr"]
        after["chunks"] = [r[:-1] for r in after["chunks"]]
        assert [r[0] for r in after.pop("chunks_fts")] == [r[0] for r in before.pop("chunks_fts")]
        meta_after, meta_before = dict(after.pop("meta")), dict(before.pop("meta"))
        assert int(meta_after.pop("generation")) == int(meta_before.pop("generation")) + 1
        assert meta_after == meta_before
        assert after == before
        # The rows are the bot's, usable as before: search, history, recall.
        assert [d.path for d in store.documents()] == ["guide/install.md", "notes/cuisine.md"]
        assert store.hits(store.lexical("tarte four", 1))[0].source == "notes/cuisine.md"
        vec = embedder.encode_query("How do I remove the widget?")
        assert store.hits(store.dense(vec, 1))[0].section == "Removing"
        assert conversations.history("c1", "ada") == [
            ("Combien de temps cuit la tarte ?", "Quarante minutes [1].")
        ]
        assert [m.text for m in memory.list("ada")] == [t for _, _, t in MEMORIES]
        assert memory.search("ada", "Comment je m'appelle ?", k=1)[0].text == "Je m'appelle Ada"
    finally:
        store.close()


def test_the_first_migrations_make_the_tables_the_code_made_before(
    tmp_path, embedder, old_bot, monkeypatch
):
    """Both ways: a new bot at its first migrations has the old tables, and an old bot brought
    up to date has the tables of a new bot."""
    with monkeypatch.context() as m:
        for namespace in ("store", "conversations", "memory"):
            m.setitem(migrations.REGISTRY, namespace, migrations.REGISTRY[namespace][:1])
        _open(tmp_path / "first", embedder)[0].close()
    first = _structure(tmp_path / "first" / "chatforge.db")
    assert first.pop("_migrations")
    assert first == _structure(old_bot)
    _open(tmp_path / "new", embedder)[0].close()
    _open(old_bot.parent, embedder)[0].close()
    assert _structure(old_bot) == _structure(tmp_path / "new" / "chatforge.db")


def _structure(path: Path) -> dict[str, list]:
    """Columns, keys and indexes of each table and index, whatever the SQL's spacing."""
    with sqlite3.connect(path) as db:
        out: dict[str, list] = {}
        for kind, name in db.execute(
            "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ):
            if kind == "index":
                out[f"index {name}"] = db.execute(f"PRAGMA index_xinfo({name})").fetchall()
            elif kind == "table":
                out[name] = [
                    *db.execute(f"PRAGMA table_xinfo({name})"),
                    *db.execute(f"PRAGMA foreign_key_list({name})"),
                    *(r[1:] for r in db.execute(f"PRAGMA index_list({name})")),
                ]
    return out


def test_migrating_twice_changes_nothing(old_bot, embedder):
    store, _, _ = _open(old_bot.parent, embedder)
    store.close()
    dump = _dump(old_bot)
    store, _, _ = _open(old_bot.parent, embedder)
    try:
        for namespace in ("store", "conversations", "memory"):
            assert migrate(store.db, namespace) == []
        assert len(applied_migrations(store.db)) == len(ALL_MIGRATIONS)
    finally:
        store.close()
    assert _dump(old_bot) == dump


def test_a_failing_migration_leaves_the_file_as_it_was(old_bot, embedder, monkeypatch):
    store, _, _ = _open(old_bot.parent, embedder)
    store.close()
    dump = _dump(old_bot)

    def m005_broken(db: sqlite3.Connection) -> None:
        db.execute("ALTER TABLE memories ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0")
        db.execute("UPDATE memories SET text = 'lost'")
        db.execute("DELETE FROM chunks")
        db.execute("INSERT INTO no_such_table VALUES(1)")

    monkeypatch.setitem(
        migrations.REGISTRY, "memory", [*migrations.REGISTRY["memory"], m005_broken]
    )
    store = SQLiteStore(old_bot.parent, embedder.name, lambda: embedder.dim)
    try:
        with pytest.raises(MigrationError) as failed:
            MemoryStore(store, lambda: embedder)
        assert len(applied_migrations(store.db)) == len(ALL_MIGRATIONS)
    finally:
        store.close()
    message = str(failed.value)
    assert "\n" not in message
    assert "migration memory/m005_broken failed (no such table: no_such_table)" in message
    assert str(old_bot) in message
    assert _dump(old_bot) == dump
    monkeypatch.undo()  # the fixed code opens the bot as before
    store, _, memory = _open(old_bot.parent, embedder)
    assert [m.text for m in memory.list("ada")] == [t for _, _, t in MEMORIES]
    store.close()


def test_a_failing_first_migration_leaves_a_new_file_empty(tmp_path, monkeypatch):
    def m001_half(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE half(x)")
        raise ValueError("disk says no")

    monkeypatch.setitem(migrations.REGISTRY, "half", [m001_half])
    path = tmp_path / "new.db"
    db = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(MigrationError, match=r"migration half/m001_half failed \(disk says no\)"):
        migrate(db, "half")
    assert db.execute("SELECT name FROM sqlite_master").fetchall() == []
    assert applied_migrations(db) == []
    db.close()


def test_a_migration_another_process_applies_meanwhile_is_not_applied_again(tmp_path, monkeypatch):
    """Two connections, each in a thread, lock the file exactly as two processes do. The second
    finds the migration pending, then waits for the write lock while the first applies it."""
    path = tmp_path / "bot.db"
    inside, release = threading.Event(), threading.Event()
    runs: list[str] = []

    def m001_slow(db: sqlite3.Connection) -> None:
        runs.append("m001_slow")
        db.execute("CREATE TABLE IF NOT EXISTS slow(x)")
        inside.set()
        release.wait(30)

    monkeypatch.setitem(migrations.REGISTRY, "slow", [m001_slow])
    first = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
    second = sqlite3.connect(path, timeout=60, isolation_level=None)
    second.set_trace_callback(lambda sql: sql == "BEGIN IMMEDIATE" and release.set())
    applied: list[str] = []
    thread = threading.Thread(target=lambda: applied.extend(migrate(first, "slow")))
    thread.start()
    assert inside.wait(30)
    assert migrate(second, "slow") == []  # pending when it looked, applied once it could write
    thread.join()
    assert applied == runs == ["m001_slow"]
    assert [a.name for a in applied_migrations(second)] == ["m001_slow"]
    first.close()
    second.close()


def test_a_part_first_opened_inside_a_transaction_migrates_with_it(tmp_path, embedder):
    """The bot opens conversations and memory on first use, which may be inside a turn's
    transaction: their migrations then commit, or roll back, with it."""
    store = SQLiteStore(tmp_path / "data", embedder.name, lambda: embedder.dim)
    try:
        with pytest.raises(RuntimeError), store.transaction():
            ConversationStore(store)
            raise RuntimeError("the turn failed")
        assert {a.namespace for a in applied_migrations(store.db)} == {"store"}
        with store.transaction() as db:
            conversations = ConversationStore(store)
            conversations.record_turn(
                db,
                "c1",
                "ada",
                "Où est le four ?",
                "Dans la cuisine.",
                sources=[],
                model="",
                prompt_tokens=0,
                completion_tokens=0,
                timings={},
                interrupted=False,
                query="",
            )
        assert conversations.history("c1", "ada") == [("Où est le four ?", "Dans la cuisine.")]
        assert [a.namespace for a in applied_migrations(store.db)] == [
            "store",
            "store",
            "conversations",
        ]
    finally:
        store.close()


def test_a_migration_name_is_registered_once(monkeypatch):
    monkeypatch.setitem(migrations.REGISTRY, "twice", [])

    def m001_same(db: sqlite3.Connection) -> None: ...

    migrations.migration("twice")(m001_same)
    with pytest.raises(ValueError, match="twice/m001_same is registered twice"):
        migrations.migration("twice")(m001_same)
