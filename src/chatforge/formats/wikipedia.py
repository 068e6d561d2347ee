"""Wikipedia articles from a pages-articles XML dump or a saved dataset of articles.

A dump (`.xml`, or `.xml.bz2` as published) is streamed page by page with `iterparse`, each
page cleared once read, so a dump of any size is never held whole; only main-namespace
articles are kept and redirects are skipped. A saved dataset (a `save_to_disk` folder, or
parquet/arrow files) is read batch by batch from its `title` and `text` columns. Each article
becomes one `Document` (see `wikitext`), for the knowledge base and for training rows alike.
"""

from __future__ import annotations

import bz2
import io
import json
from collections.abc import Iterator
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from chatforge.errors import LoadError
from chatforge.formats.wikitext import article_document, is_redirect
from chatforge.formats.xmlstream import Report, ignore, local, records
from chatforge.schema import Document

if TYPE_CHECKING:
    from chatforge.formats.knowledge import LoadOptions

DUMP_SUFFIXES = frozenset({".xml", ".bz2"})
TABLE_SUFFIXES = frozenset({".parquet", ".arrow"})
_HIDDEN_NAMESPACES = ("6", "14")  # File and Category, named in the dump's own language
_FIX_DUMP = "download the pages-articles dump again"
_RECORDS = frozenset({"page", "namespace"})


def articles(path: Path, limit: int | None = None, report: Report = ignore) -> Iterator[Document]:
    """Each article of a dump, a saved dataset folder or a parquet/arrow file, up to `limit`."""
    if path.is_dir() or path.suffix.lower() in TABLE_SUFFIXES:
        found = _table_articles(path)
    else:
        report, problems = _noted(report)
        found = dump_articles(path, report)
        return _at_least_one(islice(found, limit), problems)
    return _at_least_one(islice(found, limit))


def load_dump(data: bytes, path: Path, options: LoadOptions) -> list[Document]:
    """A dump in memory (an attachment): one document per article, decompressed as read."""
    report, problems = _noted(options.report)
    found = _dump_articles(io.BytesIO(data), path.suffix.lower() == ".bz2", report)
    return list(_at_least_one(islice(found, options.max_articles), problems))


def stream_dump(path: Path, options: LoadOptions) -> Iterator[Document]:
    """The knowledge base's loader of a dump file: one article at a time, never the whole file."""
    report, problems = _noted(options.report)
    found = dump_articles(path, report)
    return _at_least_one(islice(found, options.max_articles), problems)


def load_table(data: bytes, path: Path, options: LoadOptions) -> list[Document]:
    """The knowledge base's loader of a parquet or arrow file of title and text columns."""
    found = _table_articles(path, data)
    return list(_at_least_one(islice(found, options.max_articles)))


def has_article_columns(path: Path) -> bool:
    """Whether a saved dataset folder or a parquet/arrow file has `title` and `text` columns."""
    try:
        names = _columns(path)
    except LoadError:
        return False
    return {"title", "text"} <= set(names)


def _noted(report: Report) -> tuple[Report, list[str]]:
    """`report`, also keeping what it was told, for the error of a dump with nothing left."""
    problems: list[str] = []

    def both(line: int | None, reason: str) -> None:
        problems.append(f"line {line}: {reason}" if line else reason)
        report(line, reason)

    return both, problems


def _at_least_one(
    docs: Iterator[Document], problems: list[str] | None = None
) -> Iterator[Document]:
    n = 0
    for doc in docs:
        n += 1
        yield doc
    if not n and problems:
        raise LoadError(f"no article could be read ({problems[0]}); {_FIX_DUMP}")
    if not n:
        raise LoadError(
            "no articles in it (only redirects, other namespaces or empty pages); "
            "give a pages-articles dump or a dataset of title and text columns"
        )


# ---------------------------------------------------------------------------- XML dumps


def dump_articles(path: Path, report: Report = ignore) -> Iterator[Document]:
    """Each article of a dump file, read as a stream (see `xmlstream` for damaged files)."""
    return _dump_articles(path.open("rb"), path.suffix.lower() == ".bz2", report)


def _dump_articles(raw: BinaryIO, compressed: bool, report: Report) -> Iterator[Document]:
    with raw, bz2.open(raw) if compressed else raw as opened:
        stream = _EachBlock(opened) if compressed else opened
        hidden: list[str] = []
        for record in records(stream, _RECORDS, _check_root, report, _FIX_DUMP):
            element = record.element
            if record.tag == "namespace":
                if element.get("key") in _HIDDEN_NAMESPACES and element.text:
                    hidden.append(element.text)
                continue
            title = _child_text(element, "title")
            if record.problem:
                report(record.line, f"page {title!r} skipped: malformed XML ({record.problem})")
                continue
            doc = _page_document(element, title, hidden)
            if doc is not None:
                yield doc


class _EachBlock:
    """A bz2 file read as it decompresses: a plain read fills its whole buffer first, so the
    data before a cut would be lost with the error."""

    def __init__(self, f: Any) -> None:
        self.f = f

    def read(self, size: int = -1) -> bytes:
        return self.f.read1(size if size > 0 else io.DEFAULT_BUFFER_SIZE)


def _check_root(tag: str) -> None:
    if tag != "mediawiki":
        raise LoadError(
            f"not a MediaWiki XML dump (its root is <{tag}>); give a pages-articles "
            "dump (.xml or .xml.bz2)"
        )


def _child_text(element: Any, name: str) -> str:
    return next((c.text or "" for c in element if local(c.tag) == name), "")


def _page_document(page: Any, title: str, hidden: list[str]) -> Document | None:
    fields = {local(child.tag): child for child in page}
    if (fields.get("ns") is not None and (fields["ns"].text or "").strip() != "0") or (
        "redirect" in fields
    ):
        return None
    revision = fields.get("revision")
    text = _child_text(revision, "text") if revision is not None else ""
    if not text.strip() or not title or is_redirect(text):
        return None
    return article_document(title, text, hidden)


# ---------------------------------------------------------------------------- saved datasets


def _table_files(path: Path) -> list[Path]:
    if not path.is_dir():
        return [path]
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in TABLE_SUFFIXES)
    if not files:
        raise LoadError("no .arrow or .parquet files in this folder; is it a saved dataset?")
    return files


def _batches(file: Path, data: bytes | None = None) -> Iterator[Any]:
    """Record batches of one parquet or arrow file (from `data` when given), read lazily."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise LoadError(
            "reading datasets needs pyarrow: pip install 'chatforge[finetune]'"
        ) from exc
    try:
        source = pa.BufferReader(data) if data is not None else pa.memory_map(str(file))
        if file.suffix.lower() == ".parquet":
            table = pq.ParquetFile(source)
            wanted = [c for c in ("title", "text") if c in table.schema_arrow.names]
            yield from table.iter_batches(columns=wanted if len(wanted) == 2 else None)
            return
        try:
            yield from pa.ipc.open_stream(source)  # what save_to_disk writes
        except pa.ArrowInvalid:
            source.seek(0)
            reader = pa.ipc.open_file(source)
            yield from (reader.get_batch(i) for i in range(reader.num_record_batches))
    except (pa.ArrowException, OSError, KeyError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise LoadError(f"{file.name}: not a readable dataset file ({reason})") from exc


def _columns(path: Path) -> list[str]:
    """Column names, from a saved folder's dataset_info.json or the first file's first batch."""
    if path.is_dir():
        for info in [path / "dataset_info.json", *sorted(path.glob("*/dataset_info.json"))]:
            try:
                return list(json.loads(info.read_text(encoding="utf-8")).get("features") or {})
            except (OSError, ValueError, AttributeError):
                continue
    first = next(_batches(_table_files(path)[0]), None)
    return list(first.schema.names) if first is not None else []


def _table_articles(path: Path, data: bytes | None = None) -> Iterator[Document]:
    files = [path] if data is not None else _table_files(path)
    for file in files:
        batches = _batches(file, data)
        first = next(batches, None)
        columns = list(first.schema.names) if first is not None else []
        if not {"title", "text"} <= set(columns):
            raise LoadError(
                f"no title and text columns (it has {', '.join(columns) or 'none'}); "
                "a dataset of Wikipedia articles needs both"
            )
        for batch in chain([first], batches):
            rows = batch.select(["title", "text"]).to_pydict()
            for title, text in zip(rows["title"], rows["text"], strict=True):
                if title and text and text.strip() and not is_redirect(text):
                    yield article_document(str(title), str(text))
