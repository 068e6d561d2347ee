"""What the model writes about a conversation rather than for the user.

A follow-up ("and how do I undo it?") retrieves nothing on its own, so it is rewritten into a
standalone question first; every few turns the conversation is summed up into a memory. Both
are best effort: a failed or junk rewrite falls back to plain text, a failed summary is skipped.
"""

from __future__ import annotations

import logging
import re

from chatforge.errors import ChatforgeError
from chatforge.llm.base import LLM, GenOptions, Message

log = logging.getLogger("chatforge.chat")

CONDENSE_PROMPT = (
    "Rewrite the user's last question as one standalone question that can be understood "
    "without the conversation. Reply with the question only."
)
CONDENSE_MAX_TOKENS = 48
SUMMARY_PROMPT = (
    "Summarize this conversation in one or two sentences: what the user wanted and any facts "
    "about the user. Reply with the summary only."
)
SUMMARY_MAX_TOKENS = 96


def condense(llm: LLM, question: str, history: list[tuple[str, str]]) -> str:
    """A standalone version of a follow-up question, for retrieval.

    Falls back to "previous question + this one" when the model's rewrite looks like junk.
    """
    transcript = "\n".join(f"User: {q}\nAssistant: {_clip(a, 300)}" for q, a in history[-3:])
    messages: list[Message] = [
        {"role": "system", "content": CONDENSE_PROMPT},
        {
            "role": "user",
            "content": f"Conversation:\n{transcript}\n\nLast question: {question}\n\n"
            "Standalone question:",
        },
    ]
    fallback = f"{history[-1][0]} {question}"
    try:
        prompt_tokens = llm.count_chat_tokens(messages)
        if prompt_tokens + CONDENSE_MAX_TOKENS > llm.context_window:
            return fallback
        out = llm.generate(
            messages, GenOptions(max_tokens=CONDENSE_MAX_TOKENS, temperature=0.0, seed=0)
        ).text
    except ChatforgeError as e:
        log.info("condensing failed (%s); using the previous question too", e)
        return fallback
    return _clean_condensed(out, question) or fallback


def summarize(llm: LLM, history: list[tuple[str, str]]) -> str | None:
    """The model's summary of these turns, the oldest left out until they fit; None if it fails.

    A summary of fewer than four words says nothing worth remembering.
    """

    def messages(turns: list[tuple[str, str]]) -> list[Message]:
        transcript = "\n".join(f"User: {q}\nAssistant: {_clip(a, 400)}" for q, a in turns)
        return [
            {"role": "system", "content": SUMMARY_PROMPT},
            {"role": "user", "content": transcript},
        ]

    while history and (
        llm.count_chat_tokens(messages(history)) + SUMMARY_MAX_TOKENS > llm.context_window
    ):
        history = history[1:]
    if not history:
        return None
    try:
        summary = llm.generate(
            messages(history), GenOptions(max_tokens=SUMMARY_MAX_TOKENS, temperature=0.0, seed=0)
        ).text
    except ChatforgeError as e:
        log.info("summarizing failed: %s", e)
        return None
    summary = " ".join(summary.split())
    return summary if len(re.findall(r"\w+", summary)) >= 4 else None


def _clean_condensed(text: str, question: str) -> str | None:
    """The first question in the model's rewrite, or None when there is none or it is an echo.

    Small models often echo the transcript around the rewrite; a standalone question is the
    first stretch of text ending in "?" once role labels are cut away.
    """
    text = re.sub(r"\b(?:user|assistant|standalone question|question)\s*:", "\n", text, flags=re.I)
    for m in re.finditer(r"[^.?!\n]*\?", text):
        candidate = " ".join(m.group(0).split()).strip(" \"'*-")
        words = re.findall(r"\w+", candidate.lower())
        if words == re.findall(r"\w+", question.lower()):
            return None  # an echo adds nothing the history could
        if len(words) >= 3 and len(candidate) <= max(300, 3 * len(question)):
            return candidate
    return None


def _clip(text: str, chars: int) -> str:
    """The text on one line, cut to `chars` with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= chars else text[: chars - 1] + "…"
