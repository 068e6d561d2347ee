"""Telegram Desktop exports (result.json) as training conversations.

One chat, or the whole account's chats; the owner (`--me`, else the most frequent author)
speaks as the assistant, each chat is a thread cut into sessions at long silences.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from chatforge.errors import ChatforgeError
from chatforge.formats.records import json_file
from chatforge.formats.rows import (
    Message,
    ReadContext,
    Row,
    content_text,
    owner_rows,
    parse_time,
)

CHAT_TYPES = {"personal_chat", "private_group", "private_supergroup", "public_supergroup"}
"""The `type` of a single exported chat, for recognising a Telegram file."""


def read_telegram(path: Path, source: str, ctx: ReadContext) -> Iterator[Row]:
    """Telegram Desktop's result.json: one chat, or the whole account's `chats.list`."""
    data = json_file(path, "export it again")
    if isinstance(data, dict) and isinstance(data.get("chats"), dict):
        chats = data["chats"].get("list") or []
    elif isinstance(data, dict) and isinstance(data.get("messages"), list):
        chats = [data]
    else:
        raise ChatforgeError(
            f'{source}: not a Telegram export (no "messages" or "chats"); export the chat '
            "from Telegram Desktop as machine-readable JSON"
        )
    threads: list[tuple[str, list[Message]]] = []
    n = 0
    for chat in chats:
        thread: list[Message] = []
        for msg in chat.get("messages") or []:
            n += 1
            if not isinstance(msg, dict) or "text" not in msg:
                ctx.skip(source, n, "message without text (record number)")
                continue
            if msg.get("type", "message") != "message" or not msg.get("from"):
                continue
            aliases = (str(msg["from_id"]),) if msg.get("from_id") else ()
            when = parse_time(msg.get("date_unixtime") or msg.get("date"))
            thread.append(Message(str(msg["from"]), content_text(msg["text"]), n, when, aliases))
        threads.append((f"{source}#{chat.get('id') or len(threads)}", thread))
    yield from owner_rows(threads, source, ctx)
