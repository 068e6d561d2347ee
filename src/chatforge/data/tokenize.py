"""Tokenize a training row with the target model's chat template, loss on the assistant only.

A row is either a conversation (``messages``: role/content dicts) or plain text for continued
pre-training (``text``). Labels copy the input ids where the model should learn to produce the
token and hold ``IGNORE`` (-100, the value PyTorch's cross-entropy skips) everywhere else: the
system and user turns and the template's own markup before each assistant turn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

IGNORE = -100


def _render(tokenizer: Any, messages: Sequence[Mapping[str, str]], generation: bool) -> str:
    return tokenizer.apply_chat_template(
        list(messages), tokenize=False, add_generation_prompt=generation
    )


def assistant_spans(tokenizer: Any, messages: Sequence[Mapping[str, str]]) -> tuple[str, list]:
    """The rendered conversation and the character spans of each assistant reply in it.

    Each span runs from the end of the prompt that asks for that reply to the end of the reply,
    so it includes the template's end-of-turn marker: the model learns to stop.
    """
    full = _render(tokenizer, messages, generation=False)
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        start = len(_render(tokenizer, messages[:i], generation=True))
        end = len(_render(tokenizer, messages[: i + 1], generation=False))
        if not full.startswith(_render(tokenizer, messages[: i + 1], generation=False)):
            raise ValueError("the chat template does not render conversations prefix by prefix")
        spans.append((start, end))
    return full, spans


def tokenize_row(
    tokenizer: Any, row: Mapping[str, Any], max_length: int
) -> dict[str, list[int]] | None:
    """``input_ids`` and ``labels`` for one row, cut to `max_length`; None if nothing to learn.

    A conversation needs a chat template and at least one assistant turn inside the first
    `max_length` tokens. Plain text learns every token and ends with the end-of-sequence token.
    """
    messages = row.get("messages") or []
    if messages:
        text, spans = assistant_spans(tokenizer, messages)
        enc = tokenizer(
            text, add_special_tokens=False, return_offsets_mapping=True, truncation=False
        )
        ids = enc["input_ids"][:max_length]
        offsets = enc["offset_mapping"][:max_length]
        labels = [
            tok if any(s <= start < e for s, e in spans) else IGNORE
            for tok, (start, _end) in zip(ids, offsets, strict=True)
        ]
    else:
        text = row.get("text") or ""
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if tokenizer.eos_token_id is not None:
            ids = [*ids, tokenizer.eos_token_id]
        ids = ids[:max_length]
        labels = list(ids)
    if not any(label != IGNORE for label in labels):
        return None
    return {"input_ids": ids, "labels": labels}
