"""What every part of the page shares: the server's parts and the session's principal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import gradio as gr

from chatforge.serve.auth import LOCAL_USER, KeyRing, Principal
from chatforge.serve.paths import public_path

if TYPE_CHECKING:
    from fastapi import FastAPI

    from chatforge.bot import Bot
    from chatforge.config import ServerSettings


@dataclass
class Ui:
    """The app whose parts the page uses, and the session state holding who signed in.

    `who` holds the session's Principal; with no `server.api_keys` it starts as the local
    admin, with keys it stays None until a key is given.
    """

    app: FastAPI
    who: gr.State

    @classmethod
    def start(cls, app: FastAPI) -> Ui:
        """Inside a `gr.Blocks` context: the shared parts, with the session state created."""
        keyring: KeyRing = app.state.keys
        first = None if not keyring.local_only else Principal(LOCAL_USER, admin=True)
        return cls(app, gr.State(first))

    @property
    def bot(self) -> Bot:
        return self.app.state.bot

    @property
    def keyring(self) -> KeyRing:
        return self.app.state.keys

    @property
    def keys(self) -> bool:
        """Whether a key is needed (server.api_keys is set)."""
        return not self.keyring.local_only

    @property
    def server(self) -> ServerSettings:
        return self.app.state.settings.server

    def shown(self, path: str) -> str:
        """A document's path as the page may show it: never the server's absolute path."""
        return public_path(self.bot.folder, path)
