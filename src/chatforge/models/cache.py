"""The folder chatforge keeps what it makes once: assembled and converted models, the runs index."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """chatforge's cache root: ``$CHATFORGE_CACHE`` or ``~/.cache/chatforge``."""
    return Path(os.environ.get("CHATFORGE_CACHE") or Path.home() / ".cache" / "chatforge")
