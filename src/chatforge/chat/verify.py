"""Answers that hold: each sentence carrying [n] is checked against passage n, and each claim
without one against every passage the model saw (the best one wins).

Two signals, both cheap: the share of the sentence's content words that passage n contains
(lexical support: a small model that answers from its context mostly reuses the passage's words)
and the embedding cosine between the sentence and the passage (paraphrase). A citation is
verified when the words largely match, or when the meaning is close and some words match,
and never when it states a number or a name the passage does not hold: "port 7340" shares
nearly every word and most of the meaning with "port 7341", and is wrong; "Installing Steam
is straightforward: boot off the CD" is the passage about installing Debian with the asked-for
name put in.
The passage is the text the model was shown, so an instruction-like sentence removed from a
passage before prompting cannot verify an answer that repeats it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence, Set
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chatforge.chat.answer import CITE, Citation, Source, cited_sentences, mark_citations
from chatforge.chat.passages import headings, words
from chatforge.words import STOPWORDS

if TYPE_CHECKING:
    from chatforge.embed import Embedder

LEXICAL_MIN = 0.6
"""Share of a sentence's content words found in the passage that alone verifies a citation."""
SIMILARITY_MIN = 0.5
"""Least sentence-passage cosine that verifies a citation whose words also overlap..."""
LEXICAL_WITH_SIMILARITY = 0.3
"""...by at least this share. MiniLM puts supported sentences at 0.5-0.8, unrelated under 0.3."""


CLAIM_MIN_WORDS = 3
"""Content words a sentence needs to state something worth checking."""
DECLINE = re.compile(
    r"\b(?:i )?(?:don't|do not|cannot|can't|could not|couldn't) (?:know|find|answer|help)\b|"
    r"\b(?:does|do|did) not (?:contain|provide|mention|include|say|cover)\b|"
    r"\bnot (?:covered|mentioned|included|provided|found|available)\b|"
    r"\bno (?:information|mention|relevant)\b|\bunable to (?:answer|find)\b|"
    r"\bje ne (?:le |l'|les )?(?:sais|trouve|connais|peux)\b|\bje n'(?:en )?(?:sais|ai|trouve)\b|"
    r"\bne (?:le |l')?(?:disent|mentionnent|contiennent|couvrent|précisent|parlent) pas\b|"
    r"\baucune (?:information|mention)\b|\bpas (?:d'information|mentionnée?s?)\b",
    re.IGNORECASE,
)
"""A sentence saying the answer is not known or not in the passages ("I don't know...", "the
passages do not mention...", "je ne sais pas..."), in English and French."""
_NO_CLAIM = re.compile(
    r"^\W*(?:hi|hello|hey|thanks?|thank you|you're welcome|bonjour|salut|merci|de rien)\b|"
    + DECLINE.pattern,
    re.IGNORECASE,
)
"""Greetings, thanks and declines: they state nothing a passage could support."""


def carries_claim(sentence: str) -> bool:
    """Whether a sentence states something a passage should support.

    The rule: it has at least CLAIM_MIN_WORDS content words (stop words and fillers left out),
    is not a question (ends in "?") and is not a greeting, a thanks or a decline
    (`_NO_CLAIM`). "Sure!" or "I don't know: the passages don't say." is not checked; "Run
    rm -rf / to free space." is.
    """
    if sentence.rstrip().endswith("?"):
        return False
    return len(words(sentence)) >= CLAIM_MIN_WORDS and not _NO_CLAIM.search(sentence)


_NUMBER = re.compile(r"\d+(?:[ ,.\u00a0\u202f]\d{3})*(?:[.,]\d+)?")
_LIST_ITEM = re.compile(r"^\s*\d+[.)]\s")


def numbers(text: str) -> set[str]:
    """The numbers of `text` as digit strings ("7 341", "7,341" and "7341" are one), list
    numbering and lone digits left out: "1. Run it" or "step 2" state no fact to check."""
    return set(written_numbers(text))


def written_numbers(text: str) -> dict[str, str]:
    """`numbers(text)`, each with the first way `text` writes it ("7341": "7 341")."""
    found: dict[str, str] = {}
    for m in _NUMBER.findall(_LIST_ITEM.sub("", text)):
        digits = re.sub(r"\D", "", m)
        if len(digits) > 1:
            found.setdefault(digits, m.strip())
    return found


_WORD = re.compile(r"\w+")
_LETTERS_AND_DIGITS = re.compile(r"[^\W\d_]\w*\d\w*")
"""A word that starts with a letter and holds a digit ("ext4", "i386"; not "2nd" or "10GB")."""


def names(sentence: str) -> set[str]:
    """The names a sentence states, lowercased: its capitalized words after the first ("Steam",
    "NVIDIA", "Lyon"), common words left out ("I", and "Quel" in an echoed "Question: Quel
    fichier..."), and its words that start with a letter and hold a digit, wherever they stand
    ("ext4", "resize2fs"): identifiers that no other word can stand for."""
    tokens = _WORD.findall(CITE.sub("", sentence))
    capitalized = {t for t in tokens[1:] if t[0].isupper() and t.lower() not in STOPWORDS}
    coded = {t for t in tokens if _LETTERS_AND_DIGITS.fullmatch(t)}
    return {t.lower() for t in capitalized | coded}


def asked_names_missing(claims: Sequence[str], question: str, sources: Sequence[Source]) -> bool:
    """Whether the claims name something the question asks about and no passage holds: "how
    do I install steam" answered "Installing Steam: boot off the CD [1]" from a passage on
    installing Debian. The passages are about something else."""
    asked = set(_WORD.findall(question.lower()))
    held = set().union(*(held_names(s) for s in sources))
    return any(n in asked and n not in held for claim in claims for n in names(claim))


def held_names(source: Source) -> set[str]:
    """The words a passage holds as names may be written: its text's and its headings' (a
    passage under "The Debian FAQ" need not say "Debian"), lowercased, singular and plural."""
    return _name_forms(" ".join([source.shown, *headings(source)]))


def _name_forms(text: str) -> set[str]:
    """The words of `text` as a name may be written: lowercased, singular and plural."""
    return {f for w in _WORD.findall(text.lower()) for f in (w, w + "s", w.removesuffix("s"))}


def supported(overlap: float, similarity: float, held: bool = True) -> bool:
    """Whether a passage backs a sentence (see the module's docstring)."""
    return held and (
        overlap >= LEXICAL_MIN
        or (similarity >= SIMILARITY_MIN and overlap >= LEXICAL_WITH_SIMILARITY)
    )


def held_by(sentence: str, text: str) -> bool:
    """Whether `text` (not a passage: an agent's recalled memories) holds `sentence` by words
    alone, every number and name included."""
    held = numbers(sentence) <= numbers(text) and names(sentence) <= _name_forms(text)
    return supported(_share(words(sentence), words(text)), 0.0, held)


def _share(mine: set[str], theirs: set[str]) -> float:
    """The share of a sentence's content words `mine` that a text's `theirs` contains."""
    return len(mine & theirs) / len(mine) if mine else 0.0


@dataclass
class SentenceCheck:
    """What the check found: every [n] (`citations`), the claims made, and those unsupported."""

    citations: list[Citation] = field(default_factory=list)
    claims: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    attributions: dict[str, int] = field(default_factory=dict)
    """Each claim that cites no passage holding it, but that one of them holds -> the passage
    that holds it best (see `chatforge.chat.tidy.cite`)."""

    @property
    def holds_nothing(self) -> bool:
        """Whether the text makes claims and no passage supports any of them."""
        return bool(self.claims) and len(self.unsupported) == len(self.claims)


def verify_citations(text: str, sources: Sequence[Source], embedder: Embedder) -> list[Citation]:
    """Check every [n] of `text`; set `cited` and `verified` on `sources` (see `check_answer`)."""
    return check_answer(text, sources, embedder).citations


def check_answer(
    text: str, sources: Sequence[Source], embedder: Embedder, computed: Set[str] = frozenset()
) -> SentenceCheck:
    """Check every sentence of `text` against the passages; set `cited` and `verified` on them.

    `computed`: numbers the answer may state beside its passages' own (an agent's calculator
    results: "3 gizmos cost 90 euros [1]" from a passage giving 30 euros a gizmo).

    A source is verified when every sentence citing it is supported; uncited sources get
    `verified=None`, and a marker standing without any sentence verifies nothing. A sentence
    that carries a claim (`carries_claim`) is unsupported when none of the passages it cites
    supports it, or, citing none (a marker naming no passage counts as none), when no passage
    the model saw does.
    """
    sentences = cited_sentences(text)
    by_n = {s.n: s for s in sources}
    mark_citations(text, sources)
    for s in sources:
        s.verified = None
    claims = [x for x, _ in sentences if carries_claim(x)]
    checked = sorted({x for x, ns in sentences if ns} | set(claims))
    scores = _scores(checked, sources, embedder, computed) if checked and sources else {}
    citations: list[Citation] = []
    unsupported: list[str] = []
    attributions: dict[str, int] = {}
    for sentence, ns in sentences:
        backed = False
        for n in ns:
            source = by_n.get(n)
            if source is None:
                citations.append(Citation(n, sentence, False))
                continue
            overlap, similarity, held = scores[n, sentence]
            ok = supported(overlap, similarity, held)
            backed = backed or ok
            citations.append(Citation(n, sentence, ok, overlap, similarity))
            source.verified = ok if source.verified is None else source.verified and ok
        holding = [by_n[n] for n in ns if n in by_n and supported(*scores[n, sentence])]
        if sentence in claims and backed and len(holding) < len(ns):
            # cites passages beside the one(s) that hold it: keep only the best that does
            attributions[sentence] = max(holding, key=lambda s: scores[s.n, sentence]).n
        if sentence in claims and not backed:
            backing = [s for s in sources if supported(*scores[s.n, sentence])]
            if backing and not any(n in by_n for n in ns):
                backed = True
            if backing:
                best = max(backing, key=lambda s: scores[s.n, sentence])
                attributions[sentence] = best.n
        if sentence in claims and not backed:
            unsupported.append(sentence)
    for s in sources:
        if s.cited and s.verified is None:
            s.verified = False
            citations.append(Citation(s.n, "", False))
    return SentenceCheck(citations, claims, unsupported, attributions)


def _scores(
    sentences: list[str], sources: Sequence[Source], embedder: Embedder, computed: Set[str]
) -> dict[tuple[int, str], tuple[float, float, bool]]:
    """(passage n, sentence) -> (share of the sentence's content words in the passage, cosine,
    whether the passage holds each of the sentence's numbers)."""
    svecs = embedder.encode(sentences)
    pvecs = embedder.encode_recurring([s.shown for s in sources])
    sims = embedder.relevance(svecs @ pvecs.T)
    mine = [(words(sentence), numbers(sentence), names(sentence)) for sentence in sentences]
    out: dict[tuple[int, str], tuple[float, float, bool]] = {}
    for j, source in enumerate(sources):
        theirs, their_numbers = words(source.shown), numbers(source.shown) | computed
        their_names = held_names(source)
        for i, sentence in enumerate(sentences):
            its_words, its_numbers, its_names = mine[i]
            held = its_numbers <= their_numbers and its_names <= their_names
            out[source.n, sentence] = (_share(its_words, theirs), float(sims[i, j]), held)
    return out
