"""Open chat datasets as training rows: Alpaca, ShareGPT, OpenAI messages, UltraChat,
OpenAssistant trees, and folders saved by Hugging Face `datasets`.

Each record shape has one converter to role/content messages, used both for JSON files and
for the rows of a saved dataset folder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from chatforge.errors import ChatforgeError
from chatforge.formats.doc_rows import text_rows
from chatforge.formats.records import good_records
from chatforge.formats.rows import ReadContext, Row, chat_messages, content_text


def per_record(
    convert: Callable[[Any], list[dict[str, str]] | None], shape: str
) -> Callable[[Path, str, ReadContext], Iterator[Row]]:
    """A reader for datasets where each record is one conversation."""

    def reader(path: Path, source: str, ctx: ReadContext) -> Iterator[Row]:
        found = 0
        keys: list[str] | None = None
        for line, record in good_records(path, source, ctx):
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


def alpaca_messages(rec: dict) -> list[dict[str, str]] | None:
    """instruction (+ input) → user, output → assistant; an optional system prompt first."""
    if "instruction" not in rec or "output" not in rec:
        return None
    prompt = "\n\n".join(
        p for p in (content_text(rec["instruction"]), content_text(rec.get("input"))) if p
    )
    return chat_messages(
        [
            ("system", content_text(rec.get("system"))),
            ("user", prompt),
            ("assistant", content_text(rec["output"])),
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
    """ShareGPT's `conversations` of from/value turns, after an optional system prompt."""
    pairs = _turns(rec, "conversations", ("from", "value"), _sharegpt_role)
    if pairs is None:
        return None
    if rec.get("system"):
        pairs.insert(0, ("system", content_text(rec["system"])))
    return chat_messages(pairs)


def openai_messages(rec: dict) -> list[dict[str, str]] | None:
    """OpenAI-style messages; tool calls and tool results are left out."""
    pairs = _turns(rec, "messages", ("role", "content"), _openai_role)
    return None if pairs is None else chat_messages(pairs)


def _sharegpt_role(value: Any) -> str | None:
    return _SHAREGPT_ROLES.get(str(value if value is not None else "").lower())


def _openai_role(value: Any) -> str | None:
    role = {"human": "user", "model": "assistant"}.get(value, value)
    if role in ("tool", "function", "ipython"):
        return ""
    return role if role in ("system", "user", "assistant") else None


def _turns(
    rec: dict, key: str, fields: tuple[str, str], role_of: Callable[[Any], str | None]
) -> list[tuple[str, str]] | None:
    """(role, text) of a record's list of turns, or None when it has none or a turn is not
    understood; `role_of` names a turn's role ("" for a turn to leave out, None if unknown)."""
    turns = rec.get(key)
    if not isinstance(turns, list) or not all(isinstance(t, dict) for t in turns):
        return None
    role_key, text_key = fields
    pairs = []
    for t in turns:
        role = role_of(t.get(role_key))
        if role == "":
            continue
        if role is None or text_key not in t:
            return None
        pairs.append((role, content_text(t[text_key])))
    return pairs


def ultrachat_messages(rec: dict) -> list[dict[str, str]] | None:
    """UltraChat's `data`: alternating user and assistant turns as plain strings."""
    data = rec.get("data")
    if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
        return None
    return chat_messages(("user" if i % 2 == 0 else "assistant", x) for i, x in enumerate(data))


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
    for line, rec in good_records(path, source, ctx):
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
                ("assistant" if role == "assistant" else "user", content_text(nodes[mid]["text"]))
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
                yield from text_rows(rec["text"], f"{tag}#{i}", f"{tag}#{i}", ctx)
            else:
                ctx.skip(tag, i, "no messages, conversations, instruction/output or text")
    if not found:
        raise ChatforgeError(
            f"{source}: no usable columns (it has {', '.join(columns) or 'none'}); a dataset "
            "needs messages, conversations, instruction/output, data or text"
        )
