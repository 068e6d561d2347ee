"""Support tickets as training conversations: the agents' replies are the assistant's turns.

Tickets come as one row per message (CSV or JSON Lines with a ticket id, an author and a body)
or as one record per ticket with a list of messages, under many column names; the names are
listed here once, for reading and for recognising a ticket file.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from chatforge.errors import ChatforgeError
from chatforge.formats.records import good_records
from chatforge.formats.rows import (
    Message,
    ReadContext,
    Row,
    content_text,
    conversations,
    parse_time,
    pick_owner,
)
from chatforge.formats.sheets import sheet_records

# Column (or field) names of support-ticket threads, most specific first.
_TICKET_ID = ("ticket_id", "ticket", "thread_id", "case_id", "conversation_id", "issue_id")
_TICKET_BODY = ("body", "message", "text", "content", "comment", "description")
_TICKET_AUTHOR = ("author", "from", "sender", "author_name", "user", "name")
_TICKET_ROLE = ("role", "author_role", "author_type", "sender_type", "via")
_TICKET_TIME = ("created_at", "timestamp", "date", "time", "sent_at")
_TICKET_LIST = ("messages", "comments", "thread", "replies", "conversation")
_AGENT_ROLES = frozenset(
    {"agent", "support", "staff", "admin", "assistant", "operator", "employee", "rep", "team"}
)
_AGENT, _CUSTOMER = "\x00agent", "\x00customer"


def looks_like_tickets(columns: list[str]) -> bool:
    """Whether column (or field) names are those of a ticket export."""
    lower = {c.lower() for c in columns}
    has = [any(c in lower for c in group) for group in (_TICKET_ID, _TICKET_BODY)]
    listed = any(c in lower for c in _TICKET_LIST) and any(c in lower for c in ("id", "subject"))
    return all(has) or listed


def read_tickets(path: Path, source: str, ctx: ReadContext) -> Iterator[Row]:
    """Ticket threads as conversations.

    A role column (agent, customer...) says who is the agent; without one, `--me` names the
    agent, else the most frequent author.
    """
    threads, subjects = _threads(path, source, ctx)
    if not threads:
        raise ChatforgeError(
            f"{source}: no ticket messages (need ticket_id, author and body per message, or "
            "tickets with a list of messages); check --format"
        )
    for tid, subject in subjects.items():
        thread = threads.get(tid) or []
        if subject and thread and not thread[0].text.startswith(subject):
            thread[0].text = f"{subject}\n\n{thread[0].text}"
    if any(m.author in (_AGENT, _CUSTOMER) for t in threads.values() for m in t):
        owner = {_AGENT}
    else:
        owner = pick_owner(list(threads.values()), ctx.me, source, ctx.log)
    for thread in threads.values():
        thread.sort(key=lambda m: (m.time is None, m.time or datetime.min))
    yield from conversations(
        ((f"{source}#{tid}", t) for tid, t in threads.items()),
        owner,
        source,
        ctx,
        split_sessions=False,
    )


def _threads(
    path: Path, source: str, ctx: ReadContext
) -> tuple[dict[str, list[Message]], dict[str, str]]:
    """The messages of each ticket, and each ticket's subject."""
    threads: dict[str, list[Message]] = {}
    subjects: dict[str, str] = {}
    if path.suffix.lower() in (".csv", ".tsv"):
        records: Iterator[tuple[int, Any]] = sheet_records(path)
    else:
        records = good_records(path, source, ctx)
    for line, rec in records:
        if not isinstance(rec, dict):
            ctx.skip(source, line, "not a JSON object")
            continue
        listed = next((rec[k] for k in _TICKET_LIST if isinstance(rec.get(k), list)), None)
        if listed is not None:
            tid = str(_field(rec, ("id", *_TICKET_ID)) or line)
            subjects[tid] = str(_field(rec, ("subject", "title")) or "")
            thread = threads.setdefault(tid, [])
            for item in listed:
                message = _ticket_message(item, line) if isinstance(item, dict) else None
                if message is None:
                    ctx.skip(source, line, "a ticket message without an author or a body")
                else:
                    thread.append(message)
            continue
        tid = _field(rec, _TICKET_ID)
        message = _ticket_message(rec, line)
        if tid is None or message is None:
            ctx.skip(source, line, "no ticket id, author or body")
            continue
        threads.setdefault(str(tid), []).append(message)
        subject = _field(rec, ("subject", "title"))
        if subject and str(tid) not in subjects:
            subjects[str(tid)] = str(subject)
    return threads, subjects


def _field(rec: dict, names: tuple[str, ...]) -> Any:
    lower = {str(k).lower(): v for k, v in rec.items()}
    return next((lower[n] for n in names if lower.get(n) not in (None, "")), None)


def _ticket_message(rec: dict, line: int) -> Message | None:
    body = content_text(_field(rec, _TICKET_BODY))
    author = _field(rec, _TICKET_AUTHOR)
    if isinstance(author, dict):
        author = author.get("name") or author.get("id")
    role = str(_field(rec, _TICKET_ROLE) or "").strip().lower()
    if not body or (author is None and not role):
        return None
    when = parse_time(_field(rec, _TICKET_TIME))
    if role:
        marker = _AGENT if role in _AGENT_ROLES else _CUSTOMER
        return Message(marker, body, line, when, (str(author or role),))
    return Message(str(author), body, line, when)
