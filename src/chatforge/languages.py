"""Which language a text is in, per chunk and per query, with py3langid.

py3langid was chosen over lingua-language-detector on the bench's questions (93 English, 64
French, most under ten words): it labelled every one right where lingua missed nine, in about
0.4 ms a question against 28 ms, loading in seconds rather than a minute and 1.3 GB (lingua with
all its models); its model is a numpy archive, never a pickle.

A label is an ISO 639-1 code, or "" when nothing was found (no letters at all).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from functools import cache, lru_cache
from typing import Any

SAMPLE = 600
"""Characters of a text read to label it: plenty for a language, and it keeps a long chunk cheap."""
SURE = 0.9
"""Normalised probability above which a chunk's own label beats its document's."""
MIN_LETTERS = 3
_lock = threading.Lock()


@cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@lru_cache(maxsize=256)
def detect(text: str) -> tuple[str, float]:
    """(language code, probability) of `text`; ("", 0.0) when it has too few letters to say.

    Remembered for the last texts: a search labels its question twice (the fusion's weights
    and BM25's stemming)."""
    sample = text[:SAMPLE]
    if sum(c.isalpha() for c in sample) < MIN_LETTERS:
        return "", 0.0
    with _lock:  # the identifier keeps scratch state between calls
        lang, prob = _identifier().classify(sample)
    return str(lang), float(prob)


def label_chunks(texts: Sequence[str]) -> list[str]:
    """The language of each of one document's chunks.

    The document's language is the one most of its text is confidently in; a chunk takes its
    own label only when sure of it (a French quote in an English manual), so a short chunk such
    as a table row or a heading does not get a stray label from a handful of letters.
    """
    found = [detect(t) for t in texts]
    weight: Counter[str] = Counter()
    for text, (lang, prob) in zip(texts, found, strict=True):
        if lang:
            weight[lang] += len(text) * prob
    document = weight.most_common(1)[0][0] if weight else ""
    return [lang if lang and prob >= SURE else document for lang, prob in found]
