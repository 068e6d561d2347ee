"""Markdown files for the knowledge base: the source stays the text, headings give sections.

YAML front matter is skipped and may give the title.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from chatforge.formats.sections import Mark, line_starts, one_document, push_trail, spans
from chatforge.formats.textio import decode, require_text
from chatforge.schema import Document

if TYPE_CHECKING:
    from chatforge.formats.knowledge import LoadOptions

_FRONT_MATTER = re.compile(r"\A---\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)


def load_markdown(data: bytes, path: Path, options: LoadOptions) -> list[Document]:
    """Markdown source stays as the text; markdown-it finds ATX and setext headings."""
    from markdown_it import MarkdownIt

    meta: dict[str, Any] = {}
    text = decode(data, path.suffix.lower(), meta)
    require_text(text)
    title, skip_lines = front_matter_title(text)
    lines = line_starts(text)
    body = text[lines[skip_lines] :] if skip_lines < len(lines) else ""
    tokens = MarkdownIt("commonmark").parse(body)
    marks: list[Mark] = []
    stack: list[tuple[int, str]] = []
    first_h1 = None
    for i, tok in enumerate(tokens):
        if tok.type != "heading_open" or tok.map is None:
            continue
        heading = _inline_text(tokens[i + 1]) if i + 1 < len(tokens) else ""
        level = int(tok.tag[1])
        if level == 1 and first_h1 is None and heading:
            first_h1 = heading
        trail = push_trail(stack, level, heading or f"(untitled h{level})")
        marks.append((lines[tok.map[0] + skip_lines], trail))
    return one_document(text, title or first_h1 or path.stem, spans(text, marks), meta)


def front_matter_title(text: str) -> tuple[str | None, int]:
    """YAML front matter is not Markdown: skip it, and take its `title` if it has one."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return None, 0
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return None, 0
    title = data.get("title") if isinstance(data, dict) else None
    return (str(title).strip() or None) if title else None, match.group(0).count("\n")


def _inline_text(token: Any) -> str:
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline", "image"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return " ".join("".join(parts).split())
