"""The web UI with API keys, attacked the way a stranger on the network would.

The real app (`create_app`) is served by uvicorn on loopback over a private copy of the shared
bot. Events are called over Gradio's own HTTP protocol (`/gradio_api/queue/join`, then the
event stream), exactly as the page does, but from a session that never signed in; uploads are
posted to `/gradio_api/upload` directly. Signing in goes through Debian's chromium.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import httpx
import pytest

pytest.importorskip("gradio")
pytest.importorskip("playwright.sync_api")

import test_ui  # noqa: E402

browser = test_ui.browser  # the same chromium fixture

ALICE = "alice-key-0123456789"
ROOT = "root-key-0123456789abcdef"
KEYS = [f"{ALICE}:alice", f"{ROOT}:root:admin"]
CLIENT = "127.0.0.1"
SECRET_TITLE = "Quarterly salary grid"
ALICE_MEMORY = "Alice keeps her spare key under the blue flowerpot."

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not test_ui.CHROMIUM.exists(), reason="needs Debian's chromium (make test)"),
]


@pytest.fixture(scope="module")
def keyed_bot(serve_bot_dir, tmp_path_factory, embedder, serve_llm):
    """A private copy of the shared bot with keys, alice's memory and a conversation of hers,
    and one document whose title must not reach anyone who has not signed in."""
    from chatforge.bot import Bot

    root = tmp_path_factory.mktemp("ui-security")
    folder = root / "bot"
    shutil.copytree(serve_bot_dir, folder)
    secret = root / "hr" / "salaries.md"
    secret.parent.mkdir()
    secret.write_text(f"# {SECRET_TITLE}\n\nEngineers start at level two.\n", encoding="utf-8")
    bot = Bot(folder, embedder=embedder, llm=serve_llm)
    bot.ingest([str(secret)])
    bot.settings.server.api_keys = KEYS
    bot.settings.server.max_body_kb = 64
    bot.settings.server.max_upload_mb = 0.25
    bot.settings.llm.max_tokens = 16
    bot.settings.memory.summarize_every = 0
    bot.memory.add("alice", ALICE_MEMORY)
    yield bot
    bot.close()


@pytest.fixture(scope="module")
def server(keyed_bot, live_server):
    live = live_server(keyed_bot, ui=True)
    yield live
    live.stop()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(90_000)
    pg.goto(server.url)
    pg.wait_for_selector("#cf-login input[type=password]")
    yield pg
    context.close()


def sign_in(page, key: str) -> None:
    page.fill("#cf-login input[type=password]", key)
    page.click("text=Sign in")


def run_event(base: str, dep: dict, data: list) -> list[dict]:
    """Run one UI event from a brand-new session, the way the page does, and return every
    message the server streamed back for it."""
    session = uuid.uuid4().hex[:11]
    with httpx.Client(base_url=base, timeout=60) as http:
        joined = http.post(
            "/gradio_api/queue/join",
            json={
                "data": data,
                "event_data": None,
                "fn_index": dep["id"],
                "trigger_id": dep["targets"][0][0] if dep["targets"] else None,
                "session_hash": session,
            },
        )
        if joined.status_code != 200:
            return [{"msg": "refused", "status": joined.status_code, "text": joined.text}]
        messages = []
        with http.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as r:
            for line in r.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                messages.append(message)
                if message.get("msg") in ("process_completed", "close_stream"):
                    break
        return messages


def ui_events(base: str) -> tuple[list[dict], callable]:
    """The page's events that run on the server, and a test for "this input is the key"."""
    config = httpx.get(f"{base}/config", timeout=60).json()
    components = {c["id"]: c for c in config["components"]}

    def is_key(component_id: int) -> bool:
        return components.get(component_id, {}).get("props", {}).get("type") == "password"

    return [d for d in config["dependencies"] if d.get("backend_fn")], is_key


def test_no_event_serves_a_session_that_never_signed_in(server, keyed_bot):
    """Every event wired in the page, called without signing in, is refused and gives away no
    document, conversation or memory (the page's own load event included)."""
    events, is_key = ui_events(server.url)
    assert len(events) >= 8, [d.get("api_name") for d in events]
    before = len(keyed_bot.memory.list("alice"))
    for dep in events:
        data = ["wrong-key-0123456789" if is_key(i) else None for i in dep["inputs"]]
        messages = run_event(server.url, dep, data)
        text = json.dumps(messages)
        for secret in (SECRET_TITLE, "salaries.md", "guide/install.md", "flowerpot"):
            assert secret not in text, (dep.get("api_name"), text[:500])
        if any(is_key(i) for i in dep["inputs"]):
            continue  # signing in is the one event open to everyone
        done = [m for m in messages if m.get("msg") == "process_completed"]
        refused = not done or done[-1].get("success") is False
        assert refused, (dep.get("api_name"), text[:500])
    assert len(keyed_bot.memory.list("alice")) == before


def test_uploads_need_a_signed_in_admin(server, page):
    """`/gradio_api/upload` takes no file from a stranger or a user key; an admin's session may
    upload up to server.max_upload_mb (above the JSON body limit), not more."""
    files = {"files": ("notes.md", b"# Notes\n\nHello.\n", "text/markdown")}
    stranger = httpx.post(f"{server.url}/gradio_api/upload", files=files, timeout=60)
    assert stranger.status_code in (401, 403), stranger.text

    sign_in(page, ROOT)
    page.wait_for_selector("#cf-whoami :text('root')")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with httpx.Client(base_url=server.url, cookies=cookies, timeout=60) as admin:
        small = admin.post("/gradio_api/upload", files=files)
        assert small.status_code == 200, small.text
        body = b"# Big\n\n" + b"word " * (150 * 1024 // 5)  # 150 KiB: over max_body_kb
        big = admin.post("/gradio_api/upload", files={"files": ("big.md", body, "text/markdown")})
        assert big.status_code == 200, big.text
        huge = b"word " * (300 * 1024 // 5)  # 300 KiB: over max_upload_mb
        refused = admin.post(
            "/gradio_api/upload", files={"files": ("huge.md", huge, "text/markdown")}
        )
        assert refused.status_code == 413, refused.text
    for path in [*small.json(), *big.json()]:
        Path(path).unlink(missing_ok=True)


def test_a_user_key_gets_no_upload_pass(server, page):
    sign_in(page, ALICE)
    page.wait_for_selector("#cf-whoami :text('alice')")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    files = {"files": ("notes.md", b"# Notes\n\nHello.\n", "text/markdown")}
    r = httpx.post(f"{server.url}/gradio_api/upload", files=files, cookies=cookies, timeout=60)
    assert r.status_code in (401, 403), r.text


def test_an_upload_leaves_no_temporary_copy(server, page, tmp_path):
    """Once the UI has stored an upload in the bot folder, Gradio's temporary copy is gone."""
    uploaded: list[str] = []

    def record(response) -> None:
        if response.url.split("?")[0].endswith("/gradio_api/upload") and response.ok:
            uploaded.extend(response.json())

    page.on("response", record)
    sign_in(page, ROOT)
    page.wait_for_selector("#cf-whoami :text('root')")
    doc = tmp_path / "harbour.md"
    doc.write_text("# Harbour\n\nThe harbour master is Tomas Quill.\n", encoding="utf-8")
    page.set_input_files("#cf-upload input[type=file]", str(doc))
    page.wait_for_function("() => document.querySelector('#cf-job').textContent.includes('✓')")
    assert uploaded and all(p.endswith("harbour.md") for p in uploaded)
    assert not [p for p in uploaded if Path(p).exists()], uploaded


def test_sign_in_backs_off_after_wrong_keys(server, page):
    """Wrong keys sent in a row from one address soon make the page wait before it checks
    another key, the right one included; once the address signs in well it may go on."""
    events, is_key = ui_events(server.url)
    sign_in_event = next(d for d in events if any(is_key(i) for i in d["inputs"]))
    limiter = server.app.state.limiter
    try:
        checked = 0
        for _ in range(30):
            reply = json.dumps(run_event(server.url, sign_in_event, ["wrong-key-0123456789"]))
            if "wait" in reply:
                break
            assert "not valid" in reply, reply[:500]
            checked += 1
        assert checked < 30, "thirty wrong keys in a row were all checked"
        for _ in range(30):  # however the limiter grows its waits, this one is long
            limiter.signin_failed(CLIENT)
        sign_in(page, ROOT)
        page.wait_for_selector("#cf-login :text('wait')")
        assert not page.locator("#cf-question").is_visible()
    finally:
        limiter.signin_ok(CLIENT)
    sign_in(page, ROOT)
    page.wait_for_selector("#cf-whoami :text('root')")
