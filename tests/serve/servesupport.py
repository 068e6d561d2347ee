"""What the server tests share besides fixtures: a live server, the test keys, job polling.

A module of its own (not conftest.py), so test files import it by a name no other test folder
uses.
"""

from __future__ import annotations

from pathlib import Path

ALICE_KEY = "alice-key-0123456789"
BOB_KEY = "bob-key-0123456789ab"
ROOT_KEY = "root-key-0123456789a"
KEYS = [f"{ALICE_KEY}:alice", f"{BOB_KEY}:bob", f"{ROOT_KEY}:root:admin"]


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

    def __init__(
        self, folder: Path, env: dict[str, str], log: Path, args: tuple[str, ...] = ()
    ) -> None:
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
            [*command, "--port", str(port), *args],
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
