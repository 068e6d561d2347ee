"""Request text must be Unicode that UTF-8 can carry.

JSON may spell a lone surrogate (`"\\ud800"`), which Python decodes into a str that cannot be
encoded again: stored, tokenized or echoed, it would fail deep inside. Every request model
derives from RequestModel, which refuses such text up front, naming the field.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, model_validator
from pydantic_core import PydanticCustomError

LONE_SURROGATE = "lone_surrogate"


def surrogate_in(value: Any, where: str) -> str | None:
    """Where in `value` (a str, or a list or dict of them) a lone surrogate sits, or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return where
        return None
    if isinstance(value, list | tuple):
        items = ((f"{where}[{i}]", v) for i, v in enumerate(value))
    elif isinstance(value, dict):
        items = ((f"{where}.{k}", v) for k, v in value.items())
    else:
        return None
    for path, item in items:
        found = surrogate_in(item, path)
        if found:
            return found
    return None


class RequestModel(BaseModel):
    """A request body part whose text fields must be valid Unicode (nested models check
    themselves)."""

    @model_validator(mode="after")
    def _no_lone_surrogates(self) -> RequestModel:
        for name in type(self).model_fields:
            found = surrogate_in(getattr(self, name), name)
            if found:
                raise PydanticCustomError(
                    LONE_SURROGATE,
                    "contains a lone surrogate (such as \\ud800), which is not Unicode text; "
                    "send UTF-8 text",
                    {"field": found},
                )
        return self
