"""API keys: 401 without a valid key, 403 for what a user key may not do, users kept apart."""

from __future__ import annotations

import logging

import openai
import pytest
from servesupport import ALICE_KEY, BOB_KEY, ROOT_KEY

from chatforge.serve.server import local_only_warning

QUESTION = "How do I install the widget on Debian?"


def _chat(live, key: str, **extra):
    client = openai.OpenAI(base_url=live.url + "/v1", api_key=key, max_retries=0)
    return client.chat.completions.create(
        model="default", messages=[{"role": "user", "content": QUESTION}], max_tokens=4, **extra
    )


@pytest.mark.parametrize("path", ["/v1/models", "/api/conversations", "/api/documents"])
def test_a_missing_or_wrong_key_is_401(keyed_server, path):
    with keyed_server.client() as http:
        r = http.get(path)
        assert r.status_code == 401 and r.json()["error"]["code"] == "missing_api_key"
        assert r.headers["www-authenticate"] == "Bearer"
    with keyed_server.client(ALICE_KEY + "-but-wrong") as http:
        r = http.get(path)
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    with keyed_server.client(ALICE_KEY) as http:
        assert http.get(path).status_code == 200


def test_the_openai_package_sees_an_authentication_error(keyed_server):
    with pytest.raises(openai.AuthenticationError, match="invalid API key"):
        _chat(keyed_server, "nope")


def test_health_and_metrics_need_no_key(keyed_server):
    with keyed_server.client() as http:
        assert http.get("/health").json()["auth"] == "api_keys"
        assert http.get("/metrics").status_code == 200


def test_user_keys_cannot_manage_documents(keyed_server):
    files = {"files": ("a.md", b"# A\n\nSome text.\n", "text/markdown")}
    with keyed_server.client(BOB_KEY) as http:
        r = http.post("/api/documents", files=files)
        assert r.status_code == 403 and "admin key" in r.json()["error"]["message"]
        assert http.delete("/api/documents/1").status_code == 403
        assert http.get("/api/documents").status_code == 200  # reading is for everyone


def test_users_see_only_their_own_conversations(keyed_server):
    cid = _chat(keyed_server, ALICE_KEY).model_extra["chatforge"]["conversation_id"]
    with keyed_server.client(ALICE_KEY) as alice, keyed_server.client(BOB_KEY) as bob:
        assert cid in [c["id"] for c in alice.get("/api/conversations").json()]
        assert cid not in [c["id"] for c in bob.get("/api/conversations").json()]
        for r in (
            bob.get(f"/api/conversations/{cid}"),
            bob.get(f"/api/conversations/{cid}/export"),
            bob.delete(f"/api/conversations/{cid}"),
        ):
            assert (
                r.status_code == 404 and "not found for user 'bob'" in r.json()["error"]["message"]
            )
        r = bob.post(
            "/v1/chat/completions",
            json={
                "model": "default",
                "max_tokens": 4,
                "messages": [{"role": "user", "content": QUESTION}],
                "chatforge": {"conversation_id": cid},
            },
        )
        assert r.status_code == 404
        assert alice.get(f"/api/conversations/{cid}").status_code == 200


def test_a_user_key_cannot_act_for_another_user_but_an_admin_key_can(keyed_server, api_bot):
    with pytest.raises(openai.PermissionDeniedError, match="its own user"):
        _chat(keyed_server, BOB_KEY, user="alice")
    assert _chat(keyed_server, BOB_KEY, user="bob").choices[0].message.content is not None
    cid = _chat(keyed_server, ROOT_KEY, user="dave").model_extra["chatforge"]["conversation_id"]
    assert api_bot.conversations.get(cid, "dave").user_id == "dave"


def test_users_see_only_their_own_memories(keyed_server):
    with keyed_server.client(ALICE_KEY) as alice, keyed_server.client(BOB_KEY) as bob:
        mid = alice.post("/api/memory", json={"text": "My cat is called Miso"}).json()["id"]
        assert mid not in [m["id"] for m in bob.get("/api/memory").json()]
        found = bob.post("/api/memory/search", json={"query": "what is my cat called"}).json()
        assert mid not in [m["id"] for m in found]
        assert bob.patch(f"/api/memory/{mid}", json={"text": "hijacked"}).status_code == 404
        assert bob.delete(f"/api/memory/{mid}").status_code == 404
        assert alice.get("/api/memory").json()[-1]["text"] == "My cat is called Miso"
        assert alice.delete(f"/api/memory/{mid}").status_code == 204


def test_keys_never_reach_the_log_or_the_responses(keyed_server, caplog):
    caplog.set_level(logging.DEBUG)
    seen = []
    for key in (ALICE_KEY, ALICE_KEY + "-guess", ROOT_KEY):
        with keyed_server.client(key) as http:
            seen += [http.get("/v1/models").text, http.get("/api/conversations/x").text]
    _chat(keyed_server, ALICE_KEY)
    for secret in (ALICE_KEY, ROOT_KEY, BOB_KEY):
        assert secret not in caplog.text
        assert not any(secret in body for body in seen)


def test_no_keys_means_local_only_and_a_warning_off_loopback():
    assert local_only_warning("127.0.0.1", []) is None
    assert local_only_warning("::1", []) is None
    assert local_only_warning("localhost", []) is None
    assert local_only_warning("0.0.0.0", ["k:alice"]) is None
    warning = local_only_warning("0.0.0.0", [])
    assert warning and "no API keys" in warning and "server.api_keys" in warning
