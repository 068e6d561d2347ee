"""Extractive answers: quote the best passage, cited, instead of asking the model.

For a model too small to read its context (SmolLM2-135M answers better without it than with
it), the passage retrieval ranked first, cut to the sentences that matter, is a better answer
than anything the model writes, and it is instant and always grounded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatforge.chat.answer import Source
from chatforge.chat.facts import is_question
from chatforge.chat.passages import clean_units, join_units, near_the_best

if TYPE_CHECKING:
    from chatforge.embed import Embedder

EXTRACT_WORDS = 70
"""Words quoted at most (whole sentences; the first sentence is always kept)."""


def extractive_answer(sources: list[Source], max_words: int = EXTRACT_WORDS) -> str:
    """The best passage's leading sentences (its heading question left out), cited as [n]."""
    best = sources[0]
    units = clean_units(best.shown)
    title = " ".join(f"{best.hit.title} {best.hit.section}".lower().split())
    while len(units) > 1 and units[0].text.endswith("?") and _in_heading(units[0].text, title):
        units = units[1:]
    kept, count = [], 0
    for u in units:
        n = len(u.text.split())
        if kept and count + n > max_words:
            break
        kept.append(u)
        count += n
    if not kept:
        return ""
    text = join_units(kept)
    return f"{text}\n[{best.n}]" if text.endswith("\n") or kept[-1].code else f"{text} [{best.n}]"


def heading_scores(query: str, sources: list[Source], embedder: Embedder) -> list[float]:
    """How near each passage is to the query, its text and headings together (a mean of
    cosines, on the scale of `Source.relevance`).

    A heading says what its passage answers (a FAQ's question, a manual's topic), so it
    picks the right passage among close candidates more often than the fusion rank alone
    (bench/answers.py: users' own wordings of FAQ questions). The passage's own heading
    counts again on its own, beside the whole trail, which picks the labelled section more
    often than the trail alone.
    """
    qvec = embedder.encode_query(query)
    trails = [f"{s.hit.title} {s.hit.section}" for s in sources]
    own = [own_heading(s) for s in sources]
    near = embedder.relevance(embedder.encode_recurring([*trails, *own]) @ qvec)
    n = len(sources)
    return [float(s.relevance + near[i] + near[n + i]) / 3 for i, s in enumerate(sources)]


def prompt_passages(
    query: str, sources: list[Source], embedder: Embedder, gap: float
) -> list[Source]:
    """The passages a prompt gets: those near the best one (`near_the_best`).

    Where a passage's own heading is a question (a FAQ), the passages are weighed by their
    text and headings together, as a quote is picked, and the best comes first: the model
    cites what it reads first (bench/answers.py: citation precision on the Debian FAQ). Topic
    headings ("Réseau") say too little to outvote the text: passages under them keep
    retrieval's rank order and are cut by relevance alone."""
    if not any(is_question(own_heading(s)) for s in sources):
        return near_the_best(sources, gap)
    return near_the_best(sources, gap, heading_scores(query, sources, embedder))


def own_heading(source: Source) -> str:
    """The heading right above a passage (the last of its trail), or its document's title."""
    return source.hit.section.rsplit(" > ", 1)[-1] or source.hit.title


def passage_to_quote(query: str, sources: list[Source], embedder: Embedder) -> Source:
    """The passage whose text and headings together are closest to the query (ties keep
    retrieval's order)."""
    scores = heading_scores(query, sources, embedder)
    return sources[max(range(len(sources)), key=scores.__getitem__)]


def _in_heading(sentence: str, heading: str) -> bool:
    """Whether a sentence repeats the passage's heading (a FAQ question before its answer)."""
    words = sentence.lower().split()
    tail = " ".join(words[1:]) if words and words[0].rstrip(".").replace(".", "").isdigit() else ""
    return " ".join(words) in heading or bool(tail and tail in heading)
