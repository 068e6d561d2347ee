"""A profile's way of answering, made visible even when a 0.5B model writes.

A small model follows "one to three sentences" but not "explain step by step, then ask a
question": longer instructions blur into each other. So the prompt asks only for the number
of sentences (`chat.sentences`) and the layout is made after the fact (`chat.shape`): `short`
cuts an answer after that many sentences, `steps` numbers them one per line. A check question
(`chat.check_question`, the teacher's) comes from a second, short generation that sees only
the answer, which the model does reliably.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from chatforge.chat.answer import CITE, LEADING_CITES, SENTENCE_BREAK

if TYPE_CHECKING:
    from chatforge.config import ChatSettings
    from chatforge.llm.base import LLM, GenOptions, Message

_STEP_NUMBER = re.compile(r"^\s*(?:step\s*\d+\s*[:.)-]|étape\s*\d+\s*[:.)-]|\d+[.)])\s*", re.I)

_NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
ASK_CHECK = {
    "en": "Write one short question that checks whether a student understood this explanation. "
    "Reply with the question only.",
    "fr": "Écris une seule question courte qui vérifie qu'un élève a compris cette explication. "
    "Réponds seulement par la question.",
}
CHECK_FALLBACK = {
    "en": "Can you explain this back in your own words?",
    "fr": "Pouvez-vous le réexpliquer avec vos propres mots ?",
}


def rules(chat: ChatSettings) -> str:
    """The answering instruction that follows the system prompt when there are passages."""
    n = chat.sentences
    count = _NUMBERS.get(n, str(n))
    length = "one sentence" if n == 1 else f"one to {count} sentences"
    if chat.shape == "steps":
        length = f"{count} short steps, one sentence each"
    return (
        f"Answer the question directly in {length}, reusing the passages' own words. "
        "End each sentence with the number of the passage it comes from, like [1]."
    )


def sentences(text: str) -> list[str]:
    """The answer's sentences, each with the markers that follow it, spaces single."""
    return [" ".join(text[start:end].split()) for start, end in _spans(text)]


def enough(text: str, n: int) -> int | None:
    """Where an answer being written ends once it holds `n` sentences: the end of its n-th
    sentence (with the markers after it), when the next one has begun; None before that, and
    for an answer that opens a code block (its lines are not sentences).

    A `short` or `steps` answer keeps that many sentences, so generation stops there: a small
    model asked for "one to two sentences" often goes on, and what it would add is cut anyway.
    """
    if "```" in text:
        return None
    spans = _spans(text)
    return spans[n - 1][1] if len(spans) > n else None


def _spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text` (`SENTENCE_BREAK`): the markers after a sentence
    end it, a list item's number ("2.") opens the sentence after it, and a piece with neither
    words nor digits (a lone bullet) is none."""
    spans: list[tuple[int, int]] = []
    start, opened = 0, None
    for m in [*SENTENCE_BREAK.finditer(text), None]:
        piece = text[start : m.start() if m else len(text)]
        lead = LEADING_CITES.match(piece)
        markers = lead.end() if lead else 0
        if markers and spans:
            spans[-1] = (spans[-1][0], start + len(piece[:markers].rstrip()))
        body = CITE.sub("", piece[markers:]).strip(" .!?-*)")
        if body.isdigit():
            opened = start + markers if opened is None else opened
        elif body:
            spans.append((start + markers if opened is None else opened, start + len(piece)))
            opened = None
        start = m.end() if m else start
    return spans


def shape(text: str, chat: ChatSettings) -> str:
    """`text` laid out as `chat.shape` says (unchanged for prose or a single sentence)."""
    if chat.shape == "prose":
        return text
    if chat.shape == "short":
        end = enough(text, chat.sentences)
        return text if end is None else text[:end].rstrip()
    parts = sentences(text)
    if len(parts) < 2:
        return text
    steps = [_STEP_NUMBER.sub("", p) for p in parts[: chat.sentences]]
    return "\n".join(f"{i}. {step}" for i, step in enumerate(steps, 1))


def check_messages(answer: str, language: str) -> list[Message]:
    """The prompt for a check question about `answer`, in `language`."""
    return [
        {"role": "system", "content": ASK_CHECK[language]},
        {"role": "user", "content": CITE.sub("", answer).strip()},
    ]


def check_question(written: str, language: str) -> str:
    """The model's question cut at its first "?", or a fixed one when it wrote none."""
    first = written.strip().split("\n", 1)[0].strip()
    end = first.find("?")
    if end < 8:
        return CHECK_FALLBACK[language]
    return _STEP_NUMBER.sub("", first[: end + 1]).removeprefix("Question:").strip()


def ask_check_question(llm: LLM, answer: str, language: str, options: GenOptions) -> str:
    """A question, written by `llm`, that checks the reader understood `answer`."""
    short = replace(options, max_tokens=48, stop=("\n",))
    return check_question(llm.generate(check_messages(answer, language), short).text, language)
