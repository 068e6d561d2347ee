"""A turn as the chat engine carries it: the question admitted, then everything decided for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from chatforge.errors import ChatforgeError

if TYPE_CHECKING:
    from collections.abc import Callable

    from chatforge.chat.answer import Source
    from chatforge.chat.prompt import BuiltPrompt
    from chatforge.config import AnswerMode
    from chatforge.llm.base import Generation


@dataclass(frozen=True)
class Turn:
    """A checked question, whose it is, its conversation, and the turns before it (oldest first).

    `conversation_id` is a fresh id when the question starts a conversation.
    """

    question: str
    user: str
    conversation_id: str
    history: list[tuple[str, str]] = field(default_factory=list)


class Decision(NamedTuple):
    """How a turn will be answered: the mode, the reply when the model is not called (None when
    it is), and the passages the answer draws on."""

    mode: AnswerMode
    reply: str | None
    sources: list[Source]


@dataclass
class PreparedTurn:
    """Everything decided before the model speaks: the query, the passages, the prompt.

    `fixed_reply` is the whole answer when the model is not called (a quote or a fixed reply);
    `remembered` is the fact of an explicit "remember that ..." request, stored with the turn.
    """

    question: str
    user: str
    conversation_id: str
    query: str
    sources: list[Source]
    memories: list[str]
    prompt: BuiltPrompt | None
    fixed_reply: str | None
    timings: dict[str, float]
    started: float
    mode: AnswerMode = "generate"
    remembered: str | None = None

    def usage(
        self, text: str, generation: Generation | None, count: Callable[[str], int]
    ) -> dict[str, int]:
        """Tokens read and written: the model's own count, else `count`ed (0 without a prompt)."""
        if generation is not None:
            return {
                "prompt_tokens": generation.prompt_tokens,
                "completion_tokens": generation.completion_tokens,
                "cached_tokens": generation.cached_tokens,
            }
        return {
            "prompt_tokens": self.prompt.prompt_tokens if self.prompt else 0,
            "completion_tokens": count(text) if self.prompt and text else 0,
            "cached_tokens": 0,
        }


def check_user(user: str) -> str:
    """The user id, stripped; one line naming the rule when it is empty or too long."""
    user = (user or "").strip()
    if not user or len(user) > 200:
        raise ChatforgeError("user id must be 1 to 200 characters, e.g. --user alice")
    return user
