"""The `Answer` a bot gives, its numbered sources, and how [n] citations map onto them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chatforge.schema import Hit

if TYPE_CHECKING:
    from chatforge.chat.prompt import BuiltPrompt
    from chatforge.config import AnswerMode

CITE = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
"""A citation marker: [n], [n, m] or [n; m]."""
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|\n|$)")
ABBREVIATIONS = "Dr. Mr. Mrs. Ms. St. Prof. Mme. Mlle. e.g. i.e. vs. cf. c.-à-d. p.ex.".split()
"""Titles and abbreviations a sentence runs on after (initials such as "J." too)."""
_NOT_AN_END = "".join(rf"(?<!\b{re.escape(a)})" for a in ABBREVIATIONS)
SENTENCE_BREAK = re.compile(rf"(?<=[.!?])(?<!\b[A-Z]\.){_NOT_AN_END}\s+|\n+")
"""Where one sentence ends and the next begins: after . ! ? and a space, or at a line break;
not after an initial ("Dan J. Bernstein") or a title or abbreviation ("Dr. Okafor", "e.g. apt")."""
LEADING_CITES = re.compile(r"^\s*(?:\[\d+(?:\s*[,;]\s*\d+)*\]\s*)+[.,;:]?\s*")
"""Markers opening a piece of text: they belong to the sentence before."""


@dataclass
class Source:
    """A passage shown to the model as [n], and what the answer made of it.

    `cited` says whether the answer carries its [n] marker; `verified` whether every sentence
    citing it is supported by it (see :mod:`chatforge.chat.verify`), None when it is not cited.
    `relevance` is the cosine between the retrieval query and the passage; `text` is what the
    model was shown of it (cleaned and compressed), None when that is the whole chunk.
    """

    n: int
    hit: Hit
    relevance: float = 0.0
    cited: bool = False
    verified: bool | None = None
    text: str | None = None

    @property
    def shown(self) -> str:
        """The passage text the model saw."""
        return self.hit.text if self.text is None else self.text

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            **self.hit.to_dict(),
            "relevance": round(self.relevance, 4),
            "cited": self.cited,
            "verified": self.verified,
            "excerpt": self.text,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Source:
        d = dict(data)
        n, relevance = d.pop("n"), d.pop("relevance", 0.0)
        cited, verified = d.pop("cited", False), d.pop("verified", None)
        text = d.pop("excerpt", None)
        return cls(n, Hit(**d), relevance, cited, verified, text)


@dataclass
class Citation:
    """One [n] in one sentence of an answer, and whether passage n supports that sentence.

    `overlap` is the share of the sentence's content words found in the passage, `similarity`
    their embedding cosine; `n` with no passage behind it is never verified.
    """

    n: int
    sentence: str
    verified: bool
    overlap: float = 0.0
    similarity: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "sentence": self.sentence,
            "verified": self.verified,
            "overlap": round(self.overlap, 3),
            "similarity": round(self.similarity, 3),
        }


@dataclass
class Answer:
    """One reply: its text, the passages it drew on, where it is stored and what it cost."""

    text: str
    sources: list[Source]
    conversation_id: str
    message_id: int
    usage: dict[str, int] = field(
        default_factory=lambda: {"prompt_tokens": 0, "completion_tokens": 0, "cached_tokens": 0}
    )
    timings: dict[str, float] = field(
        default_factory=lambda: {"retrieve_ms": 0.0, "first_token_ms": 0.0, "total_ms": 0.0}
    )
    interrupted: bool = False
    query: str = ""
    """The standalone query retrieval used (the question itself unless it was condensed)."""
    memories: list[str] = field(default_factory=list)
    """Long-term memories recalled into the prompt, or restated by a memory answer."""
    prompt: BuiltPrompt | None = field(default=None, repr=False, compare=False)
    """The prompt the model saw (None when the model was not called); not in `to_dict`."""
    citations: list[Citation] = field(default_factory=list)
    """Every [n] of every sentence, checked against passage n."""
    mode: AnswerMode = "generate"
    """How the text was made: generate (the model), extractive (quoted), fixed (no passage),
    memory (a question about the user, answered from their memories)."""
    unsupported: list[str] = field(default_factory=list)
    """Sentences of a generated answer that state something no passage supports: cited, but
    by no passage that supports them, or uncited and supported by none the model saw."""
    replaced: bool = False
    """The model's text was unsupported throughout and `text` is the best passage's quote
    instead (`mode` extractive); pieces streamed before the end were the model's."""
    edited: bool = False
    """`text` differs from the pieces streamed: echoed headings removed, citations added or
    corrected (chatforge.chat.tidy), or the whole replaced by a quote. A client that showed
    the pieces shows `text` instead."""
    steps: list[dict[str, Any]] = field(default_factory=list)
    """Agent mode: each tool call (tool, arguments, result) in order; empty otherwise."""
    limit: str = ""
    """Agent mode: the limit that ended the calls (agent.max_steps or agent.max_seconds), the
    answer then written from the calls made; "" when the model answered by itself."""

    @property
    def cited(self) -> list[Source]:
        return [s for s in self.sources if s.cited]

    @property
    def unsupported_citations(self) -> int:
        """Citations whose sentence their passage does not support (or that name no passage)."""
        return sum(not c.verified for c in self.citations)

    @property
    def support_note(self) -> str:
        """A line for under the answer on what its passages do not back ("" when they do), and
        on an agent's limit reached."""
        notes = []
        if self.limit:
            notes.append(
                f"Tool calls stopped at agent.{self.limit}: the answer uses the calls made."
            )
        if self.replaced:
            notes.append(
                "The model's answer was not supported by the documents: a passage is quoted."
            )
        elif self.unsupported:
            quoted = " · ".join(f"“{s}”" for s in self.unsupported)
            notes.append(f"⚠ Not supported by the passages ({len(self.unsupported)}): {quoted}")
        return " ".join(notes)

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
            "mode": self.mode,
            "citations": [c.to_dict() for c in self.citations],
            "unsupported_citations": self.unsupported_citations,
            "unsupported": list(self.unsupported),
            "replaced": self.replaced,
            "edited": self.edited,
            "steps": list(self.steps),
            "limit": self.limit,
        }


def cited_numbers(text: str) -> list[int]:
    """Numbers cited as [n], [n, m] or [n; m], in order of first appearance."""
    seen: dict[int, None] = {}
    for m in CITE.finditer(text):
        for part in re.split(r"[,;]", m.group(1)):
            seen.setdefault(int(part), None)
    return list(seen)


def citation_pairs(text: str) -> list[tuple[int, str]]:
    """(n, sentence with markers removed) for each [n] of each sentence, in order."""
    return [(n, sentence) for sentence, ns in cited_sentences(text) for n in ns]


def cited_sentences(text: str) -> list[tuple[str, list[int]]]:
    """Every sentence (markers removed) with the numbers it cites (none for an uncited one).

    Sentences end at . ! ? followed by a space, or at a line break, so file names and versions
    stay whole; markers that open a sentence ("... apt. [1] Then") belong to the one before.
    """
    segments = [s for s in SENTENCE_BREAK.split(text) if s and s.strip()]
    numbers: list[list[int]] = []
    sentences: list[str] = []
    for seg in segments:
        lead = LEADING_CITES.match(seg)
        if lead and sentences:
            numbers[-1].extend(cited_numbers(lead.group(0)))
            seg = seg[lead.end() :]
        clean = " ".join(CITE.sub("", seg).split())
        if clean.strip(" .,;:!?-*"):
            sentences.append(clean)
            numbers.append(cited_numbers(seg))
        elif sentences:
            numbers[-1].extend(cited_numbers(seg))
    return [
        (sentence, list(dict.fromkeys(ns))) for sentence, ns in zip(sentences, numbers, strict=True)
    ]


def citing_sentences(text: str) -> dict[int, list[str]]:
    """For each cited number, the sentences that cite it (markers removed)."""
    out: dict[int, list[str]] = {}
    for m in _SENTENCE.finditer(text):
        sentence = m.group(0)
        numbers = cited_numbers(sentence)
        clean = " ".join(CITE.sub("", sentence).split())
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
