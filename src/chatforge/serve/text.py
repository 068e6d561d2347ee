"""Request text must be Unicode that UTF-8 can carry.

JSON may spell a lone surrogate (`"\\ud800"`), which Python decodes into a str that cannot be
encoded again: stored, tokenized or echoed, it would fail deep inside. Every request body's
model derives from RequestModel, which refuses such text up front, naming the field
(`messages[1].content`). The models nested in it stay plain BaseModels: the body's model looks
into them, so the field is named the same whichever member of a union matched.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, model_validator
from pydantic_core import PydanticCustomError

LONE_SURROGATE = "lone_surrogate"


def surrogate_in(value: Any, where: str) -> str | None:
    """Where in `value` (a str, or a list, dict or model of them) a lone surrogate sits."""
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
    elif isinstance(value, BaseModel):
        items = ((f"{where}.{k}", getattr(value, k)) for k in type(value).model_fields)
    else:
        return None
    for path, item in items:
        found = surrogate_in(item, path)
        if found:
            return found
    return None


class RequestModel(BaseModel):
    """A request body whose text, nested models' included, must be valid Unicode."""

    @model_validator(mode="after")
    def _no_lone_surrogates(self) -> RequestModel:
        for name in type(self).model_fields:
            found = surrogate_in(getattr(self, name), name)
            if found:
                raise PydanticCustomError(LONE_SURROGATE, "not Unicode text", {"field": found})
        return self
