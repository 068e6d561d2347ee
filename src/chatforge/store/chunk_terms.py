"""What the keyword index holds for a chunk: its language and its BM25 terms.

`chunks_fts` does not tokenize text itself any more: it receives terms that chatforge.lexical
made in the chunk's language (Snowball stems, accents folded), joined by spaces, and its own
tokenizer only splits them. Those terms and `chunks.lang` are derived from the chunk's text, so
a bot made before languages were stored gets both from its own rows when it is opened.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from itertools import groupby

from chatforge.languages import label_chunks
from chatforge.lexical import terms
from chatforge.store.keyword_index import TOKENIZER
from chatforge.store.migrations import execute_all

log = logging.getLogger("chatforge.store")


def analyse(chunks: Sequence[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(language, context terms, text terms) of one document's (context, text) chunks."""
    langs = label_chunks([f"{context}\n{text}" for context, text in chunks])
    return [
        (lang, " ".join(terms(context, lang)), " ".join(terms(text, lang)))
        for (context, text), lang in zip(chunks, langs, strict=True)
    ]


def m002_chunk_languages(db: sqlite3.Connection) -> None:
    """Store migration (registered in store.sqlite, after m001): label every chunk with its
    language and re-make the keyword index from language-aware terms (it held Porter stems of
    English), then move the generation so the derived indexes catch up."""
    execute_all(
        db,
        "ALTER TABLE chunks ADD COLUMN lang TEXT NOT NULL DEFAULT ''",
        "DROP TABLE IF EXISTS chunks_fts",
        f"CREATE VIRTUAL TABLE chunks_fts USING fts5(context, text, tokenize = '{TOKENIZER}')",
    )
    rows = db.execute("SELECT id, doc_id, context, text FROM chunks ORDER BY doc_id, ord")
    rows = rows.fetchall()
    if not rows:
        return
    log.info("labelling the languages of %d chunks and re-making their keyword terms", len(rows))
    for _, group in groupby(rows, key=lambda r: r[1]):
        chunks = list(group)
        analysed = analyse([(c[2], c[3]) for c in chunks])
        db.executemany(
            "UPDATE chunks SET lang = ? WHERE id = ?",
            [(lang, c[0]) for c, (lang, _, _) in zip(chunks, analysed, strict=True)],
        )
        db.executemany(
            "INSERT INTO chunks_fts(rowid, context, text) VALUES(?,?,?)",
            [(c[0], ctx, txt) for c, (_, ctx, txt) in zip(chunks, analysed, strict=True)],
        )
    db.execute(
        "INSERT INTO meta(key, value) VALUES('generation', '1') ON CONFLICT(key) "
        "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
    )
