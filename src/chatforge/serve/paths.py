"""How stored document paths are shown to clients: never as absolute server paths.

Uploads are stored under the bot folder (`uploads/<user>/name.md`) and a folder ingested from
the command line may have been given as an absolute path (`/home/me/docs`). A response shows
neither the server's folders nor its user names in them: only where the file sits inside the
bot's upload area or bot folder, or its folder and name.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Any

UPLOADS = "uploads"
"""The bot folder's upload area, one folder per user."""


def public_path(bot_folder: Path, path: str) -> str:
    """The path a response may show for a stored document path.

    Inside the upload area: relative to it (`alice/notes.md`); elsewhere in the bot folder:
    relative to the bot folder; another relative path: as stored; an absolute path outside the
    bot folder: its name under its document folder (`/home/me/docs/faq.md` → `docs/faq.md`).
    """
    if not path:
        return path
    folder = Path(os.path.abspath(bot_folder))
    full = Path(os.path.abspath(path))
    for base in (folder / UPLOADS, folder):
        if full != base and full.is_relative_to(base):
            return full.relative_to(base).as_posix()
    if not os.path.isabs(path):
        return path
    parent = full.parent.name
    return str(PurePosixPath(parent) / full.name) if parent else full.name


def public_hit(bot_folder: Path, hit: dict[str, Any]) -> dict[str, Any]:
    """A search hit or answer source (a dict with `source`) with its path made public."""
    return {**hit, "source": public_path(bot_folder, hit.get("source", ""))}
