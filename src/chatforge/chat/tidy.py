"""A small model's answer without what it echoed from its prompt, each claim with its [n].

A 0.5B model reading numbered passages often starts by copying the prompt's scaffolding: the
passage's marker ("[1] ..."), its heading (a FAQ's question, "Chapter 11. ..."), or a preamble
("Based on the information provided in the passages, ..."). None of it answers; `tidy` removes
it. The same models often forget the [n]: `cite` adds to each uncited sentence the number of
the passage that supports it (found by the sentence check), so every claim that holds carries
its source, and one that holds nowhere stays uncited and is reported as unsupported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from chatforge.chat.answer import (
    CITE,
    LEADING_CITES,
    SENTENCE_BREAK,
    Source,
    cited_numbers,
    cited_sentences,
)
from chatforge.chat.passages import headings, is_heading, plain_heading

_LEADING_MARKER = re.compile(r"^\s*\[(\d+)\]\s*[.:,-]?\s*")
_PREAMBLE = re.compile(
    r"^\s*(?:(?:based on|according to|from)\b[^,.]{0,80}?\b(?:passages?|context|documents?|"
    r"information)\b[^,.]{0,40}|(?:d'après|selon|d'après les informations)\b[^,.]{0,60}?"
    r"\b(?:passages?|documents?|contexte)\b[^,.]{0,40})\s*[,:]\s*",
    re.IGNORECASE,
)
_NOTATION = re.compile(r"\s*\[n\]", re.IGNORECASE)
"""The prompt's own notation for a citation, copied as if it were one."""
_FROM = re.compile(r"\s*\(from: (?:[^()\n]|\([^()\n]*\))*\)", re.IGNORECASE)
"""The heading line of a passage as the prompt shows it (chatforge.chat.prompt.format_passage),
copied whole; its heading may hold parentheses ("(from: Where is a player for Flash (SWF)?)")."""
_FROM_LINE = re.compile(r"(?:^|\n)[ \t]*\(?from: ([^\n]*)")
"""The same line left unclosed or without its parentheses: dropped only when what follows is
one of the passages' headings or its start, so a quoted "from: alpine" line stays."""
_QUESTION_LINE = re.compile(r"\n[ \t]*(?:question|q)[ \t]*:[ \t]*([^\n]*)", re.IGNORECASE)
"""A line restating the prompt's "Question: ..." after the answer; it and what follows it
(the model carrying on with the prompt's layout) are dropped when it is the question asked."""
_BEFORE_END = re.compile(r"\s+([.!?,;:])")
_SPACE_BEFORE_BREAK = re.compile(r"[ \t]+\n")
_PIECES = re.compile(f"({SENTENCE_BREAK.pattern})")
"""The sentence breaks of `cited_sentences`, kept by `re.split` so the text can be rebuilt."""


def tidy(text: str, sources: Sequence[Source], question: str = "") -> str:
    """`text` without echoed markers, headings, preambles and `question` restated as if it
    were the answer; the rest kept as written.

    A marker that opened the answer moves to the end of its first sentence.
    """
    heads = {h for s in sources for h in headings(s)} | {plain_heading(question)} - {""}
    text = _drop_question_echo(text.strip(), question)
    text = _NOTATION.sub("", _drop_heading_lines(_FROM.sub("", text), heads))
    for head in sorted(heads, key=len, reverse=True):
        text = re.sub(rf"\(\s*(?:\d+(?:\.\d+)*\.?\s*)?{re.escape(head)}\s*[?.]?\s*\)\s*", "", text,
                      flags=re.IGNORECASE)  # fmt: skip
    moved = ""
    text, moved = _take_lead(text, moved)
    pieces = _PIECES.split(text)
    lone = len([p for p in pieces[::2] if p.strip()]) == 1
    if lone and not _says_nothing(text) and not plain_heading(CITE.sub("", text)):
        return text + moved  # a lone number is the answer ("88217."), not a section's numbering
    kept: list[str] = []
    for i, piece in enumerate(pieces):
        if i % 2 == 0 and piece.strip() and is_heading(re.sub(r"\[\d+\]", "", piece), heads):
            if kept:
                kept.pop()  # the separator before it
            continue
        kept.append(piece)
    text, moved = _take_lead("".join(kept).strip(), moved)
    text = _PREAMBLE.sub("", text, count=1)
    if text[:1].islower():
        text = text[0].upper() + text[1:]
    if _says_nothing(text):
        return ""
    if moved and text:
        first, sep, rest = _first_sentence(text)
        if not cited_numbers(first) and not _LEADING_MARKER.match(rest):
            text = first + moved + sep + rest
    return text


def _drop_question_echo(text: str, question: str) -> str:
    """`text` cut before a `_QUESTION_LINE` that repeats `question` (its first three words or
    more, or all of a shorter one)."""
    asked = plain_heading(question).lower().split()
    for m in _QUESTION_LINE.finditer(text):
        said = plain_heading(m.group(1).rstrip(" …")).lower().split()
        n = min(len(asked), max(len(said), 3))
        if asked and said and said[:n] == asked[:n]:
            return text[: m.start()].rstrip()
    return text


def _drop_heading_lines(text: str, heads: set[str]) -> str:
    """`text` without the `_FROM_LINE` lines that echo one of `heads` (or its first words)."""

    def drop(m: re.Match[str]) -> str:
        said = plain_heading(m.group(1).rstrip(" )"))
        echoed = any(h == said or len(said.split()) >= 3 and h.startswith(said) for h in heads)
        return "" if said and echoed else m.group(0)

    return _FROM_LINE.sub(drop, text)


_DANGLING = re.compile(
    r"(?:^|\s)(?:is|are|was|were|be|the|a|an|of|by|to|for|with|from|and|or|as|called|named|"
    r"est|sont|était|le|la|les|l'|un|une|de|du|des|d'|par|à|au|aux|pour|avec|et|ou|"
    r"appelée?|nommée?)\s*[.:]?$|:$",
    re.IGNORECASE,
)
"""The word a sentence cannot end on: the answer it was to give is missing."""


def unfinished(text: str) -> bool:
    """Whether every sentence of `text` stops where its answer should be: "The current project
    leader is. [1]", "Le fichier s'appelle : [2]". A small model writes this when it cannot
    find the answer in its passages: it says nothing, so it is not kept as an answer."""
    sentences = [sentence for sentence, _ in cited_sentences(text)]
    return bool(sentences) and all(_DANGLING.search(s) for s in sentences)


def _says_nothing(text: str) -> bool:
    """Whether `text` is markers and punctuation alone ("[3] [2] [1]")."""
    return not CITE.sub("", text).strip(" .,;:-")


def _take_lead(text: str, moved: str) -> tuple[str, str]:
    """`text` without the marker that opens it, and the marker to move (the first one seen)."""
    lead = _LEADING_MARKER.match(text)
    if lead is None:
        return text, moved
    return text[lead.end() :], moved or f" [{lead.group(1)}]"


def _first_sentence(text: str) -> tuple[str, str, str]:
    """The first sentence, the space after it, and the rest."""
    m = _PIECES.search(text)
    return (text[: m.start()], m.group(0), text[m.end() :]) if m else (text, "", "")


def cite(text: str, attributions: Mapping[str, int]) -> str:
    """`text` with each sentence found in `attributions` citing that passage, and only it.

    `attributions` maps a sentence (markers removed, spaces single, as
    :func:`chatforge.chat.answer.cited_sentences` gives it) to the passage that supports it: an
    uncited sentence gets its marker, a sentence citing passages that do not hold it gets the
    one that does. Markers that open a piece belong to the sentence before, as there.
    """
    if not attributions:
        return text
    pieces = _PIECES.split(text)
    bodies = pieces[::2]
    for i, body in enumerate(bodies):
        lead = LEADING_CITES.match(body) if i else None
        own = body[lead.end() :] if lead else body
        n = attributions.get(" ".join(CITE.sub("", own).split()))
        if n is None:
            continue
        own = _BEFORE_END.sub(r"\1", CITE.sub("", own)).rstrip()
        bodies[i] = (body[: lead.end()] if lead else "") + f"{own} [{n}]"
        after = bodies[i + 1] if i + 1 < len(bodies) else ""
        follow = LEADING_CITES.match(after)
        if follow:
            bodies[i + 1] = after[follow.end() :]
    pieces[::2] = bodies
    return _SPACE_BEFORE_BREAK.sub("\n", "".join(pieces)).strip()
