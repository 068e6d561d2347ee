"""Citations that hold: each sentence carrying [n] is checked against passage n.

Two signals, both cheap: the share of the sentence's content words that passage n contains
(lexical support: a small model that answers from its context mostly reuses the passage's words)
and the embedding cosine between the sentence and the passage (paraphrase). A citation is
verified when the words largely match, or when the meaning is close and some words match.
The passage is the text the model was shown, so an instruction-like sentence removed from a
passage before prompting cannot verify an answer that repeats it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from chatforge.chat.answer import Citation, Source, citation_pairs, mark_citations
from chatforge.chat.passages import words

if TYPE_CHECKING:
    from chatforge.embed import Embedder

LEXICAL_MIN = 0.6
"""Share of a sentence's content words found in the passage that alone verifies a citation."""
SIMILARITY_MIN = 0.5
"""Least sentence-passage cosine that verifies a citation whose words also overlap..."""
LEXICAL_WITH_SIMILARITY = 0.3
"""...by at least this share. MiniLM puts supported sentences at 0.5-0.8, unrelated under 0.3."""


def supported(overlap: float, similarity: float) -> bool:
    return overlap >= LEXICAL_MIN or (
        similarity >= SIMILARITY_MIN and overlap >= LEXICAL_WITH_SIMILARITY
    )


def verify_citations(text: str, sources: Sequence[Source], embedder: Embedder) -> list[Citation]:
    """Check every [n] of `text`; set `cited` and `verified` on `sources` accordingly.

    A source is verified when every sentence citing it is supported; uncited sources get
    `verified=None`, and a marker standing without any sentence verifies nothing.
    """
    pairs = citation_pairs(text)
    by_n = {s.n: s for s in sources}
    mark_citations(text, sources)
    for s in sources:
        s.verified = None
    checkable = [(n, sentence) for n, sentence in pairs if n in by_n]
    sims: dict[tuple[int, str], float] = {}
    if checkable:
        sentences = sorted({sentence for _, sentence in checkable})
        numbers = sorted({n for n, _ in checkable})
        svecs = embedder.encode(sentences)
        pvecs = embedder.encode_recurring([by_n[n].shown for n in numbers])
        row = {x: i for i, x in enumerate(sentences)}
        col = {n: i for i, n in enumerate(numbers)}
        sims = {(n, x): float(svecs[row[x]] @ pvecs[col[n]]) for n, x in checkable}
    citations: list[Citation] = []
    for n, sentence in pairs:
        source = by_n.get(n)
        if source is None:
            citations.append(Citation(n, sentence, False))
            continue
        mine = words(sentence)
        overlap = len(mine & words(source.shown)) / len(mine) if mine else 0.0
        similarity = sims[n, sentence]
        ok = supported(overlap, similarity)
        citations.append(Citation(n, sentence, ok, overlap, similarity))
        source.verified = ok if source.verified is None else source.verified and ok
    for s in sources:
        if s.cited and s.verified is None:
            s.verified = False
            citations.append(Citation(s.n, "", False))
    return citations
