"""Serve fixtures: a real bot over the sample documents with the real SmolLM2 and MiniLM."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from support import DOCS


@pytest.fixture(scope="session")
def serve_llm():
    from chatforge.llm import open_llm

    return open_llm("smollm2", n_ctx=2048)


@pytest.fixture(scope="session")
def serve_bot_dir(tmp_path_factory, embedder) -> Path:
    """A general-profile bot folder over the sample documents, built once per session."""
    from chatforge.bot import Bot

    root = tmp_path_factory.mktemp("serve")
    for rel, text in DOCS.items():
        path = root / "corpus" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    bot = Bot.init(root / "bot", "general")
    bot.__dict__["embedder"] = embedder
    with contextlib.chdir(root / "corpus"):
        bot.ingest(["."])
    bot.close()
    return root / "bot"


@pytest.fixture
def serve_bot(serve_bot_dir, embedder, serve_llm):
    """The shared bot with the session's models, answering greedily and briefly."""
    from chatforge.bot import Bot

    bot = Bot(serve_bot_dir)
    bot.__dict__["embedder"] = embedder
    bot.__dict__["llm"] = serve_llm
    bot.settings.llm.max_tokens = 16
    bot.settings.llm.temperature = 0.0
    yield bot
    bot.close()
