"""Request limits: body size (before a byte is parsed) and safe upload file names."""

from __future__ import annotations

import contextlib
import json
import re
import unicodedata
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

from chatforge.serve.errors import ApiError, error_body

_UNSAFE = re.compile(r"[^\w.\- ]+", re.UNICODE)
MAX_NAME_CHARS = 120


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: a body above `limit_for(path)` bytes is a 413 JSON error.

    A declared Content-Length is checked before reading; a chunked body is counted as it
    arrives, and whatever the app made of the cut-off body is replaced by the 413.
    """

    def __init__(self, app: Any, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_413(send, limit)
            return
        seen = 0
        over = False
        started = False

        async def counted_receive() -> dict:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    raise _TooLarge
            return message

        async def guarded_send(message: dict) -> None:
            nonlocal started
            if over:
                return  # the app answered a cut-off body; the 413 goes out instead
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, counted_receive, guarded_send)
        if over and not started:
            await _send_413(send, limit)


async def _send_413(send: Callable, limit: int) -> None:
    body = json.dumps(
        error_body(
            f"request body is larger than {_size(limit)}; send less (server.max_body_kb, "
            "server.max_upload_mb)",
            "invalid_request_error",
            "request_too_large",
        )
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:g} MiB" if n >= 1024 * 1024 else f"{n / 1024:g} KiB"


def safe_filename(name: str | None, allowed: list[str]) -> str:
    """The upload's name reduced to a plain file name, or ApiError when it cannot be one.

    Directories (`../../etc/passwd`, `/abs/path`, `C:\\x`) are dropped, leaving the last part;
    NUL bytes and control characters are refused; other odd characters become `_`.
    """
    if not name:
        raise ApiError(400, "an uploaded file has no name; send a file name with each file")
    if "\x00" in name or any(unicodedata.category(c) == "Cc" for c in name):
        raise ApiError(400, "file name contains a NUL byte or control character; rename the file")
    base = PurePosixPath(name.replace("\\", "/")).name
    base = _UNSAFE.sub("_", unicodedata.normalize("NFKC", base)).strip(" .")
    if len(base) > MAX_NAME_CHARS:
        stem, dot, ext = base.rpartition(".")
        base = stem[: MAX_NAME_CHARS - len(ext) - 1] + dot + ext if dot else base[:MAX_NAME_CHARS]
    suffix = PurePosixPath(base).suffix.lower()
    if not base or not PurePosixPath(base).stem:
        raise ApiError(400, f"file name {name!r} has no usable name; rename the file")
    if suffix not in {t.lower() for t in allowed}:
        raise ApiError(
            415,
            f"file type {suffix or '(none)'!s} of {base!r} is not accepted; "
            f"upload one of {', '.join(allowed)} (server.upload_types)",
            code="unsupported_file_type",
        )
    return base
