"""Pure logic that does not need a model: [n] citation mapping and fact patterns."""

from __future__ import annotations

from chatforge.chat.answer import Answer, Source, cited_numbers, citing_sentences, mark_citations
from chatforge.chat.facts import extract_facts, remember_request
from chatforge.schema import Hit


def _source(n: int) -> Source:
    hit = Hit(f"text {n}", 0.5, f"doc{n}.md", f"Doc {n}", "", 0, 6, n, n)
    return Source(n, hit, 0.5)


def test_citations_map_to_sources_and_unknown_numbers_are_reported():
    sources = [_source(1), _source(2), _source(3)]
    text = "Use apt purge widget [2]. It also deletes the config [2, 3]. See also [7]."
    assert cited_numbers(text) == [2, 3, 7]
    assert mark_citations(text, sources) == [7]
    assert [s.cited for s in sources] == [False, True, True]
    assert citing_sentences(text)[3] == ["It also deletes the config ."]
    answer = Answer(text, sources, "c1", 1)
    assert [s.n for s in answer.cited] == [2, 3]
    d = answer.to_dict()
    assert set(d) >= {"text", "sources", "conversation_id", "message_id", "usage", "timings"}
    assert d["sources"][1]["cited"] is True and d["sources"][1]["source"] == "doc2.md"
    assert Source.from_dict(d["sources"][1]).hit == sources[1].hit


def test_first_person_facts_are_found_and_questions_skipped():
    text = "Hi! My name is Zorblat. I use Debian on my laptop. What is my name? I think so."
    assert extract_facts(text) == ["My name is Zorblat", "I use Debian on my laptop"]
    assert extract_facts("I'm a nurse from Lyon, and I love tea.") == [
        "I'm a nurse from Lyon",
        "I love tea",
    ]
    assert extract_facts("How do I use apt?") == []


def test_remember_requests():
    assert remember_request("Remember that my locker code is 4512.") == "my locker code is 4512"
    assert remember_request("please remember: I prefer short answers") == "I prefer short answers"
    assert remember_request("Do you remember that?") is None
    assert remember_request("How do I remove the widget?") is None
