"""The `Answer` a bot gives, its numbered sources, and how [n] citations map onto them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chatforge.schema import Hit

if TYPE_CHECKING:
    from chatforge.chat.prompt import BuiltPrompt

_CITE = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|\n|$)")


@dataclass
class Source:
    """A passage shown to the model as [n], and what the answer made of it.

    `cited` says whether the answer carries its [n] marker; `verified` whether the sentences
    citing it resemble it (embedding cosine), None when it is not cited. `relevance` is the
    cosine between the retrieval query and the passage.
    """

    n: int
    hit: Hit
    relevance: float = 0.0
    cited: bool = False
    verified: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            **self.hit.to_dict(),
            "relevance": round(self.relevance, 4),
            "cited": self.cited,
            "verified": self.verified,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Source:
        d = dict(data)
        n, relevance = d.pop("n"), d.pop("relevance", 0.0)
        cited, verified = d.pop("cited", False), d.pop("verified", None)
        return cls(n, Hit(**d), relevance, cited, verified)


@dataclass
class Answer:
    """One reply: its text, the passages it drew on, where it is stored and what it cost."""

    text: str
    sources: list[Source]
    conversation_id: str
    message_id: int
    usage: dict[str, int] = field(
        default_factory=lambda: {"prompt_tokens": 0, "completion_tokens": 0}
    )
    timings: dict[str, float] = field(
        default_factory=lambda: {"retrieve_ms": 0.0, "first_token_ms": 0.0, "total_ms": 0.0}
    )
    interrupted: bool = False
    query: str = ""
    """The standalone query retrieval used (the question itself unless it was condensed)."""
    memories: list[str] = field(default_factory=list)
    """Long-term memories recalled into the prompt."""
    prompt: BuiltPrompt | None = field(default=None, repr=False, compare=False)
    """The prompt the model saw (None when the model was not called); not in `to_dict`."""

    @property
    def cited(self) -> list[Source]:
        return [s for s in self.sources if s.cited]

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "sources": [s.to_dict() for s in self.sources],
            "conversation_id": self.conversation_id,
            "message_id": self.message_id,
            "usage": dict(self.usage),
            "timings": {k: round(v, 1) for k, v in self.timings.items()},
            "interrupted": self.interrupted,
            "query": self.query,
            "memories": list(self.memories),
        }


def cited_numbers(text: str) -> list[int]:
    """Numbers cited as [n], [n, m] or [n; m], in order of first appearance."""
    seen: dict[int, None] = {}
    for m in _CITE.finditer(text):
        for part in re.split(r"[,;]", m.group(1)):
            seen.setdefault(int(part), None)
    return list(seen)


def citing_sentences(text: str) -> dict[int, list[str]]:
    """For each cited number, the sentences that cite it (markers removed)."""
    out: dict[int, list[str]] = {}
    for m in _SENTENCE.finditer(text):
        sentence = m.group(0)
        numbers = cited_numbers(sentence)
        clean = " ".join(_CITE.sub("", sentence).split())
        for n in numbers:
            if clean:
                out.setdefault(n, []).append(clean)
    return out


def mark_citations(text: str, sources: list[Source]) -> list[int]:
    """Set `cited` on the sources the text cites; return cited numbers that match no source."""
    numbers = set(cited_numbers(text))
    known = {s.n for s in sources}
    for s in sources:
        s.cited = s.n in numbers
    return sorted(numbers - known)
