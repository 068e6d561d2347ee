"""Source code files for the knowledge base: one section per top-level definition.

Python is read with `ast`; other languages by an indentation rule (a column-0 block with an
indented body), which finds functions, classes and blocks in most C-like and scripting
languages without a parser per language.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatforge.formats.sections import Mark, line_starts, one_document, spans
from chatforge.formats.textio import decode, require_text
from chatforge.schema import Document

if TYPE_CHECKING:
    from chatforge.formats.knowledge import LoadOptions

CODE_EXTENSIONS = frozenset(
    {
        ".py",
        ".pyi",
        ".js",
        ".jsx",
        ".mjs",
        ".cjs",
        ".ts",
        ".tsx",
        ".go",
        ".rs",
        ".java",
        ".kt",
        ".kts",
        ".scala",
        ".c",
        ".h",
        ".cc",
        ".cpp",
        ".cxx",
        ".hpp",
        ".hh",
        ".cs",
        ".swift",
        ".php",
        ".rb",
        ".sh",
        ".bash",
        ".zsh",
        ".lua",
        ".pl",
        ".r",
        ".sql",
    }
)


def load_code(data: bytes, path: Path, options: LoadOptions) -> list[Document]:
    """Sections at top-level definitions: `ast` for Python, an indentation rule for others."""
    ext = path.suffix.lower()
    meta: dict[str, Any] = {"language": ext.lstrip(".")}
    text = decode(data, ext, meta)
    require_text(text)
    marks = None
    if ext in (".py", ".pyi"):
        marks = _python_marks(text)
    if marks is None:
        marks = _indent_marks(text)
    return one_document(text, path.stem, spans(text, marks), meta)


def _python_marks(text: str) -> list[Mark] | None:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    lines = text.split("\n")
    starts = line_starts(text)
    marks: list[Mark] = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
        while first > 0 and lines[first - 1].startswith("#"):
            first -= 1
        kind = "class" if isinstance(node, ast.ClassDef) else "def"
        marks.append((starts[first], (f"{kind} {node.name}",)))
        end_line = node.end_lineno or node.lineno
        if end_line < len(starts):
            marks.append((starts[end_line], ()))
    return marks


_CLOSING_WORDS = frozenset({"end", "fi", "esac", "done"})


def _indent_marks(text: str) -> list[Mark]:
    """A definition is a column-0 block after a blank line with indented lines inside it."""
    lines = text.split("\n")
    starts = line_starts(text)
    blocks = [i for i in range(len(lines)) if _block_start(lines, i)]
    marks: list[Mark] = []
    in_definition = False
    for k, first in enumerate(blocks):
        end = blocks[k + 1] if k + 1 < len(blocks) else len(lines)
        if any(line[:1].isspace() and line.strip() for line in lines[first + 1 : end]):
            marks.append((starts[first], (_signature(lines, first, end),)))
            in_definition = True
        elif in_definition:
            marks.append((starts[first], ()))
            in_definition = False
    return marks


def _block_start(lines: list[str], i: int) -> bool:
    line = lines[i]
    if not line.strip() or line[0].isspace() or (i > 0 and lines[i - 1].strip()):
        return False
    return not line.startswith(("}", ")", "]")) and line.split()[0] not in _CLOSING_WORDS


_COMMENT_PREFIXES = ("//", "#", "/*", "*", "--", "%")


def _signature(lines: list[str], start: int, end: int) -> str:
    for line in lines[start:end]:
        s = line.strip()
        if s and not s.startswith(_COMMENT_PREFIXES):
            return s.rstrip("{:").strip()[:80] or s[:80]
    return lines[start].strip()[:80]
