"""One stored key per file, whichever way the user spells its path.

`docs/x.md`, `./docs/x.md`, `docs/../docs/x.md`, `/abs/path/docs/x.md` and a symlink to it are
one file, so they must be one document. The key is the resolved path relative to the working
folder when the file is inside it (relative stays relative), else the resolved absolute path.
Bots that stored two spellings of one file before are merged on the next ingest, and
forgetting a file accepts any of its spellings.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import lru_cache

from chatforge.schema import FileResult
from chatforge.store.sqlite import SQLiteStore


def canonical_source(path: str | os.PathLike[str]) -> str:
    """The key a file is stored under, the same for every spelling of its path."""
    resolved = os.path.realpath(path)
    cwd = _resolved(os.getcwd())
    if resolved == cwd:
        return "."
    inside = cwd.rstrip(os.sep) + os.sep
    return resolved[len(inside) :] if resolved.startswith(inside) else resolved


@lru_cache(maxsize=16)
def _resolved(folder: str) -> str:
    """The working folder resolved once, not once per file of a walk."""
    return os.path.realpath(folder)


def is_under(key: str, root: str) -> bool:
    """Whether the stored key `key` names a file inside the folder whose key is `root`."""
    if root == ".":
        return not os.path.isabs(key)
    return key == root or key.startswith(root.rstrip(os.sep) + os.sep)


def forget_file(store: SQLiteStore, path: str) -> bool:
    """Remove the documents of the file `path` names, under any spelling; True if any were."""
    key = canonical_source(path)
    found = False
    for stored in list(store.file_versions()):
        if stored in (path, key) or canonical_source(stored) == key:
            found = store.remove_file(stored) or found
    return found


def merge_spellings(store: SQLiteStore, canonical: Iterable[str]) -> list[FileResult]:
    """Remove stored files kept under another spelling of a file that is stored canonically.

    `canonical` are keys known to be canonical already (this run's files), which need no
    resolving; each removal is reported.
    """
    stored = set(store.file_versions())
    known = set(canonical)
    removed: list[FileResult] = []
    for path in sorted(stored - known):
        key = canonical_source(path)
        if key != path and key in stored:
            store.remove_file(path)
            removed.append(FileResult(path, "removed", f"the same file as {key}"))
    return removed
