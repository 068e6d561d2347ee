"""Passages as a small model should see them: cleaned, and cut to the sentences that matter.

A retrieved chunk carries more than the answer: the heading it repeats, neighbouring points,
layout debris (pilcrows, empty bullets) and sometimes text addressed to an AI ("ignore previous
instructions..."), which is data to quote, never an instruction to follow. `clean_units` splits a
passage into sentences and code lines and drops the debris and the instruction-like sentences;
`compress` keeps, per passage, the units closest to the question (embedding cosine plus shared
words, with a small bonus for coming early, as documentation states its point first) in their
original order. Less text means faster prompt processing and less to distract a 0.5B model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from chatforge.words import STOPWORDS

if TYPE_CHECKING:
    from chatforge.chat.answer import Source
    from chatforge.embed import Embedder

_PILCROWS = re.compile(r"[¶§]\s*(?=\n|$)|¶")
_EMPTY_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_CODE_HINT = re.compile(
    r"^\s{2,}\S|^\s*(?:\$|#|sudo |apt(?:-get)? |dpkg|>>>|[\w./-]+\s+--?\w)|[{};]$"
)
_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.!?\n]{0,40}\b(?:instructions?|prompts?|rules|"
    r"guidelines|context)\b|\byou are now\b|\bsystem prompt\b|\bas an ai\b|"
    r"\b(?:reply|respond|answer)\s+(?:only\s+)?with\s+(?:a|this|the)\s+(?:link|url)\b",
    re.IGNORECASE,
)
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s")
_NUMBER = re.compile(r"^\d+(?:\.\d+)*\.?$")
_NUMBERING = re.compile(r"^(?:chapter|chapitre|section)?\s*\d+(?:\.\d+)*\.?\s*", re.IGNORECASE)
_TRAILING_NUMBER = re.compile(r"\s+\d+(?:\.\d+)+\.?$")
_WORD = re.compile(r"[^\W_]+(?:[._+-][^\W_]+)*")
"""A word in any script: letters and digits, joined by dots, dashes or pluses (`python3.11`)."""
FILLER = frozenset(
    "get got use used using one way want need make like please tell know thing things".split()
)
"""Words a question leans on without naming its topic, on top of the common ones."""
IGNORED = STOPWORDS | FILLER

COMPRESS_CHARS = 480
"""Characters kept per passage when compressing (the best passage gets twice as many)."""
POSITION_BONUS = 0.08
"""Added to the first unit's score, falling off linearly to 0 at the last."""


@dataclass
class Unit:
    """A sentence or a code line of a passage, and whether it is code (kept on its own line)."""

    text: str
    code: bool = False


def is_injection(text: str) -> bool:
    """Whether a sentence speaks to the model rather than about the topic."""
    return bool(_INJECTION.search(text))


def clean_units(text: str) -> list[Unit]:
    """The passage as sentences and code lines, without layout debris or injected instructions.

    Fenced code blocks keep their lines (fences and indentation included); Markdown heading
    lines are left out, since each passage is shown under its title and section anyway.
    """
    text = _PILCROWS.sub("", text)
    units: list[Unit] = []
    for block, fenced in _blocks(text):
        if fenced:
            units.extend(Unit(ln.rstrip(), code=True) for ln in block if ln.strip())
            continue
        for para in re.split(r"\n\s*\n", "\n".join(block)):
            units.extend(_paragraph_units(para))
    return units


def _blocks(text: str) -> list[tuple[list[str], bool]]:
    """Runs of lines, each either inside a ``` / ~~~ fence (True) or outside (False)."""
    blocks: list[tuple[list[str], bool]] = []
    current: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        marker = _FENCE.match(line)
        if fence is None and marker:
            blocks.append((current, False))
            current, fence = [line], marker[1]
        elif fence is not None and line.strip().startswith(fence):
            blocks.append(([*current, line], True))
            current, fence = [], None
        else:
            current.append(line)
    blocks.append((current, fence is not None))
    return [(b, f) for b, f in blocks if b]


def _paragraph_units(para: str) -> list[Unit]:
    lines = [
        ln.rstrip()
        for ln in para.splitlines()
        if not _EMPTY_BULLET.match(ln) and not _MD_HEADING.match(ln)
    ]
    if not any(ln.strip() for ln in lines):
        return []
    if all(_CODE_HINT.search(ln) for ln in lines if ln.strip()):
        return [Unit(ln.strip(), code=True) for ln in lines if ln.strip()]
    units: list[Unit] = []
    flat = " ".join(" ".join(lines).split())
    pending = ""
    for sentence in _SENTENCE_END.split(flat):
        sentence = (pending + " " + sentence).strip() if pending else sentence.strip()
        pending = ""
        if _NUMBER.match(sentence):
            pending = sentence  # "9.3." opens its heading; keep them together
        elif sentence and not is_injection(sentence):
            units.append(Unit(sentence))
    if pending:
        units.append(Unit(pending))
    return units


def join_units(units: Sequence[Unit]) -> str:
    """Prose runs on in one paragraph; code lines keep their own lines, a blank line apart."""
    out: list[str] = []
    for i, u in enumerate(units):
        if i == 0:
            sep = ""
        elif u.code != units[i - 1].code:
            sep = "\n\n"
        else:
            sep = "\n" if u.code else " "
        out.append(sep + u.text)
    return "".join(out).strip()


def words(text: str) -> set[str]:
    """Content words, lower-cased and crudely stemmed, for lexical overlap."""
    return {stem(w) for w in _WORD.findall(text.lower()) if w not in IGNORED and len(w) > 1}


def stem(word: str) -> str:
    for suffix in ("ations", "ation", "ings", "ing", "ies", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def headings(source: Source) -> list[str]:
    """The headings a passage is shown under: its title and each level of its section."""
    hit = source.hit
    parts = [hit.title, *(hit.section.split(" > ") if hit.section else [])]
    return [p for p in (plain_heading(x) for x in parts) if p]


def plain_heading(text: str) -> str:
    """Lower case, no numbering at either end, single spaces, no end punctuation."""
    text = " ".join(text.lower().split()).strip(" .:?!")
    text = _NUMBERING.sub("", text)
    return _TRAILING_NUMBER.sub("", text).strip(" .:?!")


def is_heading(sentence: str, heads: set[str]) -> bool:
    """Whether a sentence only repeats headings: a bare number ("3.2.3."), a heading, a run of
    them ("Customizing your system 11.1."), or a sentence of a heading (a FAQ question often
    has two)."""
    plain = plain_heading(sentence)
    if not plain:
        return bool(sentence.strip())
    if plain in heads:
        return True
    if len(plain.split()) >= 3 and any(plain in h for h in heads):
        return True
    return any(plain.startswith(h) and plain_heading(plain[len(h) :]) in heads for h in heads)


def drop_headings(sources: Sequence[Source]) -> None:
    """Remove from each source's `text` the sentences that only repeat one of its headings.

    A chunk often opens with its chapter and section titles; shown to a model under its
    heading anyway, they are what a small model copies instead of the answer.
    """
    for src in sources:
        heads = set(headings(src))
        units = [u for u in clean_units(src.shown) if u.code or not is_heading(u.text, heads)]
        if units:
            src.text = join_units(units)


def clean(text: str) -> str:
    return join_units(clean_units(text))


def clean_sources(sources: Sequence[Source]) -> None:
    """Set each source's `text` to its cleaned text (no debris, no injected instructions)."""
    for src in sources:
        src.text = clean(src.hit.text)


def compress(
    query: str,
    qvec: np.ndarray,
    sources: Sequence[Source],
    embedder: Embedder,
    chars: int = COMPRESS_CHARS,
) -> None:
    """Set each source's `text` to its units that matter most for `query`, in original order.

    The best passage keeps up to twice `chars`, the others `chars`; a passage shorter than that
    is only cleaned. One embedding call covers the units of every passage to be cut.
    """
    per_source = [clean_units(s.hit.text) for s in sources]
    limits = [chars * (2 if rank == 0 else 1) for rank in range(len(sources))]
    fits = [
        sum(len(u.text) + 1 for u in units) <= limit
        for units, limit in zip(per_source, limits, strict=True)
    ]
    flat = [u.text for units, fit in zip(per_source, fits, strict=True) if not fit for u in units]
    vecs = embedder.encode_recurring(flat)
    qwords = words(query)
    start = 0
    for src, units, limit, fit in zip(sources, per_source, limits, fits, strict=True):
        if fit:
            src.text = join_units(units)
            continue
        uvecs = vecs[start : start + len(units)]
        start += len(units)
        scores = []
        for i, (u, v) in enumerate(zip(units, uvecs, strict=True)):
            shared = len(qwords & words(u.text)) / max(len(qwords), 1)
            bonus = POSITION_BONUS * (1 - i / max(len(units) - 1, 1))
            scores.append(float(embedder.relevance(v @ qvec)) + 0.3 * shared + bonus)
        keep: set[int] = set()
        used = 0
        for i in sorted(range(len(units)), key=lambda i: -scores[i]):
            if used and used + len(units[i].text) > limit:
                continue
            keep.add(i)
            used += len(units[i].text) + 1
        src.text = join_units([units[i] for i in sorted(keep)])


def near_the_best(
    sources: list[Source], gap: float, scores: list[float] | None = None
) -> list[Source]:
    """The passages whose relevance (or score) lies within `gap` of the best one, for a
    prompt; in rank order, or best score first.

    The others seldom hold the answer, distract a small model and cost prompt reading: on the
    Debian FAQ questions (bench/answers.py) the default gap shortens prompts markedly and
    keeps the labelled section as often as no gap does. Extractive mode keeps every
    candidate: its pick weighs headings beside relevance.
    """
    if not sources:
        return sources
    values = scores if scores is not None else [s.relevance for s in sources]
    best = max(values)
    kept = [i for i in range(len(sources)) if values[i] >= best - gap]
    if scores is not None:
        kept.sort(key=lambda i: -scores[i])
    return [sources[i] for i in kept]
