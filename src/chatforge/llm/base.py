"""The one protocol every language-model backend speaks.

A backend turns chat messages (``{"role": ..., "content": ...}`` dicts) into a prompt with the
model's own chat template, counts tokens the way the model does (so callers can budget a context
window), and streams text.

Streaming returns a :class:`Stream`: iterate it for text pieces; once it is exhausted its
``generation`` holds the whole text and the usage. Closing it (``close()``, leaving a ``with``
block, or dropping it) stops the model at the next token, which is what a Ctrl-C or a client
disconnect needs.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal

Message = dict[str, str]
FinishReason = Literal["stop", "length"]

PLAIN_STOP = "\nUser:"


@dataclass(frozen=True)
class GenOptions:
    """How one completion is sampled; temperature 0 is greedy (deterministic)."""

    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = field(default=())
    """Texts that end the completion (not included in it)."""
    seed: int | None = None
    json_schema: str | None = None
    """A JSON schema (as JSON text) the completion must match: decoded under a grammar built
    from it, so the text always parses and fits (llama.cpp and OpenAI-compatible servers)."""

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        object.__setattr__(self, "stop", tuple(s for s in self.stop if s))


GREEDY = GenOptions()


@dataclass
class Generation:
    """A finished completion and what it cost in tokens."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: FinishReason
    cached_tokens: int = 0
    """Prompt tokens not read but taken from a cached prompt (llama.cpp's batch engine)."""


class Stream(Iterator[str]):
    """Text pieces of one completion; ``generation`` is set once the pieces run out.

    Wraps a backend generator that yields ``str`` pieces and *returns* the :class:`Generation`,
    so usage travels with the stream that produced it instead of living on the shared model.
    """

    def __init__(self, pieces: Generator[str, None, Generation]) -> None:
        self._pieces = pieces
        self.generation: Generation | None = None

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> str:
        try:
            return next(self._pieces)
        except StopIteration as done:
            self.generation = done.value
            raise

    def close(self) -> None:
        """Stop generating now; safe to call more than once."""
        self._pieces.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class LLM(ABC):
    """A chat model: prompt formatting, token counting and (streamed) generation.

    Subclasses implement ``count_tokens``, ``format_chat`` and ``_generate``; the rest follows.
    """

    name: str
    context_window: int

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` on its own (no BOS or other special tokens added)."""

    @abstractmethod
    def format_chat(self, messages: Sequence[Message]) -> str:
        """The prompt after the model's chat template, generation prompt appended."""

    def count_chat_tokens(self, messages: Sequence[Message]) -> int:
        """Prompt tokens that ``generate(messages)`` will feed the model."""
        return self.count_tokens(self.format_chat(messages))

    @abstractmethod
    def _generate(
        self, messages: Sequence[Message], options: GenOptions
    ) -> Generator[str, None, Generation]:
        """Yield text pieces and return the finished :class:`Generation`.

        Must release the model promptly when closed (``GeneratorExit`` at a ``yield``).
        """

    def stream(self, messages: Sequence[Message], options: GenOptions = GREEDY) -> Stream:
        """Stream the reply to ``messages``."""
        return Stream(self._generate(messages, options))

    def generate(self, messages: Sequence[Message], options: GenOptions = GREEDY) -> Generation:
        """The whole reply to ``messages`` at once, with token usage."""
        with self.stream(messages, options) as pieces:
            for _ in pieces:
                pass
        assert pieces.generation is not None
        return pieces.generation


def format_plain(messages: Sequence[Message]) -> str:
    """A completion-style transcript for base models that have no chat template.

    System text comes first, then ``User: ...`` / ``Assistant: ...`` turns, ending with
    ``Assistant:`` for the model to continue; callers stop on ``PLAIN_STOP`` so a base model
    does not go on to write the user's next turn.
    """
    parts: list[str] = []
    for m in messages:
        role, content = m.get("role", "user"), m.get("content", "").strip()
        if role == "system":
            parts.append(f"{content}\n")
        elif role == "assistant":
            parts.append(f"Assistant: {content}")
        else:
            parts.append(f"User: {content}")
    parts.append("Assistant:")
    return "\n".join(parts)


def estimate_tokens(text: str) -> int:
    """About four characters per token: the usual rule of thumb for English BPE vocabularies."""
    return math.ceil(len(text) / 4)


class StopText:
    """Cut streamed text at the first stop string without ever emitting part of one.

    Text that could be the start of a stop string is held back until the next piece
    decides it. ``lstrip`` drops leading whitespace (a base model answering after
    ``Assistant:`` starts with a space).
    """

    def __init__(self, stops: Sequence[str], *, lstrip: bool = False) -> None:
        self.stops = [s for s in stops if s]
        self._held = ""
        self._lstrip = lstrip
        self.stopped = False

    def push(self, piece: str) -> str:
        """Add ``piece``; return the text that is now safe to emit."""
        if self.stopped:
            return ""
        if self._lstrip:
            piece = piece.lstrip()
            self._lstrip = not piece
        text = self._held + piece
        cut = min((i for i in (text.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            self._held = ""
            return text[:cut]
        keep = 0
        for s in self.stops:
            for n in range(min(len(s) - 1, len(text)), keep, -1):
                if text.endswith(s[:n]):
                    keep = n
                    break
        self._held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def flush(self) -> str:
        """The held-back tail, once generation ended without a stop string."""
        text, self._held = self._held, ""
        return "" if self.stopped else text
