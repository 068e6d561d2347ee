"""JSON and JSON Lines: records for the knowledge base, and records for training sets.

The knowledge base makes a document per record, finding its text and title fields by name;
training-set preparation reads the records of a dataset file and hands them to the dataset's
reader. Both decode and parse the file here, so a bad file gets the same message.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatforge.errors import LoadError
from chatforge.formats.rows import ReadContext
from chatforge.formats.sections import strip_span
from chatforge.formats.textio import decode, normalize_newlines, read_text, require_text
from chatforge.schema import Document, Section

if TYPE_CHECKING:
    from chatforge.formats.knowledge import LoadOptions

TEXT_FIELDS = (
    "text",
    "content",
    "body",
    "answer",
    "message",
    "response",
    "output",
    "completion",
    "value",
    "description",
)
"""Record fields that hold a document's text, most likely first."""
TITLE_FIELDS = ("title", "question", "name", "subject", "prompt", "instruction", "q")
_QUESTION_LIKE = frozenset(
    {"question", "questions", "q", "prompt", "query", "faq", "instruction", "input"}
)


def parse_json(text: str, fix: str = "fix the file") -> Any:
    """The JSON value of `text`, or a `LoadError` naming the line and column at fault."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoadError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}; {fix}"
        ) from exc


def json_file(path: Path, fix: str = "fix the file") -> Any:
    """The JSON value of a whole file."""
    return parse_json(read_text(path), fix)


def json_records(path: Path, limit: int | None = None) -> Iterator[tuple[int, Any]]:
    """(line or record number, record or the exception that spoiled it) of a training file.

    A .json file holding one JSON value gives its items (or itself) numbered from 1; anything
    else, and a .json file that is really JSON Lines, is read one record per non-empty line.
    """
    text = read_text(path)
    if path.suffix.lower() == ".json":
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            if not text.lstrip().startswith("{") or "\n" not in text.strip():
                parse_json(text)  # raises, naming where
        else:
            items = value if isinstance(value, list) else [value]
            yield from list(enumerate(items, start=1))[:limit]
            return
    n = 0
    for lineno, line in enumerate(text.split("\n"), start=1):
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


def good_records(path: Path, source: str, ctx: ReadContext) -> Iterator[tuple[int, Any]]:
    """Well-formed JSON records of a training file; malformed lines are noted and skipped."""
    for line, record in json_records(path):
        if isinstance(record, Exception):
            ctx.skip(source, line, str(record))
        else:
            yield line, record


def load_json(data: bytes, path: Path, options: LoadOptions) -> list[Document]:
    """A list of records (or one record, or {"key": [records]}); one document per record."""
    meta: dict[str, Any] = {}
    text = decode(data, ".json", meta)
    require_text(text)
    records = _unwrap_records(parse_json(text))
    numbered = ((f"record {n}", rec) for n, rec in enumerate(records, start=1))
    return _records_to_documents(numbered, path, options, meta)


def load_jsonl(data: bytes, path: Path, options: LoadOptions) -> list[Document]:
    """One record per line; a malformed line is skipped and counted, not fatal."""
    meta: dict[str, Any] = {}
    text = decode(data, ".jsonl", meta)
    require_text(text)
    bad: list[int] = []
    records: list[tuple[str, Any]] = []
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            records.append((f"line {n}", json.loads(line)))
        except json.JSONDecodeError:
            bad.append(n)
    if bad:
        meta["skipped_lines"] = len(bad)
        meta["first_skipped_line"] = bad[0]
    if not records:
        raise LoadError(f"no valid JSON lines ({len(bad)} malformed, the first at line {bad[0]})")
    return _records_to_documents(records, path, options, meta)


def _unwrap_records(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        lists = [
            v
            for v in value.values()
            if isinstance(v, list) and v and all(isinstance(r, dict) for r in v)
        ]
        if len(lists) == 1 and not any(k in value for k in TEXT_FIELDS):
            return lists[0]
        return [value]
    return [value]


def _records_to_documents(
    records: Iterable[tuple[str, Any]], path: Path, options: LoadOptions, meta: dict[str, Any]
) -> list[Document]:
    docs: list[Document] = []
    keys_seen: dict[str, None] = {}
    skipped = 0
    for part, record in records:
        if isinstance(record, dict):
            keys_seen.update(dict.fromkeys(record))
        doc = _record_document(record, path, options)
        if doc is None:
            skipped += 1
            continue
        doc.part = part
        doc.meta = {**meta, **doc.meta}
        docs.append(doc)
    if not docs:
        keys = ", ".join(repr(k) for k in keys_seen) or "(no keys)"
        raise LoadError(
            f"no text field found in the records; their keys are {keys}: set ingest.json_text_field"
        )
    if skipped:
        for doc in docs:
            doc.meta["skipped_records"] = skipped
    return docs


def _record_document(record: Any, path: Path, options: LoadOptions) -> Document | None:
    if isinstance(record, str):
        body = record.strip()
        return _record_doc(body, path.stem, {}) if body else None
    if not isinstance(record, dict):
        return None
    text_key = _field(record, options.json_text_field, TEXT_FIELDS)
    if text_key is None:
        return None
    title_key = _field(record, options.json_title_field, TITLE_FIELDS, exclude=text_key)
    body = _as_text(record[text_key])
    title = " ".join(_as_text(record[title_key]).split()) if title_key else ""
    if title_key and title_key.lower() in _QUESTION_LIKE and title:
        body = "\n\n".join(p for p in (_as_text(record[title_key]), body) if p)
    if not body:
        return None
    fields = {
        k: v
        for k, v in record.items()
        if k not in (text_key, title_key) and isinstance(v, str | int | float | bool)
    }
    return _record_doc(body, title[:200] or path.stem, {"fields": fields} if fields else {})


def _record_doc(body: str, title: str, meta: dict[str, Any]) -> Document:
    body = normalize_newlines(body)
    span = strip_span(body, 0, len(body)) or (0, len(body))
    return Document(source="", text=body, title=title, sections=[Section(*span)], meta=meta)


def _field(
    record: dict[str, Any],
    given: str | None,
    candidates: tuple[str, ...],
    exclude: str | None = None,
) -> str | None:
    by_lower = {k.lower(): k for k in record if k != exclude}
    if given is not None:
        return by_lower.get(given.lower())
    for name in candidates:
        key = by_lower.get(name)
        if key is not None and _as_text(record[key]):
            return key
    return None


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return "\n\n".join(v.strip() for v in value if v.strip())
    return ""
