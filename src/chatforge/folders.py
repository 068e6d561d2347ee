"""Which bot a command works on, when none is named."""

from __future__ import annotations

import os
from pathlib import Path

from chatforge.config import CONFIG_FILE
from chatforge.errors import ConfigError


def find_bot_dir(explicit: Path | None) -> Path:
    """--bot, else the current folder if it has chatforge.yaml, else $CHATFORGE_BOT."""
    if explicit is not None:
        return explicit
    if Path(CONFIG_FILE).is_file():
        return Path(".")
    env = os.environ.get("CHATFORGE_BOT")
    if env:
        return Path(env)
    raise ConfigError(
        "no bot folder: pass --bot DIR, run inside a folder with chatforge.yaml, "
        "or set CHATFORGE_BOT (create one with `chatforge init DIR`)"
    )
