"""Chunking: cut each section of a document into spans the embedding model can take whole.

Structure comes first (a section is never merged with another), then paragraph breaks, sentence
ends, line breaks and, last, token boundaries. Each section is tokenized once, with offsets, so
cutting a long span costs bisections rather than re-tokenizing every candidate piece.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any

from tokenizers import Encoding

from chatforge.embed import plain_tokenizer
from chatforge.schema import Chunk, Document, Section

_SEPARATORS = (
    re.compile(r"\n[ \t\f\v]*\n\s*"),
    re.compile(r"(?:(?<=[.!?…])|(?<=[.!?…][\"'”’)\]]))\s+|(?<=[。！？])\s*"),
    re.compile(r"\n\s*"),
)
# Chunks whose estimated size is this close to the bound are re-tokenized to make sure.
_VERIFY_MARGIN = 8


@dataclass
class _Tokens:
    """Token start offsets (absolute, into the document text) and word ids of one span."""

    starts: list[int]
    word_ids: list[int | None]

    def count(self, a: int, b: int) -> int:
        return bisect_left(self.starts, b) - bisect_left(self.starts, a)


@dataclass
class _Plan:
    start: int
    end: int
    trail: tuple[str, ...]
    context: str
    context_tokens: int
    tokens: int  # the text's tokens as counted in its section
    exact: bool  # `tokens` is exact: every cut fell on a word boundary
    checked: bool = False  # re-tokenized with its context and known to fit


def _fold_bare_headings(text: str, sections: list[Section]) -> list[Section]:
    """Join a heading that has no body of its own to its first subsection.

    "# Guide" directly followed by "## Install" would otherwise be a chunk of one line that
    matches many queries and answers none.
    """
    out: list[Section] = []
    pending: Section | None = None
    for section in sections:
        if pending is not None:
            if section.trail[: len(pending.trail)] == pending.trail:
                section = Section(pending.start, section.end, section.trail)
            else:
                out.append(pending)
            pending = None
        body = text[section.start : section.end].strip()
        if section.trail and "\n" not in body:
            pending = section
        else:
            out.append(section)
    if pending is not None:
        out.append(pending)
    return out


class Chunker:
    """Cuts documents into chunks of about `target_tokens`, never over `max_tokens`.

    The bound holds for what the embedder sees, f"{context}\\n{text}", counted by the model's
    own tokenizer without special tokens.
    """

    def __init__(self, tokenizer: Any, max_tokens: int, target_tokens: int = 200) -> None:
        if max_tokens < 4:
            raise ValueError(f"max_tokens must be at least 4, got {max_tokens}")
        self.tokenizer = plain_tokenizer(tokenizer)
        self.max_tokens = max_tokens
        self.target_tokens = max(1, min(target_tokens, max_tokens))

    def split(self, doc: Document) -> list[Chunk]:
        """Chunks of `doc` in order; together they cover all its sections' non-space text."""
        sections = _fold_bare_headings(
            doc.text, [s for s in doc.sections if doc.text[s.start : s.end].strip()]
        )
        if not sections:
            return []
        trails = list(dict.fromkeys(s.trail for s in sections))
        contexts = [_join_context(doc.title, t) for t in trails]
        encoded = self._encode([doc.text[s.start : s.end] for s in sections] + contexts)
        n = len(sections)
        by_trail = {
            t: self._fit_context(c, encoded[n + k].offsets)
            for k, (t, c) in enumerate(zip(trails, contexts, strict=True))
        }
        plans: list[_Plan] = []
        for i, section in enumerate(sections):
            context, ctx_tokens = by_trail[section.trail]
            tokens = _tokens_of(encoded, i, section.start)
            target = max(1, min(self.target_tokens, self.max_tokens - ctx_tokens))
            for a, b, exact in _split_span(doc.text, section.start, section.end, tokens, target):
                span = _strip(doc.text, a, b)
                if span:
                    plans.append(
                        _Plan(*span, section.trail, context, ctx_tokens, tokens.count(*span), exact)
                    )
        plans = self._enforce_bound(doc.text, plans)
        return [
            Chunk(
                text=doc.text[p.start : p.end],
                start=p.start,
                end=p.end,
                section=" > ".join(p.trail),
                context=p.context,
            )
            for p in plans
        ]

    def _encode(self, texts: list[str]) -> list[Encoding]:
        return self.tokenizer.encode_batch(texts, add_special_tokens=False)

    def _fit_context(self, context: str, offsets: list[tuple[int, int]]) -> tuple[str, int]:
        """Cut the context to half the bound, so the text always keeps room beside it."""
        limit = keep = self.max_tokens // 2
        count = len(offsets)
        while count > limit and keep > 0:
            context = context[: offsets[keep - 1][1]].rstrip()
            count = len(self._encode([context])[0].ids)
            keep -= 1
        return (context, count) if count <= limit else ("", 0)

    def _enforce_bound(self, text: str, plans: list[_Plan]) -> list[_Plan]:
        """Re-tokenize the doubtful chunks with their context and cut again any that overflow."""
        for _ in range(32):
            doubtful = [i for i, p in enumerate(plans) if self._doubtful(p)]
            if not doubtful:
                return plans
            joined = [
                f"{plans[i].context}\n{text[plans[i].start : plans[i].end]}" for i in doubtful
            ]
            sizes = [len(e.ids) for e in self._encode(joined)]
            over = {
                i: n - self.max_tokens
                for i, n in zip(doubtful, sizes, strict=True)
                if n > self.max_tokens
            }
            for i in doubtful:
                plans[i].checked = i not in over
            if not over:
                return plans
            plans = self._recut(text, plans, over)
        return plans

    def _doubtful(self, plan: _Plan) -> bool:
        if plan.checked:
            return False
        near = plan.context_tokens + plan.tokens > self.max_tokens - _VERIFY_MARGIN
        return near or not plan.exact

    def _recut(self, text: str, plans: list[_Plan], over: dict[int, int]) -> list[_Plan]:
        order = sorted(over)
        encoded = self._encode([text[plans[i].start : plans[i].end] for i in order])
        replaced: dict[int, list[_Plan]] = {}
        for k, i in enumerate(order):
            plan = plans[i]
            tokens = _tokens_of(encoded, k, plan.start)
            limit = max(1, len(tokens.starts) - over[i] - 1)
            pieces = _cut_tokens(plan.start, plan.end, tokens, limit)
            replaced[i] = [
                _Plan(
                    *span, plan.trail, plan.context, plan.context_tokens, tokens.count(*span), False
                )
                for a, b, _ in pieces
                if (span := _strip(text, a, b))
            ]
        out: list[_Plan] = []
        for i, plan in enumerate(plans):
            out.extend(replaced.get(i, [plan]))
        return out


def _join_context(title: str, trail: tuple[str, ...]) -> str:
    """The "Title > H1 > H2" line, without a title the first heading already names.

    A web page's title is often its first heading plus the site's name ("csv — CSV File Reading
    — Python 3.11 documentation"); that heading is kept and the site's name, the same in every
    chunk of the site, is not embedded again and again.
    """
    parts = [p.strip() for p in trail if p.strip()]
    title = title.strip()
    if title and not (parts and _names(title, parts[0])):
        parts.insert(0, title)
    return " > ".join(parts)


def _names(title: str, heading: str) -> bool:
    """Whether `title` is `heading`, or `heading` followed by a separator and more."""
    title, heading = title.casefold(), heading.casefold()
    rest = title.removeprefix(heading)
    return rest != title and (not rest or not rest[0].isalnum())


def _tokens_of(encoded: list[Encoding], i: int, base: int) -> _Tokens:
    return _Tokens([base + a for a, _ in encoded[i].offsets], encoded[i].word_ids)


def _split_span(
    text: str, a: int, b: int, tokens: _Tokens, target: int
) -> list[tuple[int, int, bool]]:
    """Pieces of at most `target` tokens, packed greedily into chunks of up to `target`."""
    if tokens.count(a, b) <= target:
        return [(a, b, True)]
    pieces = _pieces(text, a, b, tokens, target, 0)
    chunks: list[tuple[int, int, bool]] = []
    cur_a, cur_b, cur_exact = pieces[0]
    for pa, pb, exact in pieces[1:]:
        if tokens.count(cur_a, pb) <= target:
            cur_b, cur_exact = pb, cur_exact and exact
        else:
            chunks.append((cur_a, cur_b, cur_exact))
            cur_a, cur_b, cur_exact = pa, pb, exact
    chunks.append((cur_a, cur_b, cur_exact))
    return chunks


def _pieces(
    text: str, a: int, b: int, tokens: _Tokens, target: int, level: int
) -> list[tuple[int, int, bool]]:
    """Split at the coarsest separator that helps; fall back to token boundaries."""
    if tokens.count(a, b) <= target:
        return [(a, b, True)]
    if level == len(_SEPARATORS):
        return _cut_tokens(a, b, tokens, target)
    parts: list[tuple[int, int]] = []
    pos = a
    for match in _SEPARATORS[level].finditer(text, a, b):
        if match.start() > pos:
            parts.append((pos, match.start()))
        pos = max(pos, match.end())
    if pos < b:
        parts.append((pos, b))
    if len(parts) <= 1:
        return _pieces(text, a, b, tokens, target, level + 1)
    out: list[tuple[int, int, bool]] = []
    for pa, pb in parts:
        out.extend(_pieces(text, pa, pb, tokens, target, level + 1))
    return out


def _cut_tokens(a: int, b: int, tokens: _Tokens, target: int) -> list[tuple[int, int, bool]]:
    """Cut [a, b) every `target` tokens, preferring a word boundary in the last half window."""
    starts, words = tokens.starts, tokens.word_ids
    i, end = bisect_left(starts, a), bisect_left(starts, b)
    pieces: list[tuple[int, int, bool]] = []
    pos, exact = a, True
    while end - i > target:
        j = i + target
        k = j
        while k > i + max(1, target // 2) and words[k] == words[k - 1]:
            k -= 1
        cut_exact = words[k] != words[k - 1]
        if not cut_exact:
            k = j
        while k < end and starts[k] <= pos:
            k += 1
        if k >= end:
            exact = False
            break
        pieces.append((pos, starts[k], exact and cut_exact))
        pos, exact, i = starts[k], cut_exact, k
    pieces.append((pos, b, exact))
    return pieces


def _strip(text: str, a: int, b: int) -> tuple[int, int] | None:
    piece = text[a:b]
    stripped = piece.strip()
    if not stripped:
        return None
    lead = len(piece) - len(piece.lstrip())
    return a + lead, a + lead + len(stripped)
