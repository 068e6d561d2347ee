"""The token budget, counted with the real SmolLM2 tokenizer and chat template (512 tokens)."""

from __future__ import annotations

import pytest

from chatforge.chat.answer import Source
from chatforge.chat.prompt import build_prompt
from chatforge.errors import ChatforgeError
from chatforge.schema import Hit

SYSTEM = "Answer from the numbered passages and cite them as [n]."


def _passages(n: int, words: int) -> list[Source]:
    out = []
    for i in range(n):
        text = " ".join(f"fact{i}_{w}" for w in range(words))
        out.append(Source(0, Hit(text, 1.0 - i / 100, f"d{i}.md", f"Title {i}", "", 0, 1, i, i)))
    return out


@pytest.mark.parametrize("max_tokens", [32, 200])
def test_prompt_plus_answer_never_exceeds_the_window(tiny_llm, max_tokens):
    history = [(f"old question {i} " * 20, f"old answer {i} " * 30) for i in range(10)]
    built = build_prompt(
        tiny_llm,
        "How do the facts relate?",
        system_prompt=SYSTEM,
        sources=_passages(20, 60),
        memories=["My name is Zorblat"],
        history=history,
        max_tokens=max_tokens,
    )
    assert tiny_llm.count_chat_tokens(built.messages) == built.prompt_tokens
    assert built.prompt_tokens + max_tokens <= tiny_llm.context_window
    # The best passages survive, renumbered [1]..[m] in rank order; the rest are left out.
    assert 1 <= len(built.sources) < 20
    assert [s.n for s in built.sources] == list(range(1, len(built.sources) + 1))
    assert [s.hit.chunk_id for s in built.sources] == list(range(len(built.sources)))
    assert built.left_out["passages"] == 20 - len(built.sources)
    # Old turns go first: whatever history is kept is the most recent.
    assert built.history == history[len(history) - len(built.history) :]
    assert built.text == tiny_llm.format_chat(built.messages)
    assert "[1] fact0_0" in built.text and "(from: Title 0)" in built.text
    assert "How do the facts relate?" in built.text


def test_a_passage_longer_than_the_window_is_shortened(tiny_llm):
    built = build_prompt(
        tiny_llm, "What is it?", system_prompt=SYSTEM, sources=_passages(1, 2000), max_tokens=64
    )
    assert len(built.sources) == 1 and built.notices
    assert built.prompt_tokens + 64 <= tiny_llm.context_window


def test_a_question_longer_than_the_window_is_refused(tiny_llm):
    question = "why " * 600
    with pytest.raises(ChatforgeError, match="context window of 512 tokens"):
        build_prompt(tiny_llm, question, system_prompt=SYSTEM, max_tokens=32)
