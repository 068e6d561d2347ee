"""Token-weighted perplexity on the tokens a model is trained to produce (labels not -100).

Perplexity is ``exp(total negative log-likelihood / number of label tokens)`` over the whole
split, not the mean of per-row or per-batch perplexities, so long and short replies weigh by
their tokens. Every model compared is fed the same token ids (one tokenizer for all), which is
what makes the numbers comparable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chatforge.data.tokenize import IGNORE
from chatforge.errors import ChatforgeError


def nll_sum(model: Any, examples: Sequence[dict[str, list[int]]], batch_size: int = 4) -> tuple:
    """(summed negative log-likelihood, label tokens) of ``model`` over ``examples``."""
    import torch
    import torch.nn.functional as F

    device = next(model.parameters()).device
    order = sorted(examples, key=lambda e: len(e["input_ids"]))
    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for i in range(0, len(order), batch_size):
                batch = order[i : i + batch_size]
                width = max(len(e["input_ids"]) for e in batch)
                ids = torch.zeros((len(batch), width), dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
                for j, e in enumerate(batch):
                    n = len(e["input_ids"])
                    ids[j, :n] = torch.tensor(e["input_ids"])
                    mask[j, :n] = 1
                    labels[j, :n] = torch.tensor(e["labels"])
                logits = model(
                    input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=False
                ).logits.float()
                target = labels[:, 1:].to(device)
                total += F.cross_entropy(
                    logits[:, :-1].reshape(-1, logits.shape[-1]),
                    target.reshape(-1),
                    ignore_index=IGNORE,
                    reduction="sum",
                ).item()
                count += int((target != IGNORE).sum())
    finally:
        model.train(was_training)
    return total, count


def perplexity(model: Any, examples: Sequence[dict[str, list[int]]], batch_size: int = 4) -> float:
    """Token-weighted perplexity of ``model`` on ``examples`` (input_ids and labels)."""
    total, count = nll_sum(model, examples, batch_size)
    if count == 0:
        raise ChatforgeError("no label tokens to measure; the split has no assistant text")
    return math.exp(total / count)


def evaluate_perplexity(
    model: str | Path,
    dataset: str | Path,
    split: str = "validation",
    max_length: int = 1024,
    tokenizer_model: str | Path | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Perplexity of ``model`` on a prepared dataset's split.

    ``tokenizer_model`` names the model whose tokenizer (and chat template) makes the ids, so
    several models can be measured on exactly the same tokens; default: the model's own.
    """
    import torch
    from datasets import load_from_disk
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from chatforge.data.prepared import tokenize_split
    from chatforge.llm import hf_folder

    folder = hf_folder(str(model))
    tok_folder = hf_folder(str(tokenizer_model)) if tokenizer_model else folder
    path = Path(dataset)
    if not path.is_dir():
        raise ChatforgeError(
            f"{path}: no such dataset folder; make one with `chatforge data prepare`"
        )
    ds = load_from_disk(str(path))
    if split not in ds:
        raise ChatforgeError(f"{path} has no split {split!r}; it has: {', '.join(ds)}")
    rows = ds[split] if limit is None else ds[split].select(range(min(limit, len(ds[split]))))
    tokenizer = AutoTokenizer.from_pretrained(tok_folder)
    examples = tokenize_split(rows, tokenizer, max_length)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    lm = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).to(device)
    if lm.config.vocab_size < len(tokenizer):
        raise ChatforgeError(
            f"{model} has a smaller vocabulary than the tokenizer of {tokenizer_model}; "
            "compare models that share a tokenizer"
        )
    total, count = nll_sum(lm, examples)
    if count == 0:
        raise ChatforgeError(f"{path} split {split} has no assistant or text tokens to measure")
    return {
        "model": str(model),
        "dataset": str(path),
        "split": split,
        "rows": len(examples),
        "tokens": count,
        "nll": total / count,
        "perplexity": math.exp(total / count),
    }
