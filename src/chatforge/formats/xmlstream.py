"""Large XML files (StackExchange Posts.xml, Wikipedia dumps) streamed record by record, past
damage.

A dump of gigabytes with one bad element, or cut off by a download that stopped, still holds
millions of good records, so parsing recovers (lxml's `recover`) instead of stopping. A record
whose lines the parser had to repair is reported with its line and left out, since its content
may be half of what was written; a cut-off file (a truncated bz2) is reported once and what came
before it is kept. Each record is cleared once read, so memory stays flat whatever the size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from lxml import etree

from chatforge.errors import LoadError

Report = Callable[[int | None, str], None]
"""Where a reader notes a record it left out: (line or record number, one-line reason)."""


def ignore(_line: int | None, _reason: str) -> None:
    """The report of a caller that does not keep them."""


@dataclass
class Record:
    """A complete element of one of the wanted tags; `problem` is set when it was repaired."""

    tag: str
    element: Any
    line: int
    problem: str | None


def local(tag: Any) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def records(
    stream: BinaryIO,
    wanted: frozenset[str],
    check_root: Callable[[str], None],
    report: Report,
    fix: str,
) -> Iterator[Record]:
    """The elements named in `wanted`, each as soon as its end tag is read.

    `check_root` gets the root's name and raises `LoadError` for a file of another kind. A file
    with no element at all, or cut off before its first record, is a `LoadError` ending with
    `fix`; a cut later on is reported and ends the records.
    """
    parser = etree.iterparse(
        stream, events=("start", "end"), recover=True, huge_tree=True, remove_comments=True
    )
    root = None
    errors: list[tuple[int, str]] = []
    seen = 0
    found = 0
    line = 0
    try:
        for event, element in parser:
            if root is None:
                root = element
                check_root(local(element.tag))
            if event != "end" or local(element.tag) not in wanted:
                continue
            log = parser.error_log
            errors.extend((e.line, e.message) for e in list(log)[seen:])
            seen = len(log)
            line = element.sourceline or 0
            last = _last_line(element)
            problem = next((m for n, m in errors if line <= n <= last), None)
            errors = [(n, m) for n, m in errors if n > last]
            found += 1
            yield Record(local(element.tag), element, line, problem)
            element.clear(keep_tail=True)
            while element.getprevious() is not None:  # records already read
                del element.getparent()[0]
    except etree.XMLSyntaxError as exc:
        if root is None:
            raise LoadError(f"no XML in it (empty or not XML); {fix}") from exc
        report(exc.lineno, f"malformed XML ({exc.msg}); the rest of the file is not read")
    except (EOFError, OSError) as exc:  # bz2: EOFError when cut off, OSError for bad data
        what = "cut off" if isinstance(exc, EOFError) else f"damaged ({exc})"
        if not found:
            raise LoadError(f"the bz2 file is {what} before its first record; {fix}") from exc
        report(
            line or None,
            f"the bz2 file is {what} after line {line}: what came before is kept; "
            f"{fix} for the rest",
        )
    if root is None:
        raise LoadError(f"no XML in it (an empty file); {fix}")


def _last_line(element: Any) -> int:
    """The line of the element's end: its last descendant's line plus the lines of its text."""
    last = element.sourceline or 0
    for node in element.iter():
        start = node.sourceline or last
        last = max(last, start + (node.text or "").count("\n"))
    return last
