"""Readers: one per source format, each turning a file (or HF folder) into training rows.

`detect` names the format of a path from its extension and, for JSON, CSV and text, from
what is inside. `read` dispatches to the reader. Records a reader cannot use are noted with
their line (or record) number and skipped; a file of an unexpected shape as a whole is a
one-line `ChatforgeError`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from chatforge.data.rows import (
    Message,
    ReadContext,
    Row,
    chat_messages,
    conversations,
    pick_owner,
)
from chatforge.errors import ChatforgeError
from chatforge.ingest.loaders import ANSWER_COLUMNS, QUESTION_COLUMNS

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
    "alpaca",
    "sharegpt",
    "oasst",
    "ultrachat",
    "messages",
    "hf",
)
DOC_FORMATS = {"markdown", "text", "html", "pdf", "rst"}
_BY_SUFFIX = {
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
}
_HF_MARKERS = ("dataset_dict.json", "dataset_info.json", "state.json")

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


# ---------------------------------------------------------------------------- detection


def detect(path: Path) -> str:
    """The format of `path`, or a one-line error saying to pass --format."""
    if path.is_dir():
        if any((path / m).is_file() for m in _HF_MARKERS):
            return "hf"
        raise ChatforgeError(f"{path}: a folder that is not a saved HF dataset")
    suffix = path.suffix.lower()
    if suffix in (".json", ".jsonl", ".ndjson"):
        return _detect_json(path)
    fmt = _BY_SUFFIX.get(suffix)
    if fmt == "text" and _looks_like_whatsapp(path):
        return "whatsapp"
    if fmt == "csv" and _looks_like_tickets(_csv_header(path)):
        return "tickets"
    if fmt == "twitter" and not _head(path).lstrip().startswith("window.YTD."):
        fmt = None
    if fmt is None:
        raise ChatforgeError(
            f"{path}: cannot tell its format from '{suffix or path.name}'; "
            f"pass --format (one of {', '.join(FORMATS)})"
        )
    return fmt


def _head(path: Path, n: int = 4096) -> str:
    with path.open("rb") as f:
        return f.read(n).decode("utf-8", errors="replace").lstrip("\ufeff")


def _detect_json(path: Path) -> str:
    records = list(_json_records(path, limit=20))
    value = records[0][1] if len(records) == 1 else None
    if isinstance(value, dict) and "messages" in value:
        first = next(iter(value.get("messages") or []), {})
        if "guild" in value or "channel" in value or isinstance(first.get("author"), dict):
            return "discord"
        if "from" in first or "date" in first or value.get("type") in _TELEGRAM_CHATS:
            return "telegram"
    if isinstance(value, dict) and isinstance(value.get("chats"), dict):
        return "telegram"
    shapes = [_record_shape(r) for _, r in records if not isinstance(r, Exception)]
    for shape in shapes:
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
    if _looks_like_tickets(list(rec)):
        return "tickets"
    return None


_WHATSAPP_LINE = re.compile(
    r"^\u200e?\[?(?P<date>\d{1,4}[./-]\d{1,2}[./-]\d{1,4}),?\s+"
    r"(?P<time>\d{1,2}[:.]\d{2}(?:[:.]\d{2})?(?:\s?[APap]\.?\s?[Mm]\.?)?)\]?\s*(?:-\s)?\s*"
    r"(?P<rest>.*)$"
)


def _looks_like_whatsapp(path: Path) -> bool:
    lines = [ln for ln in _head(path).splitlines()[:10] if ln.strip()]
    hits = sum(1 for ln in lines if _WHATSAPP_LINE.match(ln))
    return bool(lines) and hits >= max(1, len(lines) // 2)


def _csv_header(path: Path) -> list[str]:
    text = _head(path)
    first = text.splitlines()[0] if text.strip() else ""
    return [h.strip().lower() for h in next(csv.reader([first]), [])]


def _looks_like_tickets(columns: list[str]) -> bool:
    lower = {c.lower() for c in columns}
    has = [any(c in lower for c in group) for group in (_TICKET_ID, _TICKET_BODY)]
    listed = any(c in lower for c in _TICKET_LIST) and any(c in lower for c in ("id", "subject"))
    return all(has) or listed


# ---------------------------------------------------------------------------- dispatch


def read(path: Path, source: str, fmt: str, ctx: ReadContext) -> Iterator[Row]:
    """Rows of one source in format `fmt` (never "auto")."""
    from chatforge.data import docs, exports

    readers: dict[str, Callable[[Path, str, ReadContext], Iterator[Row]]] = {
        **{f: lambda p, s, c, f=f: docs.read_docs(p, s, c, f) for f in DOC_FORMATS},
        "csv": read_qa_sheet,
        "tsv": read_qa_sheet,
        "excel": read_qa_sheet,
        "tickets": read_tickets,
        "discord": exports.read_discord,
        "telegram": exports.read_telegram,
        "whatsapp": exports.read_whatsapp,
        "twitter": exports.read_twitter,
        "alpaca": _per_record(alpaca_messages, "instruction and output"),
        "sharegpt": _per_record(sharegpt_messages, "conversations of from/value turns"),
        "messages": _per_record(openai_messages, "messages of role/content turns"),
        "ultrachat": _per_record(ultrachat_messages, "data: a list of alternating turns"),
        "oasst": read_oasst,
        "hf": read_hf,
    }
    if fmt not in readers:
        raise ChatforgeError(f"unknown format {fmt!r}; use auto or one of {', '.join(FORMATS)}")
    return readers[fmt](path, source, ctx)


# ---------------------------------------------------------------------------- JSON records


def _json_records(path: Path, limit: int | None = None) -> Iterator[tuple[int, Any]]:
    """(line or record number, record or the exception that spoiled it) of a JSON/JSONL file.

    A .json file holding one array gives its items numbered from 1; anything else is read as
    JSON Lines, one record per non-empty line.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ChatforgeError(f"{path}: not UTF-8 text ({exc.reason}); save it as UTF-8") from exc
    if path.suffix.lower() == ".json":
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            if not text.lstrip().startswith("{") or "\n" not in text.strip():
                raise ChatforgeError(
                    f"{path}: invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg}); "
                    "fix the file"
                ) from exc
        else:
            items = value if isinstance(value, list) else [value]
            yield from list(enumerate(items, start=1))[:limit]
            return
    n = 0
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record: Any = json.loads(line)
        except json.JSONDecodeError as exc:
            record = ValueError(f"malformed JSON ({exc.msg} at column {exc.colno})")
        yield lineno, record
        n += 1
        if limit is not None and n >= limit:
            return


def _records(path: Path, source: str, ctx: ReadContext) -> Iterator[tuple[int, Any]]:
    """Well-formed JSON records; malformed lines are noted and skipped."""
    for line, record in _json_records(path):
        if isinstance(record, Exception):
            ctx.skip(source, line, str(record))
        else:
            yield line, record


def _per_record(
    convert: Callable[[Any], list[dict[str, str]] | None], shape: str
) -> Callable[[Path, str, ReadContext], Iterator[Row]]:
    """A reader for datasets where each record is one conversation."""

    def reader(path: Path, source: str, ctx: ReadContext) -> Iterator[Row]:
        found = 0
        keys: list[str] | None = None
        for line, record in _records(path, source, ctx):
            messages = convert(record) if isinstance(record, dict) else None
            if messages is None:
                if keys is None and isinstance(record, dict):
                    keys = sorted(record)
                ctx.skip(source, line, f"not a record with {shape}")
                continue
            found += 1
            cid = str(record.get("id") or record.get("conversation_id") or line)
            yield Row(f"{source}#{cid}", f"{source}:{line}", messages)
        if not found and keys is not None:
            raise ChatforgeError(
                f"{source}: no records with {shape} (they have {', '.join(keys)}); check --format"
            )

    return reader


def _text(value: Any) -> str:
    """Message content as text: strings as they are, lists of parts joined."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(_text(v.get("text") if isinstance(v, dict) else v) for v in value)
    if isinstance(value, dict):
        return _text(value.get("text") or value.get("content"))
    return str(value)


def alpaca_messages(rec: dict) -> list[dict[str, str]] | None:
    """instruction (+ input) → user, output → assistant; an optional system prompt first."""
    if "instruction" not in rec or "output" not in rec:
        return None
    prompt = "\n\n".join(p for p in (_text(rec["instruction"]), _text(rec.get("input"))) if p)
    return chat_messages(
        [
            ("system", _text(rec.get("system"))),
            ("user", prompt),
            ("assistant", _text(rec["output"])),
        ]
    )


_SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "chatgpt": "assistant",
    "bard": "assistant",
    "bing": "assistant",
    "assistant": "assistant",
    "model": "assistant",
    "system": "system",
}


def sharegpt_messages(rec: dict) -> list[dict[str, str]] | None:
    turns = rec.get("conversations")
    if not isinstance(turns, list) or not all(isinstance(t, dict) for t in turns):
        return None
    pairs = []
    for t in turns:
        role = _SHAREGPT_ROLES.get(str(t.get("from", "")).lower())
        if role is None or "value" not in t:
            return None
        pairs.append((role, _text(t["value"])))
    if rec.get("system"):
        pairs.insert(0, ("system", _text(rec["system"])))
    return chat_messages(pairs)


def openai_messages(rec: dict) -> list[dict[str, str]] | None:
    """OpenAI-style messages; tool calls and tool results are left out."""
    turns = rec.get("messages")
    if not isinstance(turns, list) or not all(isinstance(t, dict) for t in turns):
        return None
    pairs = []
    for t in turns:
        role = {"human": "user", "model": "assistant"}.get(t.get("role"), t.get("role"))
        if role in ("tool", "function", "ipython"):
            continue
        if role not in ("system", "user", "assistant") or "content" not in t:
            return None
        pairs.append((role, _text(t["content"])))
    return chat_messages(pairs)


def ultrachat_messages(rec: dict) -> list[dict[str, str]] | None:
    """UltraChat's `data`: alternating user and assistant turns as plain strings."""
    data = rec.get("data")
    if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
        return None
    return chat_messages(("user" if i % 2 == 0 else "assistant", x) for i, x in enumerate(data))


# ---------------------------------------------------------------------------- OpenAssistant


def read_oasst(path: Path, source: str, ctx: ReadContext) -> Iterator[Row]:
    """OpenAssistant message trees: the best-ranked path from each prompt to a leaf.

    Reads the flat message files (message_id, parent_id, role, rank) and the tree files
    (prompt with nested replies). Deleted or spam-reviewed messages are left out.
    """
    nodes: dict[str, dict] = {}
    children: dict[str | None, list[str]] = {}
    lines: dict[str, int] = {}

    def add(msg: dict, parent: str | None, line: int) -> None:
        mid = str(msg.get("message_id") or f"{line}:{len(nodes)}")
        if msg.get("deleted") or msg.get("review_result") is False:
            return
        nodes[mid] = msg
        lines[mid] = line
        children.setdefault(parent, []).append(mid)
        for reply in msg.get("replies") or []:
            if isinstance(reply, dict):
                add(reply, mid, line)

    found = False
    for line, rec in _records(path, source, ctx):
        if not isinstance(rec, dict):
            ctx.skip(source, line, "not a JSON object")
        elif isinstance(rec.get("prompt"), dict):
            found = True
            add(rec["prompt"], None, line)
        elif "role" in rec and "text" in rec and "message_id" in rec:
            found = True
            parent = rec.get("parent_id")
            add({**rec, "replies": []}, str(parent) if parent else None, line)
        else:
            ctx.skip(source, line, "not an oasst message (message_id, parent_id, role, text)")
    if not found:
        raise ChatforgeError(f"{source}: no oasst messages or trees; check --format")

    def best(parent: str) -> str | None:
        kids = [k for k in children.get(parent, []) if k in nodes]
        if not kids:
            return None
        return min(kids, key=lambda k: (nodes[k].get("rank") is None, nodes[k].get("rank") or 0))

    for root in children.get(None, []):
        path_ids = [root]
        while (nxt := best(path_ids[-1])) is not None:
            path_ids.append(nxt)
        pairs = []
        for mid in path_ids:
            role = nodes[mid].get("role")
            pairs.append(
                ("assistant" if role == "assistant" else "user", _text(nodes[mid]["text"]))
            )
        messages = chat_messages(pairs)
        while messages and messages[-1]["role"] != "assistant":
            messages.pop()
        if not messages:
            ctx.dropped["no assistant reply"] += 1
            continue
        tree = nodes[root].get("message_tree_id") or root
        yield Row(f"{source}#{tree}", f"{source}:{lines[root]}", messages)
    orphans = sum(len(v) for k, v in children.items() if k is not None and k not in nodes)
    if orphans:
        ctx.dropped["reply without its parent"] += orphans


# ---------------------------------------------------------------------------- Q/A sheets


def read_qa_sheet(path: Path, source: str, ctx: ReadContext) -> Iterator[Row]:
    """CSV, TSV or Excel with a question and an answer column: one exchange per row."""
    rows = _sheet_rows(path, source)
    header_line, header = next(rows, (1, []))
    qi, ai = _qa_columns([str(h or "").strip() for h in header], ctx.qa_columns, source)
    for line, row in rows:
        cells = [str(c).strip() if c is not None else "" for c in row]
        if not any(cells):
            continue
        question = cells[qi] if qi < len(cells) else ""
        answer = cells[ai] if ai < len(cells) else ""
        if not question or not answer:
            ctx.skip(source, line, "a question or an answer is empty")
            continue
        yield Row(
            f"{source}#{line}",
            f"{source}:{line}",
            chat_messages([("user", question), ("assistant", answer)]),
        )


def _sheet_rows(path: Path, source: str) -> Iterator[tuple[int, list[Any]]]:
    """(line or spreadsheet row number, cells), header first."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        yield from _excel_rows(path, source)
        return
    text = _decode(path, source)
    if path.suffix.lower() == ".tsv":
        dialect: Any = csv.excel_tab
    else:
        try:
            dialect = csv.Sniffer().sniff(text[:65536], delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ChatforgeError(
                f"{source}: malformed CSV near line {reader.line_num} ({exc})"
            ) from exc
        yield reader.line_num, row


def _excel_rows(path: Path, source: str) -> Iterator[tuple[int, list[Any]]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign file
        raise ChatforgeError(f"{source}: not a readable Excel workbook ({exc})") from exc
    try:
        sheet = book.worksheets[0]
        for n, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield n, list(row)
    finally:
        book.close()


def _decode(path: Path, source: str) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        if best is None:
            raise ChatforgeError(f"{source}: not a text file; save it as UTF-8 CSV") from None
        return str(best)


def _qa_columns(header: list[str], given: tuple[str, str] | None, source: str) -> tuple[int, int]:
    lower = [h.lower() for h in header]
    shown = ", ".join(repr(h) for h in header) or "(none)"
    if given:
        missing = [g for g in given if g.strip().lower() not in lower]
        if missing:
            raise ChatforgeError(
                f"{source}: no column {missing[0]!r} (from --qa-columns); the columns are {shown}"
            )
        return lower.index(given[0].strip().lower()), lower.index(given[1].strip().lower())
    qi = next((lower.index(c) for c in QUESTION_COLUMNS if c in lower), None)
    ai = next((lower.index(c) for c in ANSWER_COLUMNS if c in lower), None)
    if qi is None or ai is None or qi == ai:
        raise ChatforgeError(
            f"{source}: no question and answer columns found; the columns are {shown}: "
            "name them with --qa-columns QUESTION,ANSWER"
        )
    return qi, ai


# ---------------------------------------------------------------------------- tickets


def read_tickets(path: Path, source: str, ctx: ReadContext) -> Iterator[Row]:
    """Support tickets as threads: the agents' replies are the assistant's turns.

    Either one row per message (CSV or JSON Lines with a ticket id, an author and a body) or
    one record per ticket with a list of messages. A role column (agent, customer...) says
    who is the agent; without one, `--me` names the agent, else the most frequent author.
    """
    threads: dict[str, list[Message]] = {}
    subjects: dict[str, str] = {}
    if path.suffix.lower() in (".csv", ".tsv"):
        records: Iterator[tuple[int, Any]] = _csv_dicts(path, source)
    else:
        records = _records(path, source, ctx)
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
    if not threads:
        raise ChatforgeError(
            f"{source}: no ticket messages (need ticket_id, author and body per message, or "
            "tickets with a list of messages); check --format"
        )
    for tid, subject in subjects.items():
        thread = threads.get(tid) or []
        if subject and thread and not thread[0].text.startswith(subject):
            thread[0].text = f"{subject}\n\n{thread[0].text}"
    has_roles = any(m.author in ("\x00agent", "\x00customer") for t in threads.values() for m in t)
    if has_roles:
        owner = {"\x00agent"}
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


def _csv_dicts(path: Path, source: str) -> Iterator[tuple[int, dict]]:
    rows = _sheet_rows(path, source)
    _, header = next(rows, (1, []))
    keys = [str(h).strip().lower() for h in header]
    for line, row in rows:
        if any(c.strip() for c in row):
            yield line, dict(zip(keys, row, strict=False))


def _field(rec: dict, names: tuple[str, ...]) -> Any:
    lower = {str(k).lower(): v for k, v in rec.items()}
    return next((lower[n] for n in names if lower.get(n) not in (None, "")), None)


def _ticket_message(rec: dict, line: int) -> Message | None:
    body = _text(_field(rec, _TICKET_BODY))
    author = _field(rec, _TICKET_AUTHOR)
    if isinstance(author, dict):
        author = author.get("name") or author.get("id")
    role = str(_field(rec, _TICKET_ROLE) or "").strip().lower()
    if not body or (author is None and not role):
        return None
    when = _parse_time(_field(rec, _TICKET_TIME))
    if role:
        marker = "\x00agent" if role in _AGENT_ROLES else "\x00customer"
        return Message(marker, body, line, when, (str(author or role),))
    return Message(str(author), body, line, when)


def _parse_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return datetime.fromtimestamp(float(value))
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return None


# ---------------------------------------------------------------------------- HF folders


def read_hf(path: Path, source: str, ctx: ReadContext) -> Iterator[Row]:
    """A folder saved with `save_to_disk` (one dataset or all splits of a DatasetDict).

    Each row is read by the first record shape it fits: messages, conversations (ShareGPT),
    instruction/output (Alpaca), data (UltraChat), or a plain `text` column.
    """
    from datasets import Dataset, load_from_disk

    try:
        loaded = load_from_disk(str(path))
    except Exception as exc:  # datasets raises several kinds for a foreign folder
        raise ChatforgeError(f"{source}: not a saved HF dataset ({exc})") from exc
    parts = [("", loaded)] if isinstance(loaded, Dataset) else list(loaded.items())
    converters = (openai_messages, sharegpt_messages, alpaca_messages, ultrachat_messages)
    found = 0
    columns: list[str] = []
    for split, ds in parts:
        columns = list(ds.column_names)
        tag = f"{source}/{split}" if split else source
        for i, rec in enumerate(ds, start=1):
            messages = next((m for c in converters if (m := c(rec)) is not None), None)
            if messages is not None:
                found += 1
                yield Row(f"{tag}#{rec.get('id') or i}", f"{tag}#{i}", messages)
            elif isinstance(rec.get("text"), str):
                found += 1
                from chatforge.data.docs import text_rows

                yield from text_rows(rec["text"], f"{tag}#{i}", f"{tag}#{i}", ctx)
            else:
                ctx.skip(tag, i, "no messages, conversations, instruction/output or text")
    if not found:
        raise ChatforgeError(
            f"{source}: no usable columns (it has {', '.join(columns) or 'none'}); a dataset "
            "needs messages, conversations, instruction/output, data or text"
        )


_TELEGRAM_CHATS = {"personal_chat", "private_group", "private_supergroup", "public_supergroup"}
