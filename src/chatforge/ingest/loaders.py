"""Loaders: one function per file format, each turning a file into `Document`s with sections.

Every loader keeps character offsets honest: a `Section` is a span of `Document.text`, so a
citation can point back into the extracted text. Bad files raise `LoadError` with a short
lower-case reason; the pipeline prefixes it with the file path.
"""

from __future__ import annotations

import ast
import codecs
import csv
import io
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatforge.errors import LoadError
from chatforge.schema import Document, Section


@dataclass
class LoadOptions:
    """Per-run choices for formats whose layout cannot always be guessed (None = detect)."""

    csv_question: str | None = None
    csv_answer: str | None = None
    json_text_field: str | None = None
    json_title_field: str | None = None
    max_file_mb: float = 100.0


Mark = tuple[int, tuple[str, ...]]

QUESTION_COLUMNS = (
    "question",
    "questions",
    "q",
    "title",
    "prompt",
    "query",
    "faq",
    "subject",
    "instruction",
    "input",
)
ANSWER_COLUMNS = (
    "answer",
    "answers",
    "a",
    "response",
    "body",
    "reply",
    "output",
    "text",
    "content",
    "completion",
)
_JSON_TEXT_FIELDS = (
    "text",
    "content",
    "body",
    "answer",
    "message",
    "response",
    "output",
    "completion",
    "value",
    "description",
)
_JSON_TITLE_FIELDS = ("title", "question", "name", "subject", "prompt", "instruction", "q")
_QUESTION_LIKE = frozenset(
    {"question", "questions", "q", "prompt", "query", "faq", "instruction", "input"}
)

_CODE_EXTENSIONS = frozenset(
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


# ---------------------------------------------------------------------------- public entry


def load(
    path: Path, source: str, options: LoadOptions | None = None, as_type: str | None = None
) -> list[Document]:
    """Read one file into documents; `source` (the path as the user gave it) is kept as is.

    `as_type` (an extension such as ".md") reads the file as that type whatever its name says.
    """
    options = options or LoadOptions()
    path = Path(path)
    ext = (as_type or path.suffix).lower()
    loader = _LOADERS.get(ext)
    if loader is None:
        raise LoadError(f"unsupported file type '{ext or path.name}'")
    data = _read_bytes(path, options.max_file_mb)
    docs = loader(data, path, options)
    for doc in docs:
        doc.source = source
    return docs


def _read_bytes(path: Path, max_mb: float) -> bytes:
    """Check the size before reading, so a huge file never lands in memory."""
    try:
        size = path.stat().st_size
        if size > max_mb * 1024 * 1024:
            raise LoadError(
                f"larger than {max_mb:g} MB (ingest.max_file_mb); split it or raise the limit"
            )
        if size == 0:
            raise LoadError("empty file")
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise LoadError("file not found") from exc
    except IsADirectoryError as exc:
        raise LoadError("is a directory, not a file") from exc
    except PermissionError as exc:
        raise LoadError("permission denied") from exc
    except OSError as exc:
        raise LoadError(f"cannot read the file ({exc.strerror or exc})") from exc


# ---------------------------------------------------------------------------- text helpers


_GARBAGE_OK = frozenset("\t\n\r\f")


def _has_control_garbage(text: str) -> bool:
    return any(
        (unicodedata.category(c) in ("Cc", "Cs", "Co") and c not in _GARBAGE_OK) or c == "\ufffd"
        for c in text
    )


def _decode(data: bytes, ext: str, meta: dict[str, Any]) -> str:
    """Decode as UTF-8 (or UTF-16 with a BOM); accept another encoding only on a sure guess."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise LoadError("invalid UTF-16 text; re-save it as UTF-8") from exc
        meta["encoding"] = "utf-16"
        return _normalize_newlines(text)
    if b"\x00" in data:
        raise LoadError(f"binary content (NUL bytes) in a {ext} file")
    try:
        return _normalize_newlines(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        bad = data[exc.start]
        guess = _guess_encoding(data)
        if guess is None:
            raise LoadError(
                f"not valid UTF-8 (byte 0x{bad:02x} at offset {exc.start}) and its encoding "
                "cannot be guessed with confidence; re-save it as UTF-8"
            ) from exc
        encoding, text = guess
        meta["encoding"] = encoding
        return _normalize_newlines(text)


def _guess_encoding(data: bytes) -> tuple[str, str] | None:
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # without a detector, only UTF-8 is accepted
        return None
    best = from_bytes(data).best()
    if best is None or best.chaos > 0.1 or best.coherence < 0.2:
        return None
    text = str(best)
    if _has_control_garbage(text):
        return None
    return best.encoding, text


def _normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _require_text(text: str) -> None:
    if not text.strip():
        raise LoadError("empty file (only whitespace)")


def _spans(text: str, marks: Iterable[Mark]) -> list[Section]:
    """Sections from start marks: each runs to the next mark, trimmed of outer whitespace.

    A first mark at offset 0 with an empty trail is implied, so text before the first heading
    is covered too; whitespace-only spans are dropped.
    """
    ordered = sorted({m[0]: m for m in [(0, ()), *marks]}.values(), key=lambda m: m[0])
    sections: list[Section] = []
    for i, (start, trail) in enumerate(ordered):
        end = ordered[i + 1][0] if i + 1 < len(ordered) else len(text)
        span = _strip_span(text, start, end)
        if span:
            sections.append(Section(span[0], span[1], trail))
    return sections


def _strip_span(text: str, start: int, end: int) -> tuple[int, int] | None:
    piece = text[start:end]
    lead = len(piece) - len(piece.lstrip())
    trail = len(piece) - len(piece.rstrip())
    if lead == len(piece):
        return None
    return start + lead, end - trail


def _line_starts(text: str) -> list[int]:
    starts = [0]
    pos = text.find("\n")
    while pos != -1:
        starts.append(pos + 1)
        pos = text.find("\n", pos + 1)
    return starts


def _trail_push(stack: list[tuple[int, str]], level: int, title: str) -> tuple[str, ...]:
    while stack and stack[-1][0] >= level:
        stack.pop()
    stack.append((level, title))
    return tuple(t for _, t in stack)


def _one_document(
    text: str, title: str, sections: list[Section], meta: dict[str, Any]
) -> list[Document]:
    return [Document(source="", text=text, title=title, sections=sections, meta=meta)]


# ---------------------------------------------------------------------------- plain text


def _load_text(data: bytes, path: Path, options: LoadOptions) -> list[Document]:
    """Plain text is one section, or one per form-feed separated page."""
    meta: dict[str, Any] = {}
    text = _decode(data, path.suffix.lower(), meta)
    _require_text(text)
    marks: list[Mark] = []
    if "\f" in text:
        pages = text.split("\f")
        offset = 0
        for n, page in enumerate(pages, start=1):
            marks.append((offset, (f"page {n}",)))
            offset += len(page) + 1
    return _one_document(text, path.stem, _spans(text, marks), meta)


# ---------------------------------------------------------------------------- markdown


_FRONT_MATTER = re.compile(r"\A---\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)


def _load_markdown(data: bytes, path: Path, options: LoadOptions) -> list[Document]:
    """Markdown source stays as the text; markdown-it finds ATX and setext headings."""
    from markdown_it import MarkdownIt

    meta: dict[str, Any] = {}
    text = _decode(data, path.suffix.lower(), meta)
    _require_text(text)
    title, skip_lines = _front_matter_title(text)
    lines = _line_starts(text)
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
        trail = _trail_push(stack, level, heading or f"(untitled h{level})")
        marks.append((lines[tok.map[0] + skip_lines], trail))
    return _one_document(text, title or first_h1 or path.stem, _spans(text, marks), meta)


def _front_matter_title(text: str) -> tuple[str | None, int]:
    """YAML front matter is not Markdown: skip it, and take its `title` if it has one."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return None, 0
    import yaml

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


# ---------------------------------------------------------------------------- reStructuredText


_RST_ADORNMENT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def _is_adornment(line: str) -> bool:
    s = line.rstrip()
    return len(s) >= 2 and s[0] in _RST_ADORNMENT and s == s[0] * len(s)


def _load_rst(data: bytes, path: Path, options: LoadOptions) -> list[Document]:
    """reST titles are line-based: a text line underlined (optionally overlined) by one char."""
    meta: dict[str, Any] = {}
    text = _decode(data, path.suffix.lower(), meta)
    _require_text(text)
    lines = text.split("\n")
    starts = _line_starts(text)
    styles: list[tuple[str, bool]] = []
    stack: list[tuple[int, str]] = []
    marks: list[Mark] = []
    title = None
    i = 0
    while i < len(lines):
        found = _rst_title_at(lines, i)
        if found is None:
            i += 1
            continue
        heading, style, used = found
        if style not in styles:
            styles.append(style)
        trail = _trail_push(stack, styles.index(style), heading)
        marks.append((starts[i], trail))
        title = title or heading
        i += used
    return _one_document(text, title or path.stem, _spans(text, marks), meta)


def _rst_title_at(lines: list[str], i: int) -> tuple[str, tuple[str, bool], int] | None:
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


# ---------------------------------------------------------------------------- HTML


_HTML_DROP_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "nav",
    "footer",
    "aside",
    "form",
    "iframe",
    "svg",
    "button",
    "select",
    "textarea",
    "input",
    "object",
    "embed",
)
_HTML_NOISE_CLASSES = frozenset(
    {
        "related",
        "sphinxsidebar",
        "sphinxsidebarwrapper",
        "breadcrumbs",
        "wy-breadcrumbs",
        "headerlink",
        "rst-footer-buttons",
        "prev-next-area",
        "skip-link",
        # DocBook's page navigation: prev/next tables and the tables of contents.
        "navheader",
        "navfooter",
        "toc",
    }
)
_HTML_NOISE_ROLES = frozenset({"navigation", "banner", "contentinfo", "search", "complementary"})
_PILCROWS = frozenset({"¶", "#", "§", "🔗", "Â¶"})
_BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "main",
        "header",
        "blockquote",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "ul",
        "ol",
        "dl",
        "figure",
        "figcaption",
        "hr",
        "address",
        "details",
        "summary",
        "caption",
        "body",
        "html",
    }
)
_LINE_TAGS = frozenset({"li", "tr", "dt", "dd"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})


def _load_html(data: bytes, path: Path, options: LoadOptions) -> list[Document]:
    """Main content only, read as plain text with paragraph breaks; h1-h6 give the trail.

    Parsed with lxml directly (libxml2 builds the tree in C), several times faster than a
    Python-level tree; pages that are not UTF-8 are decoded by their declared or detected charset.
    """
    import lxml.html

    meta: dict[str, Any] = {}
    try:
        markup = _normalize_newlines(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        from bs4.dammit import UnicodeDammit

        dammit = UnicodeDammit(data, is_html=True)
        if dammit.unicode_markup is None:
            raise LoadError("cannot tell the text encoding of this HTML page") from None
        markup = _normalize_newlines(dammit.unicode_markup)
        meta["encoding"] = dammit.original_encoding
    if "\x00" in markup:
        raise LoadError(f"binary content (NUL bytes) in a {path.suffix.lower()} file")
    markup = _XML_DECLARATION.sub("", markup, count=1)
    if not markup.strip():
        raise LoadError("no text in the HTML main content")
    parser = lxml.html.HTMLParser(huge_tree=True, remove_comments=True, remove_pis=True)
    try:
        page = lxml.html.document_fromstring(markup, parser=parser)
    except (ValueError, lxml.etree.ParserError) as e:
        raise LoadError(f"cannot parse the HTML ({e})") from e
    if any(e.type_name == "ERR_RESOURCE_LIMIT" for e in parser.error_log):
        raise LoadError(
            "HTML nested deeper than the parser's 2048 levels; the page is probably broken "
            "(unclosed tags); fix it or convert it to text"
        )
    title = _html_title(page)
    root = _html_root(page)
    _drop_html_noise(root)
    writer = _HtmlText()
    writer.walk(root)
    text = "".join(writer.parts)
    if not text.strip():
        raise LoadError("no text in the HTML main content")
    first_h1 = next((h for _, lvl, h in writer.headings if lvl == 1 and h), None)
    stack: list[tuple[int, str]] = []
    marks = [
        (off, _trail_push(stack, lvl, h or f"(untitled h{lvl})")) for off, lvl, h in writer.headings
    ]
    return _one_document(text, title or first_h1 or path.stem, _spans(text, marks), meta)


_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
"""lxml refuses a str that carries an encoding declaration (XHTML pages often do)."""


def _words(el: Any) -> str:
    """The element's text with its whitespace collapsed; inline markup adds no space, so
    `<code>with</code>-statement` stays "with-statement"."""
    return " ".join("".join(el.itertext()).split())


def _html_title(page: Any) -> str | None:
    tag = page.find(".//title")
    return (_words(tag) if tag is not None else "") or None


def _html_root(page: Any) -> Any:
    """The main content element: <main>, [role=main], a lone <article>, Sphinx's div.body."""
    first: dict[str, Any] = {}
    articles = 0
    for tag in page.iter():
        name = tag.tag
        if not isinstance(name, str):
            continue
        if name == "main":
            return tag
        classes = (tag.get("class") or "").split()
        kinds = (
            ("role", tag.get("role") == "main"),
            ("article", name == "article"),
            ("body", name == "div" and "body" in classes),
            ("document", name == "div" and "document" in classes),
            ("html-body", name == "body"),
        )
        for kind, hit in kinds:
            if hit:
                first.setdefault(kind, tag)
        articles += name == "article"
    if articles != 1:
        first.pop("article", None)
    order = ("role", "article", "body", "document", "html-body")
    return next((first[k] for k in order if k in first), page)


def _drop_html_noise(root: Any) -> None:
    """One walk that prunes noise; attribute checks are far faster than CSS selectors."""
    stack = [root]
    while stack:
        node = stack.pop()
        for child in list(node):
            if not isinstance(child.tag, str):
                continue
            if _is_noise(child):
                child.drop_tree()  # keeps the text that follows it
            else:
                stack.append(child)


def _is_noise(tag: Any) -> bool:
    name = tag.tag
    if name in _HTML_DROP_TAGS:
        return True
    attrs = tag.attrib
    if "hidden" in attrs or attrs.get("aria-hidden") == "true":
        return True
    if attrs.get("role") in _HTML_NOISE_ROLES:
        return True
    classes = attrs.get("class")
    if classes and not _HTML_NOISE_CLASSES.isdisjoint(classes.split()):
        return True
    if name == "header":
        return next(tag.iter(*_HEADINGS), None) is None
    if name == "a" and str(attrs.get("href", "")).startswith("#"):
        return tag.text_content().strip() in _PILCROWS
    return False


class _HtmlText:
    """Walks the content tree, writing text that reads like the page (with heading offsets)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.pending_break = 0
        self.pending_space = False
        self.headings: list[tuple[int, int, str]] = []

    def walk(self, root: Any) -> None:
        """Depth-first with an explicit stack: real pages can nest deeper than Python recurses.

        lxml keeps text in `.text` (before the first child) and `.tail` (after the element,
        inside its parent), so each child is followed by its tail.
        """
        stack: list[tuple[str, Any]] = [("children", root)]
        while stack:
            kind, item = stack.pop()
            if kind == "children":
                later: list[tuple[str, Any]] = []
                if item.text:
                    later.append(("text", item.text))
                for child in item:
                    if isinstance(child.tag, str):
                        later.append(("tag", child))
                    if child.tail:
                        later.append(("text", child.tail))
                stack.extend(reversed(later))
            elif kind == "text":
                self._inline(item)
            elif kind == "tag":
                self._open(item, stack)
            else:
                item()

    def _open(self, tag: Any, stack: list[tuple[str, Any]]) -> None:
        """Write what comes before a tag's children and schedule what comes after them."""
        name = tag.tag
        if name in _HEADINGS:
            self._break(2)
            self.pending_space = False
            start = self.length + (2 if self.length else 0)
            heading = _words(tag)

            def close() -> None:
                if self.length > start:
                    self.headings.append((start, int(name[1]), heading))
                self._break(2)

            stack.append(("close", close))
        elif name == "pre":
            self._break(2)
            self._emit(tag.text_content().strip("\n"))
            self._break(2)
            return
        elif name == "br":
            self._break(1)
            return
        elif name in _LINE_TAGS:
            self._break(1)
            parent = tag.getparent()
            if name == "li" and parent is not None and parent.tag == "ul":
                self._emit("- ")
            stack.append(("close", lambda: self._break(1)))
        elif name in ("td", "th"):
            if next(tag.itersiblings("td", "th", preceding=True), None) is not None:
                self._emit(" | ")
        elif name in _BLOCK_TAGS:
            self._break(2)
            stack.append(("close", lambda: self._break(2)))
        stack.append(("children", tag))

    def _break(self, n: int) -> None:
        self.pending_break = max(self.pending_break, n)

    def _inline(self, raw: str) -> None:
        collapsed = " ".join(raw.split())
        if not collapsed:
            self.pending_space = self.pending_space or bool(raw)
            return
        if raw[:1].isspace():
            self.pending_space = True
        self._emit(collapsed)
        self.pending_space = raw[-1:].isspace()

    def _emit(self, s: str) -> None:
        if not s:
            return
        if self.parts and self.parts[-1].endswith("- "):
            self.pending_break = 0  # <li><p>text</p></li> reads "- text", not "-" then text
        if self.length:
            if self.pending_break:
                s = "\n" * self.pending_break + s.lstrip(" ")
            elif self.pending_space and not self.parts[-1].endswith((" ", "\n")):
                s = " " + s
        self.pending_break = 0
        self.pending_space = False
        self.parts.append(s)
        self.length += len(s)


# ---------------------------------------------------------------------------- PDF


def _load_pdf(data: bytes, path: Path, options: LoadOptions) -> list[Document]:
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
        page_text = _clean_pdf_text(page_text)
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
    return _one_document(text, title, _spans(text, marks), meta)


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


def _clean_pdf_text(text: str) -> str:
    text = _normalize_newlines(text)
    return "".join(c for c in text if c in _GARBAGE_OK or unicodedata.category(c) != "Cc")


# ---------------------------------------------------------------------------- CSV / TSV


def _load_csv(data: bytes, path: Path, options: LoadOptions) -> list[Document]:
    """An FAQ sheet: one document per row, text "question\\n\\nanswer"."""
    ext = path.suffix.lower()
    meta: dict[str, Any] = {}
    text = _decode(data, ext, meta)
    _require_text(text)
    rows = _csv_rows(text, ext)
    header = [h.strip() for h in next(rows, [])]
    qi, ai = _csv_columns(header, options)
    docs: list[Document] = []
    for n, row in enumerate(rows, start=1):
        question = row[qi].strip() if qi < len(row) else ""
        answer = row[ai].strip() if ai < len(row) else ""
        body = "\n\n".join(p for p in (question, answer) if p)
        if not body:
            continue
        fields = {
            header[i]: v.strip()
            for i, v in enumerate(row)
            if i not in (qi, ai) and i < len(header) and header[i] and v.strip()
        }
        row_meta = {**meta, "row": n, **({"fields": fields} if fields else {})}
        docs.append(
            Document(
                source="",
                text=body,
                title=question or path.stem,
                sections=[Section(0, len(body))],
                part=f"row {n}",
                meta=row_meta,
            )
        )
    if not docs:
        raise LoadError("no rows with text under the header")
    return docs


def _csv_rows(text: str, ext: str) -> Iterator[list[str]]:
    if ext == ".tsv":
        dialect: Any = csv.excel_tab
    else:
        try:
            dialect = csv.Sniffer().sniff(text[:65536], delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        yield from reader
    except csv.Error as exc:
        raise LoadError(f"malformed CSV near line {reader.line_num} ({exc})") from exc


def _csv_columns(header: list[str], options: LoadOptions) -> tuple[int, int]:
    lower = [h.lower() for h in header]
    shown = ", ".join(repr(h) for h in header) or "(none)"

    def pick(given: str | None, option: str, candidates: tuple[str, ...]) -> int | None:
        if given is not None:
            if given.strip().lower() not in lower:
                raise LoadError(f"no column {given!r} (ingest.{option}); the columns are {shown}")
            return lower.index(given.strip().lower())
        return next((lower.index(c) for c in candidates if c in lower), None)

    qi = pick(options.csv_question, "csv_question", QUESTION_COLUMNS)
    ai = pick(options.csv_answer, "csv_answer", ANSWER_COLUMNS)
    if qi is None or ai is None or qi == ai:
        missing = (
            " and ".join(name for name, idx in (("question", qi), ("answer", ai)) if idx is None)
            or "distinct question and answer"
        )
        raise LoadError(
            f"no {missing} column found; the columns are {shown}: "
            "set ingest.csv_question and ingest.csv_answer"
        )
    return qi, ai


# ---------------------------------------------------------------------------- JSON / JSONL


def _load_json(data: bytes, path: Path, options: LoadOptions) -> list[Document]:
    """A list of records (or one record, or {"key": [records]}); one document per record."""
    meta: dict[str, Any] = {}
    text = _decode(data, ".json", meta)
    _require_text(text)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoadError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    records = _json_records(value)
    numbered = ((f"record {n}", rec) for n, rec in enumerate(records, start=1))
    return _records_to_documents(numbered, path, options, meta)


def _load_jsonl(data: bytes, path: Path, options: LoadOptions) -> list[Document]:
    """One record per line; a malformed line is skipped and counted, not fatal."""
    meta: dict[str, Any] = {}
    text = _decode(data, ".jsonl", meta)
    _require_text(text)
    bad: list[int] = []
    records: list[tuple[str, Any]] = []
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            records.append((f"line {n}", json.loads(line)))
        except json.JSONDecodeError:
            bad.append(n)
    if bad:
        meta["skipped_lines"] = len(bad)
        meta["first_skipped_line"] = bad[0]
    if not records:
        raise LoadError(f"no valid JSON lines ({len(bad)} malformed, the first at line {bad[0]})")
    return _records_to_documents(records, path, options, meta)


def _json_records(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        lists = [
            v
            for v in value.values()
            if isinstance(v, list) and v and all(isinstance(r, dict) for r in v)
        ]
        if len(lists) == 1 and not any(k in value for k in _JSON_TEXT_FIELDS):
            return lists[0]
        return [value]
    return [value]


def _records_to_documents(
    records: Iterable[tuple[str, Any]], path: Path, options: LoadOptions, meta: dict[str, Any]
) -> list[Document]:
    docs: list[Document] = []
    keys_seen: dict[str, None] = {}
    skipped = 0
    for part, record in records:
        if isinstance(record, dict):
            keys_seen.update(dict.fromkeys(record))
        doc = _record_document(record, path, options)
        if doc is None:
            skipped += 1
            continue
        doc.part = part
        doc.meta = {**meta, **doc.meta}
        docs.append(doc)
    if not docs:
        keys = ", ".join(repr(k) for k in keys_seen) or "(no keys)"
        raise LoadError(
            f"no text field found in the records; their keys are {keys}: set ingest.json_text_field"
        )
    if skipped:
        for doc in docs:
            doc.meta["skipped_records"] = skipped
    return docs


def _record_document(record: Any, path: Path, options: LoadOptions) -> Document | None:
    if isinstance(record, str):
        body = record.strip()
        return _record_doc(body, path.stem, {}) if body else None
    if not isinstance(record, dict):
        return None
    text_key = _field(record, options.json_text_field, _JSON_TEXT_FIELDS)
    if text_key is None:
        return None
    title_key = _field(record, options.json_title_field, _JSON_TITLE_FIELDS, exclude=text_key)
    body = _as_text(record[text_key])
    title = " ".join(_as_text(record[title_key]).split()) if title_key else ""
    if title_key and title_key.lower() in _QUESTION_LIKE and title:
        body = "\n\n".join(p for p in (_as_text(record[title_key]), body) if p)
    if not body:
        return None
    fields = {
        k: v
        for k, v in record.items()
        if k not in (text_key, title_key) and isinstance(v, str | int | float | bool)
    }
    return _record_doc(body, title[:200] or path.stem, {"fields": fields} if fields else {})


def _record_doc(body: str, title: str, meta: dict[str, Any]) -> Document:
    body = _normalize_newlines(body)
    span = _strip_span(body, 0, len(body)) or (0, len(body))
    return Document(source="", text=body, title=title, sections=[Section(*span)], meta=meta)


def _field(
    record: dict[str, Any],
    given: str | None,
    candidates: tuple[str, ...],
    exclude: str | None = None,
) -> str | None:
    by_lower = {k.lower(): k for k in record if k != exclude}
    if given is not None:
        return by_lower.get(given.lower())
    for name in candidates:
        key = by_lower.get(name)
        if key is not None and _as_text(record[key]):
            return key
    return None


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return "\n\n".join(v.strip() for v in value if v.strip())
    return ""


# ---------------------------------------------------------------------------- source code


def _load_code(data: bytes, path: Path, options: LoadOptions) -> list[Document]:
    """Sections at top-level definitions: `ast` for Python, an indentation rule for others."""
    ext = path.suffix.lower()
    meta: dict[str, Any] = {"language": ext.lstrip(".")}
    text = _decode(data, ext, meta)
    _require_text(text)
    marks = None
    if ext in (".py", ".pyi"):
        marks = _python_marks(text)
    if marks is None:
        marks = _indent_marks(text)
    return _one_document(text, path.stem, _spans(text, marks), meta)


def _python_marks(text: str) -> list[Mark] | None:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    lines = text.split("\n")
    starts = _line_starts(text)
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
    starts = _line_starts(text)
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


# ---------------------------------------------------------------------------- dispatch


_Loader = Callable[[bytes, Path, LoadOptions], list[Document]]

_LOADERS: dict[str, _Loader] = {
    ".md": _load_markdown,
    ".markdown": _load_markdown,
    ".rst": _load_rst,
    ".txt": _load_text,
    ".html": _load_html,
    ".htm": _load_html,
    ".pdf": _load_pdf,
    ".csv": _load_csv,
    ".tsv": _load_csv,
    ".json": _load_json,
    ".jsonl": _load_jsonl,
    **dict.fromkeys(_CODE_EXTENSIONS, _load_code),
}

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(_LOADERS)
