"""Many clients at once, a client that leaves mid-answer, and ingestion beside answering."""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from servesupport import wait_for_job
from support import DOCS

QUESTION = "How do I install the widget on Debian?"


def _body(**extra):
    return {
        "model": "default",
        "max_tokens": 6,
        "messages": [{"role": "user", "content": QUESTION}],
        **extra,
    }


def _wait(condition, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_concurrent_streaming_clients_all_get_whole_answers(start_server):
    live = start_server()

    def one(i: int) -> tuple[str, str]:
        body = _body(stream=True, user=f"c{i}")
        with (
            httpx.Client(base_url=live.url, timeout=120) as http,
            http.stream("POST", "/v1/chat/completions", json=body) as r,
        ):
            lines = [line for line in r.iter_lines() if line.startswith("data: ")]
        return lines[0], lines[-1]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(one, range(4)))
    for first, last in results:
        assert '"role": "assistant"' in first and last == "data: [DONE]"
    assert live.app.state.runner.stats.completed == 4


def _events(r: httpx.Response):
    return (line for line in r.iter_lines() if line)


def test_a_client_that_disconnects_cancels_its_answer(start_server, api_bot):
    live = start_server()
    runner = live.app.state.runner
    body = _body(stream=True, max_tokens=512, user="leaver")
    with (
        httpx.Client(base_url=live.url, timeout=120) as http,
        http.stream("POST", "/v1/chat/completions", json=body) as r,
    ):
        events = _events(r)
        assert '"role": "assistant"' in next(events)
        assert '"content"' in next(events)  # a first piece of text, then the client leaves
    assert _wait(lambda: runner.stats.cancelled == 1), runner.stats
    assert runner.stats.completed == 0
    conversation = api_bot.conversations.list("leaver")[0]
    stored = api_bot.conversations.messages(conversation.id, "leaver")[-1]
    assert stored.interrupted and stored.completion_tokens < 512


def test_a_non_streaming_client_that_left_while_queued_is_cancelled(start_server, api_bot):
    """The answer waits behind another, which the test holds at its retrieval step (so the wait
    does not depend on how long the model talks); its client gives up before it starts. One
    answer at a time (server.parallel 1), so the second one queues."""
    live = start_server(parallel=1)
    runner = live.app.state.runner
    with httpx.Client(base_url=live.url, timeout=120) as http:
        first = threading.Thread(
            target=http.post, args=("/v1/chat/completions",), kwargs={"json": _body(user="first")}
        )
        with runner.retrieval:
            first.start()
            assert _wait(lambda: runner.stats.running == 1), runner.stats
            with (
                httpx.Client(base_url=live.url, timeout=1.0) as impatient,
                contextlib.suppress(httpx.TimeoutException),
            ):
                impatient.post("/v1/chat/completions", json=_body(user="impatient", max_tokens=256))
            assert runner.stats.waiting == 1
        first.join(120)
    assert _wait(lambda: runner.stats.cancelled == 1), runner.stats
    convo = api_bot.conversations.list("impatient")[0]
    assert convo.turns == 1  # stored, marked interrupted
    assert api_bot.conversations.messages(convo.id, "impatient")[-1].interrupted


def test_ingesting_while_answering_never_fails_a_request(fresh_server):
    """Uploads that replace a file's chunks run while answers and searches read them."""
    live = fresh_server()
    errors: list[str] = []
    stop = threading.Event()
    with live.client() as http:
        files = [("files", (name.replace("/", "-"), text.encode())) for name, text in DOCS.items()]
        job = http.post("/api/documents", files=files).json()["job"]
        assert wait_for_job(http, job["id"])["status"] == "done"

        def read() -> None:
            with live.client() as reader:
                while not stop.is_set():
                    for r in (
                        reader.post("/api/search", json={"query": "widget port install"}),
                        reader.post("/v1/chat/completions", json=_body(max_tokens=2)),
                    ):
                        if r.status_code != 200:
                            errors.append(f"{r.status_code} {r.text}")

        readers = [threading.Thread(target=read) for _ in range(2)]
        for t in readers:
            t.start()
        try:
            for round_ in range(4):
                text = DOCS["guide/install.md"] + f"\nRevision {round_}: " + "more words " * 40
                r = http.post("/api/documents", files={"files": ("guide-install.md", text)})
                assert wait_for_job(http, r.json()["job"]["id"])["status"] == "done"
        finally:
            stop.set()
            for t in readers:
                t.join()
        hits = http.post("/api/search", json={"query": "Revision 3"}).json()
    assert errors == []
    assert any("Revision 3" in h["text"] for h in hits)
