"""reStructuredText files for the knowledge base: titles found by their adornment lines.

Titles are line-based (a text line underlined, optionally overlined, by one repeated
punctuation character), so a small scanner finds them without running docutils.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatforge.formats.sections import Mark, line_starts, one_document, push_trail, spans
from chatforge.formats.textio import decode, require_text
from chatforge.schema import Document

if TYPE_CHECKING:
    from chatforge.formats.knowledge import LoadOptions

_ADORNMENT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def load_rst(data: bytes, path: Path, options: LoadOptions) -> list[Document]:
    """reST titles are line-based: a text line underlined (optionally overlined) by one char."""
    meta: dict[str, Any] = {}
    text = decode(data, path.suffix.lower(), meta)
    require_text(text)
    lines = text.split("\n")
    starts = line_starts(text)
    styles: list[tuple[str, bool]] = []
    stack: list[tuple[int, str]] = []
    marks: list[Mark] = []
    title = None
    i = 0
    while i < len(lines):
        found = _title_at(lines, i)
        if found is None:
            i += 1
            continue
        heading, style, used = found
        if style not in styles:
            styles.append(style)
        trail = push_trail(stack, styles.index(style), heading)
        marks.append((starts[i], trail))
        title = title or heading
        i += used
    return one_document(text, title or path.stem, spans(text, marks), meta)


def _is_adornment(line: str) -> bool:
    s = line.rstrip()
    return len(s) >= 2 and s[0] in _ADORNMENT and s == s[0] * len(s)


def _title_at(lines: list[str], i: int) -> tuple[str, tuple[str, bool], int] | None:
    """A title at line i: (heading, (char, overlined), lines used), or None."""
    prev_blank = i == 0 or not lines[i - 1].strip() or _is_adornment(lines[i - 1])
    if not prev_blank:
        return None
    line = lines[i]
    if (
        _is_adornment(line)
        and i + 2 < len(lines)
        and lines[i + 1].strip()
        and not _is_adornment(lines[i + 1])
        and _is_adornment(lines[i + 2])
        and lines[i + 2].rstrip() == line.rstrip()
    ):
        return lines[i + 1].strip(), (line[0], True), 3
    if (
        line.strip()
        and not line[0].isspace()
        and not _is_adornment(line)
        and i + 1 < len(lines)
        and _is_adornment(lines[i + 1])
    ):
        under = len(lines[i + 1].rstrip())
        if under >= len(line.rstrip()) or under >= 4:
            return line.strip(), (lines[i + 1][0], False), 2
    return None
