"""Sentence embeddings with sentence-transformers, tuned for throughput on small machines."""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from chatforge.errors import ModelError
from chatforge.models import resolve_embedder

log = logging.getLogger(__name__)


def _pick_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _pick_dtype(dtype: str, device: str) -> str:
    """bfloat16 where the hardware runs it natively: about 2x faster here, cosine > 0.99 to fp32."""
    if dtype != "auto":
        return dtype
    import torch

    if device.startswith("cuda"):
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return "bfloat16" if cpu_runs_bf16() else "float32"


def cpu_runs_bf16() -> bool:
    """Whether this CPU runs bfloat16 natively (oneDNN present, AVX512-BF16 or AMX advertised)."""
    import torch

    return torch.backends.mkldnn.is_available() and _cpu_has_bf16()


def _cpu_has_bf16() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


QUERY_CACHE = 8
"""Query vectors kept (the latest questions); few, so a benchmark cycling through many
questions still pays for each embedding."""
RECURRING_CACHE = 4096
"""Vectors of passage sentences and headings kept (about 6 MB with MiniLM)."""


class Embedder:
    """Turns texts into L2-normalised float32 vectors, so inner product is cosine similarity."""

    def __init__(
        self, model: str, device: str = "auto", dtype: str = "auto", batch_size: int = 64
    ) -> None:
        self.name = model
        self.path = resolve_embedder(model)
        self.device = _pick_device(device)
        self.dtype = _pick_dtype(dtype, self.device)
        self.batch_size = batch_size
        # One question is embedded by retrieval, the relevance floor, passage compression, the
        # choice of the quoted passage and memory recall; remembered, that is one model call.
        self.encode_query = lru_cache(maxsize=QUERY_CACHE)(self._encode_query)
        self._recurring: OrderedDict[str, np.ndarray] = OrderedDict()
        self._recurring_lock = threading.Lock()

    @cached_property
    def model(self) -> Any:
        if os.path.isdir(self.path):
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()

        try:
            st = SentenceTransformer(
                self.path,
                device=self.device,
                model_kwargs={"dtype": getattr(torch, self.dtype)},
            )
        except OSError as e:
            raise ModelError(f"cannot load embedding model {self.name}: {e}".splitlines()[0]) from e
        return st

    @property
    def dim(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def tokenizer(self) -> Any:
        return self.model.tokenizer

    @property
    def max_tokens(self) -> int:
        """Longest input in tokens, special tokens excluded: longer text would be truncated."""
        return int(self.model.max_seq_length) - 2

    def encode(self, texts: Sequence[str], progress: Any = None) -> np.ndarray:
        """Embed texts in length-sorted batches; `progress(n)` is called after each batch."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i in range(0, len(texts), self.batch_size):
            idx = order[i : i + self.batch_size]
            vecs = self.model.encode(
                [texts[j] for j in idx],
                batch_size=self.batch_size,
                normalize_embeddings=False,  # once below, in float32
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            out[idx] = vecs.astype(np.float32, copy=False)
            if progress is not None:
                progress(len(idx))
        # Normalised here, in float32: a model's own Normalize layer works in its dtype, where
        # bfloat16 leaves a norm up to 0.2% short.
        out /= np.linalg.norm(out, axis=1, keepdims=True).clip(min=1e-12)
        return out

    def encode_recurring(self, texts: Sequence[str]) -> np.ndarray:
        """Like `encode`, for texts that come back: the sentences and headings of passages.

        A bot's popular chunks answer many questions, and compressing or checking an answer
        embeds their sentences each time; the latest RECURRING_CACHE vectors are kept, so only
        sentences not seen lately reach the model.
        """
        with self._recurring_lock:
            known = self._recurring
            missing = list(dict.fromkeys(t for t in texts if t not in known))
            fresh = dict(zip(missing, self.encode(missing), strict=True)) if missing else {}
            out = np.empty((len(texts), self.dim), dtype=np.float32)
            for i, t in enumerate(texts):
                out[i] = fresh[t] if t in fresh else known[t]
                if t not in fresh:
                    known.move_to_end(t)
            known.update(fresh)
            while len(known) > RECURRING_CACHE:
                known.popitem(last=False)
            return out

    def _encode_query(self, text: str) -> np.ndarray:
        vec = self.encode([text])[0]
        vec.setflags(write=False)  # shared by every caller of the cache
        return vec
