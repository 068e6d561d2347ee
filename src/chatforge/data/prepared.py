"""Prepared datasets read back: the folder `chatforge data prepare` writes, checked and tokenized.

A prepared dataset is a folder written by `datasets.DatasetDict.save_to_disk` with the splits
``train`` and ``validation``. Rows are tokenized with the target model's chat template by
:func:`chatforge.data.tokenize.tokenize_row` (loss on the assistant's tokens only) unless the
folder already holds ids made for that same model. Training and evaluation both read it here, so
a model is measured on exactly the token ids it is trained on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chatforge.data.tokenize import IGNORE, tokenize_row
from chatforge.errors import ChatforgeError

SPLITS = ("train", "validation")
Example = dict[str, list[int]]


def load_dataset_folder(path: str | Path) -> Any:
    """The ``DatasetDict`` in ``path``, checked for the splits and columns that training reads."""
    from datasets import DatasetDict, load_from_disk

    path = Path(path)
    fix = "make one with `chatforge data prepare SRC --out DIR`"
    if not path.is_dir():
        raise ChatforgeError(f"{path}: no such dataset folder; {fix}")
    try:
        ds = load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as e:
        raise ChatforgeError(f"{path} is not a saved dataset ({e}); {fix}") from None
    if not isinstance(ds, DatasetDict) or any(s not in ds for s in SPLITS):
        raise ChatforgeError(f"{path} needs the splits train and validation; {fix}")
    for split in SPLITS:
        cols = set(ds[split].column_names)
        if not ({"messages", "text"} & cols or "input_ids" in cols):
            raise ChatforgeError(f"{path}: split {split} has no messages or text column; {fix}")
    return ds


def prepared_model(path: str | Path) -> str | None:
    """The model the folder's stored token ids were made for (stats.json), if any."""
    stats = Path(path) / "stats.json"
    try:
        return json.loads(stats.read_text(encoding="utf-8")).get("model")
    except (OSError, ValueError, AttributeError):
        return None


def tokenize_split(
    split: Any, tokenizer: Any, max_length: int, reuse_ids: bool = False
) -> list[Example]:
    """``input_ids``/``labels`` for every row with something to learn, cut to ``max_length``."""
    out: list[Example] = []
    use_stored = reuse_ids and {"input_ids", "labels"} <= set(split.column_names)
    for row in split:
        if use_stored:
            ids, labels = row["input_ids"][:max_length], row["labels"][:max_length]
            ex = {"input_ids": ids, "labels": labels} if any(x != IGNORE for x in labels) else None
        else:
            ex = tokenize_row(tokenizer, row, max_length)
        if ex is not None:
            out.append(ex)
    return out
