"""The chat column and the conversation list beside it.

Answers stream through the server's GenerationRunner (`app.state.runner`); each finished answer
replaces what streamed (it may be a quote instead of the model's words) and is shown with its
numbered sources and a note on any sentence no passage supports, and the conversation list and
memories are refreshed, since the answer may have started a conversation or added a memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import gradio as gr

from chatforge.chat.answer import Answer
from chatforge.errors import ChatforgeError
from chatforge.serve.auth import Principal
from chatforge.serve.ui.access import signed_in
from chatforge.serve.ui.context import Ui
from chatforge.serve.ui.memory import MemoryPanel
from chatforge.serve.ui.render import render_answer, render_markdown

PLACEHOLDER = (
    "Ask about your documents. Answers cite their sources as [n]: click one to read the passage."
)


class ConversationsPanel:
    """Who is signed in, and their conversations: resume one, start anew, delete one."""

    def __init__(self, ui: Ui) -> None:
        self.ui = ui
        with gr.Column(scale=1, min_width=220, elem_id="cf-conversations"):
            self.whoami = gr.Markdown(elem_id="cf-whoami")
            self.new = gr.Button("New conversation", variant="primary", size="sm")
            self.list = gr.Radio(label="Conversations", choices=[], elem_id="cf-conv-list")
            self.delete = gr.Button("Delete conversation", variant="stop", size="sm")

    def wire(self, chat: ChatPanel) -> None:
        """Resuming, starting and deleting conversations all change what the chat shows."""
        who, shown, private = self.ui.who, [chat.chat, chat.conversation], "private"
        self.list.input(self.resume, [who, self.list], shown, api_visibility=private)
        self.new.click(self.start_new, [who], [*shown, self.list], api_visibility=private)
        chat.chat.clear(self.start_new, [who], [*shown, self.list], api_visibility=private)
        self.delete.click(
            self.remove, [who, chat.conversation], [*shown, self.list], api_visibility=private
        )

    def whoami_text(self, who: Principal) -> str:
        if not self.ui.keys:
            return f"Local mode · user **{who.user}**"
        return f"Signed in as **{who.user}**" + (" (admin)" if who.admin else "")

    def choices(self, who: Principal) -> dict:
        """The user's conversations, newest first."""
        items = self.ui.bot.conversations.list(who.user)
        return gr.update(choices=[(c.title, c.id) for c in items])

    @signed_in
    def resume(self, who: Principal, conv_id: str | None) -> tuple:
        if not conv_id:
            return [], None
        history = []
        for m in self.ui.bot.conversations.messages(conv_id, who.user):
            if m.role == "user":
                history.append({"role": "user", "content": render_markdown(m.text)})
            else:
                note = "(interrupted)" if m.interrupted else ""
                content = render_answer(m.text, shown_sources(self.ui, m.sources), note)
                history.append({"role": "assistant", "content": content})
        return history, conv_id

    @signed_in
    def start_new(self, who: Principal) -> tuple:
        return [], None, gr.update(value=None)

    @signed_in
    def remove(self, who: Principal, conv_id: str | None) -> tuple:
        if conv_id:
            self.ui.bot.conversations.delete(conv_id, who.user)
        return [], None, {**self.choices(who), "value": None}


class ChatPanel:
    """The chat, the question box and the conversation the chat belongs to."""

    def __init__(self, ui: Ui) -> None:
        self.ui = ui
        self.conversation = gr.State(None)
        with gr.Column(scale=3, min_width=420):
            self.chat = gr.Chatbot(
                show_label=False,
                buttons=["copy", "copy_all"],
                height="68vh",
                render_markdown=False,
                sanitize_html=True,
                feedback_options=None,
                placeholder=PLACEHOLDER,
                elem_id="cf-chat",
            )
            with gr.Row():
                self.question = gr.Textbox(
                    show_label=False,
                    placeholder="Ask a question",
                    scale=5,
                    lines=1,
                    elem_id="cf-question",
                )
                self.send = gr.Button("Send", variant="primary", scale=1, elem_id="cf-send")

    def wire(self, conversations: ConversationsPanel, memory: MemoryPanel) -> None:
        """Asking streams the answer, then refreshes the conversation list and memories."""
        self.conversations, self.memory = conversations, memory
        inputs = [self.ui.who, self.question, self.chat, self.conversation]
        outputs = [self.question, self.chat, self.conversation, conversations.list, memory.memory]
        self.send.click(self.respond, inputs, outputs, api_visibility="private")
        self.question.submit(self.respond, inputs, outputs, api_visibility="private")

    @signed_in
    async def respond(
        self, who: Principal, text: str, history: list[dict], conv_id: str | None
    ) -> AsyncIterator[tuple]:
        """The question, then the answer as it is written, then its sources."""
        if not text or not text.strip():
            yield "", history, conv_id, gr.skip(), gr.skip()
            return
        history = [
            *history,
            {"role": "user", "content": render_markdown(text)},
            {"role": "assistant", "content": render_answer("", note="Searching…")},
        ]
        yield "", history, conv_id, gr.skip(), gr.skip()
        runner = self.ui.app.state.runner
        try:
            stream = await runner.stream(text, user=who.user, conversation_id=conv_id)
        except ChatforgeError as e:
            history[-1]["content"] = render_answer("", note=f"error: {e}")
            yield "", history, conv_id, gr.skip(), gr.skip()
            return
        pieces: list[str] = []
        async with aclosing(stream):
            async for item in stream:
                if isinstance(item, Answer):
                    interrupted = "(interrupted) " if item.interrupted else ""
                    note = interrupted + item.support_note
                    sources = shown_sources(self.ui, [s.to_dict() for s in item.sources])
                    history[-1]["content"] = render_answer(item.text, sources, note, item.steps)
                    conv_id = item.conversation_id
                else:
                    pieces.append(item)
                    history[-1]["content"] = render_answer("".join(pieces))
                yield "", history, conv_id, gr.skip(), gr.skip()
        listed = {**self.conversations.choices(who), "value": conv_id}
        yield "", history, conv_id, listed, self.memory.choices(who)


def shown_sources(ui: Ui, sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sources with their document paths as the page may show them."""
    return [{**s, "source": ui.shown(str(s.get("source", "")))} for s in sources]
