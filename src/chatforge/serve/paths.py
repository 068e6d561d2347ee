"""The paths a response may show: never the server's absolute paths."""

from __future__ import annotations

from pathlib import Path, PurePath

UPLOADS = "uploads"


def public_path(bot_folder: Path, path: str) -> str:
    """`path` as a response may show it.

    Inside the bot folder's upload area: relative to it; elsewhere in the bot folder: relative
    to the folder; a relative path: as stored; an absolute path outside the bot folder: its
    name under its own folder's name, so the server's layout is never shown.
    """
    p = PurePath(path)
    if not p.is_absolute():
        return path
    folder = bot_folder.resolve()
    for base in (folder / UPLOADS, folder):
        if p.is_relative_to(base):
            return p.relative_to(base).as_posix()
    return PurePath(p.parent.name, p.name).as_posix()
