"""Words to BM25 terms, per language: Unicode words, Snowball stems, accents folded.

The same analysis runs on a chunk (in the chunk's language) and on a question, so that
"désinstaller" in a question finds "désinstallation" in a passage and "installing" finds
"installed". Words are runs of letters, marks and digits in any script (an accented or
Devanagari word stays whole); stems come from the Snowball algorithms of PyStemmer. Accents are
folded after stemming, and only where what is left is plain ASCII: "désinstall" and a question
typed without accents meet, while Greek or Hindi keep the marks that make their letters.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Iterable

import regex

from chatforge.words import STOPWORDS, STOPWORDS_BY_LANGUAGE

_WORD = regex.compile(r"[\p{L}\p{M}\p{N}]+")
MAX_QUERY_WORDS = 32

SNOWBALL = {
    "ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german",
    "el": "greek", "en": "english", "eo": "esperanto", "es": "spanish", "et": "estonian",
    "eu": "basque", "fa": "persian", "fi": "finnish", "fr": "french", "ga": "irish",
    "hi": "hindi", "hu": "hungarian", "hy": "armenian", "id": "indonesian", "it": "italian",
    "lt": "lithuanian", "ne": "nepali", "nl": "dutch", "no": "norwegian", "nb": "norwegian",
    "pl": "polish", "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian",
    "sv": "swedish", "ta": "tamil", "tr": "turkish", "yi": "yiddish",
}  # fmt: skip
"""ISO 639-1 code -> Snowball algorithm; a language not listed keeps its words unstemmed."""

_local = threading.local()  # a PyStemmer stemmer is not safe to share between threads


def _stemmer(lang: str):  # noqa: ANN202 - Stemmer.Stemmer, imported lazily
    name = SNOWBALL.get(lang)
    if name is None:
        return None
    stemmers = _local.__dict__.setdefault("stemmers", {})
    if name not in stemmers:
        import Stemmer

        stemmers[name] = Stemmer.Stemmer(name)
    return stemmers[name]


def words(text: str) -> list[str]:
    """The words of `text`, case-folded, in order; punctuation and apostrophes split them."""
    return _WORD.findall(unicodedata.normalize("NFC", text).casefold())


def fold(word: str) -> str:
    """`word` without accents when that leaves plain ASCII ("désinstall" -> "desinstall")."""
    if word.isascii():
        return word
    bare = "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))
    return bare if bare.isascii() else word


def stems(tokens: Iterable[str], lang: str) -> list[str]:
    """Snowball stems of case-folded `tokens` in `lang`, accents folded."""
    tokens = list(tokens)
    stemmer = _stemmer(lang)
    if stemmer is not None:
        tokens = stemmer.stemWords(tokens)
    return [fold(t) for t in tokens]


def terms(text: str, lang: str) -> list[str]:
    """Every BM25 term of `text` in `lang`, in order, repeats kept (they are term counts)."""
    return stems(words(text), lang)


def query_terms(query: str, languages: Iterable[str]) -> list[str]:
    """A question's terms, each once, analysed in every one of `languages`.

    The caller passes the question's own language and those of the stored chunks: a question
    labelled wrongly (three words of jargon look like any language) still meets each passage
    in the passage's analysis, and a French word stemmed the English way finds an English
    passage that shares it ("installer" -> "instal"). Stopwords (English and French, and those
    of `languages`) are dropped unless nothing else is left.
    """
    languages = list(dict.fromkeys(languages))
    found = list(dict.fromkeys(words(query)))
    drop = STOPWORDS.union(*(STOPWORDS_BY_LANGUAGE.get(lang, ()) for lang in languages))
    kept = [w for w in found if w not in drop] or found
    kept = kept[:MAX_QUERY_WORDS]
    out: dict[str, None] = {}
    for lang in languages or [""]:
        out.update(dict.fromkeys(stems(kept, lang)))
    return list(out)
