"""The memory tab: what the bot remembers about the signed-in user, and forgetting it."""

from __future__ import annotations

import gradio as gr

from chatforge.serve.auth import Principal
from chatforge.serve.ui.access import signed_in
from chatforge.serve.ui.context import Ui


class MemoryPanel:
    """The user's memories as a checklist; the checked ones can be deleted."""

    def __init__(self, ui: Ui) -> None:
        self.ui = ui
        with gr.Tab("Memory", elem_id="cf-memory-tab"):
            gr.Markdown("What the bot remembers about you, recalled into its answers.")
            self.memory = gr.CheckboxGroup(label="Memories", choices=[], elem_id="cf-memory")
            with gr.Row():
                forget = gr.Button("Delete selected", variant="stop", size="sm")
                refresh = gr.Button("Refresh", size="sm")
        forget.click(self.forget, [ui.who, self.memory], [self.memory], api_visibility="private")
        refresh.click(self.refresh, [ui.who], [self.memory], api_visibility="private")

    def choices(self, who: Principal) -> dict:
        """The user's memories, none checked."""
        items = self.ui.bot.memory.list(who.user)
        return gr.update(choices=[(f"{m.kind}: {m.text}", m.id) for m in items], value=[])

    @signed_in
    def refresh(self, who: Principal) -> dict:
        return self.choices(who)

    @signed_in
    def forget(self, who: Principal, ids: list[int] | None) -> dict:
        for memory_id in ids or []:
            self.ui.bot.memory.delete(who.user, int(memory_id))
        return self.choices(who)
