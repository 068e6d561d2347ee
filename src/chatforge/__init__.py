"""chatforge: build, specialize and run your own chatbot on your own machine.

The public API is small: open a bot folder with `Bot`, feed it documents, search it, ask it.
Heavy parts (torch, faiss, models) load only when first used, so importing is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Answer", "Bot", "Settings", "Hit", "IngestReport", "__version__"]

if TYPE_CHECKING:
    from chatforge.bot import Bot
    from chatforge.chat.answer import Answer
    from chatforge.config import Settings
    from chatforge.schema import Hit, IngestReport

_LAZY = {
    "Answer": "chatforge.chat.answer",
    "Bot": "chatforge.bot",
    "Settings": "chatforge.config",
    "Hit": "chatforge.schema",
    "IngestReport": "chatforge.schema",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'chatforge' has no attribute {name!r}")
