"""The web UI in a real headless Chromium against the real server, bot and models.

The app is served by uvicorn on a loopback port over a private copy of the shared serve bot
(real SmolLM2 and MiniLM), and driven with Playwright using Debian's /usr/bin/chromium
(Playwright never downloads a browser). Each step saves a screenshot under .artifacts/ui/.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from chatforge.config import Settings
from chatforge.serve.paths import public_path

pytest.importorskip("gradio")
playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts" / "ui"
WEB = ("http", "https", "ws", "wss")
HOSTILE_HOST = "evil.invalid"
HOSTILE = (
    "Here you go <script>window.__pwned = 'script'</script> "
    "<img src=x onerror=\"window.__pwned = 'onerror'\"> "
    f"![tracker](http://{HOSTILE_HOST}/pixel.png) "
    "[click me](javascript:window.__pwned='link') and the answer is 42 [1]."
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (make test)"),
]


@pytest.fixture(scope="module")
def ui_bot(serve_bot_dir, tmp_path_factory, embedder, serve_llm):
    """A private copy of the shared bot, without the conversations other tests left in it:
    these tests upload files, list conversations and delete them."""
    from chatforge.bot import Bot

    folder = tmp_path_factory.mktemp("ui") / "bot"
    shutil.copytree(serve_bot_dir, folder)
    bot = Bot(folder, embedder=embedder, llm=serve_llm)
    bot.settings.llm.max_tokens = 24
    bot.settings.llm.temperature = 0.0
    bot.settings.chat.mode = "auto"
    bot.settings.memory.summarize_every = 0
    _ = bot.conversations, bot.memory  # their tables exist even when no test wrote any yet
    with bot.store.transaction():  # other tests' conversations and memories stay behind
        bot.store.db.execute("DELETE FROM messages")
        bot.store.db.execute("DELETE FROM conversations")
        bot.store.db.execute("DELETE FROM memories")
    yield bot
    bot.close()


@pytest.fixture(scope="module")
def live_ui(ui_bot, live_server):
    """The real app (`create_app`) over the bot, served by uvicorn on loopback."""
    live = live_server(ui_bot, ui=True)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def server(live_ui):
    return live_ui.url


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def page(browser, server):
    """One page for the module; it records every request and dialog to catch hostile output."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    pg = context.new_page()
    pg.requests = []
    pg.dialogs = []
    pg.on("request", lambda r: pg.requests.append(r.url))
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.set_default_timeout(90_000)
    pg.goto(server)
    pg.wait_for_selector("#cf-whoami :text('user local')")
    yield pg
    context.close()


@contextlib.contextmanager
def new_page(browser, url: str):
    """A page of its own on `url` (another server than the module's), closed after."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        pg = context.new_page()
        pg.set_default_timeout(90_000)
        pg.goto(url)
        yield pg
    finally:
        context.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def last_bot_message(page):
    return page.locator("#cf-chat .message.bot").last


def new_conversation(page) -> None:
    """Click "New conversation" and wait for the emptied chat, as a person sees it before
    typing: the click and the question are separate events, and the emptying could otherwise
    land after a quick answer and wipe it."""
    page.click("text=New conversation")
    page.wait_for_function("() => !document.querySelector('#cf-chat .message')")


def ask(page, question: str) -> None:
    page.fill("#cf-question textarea", question)
    page.click("#cf-send")


def wait_answered(page) -> None:
    """Wait until the last answer carries its source list (the final Answer arrived)."""
    page.wait_for_function(
        "() => { const m = [...document.querySelectorAll('#cf-chat .message.bot')].pop();"
        " return m && m.querySelector('.cf-sources, .cf-note') &&"
        " !m.textContent.includes('Searching'); }"
    )


def test_page_shows_the_bot_and_model(page):
    header = page.locator("#cf-header").inner_text()
    assert "chatforge" in header and "all-MiniLM-L6-v2" in header
    assert f"model {Settings().llm.model}" in header
    assert "written by the model from your documents, each claim checked" in header
    assert "guide/install.md" in page.locator("#cf-docs").inner_text()
    shot(page, "01-start")


def test_answer_streams_and_a_citation_opens_its_passage(page, ui_bot):
    page.evaluate(
        """() => {
          window.__seen = new Set();
          new MutationObserver(() => {
            const m = [...document.querySelectorAll('#cf-chat .message.bot .cf-answer')].pop();
            if (m && m.textContent.trim()) window.__seen.add(m.textContent.trim());
          }).observe(document.querySelector('#cf-chat'),
                     {subtree: true, childList: true, characterData: true});
        }"""
    )
    ui_bot.settings.chat.mode = "generate"
    try:
        ask(page, "How do I install the widget on Debian?")
        wait_answered(page)
    finally:
        ui_bot.settings.chat.mode = "auto"
    answer = last_bot_message(page)
    stored = ui_bot.conversations.list("local")[0]
    final = ui_bot.conversations.messages(stored.id, "local")[-1].text
    shown = answer.locator(".cf-answer").inner_text()
    # Every word is shown, but a code fence's language tag (```bash) is markup, not text.
    words = re.findall(r"\w{3,}", re.sub(r"```\w*", "", final))
    assert words and all(w in shown for w in words), (final, shown)
    seen = page.evaluate("() => [...window.__seen]")
    assert len(seen) >= 2, f"the answer arrived in one piece: {seen}"
    source = answer.locator(".cf-source").first
    passage = source.locator(".cf-passage")
    assert not passage.is_visible()
    source.locator("summary").click()
    assert passage.is_visible()
    assert "apt install widget" in passage.inner_text()
    assert "guide/install.md" in source.inner_text()
    shot(page, "02-answer-with-source")


def test_an_uploaded_file_joins_the_sources(page, tmp_path):
    doc = tmp_path / "lighthouse.md"
    doc.write_text(
        "# Lighthouse\n\nThe lighthouse on Quill Point is kept by Ada Brennock, who lights the "
        "lamp at dusk.\n",
        encoding="utf-8",
    )
    page.set_input_files("#cf-upload input[type=file]", str(doc))
    page.wait_for_function("() => document.querySelector('#cf-job').textContent.includes('✓')")
    assert "lighthouse.md" in page.locator("#cf-job").inner_text()
    page.wait_for_function(
        "() => document.querySelector('#cf-docs').textContent.includes('lighthouse.md')"
    )
    shot(page, "03-uploaded")


def test_an_uploaded_file_is_quoted_and_cited(page, ui_bot):
    """Answered in the default mode for small models (quoting the best passage), which cites."""
    new_conversation(page)
    ask(page, "Who keeps the lighthouse on Quill Point?")
    wait_answered(page)
    answer = last_bot_message(page)
    assert "Brennock" in answer.locator(".cf-answer").inner_text()
    answer.locator(".cf-cite").first.click()
    opened = answer.locator(".cf-source[open]")
    stored = next(d.path for d in ui_bot.sources() if d.path.endswith("lighthouse.md"))
    shown = opened.locator(".cf-path").inner_text()
    assert shown.startswith(public_path(ui_bot.folder, stored))
    assert "lighthouse.md" in shown and str(ui_bot.folder) not in shown
    assert "supports" in opened.locator(".cf-flag").inner_text()
    shot(page, "04-cited-upload")


def test_a_question_in_french_is_answered_with_its_source(page, ui_bot, tmp_path_factory):
    """A French document kept outside the bot folder answers a French question; its path is
    shown under its own folder's name, never as the server's absolute path."""
    folder = tmp_path_factory.mktemp("ailleurs") / "phares"
    folder.mkdir()
    doc = folder / "phare.md"
    doc.write_text(
        "# Le phare\n\nLe phare de la Pointe aux Plumes est gardé par Lucie Marchand, qui "
        "allume la lanterne chaque soir au crépuscule.\n",
        encoding="utf-8",
    )
    ui_bot.ingest([str(doc)])
    page.reload()
    page.wait_for_selector("#cf-docs :text('phare.md')")
    new_conversation(page)
    ask(page, "Qui garde le phare de la Pointe aux Plumes ?")
    wait_answered(page)
    answer = last_bot_message(page)
    assert "Marchand" in answer.locator(".cf-answer").inner_text()
    source = answer.locator(".cf-source", has_text="phare")
    source.locator("summary").first.click()
    assert "crépuscule" in source.first.locator(".cf-passage").inner_text()
    shown = public_path(ui_bot.folder, str(doc))
    assert not Path(shown).is_absolute() and shown.endswith("phare.md")
    assert shown in source.first.locator(".cf-path").inner_text()
    assert shown in page.locator("#cf-docs").inner_text()
    assert str(folder) not in page.content() and str(ui_bot.folder) not in page.content()
    shot(page, "05-french")


def test_hostile_answer_and_passage_render_inert(page, ui_bot):
    """A stored answer carrying a script, an onerror handler, a remote image and a javascript:
    link, with the same in its cited passage, is resumed from the conversation list.

    The small real model cannot be made to write such an answer on demand, so the turn is
    written into the conversation store the way the chat engine stores one; resuming renders
    it through the same code path as a streamed answer.
    """
    source = {
        "n": 1,
        "text": HOSTILE,
        "score": 1.0,
        "source": "evil.md",
        "title": "<b onmouseover=\"window.__pwned='title'\">Evil</b>",
        "section": "",
        "start": 0,
        "end": len(HOSTILE),
        "chunk_id": 0,
        "doc_id": 0,
        "relevance": 0.9,
        "cited": True,
        "verified": False,
    }
    with ui_bot.store.transaction() as db:
        ui_bot.conversations.record_turn(
            db,
            "hostile0000000001",
            "local",
            "What is the answer?",
            HOSTILE,
            sources=[source],
            model="smollm2",
            prompt_tokens=1,
            completion_tokens=1,
            timings={},
            interrupted=False,
            query="What is the answer?",
        )
    page.reload()
    page.wait_for_selector("#cf-conv-list label")
    page.locator("#cf-conv-list label", has_text="What is the answer?").click()
    wait_answered(page)
    answer = last_bot_message(page)
    answer.locator(".cf-cite").first.click()
    source_el = answer.locator(".cf-source").first
    assert source_el.get_attribute("open") is not None, "clicking [1] opens passage 1"
    assert "unverified" in source_el.locator(".cf-flag").inner_text()
    text = answer.inner_text()
    assert "<script>" in text and "[image not shown: tracker]" in text
    assert answer.locator("img, script, iframe").count() == 0
    assert answer.locator("[onerror], [onmouseover], a[href^=javascript]").count() == 0
    page.wait_for_timeout(500)
    assert page.evaluate("() => window.__pwned") is None
    assert not page.dialogs
    assert not [u for u in page.requests if HOSTILE_HOST in u]
    shot(page, "06-hostile-inert")


def test_unsupported_sentences_are_noted_and_a_quote_replaces_an_answer_that_holds_nothing(
    browser, serve_bot_dir, tmp_path, embedder, serve_llm, live_server
):
    """Scripted: the model must write an uncited destructive command, then an answer no passage
    supports; the 135M model cannot be made to. The page and server are real."""
    from support import scripted_llm

    from chatforge.bot import Bot

    replies = [
        "To install it, run `apt install widget` on Debian [1]. "
        "Afterwards run `sudo rm -rf /` to clean up everything.",
        "Zebras love chocolate [1]. Penguins fly south every single winter.",
    ]
    shutil.copytree(serve_bot_dir, tmp_path / "bot")
    bot = Bot(tmp_path / "bot", embedder=embedder, llm=scripted_llm(serve_llm, replies))
    bot.settings.chat.mode = "generate"
    bot.settings.chat.condense = False  # each reply answers a question, none rewrites one
    bot.settings.memory.summarize_every = 0
    live = live_server(bot, ui=True)
    try:
        with new_page(browser, live.url) as pg:
            pg.wait_for_selector("#cf-whoami :text('user local')")
            ask(pg, "How do I install the widget on Debian?")
            wait_answered(pg)
            note = last_bot_message(pg).locator(".cf-note").inner_text()
            assert "Not supported by the passages (1)" in note and "sudo rm -rf /" in note
            ask(pg, "How do I install the widget on Debian?")
            pg.wait_for_function(
                "() => document.querySelectorAll('#cf-chat .message.bot').length === 2"
            )
            wait_answered(pg)
            answer = last_bot_message(pg)
            assert "apt install widget" in answer.locator(".cf-answer").inner_text()
            assert "Zebras" not in answer.inner_text()
            assert "a passage is quoted" in answer.locator(".cf-note").inner_text()
            shot(pg, "07-unsupported-noted")
    finally:
        live.stop()
        bot.close()


def test_resume_and_delete_a_conversation(page, ui_bot):
    conversations = ui_bot.conversations.list("local")
    first = next(c for c in conversations if c.title.startswith("How do I install"))
    page.locator("#cf-conv-list label", has_text=first.title).click()
    page.wait_for_function(
        "() => document.querySelector('#cf-chat').textContent.includes('How do I install')"
    )
    shot(page, "07-resumed")
    page.click("text=Delete conversation")
    page.wait_for_function(
        "t => !document.querySelector('#cf-conv-list').textContent.includes(t)", arg=first.title
    )
    assert first.id not in [c.id for c in ui_bot.conversations.list("local")]
    assert page.locator("#cf-chat .message").count() == 0


def test_memory_panel_lists_and_deletes(page, ui_bot):
    kept = ui_bot.memory.add("local", "I prefer answers in French.")
    gone = ui_bot.memory.add("local", "My dog is called Pixel.")
    page.click("#cf-memory-tab-button")
    page.click("text=Refresh")
    page.wait_for_selector("#cf-memory label:has-text('Pixel')")
    page.locator("#cf-memory label", has_text="Pixel").click()
    shot(page, "08-memory")
    page.click("text=Delete selected")
    page.wait_for_function(
        "() => !document.querySelector('#cf-memory').textContent.includes('Pixel')"
    )
    ids = [m.id for m in ui_bot.memory.list("local")]
    assert kept.id in ids and gone.id not in ids


def test_two_people_are_answered_side_by_side(browser, live_ui):
    """Two pages ask while the server holds every answer at its retrieval step: both questions
    reach the server's queue at once, so the runner, not the page, decides who waits."""
    runner = live_ui.app.state.runner
    questions = ["How do I install the widget on Debian?", "Comment installer le widget ?"]
    with new_page(browser, live_ui.url) as one, new_page(browser, live_ui.url) as two:
        pages = [one, two]
        for pg in pages:
            pg.wait_for_selector("#cf-whoami :text('user local')")
        with runner.retrieval:
            for pg, question in zip(pages, questions, strict=True):
                ask(pg, question)
            deadline = time.monotonic() + 60
            while runner.stats.waiting + runner.stats.running < 2:
                assert time.monotonic() < deadline, "the second question never reached the server"
                time.sleep(0.05)
        for pg, question in zip(pages, questions, strict=True):
            wait_answered(pg)
            assert question in pg.locator("#cf-chat .message.user").last.inner_text()
            assert last_bot_message(pg).locator(".cf-sources, .cf-note").count() >= 1
        shot(two, "10-side-by-side")


def test_the_page_loads_nothing_from_outside_the_machine(page, server):
    """Every request the page made so far (scripts, styles, fonts, events) went to the server
    itself, and Gradio's analytics are off."""
    page.reload()
    page.wait_for_selector("#cf-whoami :text('user local')")
    hosts = {urlsplit(u).hostname for u in page.requests if urlsplit(u).scheme in WEB}
    assert hosts == {"127.0.0.1"}, hosts
    assert httpx.get(f"{server}/config", timeout=60).json()["analytics_enabled"] is False


def test_with_api_keys_the_page_asks_for_a_key_and_uses_its_user(browser, ui_bot, live_server):
    ui_bot.settings.server.api_keys = [
        "alice-key-0123456789:alice",
        "root-key-0123456789abcdef:root:admin",
    ]
    live = live_server(ui_bot, ui=True)
    try:
        with new_page(browser, live.url) as pg:
            pg.wait_for_selector("#cf-login input[type=password]")
            assert not pg.locator("#cf-question").is_visible()
            pg.fill("#cf-login input[type=password]", "wrong-key")
            pg.click("text=Sign in")
            pg.wait_for_selector("#cf-login :text('not valid')")
            pg.fill("#cf-login input[type=password]", "alice-key-0123456789")
            pg.click("text=Sign in")
            pg.wait_for_selector("#cf-whoami :text('alice')")
            assert pg.locator("#cf-question").is_visible()
            assert pg.locator("#cf-conv-list label").count() == 0, "alice sees no one else's chats"
            assert not pg.locator("#cf-upload").is_visible(), "only admin keys add documents"
            assert "guide/install.md" in pg.locator("#cf-docs").inner_text()
            shot(pg, "09-signed-in")
    finally:
        live.stop()
        ui_bot.settings.server.api_keys = []
