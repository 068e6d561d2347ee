"""Signing in with an API key, when `server.api_keys` is set."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import gradio as gr

from chatforge.serve.errors import ApiError
from chatforge.serve.ui.context import Ui

INVALID = "That key is not valid."


class SignInForm:
    """The key box shown until a valid key is given; then the page shows the main row."""

    def __init__(self, ui: Ui) -> None:
        self.ui = ui
        with gr.Row(visible=ui.keys, elem_id="cf-login") as self.row:
            self.key = gr.Textbox(label="API key", type="password", placeholder="your key", scale=3)
            self.button = gr.Button("Sign in", variant="primary", scale=1)
            self.message = gr.Markdown()

    def wire(
        self,
        main: gr.Row,
        upload: gr.File,
        lists: Sequence[gr.Component],
        load: Callable[..., tuple],
    ) -> None:
        """On a valid key: hide the form, show `main` (and `upload` to admins), fill `lists`."""
        self.lists, self.load = lists, load
        outputs = [self.ui.who, self.row, main, upload, self.message, self.key, *lists]
        self.button.click(self.sign_in, [self.key], outputs)
        self.key.submit(self.sign_in, [self.key], outputs)

    def sign_in(self, given: str) -> tuple:
        try:
            found = self.ui.keyring.authenticate((given or "").strip())
        except ApiError:
            skip = [gr.skip()] * len(self.lists)
            return None, gr.skip(), gr.skip(), gr.skip(), INVALID, "", *skip
        return (
            found,
            gr.update(visible=False),
            gr.update(visible=True),
            gr.update(visible=found.admin),
            "",
            "",
            *self.load(found),
        )
