"""The native API: uploads ingested in the background, search, conversations, memory, metrics."""

from __future__ import annotations

import re

import openai
import pytest
from servesupport import wait_for_job

KITES = b"# Kites\n\nRed kites nest in tall beech trees and feed on carrion in open fields.\n"


def test_an_upload_is_ingested_in_the_background_then_searchable_and_deletable(fresh_server):
    live = fresh_server()
    with live.client() as http:
        r = http.post("/api/documents", files=[("files", ("birds.md", KITES, "text/markdown"))])
        assert r.status_code == 202, r.text
        body = r.json()
        assert r.headers["location"] == f"/api/jobs/{body['job']['id']}"
        assert body["job"]["status"] in ("queued", "running", "done")
        stored = live.bot.folder / "uploads" / "local" / "birds.md"
        assert body["files"] == ["local/birds.md"]  # never the server's absolute path
        assert stored.read_bytes() == KITES

        job = wait_for_job(http, body["job"]["id"])
        assert job["status"] == "done" and job["progress"] == 1.0, job
        assert job["report"]["totals"]["ingested"] == 1

        docs = http.get("/api/documents").json()
        assert [d["path"] for d in docs] == ["local/birds.md"]
        hits = http.post("/api/search", json={"query": "where do red kites nest", "k": 3}).json()
        assert hits[0]["source"] == "local/birds.md" and "beech" in hits[0]["text"]

        r = http.delete(f"/api/documents/{docs[0]['id']}")
        assert r.status_code == 200 and r.json() == {"deleted": "local/birds.md", "documents": 1}
        assert http.get("/api/documents").json() == []
        assert http.post("/api/search", json={"query": "red kites"}).json() == []
        assert not stored.exists()
        r = http.delete(f"/api/documents/{docs[0]['id']}")
        assert r.status_code == 404 and "not found" in r.json()["error"]["message"]


def test_a_file_that_cannot_be_read_fails_its_job_with_the_reason(fresh_server):
    live = fresh_server()
    with live.client() as http:
        r = http.post("/api/documents", files={"files": ("broken.pdf", b"%PDF-1.4 not really")})
        job = wait_for_job(http, r.json()["job"]["id"])
    assert job["status"] == "failed" and "broken.pdf" in job["message"]


def test_conversations_list_get_export_delete(start_server, api_bot):
    live = start_server()
    client = openai.OpenAI(base_url=live.url + "/v1", api_key="x", max_retries=0)
    reply = client.chat.completions.create(
        model="default",
        messages=[{"role": "user", "content": "What port does the widget daemon use?"}],
        max_tokens=6,
        user="carol",
    )
    cid = reply.model_extra["chatforge"]["conversation_id"]
    # Continue it server-side: only the new question is sent.
    client.chat.completions.create(
        model="default",
        messages=[{"role": "user", "content": "How do I change it?"}],
        max_tokens=6,
        user="carol",
        extra_body={"chatforge": {"conversation_id": cid}},
    )
    with live.client() as http:
        # In local-only mode every request is the admin user `local`.
        assert cid not in [c["id"] for c in http.get("/api/conversations").json()]
    convs = api_bot.conversations.list("carol")
    assert convs[0].id == cid and convs[0].turns == 2

    with live.client() as http:
        r = http.post(
            "/v1/chat/completions",
            json={
                "model": "default",
                "max_tokens": 4,
                "messages": [{"role": "user", "content": "How do I uninstall the widget?"}],
            },
        )
        cid = r.json()["chatforge"]["conversation_id"]
        listed = http.get("/api/conversations").json()
        assert cid in [c["id"] for c in listed]
        conv = http.get(f"/api/conversations/{cid}").json()
        assert [m["role"] for m in conv["messages"]] == ["user", "assistant"]
        assert conv["messages"][1]["sources"]
        exported = http.get(f"/api/conversations/{cid}/export").json()
        assert exported["id"] == cid and len(exported["messages"]) == 2
        md = http.get(f"/api/conversations/{cid}/export", params={"format": "markdown"})
        assert md.headers["content-type"].startswith("text/markdown")
        assert "**You:** How do I uninstall the widget?" in md.text
        assert http.delete(f"/api/conversations/{cid}").status_code == 204
        r = http.get(f"/api/conversations/{cid}")
        assert r.status_code == 404 and cid in r.json()["error"]["message"]


def test_memory_add_list_search_edit_delete(start_server):
    live = start_server()
    with live.client() as http:
        r = http.post("/api/memory", json={"text": "My favourite colour is teal"})
        assert r.status_code == 201
        mid = r.json()["id"]
        assert mid in [m["id"] for m in http.get("/api/memory").json()]
        found = http.post("/api/memory/search", json={"query": "what colour do I like", "k": 1})
        assert found.json()[0]["id"] == mid and found.json()[0]["score"] > 0
        r = http.patch(f"/api/memory/{mid}", json={"text": "My favourite colour is orange"})
        assert r.json()["text"] == "My favourite colour is orange"
        assert http.delete(f"/api/memory/{mid}").status_code == 204
        r = http.delete(f"/api/memory/{mid}")
        assert r.status_code == 404 and "not found" in r.json()["error"]["message"]


def test_health_and_prometheus_metrics(start_server, api_bot):
    live = start_server()
    with live.client() as http:
        health = http.get("/health").json()
        assert health == {
            "status": "ok",
            "bot": api_bot.folder.name,
            "model": api_bot.llm.name,
            "embedding_model": api_bot.settings.embed.model,
            "auth": "local_only",
        }
        r = http.post(
            "/v1/chat/completions",
            json={
                "model": "default",
                "max_tokens": 4,
                "messages": [{"role": "user", "content": "How do I install the widget?"}],
            },
        )
        assert r.status_code == 200
        assert http.get("/api/conversations/missing").status_code == 404
        text = http.get("/metrics").text
    assert (
        'chatforge_http_requests_total{method="POST",route="/v1/chat/completions",status="200"}'
        " 1.0" in text
    )
    assert 'route="/api/conversations/{conversation_id}",status="404"} 1.0' in text
    assert 'chatforge_answers_total{outcome="completed"} 1.0' in text
    completion = next(
        line
        for line in text.splitlines()
        if line.startswith('chatforge_tokens_total{kind="completion"}')
    )
    assert float(completion.split()[-1]) > 0
    assert 'chatforge_time_to_first_token_seconds_count{api="openai"} 1.0' in text
    assert 'chatforge_answers_in_progress{state="waiting"} 0.0' in text


@pytest.mark.parametrize("path", ["/openapi.json", "/docs"])
def test_the_api_describes_itself(start_server, path):
    live = start_server()
    with live.client() as http:
        r = http.get(path)
    assert r.status_code == 200
    if path == "/openapi.json":
        paths = r.json()["paths"]
        for route in (
            "/v1/chat/completions",
            "/v1/embeddings",
            "/v1/models",
            "/api/documents",
            "/api/jobs/{job_id}",
            "/api/search",
            "/api/conversations/{conversation_id}/export",
            "/api/memory/{memory_id}",
            "/health",
            "/metrics",
        ):
            assert route in paths
        schema = paths["/v1/chat/completions"]["post"]
        assert "400" in schema["responses"] and "requestBody" in schema


def test_the_api_docs_page_loads_only_local_files(fresh_server):
    live = fresh_server()
    with live.client() as http:
        page = http.get("/docs")
        assert page.status_code == 200
        urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", page.text)
        assert urls and not [u for u in urls if "//" in u]
        for url in urls:
            assert http.get(url).status_code == 200, url
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert http.get("/openapi.json").status_code == 200
        for escape in ("/docs/assets/../../../../etc/passwd", "/docs/assets/%2e%2e/%2e%2e/x"):
            assert "root:" not in http.get(escape).text
