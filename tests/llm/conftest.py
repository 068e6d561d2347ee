"""Shared fixtures: real built-in models, an isolated cache, no model hub."""

from __future__ import annotations

import os

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(scope="session", autouse=True)
def llm_cache(tmp_path_factory: pytest.TempPathFactory):
    """A fresh CHATFORGE_CACHE, so the GGUF → safetensors conversion really runs once here."""
    with pytest.MonkeyPatch.context() as mp:
        cache = tmp_path_factory.mktemp("chatforge-cache")
        mp.setenv("CHATFORGE_CACHE", str(cache))
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield cache


@pytest.fixture(scope="session")
def smollm2_cpp(llm_cache):
    from chatforge.llm import open_llm

    return open_llm("smollm2")
