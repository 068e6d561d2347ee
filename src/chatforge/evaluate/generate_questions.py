"""Test questions without labelling by hand: the bot's model reads one of its chunks and asks
what a user would ask, in their own words; the chunk is the question's label.

A question is kept only if it passes the chosen check: `first` (the bot's own search ranks the
chunk first), `top5` (within the first five) or `none`. Questions copied from the passage (or
its heading) are dropped, since users rarely quote the page they are looking for.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chatforge.errors import ChatforgeError
from chatforge.evaluate.questions import Question

if TYPE_CHECKING:
    from chatforge.bot import Bot
    from chatforge.llm.base import LLM

log = logging.getLogger(__name__)

CHECKS = {"first": 1, "top5": 5, "none": 0}
MIN_CHARS = 120
"""Chunks shorter than this (a heading, a table row) hold too little to ask about."""
PASSAGE_CHARS = 1200
PROMPTS = {
    "en": (
        "Here is a passage from a document:\n\n{text}\n\nWrite one question that a user who has "
        "not read this passage would type to a help chatbot, which this passage answers. Use "
        "everyday words, not the passage's phrases. Reply with the question only."
    ),
    "fr": (
        "Voici un passage d'un document :\n\n{text}\n\nÉcris une question, en français, qu'un "
        "utilisateur qui n'a pas lu ce passage poserait à un chatbot d'aide, et à laquelle ce "
        "passage répond. Emploie des mots de tous les jours, pas ceux du passage. Réponds "
        "seulement par la question."
    ),
}
_PREFIX = re.compile(r"^\s*(?:question\s*:|q\s*:|\d+[.)])\s*", re.IGNORECASE)


def chunks_to_ask(bot: Bot, limit: int, seed: int = 0) -> list[dict[str, Any]]:
    """Up to `limit` chunks long enough to ask about, spread over the bot at random."""
    rows = bot.store.db.execute(
        "SELECT c.id, d.path, c.section, c.text, c.lang FROM chunks c "
        "JOIN documents d ON d.id = c.doc_id WHERE length(c.text) >= ? ORDER BY c.id",
        (MIN_CHARS,),
    ).fetchall()
    keys = ("id", "source", "section", "text", "lang")
    chunks = [dict(zip(keys, r, strict=True)) for r in rows]
    if len(chunks) > limit:
        chunks = sorted(random.Random(seed).sample(chunks, limit), key=lambda c: c["id"])
    return chunks


def clean(reply: str) -> str:
    """The question of a model's reply: its first line, without a "Question:" label or quotes."""
    line = next((x for x in reply.strip().splitlines() if x.strip()), "")
    line = _PREFIX.sub("", line).strip().strip("\"'«»“” ").strip()
    return line


def copied(question: str, chunk: dict[str, Any]) -> bool:
    """Whether the question is a phrase of the passage or its own heading."""
    q = question.lower().rstrip("?？ ").strip()
    heading = chunk["section"].split(" > ")[-1].lower() if chunk["section"] else ""
    return q in chunk["text"].lower() or (bool(heading) and q in heading)


def ask_model(llm: LLM, chunk: dict[str, Any], max_tokens: int = 48) -> str:
    from chatforge.llm.base import GenOptions

    prompt = PROMPTS.get(chunk["lang"], PROMPTS["en"]).format(text=chunk["text"][:PASSAGE_CHARS])
    options = GenOptions(max_tokens=max_tokens, temperature=0.0, seed=0, stop=("\n\n",))
    return clean(llm.generate([{"role": "user", "content": prompt}], options).text)


def generate_questions(
    bot: Bot,
    llm: LLM,
    limit: int = 50,
    check: str = "first",
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Question], dict[str, int]]:
    """Questions written from up to `limit` chunks; the counts of kept and dropped ones."""
    if check not in CHECKS:
        raise ChatforgeError(f"unknown check {check!r}; choose one of {', '.join(CHECKS)}")
    chunks = chunks_to_ask(bot, limit)
    if not chunks:
        raise ChatforgeError(
            f"{bot.folder}: no chunk of {MIN_CHARS} characters or more to ask about; "
            "ingest documents first"
        )
    depth = CHECKS[check]
    counts = {"chunks": len(chunks), "kept": 0, "copied": 0, "not found": 0, "empty": 0}
    out = []
    for done, chunk in enumerate(chunks, 1):
        text = ask_model(llm, chunk)
        if progress:
            progress(done, len(chunks))
        if len(text.split()) < 3:
            counts["empty"] += 1
            continue
        if copied(text, chunk):
            counts["copied"] += 1
            continue
        if depth and chunk["id"] not in [h.chunk_id for h in bot.search(text, depth)]:
            counts["not found"] += 1
            continue
        heading = chunk["section"].split(" > ")[-1] if chunk["section"] else ""
        out.append(Question(text, [chunk["source"]], heading, generated=True, chunk=chunk["id"]))
        counts["kept"] += 1
    return out, counts
