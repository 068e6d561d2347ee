"""WhatsApp's "Export chat" text files as training conversations.

Lines look like `date, time - Name: text` in the phone's locale (day or month first, 12 or
24 hours), a message continues on the lines that follow, and media show as placeholders.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from chatforge.errors import ChatforgeError
from chatforge.formats.rows import Message, ReadContext, Row, owner_rows
from chatforge.formats.textio import head, read_text

WHATSAPP_LINE = re.compile(
    r"^\u200e?\[?(?P<date>\d{1,4}[./-]\d{1,2}[./-]\d{1,4}),?\s+"
    r"(?P<time>\d{1,2}[:.]\d{2}(?:[:.]\d{2})?(?:\s?[APap]\.?\s?[Mm]\.?)?)\]?\s*(?:-\s)?\s*"
    r"(?P<rest>.*)$"
)
"""The first line of a message (or of a system notice)."""


def looks_like_whatsapp(path: Path) -> bool:
    """Whether most of the first lines of a text file are WhatsApp message lines."""
    lines = [ln for ln in head(path).splitlines()[:10] if ln.strip()]
    hits = sum(1 for ln in lines if WHATSAPP_LINE.match(ln))
    return bool(lines) and hits >= max(1, len(lines) // 2)


_WHATSAPP_MEDIA = re.compile(
    r"^<(?:Media omitted|[\w ]+ omitted|attached: [^>]+)>$|^\u200e?(?:image|video|audio|sticker|"
    r"GIF|document) omitted$|^This message was deleted$|^You deleted this message$",
    re.I,
)


def read_whatsapp(path: Path, source: str, ctx: ReadContext) -> Iterator[Row]:
    """WhatsApp's "Export chat" text: `date, time - Name: text`, continued on later lines."""
    text = read_text(path)
    thread: list[Message] = []
    dayfirst = _whatsapp_dayfirst(text)
    current: Message | None = None
    for lineno, line in enumerate(text.split("\n"), start=1):
        m = WHATSAPP_LINE.match(line)
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
    yield from owner_rows([(source, thread)], source, ctx)


def _whatsapp_dayfirst(text: str) -> bool:
    """Dates are day-first unless some first field is over 12 (then month-first is wrong)."""
    firsts, seconds = [], []
    for line in text.split("\n")[:2000]:
        m = WHATSAPP_LINE.match(line)
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
