"""Loaders on small real files written by each test: documents, titles, sections, errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from support import make_pdf

from chatforge.errors import LoadError
from chatforge.formats import SUPPORTED_EXTENSIONS, LoadOptions, load
from chatforge.schema import Document


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def check_sections(doc: Document) -> None:
    """Sections are ordered, disjoint, inside the text, and cover all of its non-space text."""
    covered = [False] * len(doc.text)
    last_end = 0
    for s in doc.sections:
        assert 0 <= s.start < s.end <= len(doc.text)
        assert s.start >= last_end
        last_end = s.end
        covered[s.start : s.end] = [True] * (s.end - s.start)
    missing = [i for i, c in enumerate(doc.text) if not c.isspace() and not covered[i]]
    assert not missing, f"uncovered text at {missing[:5]}: {doc.text[missing[0] :][:40]!r}"


def by_trail(doc: Document) -> dict[tuple[str, ...], str]:
    return {s.trail: doc.text[s.start : s.end] for s in doc.sections}


def load_one(path: Path, options: LoadOptions | None = None) -> Document:
    docs = load(path, path.name, options)
    assert len(docs) == 1
    check_sections(docs[0])
    return docs[0]


# ---------------------------------------------------------------------------- markdown


MARKDOWN = """\
Some words before any heading.

# Garden Guide

Plant in spring.

## Tools

A spade and a rake.

```python
# not a heading, a comment in code
print("dig")
```

Watering
--------

Water **deeply** twice a week.

### Drip `lines`

Save water with drip lines.

# Appendix

The end.
"""


def test_markdown_sections_follow_headings(tmp_path: Path) -> None:
    doc = load_one(write(tmp_path, "garden.md", MARKDOWN))
    assert doc.title == "Garden Guide"
    assert doc.source == "garden.md"
    sections = by_trail(doc)
    assert list(sections) == [
        (),
        ("Garden Guide",),
        ("Garden Guide", "Tools"),
        ("Garden Guide", "Watering"),
        ("Garden Guide", "Watering", "Drip lines"),
        ("Appendix",),
    ]
    assert sections[()] == "Some words before any heading."
    assert "# not a heading" in sections[("Garden Guide", "Tools")]
    assert sections[("Garden Guide", "Watering")].startswith("Watering\n--------")


def test_markdown_front_matter_title(tmp_path: Path) -> None:
    text = "---\ntitle: Release notes\ntags: [a, b]\n---\n\n## Version 2\n\nFaster.\n"
    doc = load_one(write(tmp_path, "notes.markdown", text))
    assert doc.title == "Release notes"
    assert ("Version 2",) in by_trail(doc)


def test_markdown_without_heading_uses_file_stem(tmp_path: Path) -> None:
    doc = load_one(write(tmp_path, "todo-list.MD", "buy milk\n\ncall mum\n"))
    assert doc.title == "todo-list"
    assert [s.trail for s in doc.sections] == [()]


# ---------------------------------------------------------------------------- reST


RST = """\
=============
 Field Notes
=============

Opening remarks.

Birds
=====

Many birds.

Owls
----

Owls hunt at night::

    owl = "hoot"
    ----

Ducks
-----

Ducks swim.

Insects
=======

Bees.
"""


def test_rst_sections_follow_titles(tmp_path: Path) -> None:
    doc = load_one(write(tmp_path, "notes.rst", RST))
    assert doc.title == "Field Notes"
    sections = by_trail(doc)
    assert list(sections) == [
        ("Field Notes",),
        ("Field Notes", "Birds"),
        ("Field Notes", "Birds", "Owls"),
        ("Field Notes", "Birds", "Ducks"),
        ("Field Notes", "Insects"),
    ]
    assert 'owl = "hoot"' in sections[("Field Notes", "Birds", "Owls")]


# ---------------------------------------------------------------------------- plain text


def test_text_is_one_section(tmp_path: Path) -> None:
    doc = load_one(write(tmp_path, "memo.txt", "Line one.\r\nLine two.\r\n"))
    assert doc.text == "Line one.\nLine two.\n"
    assert doc.title == "memo"
    assert [(s.start, s.end, s.trail) for s in doc.sections] == [(0, 19, ())]


def test_text_splits_on_form_feeds(tmp_path: Path) -> None:
    doc = load_one(write(tmp_path, "pages.txt", "first page\fsecond page\f\fthird"))
    assert by_trail(doc) == {
        ("page 1",): "first page",
        ("page 2",): "second page",
        ("page 4",): "third",
    }


# ---------------------------------------------------------------------------- HTML


HTML = """\
<!DOCTYPE html>
<html><head><title>Widget Manual</title>
<style>body { color: red; }</style>
<script>var tracking = "SCRIPT-TEXT";</script>
</head>
<body>
<header><a href="/">SITE-HEADER</a></header>
<nav><ul><li>NAV-LINK one</li><li>NAV-LINK two</li></ul></nav>
<main>
  <article>
    <header><h1>Widgets<a class="headerlink" href="#widgets">¶</a></h1></header>
    <p>A widget is a <em>small</em>
       gadget.</p>
    <p>Second paragraph.</p>
    <h2 id="setup">Setup<a href="#setup">#</a></h2>
    <ul><li>Unpack it.</li><li>Plug it in.</li></ul>
    <pre><code>widget --start
widget --status</code></pre>
    <h3>Troubleshooting</h3>
    <p>Restart it.</p>
    <form><input name="q"><button>SEARCH-BUTTON</button></form>
    <aside>ASIDE-TEXT</aside>
    <h2>Recycling</h2>
    <table><tr><th>Part</th><th>Bin</th></tr><tr><td>Case</td><td>Plastic</td></tr></table>
  </article>
</main>
<footer>FOOTER-TEXT copyright</footer>
</body></html>
"""


def test_html_keeps_main_content_and_heading_trail(tmp_path: Path) -> None:
    doc = load_one(write(tmp_path, "manual.html", HTML))
    assert doc.title == "Widget Manual"
    for noise in (
        "SITE-HEADER",
        "NAV-LINK",
        "SCRIPT-TEXT",
        "color: red",
        "SEARCH-BUTTON",
        "ASIDE-TEXT",
        "FOOTER-TEXT",
        "¶",
    ):
        assert noise not in doc.text
    assert "A widget is a small gadget.\n\nSecond paragraph." in doc.text
    assert "widget --start\nwidget --status" in doc.text
    assert "- Unpack it.\n- Plug it in." in doc.text
    assert "Part | Bin\nCase | Plastic" in doc.text
    sections = by_trail(doc)
    assert list(sections) == [
        ("Widgets",),
        ("Widgets", "Setup"),
        ("Widgets", "Setup", "Troubleshooting"),
        ("Widgets", "Recycling"),
    ]
    assert sections[("Widgets", "Setup")].startswith("Setup\n\n- Unpack it.")
    assert sections[("Widgets", "Setup")].rstrip().endswith("widget --status")


SPHINX = """\
<html><head><meta charset="utf-8"><title>Install &#8212; Proj 1.0 documentation</title></head>
<body>
<div class="related" role="navigation"><ul><li>RELATED-INDEX</li></ul></div>
<div class="document">
  <div class="documentwrapper"><div class="bodywrapper">
    <div class="body">
      <div role="navigation" aria-label="breadcrumbs"><ul class="breadcrumbs">
        <li>BREADCRUMB</li></ul></div>
      <section id="install">
        <h1>Install<a class="headerlink" href="#install" title="Link">¶</a></h1>
        <p>Use pip.</p>
        <div class="highlight-console"><div class="highlight"><pre><span></span>$ pip install proj
$ proj --version
</pre></div></div>
      </section>
    </div>
  </div></div>
  <div class="sphinxsidebar" role="navigation"><p>SIDEBAR-TEXT</p></div>
</div>
<div class="footer">&#169;FOOTER-TEXT</div>
</body></html>
"""


def test_html_list_items_holding_paragraphs_keep_their_bullet_on_the_line(tmp_path: Path) -> None:
    page = "<html><body><ul><li><p>First step.</p></li><li><p>Second step.</p></li></ul>"
    doc = load_one(write(tmp_path, "steps.html", page + "<p>Done.</p></body></html>"))
    assert doc.text == "- First step.\n\n- Second step.\n\nDone."  # a loose list


def test_html_sphinx_page_body_only(tmp_path: Path) -> None:
    doc = load_one(write(tmp_path, "install.htm", SPHINX))
    assert doc.title == "Install — Proj 1.0 documentation"
    assert doc.text == "Install\n\nUse pip.\n\n$ pip install proj\n$ proj --version"
    assert [s.trail for s in doc.sections] == [("Install",)]


def test_html_docbook_navigation_and_tables_of_contents_are_dropped(tmp_path: Path) -> None:
    """DocBook pages (the Debian FAQ, manuals) open with prev/next tables and a TOC."""
    page = (
        '<html><body><div class="navheader"><table><tr><th>Chapter 8. Tools</th></tr>'
        '<tr><td><a href="7.html">Prev</a></td></tr></table></div>'
        '<div class="chapter"><h1>Chapter 8. Tools</h1><div class="toc"><p>Table of Contents'
        '</p><dl class="toc"><dt><a href="#a">8.1. What is dpkg?</a></dt></dl></div>'
        '<div class="section"><h2>8.1. What is dpkg?</h2><p>The low-level package tool.</p>'
        '</div></div><div class="navfooter"><a href="9.html">Next</a></div></body></html>'
    )
    doc = load_one(write(tmp_path, "tools.html", page))
    assert doc.text == "Chapter 8. Tools\n\n8.1. What is dpkg?\n\nThe low-level package tool."


def test_html_declared_legacy_encoding(tmp_path: Path) -> None:
    page = '<html><head><meta charset="windows-1252"><title>Caf\xe9</title></head>'
    page += "<body><p>Cr\xe8me br\xfbl\xe9e for everyone, \x93quoted\x94.</p></body></html>"
    doc = load_one(write(tmp_path, "menu.html", page.encode("latin-1")))
    assert doc.title == "Café"
    assert "Crème brûlée for everyone, “quoted”." in doc.text
    assert doc.meta["encoding"] == "windows-1252"


def test_html_nested_deeper_than_python_recursion(tmp_path: Path) -> None:
    depth = 900  # 1800 levels: deeper than Python recurses, within libxml2's limit
    page = "<html><body>" + "<div><span>" * depth + "deep text" + "</span></div>" * depth
    doc = load_one(write(tmp_path, "deep.html", page + "</body></html>"))
    assert doc.text == "deep text"


def test_html_nested_past_the_parser_limit_is_refused_not_truncated(tmp_path: Path) -> None:
    depth = 3000
    page = "<html><body>" + "<div><span>" * depth + "deep text" + "</span></div>" * depth
    path = write(tmp_path, "deeper.html", page + "</body></html>")
    with pytest.raises(LoadError, match="nested deeper"):
        load(path, "deeper.html")


def test_html_without_text_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "blank.html", "<html><body><nav>menu</nav><script>x()</script></body>")
    with pytest.raises(LoadError, match="no text in the HTML"):
        load(path, "blank.html")


# ---------------------------------------------------------------------------- PDF


def test_pdf_is_well_formed() -> None:
    """The generator above must produce what a strict reader accepts, or the tests prove little."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(make_pdf(["a (b)\nc", ""], title="T")), strict=True)
    assert reader.metadata.title == "T"
    assert [p.extract_text().strip() for p in reader.pages] == ["a (b)\nc", ""]


def test_pdf_one_section_per_page(tmp_path: Path) -> None:
    data = make_pdf(["Revenue grew.\nCosts fell.", "", "Hiring resumed."], title="Annual Report")
    doc = load_one(write(tmp_path, "report.pdf", data))
    assert doc.title == "Annual Report"
    assert by_trail(doc) == {
        ("page 1",): "Revenue grew.\nCosts fell.",
        ("page 3",): "Hiring resumed.",
    }
    assert doc.meta["pages"] == 3


def test_pdf_title_falls_back_to_stem(tmp_path: Path) -> None:
    doc = load_one(write(tmp_path, "scan-01.pdf", make_pdf(["Hello."])))
    assert doc.title == "scan-01"


def test_pdf_encrypted_is_refused(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=io.BytesIO(make_pdf(["Secret plans."])))
    writer.encrypt("hunter2", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    path = write(tmp_path, "secret.pdf", out.getvalue())
    with pytest.raises(LoadError, match=r"encrypted PDF: decrypt it first \(qpdf --decrypt\)"):
        load(path, "secret.pdf")


def test_pdf_truncated_is_refused(tmp_path: Path) -> None:
    data = make_pdf(["Some text.", "More text."])
    path = write(tmp_path, "cut.pdf", data[: len(data) // 2])
    with pytest.raises(LoadError, match="truncated or corrupt PDF"):
        load(path, "cut.pdf")


def test_pdf_corrupt_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "junk.pdf", b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\n%%EOF\n")
    with pytest.raises(LoadError, match="truncated or corrupt PDF"):
        load(path, "junk.pdf")


def test_pdf_without_text_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "scan.pdf", make_pdf(["", ""]))
    with pytest.raises(LoadError, match="no extractable text"):
        load(path, "scan.pdf")


def test_not_a_pdf_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "fake.pdf", "just some text pretending")
    with pytest.raises(LoadError, match="not a PDF"):
        load(path, "fake.pdf")


# ---------------------------------------------------------------------------- CSV / TSV


FAQ_CSV = """\
Category,Question,Answer
billing,How do I pay?,"By card, or by bank transfer."
shipping,Where is my parcel?,"Track it online.

It usually arrives in 3 days."
,,
account,How do I reset my password?,Use the reset link.
"""


def test_csv_one_document_per_row(tmp_path: Path) -> None:
    docs = load(write(tmp_path, "faq.csv", FAQ_CSV), "data/faq.csv")
    assert [d.part for d in docs] == ["row 1", "row 2", "row 4"]
    first = docs[0]
    assert first.source == "data/faq.csv"
    assert first.title == "How do I pay?"
    assert first.text == "How do I pay?\n\nBy card, or by bank transfer."
    assert first.meta["fields"] == {"Category": "billing"}
    assert docs[1].text.endswith("Track it online.\n\nIt usually arrives in 3 days.")
    for doc in docs:
        assert len(doc.sections) == 1
        check_sections(doc)


def test_csv_columns_by_option_and_sniffed_delimiter(tmp_path: Path) -> None:
    text = "id;Frage;Antwort\n1;Wie spät ist es?;Zeit für Kaffee.\n2;Wo?;Hier.\n"
    path = write(tmp_path, "de.csv", text)
    with pytest.raises(LoadError) as err:
        load(path, "de.csv")
    message = str(err.value)
    assert "'Frage'" in message and "'Antwort'" in message
    assert "ingest.csv_question" in message
    docs = load(path, "de.csv", LoadOptions(csv_question="frage", csv_answer="Antwort"))
    assert [d.text for d in docs] == ["Wie spät ist es?\n\nZeit für Kaffee.", "Wo?\n\nHier."]


def test_csv_named_column_missing(tmp_path: Path) -> None:
    path = write(tmp_path, "faq.csv", FAQ_CSV)
    with pytest.raises(LoadError, match=r"no column 'Query' \(ingest.csv_question\).*'Category'"):
        load(path, "faq.csv", LoadOptions(csv_question="Query"))


def test_tsv_with_prompt_response_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "pairs.TSV", "prompt\tresponse\nHi there\tHello, friend\n")
    (doc,) = load(path, "pairs.TSV")
    assert doc.title == "Hi there"
    assert doc.text == "Hi there\n\nHello, friend"
    assert doc.part == "row 1"


def test_csv_header_only_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "faq.csv", "question,answer\n")
    with pytest.raises(LoadError, match="no rows with text"):
        load(path, "faq.csv")


# ---------------------------------------------------------------------------- JSON / JSONL


def test_json_list_of_records(tmp_path: Path) -> None:
    records = [
        {"id": 7, "title": "Opening hours", "body": "We open at nine."},
        {"id": 8, "title": "Parking", "body": ["Free on Sundays.", "Paid otherwise."]},
        {"id": 9, "note": "no text here"},
    ]
    docs = load(write(tmp_path, "kb.json", json.dumps(records)), "kb.json")
    assert [(d.part, d.title, d.text) for d in docs] == [
        ("record 1", "Opening hours", "We open at nine."),
        ("record 2", "Parking", "Free on Sundays.\n\nPaid otherwise."),
    ]
    assert docs[0].meta["fields"] == {"id": 7}
    assert docs[0].meta["skipped_records"] == 1


def test_json_question_answer_records_keep_the_question(tmp_path: Path) -> None:
    data = {"version": 2, "items": [{"question": "Can I return it?", "answer": "Within 30 days."}]}
    (doc,) = load(write(tmp_path, "faq.json", json.dumps(data)), "faq.json")
    assert doc.title == "Can I return it?"
    assert doc.text == "Can I return it?\n\nWithin 30 days."


def test_json_fields_by_option(tmp_path: Path) -> None:
    data = [{"headline": "Rain", "story": "It rained all day."}]
    path = write(tmp_path, "news.json", json.dumps(data))
    with pytest.raises(LoadError, match=r"'headline', 'story'.*ingest.json_text_field"):
        load(path, "news.json")
    options = LoadOptions(json_text_field="story", json_title_field="headline")
    (doc,) = load(path, "news.json", options)
    assert (doc.title, doc.text) == ("Rain", "It rained all day.")


def test_json_invalid_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.json", '[{"text": "a"},\n {"text": }]')
    with pytest.raises(LoadError, match="invalid JSON at line 2"):
        load(path, "bad.json")


def test_jsonl_skips_and_counts_malformed_lines(tmp_path: Path) -> None:
    lines = ['{"text": "first"}', "{broken", "", '{"content": "third", "title": "T"}']
    docs = load(write(tmp_path, "log.jsonl", "\n".join(lines)), "log.jsonl")
    assert [(d.part, d.text, d.title) for d in docs] == [
        ("line 1", "first", "log"),
        ("line 4", "third", "T"),
    ]
    assert all(d.meta["skipped_lines"] == 1 for d in docs)


def test_jsonl_with_nothing_valid_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "log.jsonl", "{broken\nnot json either\n")
    with pytest.raises(LoadError, match=r"no valid JSON lines \(2 malformed"):
        load(path, "log.jsonl")


# ---------------------------------------------------------------------------- source code


PYTHON = '''\
"""Tools for counting."""

import math

LIMIT = 10


# Adds two numbers.
@staticmethod
def add(a, b):
    return a + b


class Counter:
    """Counts things."""

    def bump(self):
        self.n += 1


print(add(1, 2))
'''


def test_python_sections_at_top_level_definitions(tmp_path: Path) -> None:
    doc = load_one(write(tmp_path, "tools.py", PYTHON))
    assert doc.title == "tools"
    assert doc.meta["language"] == "py"
    sections = by_trail(doc)
    assert [s.trail for s in doc.sections] == [(), ("def add",), ("class Counter",), ()]
    assert sections[("def add",)].startswith("# Adds two numbers.\n@staticmethod\ndef add")
    assert doc.text[doc.sections[-1].start : doc.sections[-1].end] == "print(add(1, 2))"


GO = """\
package main

import "fmt"

// Greet says hello.
func Greet(name string) string {
\treturn "hello " + name
}

var x = 1

func main() {
\tfmt.Println(Greet("go"))

\tfmt.Println(x)
}
"""


def test_other_code_sections_by_indentation(tmp_path: Path) -> None:
    doc = load_one(write(tmp_path, "main.go", GO))
    assert [s.trail for s in doc.sections] == [
        (),
        ("func Greet(name string) string",),
        (),
        ("func main()",),
    ]
    assert by_trail(doc)[("func main()",)].endswith("fmt.Println(x)\n}")


def test_python_with_syntax_error_still_loads(tmp_path: Path) -> None:
    text = "def ok():\n    return 1\n\ndef broken(:\n    pass\n"
    doc = load_one(write(tmp_path, "half.py", text))
    assert [s.trail for s in doc.sections] == [("def ok()",), ("def broken(",)]


# ---------------------------------------------------------------------------- bad input


def test_supported_extensions_are_lower_case_with_dot() -> None:
    assert {
        ".md",
        ".rst",
        ".txt",
        ".html",
        ".pdf",
        ".csv",
        ".tsv",
        ".json",
        ".jsonl",
        ".py",
        ".go",
    } <= SUPPORTED_EXTENSIONS
    assert all(e.startswith(".") and e == e.lower() for e in SUPPORTED_EXTENSIONS)
    assert ".ipynb" not in SUPPORTED_EXTENSIONS


def test_unsupported_extension(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match=r"unsupported file type '\.xyz'"):
        load(write(tmp_path, "a.xyz", "data"), "a.xyz")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="file not found"):
        load(tmp_path / "nope.txt", "nope.txt")


@pytest.mark.parametrize("name", ["empty.txt", "empty.pdf", "empty.csv", "empty.html"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    with pytest.raises(LoadError, match="^empty file$"):
        load(write(tmp_path, name, b""), name)


def test_whitespace_only_file(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="empty file"):
        load(write(tmp_path, "blank.md", " \n\n\t\n"), "blank.md")


def test_binary_content(tmp_path: Path) -> None:
    path = write(tmp_path, "image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(LoadError, match=r"binary content \(NUL bytes\) in a \.txt file"):
        load(path, "image.txt")


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    path = write(tmp_path, "big.txt", "x" * 3000)
    options = LoadOptions(max_file_mb=0.002)
    with pytest.raises(LoadError, match=r"larger than 0.002 MB \(ingest.max_file_mb\)"):
        load(path, "big.txt", options)


def test_utf8_with_bom_and_crlf(tmp_path: Path) -> None:
    doc = load_one(write(tmp_path, "bom.md", "\ufeff# Título\r\n\r\nAçaí.\r\n".encode()))
    assert doc.text == "# Título\n\nAçaí.\n"
    assert doc.title == "Título"
    assert "encoding" not in doc.meta


def test_legacy_encoding_is_guessed_when_confident(tmp_path: Path) -> None:
    text = (
        "Le café était très chaud, et la crème brûlée était délicieuse. "
        "Nous avons mangé à la terrasse près de la fenêtre. "
    ) * 4
    doc = load_one(write(tmp_path, "menu.txt", text.encode("cp1252")))
    assert doc.text == text
    assert doc.meta["encoding"] in {"cp1252", "latin_1", "iso8859_15", "iso8859_1"}


@pytest.mark.parametrize(
    "text",
    [
        "Bonjour, la crème brûlée de l'été dernier était délicieuse. Pourriez-vous m'envoyer "
        "la recette complète, s'il vous plaît ? Merci beaucoup et à bientôt.",
        "Grüße aus München, die Straße ist schön und wir freuen uns über Ihren Besuch.",
        "Thanks for the café's menu, the crème brûlée was perfect.",
    ],
)
def test_short_western_text_reads_as_windows_1252(tmp_path: Path, text: str) -> None:
    """Code pages tie on a short paragraph; the Western one must win (è, not č)."""
    doc = load_one(write(tmp_path, "note.txt", text.encode("cp1252")))
    assert doc.text == text
    assert doc.meta["encoding"] == "cp1252"


def test_undecodable_bytes_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "noise.txt", bytes(range(128, 256)) * 4)
    with pytest.raises(LoadError, match=r"not valid UTF-8 .*re-save it as UTF-8"):
        load(path, "noise.txt")


def test_upper_case_extension_dispatches(tmp_path: Path) -> None:
    doc = load_one(write(tmp_path, "README.MARKDOWN", "# Read me\n\nPlease.\n"))
    assert doc.title == "Read me"


def test_inline_markup_in_a_heading_adds_no_space(tmp_path: Path) -> None:
    """A heading's words are kept as written, so a page title that repeats them can be seen."""
    page = (
        "<html><head><title>Utilities for with-statement contexts</title></head><body>"
        "<h1>Utilities for <code>with</code>-statement <em>contexts</em></h1><p>Body.</p>"
        "</body></html>"
    )
    doc = load_one(write(tmp_path, "ctx.html", page))
    assert list(by_trail(doc)) == [("Utilities for with-statement contexts",)]
