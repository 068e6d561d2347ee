"""`chatforge serve`: the real command starts, answers over HTTP and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx

from chatforge.config import Settings

KEY = "cli-key-0123456789ab"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_starts_answers_and_stops_on_ctrl_c(serve_bot_dir, tmp_path):
    port = _free_port()
    env = {**os.environ, "CHATFORGE_SERVER__API_KEYS": f'["{KEY}:ann"]'}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chatforge",
            "serve",
            "--bot",
            str(serve_bot_dir),
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.5)
        headers = {"Authorization": f"Bearer {KEY}"}
        models = httpx.get(url + "/v1/models", headers=headers, timeout=30).json()
        assert models["data"][0]["id"] == Settings().llm.model
        r = httpx.get(url + "/v1/models", timeout=30)
        assert r.status_code == 401 and "server" not in r.headers  # no server software named
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"at {url}" in err
    assert KEY not in out + err


def test_serve_without_a_bot_folder_is_one_clear_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "chatforge", "serve", "--bot", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "chatforge init" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_serve_refuses_a_short_key_in_one_line(serve_bot_dir):
    env = {**os.environ, "CHATFORGE_SERVER__API_KEYS": '["abc:ann"]'}
    proc = subprocess.run(
        [sys.executable, "-m", "chatforge", "serve", "--bot", str(serve_bot_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1
    assert "server.api_keys" in proc.stderr and "16 characters" in proc.stderr
    assert "abc" not in proc.stderr
