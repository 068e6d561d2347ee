"""Discord channels exported as JSON by DiscordChatExporter, as training conversations.

The owner (`--me`, else the most frequent author) speaks as the assistant; everyone else as
the user. Custom emoji are kept by name and mentions dropped, since their ids mean nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from chatforge.errors import ChatforgeError
from chatforge.formats.records import json_file
from chatforge.formats.rows import Message, ReadContext, Row, owner_rows, parse_time


def read_discord(path: Path, source: str, ctx: ReadContext) -> Iterator[Row]:
    """A DiscordChatExporter JSON file: {"guild", "channel", "messages": [...]}."""
    data = json_file(path, "export it again")
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise ChatforgeError(
            f'{source}: not a Discord JSON export (no top-level "messages" list); export the '
            "channel as JSON with DiscordChatExporter"
        )
    thread: list[Message] = []
    for i, msg in enumerate(data["messages"], start=1):
        author = msg.get("author") if isinstance(msg, dict) else None
        if not isinstance(author, dict) or "content" not in msg:
            ctx.skip(source, i, "message without an author or content (record number)")
            continue
        if msg.get("type") not in (None, "Default", "Reply"):
            continue
        name = str(author.get("nickname") or author.get("name") or author.get("id"))
        aliases = tuple(str(author[k]) for k in ("name", "id") if author.get(k))
        text = _discord_text(str(msg.get("content") or ""))
        thread.append(Message(name, text, i, parse_time(msg.get("timestamp")), aliases))
    channel = data.get("channel") or {}
    cid = f"{source}#{channel.get('id') or 'channel'}" if isinstance(channel, dict) else source
    yield from owner_rows([(cid, thread)], source, ctx)


_DISCORD_EMOJI = re.compile(r"<a?:(\w+):\d+>")
_DISCORD_MENTION = re.compile(r"<[@#][!&]?\d+>")


def _discord_text(text: str) -> str:
    return _DISCORD_MENTION.sub("", _DISCORD_EMOJI.sub(r":\1:", text)).strip()
