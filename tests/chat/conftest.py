"""Chat fixtures: the real built-in SmolLM2 (llama.cpp), the real MiniLM, a real bot folder.

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
    from chatforge.llm import open_llm

    return open_llm("smollm2", n_ctx=2048)


@pytest.fixture(scope="session")
def tiny_llm():
    """A 512-token window, so budgets bite with a handful of passages."""
    from chatforge.llm import open_llm

    return open_llm("smollm2", n_ctx=512)


@pytest.fixture(scope="session")
def bot_dir(tmp_path_factory, embedder) -> Path:
    """A general-profile bot over the sample documents (paths relative to the corpus)."""
    return build_bot(tmp_path_factory.mktemp("chat"), CORPUS, embedder)


@pytest.fixture
def bot(bot_dir, embedder, llm):
    """The shared bot, answering greedily and briefly with the session's models.

    The model always writes (`chat.mode: generate`), whatever the default model would pick.
    """
    from chatforge.bot import Bot

    b = Bot(bot_dir, embedder=embedder, llm=llm)
    b.settings.llm.max_tokens = 16
    b.settings.llm.temperature = 0.0
    b.settings.chat.mode = "generate"
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
            "CHATFORGE_LLM__MODEL": "smollm2",
            "CHATFORGE_CHAT__MODE": "generate",
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
