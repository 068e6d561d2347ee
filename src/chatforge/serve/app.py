"""The FastAPI app: OpenAI-compatible and native APIs, metrics, and the web UI at `/`.

One process holds one bot (model and store opened once). Answers go through the
GenerationRunner; uploads through the ingestion Jobs. API routes live under /v1, /api, /health,
/metrics, /openapi.json and /docs, so the web UI can own `/`.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from chatforge.bot import Bot, open_configured_llm
from chatforge.config import Settings
from chatforge.serve.auth import KeyRing
from chatforge.serve.errors import install_handlers
from chatforge.serve.jobs import Jobs
from chatforge.serve.limits import BodyLimit
from chatforge.serve.metrics import Metrics
from chatforge.serve.runner import GenerationRunner

log = logging.getLogger("chatforge.serve")

UPLOAD_OVERHEAD = 256 * 1024
"""Multipart framing allowed on top of server.max_upload_mb."""
UPLOAD_PATHS = ("/api/documents", "/gradio_api/upload")
"""Where files are uploaded (the API, the web UI): limited by server.max_upload_mb."""


def create_app(bot: Bot, runner: GenerationRunner | None = None, *, ui: bool = True) -> FastAPI:
    """The server for one bot. `runner` defaults to one sized by server.max_queue and .parallel.

    `ui=False` leaves the web UI out (an API-only server starts faster).
    """
    from chatforge.serve import native, openai_api

    settings = bot.settings
    server = settings.server
    runner = runner or GenerationRunner(bot, max_queue=server.max_queue, workers=server.parallel)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        yield
        app.state.jobs.close()
        runner.close()

    app = FastAPI(
        title="chatforge",
        version=_version(),
        summary=f"The bot {bot.folder.name!r}: an OpenAI-compatible API and chatforge's own API",
        lifespan=lifespan,
    )
    app.state.bot = bot
    app.state.runner = runner
    app.state.settings = settings
    app.state.keys = KeyRing(server.api_keys)
    app.state.jobs = Jobs(bot, runner.retrieval)
    app.state.metrics = Metrics(runner)
    app.state.started = time.time()
    install_handlers(app)
    app.include_router(openai_api.router)
    app.include_router(native.router)
    app.include_router(native.public)

    body_limit = server.max_body_kb * 1024
    upload_limit = int(server.max_upload_mb * 1024 * 1024) + UPLOAD_OVERHEAD

    def limit_for(path: str) -> int:
        return upload_limit if path.rstrip("/") in UPLOAD_PATHS else body_limit

    app.add_middleware(BodyLimit, limit_for=limit_for)
    app.add_middleware(_MetricsMiddleware, metrics=app.state.metrics)
    if ui:
        _mount_ui(app)
    return app


class _MetricsMiddleware:
    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.wrapped = metrics.middleware(app)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        await self.wrapped(scope, receive, send)


def _mount_ui(app: FastAPI) -> None:
    """Mount the web UI at `/` when gradio and the UI module are installed."""
    if importlib.util.find_spec("gradio") is None:
        log.info("gradio is not installed: serving the API only (pip install 'chatforge[serve]')")
        return
    if importlib.util.find_spec("chatforge.serve.ui") is None:
        log.info("no web UI module in this installation: serving the API only")
        return
    from chatforge.serve.ui import mount_ui

    mount_ui(app)


def app_from_env() -> FastAPI:
    """App factory for `uvicorn --factory` and worker processes: the bot is $CHATFORGE_BOT."""
    folder = os.environ.get("CHATFORGE_BOT")
    if not folder:
        raise RuntimeError("set CHATFORGE_BOT to the bot folder to serve")
    return create_app(serving_bot(Path(folder)))


def serving_bot(folder: Path, settings: Settings | None = None) -> Bot:
    """The bot in `folder` with its models loaded now, so the first request does not wait.

    The chat model is opened with ``server.parallel`` slots, so that many answers are written
    together (llama.cpp; other backends take them in turn).
    """
    settings = settings or Settings.load(folder)
    server = settings.server
    llm = open_configured_llm(settings, slots=server.parallel, prompt_cache=server.prompt_cache)
    bot = Bot(folder, settings, llm=llm)
    _ = bot.embedder.dim, bot.store.chunk_count()
    return bot


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("chatforge")
    except PackageNotFoundError:
        return "0"
