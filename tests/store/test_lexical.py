"""BM25 scored in memory (store.keyword_index) ranks exactly as FTS5's own bm25() does."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from chatforge.languages import detect
from chatforge.lexical import query_terms
from chatforge.schema import Chunk, Document
from chatforge.store.sqlite import SQLiteStore

DIM = 4


def _write(store: SQLiteStore, source: str, texts: list[str], context: str = "") -> None:
    """Chunks written through the real store path; vectors are placeholders (BM25 only)."""
    body = "\n".join(texts)
    doc = Document(source=source, text=body, title=source, sections=[])
    chunks, hashes, offset = [], [], 0
    for t in texts:
        chunks.append(Chunk(t, offset, offset + len(t), context, context))
        hashes.append(hashlib.sha256(f"{source}:{t}".encode()).hexdigest())
        offset += len(t) + 1
    vectors = {h: np.ones(DIM, dtype=np.float32) / 2 for h in hashes}
    store.replace_file(source, source, len(body), [(doc, chunks, hashes)], vectors)


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "data", model="test", dim=lambda: DIM)
    yield s
    s.close()


TEXTS = [
    "The widget manual explains how to reset a frozen widget.",
    "Reset the router, then wait for the lights.",
    "A widget is a small gadget; gadgets are widgets too.",
    "Frozen pipes burst in winter; keep the heating on.",
    "The router manual lists every light and its meaning.",
    "Nothing here is about anything in particular.",
]


def test_scores_are_fts5s_own_bm25_over_the_questions_full_match(store):
    _write(store, "manuals.txt", TEXTS[:3], context="Manuals > Widgets")
    _write(store, "home.txt", TEXTS[3:], context="Home")
    index = store.keyword_index()
    for query in ["frozen widget reset", "router lights manual", "gadget winter", "home widget"]:
        langs = [detect(query)[0], *store.languages()]
        terms = query_terms(query, langs)  # the terms the store searches
        expected = store.db.execute(
            "SELECT rowid, -bm25(chunks_fts, 0.5, 1.0) FROM chunks_fts WHERE chunks_fts MATCH ?",
            (" OR ".join(terms),),
        ).fetchall()
        got = store.lexical(query, 10)
        assert len(got) == len(expected) > 0
        full = index.full_match(terms)
        assert dict(got) == pytest.approx({i: s / full for i, s in expected}, rel=1e-5), query
        assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)


def test_query_words_are_stemmed_as_the_index_is(store):
    _write(store, "a.txt", ["She was running the resets all night.", "Unrelated words only."])
    hits = store.hits(store.lexical("run reset", 5))
    assert [h.text for h in hits] == ["She was running the resets all night."]


def test_a_write_is_searchable_at_once_and_a_forgotten_file_is_gone(store):
    _write(store, "a.txt", ["alpha bravo charlie"])
    assert store.lexical("zorbulator", 5) == []
    _write(store, "b.txt", ["the zorbulator manual"])
    assert [h.source for h in store.hits(store.lexical("zorbulator", 5))] == ["b.txt"]
    store.remove_file("b.txt")
    assert store.lexical("zorbulator", 5) == []
    assert len(store.lexical("alpha", 5)) == 1


def test_source_glob_and_k_limit_the_hits(store):
    _write(store, "docs/a.txt", [f"widget note {i}" for i in range(5)])
    _write(store, "notes/b.txt", [f"widget memo {i}" for i in range(5)])
    assert len(store.lexical("widget", 3)) == 3
    hits = store.hits(store.lexical("widget", 10, source_glob="notes/*"))
    assert len(hits) == 5 and {h.source for h in hits} == {"notes/b.txt"}


def test_queries_with_no_indexed_words_find_nothing(store):
    _write(store, "a.txt", ["alpha bravo charlie"])
    assert store.lexical("", 5) == []
    assert store.lexical("?!", 5) == []
    assert store.lexical("qwertyuiop", 5) == []
    # A question of stop words alone still searches with them.
    assert store.lexical("the", 5) == []
    _write(store, "b.txt", ["the end"])
    assert len(store.lexical("the", 5)) == 1


def test_another_process_write_is_seen(store, tmp_path):
    """A second connection stands in for another process writing to the same bot."""
    _write(store, "a.txt", ["alpha bravo charlie"])
    assert len(store.lexical("alpha", 5)) == 1
    other = SQLiteStore(tmp_path / "data", model="test", dim=lambda: DIM)
    _write(other, "b.txt", ["alpha again"])
    other.close()
    assert len(store.lexical("alpha", 5)) == 2


def test_the_index_is_saved_for_the_next_process_and_a_broken_file_is_rebuilt(store, tmp_path):
    _write(store, "a.txt", ["alpha bravo charlie", "bravo delta"])
    first = store.lexical("bravo", 5)
    saved = tmp_path / "data" / "keywords.npz"
    stamp = saved.stat().st_mtime_ns
    reopened = SQLiteStore(tmp_path / "data", model="test", dim=lambda: DIM)
    assert reopened.lexical("bravo", 5) == first
    assert saved.stat().st_mtime_ns == stamp  # loaded, not rebuilt and saved again
    reopened.close()
    saved.write_bytes(b"not an index")
    broken = SQLiteStore(tmp_path / "data", model="test", dim=lambda: DIM)
    assert broken.lexical("bravo", 5) == first
    broken.close()
    # A write moves the generation on: the saved index is stale and replaced.
    _write(store, "b.txt", ["bravo echo"])
    assert len(store.lexical("bravo", 5)) == 3


def test_save_index_after_a_write_leaves_a_current_keyword_index_on_disk(store, tmp_path):
    from chatforge.store.keyword_index import KeywordIndex

    _write(store, "a.txt", ["alpha bravo charlie"])
    store.save_index()  # what an ingest ends with
    path = tmp_path / "data" / "keywords.npz"
    saved = KeywordIndex.load(path, store.generation())
    assert saved is not None and saved.generation == store.generation()
    assert KeywordIndex.load(path, store.generation() - 1) is None  # stale: rebuilt instead
    assert saved.search(["alpha"], 5)


def test_a_bot_folder_named_with_uri_characters_still_searches(tmp_path):
    """The rebuild opens the database by a file: URI, where ?, # and % would mean something."""
    store = SQLiteStore(tmp_path / "my bots #1?%" / "data", model="test", dim=lambda: DIM)
    _write(store, "a.txt", ["alpha bravo charlie"])
    assert len(store.lexical("alpha", 5)) == 1
    store.close()


@pytest.mark.parametrize(
    "question",
    [
        "Comment est-ce que je change le mot de passe de la box ?",
        "How do I change the password of the box?",
    ],
)
def test_common_words_of_a_question_do_not_outweigh_its_topic(store, question):
    """Chatty passages full of function words must not outrank the one that names the topic."""
    _write(
        store,
        "faq.txt",
        [
            "Je ne sais pas ce que c'est, mais est-ce que le de la que je est comment de la le.",
            "How do I do it? I do not know how the of the do I, how do I the of the.",
            "Box password: change it in the admin page. Mot de passe de la box : changez-le.",
        ],
    )
    hits = store.hits(store.lexical(question, 3))
    assert hits[0].text.startswith("Box password")
