"""Hybrid retrieval: dense (FAISS) and lexical (BM25) results fused, optionally diversified.

Dense search finds paraphrases; BM25 finds rare exact words (command names, error codes).
By default the two are fused by a convex combination of their scores, each on a scale where 1
is a full match: unlike rank fusion it hears how sure each half is. BM25's scale is the
question's full match (a chunk holding each of its terms), not its best hit, so a list whose
best hit matches only the question's common words (a question in the user's own words) weighs
little and cannot push dense's clear answer down. Where one half cannot read the question's
language, the weights move (`Retriever.weights`). Adaptive weights and reciprocal rank fusion
remain settings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chatforge.config import RetrieveSettings
from chatforge.embed import Embedder
from chatforge.errors import ChatforgeError
from chatforge.languages import SURE, detect
from chatforge.schema import Hit
from chatforge.store.sqlite import SQLiteStore

MAX_QUERY_CHARS = 8000
SPREAD_FLOOR = 0.05


@dataclass
class Filters:
    """Metadata filters; `source` is a glob over document paths (e.g. "docs/*.md")."""

    source: str | None = None


def check_query(query: str) -> str:
    query = query.strip()
    if not query:
        raise ChatforgeError("query is empty; give a question or some keywords")
    if len(query) > MAX_QUERY_CHARS:
        raise ChatforgeError(
            f"query is {len(query)} characters; the limit is {MAX_QUERY_CHARS}, "
            "so ask with the words that matter"
        )
    return query


Ranking = list[tuple[int, float]]
"""(chunk id, score) pairs, best first, as one half of the search returns them."""


def rrf(rankings: list[tuple[Ranking, float]], k: int) -> dict[int, float]:
    """Reciprocal rank fusion: score(d) = sum over rankings of weight / (k + rank)."""
    fused: dict[int, float] = {}
    for ranking, weight in rankings:
        for rank, (cid, _) in enumerate(ranking, start=1):
            fused[cid] = fused.get(cid, 0.0) + weight / (k + rank)
    return fused


def by_best(ranking: Ranking) -> Ranking:
    """Scores over the best one, from a floor of 0 (a cosine below 0 counts as 0): the dense
    half's scale for the fusion. A cosine has no ceiling questions reach, so the best hit is
    the measure, and how far the others trail it is kept; where the list is cut does not move
    the scale, unlike min-max rescaling."""
    best = max((s for _, s in ranking), default=0.0)
    return [(cid, max(s, 0.0) / best) for cid, s in ranking] if best > 0 else []


def convex(rankings: list[tuple[Ranking, float]]) -> dict[int, float]:
    """Convex combination: score(d) = sum of weight * score, over the weights' sum.

    Each half's scores come on a scale where 1 is a full match (dense: `by_best`; BM25: the
    question's full match, see KeywordIndex.search), clipped to [0, 1]. A chunk one half did
    not return scores 0 there. The fused score lies in [0, 1].
    """
    total = sum(w for _, w in rankings)
    fused: dict[int, float] = {}
    for ranking, weight in rankings:
        for cid, s in ranking:
            fused[cid] = fused.get(cid, 0.0) + weight / total * min(max(s, 0.0), 1.0)
    return fused


def standout(ranking: Ranking) -> float:
    """How far the best score stands out of the rest of a half's list, in their standard
    deviations (a z-score of scores over the best; below 0 counts as 0), 0 if it does not.

    A half that understands the question puts one or a few passages well above the crowd; a
    clueless one returns a flat list whose best is only the largest of many look-alikes."""
    scores = np.maximum(np.array([s for _, s in ranking], dtype=np.float64), 0.0)
    if len(scores) < 3 or scores[0] <= 0:
        return 0.0
    rest = scores[1:] / scores[0]
    # The spread counts from 5% of the best: a short list's few near-equal scores would
    # otherwise make any gap look like certainty.
    return max(float((1 - rest.mean()) / (rest.std() + SPREAD_FLOOR)), 0.0)


def adaptive(rankings: list[tuple[Ranking, float]]) -> dict[int, float]:
    """Convex fusion with each half's weight scaled by its `standout` for this question.

    The set weights stay the prior, the z-scores move them per question: a half whose list is
    flat (an English-only model on a French question) is heard less than one whose best hit
    stands out. Where neither half stands out the set weights apply unchanged."""
    weighted = [(r, w * standout(r)) for r, w in rankings]
    if sum(w for _, w in weighted) <= 0:
        weighted = rankings
    return convex(weighted)


def mmr(query: np.ndarray, vectors: np.ndarray, k: int, lam: float) -> list[int]:
    """Maximal marginal relevance: pick items relevant to the query but unlike those picked."""
    relevance = vectors @ query
    similarity = vectors @ vectors.T
    chosen: list[int] = []
    left = list(range(len(vectors)))
    while left and len(chosen) < k:
        redundancy = similarity[np.ix_(left, chosen)].max(axis=1) if chosen else np.zeros(len(left))
        scores = lam * relevance[left] - (1 - lam) * redundancy
        chosen.append(left.pop(int(np.argmax(scores))))
    return chosen


class Retriever:
    """Searches one store with one embedder according to the retrieve settings."""

    def __init__(self, store: SQLiteStore, embedder: Embedder, settings: RetrieveSettings) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings

    def search(self, query: str, k: int | None = None, filters: Filters | None = None) -> list[Hit]:
        s = self.settings
        query = check_query(query)
        if not s.dense and not s.lexical:
            raise ChatforgeError(
                "both retrieve.dense and retrieve.lexical are off; turn at least one on"
            )
        if s.dense and s.lexical and s.dense_weight + s.lexical_weight <= 0:
            raise ChatforgeError(
                "retrieve.dense_weight and retrieve.lexical_weight are both 0; "
                "give one of them a positive weight"
            )
        k = k or s.top_k
        if k < 1:
            raise ChatforgeError(f"k must be at least 1 (got {k})")
        glob = filters.source if filters else None
        depth = max(s.candidates, k * 2)
        rankings: list[tuple[Ranking, float]] = []
        dense_weight, lexical_weight = self.weights(query)
        qvec = None
        if s.dense:
            qvec = self.embedder.encode_query(query)
            dense = [
                (cid, self.embedder.relevance(c)) for cid, c in self.store.dense(qvec, depth, glob)
            ]
            rankings.append((dense, dense_weight))
        if s.lexical:
            # After the embedding, not beside it: a third busy thread on a 2-core machine stalls
            # torch's own threads, which costs more than BM25 takes.
            rankings.append((self.store.lexical(query, depth, glob), lexical_weight))
        if len(rankings) == 1:
            # One half alone keeps its own scores (cosine or BM25), which mean something.
            scored = rankings[0][0]
        else:
            if s.fusion == "rrf":
                fused = rrf(rankings, s.rrf_k)
            else:
                (dense, dw), lexical = rankings
                fuse = adaptive if s.fusion == "adaptive" else convex
                fused = fuse([(by_best(dense), dw), lexical])
            scored = sorted(fused.items(), key=lambda kv: kv[1], reverse=True)
        if s.mmr and qvec is not None and len(scored) > k:
            pool = scored[: max(k * 4, 20)]
            picks = mmr(qvec, self.store.vectors_for([i for i, _ in pool]), k, s.mmr_lambda)
            scored = [pool[p] for p in picks]
        return self.store.hits(scored[:k])

    def weights(self, query: str) -> tuple[float, float]:
        """The (dense, BM25) weights for this question: the set ones, unless a half cannot read
        the question's language (when that language is sure).

        BM25 matches words, so across languages it matches only names, commands and loanwords
        ("Debian", "apt"): a question in a language no stored chunk is in searches without it
        (on French questions over the English FAQ it drew the hybrid below its multilingual
        dense half). An embedding model trained on other languages ranks a question's passages
        almost at random (MiniLM on the French FAQ's questions: hit@1 .452 where BM25 finds
        .597), so there the two halves are heard equally. A question whose language is unsure
        (a few words of jargon) keeps the set weights."""
        s = self.settings
        dense, lexical = s.dense_weight, s.lexical_weight
        if not (s.dense and s.lexical and dense > 0):
            return dense, lexical
        lang, prob = detect(query)
        if prob < SURE or not lang:
            return dense, lexical
        stored = self.store.languages()
        if stored and lang not in stored:
            return dense, 0.0
        if self.embedder.languages and lang not in self.embedder.languages:
            return (dense + lexical) / 2, (dense + lexical) / 2
        return dense, lexical
