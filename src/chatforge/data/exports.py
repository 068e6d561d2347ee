"""Personal chat exports: Discord, Telegram, WhatsApp and a Twitter/X archive.

The owner (`--me`, else the most frequent author) speaks as the assistant; everyone else as
the user. Messages are grouped into conversations by chat and cut into sessions at long
silences (see `rows.conversations`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from chatforge.data.readers import _WHATSAPP_LINE, _decode, _parse_time, _text
from chatforge.data.rows import Message, ReadContext, Row, chat_messages, conversations, pick_owner
from chatforge.errors import ChatforgeError


def _load_json(path: Path, source: str) -> Any:
    try:
        return json.loads(_decode(path, source))
    except json.JSONDecodeError as exc:
        raise ChatforgeError(
            f"{source}: invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg}); "
            "export it again"
        ) from exc


def _owned(
    threads: list[tuple[str, list[Message]]], source: str, ctx: ReadContext
) -> Iterator[Row]:
    owner = pick_owner([t for _, t in threads], ctx.me, source, ctx.log)
    yield from conversations(threads, owner, source, ctx)


# ---------------------------------------------------------------------------- Discord


def read_discord(path: Path, source: str, ctx: ReadContext) -> Iterator[Row]:
    """A DiscordChatExporter JSON file: {"guild", "channel", "messages": [...]}."""
    data = _load_json(path, source)
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
        thread.append(Message(name, text, i, _parse_time(msg.get("timestamp")), aliases))
    channel = data.get("channel") or {}
    cid = f"{source}#{channel.get('id') or 'channel'}" if isinstance(channel, dict) else source
    yield from _owned([(cid, thread)], source, ctx)


_DISCORD_EMOJI = re.compile(r"<a?:(\w+):\d+>")
_DISCORD_MENTION = re.compile(r"<[@#][!&]?\d+>")


def _discord_text(text: str) -> str:
    return _DISCORD_MENTION.sub("", _DISCORD_EMOJI.sub(r":\1:", text)).strip()


# ---------------------------------------------------------------------------- Telegram


def read_telegram(path: Path, source: str, ctx: ReadContext) -> Iterator[Row]:
    """Telegram Desktop's result.json: one chat, or the whole account's `chats.list`."""
    data = _load_json(path, source)
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
            when = _parse_time(msg.get("date_unixtime") or msg.get("date"))
            thread.append(Message(str(msg["from"]), _text(msg["text"]), n, when, aliases))
        threads.append((f"{source}#{chat.get('id') or len(threads)}", thread))
    yield from _owned(threads, source, ctx)


# ---------------------------------------------------------------------------- WhatsApp

_WHATSAPP_MEDIA = re.compile(
    r"^<(?:Media omitted|[\w ]+ omitted|attached: [^>]+)>$|^\u200e?(?:image|video|audio|sticker|"
    r"GIF|document) omitted$|^This message was deleted$|^You deleted this message$",
    re.I,
)


def read_whatsapp(path: Path, source: str, ctx: ReadContext) -> Iterator[Row]:
    """WhatsApp's "Export chat" text: `date, time - Name: text`, continued on later lines."""
    text = _decode(path, source).replace("\r\n", "\n")
    thread: list[Message] = []
    dayfirst = _whatsapp_dayfirst(text)
    current: Message | None = None
    for lineno, line in enumerate(text.split("\n"), start=1):
        m = _WHATSAPP_LINE.match(line)
        if m is None:
            if current is not None:
                current.text += "\n" + line
            elif line.strip():
                ctx.skip(source, lineno, "not a WhatsApp message line")
            continue
        author, sep, body = m["rest"].partition(": ")
        if not sep:
            current = None  # a system line: "X joined", "Messages are end-to-end encrypted"
            continue
        current = Message(author.strip("\u200e\u202a\u202c "), body, lineno)
        current.time = _whatsapp_time(m["date"], m["time"], dayfirst)
        thread.append(current)
    if not thread:
        raise ChatforgeError(
            f"{source}: no WhatsApp messages (lines like '12/31/23, 21:15 - Name: text'); "
            "export the chat without media and pass the .txt"
        )
    for message in thread:
        message.text = "" if _WHATSAPP_MEDIA.match(message.text.strip()) else message.text
    yield from _owned([(source, thread)], source, ctx)


def _whatsapp_dayfirst(text: str) -> bool:
    """Dates are day-first unless some first field is over 12 (then month-first is wrong)."""
    firsts, seconds = [], []
    for line in text.split("\n")[:2000]:
        m = _WHATSAPP_LINE.match(line)
        if m:
            parts = re.split(r"[./-]", m["date"])
            if len(parts[0]) <= 2:
                firsts.append(int(parts[0]))
                seconds.append(int(parts[1]))
    return not (seconds and max(seconds) > 12) or bool(firsts and max(firsts) > 12)


def _whatsapp_time(date: str, time: str, dayfirst: bool) -> datetime | None:
    parts = [int(p) for p in re.split(r"[./-]", date)]
    if len(str(parts[0])) == 4 or parts[0] > 31:
        year, month, day = parts
    else:
        day, month, year = parts if dayfirst else (parts[1], parts[0], parts[2])
    year += 2000 if year < 100 else 0
    clock = re.sub(r"\s|\.", "", time).upper()
    pm, am = clock.endswith("PM"), clock.endswith("AM")
    hms = [int(p) for p in re.split(r"[:]", clock.rstrip("APM"))]
    hour = hms[0] % 12 + (12 if pm else 0) if (pm or am) else hms[0]
    try:
        return datetime(year, month, day, hour, hms[1], hms[2] if len(hms) > 2 else 0)
    except ValueError:
        return None


# ---------------------------------------------------------------------------- Twitter / X

_LEADING_HANDLES = re.compile(r"^(?:@\w+\s+)+")


def read_twitter(path: Path, source: str, ctx: ReadContext) -> Iterator[Row]:
    """An archive's tweets.js: replies to a tweet in the archive become exchanges, with the
    parent as the user's turn; every other tweet becomes plain text in the owner's voice."""
    raw = _decode(path, source)
    start = raw.find("=")
    if not raw.lstrip().startswith("window.YTD.") or start < 0:
        raise ChatforgeError(
            f"{source}: not a Twitter/X archive file (it should start 'window.YTD.tweets'); "
            "pass data/tweets.js from the archive"
        )
    try:
        items = json.loads(raw[start + 1 :])
    except json.JSONDecodeError as exc:
        raise ChatforgeError(f"{source}: the tweets are not valid JSON ({exc.msg})") from exc
    tweets: dict[str, dict] = {}
    order: list[str] = []
    for i, item in enumerate(items if isinstance(items, list) else [], start=1):
        tweet = item.get("tweet", item) if isinstance(item, dict) else None
        if not isinstance(tweet, dict) or not tweet.get("id_str") or "full_text" not in tweet:
            ctx.skip(source, i, "not a tweet with id_str and full_text (record number)")
            continue
        tweet["_n"] = i
        tweets[tweet["id_str"]] = tweet
        order.append(tweet["id_str"])
    if not tweets:
        raise ChatforgeError(f"{source}: no tweets with id_str and full_text in the archive")
    for tid in order:
        tweet = tweets[tid]
        text = _tweet_text(tweet)
        if text.startswith("RT @"):
            ctx.dropped["retweet"] += 1
            continue
        parent = tweets.get(str(tweet.get("in_reply_to_status_id_str") or ""))
        where = f"{source}#{tweet['_n']}"
        if parent is not None:
            messages = chat_messages([("user", _tweet_text(parent)), ("assistant", text)])
            yield Row(f"{source}#{tid}", where, messages)
        else:
            yield Row(f"{source}#{tid}", where, text=text)


def _tweet_text(tweet: dict) -> str:
    return _LEADING_HANDLES.sub("", str(tweet.get("full_text") or "")).strip()
