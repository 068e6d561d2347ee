"""Training-set preparation's entry point: name a source's format, then read it into rows.

`detect` names the format of a path from its extension and, for JSON, CSV and text, from
what is inside. `read` dispatches to the format's reader. Records a reader cannot use are
noted with their line (or record) number and skipped; a file of an unexpected shape as a
whole is a one-line `ChatforgeError` that starts with the source.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from chatforge.errors import ChatforgeError, LoadError
from chatforge.formats import (
    datasets,
    doc_rows,
    mail_pairs,
    sheets,
    stackexchange,
    tickets,
    wikipedia,
)
from chatforge.formats.code import CODE_EXTENSIONS
from chatforge.formats.exports import discord, telegram, twitter, whatsapp
from chatforge.formats.folders import HF_MARKERS
from chatforge.formats.mail import MAIL_EXTENSIONS
from chatforge.formats.records import json_records
from chatforge.formats.rows import ReadContext, Row
from chatforge.formats.textio import head

FORMATS = (
    "markdown",
    "text",
    "html",
    "pdf",
    "rst",
    "csv",
    "tsv",
    "excel",
    "tickets",
    "discord",
    "telegram",
    "whatsapp",
    "twitter",
    "email",
    "stackexchange",
    "wikipedia",
    "code",
    "alpaca",
    "sharegpt",
    "oasst",
    "ultrachat",
    "messages",
    "hf",
)
DOC_FORMATS = {"markdown", "text", "html", "pdf", "rst", "code"}
PLAIN_TEXT_FORMATS = DOC_FORMATS | {"email", "stackexchange", "wikipedia"}
"""Formats whose readers already give plain text: what looks like a tag in it is content
(`std::vector<int>`, `a<b && c>d`), not HTML to strip."""
KNOWN_SUFFIXES = frozenset(
    {".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".rst", ".csv", ".tsv", ".xlsx"}
    | {".xlsm", ".json", ".jsonl", ".ndjson", ".js", ".xml"}
    | MAIL_EXTENSIONS
    | wikipedia.DUMP_SUFFIXES
    | wikipedia.TABLE_SUFFIXES
    | CODE_EXTENSIONS
)
"""Extensions a folder is searched for when the format is detected."""
_BY_SUFFIX = {
    **dict.fromkeys(CODE_EXTENSIONS, "code"),
    **dict.fromkeys(wikipedia.DUMP_SUFFIXES | wikipedia.TABLE_SUFFIXES, "wikipedia"),
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
    ".rst": "rst",
    ".csv": "csv",
    ".tsv": "tsv",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".js": "twitter",
    **dict.fromkeys(MAIL_EXTENSIONS, "email"),
}

_XML_FORMATS = {"posts": "stackexchange", "mediawiki": "wikipedia"}
"""Formats of XML files by their root element."""

Reader = Callable[[Path, str, ReadContext], Iterator[Row]]


def is_hf_folder(path: Path) -> bool:
    """Whether `path` is a folder saved by `datasets.save_to_disk`."""
    return path.is_dir() and any((path / m).is_file() for m in HF_MARKERS)


def whole_folder_format(path: Path) -> str | None:
    """The format of a folder read as one source: a saved HF dataset, a StackExchange dump
    (by its Posts.xml), or mail files only (so replies pair up across files); else None."""
    if not path.is_dir():
        return None
    if is_hf_folder(path):
        return "wikipedia" if wikipedia.has_article_columns(path) else "hf"
    if (path / stackexchange.POSTS_FILE).is_file():
        return "stackexchange"
    known = [p.suffix.lower() for p in path.rglob("*") if p.suffix.lower() in KNOWN_SUFFIXES]
    return "email" if known and set(known) <= MAIL_EXTENSIONS else None


def detect(path: Path) -> str:
    """The format of `path`, or a one-line error saying to pass --format."""
    if path.is_dir():
        fmt = whole_folder_format(path)
        if fmt:
            return fmt
        raise ChatforgeError(
            f"{path}: a folder that is not a saved HF dataset, a StackExchange dump or mail"
        )
    suffix = path.suffix.lower()
    try:
        if suffix in (".json", ".jsonl", ".ndjson"):
            return _detect_json(path)
        fmt = _BY_SUFFIX.get(suffix)
        if fmt == "text" and whatsapp.looks_like_whatsapp(path):
            return "whatsapp"
        if fmt == "csv" and tickets.looks_like_tickets(_csv_header(path)):
            return "tickets"
        if fmt == "twitter" and not twitter.looks_like_twitter(path):
            fmt = "code"
        if suffix == ".xml":
            with path.open("rb") as f:
                fmt = _XML_FORMATS.get(stackexchange.xml_root(f))
    except LoadError as exc:
        raise ChatforgeError(f"{path}: {exc}") from exc
    if fmt is None:
        raise ChatforgeError(
            f"{path}: cannot tell its format from '{suffix or path.name}'; "
            f"pass --format (one of {', '.join(FORMATS)})"
        )
    return fmt


def read(path: Path, source: str, fmt: str, ctx: ReadContext) -> Iterator[Row]:
    """Rows of one source in format `fmt` (never "auto")."""
    readers: dict[str, Reader] = {
        **{f: lambda p, s, c, f=f: doc_rows.read_docs(p, s, c, f) for f in DOC_FORMATS},
        "csv": sheets.read_qa_sheet,
        "tsv": sheets.read_qa_sheet,
        "excel": sheets.read_qa_sheet,
        "tickets": tickets.read_tickets,
        "discord": discord.read_discord,
        "telegram": telegram.read_telegram,
        "whatsapp": whatsapp.read_whatsapp,
        "twitter": twitter.read_twitter,
        "email": mail_pairs.read_mail_pairs,
        "stackexchange": stackexchange.read_posts,
        "wikipedia": doc_rows.read_articles,
        "alpaca": datasets.per_record(datasets.alpaca_messages, "instruction and output"),
        "sharegpt": datasets.per_record(
            datasets.sharegpt_messages, "conversations of from/value turns"
        ),
        "messages": datasets.per_record(datasets.openai_messages, "messages of role/content turns"),
        "ultrachat": datasets.per_record(
            datasets.ultrachat_messages, "data: a list of alternating turns"
        ),
        "oasst": datasets.read_oasst,
        "hf": datasets.read_hf,
    }
    if fmt not in readers:
        raise ChatforgeError(f"unknown format {fmt!r}; use auto or one of {', '.join(FORMATS)}")
    return _named(readers[fmt](path, source, ctx), source)


def _named(rows: Iterator[Row], source: str) -> Iterator[Row]:
    """The rows, with a file-level problem of the shared readers prefixed by the source."""
    try:
        yield from rows
    except LoadError as exc:
        raise ChatforgeError(f"{source}: {exc}") from exc


def _detect_json(path: Path) -> str:
    records = list(json_records(path, limit=20))
    value = records[0][1] if len(records) == 1 else None
    if isinstance(value, dict) and "messages" in value:
        first = next(iter(value.get("messages") or []), {})
        if "guild" in value or "channel" in value or isinstance(first.get("author"), dict):
            return "discord"
        if "from" in first or "date" in first or value.get("type") in telegram.CHAT_TYPES:
            return "telegram"
    if isinstance(value, dict) and isinstance(value.get("chats"), dict):
        return "telegram"
    for _, record in records:
        shape = _record_shape(record)
        if shape:
            return shape
    keys = next((sorted(r) for _, r in records if isinstance(r, dict)), None)
    seen = f"records with keys {', '.join(keys)}" if keys else "no JSON records"
    raise ChatforgeError(
        f"{path}: cannot tell which dataset this is ({seen}); pass --format "
        "(alpaca, sharegpt, oasst, ultrachat, messages, tickets, discord or telegram)"
    )


def _record_shape(rec: Any) -> str | None:
    if not isinstance(rec, dict):
        return None
    if "message_tree_id" in rec or ("message_id" in rec and "parent_id" in rec):
        return "oasst"
    if isinstance(rec.get("prompt"), dict) and "replies" in rec["prompt"]:
        return "oasst"
    if isinstance(rec.get("conversations"), list):
        return "sharegpt"
    if "instruction" in rec and "output" in rec:
        return "alpaca"
    if isinstance(rec.get("messages"), list):
        return "messages"
    if isinstance(rec.get("data"), list) and all(isinstance(x, str) for x in rec["data"]):
        return "ultrachat"
    if tickets.looks_like_tickets(list(rec)):
        return "tickets"
    return None


def _csv_header(path: Path) -> list[str]:
    text = head(path)
    first = text.splitlines()[0] if text.strip() else ""
    return [h.strip().lower() for h in next(csv.reader([first]), [])]
