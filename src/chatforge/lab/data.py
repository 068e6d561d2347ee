"""Corpus loading, tokenization and batching for the lab.

The default corpus is `pydoc_data.topics`: about 700 KB of English prose (the reference pages
behind Python's `help()`), which ships inside every CPython, so the lab runs offline with
nothing to download. Any text file, or a folder of .md/.txt/.rst files, can replace it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

from chatforge.errors import ChatforgeError

TEXT_SUFFIXES = (".md", ".txt", ".rst")
MIN_CHARS = 10_000
DEFAULT_CORPUS_NAME = "pydoc_data.topics (Python's built-in help pages, ships with CPython)"


@dataclass
class Corpus:
    name: str
    text: str
    files: int


def default_corpus() -> Corpus:
    """Python's own help pages: long English prose that is on disk wherever Python is."""
    try:
        from pydoc_data.topics import topics
    except ImportError as e:  # some distributions split the stdlib's docs into a package
        raise ChatforgeError(
            "this Python lacks pydoc_data, the lab's default corpus: pass --corpus PATH"
        ) from e
    text = "\n\n".join(topics[key].strip() for key in sorted(topics))
    return Corpus(DEFAULT_CORPUS_NAME, text, 1)


def load_corpus(path: Path | str | None = None) -> Corpus:
    """Read a text file, or every .md/.txt/.rst file under a folder (sorted, so runs repeat)."""
    if path is None:
        corpus = default_corpus()
    else:
        path = Path(path)
        if not path.exists():
            raise ChatforgeError(
                f"corpus {path} does not exist: give --corpus an existing text file or folder"
            )
        files = (
            sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
            if path.is_dir()
            else [path]
        )
        if not files:
            raise ChatforgeError(
                f"corpus folder {path} holds no .md, .txt or .rst files: "
                "point --corpus at a folder of text files or at one text file"
            )
        parts = []
        for f in files:
            try:
                parts.append(f.read_text(encoding="utf-8").strip())
            except UnicodeDecodeError as e:
                raise ChatforgeError(
                    f"corpus file {f} is not UTF-8 text: convert it or leave it out of --corpus"
                ) from e
        corpus = Corpus(str(path), "\n\n".join(parts), len(files))
    if len(corpus.text) < MIN_CHARS:
        raise ChatforgeError(
            f"corpus {corpus.name} has {len(corpus.text):,} characters; the lab needs at least "
            f"{MIN_CHARS:,}: give --corpus a bigger text file or folder"
        )
    return corpus


# --------------------------------------------------------------------------------------------
# Tokenizers: text <-> integer ids. Both models see exactly the same ids.
# --------------------------------------------------------------------------------------------


class Tokenizer(Protocol):
    kind: str

    @property
    def vocab_size(self) -> int: ...

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...


class CharTokenizer:
    """One token per distinct character: the smallest vocabulary, the longest sequences."""

    kind = "char"

    def __init__(self, text: str) -> None:
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        return [self.index[c] for c in text if c in self.index]

    def decode(self, ids: list[int]) -> str:
        return "".join(self.chars[i] for i in ids)


class BPETokenizer:
    """Byte-level BPE (as in GPT-2), trained on the corpus with the `tokenizers` library.

    Starts from the 256 bytes, so any text can be encoded, and repeatedly merges the most
    frequent adjacent pair until the vocabulary reaches `vocab_size`.
    """

    kind = "bpe"

    def __init__(self, text: str, vocab_size: int = 1024) -> None:
        from tokenizers import Tokenizer as HFTokenizer
        from tokenizers import decoders, models, pre_tokenizers, trainers

        tok = HFTokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        chunks = text.split("\n\n")
        tok.train_from_iterator(chunks, trainer=trainer)
        self.tok = tok

    @property
    def vocab_size(self) -> int:
        return self.tok.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        return self.tok.encode(text).ids

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode(ids)


def make_tokenizer(kind: str, text: str, vocab_size: int = 1024) -> Tokenizer:
    """The tokenizer named by --tokenizer, trained or built on this corpus."""
    if kind == "bpe":
        return BPETokenizer(text, vocab_size)
    if kind == "char":
        return CharTokenizer(text)
    raise ChatforgeError(f"unknown tokenizer {kind!r}: use --tokenizer bpe or --tokenizer char")


def token_pieces(tokenizer: Tokenizer, ids: list[int]) -> list[str]:
    """Each token decoded on its own, for axis labels ("·" marks a space)."""
    return [tokenizer.decode([i]).replace(" ", "·").replace("\n", "⏎") for i in ids]


# --------------------------------------------------------------------------------------------
# Splits and batches
# --------------------------------------------------------------------------------------------


@dataclass
class Splits:
    train: torch.Tensor
    val: torch.Tensor


def split(ids: list[int], block_size: int, val_fraction: float = 0.1) -> Splits:
    """Hold out the end of the corpus for validation (a contiguous tail, so no leakage)."""
    need = 10 * (block_size + 2)
    if len(ids) < need:
        raise ChatforgeError(
            f"the corpus is only {len(ids):,} tokens long; the lab needs at least {need:,}: "
            "give --corpus a bigger text"
        )
    data = torch.tensor(ids, dtype=torch.long)
    n_val = max(int(len(data) * val_fraction), block_size + 2)
    return Splits(train=data[:-n_val], val=data[-n_val:])


def get_batch(
    data: torch.Tensor,
    block_size: int,
    batch_size: int,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows of the token stream; the target is the same window shifted by one."""
    starts = torch.randint(len(data) - block_size - 1, (batch_size,), generator=generator)
    x = torch.stack([data[i : i + block_size] for i in starts])
    y = torch.stack([data[i + 1 : i + 1 + block_size] for i in starts])
    return x.to(device), y.to(device)
