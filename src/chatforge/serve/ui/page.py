"""The page: a header, the sign-in form, and the chat between conversations and documents.

Nothing on the page comes from outside the machine: Gradio's analytics are off (the package
sets GRADIO_ANALYTICS_ENABLED before Gradio is imported, and the Blocks say so too), the theme
uses only fonts this server serves or the system has, and run history (which can be sent to a
remote bucket) and the MCP server are off.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

import gradio as gr

from chatforge.serve.auth import Principal
from chatforge.serve.ui.access import UploadGuard, UploadPasses, signed_in
from chatforge.serve.ui.chat import ChatPanel, ConversationsPanel
from chatforge.serve.ui.context import Ui
from chatforge.serve.ui.documents import DocumentsPanel
from chatforge.serve.ui.memory import MemoryPanel
from chatforge.serve.ui.signin import SignInForm

if TYPE_CHECKING:
    from fastapi import FastAPI

    from chatforge.bot import Bot

STATIC = Path(__file__).parent.parent / "static"
CACHE_SWEEP = (300, 900)
"""Every 300 s, Gradio deletes this app's temporary files older than 900 s (all at shutdown)."""


def mount_ui(app: FastAPI) -> None:
    """Mount the page at `/` of `app`, with uploads limited and guarded (see `access`)."""
    server = app.state.settings.server
    gr.mount_gradio_app(
        app,
        build_ui(app),
        path="/",
        theme=theme(),
        max_file_size=int(server.max_upload_mb * 1024 * 1024),
        run_history=False,
        mcp_server=False,
    )
    passes = None if app.state.keys.local_only else UploadPasses(server.api_keys)
    app.add_middleware(UploadGuard, passes=passes)


def build_ui(app: FastAPI) -> gr.Blocks:
    """The chat page over `app.state` (bot, runner, jobs, settings, keys, limiter)."""
    with gr.Blocks(
        title="chatforge", fill_width=True, analytics_enabled=False, delete_cache=CACHE_SWEEP
    ) as blocks:
        Page(app, blocks)
    # Gradio runs one event of a kind at a time unless told otherwise: every question asked in
    # the page would wait for the one before, whoever asked it. The runner already decides who
    # waits (server.parallel, max_queue, max_queue_per_user), as it does for the API.
    blocks.queue(default_concurrency_limit=None)
    return blocks


def theme() -> gr.themes.Base:
    """Gradio's default look, with fonts this server serves itself, then system fonts."""
    return gr.themes.Default(
        font=[
            gr.themes.LocalFont("Source Sans Pro", weights=(400, 600)),
            "ui-sans-serif",
            "system-ui",
            "sans-serif",
        ],
        font_mono=[
            gr.themes.LocalFont("IBM Plex Mono", weights=(400, 600)),
            "ui-monospace",
            "Consolas",
            "monospace",
        ],
    )


class Page:
    """Builds the page inside a `gr.Blocks` and wires its panels to one another."""

    def __init__(self, app: FastAPI, blocks: gr.Blocks) -> None:
        self.ui = ui = Ui.start(app)
        gr.HTML(header(ui.bot), head=head(), js_on_load=None, elem_id="cf-header")
        sign_in = SignInForm(ui)
        with gr.Row(visible=not ui.keys, equal_height=False) as main:
            self.conversations = ConversationsPanel(ui)
            chat = ChatPanel(ui)
            with gr.Column(scale=2, min_width=300), gr.Tabs():
                self.documents = DocumentsPanel(ui)
                self.memory = MemoryPanel(ui)
        self.conversations.wire(chat)
        chat.wire(self.conversations, self.memory)
        lists = [
            self.conversations.whoami,
            self.conversations.list,
            self.memory.memory,
            self.documents.docs,
        ]
        sign_in.wire(main, self.documents.upload, lists, self.lists)
        if not ui.keys:  # with keys, signing in fills the lists
            blocks.load(self.load, [ui.who], lists, api_visibility="private")

    def lists(self, who: Principal) -> tuple:
        """What the lists show for `who`: whoami, conversations, memories, documents."""
        return (
            self.conversations.whoami_text(who),
            self.conversations.choices(who),
            self.memory.choices(who),
            self.documents.rows(),
        )

    @signed_in
    def load(self, who: Principal) -> tuple:
        return self.lists(who)


def head() -> str:
    css = (STATIC / "ui.css").read_text(encoding="utf-8")
    js = (STATIC / "ui.js").read_text(encoding="utf-8")
    return f"<style>{css}</style><script>{js}</script>"


def header(bot: Bot) -> str:
    """The bot's name, its chat model, how it answers and its embedding model."""
    s = bot.settings
    model = Path(s.llm.model).name if not s.llm.model.startswith("http") else s.llm.model
    parts = [
        ("bot", bot.folder.resolve().name),
        ("model", model),
        (
            "answers",
            {
                "generate": "written by the model from your documents, each claim checked",
                "extractive": "quoted from your documents (the model does not write)",
            }[bot.chat.mode()],
        ),
        ("embeddings", Path(s.embed.model).name),
    ]
    facts = "".join(f'<span class="cf-fact"><b>{k}</b> {html.escape(v)}</span>' for k, v in parts)
    return f'<div class="cf-header"><span class="cf-brand">chatforge</span>{facts}</div>'
