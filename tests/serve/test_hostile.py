"""Hostile clients against a real server on loopback: web pages of other sites, DNS rebinding,
strangers with large bodies, guessed keys, greedy keys, text that is not Unicode, and a fuzz
loop of malformed requests. Nothing answers a 5xx, writes outside the bot folder, or shows one
user's data (or the server's folders) to another."""

from __future__ import annotations

import importlib.metadata
import json
import re
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil
import pytest
from servesupport import ALICE_KEY, BOB_KEY, KEYS, ROOT_KEY, LiveServer, wait_for_job

EVIL = "http://evil.example"
NOTE = b"# Kites\n\nRed kites nest in tall beech trees and feed on carrion in open fields.\n"
QUESTIONS = ["Where do red kites nest?", "Où nichent les milans royaux ?"]


def _chat(question: str, **extra) -> dict:
    return {
        "model": "default",
        "max_tokens": 4,
        "messages": [{"role": "user", "content": question}],
        **extra,
    }


def _raw_json(value) -> bytes:
    """JSON as a client may send it: `\\ud800` escapes survive (httpx would refuse them)."""
    return json.dumps(value).encode()


def _upload(client: httpx.Client, name: str = "kites.md", body: bytes = NOTE, **headers):
    return client.post("/api/documents", files={"files": (name, body)}, headers=headers)


def _uploaded(live: LiveServer) -> list[str]:
    folder = live.bot.folder / "uploads"
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# -- 1. local-only mode trusts no other web page ---------------------------------------------


def test_a_page_of_another_site_cannot_plant_documents_or_chat(fresh_server):
    live = fresh_server()
    own = live.url
    with live.client() as http:
        for headers in ({"Origin": EVIL}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}):
            r = _upload(http, **headers)
            assert r.status_code == 403, r.text
            assert "server.cors_origins" in r.json()["error"]["message"]
            r = http.post("/v1/chat/completions", json=_chat(QUESTIONS[1]), headers=headers)
            assert r.status_code == 403
        r = http.post("/api/memory", json={"text": "planted"}, headers={"Origin": EVIL})
        assert r.status_code == 403
        assert _uploaded(live) == []
        assert http.get("/api/memory").json() == []
        # The server's own page, and clients that are not web pages, go through.
        assert _upload(http, Origin=own).status_code == 202
        assert _upload(http, "sans-origine.md").status_code == 202
        assert _uploaded(live) == ["kites.md", "sans-origine.md"]


def test_a_host_name_the_server_does_not_answer_to_is_refused(fresh_server):
    """DNS rebinding: a page on attacker.example whose name now points at 127.0.0.1."""
    live = fresh_server()
    port = urlsplit(live.url).port
    with live.client() as http:
        r = http.get("/api/conversations", headers={"Host": f"attacker.example:{port}"})
        assert r.status_code == 400 and "server.allowed_hosts" in r.json()["error"]["message"]
        assert http.get("/health", headers={"Host": "attacker.example"}).status_code == 400
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", "[::1]"):
            assert http.get("/api/conversations", headers={"Host": host}).status_code == 200
    live = fresh_server(allowed_hosts=["chat.example.com", "*.example.org"])
    with live.client() as http:
        for host, status in (("chat.example.com", 200), ("a.example.org", 200), ("x.com", 400)):
            assert http.get("/api/conversations", headers={"Host": host}).status_code == status


@pytest.fixture
def ui_server(tmp_path, embedder, serve_llm):
    """A server with the web UI mounted, whose own CORS layer is what needs neutralising."""
    from chatforge.bot import Bot

    servers: list[LiveServer] = []

    def start(**server_settings) -> LiveServer:
        bot = Bot(Bot.init(tmp_path / f"ui{len(servers)}", "general").folder, embedder=embedder)
        bot = Bot(bot.folder, embedder=embedder, llm=serve_llm)
        for key, value in server_settings.items():
            setattr(bot.settings.server, key, value)
        servers.append(LiveServer(bot, ui=True))
        return servers[-1]

    yield start
    for live in servers:
        live.stop()
        live.bot.close()


def _preflight(http: httpx.Client, path: str, origin: str) -> httpx.Response:
    headers = {"Origin": origin, "Access-Control-Request-Method": "POST"}
    return http.options(path, headers=headers)


def test_no_cors_headers_unless_origins_are_configured(ui_server):
    live = ui_server()
    with live.client() as http:
        for path in ("/api/documents", "/v1/chat/completions", "/", "/gradio_api/upload"):
            r = _preflight(http, path, "http://localhost:3000")
            assert not [h for h in r.headers if h.startswith("access-control-")], (path, r.headers)
        r = http.get("/health", headers={"Origin": "http://localhost:3000"})
        assert "access-control-allow-origin" not in r.headers
    live = ui_server(cors_origins=["https://app.example.com"])
    with live.client() as http:
        r = _preflight(http, "/api/search", "https://app.example.com")
        assert r.headers["access-control-allow-origin"] == "https://app.example.com"
        assert "access-control-allow-credentials" not in r.headers
        r = _preflight(http, "/api/search", "http://localhost:3000")
        assert "access-control-allow-origin" not in r.headers
        r = http.post("/api/search", json={"query": "kites"}, headers={"Origin": EVIL})
        assert r.status_code == 403
        r = http.post(
            "/api/search", json={"query": "kites"}, headers={"Origin": "https://app.example.com"}
        )
        assert r.status_code == 200 and r.headers["access-control-allow-origin"]


def test_security_headers_on_every_response(ui_server):
    live = ui_server()
    with live.client() as http:
        for path in ("/", "/health", "/api/conversations", "/api/nothing", "/openapi.json"):
            r = http.get(path)
            assert r.headers["x-content-type-options"] == "nosniff", path
            assert r.headers["x-frame-options"] == "DENY", path
            assert "frame-ancestors 'none'" in r.headers["content-security-policy"], path
        assert http.get("/api/conversations").headers["cache-control"] == "no-store"
        shown = http.get("/openapi.json").json()["info"]["version"]
        assert shown != importlib.metadata.version("chatforge")


# -- 2. text that is not Unicode -------------------------------------------------------------


@pytest.mark.parametrize("question", QUESTIONS)
def test_lone_surrogates_are_a_400_naming_the_field(fresh_server, question):
    live = fresh_server()
    bad = question + " \ud800"
    turns = [{"role": "user", "content": question}, {"role": "assistant", "content": bad}]
    cases = [
        ("/v1/chat/completions", _chat(bad), "messages[0].content"),
        ("/v1/chat/completions", _chat(bad, stream=True), "messages[0].content"),
        ("/v1/chat/completions", _chat(question, messages=[*turns, turns[0]]), "messages[1]"),
        (
            "/v1/chat/completions",
            _chat(
                question, messages=[{"role": "user", "content": [{"type": "text", "text": bad}]}]
            ),
            "messages[0].content[0].text",
        ),
        ("/v1/chat/completions", _chat(question, stop=["\udfff"]), "stop[0]"),
        ("/v1/chat/completions", _chat(question, user="\udfff"), "user"),
        ("/v1/embeddings", {"model": "default", "input": bad}, "input"),
        ("/v1/embeddings", {"model": "default", "input": [question, bad]}, "input[1]"),
        ("/api/search", {"query": bad}, "query"),
        ("/api/memory", {"text": bad}, "text"),
        ("/api/memory/search", {"query": bad}, "query"),
    ]
    with live.client() as http:
        for path, body, field in cases:
            r = http.post(
                path, content=_raw_json(body), headers={"content-type": "application/json"}
            )
            assert r.status_code == 400, (path, field, r.text)
            message = r.json()["error"]["message"]
            assert message.startswith(field) and "surrogate" in message, message
        assert http.get("/api/conversations").json() == []


# -- 3. the key is checked before the body is read -------------------------------------------


def _post_headers_only(live: LiveServer, path: str, key: str | None, size: int) -> str:
    """Send a request's headers and its first 64 KiB only; the status line the server answers
    before the rest arrives ('' if it waits for the body, as a server parsing it must)."""
    url = urlsplit(live.url)
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: {url.netloc}",
        "Content-Type: multipart/form-data; boundary=b",
        f"Content-Length: {size}",
    ]
    if key:
        head.append(f"Authorization: Bearer {key}")
    first = b'--b\r\nContent-Disposition: form-data; name="files"; filename="big.md"\r\n\r\n'
    with socket.create_connection((url.hostname, url.port), timeout=10) as s:
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + first + b"x" * 65536)
        try:
            return s.recv(4096).split(b"\r\n", 1)[0].decode()
        except TimeoutError:
            return ""


def test_a_stranger_is_refused_before_the_body_is_read(fresh_server):
    live = fresh_server(api_keys=KEYS)
    size = 19 * 1024 * 1024
    assert _post_headers_only(live, "/api/documents", None, size).endswith("401 Unauthorized")
    assert _post_headers_only(live, "/api/documents", "guess-0123456789abcd", size).endswith(
        "401 Unauthorized"
    )
    assert _post_headers_only(live, "/api/documents", ALICE_KEY, size).endswith("403 Forbidden")
    assert _post_headers_only(live, "/v1/embeddings", None, 512 * 1024).endswith("401 Unauthorized")
    assert _uploaded(live) == []


# -- 4. no absolute server paths -------------------------------------------------------------


def test_responses_never_show_the_servers_folders(fresh_server, tmp_path):
    """Documents ingested from an absolute folder outside the bot, and an upload."""
    outside = tmp_path / "home" / "me" / "notes"
    outside.mkdir(parents=True)
    (outside / "birds.md").write_bytes(NOTE)
    live = fresh_server(api_keys=KEYS)
    live.bot.ingest([str(outside)])
    with live.client(ROOT_KEY) as root, live.client(ALICE_KEY) as alice:
        job = _upload(root, "milans.md", NOTE.replace(b"Kites", b"Milans")).json()
        assert job["files"] == ["root/milans.md"]
        assert wait_for_job(root, job["job"]["id"])["status"] == "done"
        seen = [root.get(f"/api/jobs/{job['job']['id']}").text, alice.get("/api/documents").text]
        assert {d["path"] for d in alice.get("/api/documents").json()} == {
            "notes/birds.md",
            "root/milans.md",
        }
        seen.append(alice.post("/api/search", json={"query": "red kites nest"}).text)
        for question in QUESTIONS:
            r = alice.post("/v1/chat/completions", json=_chat(question))
            seen.append(r.text)
            cid = r.json()["chatforge"]["conversation_id"]
            with alice.stream(
                "POST", "/v1/chat/completions", json=_chat(question, stream=True)
            ) as s:
                seen.append(s.read().decode())
            seen.append(alice.get(f"/api/conversations/{cid}").text)
            for fmt in ("json", "markdown"):
                export = alice.get(f"/api/conversations/{cid}/export", params={"format": fmt})
                seen.append(export.text)
        assert "notes/birds.md" in seen[-1] or "root/milans.md" in seen[-1]
        seen.append(
            root.delete(f"/api/documents/{alice.get('/api/documents').json()[0]['id']}").text
        )
    assert "birds.md" in "".join(seen) and "Kites" in "".join(seen)
    for text in seen:
        assert str(tmp_path) not in text and str(live.bot.folder.resolve()) not in text
        assert str(tmp_path).replace("/", "\\/") not in text


# -- the fuzz loop ---------------------------------------------------------------------------

MARK = "cfescape"
HOSTILE_NAMES = [
    f"../../{MARK}1.md",
    f"%2e%2e/%2e%2e/{MARK}2.md",
    f"/tmp/{MARK}3.md",
    f"..\\..\\{MARK}4.md",
    f"C:\\{MARK}5.md",
    f"a/b/../../../{MARK}6.md",
    "..",
    ".",
    "",
    f"\u202e{MARK}7dm.md",
    "x" * 5000 + ".md",
    f'{MARK}8.md"; name="other',
    f"{MARK}9.md\r\nContent-Type: text/html",
    f"{MARK}10.md\x00.exe",
]


def _multipart(*names: str, body: bytes = NOTE, extra: str = "") -> bytes:
    """A multipart body written by hand, so names reach the server exactly as given."""
    head = 'Content-Disposition: form-data; name="files"; filename="{}"{}'
    parts = [
        b"--b\r\n"
        + head.format(name, extra).encode("utf-8", "surrogatepass")
        + b"\r\nContent-Type: text/markdown\r\n\r\n"
        + body
        + b"\r\n"
        for name in names
    ]
    return b"".join(parts) + b"--b--\r\n"


def _hostile_requests(secret_ids: list[str]) -> list[tuple[str, str, dict, bytes]]:
    """(method, path, headers, body): malformed, oversized, nested, mis-typed, mis-encoded."""
    js = {"content-type": "application/json"}
    mp = {"content-type": "multipart/form-data; boundary=b"}
    chat = "/v1/chat/completions"
    deep = b'{"model":"default","messages":[{"role":"user","content":' + b"[" * 3000
    out = [
        (
            "POST",
            chat,
            js,
            b'{"model": "default", "messages": [{"role": "user", "content": "'
            + b"x" * 2_000_000
            + b'"}]}',
        ),
        ("POST", chat, js, b"[" * 100_000),
        ("POST", chat, js, b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
        ("POST", chat, js, deep + b"]" * 3000 + b"}]}"),
        (
            "POST",
            chat,
            js,
            b'{"model":"default","messages":[{"role":"user","content":"\xff\xfe"}]}',
        ),
        (
            "POST",
            chat,
            js,
            b'{"model":"default","messages":[{"role":"user","content":"\xed\xa0\x80"}]}',
        ),
        ("POST", chat, js, b'{"model":"default","messages":[{"role":"user","content":"a\x00b"}]}'),
        ("POST", chat, js, _raw_json(_chat("Qu'est-ce que\u0000 le widget ?"))),
        ("POST", chat, js, _raw_json(_chat("x", max_tokens=2**64, temperature=1e308))),
        ("POST", chat, js, b'{"model":"default","max_tokens":NaN,"messages":[]}'),
        (
            "POST",
            chat,
            js,
            _raw_json(_chat("x", messages=[{"role": "user", "content": "hi"}] * 9000)),
        ),
        ("POST", chat, {"content-type": "text/plain"}, _raw_json(_chat("hi"))),
        ("POST", chat, {"content-type": "application/x-www-form-urlencoded"}, b"model=default"),
        ("POST", chat, mp, _multipart("a.md")),
        (
            "POST",
            chat,
            {"content-type": "application/json; charset=utf-16"},
            json.dumps(_chat("bonjour")).encode("utf-16"),
        ),
        ("POST", chat, {"content-type": "application/json; x=" + "y" * 8000}, b"{}"),
        ("POST", chat, js, b""),
        ("POST", chat, js, b"null"),
        ("POST", "/v1/embeddings", js, _raw_json({"model": "default", "input": ["a"] * 2049})),
        ("POST", "/v1/embeddings", js, _raw_json({"model": "default", "input": [[1, 2]]})),
        ("POST", "/api/search", js, _raw_json({"query": "*", "source": "*a" * 250})),
        ("POST", "/api/memory", js, _raw_json({"text": "\u0000" * 2000})),
        ("PATCH", "/api/memory/1", js, _raw_json({"text": "x" * 3000})),
        ("POST", "/api/documents", {"content-type": "multipart/form-data"}, _multipart("a.md")),
        ("POST", "/api/documents", mp, _multipart("a.md")[:-9]),
        ("POST", "/api/documents", mp, b"--b\r\n" + b"X" * 100_000 + b"\r\n\r\n--b--\r\n"),
        ("POST", "/api/documents", mp, _multipart(*(f"{i}.md" for i in range(1001)))),
        ("POST", "/api/documents", js, _raw_json({"files": ["/etc/passwd"]})),
        (
            "POST",
            "/api/documents",
            mp,
            _multipart("a.md", extra=f"; filename*=UTF-8''..%2F..%2F{MARK}11.md"),
        ),
    ]
    out += [("POST", "/api/documents", mp, _multipart(name)) for name in HOSTILE_NAMES]
    not_utf8 = _multipart("NAME").replace(b"NAME", b"\xff\xfe../" + MARK.encode() + b"12.md")
    out.append(("POST", "/api/documents", mp, not_utf8))
    return (
        out
        + [("GET", p, {}, b"") for p in _hostile_paths(secret_ids)]
        + [("DELETE", f"/api/conversations/{cid}%00", {}, b"") for cid in secret_ids]
    )


def _hostile_paths(secret_ids: list[str]) -> list[str]:
    """Traversals, odd ids and query values, and another user's ids spelled every which way."""
    paths = [
        *"/api/conversations/..%2F..%2Fetc%2Fpasswd /api/conversations/%00 /api/memory/-1".split(),
        *"/api/memory/0 /api/memory/99999999999999999999 /api/jobs/..%2f..%2fx".split(),
        *"/api/jobs/%2e%2e /api/conversations?limit=1e9 /api/memory?kind=%00".split(),
        *"/docs/assets/../../../../etc/passwd /docs/assets/%2e%2e/%2e%2e/etc/passwd".split(),
        "/api/conversations/" + "x" * 10_000,
        "/api/documents?source=" + "[" * 400,
    ]
    for cid in secret_ids:
        spellings = [cid, cid.upper(), f"{cid}%20", f"{cid}/", f"%{cid[1:]}", "%", "_" * len(cid)]
        for spelled in [*spellings, f"{cid}' OR '1'='1"]:
            paths += [f"/api/conversations/{spelled}", f"/api/conversations/{spelled}/export"]
    return paths


def _tree(root: Path, skip: Path) -> set[str]:
    return {str(p) for p in root.rglob("*") if p.is_file() and skip not in p.parents}


class _RssWatch:
    """A server process's resident memory, sampled in the background."""

    def __init__(self, pid: int) -> None:
        self.process, self.peak, self._stop = psutil.Process(pid), 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> _RssWatch:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()


def test_hostile_requests_get_no_5xx_escape_nothing_and_leak_nothing(
    serve_process, tmp_path_factory
):
    live = serve_process(
        CHATFORGE_SERVER__API_KEYS=json.dumps(KEYS),
        CHATFORGE_SERVER__RATE_LIMIT_PER_MINUTE="0",
        CHATFORGE_SERVER__AUTH_BACKOFF_MAX_S="0",
    )
    base = tmp_path_factory.getbasetemp()
    before = _tree(base, live.folder)
    secrets = ["Bob's vault code is 4711", "Le code du coffre de Bob est 4711"]
    with (
        live.client(BOB_KEY) as bob,
        live.client(ALICE_KEY) as alice,
        live.client(ROOT_KEY) as root,
    ):
        cids = []
        for question in QUESTIONS:
            body = _chat(question + " " + secrets[len(cids)])
            cids.append(
                bob.post("/v1/chat/completions", json=body).json()["chatforge"]["conversation_id"]
            )
        bob_memories = [bob.post("/api/memory", json={"text": t}).json()["id"] for t in secrets]
        job = _upload(root, "root-plan.md").json()["job"]["id"]
        failures, texts = [], []
        with _RssWatch(live.proc.pid) as rss:
            for method, path, headers, body in _hostile_requests(cids):
                for client in (alice, root):
                    try:
                        r = client.request(method, path, headers=headers, content=body)
                    except httpx.TransportError:
                        # Refused on its Content-Length, an oversized body may still be on its
                        # way when the server closes: the client sees a reset, not a 5xx.
                        assert len(body) > 1024 * 1024, (method, path)
                        continue
                    texts.append(r.text)
                    if r.status_code >= 500:
                        failures.append(f"{method} {path[:80]}: {r.status_code} {r.text[:200]}")
            for question in QUESTIONS:
                r = alice.post(
                    "/v1/chat/completions", json=_chat(question + " What is the vault code?")
                )
                texts.append(r.text)
                r = alice.post(
                    "/v1/chat/completions",
                    json=_chat(question, chatforge={"conversation_id": cids[0]}),
                )
                assert r.status_code == 404
            for mid in bob_memories:
                assert alice.patch(f"/api/memory/{mid}", json={"text": "mine"}).status_code == 404
                assert alice.delete(f"/api/memory/{mid}").status_code == 404
            texts += [alice.get("/api/conversations").text, alice.get("/api/memory").text]
            texts.append(alice.post("/api/memory/search", json={"query": "vault code coffre"}).text)
            assert alice.get(f"/api/jobs/{job}").status_code == 404
        assert root.get("/health").status_code == 200
        assert [m["id"] for m in bob.get("/api/memory").json()] == bob_memories
        assert {c["id"] for c in bob.get("/api/conversations").json()} == set(cids)
    print(
        f"\nhostile: {len(texts)} responses, {len(failures)} >= 500, "
        f"peak RSS {rss.peak / 2**20:.0f} MB"
    )
    assert failures == []
    for text in texts:
        # random ids ("id", "conversation_id": hex) may hold the digits by chance; all else may not
        shown = re.sub(r'"(?:id|conversation_id)":\s*"[0-9a-zA-Z_-]*"', '""', text)
        assert "4711" not in shown and str(base) not in text
    assert _tree(base, live.folder) == before
    assert not [p for p in (base, *base.parents, Path("/tmp")) if list(p.glob(f"*{MARK}*"))]
    assert rss.peak < 2 * 1024**3  # the default model and MiniLM take about 1.2 GB of it


def test_health_answers_while_a_hostile_file_is_ingested(serve_process):
    """An 8 MB one-word 'document' keeps the ingest busy; every /health probe must answer
    within the client's 1 s timeout (a timeout fails the test)."""
    live = serve_process(CHATFORGE_SERVER__MAX_UPLOAD_MB="10")
    with (
        live.client() as http,
        httpx.Client(base_url=live.url, timeout=1.0) as probe,
        _RssWatch(live.proc.pid) as rss,
    ):
        job = _upload(http, "one-word.md", b"A" * 8_000_000).json()["job"]["id"]
        probes_while_running, slowest, deadline = 0, 0.0, time.monotonic() + 300
        while time.monotonic() < deadline:
            status = http.get(f"/api/jobs/{job}").json()["status"]
            if status in ("done", "failed"):
                break
            sent = time.perf_counter()
            assert probe.get("/health").json()["status"] == "ok"
            slowest = max(slowest, time.perf_counter() - sent)
            probes_while_running += status == "running"
            time.sleep(0.1)
        assert status in ("done", "failed") and probes_while_running > 0
    print(
        f"\n/health during ingest: {probes_while_running} probes, slowest {slowest:.3f} s, "
        f"peak RSS {rss.peak / 2**20:.0f} MB"
    )
    assert rss.peak < 2 * 1024**3  # the default model and MiniLM take about 1.2 GB of it
