"""The page: a header, the sign-in form, and the chat between conversations and documents."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

import gradio as gr

from chatforge.serve.auth import Principal
from chatforge.serve.ui.chat import ChatPanel, ConversationsPanel
from chatforge.serve.ui.context import Ui
from chatforge.serve.ui.documents import DocumentsPanel
from chatforge.serve.ui.memory import MemoryPanel
from chatforge.serve.ui.signin import SignInForm

if TYPE_CHECKING:
    from fastapi import FastAPI

    from chatforge.bot import Bot

STATIC = Path(__file__).parent.parent / "static"


def build_ui(app: FastAPI) -> gr.Blocks:
    """The chat page over `app.state` (bot, runner, jobs, settings, keys)."""
    with gr.Blocks(title="chatforge", fill_width=True) as blocks:
        Page(app, blocks)
    return blocks


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
        sign_in.wire(main, self.documents.upload, lists, self.load)
        blocks.load(self.load, [ui.who], lists)

    def load(self, who: Principal | None) -> tuple:
        """What the lists show for `who`: whoami, conversations, memories, documents."""
        return (
            self.conversations.whoami_text(who),
            self.conversations.choices(who),
            self.memory.choices(who),
            self.documents.rows(),
        )


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
            {"generate": "written by the model", "extractive": "quoted passages"}.get(
                s.chat.mode, "quoted or written, by model size (auto)"
            ),
        ),
        ("embeddings", Path(s.embed.model).name),
    ]
    facts = "".join(f'<span class="cf-fact"><b>{k}</b> {html.escape(v)}</span>' for k, v in parts)
    return f'<div class="cf-header"><span class="cf-brand">chatforge</span>{facts}</div>'
