"""BM25 over the FTS5 keyword index, scored in memory.

FTS5's bm25() scores every row that holds any query term, one row at a time, so a query with a
common word took tens of milliseconds on a store of 100k chunks. This index reads FTS5's
postings once (the `fts5vocab` instance table), keeps them as a chunk-by-term sparse matrix of
column-weighted term counts, and computes FTS5's own bm25() formula with numpy: the same
constants, the same IDF floor, the same column weights, so the ranking is FTS5's.

SQLite stays the truth and the tokenizer. The matrix is derived: rebuilt on the first search
after the store's generation moves (about three seconds at 100k chunks) and saved beside the
store, so the next process loads it in a fraction of a second instead.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import scipy.sparse as sp

K1 = 1.2
B = 0.75
IDF_FLOOR = 1e-6
COLUMN_WEIGHTS = np.array([0.5, 1.0], dtype=np.float32)
"""Weights of the FTS5 columns (context: the heading trail, then text), as bm25() takes them."""
log = logging.getLogger("chatforge.store")

TOKENIZER = "unicode61 remove_diacritics 0"
"""The FTS5 tokenizer of `chunks_fts` and of queries. It only splits the terms that
chatforge.lexical made (stems in the chunk's language, accents folded where that helps);
changing it takes a store migration that rebuilds `chunks_fts`, since existing bots keep the
tokenizer their table was made with."""


class KeywordIndex:
    """BM25 scores of chunk ids for a query's terms; built from one snapshot of the store."""

    def __init__(
        self,
        generation: int,
        terms: list[str],
        counts: sp.csc_matrix,
        lengths: np.ndarray,
        rows: int,
    ) -> None:
        self.generation = generation
        self.terms = terms
        self.vocabulary = {t: i for i, t in enumerate(terms)}
        self.counts = counts  # chunk id x term: column-weighted term frequency
        self.lengths = lengths  # chunk id -> tokens in all columns
        self.rows = rows
        average = float(lengths.sum()) / rows if rows else 1.0
        self._norm = K1 * (1 - B + B * lengths / average)  # the length part of bm25's denominator

    @classmethod
    def build(cls, db: sqlite3.Connection, generation: int) -> KeywordIndex:
        """Read every posting of `chunks_fts`; call inside a read transaction for a snapshot."""
        db.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunks_postings "
            "USING fts5vocab(main, 'chunks_fts', 'instance')"
        )
        terms: list[str] = []
        postings: list[str] = []
        # One row per term with its postings as text: fetching 10M (term, doc, col) rows one
        # by one costs seconds of Python objects; numpy parses the joined text in a fraction.
        for term, codes in db.execute(
            "SELECT term, group_concat(doc * 2 + (col = 'text')) "
            "FROM temp.chunks_postings GROUP BY term"
        ):
            terms.append(term)
            postings.append(codes)
        rows = int(db.execute("SELECT count(*) FROM chunks_fts").fetchone()[0])
        top = db.execute("SELECT max(rowid) FROM chunks_fts").fetchone()[0] or 0
        if not terms:
            empty = sp.csc_matrix((top + 1, 0), dtype=np.float32)
            return cls(generation, [], empty, np.zeros(top + 1, dtype=np.float32), rows)
        per_term = np.fromiter((p.count(",") + 1 for p in postings), np.int64, len(postings))
        codes = np.fromstring(",".join(postings), dtype=np.int64, sep=",")
        chunk = (codes >> 1).astype(np.int32)
        weight = COLUMN_WEIGHTS[codes & 1]
        term = np.repeat(np.arange(len(terms), dtype=np.int32), per_term)
        del codes
        # Duplicate (chunk, term) pairs, one per occurrence, are summed by the conversion.
        counts = sp.coo_matrix((weight, (chunk, term)), shape=(top + 1, len(terms))).tocsc()
        lengths = np.bincount(chunk, minlength=top + 1).astype(np.float32)
        return cls(generation, terms, counts, lengths, rows)

    def save(self, path: Path) -> None:
        """Write under a temporary name, then rename: a reader sees the old file or the new."""
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        with open(tmp, "wb") as f:
            np.savez(
                f,
                generation=np.int64(self.generation),
                rows=np.int64(self.rows),
                # Terms never hold a newline (the tokenizer splits on white space).
                terms=np.frombuffer("\n".join(self.terms).encode(), dtype=np.uint8),
                indptr=self.counts.indptr,
                indices=self.counts.indices,
                data=self.counts.data,
                lengths=self.lengths,
            )
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, generation: int) -> KeywordIndex | None:
        """The saved index of `generation`, or None when it is missing, of another generation
        or unreadable (then it is rebuilt). The generation is read first: a stale file's
        postings (tens of MB on a big store) are never read only to be thrown away."""
        try:
            with np.load(path, allow_pickle=False) as z:
                if int(z["generation"]) != generation:
                    return None
                text = z["terms"].tobytes().decode()
                terms = text.split("\n") if text else []
                lengths = z["lengths"]
                counts = sp.csc_matrix(
                    (z["data"], z["indices"], z["indptr"]), shape=(len(lengths), len(terms))
                )
                return cls(generation, terms, counts, lengths, int(z["rows"]))
        except FileNotFoundError:
            return None
        except (OSError, EOFError, ValueError, KeyError, UnicodeError, zipfile.BadZipFile) as e:
            log.info("keyword index %s unreadable (%s): rebuilding from SQLite", path.name, e)
            return None

    def search(
        self, terms: Iterable[str], k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """The k best chunk ids by BM25 over the question's `full_match` (higher is better),
        among `allowed` ids if given.

        A chunk matching the whole question scores about 1 and one matching only its common
        words little, whatever the question's length, so the fusion can tell a sure BM25 list
        from one whose best hit is only the least bad (a question in the user's own words)."""
        unique = list(dict.fromkeys(terms))
        scores = np.zeros(self.counts.shape[0], dtype=np.float64)
        for t in unique:
            j = self.vocabulary.get(t)
            if j is None:
                continue
            lo, hi = self.counts.indptr[j], self.counts.indptr[j + 1]
            ids, tf = self.counts.indices[lo:hi], self.counts.data[lo:hi]
            scores[ids] += self._idf(len(ids)) * tf * (K1 + 1) / (tf + self._norm[ids])
        found = np.flatnonzero(scores)  # every holder of a term scores above zero (IDF_FLOOR)
        if allowed is not None:
            found = found[np.isin(found, allowed)]
        if k <= 0:
            return []
        if len(found) > k:
            found = found[np.argpartition(-scores[found], k - 1)[:k]]
        best = found[np.argsort(-scores[found], kind="stable")]
        full = self.full_match(unique)
        return [(int(i), float(scores[i] / full)) for i in best]

    def full_match(self, terms: Iterable[str]) -> float:
        """The BM25 score of a chunk of average length holding each of the terms once: the sum
        of their IDFs, a term no chunk holds counting as the rarest there could be."""
        total = 0.0
        for t in dict.fromkeys(terms):
            j = self.vocabulary.get(t)
            held = 0 if j is None else int(self.counts.indptr[j + 1] - self.counts.indptr[j])
            total += self._idf(held)
        return total

    def _idf(self, held: int) -> float:
        """BM25's IDF of a term that `held` of the chunks hold."""
        return max(float(np.log((self.rows - held + 0.5) / (held + 0.5))), IDF_FLOOR)


class QueryTokenizer:
    """Query terms through FTS5's own tokenizer, so they split exactly as the index's did."""

    def __init__(self) -> None:
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.execute(f"CREATE VIRTUAL TABLE q USING fts5(text, tokenize = '{TOKENIZER}')")
        self._db.execute("CREATE VIRTUAL TABLE q_terms USING fts5vocab(q, 'instance')")
        self._lock = threading.Lock()

    def terms(self, words: Iterable[str]) -> list[str]:
        """Index terms of `words`, in order of first appearance, each once."""
        with self._lock:
            self._db.execute("DELETE FROM q")
            self._db.execute("INSERT INTO q(rowid, text) VALUES(1, ?)", (" ".join(words),))
            found = self._db.execute("SELECT term FROM q_terms ORDER BY offset").fetchall()
        return list(dict.fromkeys(t for (t,) in found))
