"""The records that flow between the parts: documents, chunks, hits and reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Section:
    """A structural span of a document's text: a heading's body, a page, a row, a definition.

    `trail` is the heading path from the top (e.g. ("Install", "On Debian")); `start`/`end`
    are character offsets into `Document.text`.
    """

    start: int
    end: int
    trail: tuple[str, ...] = ()


@dataclass
class Document:
    """Extracted text of one document, with its structure.

    `source` is the path as the user gave it; `part` tells documents of one file apart
    (e.g. "row 12" of a CSV, "" for a whole file). Sections are ordered, do not overlap and
    lie inside `text`.
    """

    source: str
    text: str
    title: str
    sections: list[Section]
    part: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    """A retrievable span of a document: `text == document.text[start:end]`.

    `context` (title and heading trail) is what the embedder and BM25 see beside the text.
    """

    text: str
    start: int
    end: int
    section: str
    context: str


@dataclass
class Hit:
    """One search result; `start`/`end` point into the document's extracted text."""

    text: str
    score: float
    source: str
    title: str
    section: str
    start: int
    end: int
    chunk_id: int
    doc_id: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FileResult:
    """What happened to one file in an ingest run."""

    path: str
    status: str  # "ingested", "unchanged", "skipped", "failed", "removed"
    reason: str = ""
    documents: int = 0
    chunks: int = 0


@dataclass
class IngestReport:
    """The outcome of `Bot.ingest`: one entry per file seen, plus totals."""

    files: list[FileResult] = field(default_factory=list)
    chunks_embedded: int = 0
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def totals(self) -> dict[str, int]:
        return {s: self.count(s) for s in ("ingested", "unchanged", "skipped", "failed", "removed")}

    def to_dict(self) -> dict[str, Any]:
        return {
            "totals": self.totals,
            "chunks_embedded": self.chunks_embedded,
            "seconds": round(self.seconds, 3),
            "files": [asdict(f) for f in self.files],
        }
