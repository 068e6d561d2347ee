"""HTML pages for the knowledge base: the main content as plain text, h1-h6 as sections.

Navigation, sidebars, footers and other page furniture are pruned first, so a hit quotes the
page's own words; the text keeps paragraph breaks and list markers so it reads like the page.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatforge.errors import LoadError
from chatforge.formats.sections import one_document, push_trail, spans
from chatforge.formats.textio import normalize_newlines
from chatforge.schema import Document

if TYPE_CHECKING:
    from chatforge.formats.knowledge import LoadOptions

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


def load_html(data: bytes, path: Path, options: LoadOptions | None = None) -> list[Document]:
    """Main content only, read as plain text with paragraph breaks; h1-h6 give the trail.

    Parsed with lxml directly (libxml2 builds the tree in C), several times faster than a
    Python-level tree; pages that are not UTF-8 are decoded by their declared or detected charset.
    """
    import lxml.html

    meta: dict[str, Any] = {}
    try:
        markup = normalize_newlines(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        from bs4.dammit import UnicodeDammit

        dammit = UnicodeDammit(data, is_html=True)
        if dammit.unicode_markup is None:
            raise LoadError("cannot tell the text encoding of this HTML page") from None
        markup = normalize_newlines(dammit.unicode_markup)
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
        (off, push_trail(stack, lvl, h or f"(untitled h{lvl})")) for off, lvl, h in writer.headings
    ]
    return one_document(text, title or first_h1 or path.stem, spans(text, marks), meta)


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


def html_text(markup: str) -> str:
    """The readable text of an HTML fragment (an email part, a forum post), read as `load_html`
    reads a page, so quoted code and lists look the same wherever HTML comes from; "" when the
    fragment holds no text."""
    try:
        docs = load_html(markup.encode("utf-8"), Path("fragment.html"))
    except LoadError:
        return ""
    return docs[0].text
