"""Chat fixtures: the bot's default model (llama.cpp), the real MiniLM, a real bot folder.

Models load once per session; the documents are ingested once into a shared bot, and each test
that writes conversations or memories uses its own user ids, which is also what isolates them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import DOCS, build_bot

CORPUS = {path: text for path, text in DOCS.items() if path != "faq.csv"}


@pytest.fixture(scope="session")
def llm():
    """The model a new bot answers with (`llm.model`'s default)."""
    from chatforge.config import Settings
    from chatforge.llm import open_llm

    return open_llm(Settings().llm.model, n_ctx=2048)


@pytest.fixture(scope="session")
def tiny_llm():
    """A 512-token window, so budgets bite with a handful of passages (the smallest built-in:
    these tests count tokens and never generate)."""
    from chatforge.llm import open_llm

    return open_llm("smollm2", n_ctx=512)


@pytest.fixture(scope="session")
def bot_dir(tmp_path_factory, embedder) -> Path:
    """A general-profile bot over the sample documents (paths relative to the corpus)."""
    return build_bot(tmp_path_factory.mktemp("chat"), CORPUS, embedder)


@pytest.fixture
def bot(bot_dir, embedder, llm):
    """The shared bot with its default settings, answering greedily and briefly."""
    from chatforge.bot import Bot

    b = Bot(bot_dir, embedder=embedder, llm=llm)
    b.settings.llm.max_tokens = 16
    b.settings.llm.temperature = 0.0
    yield b
    b.close()


@pytest.fixture
def run_cli():
    """Run the real `chatforge` command in a subprocess, greedy and brief."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        full = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "CHATFORGE_LLM__MAX_TOKENS": "8",
            "CHATFORGE_LLM__TEMPERATURE": "0",
            **(env or {}),
        }
        return subprocess.run(
            [sys.executable, "-m", "chatforge", *args],
            env=full,
            capture_output=True,
            text=True,
            timeout=300,
        )

    return run
