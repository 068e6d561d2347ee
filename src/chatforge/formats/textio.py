"""Bytes to text, once for every format: size checks, encoding guesses, newlines.

Both the knowledge base (file → documents) and training-set preparation (file → rows) read
files through these helpers, so a file is refused, or its encoding guessed, the same way in
both. Problems raise `LoadError` with a short lower-case reason; callers prefix the path.
"""

from __future__ import annotations

import codecs
import unicodedata
from pathlib import Path
from typing import Any

from chatforge.errors import LoadError

ALLOWED_CONTROLS = frozenset("\t\n\r\f")
"""Control characters that belong in text (tabs, line and page breaks)."""


def check_size(path: Path, max_mb: float) -> int:
    """The file's size in bytes, refused above `max_mb` (ingest.max_file_mb) or when empty."""
    size = path.stat().st_size
    if size > max_mb * 1024 * 1024:
        raise LoadError(
            f"larger than {max_mb:g} MB (ingest.max_file_mb); split it or raise the limit"
        )
    if size == 0:
        raise LoadError("empty file")
    return size


def read_bytes(path: Path, max_mb: float | None = None) -> bytes:
    """The file's bytes; the size is checked first, so a huge file never lands in memory."""
    try:
        if max_mb is not None:
            check_size(path, max_mb)
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise LoadError("file not found") from exc
    except IsADirectoryError as exc:
        raise LoadError("is a directory, not a file") from exc
    except PermissionError as exc:
        raise LoadError("permission denied") from exc
    except OSError as exc:
        raise LoadError(f"cannot read the file ({exc.strerror or exc})") from exc


def read_text(path: Path, max_mb: float | None = None) -> str:
    """The file decoded by `decode`, with Unix newlines."""
    return decode(read_bytes(path, max_mb), path.suffix.lower())


def head(path: Path, n: int = 4096) -> str:
    """The first `n` bytes as text (undecodable bytes replaced), for guessing a file's format."""
    with path.open("rb") as f:
        return f.read(n).decode("utf-8", errors="replace").lstrip("\ufeff")


def has_control_garbage(text: str) -> bool:
    """Whether the text holds control, surrogate or private-use characters, or U+FFFD."""
    return any(
        (unicodedata.category(c) in ("Cc", "Cs", "Co") and c not in ALLOWED_CONTROLS)
        or c == "\ufffd"
        for c in text
    )


def drop_controls(text: str) -> str:
    """The text without control characters other than tabs and line or page breaks."""
    return "".join(c for c in text if c in ALLOWED_CONTROLS or unicodedata.category(c) != "Cc")


def decode(data: bytes, ext: str = "", meta: dict[str, Any] | None = None) -> str:
    """UTF-8 (or UTF-16 with a BOM) with Unix newlines; another encoding only on a sure guess.

    The encoding used, when it is not UTF-8, is noted in `meta["encoding"]`.
    """
    meta = {} if meta is None else meta
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise LoadError("invalid UTF-16 text; re-save it as UTF-8") from exc
        meta["encoding"] = "utf-16"
        return normalize_newlines(text)
    if b"\x00" in data:
        raise LoadError(f"binary content (NUL bytes) in a {ext or 'text'} file")
    try:
        return normalize_newlines(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        bad = data[exc.start]
        guess = guess_encoding(data)
        if guess is None:
            raise LoadError(
                f"not valid UTF-8 (byte 0x{bad:02x} at offset {exc.start}) and its encoding "
                "cannot be guessed with confidence; re-save it as UTF-8"
            ) from exc
        encoding, text = guess
        meta["encoding"] = encoding
        return normalize_newlines(text)


def guess_encoding(data: bytes) -> tuple[str, str] | None:
    """(encoding, text) when charset-normalizer is sure of a legacy encoding, else None."""
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # without a detector, only UTF-8 is accepted
        return None
    matches = from_bytes(data)
    best = matches.best()
    if best is None or best.chaos > 0.1 or best.coherence < 0.2:
        return None
    # Short Western text often ties between code pages (è is č in cp1250): on a tie the
    # Windows default for Western languages wins, as browsers decide for unlabelled pages.
    tied = (m for m in matches if m.chaos <= best.chaos and m.coherence >= best.coherence)
    western = next((m for m in tied if "cp1252" in m.could_be_from_charset), None)
    text = str(western or best)
    if has_control_garbage(text):
        return None
    return ("cp1252" if western else best.encoding), text


def normalize_newlines(text: str) -> str:
    """Windows and old Mac line ends as "\\n"."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def require_text(text: str) -> None:
    """Refuse a file that holds only whitespace."""
    if not text.strip():
        raise LoadError("empty file (only whitespace)")
