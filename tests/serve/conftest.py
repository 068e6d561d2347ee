"""Serve fixtures: a real bot over the sample documents with its default model and MiniLM."""

from __future__ import annotations

from pathlib import Path

import pytest
from servesupport import KEYS, LiveServer, ServeProcess
from support import DOCS, build_bot


@pytest.fixture(scope="session")
def serve_llm():
    from chatforge.config import Settings
    from chatforge.llm import open_llm

    return open_llm(Settings().llm.model, n_ctx=2048)


@pytest.fixture(scope="session")
def serve_bot_dir(tmp_path_factory, embedder) -> Path:
    """A general-profile bot folder over the sample documents, built once per session."""
    return build_bot(tmp_path_factory.mktemp("serve"), DOCS, embedder)


@pytest.fixture
def serve_bot(serve_bot_dir, embedder, serve_llm):
    """The shared bot with the session's models, answering greedily and briefly."""
    from chatforge.bot import Bot

    bot = Bot(serve_bot_dir, embedder=embedder, llm=serve_llm)
    bot.settings.llm.max_tokens = 16
    bot.settings.llm.temperature = 0.0
    yield bot
    bot.close()


@pytest.fixture(scope="session")
def live_server():
    """The LiveServer class, for tests that keep one server for a whole module."""
    return LiveServer


@pytest.fixture
def api_bot(serve_bot):
    """The shared bot with its default answering mode; no summaries between turns."""
    serve_bot.settings.memory.summarize_every = 0
    return serve_bot


@pytest.fixture
def start_server(api_bot):
    """Start live servers over `api_bot` with server settings changed first; stopped after."""
    servers: list[LiveServer] = []

    def start(**server_settings) -> LiveServer:
        for key, value in server_settings.items():
            setattr(api_bot.settings.server, key, value)
        live = LiveServer(api_bot)
        servers.append(live)
        return live

    yield start
    for live in servers:
        live.stop()


@pytest.fixture
def keyed_server(start_server) -> LiveServer:
    """A server with API keys for alice and bob (users) and root (admin)."""
    return start_server(api_keys=KEYS)


@pytest.fixture
def fresh_server(tmp_path, embedder, serve_llm, start_server):
    """A live server over a new, empty bot of its own (uploads do not touch the shared bot)."""
    from chatforge.bot import Bot

    def start(**server_settings) -> LiveServer:
        folder = Bot.init(tmp_path / f"bot{len(bots)}", "general").folder
        bot = Bot(folder, embedder=embedder, llm=serve_llm)
        bot.settings.llm.max_tokens = 16
        for key, value in server_settings.items():
            setattr(bot.settings.server, key, value)
        bots.append(bot)
        live = LiveServer(bot)
        servers.append(live)
        return live

    bots: list = []
    servers: list[LiveServer] = []
    yield start
    for live in servers:
        live.stop()
    for bot in bots:
        bot.close()


@pytest.fixture
def serve_process(tmp_path):
    """Start `chatforge serve` over a new bot folder with `CHATFORGE_*` settings; stopped after.

    Answers are kept a few tokens long so the tests spend their time on the requests."""
    from chatforge.bot import Bot

    started: list[ServeProcess] = []

    def start(**env: str) -> ServeProcess:
        folder = Bot.init(tmp_path / f"served{len(started)}", "general").folder
        short = {
            "CHATFORGE_LLM__MAX_TOKENS": "8",
            "CHATFORGE_MEMORY__SUMMARIZE_EVERY": "0",
        }
        started.append(
            ServeProcess(folder, {**short, **env}, tmp_path / f"serve{len(started)}.log")
        )
        return started[-1]

    yield start
    for served in started:
        served.stop()
