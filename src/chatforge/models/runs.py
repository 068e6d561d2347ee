"""Fine-tuned models by name: what `chatforge models` lists and `llm.model` can switch to.

A finished `chatforge finetune` run is a folder holding ``summary.json``, ``adapter/``,
``merged/`` and ``model.gguf``. Each run is remembered in ``$CHATFORGE_CACHE/finetuned.json``
(name -> folder) so it can be named like a built-in model; a folder that has gone is dropped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from chatforge.models.cache import cache_dir

SUMMARY = "summary.json"
GGUF = "model.gguf"
MERGED = "merged"


def _index() -> Path:
    return cache_dir() / "finetuned.json"


def _read() -> dict[str, str]:
    try:
        data = json.loads(_index().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}


def is_finetuned(folder: Path) -> bool:
    """Whether ``folder`` is a finished `chatforge finetune` run."""
    return (folder / SUMMARY).is_file() and (merged_path(folder) / "config.json").is_file()


def register_run(folder: Path) -> str:
    """Remember a finished run under its folder name; returns that name."""
    folder = folder.resolve()
    entries = _read()
    entries[folder.name] = str(folder)
    path = _index()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(entries, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return folder.name


def finetuned_folder(spec: str) -> Path | None:
    """The run folder a name, a run folder or its model.gguf stands for, else None."""
    path = Path(spec).expanduser()
    for candidate in (path, path.parent if path.name == GGUF else None):
        if candidate is not None and candidate.is_dir() and is_finetuned(candidate):
            return candidate
    known = _read().get(spec)
    if known and is_finetuned(Path(known)):
        return Path(known)
    return None


def merged_path(folder: Path) -> Path:
    """The run's transformers folder (base and adapter merged), read by training and evaluation."""
    return folder / MERGED


def served_path(folder: Path) -> Path:
    """What the LLM backends should open: the GGUF (llama.cpp), else the merged folder."""
    gguf = folder / GGUF
    return gguf if gguf.is_file() else merged_path(folder)


def finetuned_models() -> list[dict[str, Any]]:
    """Name, folder, served path, base model and validation perplexities of each run."""
    rows = []
    for name, folder in sorted(_read().items()):
        path = Path(folder)
        if not is_finetuned(path):
            continue
        try:
            summary = json.loads((path / SUMMARY).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            summary = {}
        rows.append(
            {
                "name": name,
                "folder": str(path),
                "path": str(served_path(path)),
                "base": summary.get("base"),
                "perplexity_before": summary.get("perplexity_before"),
                "perplexity_after": summary.get("perplexity_after"),
            }
        )
    return rows
