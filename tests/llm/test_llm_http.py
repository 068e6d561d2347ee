"""The OpenAI-compatible client against a real server: llama-cpp-python's, on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest

from chatforge.errors import ModelError
from chatforge.llm import GenOptions, list_models, open_llm
from chatforge.llm.openai_http import OpenAIHTTPLLM, api_base
from chatforge.models import resolve_builtin

CHAT = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]
STORY = [{"role": "user", "content": "Write a long story about a dragon who learns to cook."}]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    pytest.importorskip("uvicorn", reason="needs llama-cpp-python[server]")
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(resolve_builtin("smollm2")),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--model_alias",
        "smollm2",
        "--verbose",
        "false",
    ]
    log = tmp_path_factory.mktemp("server") / "server.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/v1/models", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("llama_cpp.server did not start within 120 s")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def remote(server):
    return open_llm(server, remote_model="smollm2")


def test_api_base_accepts_the_usual_spellings():
    assert api_base("http://h:8000") == "http://h:8000/v1"
    assert api_base("http://h:8000/v1/") == "http://h:8000/v1"
    assert api_base("http://h:8000/v1/chat/completions") == "http://h:8000/v1"


def test_generate_matches_local_llama_cpp(remote, smollm2_cpp):
    """Same GGUF, same template, greedy: the server must answer what the local backend does."""
    assert isinstance(remote, OpenAIHTTPLLM)
    g = remote.generate(CHAT, GenOptions(max_tokens=24))
    assert g.text == smollm2_cpp.generate(CHAT, GenOptions(max_tokens=24)).text
    assert g.prompt_tokens == smollm2_cpp.count_chat_tokens(CHAT)
    assert 1 <= g.completion_tokens <= 24


def _same_cache_state(remote, messages, max_tokens):
    """Ask once so the next requests for ``messages`` meet the same server KV cache.

    llama-cpp-python's server reuses the previous prompt's KV cache, and evaluating a prompt
    partly from cache changes the last bits of the logits (enough to change even greedy
    text on a 135M model). After one full request for the same prompt, the following ones
    reuse the same prefix and are computed the same way.
    """
    remote.generate(messages, GenOptions(max_tokens=max_tokens))


def test_stream_joins_to_generate(remote):
    _same_cache_state(remote, STORY, 20)
    g = remote.generate(STORY, GenOptions(max_tokens=20))
    stream = remote.stream(STORY, GenOptions(max_tokens=20))
    pieces = list(stream)
    assert len(pieces) > 1
    assert "".join(pieces) == g.text
    assert stream.generation is not None
    assert stream.generation.text == g.text
    assert 1 <= stream.generation.completion_tokens <= 20


def test_stop_and_max_tokens_reach_the_server(remote):
    _same_cache_state(remote, STORY, 30)
    full = remote.generate(STORY, GenOptions(max_tokens=30)).text
    stop = full.split()[3]
    assert (
        remote.generate(STORY, GenOptions(max_tokens=30, stop=[stop])).text
        == full[: full.index(stop)]
    )
    short = remote.generate(STORY, GenOptions(max_tokens=4))
    assert short.completion_tokens <= 4
    assert short.finish_reason == "length"


def test_closing_the_stream_early(remote):
    with remote.stream(STORY, GenOptions(max_tokens=200)) as stream:
        first = next(stream)
    assert first
    assert stream.generation is None
    assert remote.generate(CHAT, GenOptions(max_tokens=4)).text


def test_unreachable_server_is_one_clear_model_error():
    llm = OpenAIHTTPLLM(f"http://127.0.0.1:{_free_port()}", retries=2)
    with pytest.raises(
        ModelError,
        match=r"cannot reach http://127\.0\.0\.1:\d+/v1: "
        r"connection refused; start the server or fix llm\.model",
    ):
        llm.generate(CHAT, GenOptions(max_tokens=4))
    with pytest.raises(ModelError, match="cannot reach"):
        list(llm.stream(CHAT, GenOptions(max_tokens=4)))


def test_list_models_reports_the_server(server):
    rows = {r["name"]: r for r in list_models(server)}
    assert rows[server]["loads"] and rows[server]["configured"]
