"""Limits and bad input: every case answers a 4xx with a JSON message saying what is wrong."""

from __future__ import annotations

import pytest

QUESTION = "How do I install the widget on Debian?"


def _chat_body(**overrides):
    return {
        "model": "default",
        "max_tokens": 4,
        "messages": [{"role": "user", "content": QUESTION}],
        **overrides,
    }


def _error(r, status: int, *words: str) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    message = r.json()["error"]["message"]
    for word in words:
        assert word in message, message
    return message


@pytest.fixture
def live(start_server):
    return start_server(max_body_kb=64, max_tokens=32, max_messages=5)


@pytest.fixture
def http(live):
    with live.client() as client:
        yield client


def test_a_body_over_the_limit_is_413_with_or_without_a_length(http):
    big = _chat_body(messages=[{"role": "user", "content": "x" * 100_000}])
    _error(http.post("/v1/chat/completions", json=big), 413, "larger than 64 KiB")

    def chunks():
        for _ in range(100):
            yield b"x" * 1024

    r = http.post(
        "/v1/chat/completions", content=chunks(), headers={"content-type": "application/json"}
    )
    _error(r, 413, "larger than")


def test_max_tokens_and_message_count_caps(http):
    _error(
        http.post("/v1/chat/completions", json=_chat_body(max_tokens=33)),
        400,
        "max_tokens 33",
        "server.max_tokens",
    )
    _error(
        http.post("/v1/chat/completions", json=_chat_body(max_completion_tokens=1000)),
        400,
        "cap of 32",
    )
    many = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}] * 3
    _error(
        http.post("/v1/chat/completions", json=_chat_body(messages=[*many, many[0]])),
        400,
        "7 messages",
        "server.max_messages",
    )


def test_malformed_json_and_wrong_types(http):
    r = http.post(
        "/v1/chat/completions",
        content=b'{"model": "default", "messages": [',
        headers={"content-type": "application/json"},
    )
    _error(r, 400, "not valid JSON")
    _error(http.post("/v1/chat/completions", json=_chat_body(messages="hi")), 400, "messages")
    _error(http.post("/v1/chat/completions", json=_chat_body(max_tokens="lots")), 400, "max_tokens")
    _error(http.post("/v1/chat/completions", json=_chat_body(temperature=5)), 400, "temperature")
    bad_role = _chat_body(messages=[{"role": "wizard", "content": "hi"}])
    _error(http.post("/v1/chat/completions", json=bad_role), 400, "messages[0].role")
    _error(http.post("/v1/chat/completions", json=_chat_body(messages=[])), 400, "messages")
    _error(http.post("/v1/chat/completions", json=[1, 2]), 400)
    _error(http.post("/api/search", json={"query": "x", "k": 0}), 400, "k")
    _error(http.post("/api/search", json={"query": "x", "oops": 1}), 400, "oops")
    _error(http.patch("/api/memory/abc", json={"text": "x"}), 400, "memory_id")
    _error(http.delete(f"/api/memory/{2**70}"), 400, "memory_id")


def test_bad_questions(http):
    last_is_answer = _chat_body(
        messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    )
    _error(http.post("/v1/chat/completions", json=last_is_answer), 400, "role `user`")
    empty = _chat_body(messages=[{"role": "user", "content": "   "}])
    _error(http.post("/v1/chat/completions", json=empty), 400, "empty")
    _error(http.post("/v1/chat/completions", json=_chat_body(n=2)), 400, "n")
    _error(http.post("/v1/embeddings", json={"model": "default", "input": []}), 400, "input")
    _error(http.post("/v1/embeddings", json={"model": "default", "input": [""]}), 400, "empty")


def test_unknown_ids_are_404(http):
    _error(http.get("/api/conversations/no-such-id"), 404, "no-such-id", "not found")
    _error(http.delete("/api/conversations/no-such-id"), 404, "not found")
    _error(http.get("/api/conversations/no-such-id/export"), 404, "not found")
    _error(http.get("/api/jobs/no-such-job"), 404, "no-such-job")
    _error(http.delete("/api/documents/999999"), 404, "999999")
    _error(http.patch("/api/memory/999999", json={"text": "x"}), 404, "999999")
    unknown = _chat_body(chatforge={"conversation_id": "no-such-id"})
    _error(http.post("/v1/chat/completions", json=unknown), 404, "no-such-id")
    _error(http.get("/api/nothing-here"), 404, "/api/nothing-here")
    _error(http.put("/api/search", json={}), 405, "PUT")


def test_a_full_queue_is_503_with_retry_after(start_server):
    live = start_server(max_queue=0)
    with live.client() as http:
        r = http.post("/v1/chat/completions", json=_chat_body())
    _error(r, 503, "busy")
    assert int(r.headers["retry-after"]) > 0


# -- uploads ---------------------------------------------------------------------------------

NOTE = b"# Note\n\nThe staging server reboots every Sunday at 03:00.\n"


@pytest.fixture
def uploads(fresh_server):
    live = fresh_server(max_upload_mb=0.05, upload_types=[".md", ".txt"])
    with live.client() as client:
        yield live, client


def test_upload_size_and_type_limits(uploads):
    live, http = uploads
    big = b"# Big\n\n" + b"word " * 20_000
    _error(http.post("/api/documents", files={"files": ("big.md", big)}), 413, "larger than")
    _error(http.post("/api/documents", files={"files": ("tool.exe", b"MZ")}), 415, ".exe", ".md")
    _error(http.post("/api/documents", files={"files": ("empty.md", b"")}), 400, "empty")
    _error(http.post("/api/documents", data={"x": "1"}), 400, "files")
    assert not (live.bot.folder / "uploads" / "local").exists() or not any(
        (live.bot.folder / "uploads" / "local").iterdir()
    )


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("../../etc/passwd.md", "passwd.md"),
        ("/etc/cron.d/evil.md", "evil.md"),
        ("..\\..\\windows\\win.md", "win.md"),
        ("we<ird>|na*me?.md", "we_ird_na_me_.md"),
    ],
)
def test_upload_names_lose_their_folders(uploads, name, stored):
    live, http = uploads
    r = http.post("/api/documents", files={"files": (name, NOTE)})
    assert r.status_code == 202, r.text
    folder = live.bot.folder / "uploads" / "local"
    assert r.json()["files"] == [f"local/{stored}"]
    assert (folder / stored).read_bytes() == NOTE
    assert [p.name for p in folder.iterdir()] == [stored]


def test_upload_names_with_nul_bytes_are_refused(uploads):
    live, http = uploads
    # httpx would escape the name, so the multipart body is written by hand.
    body = (
        b'--b\r\nContent-Disposition: form-data; name="files"; filename="a\x00.md"\r\n'
        b"Content-Type: text/markdown\r\n\r\n" + NOTE + b"\r\n--b--\r\n"
    )
    r = http.post(
        "/api/documents", content=body, headers={"content-type": "multipart/form-data; boundary=b"}
    )
    _error(r, 400, "NUL")
    assert not (live.bot.folder / "uploads").exists()
