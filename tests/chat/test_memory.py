"""Long-term memory as users manage it: add, search, edit, delete, never across users."""

from __future__ import annotations

import pytest

from chatforge.errors import ChatforgeError


def test_memories_are_managed_per_user(bot):
    tea = bot.memory.add("mia", "I prefer green tea", "note")
    bot.memory.add("mia", "I use Fedora at work", "fact")
    assert bot.memory.add("mia", "i prefer green tea", "note").id == tea.id  # kept once
    found = bot.memory.search("mia", "Which drink do I like?", k=1)
    assert [m.id for m in found] == [tea.id] and found[0].score > 0.3
    assert bot.memory.search("noa", "Which drink do I like?") == []
    for action in (
        lambda: bot.memory.edit("noa", tea.id, "I prefer coffee"),
        lambda: bot.memory.delete("noa", tea.id),
    ):
        with pytest.raises(ChatforgeError, match="not found for user 'noa'"):
            action()
    edited = bot.memory.edit("mia", tea.id, "I prefer black coffee")
    assert bot.memory.search("mia", "coffee", k=1)[0].id == edited.id
    bot.memory.delete("mia", tea.id)
    assert [m.text for m in bot.memory.list("mia")] == ["I use Fedora at work"]


def test_a_summary_is_stored_every_n_turns(bot, monkeypatch):
    """The summary is shortened only to keep the suite fast on a busy CPU."""
    from chatforge.chat import rewrite

    monkeypatch.setattr(rewrite, "SUMMARY_MAX_TOKENS", 24)
    bot.settings.memory.summarize_every = 1
    bot.ask("My name is Quilla and I work at the harbour.", user="quilla")
    kinds = {m.kind for m in bot.memory.list("quilla")}
    assert kinds == {"fact", "summary"}
    assert bot.memory.list("rex") == []
