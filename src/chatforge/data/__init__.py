"""Training sets: every kind of source a user has, turned into chat-format conversations.

`chatforge.data.prepare.prepare` builds a dataset folder; `load_prepared` opens one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load_prepared(path: str | Path) -> Any:
    """The `datasets.DatasetDict` (train, validation) that `data prepare` wrote at `path`."""
    from chatforge.data.prepare import load_prepared as load

    return load(path)
