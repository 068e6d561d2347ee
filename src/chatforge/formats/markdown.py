"""Markdown files for the knowledge base: the source stays the text, headings give sections.

YAML front matter is skipped and may give the title. It is read as hostile input: anchors and
aliases are refused (they let a few hundred bytes expand into gigabytes) and its size is
capped, so a document is never lost, or a process starved, because of its front matter.
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

MAX_FRONT_MATTER = 64 * 1024
"""Characters of front matter read at most; a longer block is left in the text as it is."""
MAX_TITLE = 200
"""A front-matter title longer than this is ignored."""

_FRONT_MATTER = re.compile(
    rf"\A---\n(.{{0,{MAX_FRONT_MATTER}}}?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S
)


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
    """(title, lines of front matter to skip): YAML front matter is not Markdown.

    The title counts only as a plain string of at most `MAX_TITLE` characters. Front matter
    that uses anchors or aliases is skipped without a title; front matter that is not YAML,
    or is longer than `MAX_FRONT_MATTER`, is not front matter and stays in the text.
    """
    match = _FRONT_MATTER.match(text)
    if not match:
        return None, 0
    lines = match.group(0).count("\n")
    try:
        data = yaml.load(match.group(1), Loader=_PlainLoader)
    except _AliasRefused:
        return None, lines
    except (yaml.YAMLError, RecursionError):
        return None, 0
    title = data.get("title") if isinstance(data, dict) else None
    if not isinstance(title, str) or not title.strip() or len(title.strip()) > MAX_TITLE:
        return None, lines
    return title.strip(), lines


def _inline_text(token: Any) -> str:
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline", "image"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return " ".join("".join(parts).split())


class _AliasRefused(yaml.YAMLError):
    """Front matter with an anchor or an alias."""


class _PlainLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses anchors and aliases before it builds any node."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _AliasRefused("anchors and aliases are not allowed in front matter")
        return super().compose_node(parent, index)
