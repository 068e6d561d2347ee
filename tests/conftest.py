"""Shared fixtures: real embedding model, real SQLite and FAISS, bot folders in tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pgsupport import pg_server, pg_url  # noqa: E402,F401
from support import write_docs  # noqa: E402


@pytest.fixture(scope="session")
def embedder():
    """One real MiniLM for the whole session: loading it per test would dominate the suite."""
    from chatforge.embed import Embedder

    return Embedder("all-MiniLM-L6-v2")


@pytest.fixture
def make_bot(tmp_path, embedder):
    """A fresh bot folder that reuses the session's embedder."""
    from chatforge.bot import Bot

    def make(profile: str = "general", name: str = "bot") -> Bot:
        folder = Bot.init(tmp_path / name, profile).folder
        return Bot(folder, embedder=embedder)

    return make


@pytest.fixture
def docs(tmp_path, monkeypatch) -> Path:
    """The sample documents, with the working directory at their root so paths stay relative."""
    root = write_docs(tmp_path / "corpus")
    monkeypatch.chdir(root)
    return root
