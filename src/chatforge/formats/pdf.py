"""PDF files for the knowledge base: one section per page, read with pypdf.

Encrypted, truncated and damaged files are refused with the fix, and a PDF of scanned images
is named as such, rather than stored as an empty document.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatforge.errors import LoadError
from chatforge.formats.sections import Mark, one_document, spans
from chatforge.formats.textio import drop_controls, normalize_newlines
from chatforge.schema import Document

if TYPE_CHECKING:
    from chatforge.formats.knowledge import LoadOptions


def load_pdf(data: bytes, path: Path, options: LoadOptions) -> list[Document]:
    """One section per page; encrypted and damaged files are refused with the fix."""
    reader = _open_pdf(data)
    parts: list[str] = []
    marks: list[Mark] = []
    offset = 0
    for n, page in enumerate(reader.pages, start=1):
        try:
            page_text = page.extract_text() or ""
        except Exception as exc:  # pypdf raises many types on damaged content streams
            raise LoadError(f"truncated or corrupt PDF (page {n}: {exc})") from exc
        page_text = drop_controls(normalize_newlines(page_text))
        if not page_text.strip():
            continue
        if parts:
            parts.append("\n\n")
            offset += 2
        marks.append((offset, (f"page {n}",)))
        parts.append(page_text)
        offset += len(page_text)
    text = "".join(parts)
    if not text.strip():
        raise LoadError("no extractable text in the PDF (scanned images? run OCR on it first)")
    meta = {"pages": len(reader.pages)}
    title = _pdf_title(reader) or path.stem
    return one_document(text, title, spans(text, marks), meta)


def _open_pdf(data: bytes) -> Any:
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError, PdfReadError

    if b"%PDF-" not in data[:1024]:
        raise LoadError("not a PDF (no %PDF- header)")
    if b"%%EOF" not in data[-2048:]:
        raise LoadError("truncated or corrupt PDF (no %%EOF marker: the file was cut short)")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise LoadError("encrypted PDF: decrypt it first (qpdf --decrypt)")
        len(reader.pages)
    except LoadError:
        raise
    except DependencyError as exc:
        raise LoadError("encrypted PDF: decrypt it first (qpdf --decrypt)") from exc
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise LoadError(f"truncated or corrupt PDF ({exc})") from exc
    return reader


def _pdf_title(reader: Any) -> str | None:
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:  # a broken info dictionary should not sink an otherwise readable file
        return None
    cleaned = " ".join(str(title).split()) if title else ""
    return cleaned or None
