"""Prompt assembly under a token budget, with the model's own chat template.

The prompt holds the profile's system prompt (and a line asking for an answer in the question's
language), recalled memories, recent turns, and the retrieved passages numbered [1]..[n] with
their titles, then the question. Prompt plus answer (`max_tokens`) must fit the model's context
window, counted with the model's own tokenizer, so parts are added by priority and whatever does
not fit is left out: the best passage first, then the newest turn, the memories, the other
passages by rank, and older turns newest first. The lowest-ranked passages and the oldest turns
are thus the first to go. A best passage too long on its own is shortened; a question that
cannot fit is refused with a clear message, so the model never sees an overflowing prompt. With
`best_last` the passages are listed from the lowest rank up, so passage [1] sits right before
the question, where a small model attends most.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from chatforge.chat.answer import Source
from chatforge.chat.facts import language_of
from chatforge.errors import ChatforgeError
from chatforge.llm.base import LLM, Message

MIN_PASSAGE_CHARS = 80
REPLY_IN = {
    "en": "Answer in English, the language of the question.",
    "fr": "Answer in French (réponds en français), the language of the question.",
}
"""The instruction line that follows the system prompt, by the question's language."""
_NUMBERING = re.compile(r"^\d+(?:\.\d+)*\.?\s*")


@dataclass
class BuiltPrompt:
    """What the model will see: the messages, the exact templated text, and what was left out."""

    messages: list[Message]
    text: str
    prompt_tokens: int
    max_tokens: int
    context_window: int
    sources: list[Source]
    memories: list[str]
    history: list[tuple[str, str]]
    left_out: dict[str, int] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "text": self.text,
            "prompt_tokens": self.prompt_tokens,
            "max_tokens": self.max_tokens,
            "context_window": self.context_window,
            "sources": [s.to_dict() for s in self.sources],
            "memories": self.memories,
            "history_turns": len(self.history),
            "left_out": self.left_out,
            "notices": self.notices,
        }


def format_passage(source: Source, text: str | None = None) -> str:
    """Passage n as the model reads it: its marker and text, then the heading it comes from.

    The text comes first, so a model that copies from the passage copies its words rather than
    its heading; the heading (the passage's own section, without numbering) still says what
    the passage is about.
    """
    hit = source.hit
    heading = hit.section.rsplit(" > ", 1)[-1] if hit.section else ""
    heading = _NUMBERING.sub("", heading) or hit.title or hit.source
    raw = source.shown if text is None else text
    body = "\n".join(" ".join(line.split()) for line in raw.splitlines() if line.strip())
    return f"[{source.n}] {body}\n(from: {heading})"


def _messages(
    system_prompt: str,
    question: str,
    passages: Sequence[str],
    memories: Sequence[str],
    history: Sequence[tuple[str, str]],
    best_last: bool = False,
    rules: str = "",
) -> list[Message]:
    system = f"{system_prompt.strip()}\n{REPLY_IN[language_of(question)]}"
    if passages and rules:
        system += f"\n{rules}"
    if memories:
        system += "\n\nWhat you remember about the user (in their own words):\n"
        system += "\n".join(f"- {m}" for m in memories)
    out: list[Message] = [{"role": "system", "content": system}]
    for q, a in history:
        out.append({"role": "user", "content": q})
        out.append({"role": "assistant", "content": a})
    user = question.strip()
    if passages:
        shown = reversed(passages) if best_last else passages
        user = "Passages:\n\n" + "\n\n".join(shown) + f"\n\nQuestion: {user}"
    out.append({"role": "user", "content": user})
    return out


class _Budget:
    """Adds parts one at a time, keeping each only if the whole prompt still fits."""

    def __init__(
        self,
        llm: LLM,
        system_prompt: str,
        question: str,
        limit: int,
        best_last: bool = False,
        rules: str = "",
    ) -> None:
        self.llm, self.limit, self.best_last, self.rules = llm, limit, best_last, rules
        self.system_prompt, self.question = system_prompt, question
        self.passages: list[str] = []
        self.memories: list[str] = []
        self.history: list[tuple[str, str]] = []  # oldest first

    def messages(self) -> list[Message]:
        return _messages(
            self.system_prompt,
            self.question,
            self.passages,
            self.memories,
            self.history,
            self.best_last,
            self.rules,
        )

    def tokens(self) -> int:
        return self.llm.count_chat_tokens(self.messages())

    def fits(self) -> bool:
        return self.tokens() <= self.limit

    def try_add(self, kind: str, item: Any) -> bool:
        target = getattr(self, kind)
        if kind == "history":
            target.insert(0, item)
        else:
            target.append(item)
        if self.fits():
            return True
        target.remove(item)
        return False


def check_room(llm: LLM, question: str, *, system_prompt: str, max_tokens: int) -> None:
    """Refuse a question that, with the instructions alone, leaves no room for the answer.

    Checked before any retrieval, so a question that cannot be answered costs nothing more.
    """
    budget = _Budget(llm, system_prompt, question, llm.context_window - max_tokens)
    _refuse_without_room(budget, max_tokens)


def _refuse_without_room(budget: _Budget, max_tokens: int) -> None:
    base = budget.tokens()
    if base > budget.limit:
        llm = budget.llm
        raise ChatforgeError(
            f"the question needs {base} prompt tokens with the instructions, but {llm.name}'s "
            f"context window of {llm.context_window} tokens must also leave {max_tokens} for "
            "the answer; shorten the question, lower llm.max_tokens, or raise llm.n_ctx"
        )


def build_prompt(
    llm: LLM,
    question: str,
    *,
    system_prompt: str,
    sources: Sequence[Source] = (),
    memories: Sequence[str] = (),
    history: Sequence[tuple[str, str]] = (),
    max_tokens: int = 256,
    best_last: bool = False,
    rules: str = "",
) -> BuiltPrompt:
    """Build the chat messages for `question`, keeping prompt + `max_tokens` in the window.

    `sources` come best first and are renumbered [1].. in the order kept; `history` is
    (question, answer) pairs, oldest first; `memories` best first; `rules`, the answering
    instruction (chatforge.chat.style.rules), follows the system prompt when passages are shown.
    """
    window = llm.context_window
    budget = _Budget(llm, system_prompt, question, window - max_tokens, best_last, rules)
    _refuse_without_room(budget, max_tokens)
    notices: list[str] = []
    kept: list[Source] = []
    turns = list(history)

    def add_source(src: Source) -> bool:
        numbered = Source(len(kept) + 1, src.hit, src.relevance, text=src.text)
        if budget.try_add("passages", format_passage(numbered)):
            kept.append(numbered)
            return True
        return False

    if sources and not add_source(sources[0]):
        first = Source(1, sources[0].hit, sources[0].relevance, text=sources[0].text)
        text = _fit_passage(budget, first)
        if text is not None:
            budget.passages.append(format_passage(first, text))
            first.text = text
            kept.append(first)
            notices.append(f"passage [1] shortened to {len(text)} characters to fit the window")
    if turns:
        budget.try_add("history", turns[-1])
    for m in memories:
        budget.try_add("memories", m)
    for src in sources[1:]:
        if not add_source(src):
            break
    for turn in reversed(turns[:-1]):
        if not budget.try_add("history", turn):
            break

    left_out = {
        "passages": len(sources) - len(kept),
        "history_turns": len(turns) - len(budget.history),
        "memories": len(memories) - len(budget.memories),
    }
    if left_out["passages"] or left_out["history_turns"]:
        notices.append(
            f"left out to fit {window} tokens: {left_out['passages']} passages, "
            f"{left_out['history_turns']} older turns"
        )
    messages = budget.messages()
    return BuiltPrompt(
        messages=messages,
        text=llm.format_chat(messages),
        prompt_tokens=llm.count_chat_tokens(messages),
        max_tokens=max_tokens,
        context_window=window,
        sources=kept,
        memories=list(budget.memories),
        history=list(budget.history),
        left_out={k: v for k, v in left_out.items() if v},
        notices=notices,
    )


def _fit_passage(budget: _Budget, source: Source) -> str | None:
    """The longest prefix of the passage (cut at a word) that fits, or None if too little does."""
    words = source.shown.split()
    lo, hi = 0, len(words)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        budget.passages.append(format_passage(source, " ".join(words[:mid]) + " …"))
        ok = budget.fits()
        budget.passages.pop()
        lo, hi = (mid, hi) if ok else (lo, mid - 1)
    text = " ".join(words[:lo]) + " …"
    return text if len(text) >= MIN_PASSAGE_CHARS else None
