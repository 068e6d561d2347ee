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

from chatforge.chat.answer import CITE

if TYPE_CHECKING:
    from chatforge.config import ChatSettings
    from chatforge.llm.base import LLM, GenOptions, Message

_SENTENCE = re.compile(r".+?(?:[.!?](?=\s|$)(?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])*|\n|$)", re.DOTALL)
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
    out = []
    for m in _SENTENCE.finditer(text):
        sentence = " ".join(m.group(0).split())
        if CITE.sub("", sentence).strip(" .!?-*"):
            out.append(sentence)
        elif out and sentence:
            out[-1] += " " + sentence
    return out


def shape(text: str, chat: ChatSettings) -> str:
    """`text` laid out as `chat.shape` says (unchanged for prose or a single sentence)."""
    if chat.shape == "prose":
        return text
    parts = sentences(text)
    if chat.shape == "short":
        return " ".join(parts[: chat.sentences]) if len(parts) > chat.sentences else text
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
