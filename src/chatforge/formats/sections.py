"""Section arithmetic shared by the knowledge-base loaders.

A loader finds where each heading, page or definition starts (a `Mark`: offset and heading
trail); `spans` turns the marks into `Section`s that are honest spans of the document text,
so a citation can point back into what was extracted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chatforge.schema import Document, Section

Mark = tuple[int, tuple[str, ...]]
"""Where a section starts in the text, and its heading trail (outermost first)."""


def spans(text: str, marks: Iterable[Mark]) -> list[Section]:
    """Sections from start marks: each runs to the next mark, trimmed of outer whitespace.

    A first mark at offset 0 with an empty trail is implied, so text before the first heading
    is covered too; whitespace-only spans are dropped.
    """
    ordered = sorted({m[0]: m for m in [(0, ()), *marks]}.values(), key=lambda m: m[0])
    sections: list[Section] = []
    for i, (start, trail) in enumerate(ordered):
        end = ordered[i + 1][0] if i + 1 < len(ordered) else len(text)
        span = strip_span(text, start, end)
        if span:
            sections.append(Section(span[0], span[1], trail))
    return sections


def strip_span(text: str, start: int, end: int) -> tuple[int, int] | None:
    """`text[start:end]` without its outer whitespace, as offsets; None when all whitespace."""
    piece = text[start:end]
    lead = len(piece) - len(piece.lstrip())
    trail = len(piece) - len(piece.rstrip())
    if lead == len(piece):
        return None
    return start + lead, end - trail


def line_starts(text: str) -> list[int]:
    """The offset at which each line of `text` starts."""
    starts = [0]
    pos = text.find("\n")
    while pos != -1:
        starts.append(pos + 1)
        pos = text.find("\n", pos + 1)
    return starts


def push_trail(stack: list[tuple[int, str]], level: int, title: str) -> tuple[str, ...]:
    """The heading trail after a heading of `level`: deeper or equal headings are closed."""
    while stack and stack[-1][0] >= level:
        stack.pop()
    stack.append((level, title))
    return tuple(t for _, t in stack)


def one_document(
    text: str, title: str, sections: list[Section], meta: dict[str, Any]
) -> list[Document]:
    """A file read as a single document (the pipeline sets its source)."""
    return [Document(source="", text=text, title=title, sections=sections, meta=meta)]
