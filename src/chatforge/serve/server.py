"""`chatforge serve`: run the app on uvicorn, for one process or several workers."""

from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path

from chatforge.config import Settings
from chatforge.errors import ConfigError

log = logging.getLogger("chatforge.serve")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def local_only_warning(host: str, api_keys: list[str]) -> str | None:
    """The warning for a server without keys bound where other machines can reach it."""
    if api_keys or is_loopback(host):
        return None
    return (
        f"no API keys are configured, yet the server listens on {host}: anyone who can reach it "
        "may chat, read every local conversation and change the documents; set "
        "server.api_keys (e.g. CHATFORGE_SERVER__API_KEYS='[\"KEY:alice\"]') or use "
        "--host 127.0.0.1"
    )


def serve(
    folder: Path,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
) -> None:
    """Open the bot, load its models and serve until Ctrl-C."""
    import uvicorn

    settings = Settings.load(folder)
    server = settings.server
    host = host or server.host
    port = port or server.port
    workers = workers or server.workers
    if workers < 1:
        raise ConfigError("--workers must be at least 1")
    server.host = host  # the Host check of every request accepts the address it listens on
    warning = local_only_warning(host, server.api_keys)
    if warning:
        log.warning(warning)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else shown}:{port}"
    config = {
        "host": host,
        "port": port,
        "log_level": "warning",
        "timeout_graceful_shutdown": 5,
        "server_header": False,  # no `server: uvicorn` on every response
    }
    if workers > 1:
        os.environ["CHATFORGE_BOT"] = str(folder.resolve())
        os.environ["CHATFORGE_SERVER__HOST"] = host
        log.info(
            "serving %s with %d workers at %s (API docs at %s/docs)", folder, workers, url, url
        )
        uvicorn.run("chatforge.serve.app:app_from_env", factory=True, workers=workers, **config)
        return
    from chatforge.serve.app import create_app, serving_bot

    log.info("loading the models of %s ...", folder)
    bot = serving_bot(folder, settings)
    app = create_app(bot)
    log.info("serving %s at %s (API docs at %s/docs); Ctrl-C stops", folder, url, url)
    try:
        uvicorn.run(app, **config)
    finally:
        bot.close()
