"""Limits shared by the server's processes: sign-in backoff, per-key rate, answers per user.

The Limiter tests run on a real SQLite file, with a second Limiter or a second process standing
for another server worker. Their clock is a variable the test moves, so that waits of minutes
are checked without waiting; the server tests use the real clock.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
from servesupport import ALICE_KEY, BOB_KEY, KEYS

from chatforge.serve.ratelimit import FORGET_S, FREE_TRIES, Limiter
from chatforge.store.migrations import applied_migrations

QUESTIONS = ["Where do red kites nest?", "Où nichent les milans royaux ?"]


def _chat(question: str) -> dict:
    return {
        "model": "default",
        "max_tokens": 4,
        "messages": [{"role": "user", "content": question}],
    }


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "chatforge.db"


def _other_process(db_path, code: str) -> None:
    """Run `code` with `limiter` open on the same file, in another Python process."""
    script = f"from chatforge.serve.ratelimit import Limiter\nlimiter = Limiter({str(db_path)!r}, "
    script += f"rate_per_minute=3, backoff_max_s=60)\n{code}\n"
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)


def test_wrong_keys_wait_longer_each_time_up_to_the_cap(db_path):
    clock = Clock()
    limiter = Limiter(db_path, backoff_max_s=10, clock=clock)
    waits = []
    for _ in range(FREE_TRIES + 5):
        limiter.signin_failed("10.0.0.1")
        waits.append(limiter.signin_wait("10.0.0.1"))
    assert waits == [0, 0, 1, 2, 4, 8, 10, 10]
    assert limiter.signin_wait("10.0.0.2") == 0  # per address
    clock.now += 4
    assert limiter.signin_wait("10.0.0.1") == 6
    limiter.signin_ok("10.0.0.1")
    assert limiter.signin_wait("10.0.0.1") == 0
    for _ in range(FREE_TRIES):
        limiter.signin_failed("10.0.0.3")
    clock.now += FORGET_S + 1
    limiter.signin_failed("10.0.0.3")  # the old failures were forgotten: a first one again
    assert limiter.signin_wait("10.0.0.3") == 0


def test_no_wait_when_backoff_is_off(db_path):
    limiter = Limiter(db_path, backoff_max_s=0)
    for _ in range(FREE_TRIES + 3):
        limiter.signin_failed("10.0.0.1")
    assert limiter.signin_wait("10.0.0.1") == 0


def test_a_key_gets_a_minutes_worth_then_waits_for_its_bucket_to_refill(db_path):
    clock = Clock()
    limiter = Limiter(db_path, rate_per_minute=3, clock=clock)
    assert [limiter.request_wait("k1") for _ in range(3)] == [0, 0, 0]
    assert limiter.request_wait("k1") == pytest.approx(20)
    assert limiter.request_wait("k2") == 0
    clock.now += 20
    assert limiter.request_wait("k1") == 0
    assert limiter.request_wait("k1") == pytest.approx(20)
    assert Limiter(db_path, rate_per_minute=0).request_wait("k1") == 0  # 0 = no limit


def test_counts_are_shared_with_other_processes(db_path):
    limiter = Limiter(db_path, rate_per_minute=3, backoff_max_s=60)
    _other_process(db_path, "for _ in range(5): limiter.signin_failed('10.0.0.9')")
    assert limiter.signin_wait("10.0.0.9") > 0
    _other_process(db_path, "assert [limiter.request_wait('k') for _ in range(3)] == [0, 0, 0]")
    assert limiter.request_wait("k") > 0
    assert limiter.answer_started("alice", 1) is not None
    _other_process(db_path, "assert limiter.answer_started('alice', 1) is None")


def test_answer_slots_per_user_and_rows_of_dead_processes(db_path):
    limiter = Limiter(db_path)
    first, second = limiter.answer_started("alice", 2), limiter.answer_started("alice", 2)
    assert first and second and limiter.answer_started("alice", 2) is None
    assert Limiter(db_path).answer_started("alice", 2) is None  # another worker sees them too
    assert limiter.answer_started("bob", 2) is not None
    limiter.answer_ended(first)
    assert limiter.answer_started("alice", 2) is not None
    # A worker that dies with an answer in progress leaves a row its pid no longer backs.
    _other_process(db_path, "assert limiter.answer_started('carol', 1)")
    assert limiter.answers_in_progress("carol") == 1
    assert limiter.answer_started("carol", 1) is not None


def test_the_tables_live_in_the_bots_sqlite_file(make_bot):
    bot = make_bot()
    limiter = Limiter.for_store(bot.store.db)
    Limiter.for_store(bot.store.db).close()  # a second process's limiter migrates nothing
    names = {r[0] for r in bot.store.db.execute("SELECT name FROM sqlite_master")}
    assert {"limit_signin", "limit_rate", "limit_answers"} <= names
    applied = [(m.namespace, m.name) for m in applied_migrations(bot.store.db)]
    assert applied.count(("ratelimit", "m001_limit_tables")) == 1
    with sqlite3.connect(bot.folder / "data" / "chatforge.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    limiter.close()
    bot.close()


# -- through the server ----------------------------------------------------------------------
def test_wrong_keys_from_one_address_back_off(fresh_server):
    live = fresh_server(api_keys=KEYS)
    with live.client() as http:
        for i in range(3):
            bad = {"Authorization": f"Bearer wrong-key-0123456789-{i}"}
            assert http.get("/v1/models", headers=bad).status_code == 401
        r = http.get("/v1/models", headers={"Authorization": "Bearer wrong-key-0123456789-3"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert "server.auth_backoff_max_s" in r.json()["error"]["message"]
        # While it waits, no key is even compared: a right guess would tell it nothing.
        r = http.get("/v1/models", headers={"Authorization": f"Bearer {ALICE_KEY}"})
        assert r.status_code == 429
        time.sleep(int(r.headers["retry-after"]))
        assert http.get("/v1/models", headers={"Authorization": f"Bearer {ALICE_KEY}"}).is_success
        assert http.get("/health").status_code == 200  # never locked


def test_one_key_is_held_to_its_rate(fresh_server):
    live = fresh_server(api_keys=KEYS, rate_limit_per_minute=3)
    with live.client(ALICE_KEY) as alice, live.client(BOB_KEY) as bob:
        assert [alice.get("/api/memory").status_code for _ in range(3)] == [200] * 3
        r = alice.get("/api/memory")
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert "server.rate_limit_per_minute" in r.json()["error"]["message"]
        assert bob.get("/api/memory").status_code == 200


@contextlib.contextmanager
def _held_at_retrieval(live, alices_answer: threading.Thread):
    """Start Alice's answer and keep it at its retrieval step (so it stays in progress however
    fast the model is) until the block ends."""
    with live.app.state.runner.retrieval:
        alices_answer.start()
        deadline = time.monotonic() + 60
        while live.app.state.limiter.answers_in_progress("alice") == 0:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        yield


def test_one_key_cannot_fill_the_answer_queue(fresh_server):
    """While Alice's first answer is held, her second is refused and Bob's is taken."""
    live = fresh_server(api_keys=KEYS, max_queue_per_user=1, parallel=1)
    results: dict[str, int] = {}

    def ask(name: str, key: str) -> None:
        with live.client(key) as http:
            results[name] = http.post("/v1/chat/completions", json=_chat(QUESTIONS[0])).status_code

    first = threading.Thread(target=ask, args=("alice-1", ALICE_KEY))
    third = threading.Thread(target=ask, args=("bob", BOB_KEY))
    with _held_at_retrieval(live, first):
        with live.client(ALICE_KEY) as alice:
            r = alice.post("/v1/chat/completions", json=_chat(QUESTIONS[1]))
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0, r.text
        assert "server.max_queue_per_user" in r.json()["error"]["message"]
        third.start()
    first.join(120)
    third.join(120)
    assert results == {"alice-1": 200, "bob": 200}
    assert live.app.state.limiter.answers_in_progress("alice") == 0


TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "the weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def test_function_calls_take_their_turn_in_the_same_queue(fresh_server):
    """A client's function call is written by the same model as the answers, so it waits in
    their queue and counts against its user's share: held behind Alice's answer, her call is
    refused as a second answer would be; alone, it is written and counted in /metrics."""
    live = fresh_server(api_keys=KEYS, max_queue_per_user=1, parallel=1)
    runner = live.app.state.runner
    call = {
        **_chat("Quel temps fait-il à Lyon ?"),
        "tools": [TOOL],
        "tool_choice": "required",
        "max_tokens": 48,
    }
    held = threading.Thread(
        target=lambda: live.client(ALICE_KEY).post("/v1/chat/completions", json=_chat(QUESTIONS[0]))
    )
    with _held_at_retrieval(live, held):
        with live.client(ALICE_KEY) as alice:
            r = alice.post("/v1/chat/completions", json=call)
        assert r.status_code == 429 and "server.max_queue_per_user" in r.text, r.text
    held.join(120)
    done = runner.stats.completed
    with live.client(BOB_KEY) as bob:
        r = bob.post("/v1/chat/completions", json={**call, "messages": [
            {"role": "user", "content": "What is the weather in Lyon?"}]})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert runner.stats.completed == done + 1 and runner.stats.waiting == runner.stats.running == 0
    assert live.app.state.limiter.answers_in_progress("bob") == 0
