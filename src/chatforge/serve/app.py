"""The FastAPI app: OpenAI-compatible and native APIs, metrics, and the web UI at `/`.

One process holds one bot (model and store opened once). Answers go through the
GenerationRunner; uploads through the ingestion Jobs. API routes live under /v1, /api, /health,
/metrics, /openapi.json and /docs, so the web UI can own `/`.

Every request passes, outermost first: metrics, the RequestGuard (trusted Host, same-origin
changes, security headers), CORS (only for `server.cors_origins`), the AuthGate (API key,
backoff and rate, before any body is read) and the body size limit. `/docs` is Swagger UI from
the swagger-ui-bundle package, so the page loads nothing from outside the machine; without it
there is no `/docs`, and `/openapi.json` still describes the API.
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
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from chatforge.bot import Bot, open_configured_llm
from chatforge.config import Settings
from chatforge.serve.auth import KeyRing
from chatforge.serve.errors import install_handlers
from chatforge.serve.guard import AuthGate, RequestGuard
from chatforge.serve.jobs import Jobs
from chatforge.serve.limits import BodyLimit
from chatforge.serve.metrics import Metrics
from chatforge.serve.ratelimit import Limiter
from chatforge.serve.runner import GenerationRunner

log = logging.getLogger("chatforge.serve")

UPLOAD_OVERHEAD = 256 * 1024
"""Multipart framing allowed on top of server.max_upload_mb."""
API_VERSION = "1"
"""The API's version in /openapi.json (not the package's, which readers need not know)."""
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)
UPLOAD_PATHS = ("/api/documents", "/gradio_api/upload")
"""Where files are uploaded (the API, the web UI): limited by server.max_upload_mb."""


def create_app(bot: Bot, runner: GenerationRunner | None = None, *, ui: bool = True) -> FastAPI:
    """The server for one bot. `runner` defaults to one sized by server.max_queue and .parallel.

    `ui=False` leaves the web UI out (an API-only server starts faster).
    """
    from chatforge.serve import native, openai_api

    settings = bot.settings
    server = settings.server
    keys = KeyRing(server.api_keys)
    if settings.store.backend == "sqlite":
        limiter = Limiter.for_store(
            bot.store.db, server.rate_limit_per_minute, server.auth_backoff_max_s
        )
    else:  # PostgreSQL bots: shared by this host's processes only (docs/scaling.md)
        limiter = Limiter(
            bot.data_dir / "limits.db",
            rate_per_minute=server.rate_limit_per_minute,
            backoff_max_s=server.auth_backoff_max_s,
        )
    runner = runner or GenerationRunner(
        bot,
        max_queue=server.max_queue,
        workers=server.parallel,
        limiter=limiter,
        per_user=0 if keys.local_only else server.max_queue_per_user,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        yield
        app.state.jobs.close()
        runner.close()
        limiter.close()

    app = FastAPI(
        title="chatforge",
        version=API_VERSION,
        summary=f"The bot {bot.folder.name!r}: an OpenAI-compatible API and chatforge's own API",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.bot = bot
    app.state.runner = runner
    app.state.settings = settings
    app.state.keys = keys
    app.state.limiter = limiter
    app.state.jobs = Jobs(bot, runner.retrieval)
    app.state.metrics = Metrics(runner)
    app.state.started = time.time()
    install_handlers(app)
    app.include_router(openai_api.router)
    app.include_router(native.router)
    app.include_router(native.public)
    _mount_docs(app)

    body_limit = server.max_body_kb * 1024
    upload_limit = int(server.max_upload_mb * 1024 * 1024) + UPLOAD_OVERHEAD

    def limit_for(path: str) -> int:
        return upload_limit if path.rstrip("/") in UPLOAD_PATHS else body_limit

    app.add_middleware(BodyLimit, limit_for=limit_for)
    app.add_middleware(AuthGate, keys=keys, limiter=limiter)
    if server.cors_origins:  # its presence also turns the web UI's own CORS layer off
        app.add_middleware(
            CORSMiddleware,
            allow_origins=server.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["Retry-After", "Location"],
        )
    app.add_middleware(RequestGuard, server=server)
    app.add_middleware(_MetricsMiddleware, metrics=app.state.metrics)
    if ui:
        _mount_ui(app)
    return app


class _MetricsMiddleware:
    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.wrapped = metrics.middleware(app)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        await self.wrapped(scope, receive, send)


def _mount_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the swagger-ui-bundle package's files, when it is installed."""
    if importlib.util.find_spec("swagger_ui_bundle") is None:
        log.info("swagger-ui-bundle is not installed: no /docs (/openapi.json describes the API)")
        return
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs/assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},
        )
        page.headers["content-security-policy"] = DOCS_CSP
        return page


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
