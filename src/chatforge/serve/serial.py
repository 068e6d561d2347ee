"""The bot's embedding model shared by the server's threads, one call at a time.

A fast tokenizer is not safe to use from two threads at once ("Already borrowed"), and the
server embeds from several: answers, search, memory and /v1/embeddings. Embedding a query
takes milliseconds, so taking turns costs little.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from chatforge.embed import Embedder


class SerialEmbedder:
    """An Embedder whose calls take turns; everything else is the wrapped embedder's."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.lock = threading.RLock()

    def encode(self, texts: Sequence[str], progress: Any = None, bulk: bool = False) -> np.ndarray:
        with self.lock:
            return self.inner.encode(texts, progress, bulk)

    def encode_query(self, text: str) -> np.ndarray:
        with self.lock:
            return self.inner.encode_query(text)

    def count_tokens(self, texts: Sequence[str]) -> int:
        """Tokens the model reads for `texts` (special tokens included, as OpenAI counts)."""
        with self.lock:
            return sum(len(e.ids) for e in self.inner.tokenizer.encode_batch(list(texts)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
