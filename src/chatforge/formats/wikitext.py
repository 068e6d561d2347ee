"""Wiki markup to clean text with sections, by mwparserfromhell.

An article's text starts with its title, then each `== Heading ==` on a line of its own
followed by its body, so a `Section` is an honest span of the text and chunks carry their
headings. Templates (infoboxes, citations), references, comments, files and images,
categories and behaviour switches are left out; a table becomes one line per row, its cells
joined by " | ", which reads better in a passage than a run of numbers.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from typing import Any

from chatforge.formats.sections import Mark, push_trail, spans
from chatforge.schema import Document

FILE_NAMESPACES = frozenset({"file", "image", "media", "fichier", "média"})
CATEGORY_NAMESPACES = frozenset({"category", "catégorie"})
"""Link prefixes left out when a dump does not name its own (English and French defaults)."""
REDIRECT = re.compile(r"^\s*#\s*(?:redirect|redirection)\b", re.I)
_SWITCH = re.compile(r"__[A-Z]+__")
_SPACES = re.compile(r"[ \t]+")
_BLANKS = re.compile(r"\n{3,}")


def is_redirect(markup: str) -> bool:
    return bool(REDIRECT.match(markup))


def article_document(
    title: str, markup: str, hidden_prefixes: Iterable[str] = (), meta: dict[str, Any] | None = None
) -> Document:
    """One article as a Document: title first, then each section's heading and clean text.

    `hidden_prefixes` are extra link namespaces to leave out (a dump's localized names for
    files and categories).
    """
    import mwparserfromhell

    hidden = FILE_NAMESPACES | CATEGORY_NAMESPACES | {p.casefold() for p in hidden_prefixes}
    code = mwparserfromhell.parse(markup)
    parts = [title.strip()]
    marks: list[Mark] = []
    stack: list[tuple[int, str]] = []
    offset = len(parts[0]) + 2
    for section in code.get_sections(flat=True, include_lead=True):
        headings = section.filter_headings(recursive=False)
        heading = headings[0] if headings and section.index(headings[0]) == 0 else None
        if heading is not None:
            section.remove(heading)
            name = clean_text(heading.title, hidden)
            marks.append((offset, push_trail(stack, heading.level, name)))
        body = clean_text(section, hidden)
        piece = "\n".join(p for p in (name if heading is not None else "", body) if p)
        if piece:
            parts.append(piece)
            offset += len(piece) + 2
    text = "\n\n".join(parts)
    return Document(
        source="",
        text=text,
        title=title,
        sections=spans(text, marks),
        part=title,
        meta=meta or {},
    )


def clean_text(wikicode: Any, hidden: frozenset[str]) -> str:
    """Plain text of a piece of wikicode, without the parts a reader does not see."""
    for link in wikicode.filter_wikilinks():
        prefix, colon, _ = str(link.title).strip().lstrip(":").partition(":")
        if colon and prefix.strip().casefold() in hidden:
            _remove(wikicode, link)
    for table in wikicode.filter_tags(matches=lambda t: str(t.tag).lower() == "table"):
        _replace(wikicode, table, _table_text(table, hidden))
    text = wikicode.strip_code(normalize=True, collapse=True)
    text = _SWITCH.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def _table_text(table: Any, hidden: frozenset[str]) -> str:
    """One line per row; a header row written without `|-` is a row too."""
    rows: list[list[str]] = []
    loose: list[str] = []
    for node in table.contents.filter_tags(recursive=False):
        tag = str(node.tag).lower()
        if tag in ("th", "td"):
            loose.append(clean_text(node.contents, hidden))
        elif tag == "tr":
            if loose:
                rows.append(loose)
                loose = []
            cells = node.contents.filter_tags(recursive=False)
            rows.append(
                [clean_text(c.contents, hidden) for c in cells if str(c.tag) in ("th", "td")]
            )
    if loose:
        rows.append(loose)
    lines = [" | ".join(c for c in row if c) for row in rows]
    return "\n" + "\n".join(line for line in lines if line) + "\n"


def _remove(wikicode: Any, node: Any) -> None:
    with contextlib.suppress(ValueError):  # already gone with a node that held it
        wikicode.remove(node)


def _replace(wikicode: Any, node: Any, text: str) -> None:
    with contextlib.suppress(ValueError):
        wikicode.replace(node, text)
