"""Plain text files for the knowledge base: one section, or one per form-feed page."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatforge.formats.sections import Mark, one_document, spans
from chatforge.formats.textio import decode, require_text
from chatforge.schema import Document

if TYPE_CHECKING:
    from chatforge.formats.knowledge import LoadOptions


def load_text(data: bytes, path: Path, options: LoadOptions) -> list[Document]:
    """Plain text is one section, or one per form-feed separated page."""
    meta: dict[str, Any] = {}
    text = decode(data, path.suffix.lower(), meta)
    require_text(text)
    marks: list[Mark] = []
    if "\f" in text:
        offset = 0
        for n, page in enumerate(text.split("\f"), start=1):
            marks.append((offset, (f"page {n}",)))
            offset += len(page) + 1
    return one_document(text, path.stem, spans(text, marks), meta)
