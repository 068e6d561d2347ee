"""Which files of a folder are sources: the same rule for the knowledge base and training sets.

Hidden files and folders (.git, .venv) are left out, and so are folders that hold installed or
generated code rather than the user's own (node_modules, a virtualenv under any name, caches),
so pointing either side at a repository reads its code and docs, not its dependencies; a
saved dataset's bookkeeping files are not sources either, its .arrow files are.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

NOISE_DIRS = frozenset({"node_modules", "__pycache__", "site-packages", "bower_components"})
"""Folder names that hold dependencies or build output in common project layouts."""
HF_MARKERS = ("dataset_dict.json", "dataset_info.json", "state.json")
"""Files one of which a folder saved by `datasets.save_to_disk` holds."""


def is_noise_dir(path: Path) -> bool:
    """Whether a folder is hidden, a dependency or build folder, or a virtualenv."""
    return path.name.startswith(".") or path.name in NOISE_DIRS or (path / "pyvenv.cfg").is_file()


def is_dataset_metadata(path: Path) -> bool:
    """Whether a file is the bookkeeping of a saved dataset (its data is in the .arrow files)."""
    if path.name not in HF_MARKERS:
        return False
    folder = path.parent
    return any(folder.glob("*.arrow")) or any(folder.glob("*/*.arrow"))


def source_files(root: Path) -> Iterator[Path]:
    """Every file under `root` that is not hidden or inside a noise folder, in sorted order."""
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not is_noise_dir(here / d))
        for name in sorted(filenames):
            if not name.startswith(".") and not is_dataset_metadata(here / name):
                yield here / name
