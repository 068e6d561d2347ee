"""The train/validation split: by conversation, decided by a hash of its id and the seed.

A conversation's side depends only on its id and the seed, so adding data never moves an
existing conversation across, and no conversation is ever on both sides.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from chatforge.errors import ChatforgeError


def _position(conversation_id: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}\x00{conversation_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_ids(ids: Sequence[str], fraction: float, seed: int) -> set[str]:
    """The conversation ids that go to validation.

    Each id whose hash position is under `fraction` goes; if that leaves either side empty,
    the ids nearest the cut are moved so both sides have at least one conversation.
    """
    if not 0 <= fraction < 1:
        raise ChatforgeError(f"--validation {fraction}: give a fraction from 0 up to (not) 1")
    unique = sorted(set(ids), key=lambda c: (_position(c, seed), c))
    if fraction == 0:
        return set()
    if len(unique) < 2:
        raise ChatforgeError(
            f"only {len(unique)} conversation left after cleaning ({len(ids)} rows); a "
            "validation split needs at least 2: add more data or pass --validation 0"
        )
    k = sum(1 for c in unique if _position(c, seed) < fraction)
    k = min(max(k, 1), len(unique) - 1)
    return set(unique[:k])
