"""Markdown front matter is hostile input: aliases, anchors, size and odd titles.

A document is never lost because of its front matter: the body is always loaded, and the
title comes from the front matter only when it is a short plain string.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import markdown_it  # noqa: F401  (imported before measuring, so its import is not counted)
import pytest

from chatforge.formats import load

# "Billion laughs": nine levels of nine aliases, 373 bytes that expand to 9**9 strings.
LAUGHS = (
    "---\n"
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{b}: &{b} [{','.join([f'*{a}'] * 9)}]\n"
        for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "title: *i\n---\n"
)

ENGLISH = "# Garden notes\n\nWater the tomatoes every morning in summer.\n"
FRENCH = "# Notes du jardin\n\nArroser les tomates chaque matin en été.\n"


def load_md(tmp_path: Path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    docs = load(path, name)
    assert len(docs) == 1
    return docs[0]


@pytest.mark.parametrize(
    "name, body, heading, words",
    [
        ("laughs.md", ENGLISH, "Garden notes", "tomatoes every morning"),
        ("rires.md", FRENCH, "Notes du jardin", "tomates chaque matin en été"),
    ],
)
def test_billion_laughs_front_matter_is_not_expanded(
    tmp_path: Path, name: str, body: str, heading: str, words: str
) -> None:
    assert len(LAUGHS.encode()) < 400
    tracemalloc.start()
    try:
        doc = load_md(tmp_path, name, LAUGHS + body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 1024 * 1024
    assert doc.title == heading  # the aliased title is ignored, the first heading stands
    assert words in doc.text
    assert [s.trail for s in doc.sections][-1] == (heading,)


@pytest.mark.parametrize(
    "front, body, title",
    [
        ("title: Guide du jardinier\n", FRENCH, "Guide du jardinier"),
        ("title: Gardener's guide\n", ENGLISH, "Gardener's guide"),
        (f"title: {'long ' * 60}\n", ENGLISH, "Garden notes"),
        (f"title: {'très long ' * 40}\n", FRENCH, "Notes du jardin"),
        ("title: [Garden, notes]\n", ENGLISH, "Garden notes"),
        ("title: {fr: Jardin}\n", FRENCH, "Notes du jardin"),
        ("title: &t Anchored\n", ENGLISH, "Garden notes"),
        ("title: 2024\n", FRENCH, "Notes du jardin"),
    ],
)
def test_only_a_short_plain_string_is_a_title(
    tmp_path: Path, front: str, body: str, title: str
) -> None:
    doc = load_md(tmp_path, "notes.md", f"---\n{front}---\n{body}")
    assert doc.title == title
    assert [s.trail for s in doc.sections][-1] == (body.split("\n")[0][2:],)


@pytest.mark.parametrize("body", [ENGLISH, FRENCH])
def test_oversized_or_deep_front_matter_keeps_the_document(tmp_path: Path, body: str) -> None:
    big = "---\n" + "".join(f"key{i}: value {i}\n" for i in range(8000)) + "title: Big\n---\n"
    doc = load_md(tmp_path, "big.md", big + body)
    assert doc.title != "Big" and body.split("\n")[2] in doc.text
    deep = "---\ntitle: " + "[" * 5000 + "]" * 5000 + "\n---\n"
    doc = load_md(tmp_path, "deep.md", deep + body)
    assert doc.title == body.split("\n")[0][2:] and body.split("\n")[2] in doc.text
