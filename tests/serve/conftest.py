"""Serve fixtures: a real bot over the sample documents with the real SmolLM2 and MiniLM."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import DOCS, build_bot


@pytest.fixture(scope="session")
def serve_llm():
    from chatforge.llm import open_llm

    return open_llm("smollm2", n_ctx=2048)


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


class LiveServer:
    """A real uvicorn server on a free loopback port, running `create_app(bot)` in a thread."""

    def __init__(self, bot, ui: bool = False) -> None:
        import socket
        import threading

        import uvicorn

        from chatforge.serve.app import create_app

        self.bot = bot
        self.app = create_app(bot, ui=ui)
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        config = uvicorn.Config(self.app, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )
        self._thread.start()
        import time

        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)

    def client(self, key: str | None = None, **kwargs):
        import httpx

        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=30)
        self._sock.close()


@pytest.fixture(scope="session")
def live_server():
    """The LiveServer class, for tests that keep one server for a whole module."""
    return LiveServer


@pytest.fixture
def api_bot(serve_bot):
    """The shared bot, answering with the model (not by quoting) so answers stream tokens."""
    serve_bot.settings.chat.mode = "generate"
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


ALICE_KEY = "alice-key-0123456789"
BOB_KEY = "bob-key-0123456789ab"
ROOT_KEY = "root-key-0123456789a"
KEYS = [f"{ALICE_KEY}:alice", f"{BOB_KEY}:bob", f"{ROOT_KEY}:root:admin"]


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
        bot.settings.chat.mode = "generate"
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


def wait_for_job(client, job_id: str, timeout: float = 120) -> dict:
    """Poll GET /api/jobs/{id} until the job is done or failed."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] in ("done", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


class ServeProcess:
    """The real `chatforge serve` command in its own process: for what must be measured on the
    server alone (its memory) or seen only from outside, as a client sees it."""

    def __init__(self, folder: Path, env: dict[str, str], log: Path) -> None:
        import os
        import socket
        import subprocess
        import sys
        import time

        import httpx

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.folder = folder
        self.url = f"http://127.0.0.1:{port}"
        self._log = log.open("w")
        command = [sys.executable, "-m", "chatforge", "serve", "--bot", str(folder)]
        self.proc = subprocess.Popen(
            [*command, "--port", str(port)],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        deadline = time.monotonic() + 240
        while True:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"chatforge serve did not start: {log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.25)

    def client(self, key: str | None = None, **kwargs):
        import httpx

        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)

    def stop(self) -> None:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(60)
        self._log.close()


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
            "CHATFORGE_CHAT__MODE": "generate",
            "CHATFORGE_MEMORY__SUMMARIZE_EVERY": "0",
        }
        started.append(
            ServeProcess(folder, {**short, **env}, tmp_path / f"serve{len(started)}.log")
        )
        return started[-1]

    yield start
    for served in started:
        served.stop()
