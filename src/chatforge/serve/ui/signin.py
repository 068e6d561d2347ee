"""Signing in with an API key, when `server.api_keys` is set.

Wrong keys are slowed down per client address by the server's limiter (`app.state.limiter`):
while a client must wait, its keys are not even checked. An admin's session also gets an
upload pass (see `access`), kept by the browser as a cookie for `/gradio_api/upload`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import gradio as gr

from chatforge.serve.errors import ApiError
from chatforge.serve.ui.access import UploadPasses, pass_cookie_js
from chatforge.serve.ui.context import Ui

INVALID = "That key is not valid."
EMPTY = "Enter your API key."


class SignInForm:
    """The key box shown until a valid key is given; then the page shows the main row."""

    def __init__(self, ui: Ui) -> None:
        self.ui = ui
        self.passes = UploadPasses(ui.server.api_keys)
        with gr.Row(visible=ui.keys, elem_id="cf-login") as self.row:
            self.key = gr.Textbox(label="API key", type="password", placeholder="your key", scale=3)
            self.button = gr.Button("Sign in", variant="primary", scale=1)
            self.message = gr.Markdown()
            self.upload_pass = gr.Textbox(visible=False)

    def wire(
        self,
        main: gr.Row,
        upload: gr.File,
        lists: Sequence[gr.Component],
        load: Callable[..., tuple],
    ) -> None:
        """On a valid key: hide the form, show `main` (and `upload` to admins), fill `lists`."""
        self.lists, self.load = lists, load
        outputs = [
            self.ui.who,
            self.row,
            main,
            upload,
            self.message,
            self.key,
            self.upload_pass,
            *lists,
        ]
        for trigger in (self.button.click, self.key.submit):
            event = trigger(self.sign_in, [self.key], outputs, api_visibility="private")
            event.then(None, [self.upload_pass], None, js=pass_cookie_js())

    def sign_in(self, given: str | None, request: gr.Request) -> tuple:
        """The session's principal and the page for it, or why the key was not taken."""
        limiter = self.ui.app.state.limiter
        client = request.client.host if request.client else "unknown"
        wait = limiter.signin_wait(client)
        if wait > 0:
            return self._refused(
                f"Too many wrong keys from your address: wait {math.ceil(wait)} s and try again."
            )
        if not (given or "").strip():
            return self._refused(EMPTY)
        try:
            found = self.ui.keyring.authenticate(given.strip())
        except ApiError:
            limiter.signin_failed(client)
            return self._refused(INVALID)
        limiter.signin_ok(client)
        return (
            found,
            gr.update(visible=False),
            gr.update(visible=True),
            gr.update(visible=found.admin),
            "",
            "",
            self.passes.issue(found.user) if found.admin else "",
            *self.load(found),
        )

    def _refused(self, message: str) -> tuple:
        skip = [gr.skip()] * len(self.lists)
        return None, gr.skip(), gr.skip(), gr.skip(), message, "", gr.skip(), *skip
