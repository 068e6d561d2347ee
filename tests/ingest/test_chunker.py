"""The chunker with the embedding model's real tokenizer: structure, bounds, offsets, coverage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatforge.formats import load
from chatforge.ingest.chunker import Chunker
from chatforge.schema import Chunk, Document, Section


def n_tokens(tokenizer: Any, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def check_chunks(doc: Document, chunks: list[Chunk], tokenizer: Any, max_tokens: int) -> None:
    """The contract: exact offsets, stripped, in order, within the bound, covering the sections."""
    covered = [False] * len(doc.text)
    last_end = 0
    for c in chunks:
        assert c.text == doc.text[c.start : c.end]
        assert c.text and c.text == c.text.strip()
        assert c.start >= last_end
        last_end = c.end
        covered[c.start : c.end] = [True] * (c.end - c.start)
        size = n_tokens(tokenizer, f"{c.context}\n{c.text}")
        assert size <= max_tokens, (size, c.context, c.text[:80])
    for s in doc.sections:
        for i in range(s.start, s.end):
            assert covered[i] or doc.text[i].isspace(), f"uncovered {doc.text[i : i + 20]!r}"


def one_section_doc(text: str, title: str = "Doc", trail: tuple[str, ...] = ()) -> Document:
    return Document("doc.txt", text, title, [Section(0, len(text), trail)])


def test_short_section_is_one_chunk(tokenizer: Any) -> None:
    text = "How do I pay?\n\nBy card, or by bank transfer."
    doc = Document("faq.csv", text, "How do I pay?", [Section(0, len(text))], part="row 1")
    (chunk,) = Chunker(tokenizer, max_tokens=128).split(doc)
    assert chunk.text == text
    assert (chunk.start, chunk.end) == (0, len(text))
    assert chunk.context == "How do I pay?"
    assert chunk.section == ""


def test_context_joins_title_and_trail_without_duplicate(tokenizer: Any) -> None:
    text = "# Guide\n\nIntro.\n\n## Install\n\nRun it."
    doc = Document(
        "g.md",
        text,
        "Guide",
        [
            Section(0, 15, ("Guide",)),
            Section(17, len(text), ("Guide", "Install")),
        ],
    )
    chunks = Chunker(tokenizer, max_tokens=64).split(doc)
    assert [(c.context, c.section) for c in chunks] == [
        ("Guide", "Guide"),
        ("Guide > Install", "Guide > Install"),
    ]
    other = Document("g.md", text, "Handbook", [Section(0, 15, ("Guide",))])
    assert Chunker(tokenizer, 64).split(other)[0].context == "Handbook > Guide"


def test_a_page_title_that_is_its_first_heading_plus_the_site_name_is_left_out(tokenizer):
    text = "csv — CSV File Reading\n\nThe csv module reads and writes tabular data."
    site = "csv — CSV File Reading — Python 3.11 documentation"
    trail = ("csv — CSV File Reading", "Module Contents")
    page = Document("csv.html", text, site, [Section(0, len(text), trail)])
    assert (
        Chunker(tokenizer, 64).split(page)[0].context == "csv — CSV File Reading > Module Contents"
    )
    # A title that merely begins with the heading's letters is a different name: it stays.
    book = Document("g.md", text, "Guidebook", [Section(0, len(text), ("Guide",))])
    assert Chunker(tokenizer, 64).split(book)[0].context == "Guidebook > Guide"


def paragraph(i: int) -> str:
    return " ".join(f"Paragraph {i} sentence {j} explains one small detail." for j in range(4))


def test_long_section_splits_at_paragraph_breaks(tokenizer: Any) -> None:
    paragraphs = [paragraph(i) for i in range(12)]
    text = "\n\n".join(paragraphs)
    doc = one_section_doc(text, trail=("Details",))
    chunker = Chunker(tokenizer, max_tokens=128, target_tokens=100)
    chunks = chunker.split(doc)
    check_chunks(doc, chunks, tokenizer, 128)
    assert len(chunks) > 1
    for c in chunks:
        assert c.text.startswith("Paragraph") and c.text.endswith("detail.")
        assert n_tokens(tokenizer, c.text) <= 100
        assert all(p in paragraphs for p in c.text.split("\n\n"))


def test_long_paragraph_splits_at_sentence_ends(tokenizer: Any) -> None:
    text = " ".join(f"Sentence {j} tells a short story about a cat." for j in range(40))
    doc = one_section_doc(text)
    chunks = Chunker(tokenizer, max_tokens=64, target_tokens=48).split(doc)
    check_chunks(doc, chunks, tokenizer, 64)
    assert len(chunks) > 3
    assert all(c.text.startswith("Sentence") and c.text.endswith("cat.") for c in chunks)


def test_text_without_separators_splits_at_token_boundaries(tokenizer: Any) -> None:
    text = " ".join(f"word{i}" for i in range(800)) + " " + "日本語の文章" * 60
    doc = one_section_doc(text)
    chunks = Chunker(tokenizer, max_tokens=50, target_tokens=40).split(doc)
    check_chunks(doc, chunks, tokenizer, 50)
    assert len(chunks) > 20


def test_huge_context_is_truncated_not_the_text(tokenizer: Any) -> None:
    title = " ".join(f"title{i}" for i in range(300))
    text = "The body text must survive whole."
    doc = one_section_doc(text, title=title, trail=("Heading",))
    (chunk,) = Chunker(tokenizer, max_tokens=32, target_tokens=32).split(doc)
    assert chunk.text == text
    assert title.startswith(chunk.context)
    assert n_tokens(tokenizer, chunk.context) <= 16
    check_chunks(doc, [chunk], tokenizer, 32)


def test_whitespace_sections_give_no_chunks(tokenizer: Any) -> None:
    text = "   \n\n\t  real text  \n"
    doc = Document("w.txt", text, "W", [Section(0, 5), Section(5, len(text))])
    chunks = Chunker(tokenizer, 16).split(doc)
    assert [c.text for c in chunks] == ["real text"]
    assert chunks[0].start == text.index("real")


def test_loaded_markdown_chunks_cover_every_section(tokenizer: Any, tmp_path: Path) -> None:
    body = "\n\n".join(paragraph(i) for i in range(6))
    source = f"# Manual\n\n{body}\n\n## Part two\n\n```\ncode line\n```\n\n{body}\n"
    path = tmp_path / "manual.md"
    path.write_text(source, encoding="utf-8")
    (doc,) = load(path, "manual.md")
    chunks = Chunker(tokenizer, max_tokens=96, target_tokens=80).split(doc)
    check_chunks(doc, chunks, tokenizer, 96)
    assert {c.context for c in chunks} == {"Manual", "Manual > Part two"}


def test_rejects_a_tiny_bound(tokenizer: Any) -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        Chunker(tokenizer, max_tokens=2)


FRAGMENTS = st.one_of(
    st.sampled_from(
        [
            "Hello",
            "world",
            "the",
            "tokenizer",
            ".",
            "!",
            "?",
            ",",
            " ",
            " ",
            "\n",
            "\n\n",
            "\t",
            "supercalifragilisticexpialidocious",
            "x" * 130,
            "中文字",
            "é",
            "naïve",
            "—",
            "”",
            "¶",
            "def f():",
            "    return 1",
            "12345",
            "https://example.org/a?b=c",
        ]
    ),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=4),
)


@st.composite
def documents(draw: st.DrawFn) -> Document:
    text = "".join(draw(st.lists(FRAGMENTS, max_size=250)))
    cuts = sorted(set(draw(st.lists(st.integers(0, len(text)), max_size=6))) | {0, len(text)})
    sections = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        if a < b and draw(st.booleans() | st.just(True)):
            trail = tuple(draw(st.lists(st.sampled_from(["Intro", "Setup", "FAQ"]), max_size=2)))
            sections.append(Section(a, b, trail))
    title = draw(st.sampled_from(["", "Guide", "A rather long document title indeed"]))
    return Document("h.txt", text, title, sections)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents(), max_tokens=st.integers(8, 64), target=st.integers(1, 80))
def test_chunks_cover_in_order_within_the_bound(
    tokenizer: Any, doc: Document, max_tokens: int, target: int
) -> None:
    chunks = Chunker(tokenizer, max_tokens=max_tokens, target_tokens=target).split(doc)
    check_chunks(doc, chunks, tokenizer, max_tokens)


def test_bare_heading_joins_its_first_subsection(tokenizer: Any, tmp_path: Path) -> None:
    path = tmp_path / "guide.md"
    path.write_text("# Guide\n\n## Install\n\nRun the installer.\n\n## Remove\n\nDelete it.\n")
    (doc,) = load(path, "guide.md")
    chunks = Chunker(tokenizer, max_tokens=64).split(doc)
    assert [c.text for c in chunks] == [
        "# Guide\n\n## Install\n\nRun the installer.",
        "## Remove\n\nDelete it.",
    ]
    assert chunks[0].section == "Guide > Install"
    check_chunks(doc, chunks, tokenizer, 64)
