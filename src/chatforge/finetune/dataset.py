"""Training sets as the trainer sees them: checked for size, capped and packed.

Loading and tokenizing a prepared dataset is :mod:`chatforge.data.prepared`'s part.

Packing puts several short rows into one sequence of at most ``max_length`` tokens, with
``position_ids`` restarting at 0 for each row and no attention mask: transformers then builds a
block-diagonal causal mask, so rows never attend to each other, and no compute goes to padding.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from chatforge.data.prepared import Example
from chatforge.data.tokenize import IGNORE
from chatforge.errors import ChatforgeError

MIN_TRAIN_ROWS = 2
MIN_VALIDATION_ROWS = 1


def check_size(path: str | Path, train: Sequence[Example], validation: Sequence[Example]) -> None:
    """Refuse a dataset too small to train on and to measure."""
    if len(train) < MIN_TRAIN_ROWS or len(validation) < MIN_VALIDATION_ROWS:
        raise ChatforgeError(
            f"{path} has {len(train)} usable training and {len(validation)} validation rows; "
            f"fine-tuning needs at least {MIN_TRAIN_ROWS} and {MIN_VALIDATION_ROWS} "
            "(rows with assistant text): prepare it from more data"
        )


def cap_tokens(examples: Sequence[Example], max_tokens: int) -> list[Example]:
    """The first examples up to ``max_tokens`` tokens in all (at least one)."""
    kept, total = [], 0
    for ex in examples:
        if kept and total + len(ex["input_ids"]) > max_tokens:
            break
        kept.append(ex)
        total += len(ex["input_ids"])
    return kept


def pack(examples: Iterable[Example], max_length: int) -> list[Example]:
    """Pack rows into sequences of at most ``max_length`` tokens (first fit, longest first).

    Each row keeps its own positions (``position_ids`` from 0) and its first label is ignored,
    so no row is predicted from the one before it.
    """
    bins: list[list[Example]] = []
    room: list[int] = []
    for ex in sorted(examples, key=lambda e: len(e["input_ids"]), reverse=True):
        n = len(ex["input_ids"])
        i = next((i for i, r in enumerate(room) if r >= n), None)
        if i is None:
            bins.append([ex])
            room.append(max_length - n)
        else:
            bins[i].append(ex)
            room[i] -= n
    packed = []
    for group in bins:
        ids: list[int] = []
        labels: list[int] = []
        positions: list[int] = []
        for ex in group:
            ids += ex["input_ids"]
            labels += [IGNORE, *ex["labels"][1:]]
            positions += range(len(ex["input_ids"]))
        packed.append({"input_ids": ids, "labels": labels, "position_ids": positions})
    return packed


class PackedCollator:
    """Stack packed sequences, padding the short ones with a segment of their own.

    Padding is a separate segment (positions from 0, labels ignored) rather than an attention
    mask, which would switch off transformers' packed-sequence masking.
    """

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, batch: Sequence[Example]) -> dict[str, Any]:
        import torch

        width = max(len(ex["input_ids"]) for ex in batch)
        cols: dict[str, list[list[int]]] = {"input_ids": [], "labels": [], "position_ids": []}
        for ex in batch:
            pad = width - len(ex["input_ids"])
            cols["input_ids"].append(ex["input_ids"] + [self.pad_id] * pad)
            cols["labels"].append(ex["labels"] + [IGNORE] * pad)
            positions = ex.get("position_ids") or list(range(len(ex["input_ids"])))
            cols["position_ids"].append(list(positions) + list(range(pad)))
        return {k: torch.tensor(v, dtype=torch.long) for k, v in cols.items()}
