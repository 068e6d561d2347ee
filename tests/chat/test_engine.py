"""Asking a real bot: retrieval, the "don't know" path, memory, history, interruption.

Assertions avoid the 135M model's wording: they check what was retrieved, recalled, stored and
put in the prompt, which the model cannot change.
"""

from __future__ import annotations

import pytest

from chatforge.bot import Bot
from chatforge.chat.answer import cited_numbers
from chatforge.errors import ChatforgeError


def test_answer_cites_retrieved_passages_and_the_turn_is_stored(bot):
    answer = bot.ask("How do I uninstall the widget completely?", user="ann", seed=0)
    assert answer.text and not answer.interrupted
    assert answer.sources and answer.sources[0].hit.source == "guide/install.md"
    assert "notes/animals.txt" not in {s.hit.source for s in answer.sources}
    cited = set(cited_numbers(answer.text))
    assert [s.cited for s in answer.sources] == [s.n in cited for s in answer.sources]
    assert answer.usage["prompt_tokens"] > 0 and 0 < answer.usage["completion_tokens"] <= 16
    assert answer.timings["total_ms"] >= answer.timings["first_token_ms"] > 0
    assert "[1]" in answer.prompt.text
    messages = bot.conversations.messages(answer.conversation_id, "ann")
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[1].text == answer.text and messages[1].id == answer.message_id
    assert messages[1].sources[0]["source"] == "guide/install.md"


def test_unrelated_question_gets_the_profile_unknown_answer_without_the_model(bot):
    answer = bot.ask("What is the boiling point of mercury on Venus?", user="ann")
    assert answer.text == bot.settings.chat.unknown_answer
    assert answer.sources == [] and answer.prompt is None
    assert answer.usage["completion_tokens"] == 0
    assert bot.conversations.get(answer.conversation_id, "ann").turns == 1


def test_memory_is_recalled_in_a_later_conversation_of_the_same_user_only(bot):
    first = bot.ask("My name is Zorblat and I live in Lyon.", user="alice")
    texts = [m.text for m in bot.memory.list("alice")]
    assert "My name is Zorblat" in texts and "I live in Lyon" in texts
    later = bot.prepare("What is my name?", user="alice")
    assert later.conversation_id != first.conversation_id
    assert later.mode == "memory" and "Zorblat" in (later.fixed_reply or "")
    recalled = bot.prepare("Tell me about my name and the widget port.", user="alice")
    assert recalled.prompt is not None and "Zorblat" in recalled.prompt.text
    other = bot.prepare("What is my name?", user="bob")
    assert other.memories == [] and "Zorblat" not in (other.fixed_reply or "")
    other = bot.prepare("Tell me about my name and the widget port.", user="bob")
    assert other.memories == []
    assert "Zorblat" not in (other.prompt.text if other.prompt else "")


def test_remember_that_is_stored_before_the_answer_returns(bot):
    stream = bot.stream("Remember that my locker code is 4512.", user="carol")
    assert [m.text for m in bot.memory.list("carol", "explicit")] == ["my locker code is 4512"]
    items = list(stream)
    assert items[-1].text.startswith("Noted") and bot.memory.search("carol", "locker", 1)
    assert bot.memory.list("dave") == []


def test_history_is_kept_per_user_and_follow_ups_are_condensed(bot):
    first = bot.ask("How do I install the widget on Debian?", user="erin", max_tokens=8)
    follow = bot.ask(
        "and how do I undo it?", user="erin", conversation_id=first.conversation_id, max_tokens=8
    )
    assert follow.conversation_id == first.conversation_id
    assert follow.query != "and how do I undo it?"  # condensed (or the fallback) for retrieval
    assert "guide/install.md" in {s.hit.source for s in follow.sources}
    assert [c.turns for c in bot.conversations.list("erin")] == [2]
    assert bot.conversations.list("frank") == []
    with pytest.raises(ChatforgeError) as other_user:
        bot.conversations.messages(first.conversation_id, "frank")
    with pytest.raises(ChatforgeError) as missing:
        bot.conversations.messages("nope", "frank")
    assert str(other_user.value).replace(first.conversation_id, "X") == str(missing.value).replace(
        "nope", "X"
    )
    with pytest.raises(ChatforgeError, match="not found"):
        bot.ask("and then?", user="frank", conversation_id=first.conversation_id)


def test_an_interrupted_answer_is_kept_and_marked(bot):
    stream = bot.stream("Which port does the widget daemon listen on?", user="gus", seed=0)
    first_piece = next(stream)
    stream.close()
    answer = stream.answer
    assert answer.interrupted and answer.text == first_piece.strip()
    stored = bot.conversations.messages(answer.conversation_id, "gus")
    assert stored[-1].interrupted and stored[-1].text == answer.text


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question_is_refused(bot, question):
    with pytest.raises(ChatforgeError, match="empty"):
        bot.ask(question)


def test_question_longer_than_the_window_is_refused(bot, tiny_llm):
    bot = Bot(bot.folder, bot.settings, embedder=bot.embedder, llm=tiny_llm)
    with pytest.raises(ChatforgeError, match="context window"):
        bot.ask("why is the widget daemon listening " * 120, user="hal")
    assert bot.conversations.list("hal") == []


def test_missing_model_file_names_the_path_and_the_fix(bot_dir, monkeypatch):
    from chatforge.bot import Bot

    monkeypatch.setenv("CHATFORGE_LLM__MODEL", "/nowhere/model.gguf")
    with pytest.raises(ChatforgeError, match="/nowhere/model.gguf.*built-in name"):
        Bot(bot_dir).llm  # noqa: B018


def test_history_given_by_the_caller_reaches_the_prompt_without_a_stored_conversation(bot):
    history = [("How do I install the widget on Debian?", "Run apt install widget [1].")]
    prepared = bot.prepare("And how do I remove it?", user="gina", history=history)
    assert prepared.prompt is not None
    assert "How do I install the widget on Debian?" in prepared.prompt.text
    assert bot.conversations.list("gina") == []


def test_passages_far_below_the_best_one_are_left_out_of_the_prompt(bot, monkeypatch):
    question = "How do I uninstall the widget completely?"
    assert bot.chat.mode() == "generate"
    monkeypatch.setattr(bot.settings.chat, "score_gap", 2.0)
    every = bot.prepare(question).sources
    assert all(s.relevance >= bot.settings.chat.min_score for s in every)
    best = max(s.relevance for s in every)
    monkeypatch.setattr(bot.settings.chat, "score_gap", 0.15)
    prepared = bot.prepare(question)
    kept = {s.hit.chunk_id for s in prepared.sources}
    assert kept == {s.hit.chunk_id for s in every if s.relevance >= best - 0.15}
    assert 0 < len(kept) < len(every), "the sample bot should have a passage past the gap"
    assert all(f"[{s.n}]" in prepared.prompt.text for s in prepared.sources)


@pytest.mark.parametrize(
    "question",
    ["How do I uninstall the widget completely?", "Comment désinstaller complètement le widget ?"],
)
def test_an_answer_not_saved_takes_the_same_path_and_stores_nothing(bot, question):
    saved = bot.ask(question, user="uma", seed=0)
    unsaved = bot.ask(question, user="vic", seed=0, save=False)
    assert unsaved.message_id == 0 and saved.message_id > 0
    assert unsaved.mode == saved.mode and unsaved.query == saved.query
    assert [s.hit.chunk_id for s in unsaved.sources] == [s.hit.chunk_id for s in saved.sources]
    if saved.prompt is not None:
        assert unsaved.prompt.text == saved.prompt.text
    assert bot.conversations.list("vic") == []


def test_an_answer_not_saved_keeps_no_stated_fact_and_no_request_to_remember(bot):
    bot.ask("My name is Vesna and I live in Lyon.", user="vesna", save=False)
    asked = bot.stream("Remember that my locker code is 7781.", user="vesna", save=False)
    assert list(asked)[-1].text.startswith("Noted")
    assert bot.memory.list("vesna") == [] and bot.conversations.list("vesna") == []


def test_an_engine_built_from_parts_quotes_without_opening_the_model(bot_dir, embedder):
    """The model is a callable that fails the test: a quoted answer must never open it."""
    from chatforge.bot import open_store
    from chatforge.chat.conversations import ConversationStore
    from chatforge.chat.engine import ChatEngine
    from chatforge.chat.memory import MemoryStore
    from chatforge.config import Settings
    from chatforge.retrieve import Retriever

    settings = Settings.load(bot_dir)
    settings.chat.mode = "extractive"
    store = open_store(bot_dir, settings, lambda: embedder.dim)
    engine = ChatEngine(
        settings,
        store,
        ConversationStore(store),
        MemoryStore(store, lambda: embedder),
        search=Retriever(store, embedder, settings.retrieve).search,
        embedder=lambda: embedder,
        llm=lambda: pytest.fail("the model was opened for a quoted answer"),
    )
    try:
        answer = engine.ask("Which port does the widget daemon listen on?", user="wes")
    finally:
        store.close()
    assert answer.mode == "extractive" and "7341" in answer.text
    assert answer.sources[0].hit.source == "guide/network.md"
