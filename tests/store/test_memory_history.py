"""Memory edits supersede rather than overwrite: the current text is recalled and listed, the
earlier texts are kept as history, in English and in French."""

from __future__ import annotations

import pytest

from chatforge.chat.memory import MemoryStore
from chatforge.errors import ChatforgeError
from chatforge.store.sqlite import SQLiteStore


@pytest.fixture
def memory(tmp_path, embedder):
    store = SQLiteStore(tmp_path / "data", embedder.name, lambda: embedder.dim)
    yield MemoryStore(store, lambda: embedder)
    store.close()


def _texts(memories) -> list[str]:
    return [m.text for m in memories]


def test_a_corrected_fact_is_recalled_and_the_earlier_one_kept(memory):
    name = memory.add("ada", "My name is Ada", "fact")
    editor = memory.add("ada", "I use Emacs", "fact")
    grace = memory.edit("ada", name.id, "My name is Grace")
    assert grace.id == name.id and grace.kind == "fact" and grace.created_at == name.created_at
    assert _texts(memory.list("ada")) == ["My name is Grace", "I use Emacs"]
    history = memory.list("ada", include_history=True)
    assert [(m.text, m.superseded_by) for m in history] == [
        ("My name is Grace", None),
        ("My name is Ada", name.id),
        ("I use Emacs", None),
    ]
    assert history[1].to_dict()["superseded_by"] == name.id
    assert "superseded_by" not in history[0].to_dict()
    # The earlier text is never recalled, even by a query that names it.
    recalled = memory.search("ada", "Is my name Ada?", k=5)
    assert sorted(_texts(recalled)) == ["I use Emacs", "My name is Grace"]
    assert memory.search("ada", "Is my name Ada?", k=1)[0].id == name.id
    assert memory.get("ada", editor.id).superseded_by is None


def test_a_french_fact_corrected_twice_keeps_both_earlier_texts(memory):
    nom = memory.add("adele", "Je m'appelle Ada", "fact")
    memory.edit("adele", nom.id, "Je m'appelle Adèle")
    current = memory.edit("adele", nom.id, "Je m'appelle Adèle Martin")
    assert _texts(memory.list("adele")) == ["Je m'appelle Adèle Martin"]
    history = memory.list("adele", include_history=True)
    assert _texts(history) == [
        "Je m'appelle Adèle Martin",
        "Je m'appelle Adèle",
        "Je m'appelle Ada",
    ]
    assert {m.superseded_by for m in history[1:]} == {current.id}
    recalled = memory.search("adele", "Comment je m'appelle ?", k=3)
    assert [m.id for m in recalled] == [current.id]


def test_history_rows_are_read_only_and_go_with_their_memory(memory):
    tea = memory.add("mia", "I prefer green tea", "note")
    same = memory.edit("mia", tea.id, " I prefer  green tea ")
    assert same.updated_at == tea.updated_at
    assert len(memory.list("mia", include_history=True)) == 1  # nothing changed, nothing kept
    memory.edit("mia", tea.id, "Je préfère le café noir")
    old = memory.list("mia", include_history=True)[1]
    with pytest.raises(ChatforgeError, match=f"earlier version of memory {tea.id}; edit memory"):
        memory.edit("mia", old.id, "I prefer oolong")
    with pytest.raises(ChatforgeError, match="not found for user 'noa'"):
        memory.edit("noa", tea.id, "I prefer water")
    # The earlier text said again is a memory of its own, not the history row revived.
    again = memory.add("mia", "I prefer green tea", "note")
    assert again.id not in (tea.id, old.id) and again.superseded_by is None
    assert memory.get("mia", old.id).superseded_by == tea.id
    memory.delete("mia", tea.id)
    assert _texts(memory.list("mia", include_history=True)) == ["I prefer green tea"]
    with pytest.raises(ChatforgeError, match=f"memory {old.id} not found"):
        memory.get("mia", old.id)
