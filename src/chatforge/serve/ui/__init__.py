"""The web UI: a Gradio app mounted at `/` of the FastAPI server.

A thin shell over the server's parts: every answer goes through `app.state.runner` (one model,
one worker thread), uploads through `app.state.jobs`, and lists come straight from the bot's
stores, always for the signed-in user. With no `server.api_keys` the user is "local"; with keys,
the page asks for one key and uses that key's user (admin keys may also add documents). Every
event checks the session's user (`access`), since events can be called without the page.

The page is composed in `page`; its panels live in `signin`, `chat`, `documents` and `memory`;
answers and sources are rendered to safe HTML in `render`.
"""

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # read by Gradio; the product works offline

from chatforge.serve.ui.page import build_ui, mount_ui  # noqa: E402

__all__ = ["build_ui", "mount_ui"]
