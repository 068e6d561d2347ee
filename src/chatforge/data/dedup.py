"""Duplicate removal: exact copies by hash, near copies by MinHash LSH (datasketch).

Rows are compared on their whole content (every turn, or the text), case and spacing folded,
with rows of their own kind only: a question/answer pair drawn from a passage is not a copy of
that passage's plain-text block, it teaches something else (answering). The first of a group of
duplicates is kept, so the result does not depend on anything but the order of the sources.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Iterator

from chatforge.formats.rows import Row

NEAR_THRESHOLD = 0.85  # estimated Jaccard similarity of word 3-gram sets
NUM_PERM = 128
_MIN_WORDS = 8  # shorter rows have too few shingles for a meaningful estimate: exact only
_WORD = re.compile(r"\w+", re.UNICODE)


def _content(row: Row) -> str:
    if row.messages:
        return "\n".join(f"{m['role']}: {m['content']}" for m in row.messages)
    return row.text


def _shingles(words: list[str], n: int = 3) -> set[bytes]:
    return {" ".join(words[i : i + n]).encode() for i in range(len(words) - n + 1)}


def dedup(
    rows: Iterable[Row], dropped: Counter[str], threshold: float = NEAR_THRESHOLD
) -> Iterator[Row]:
    """Rows without exact or near duplicates of an earlier row; drops counted by kind."""
    from datasketch import MinHash, MinHashLSH

    seen: set[bytes] = set()
    lsh = {kind: MinHashLSH(threshold=threshold, num_perm=NUM_PERM) for kind in ("chat", "text")}
    for n, row in enumerate(rows):
        kind = "chat" if row.messages else "text"
        words = _WORD.findall(_content(row).casefold())
        key = hashlib.blake2b(f"{kind} {' '.join(words)}".encode(), digest_size=16).digest()
        if key in seen:
            dropped["duplicate"] += 1
            continue
        seen.add(key)
        if len(words) >= _MIN_WORDS:
            signature = MinHash(num_perm=NUM_PERM)
            signature.update_batch(list(_shingles(words)))
            if lsh[kind].query(signature):
                dropped["near duplicate"] += 1
                continue
            lsh[kind].insert(str(n), signature)
        yield row
