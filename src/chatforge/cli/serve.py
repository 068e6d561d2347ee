"""`chatforge serve`: the HTTP server (OpenAI-compatible API, native API, web UI)."""

from __future__ import annotations

from typing import Annotated

import typer

from chatforge.cli.common import BotOpt


def serve(
    bot: BotOpt = None,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: server.host).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: server.port, 8000).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Server processes, each with its own models.")
    ] = None,
) -> None:
    """Serve the bot over HTTP: OpenAI-compatible API, native API and web UI."""
    from chatforge.folders import find_bot_dir
    from chatforge.serve.server import serve as run

    run(find_bot_dir(bot), host, port, workers)
