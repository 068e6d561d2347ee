"""The knowledge base's entry point: one file in, `Document`s with sections out.

`load` picks the format's loader by extension. Every loader keeps character offsets honest: a
`Section` is a span of `Document.text`, so a citation can point back into the extracted text.
Bad files raise `LoadError` with a short lower-case reason; the pipeline prefixes the path.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from chatforge.errors import LoadError
from chatforge.formats import (
    code,
    html,
    mail,
    markdown,
    pdf,
    records,
    rst,
    sheets,
    stackexchange,
    text,
    wikipedia,
)
from chatforge.formats.textio import read_bytes
from chatforge.formats.xmlstream import Report, ignore
from chatforge.schema import Document


@dataclass
class LoadOptions:
    """Per-run choices for formats whose layout cannot always be guessed (None = detect)."""

    csv_question: str | None = None
    csv_answer: str | None = None
    json_text_field: str | None = None
    json_title_field: str | None = None
    max_file_mb: float = 100.0
    tags: tuple[str, ...] = ()  # StackExchange questions with one of these tags (all if empty)
    min_score: int | None = None  # StackExchange posts scoring at least this
    max_articles: int | None = None  # most articles read from each Wikipedia source
    report: Report = ignore  # where a record left out of a readable file is noted


Loader = Callable[[bytes, Path, LoadOptions], list[Document]]

XML_LOADERS: dict[str, Loader] = {
    "posts": stackexchange.load_posts,
    "mediawiki": wikipedia.load_dump,
}
"""Loaders of XML files by their root element."""


def _load_xml(data: bytes, path: Path, options: LoadOptions) -> list[Document]:
    """An XML file read by the loader of its root element; a StackExchange dump's other tables
    (Users.xml, Tags.xml...) hold no text to index and give no documents."""
    root = stackexchange.xml_root(io.BytesIO(data))
    if root in stackexchange.DUMP_TABLES:
        return []
    loader = XML_LOADERS.get(root)
    if loader is None:
        known = ", ".join(f"<{r}>" for r in XML_LOADERS)
        raise LoadError(
            f"unsupported XML (root <{root or '?'}>); chatforge reads XML with root {known} "
            "(a StackExchange Posts.xml or a Wikipedia pages-articles dump)"
        )
    return loader(data, path, options)


StreamLoader = Callable[[Path, LoadOptions], Iterator[Document]]

STREAM_LOADERS: dict[str, StreamLoader] = {
    "posts": stackexchange.stream_posts,
    "mediawiki": wikipedia.stream_dump,
}
"""Loaders that read a dump from its file as they go, by XML root, so size is no limit."""


def streamed_kind(path: Path) -> str | None:
    """The root of a dump read as a stream (".bz2" is a Wikipedia dump), else None."""
    suffix = path.suffix.lower()
    if suffix == ".bz2":
        return "mediawiki"
    if suffix != ".xml":
        return None
    try:
        with path.open("rb") as f:
            root = stackexchange.xml_root(f)
    except OSError:
        return None
    return root if root in STREAM_LOADERS else None


LOADERS: dict[str, Loader] = {
    ".md": markdown.load_markdown,
    ".markdown": markdown.load_markdown,
    ".rst": rst.load_rst,
    ".txt": text.load_text,
    ".html": html.load_html,
    ".htm": html.load_html,
    ".pdf": pdf.load_pdf,
    ".csv": sheets.load_csv,
    ".tsv": sheets.load_csv,
    ".json": records.load_json,
    ".jsonl": records.load_jsonl,
    **dict.fromkeys(code.CODE_EXTENSIONS, code.load_code),
    **dict.fromkeys(mail.MAIL_EXTENSIONS, mail.load_mail),
    ".xml": _load_xml,
    ".bz2": wikipedia.load_dump,
    **dict.fromkeys(wikipedia.TABLE_SUFFIXES, wikipedia.load_table),
}

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(LOADERS)


def load(
    path: Path, source: str, options: LoadOptions | None = None, as_type: str | None = None
) -> list[Document]:
    """Read one file into documents; `source` (the path as stored) is kept as is.

    `as_type` (an extension such as ".md") reads the file as that type whatever its name says.
    """
    return list(iter_load(path, source, options, as_type))


def iter_load(
    path: Path, source: str, options: LoadOptions | None = None, as_type: str | None = None
) -> Iterator[Document]:
    """`load`, one document at a time: a dump is read as a stream whatever its size
    (ingest.max_file_mb is for files read whole); other files are read whole first."""
    options = options or LoadOptions()
    path = Path(path)
    ext = (as_type or path.suffix).lower()
    kind = streamed_kind(path) if as_type is None else None
    if kind is not None:
        docs: Iterator[Document] | list[Document] = STREAM_LOADERS[kind](path, options)
    else:
        loader = LOADERS.get(ext)
        if loader is None:
            raise LoadError(f"unsupported file type '{ext or path.name}'")
        docs = loader(read_bytes(path, options.max_file_mb), path, options)
    for doc in docs:
        doc.source = source
        yield doc
