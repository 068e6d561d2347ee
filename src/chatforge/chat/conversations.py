"""Conversations and their messages, kept in the bot's SQLite file and scoped to a user.

Every read and write names the user; a conversation of another user is answered exactly like a
missing one, so ids reveal nothing across users. A turn (question and answer) is written in one
transaction by the chat engine, so history is never half-written.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from chatforge.errors import ChatforgeError
from chatforge.store.migrations import execute_all, migration
from chatforge.store.sqlite import SQLiteStore, now


@migration("conversations")
def m001_conversations(db: sqlite3.Connection) -> None:
    """The tables as they were before migrations: created only where missing."""
    execute_all(
        db,
        """CREATE TABLE IF NOT EXISTS conversations(
          id TEXT PRIMARY KEY, user_id TEXT NOT NULL, title TEXT NOT NULL,
          created_at TEXT NOT NULL, updated_at TEXT NOT NULL, turns INTEGER NOT NULL DEFAULT 0)""",
        "CREATE INDEX IF NOT EXISTS conversations_user ON conversations(user_id, updated_at)",
        """CREATE TABLE IF NOT EXISTS messages(
          id INTEGER PRIMARY KEY,
          conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
          role TEXT NOT NULL, text TEXT NOT NULL, sources TEXT NOT NULL DEFAULT '[]',
          model TEXT NOT NULL DEFAULT '', prompt_tokens INTEGER NOT NULL DEFAULT 0,
          completion_tokens INTEGER NOT NULL DEFAULT 0, timings TEXT NOT NULL DEFAULT '{}',
          interrupted INTEGER NOT NULL DEFAULT 0, query TEXT NOT NULL DEFAULT '',
          created_at TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS messages_conversation ON messages(conversation_id, id)",
    )


TITLE_CHARS = 60


@dataclass
class Conversation:
    id: str
    user_id: str
    title: str
    created_at: str
    updated_at: str
    turns: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Message:
    id: int
    conversation_id: str
    role: str
    text: str
    created_at: str
    sources: list[dict[str, Any]] = field(default_factory=list)
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False
    query: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def new_conversation_id() -> str:
    return uuid.uuid4().hex[:16]


def not_found(conversation_id: str, user: str) -> ChatforgeError:
    return ChatforgeError(
        f"conversation {conversation_id!r} not found for user {user!r}; "
        f"see `chatforge conversations list --user {user}`"
    )


class ConversationStore:
    """Per-user conversations in the bot's database (its tables brought up to date on open)."""

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self.db = store.db
        store.migrate("conversations")

    def get(self, conversation_id: str, user: str = "local") -> Conversation:
        row = self.db.execute(
            "SELECT id, user_id, title, created_at, updated_at, turns FROM conversations "
            "WHERE id = ? AND user_id = ?",
            (conversation_id, user),
        ).fetchone()
        if row is None:
            raise not_found(conversation_id, user)
        return Conversation(*row)

    def list(self, user: str = "local", limit: int | None = None) -> list[Conversation]:
        """The user's conversations, most recently active first."""
        rows = self.db.execute(
            "SELECT id, user_id, title, created_at, updated_at, turns FROM conversations "
            "WHERE user_id = ? ORDER BY updated_at DESC, rowid DESC LIMIT ?",
            (user, -1 if limit is None else limit),
        )
        return [Conversation(*r) for r in rows]

    def messages(self, conversation_id: str, user: str = "local") -> list[Message]:
        self.get(conversation_id, user)
        rows = self.db.execute(
            "SELECT id, conversation_id, role, text, created_at, sources, model, prompt_tokens, "
            "completion_tokens, timings, interrupted, query FROM messages "
            "WHERE conversation_id = ? ORDER BY id",
            (conversation_id,),
        )
        return [
            Message(
                *r[:5], json.loads(r[5]), r[6], r[7], r[8], json.loads(r[9]), bool(r[10]), r[11]
            )
            for r in rows
        ]

    def history(
        self, conversation_id: str, user: str = "local", turns: int = 6
    ) -> list[tuple[str, str]]:
        """The last `turns` (question, answer) pairs, oldest first."""
        if turns <= 0:
            return []
        msgs = self.messages(conversation_id, user)
        pairs = [
            (q.text, a.text)
            for q, a in zip(msgs, msgs[1:], strict=False)
            if q.role == "user" and a.role == "assistant"
        ]
        return pairs[-turns:]

    def delete(self, conversation_id: str, user: str = "local") -> None:
        with self.store.transaction() as db:
            cur = db.execute(
                "DELETE FROM conversations WHERE id = ? AND user_id = ?", (conversation_id, user)
            )
            if cur.rowcount == 0:
                raise not_found(conversation_id, user)

    def export(self, conversation_id: str, user: str = "local", fmt: str = "json") -> str:
        """The whole conversation as JSON or Markdown (sources listed under each answer)."""
        conv = self.get(conversation_id, user)
        msgs = self.messages(conversation_id, user)
        if fmt == "json":
            data = {**conv.to_dict(), "messages": [m.to_dict() for m in msgs]}
            return json.dumps(data, ensure_ascii=False, indent=2)
        if fmt not in ("md", "markdown"):
            raise ChatforgeError(f"unknown export format {fmt!r}; use json or markdown")
        lines = [f"# {conv.title}", "", f"_{conv.id} · user {conv.user_id} · {conv.created_at}_"]
        for m in msgs:
            who = "You" if m.role == "user" else "Bot"
            lines += ["", f"**{who}:** {m.text}"]
            if m.interrupted:
                lines.append("_(interrupted)_")
            for s in m.sources:
                mark = "" if s.get("cited") else " (not cited)"
                lines.append(f"- [{s['n']}] {s.get('title') or s['source']} — {s['source']}{mark}")
        return "\n".join(lines) + "\n"

    def record_turn(
        self,
        db: sqlite3.Connection,
        conversation_id: str,
        user: str,
        question: str,
        answer: str,
        *,
        sources: list[dict[str, Any]],
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        timings: dict[str, float],
        interrupted: bool,
        query: str,
    ) -> tuple[int, int]:
        """Write one turn inside the caller's transaction; return (answer message id, turns)."""
        at = now()
        db.execute(
            "INSERT INTO conversations(id, user_id, title, created_at, updated_at, turns) "
            "VALUES(?,?,?,?,?,0) ON CONFLICT(id) DO NOTHING",
            (conversation_id, user, _title(question), at, at),
        )
        row = db.execute(
            "SELECT user_id FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone()
        if row[0] != user:
            raise not_found(conversation_id, user)
        db.execute(
            "INSERT INTO messages(conversation_id, role, text, created_at, query) "
            "VALUES(?, 'user', ?, ?, ?)",
            (conversation_id, question, at, query),
        )
        cur = db.execute(
            "INSERT INTO messages(conversation_id, role, text, created_at, sources, model, "
            "prompt_tokens, completion_tokens, timings, interrupted, query) "
            "VALUES(?, 'assistant', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                conversation_id,
                answer,
                at,
                json.dumps(sources, ensure_ascii=False),
                model,
                prompt_tokens,
                completion_tokens,
                json.dumps(timings),
                int(interrupted),
                query,
            ),
        )
        db.execute(
            "UPDATE conversations SET updated_at = ?, turns = turns + 1 WHERE id = ?",
            (at, conversation_id),
        )
        turns = db.execute(
            "SELECT turns FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone()[0]
        return int(cur.lastrowid or 0), int(turns)


def _title(question: str) -> str:
    text = " ".join(question.split())
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1] + "…"
