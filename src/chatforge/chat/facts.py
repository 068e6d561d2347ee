"""Durable facts in what a user says, found with plain patterns rather than the model.

A 135M model invents facts as readily as it finds them, so only explicit first-person statements
count: "my name is Ana", "I use Debian", "I'm a nurse", "I live in Lyon", "call me Bo". Questions
are skipped. "Remember that ..." (also "please remember", "don't forget that", "note that") is
an explicit request, stored at once as said.
"""

from __future__ import annotations

import re

_SENTENCES = re.compile(r"[^.!?\n]+[.!?]*")
_QUESTION_START = re.compile(
    r"^(?:what|who|where|when|why|how|which|do|does|did|can|could|should|would|is|are|am|will)\b",
    re.I,
)
_REMEMBER = re.compile(
    r"^\s*(?:(?:please|pls|also|and)[,\s]+)?(?:remember|don'?t forget|do not forget|note|"
    r"keep in mind)(?:\s+that)?[,:\s]+(?P<fact>.+?)\s*(?:,?\s*please)?[.!]*\s*$",
    re.I | re.S,
)
_FACTS = [
    re.compile(
        r"\bmy\s+(?:[\w'-]+\s+){0,2}?(?:name|job|role|email|e-mail|timezone|time zone|"
        r"birthday|age|pronouns|language|os|operating system|editor|team|company|city|country|"
        r"favou?rite\s+[\w-]+)\s+(?:is|are)\s+\S.*",
        re.I,
    ),
    re.compile(
        r"\bI(?:'m|\s+am)\s+(?:a|an|from|based in|allergic to|vegetarian|vegan|"
        r"\d+\s+years old|working (?:at|on|for|as)|called|named|learning|studying|"
        r"using|running|living in)\b\s*\S.*",
        re.I,
    ),
    re.compile(
        r"\bI\s+(?:use|prefer|live in|work (?:at|for|as|on|in)|speak|own|run|study|teach|"
        r"like|love|hate|dislike|have (?:a|an|two|three|\d+))\b\s+\S.*",
        re.I,
    ),
    re.compile(r"\bcall me\s+\S.*", re.I),
]
MAX_FACT_CHARS = 300


def remember_request(text: str) -> str | None:
    """The fact in an explicit "remember that ..." request, or None."""
    m = _REMEMBER.match(text)
    if not m or text.rstrip().endswith("?"):
        return None
    fact = " ".join(m.group("fact").split()).rstrip(".!")
    return fact[:MAX_FACT_CHARS] if len(fact) >= 3 else None


def extract_facts(text: str) -> list[str]:
    """First-person statements worth remembering, each trimmed to its clause."""
    out: list[str] = []
    for m in _SENTENCES.finditer(text):
        sentence = m.group(0).strip()
        if not sentence or sentence.endswith("?") or _QUESTION_START.match(sentence):
            continue
        for pattern in _FACTS:
            found = pattern.search(sentence)
            if found:
                fact = found.group(0).strip().rstrip(".!,;")
                fact = re.split(r"\s+(?:but|so|because|and then)\s+", fact, maxsplit=1)[0]
                fact = fact[0].upper() + fact[1:]
                if fact not in out and len(fact) <= MAX_FACT_CHARS:
                    out.append(fact)
                break
    return out
