"""Who a UI event acts for, and who may upload files to the UI.

Each browser tab is a Gradio session whose state holds its Principal once a key was given
(with no keys, the local admin from the start). Hiding the page's panels is not enough: anyone
can call any event over Gradio's HTTP API (`/gradio_api/queue/join`, `/gradio_api/call/<name>`)
from a session that never signed in. So every event handler is wrapped by `signed_in`, which
refuses the event unless the session holds a principal, and an admin one where asked.

Files reach `/gradio_api/upload` before any event and outside any session. An admin's session
is given an upload pass (a signed, expiring cookie) when it signs in, and `UploadGuard` refuses
uploads without a valid pass while keys are configured. The pass is signed with a secret
derived from the configured keys, so every worker process accepts the passes of the others
and no one without an admin key can make one.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import inspect
import time
from collections.abc import Callable
from contextlib import aclosing
from typing import Any

import gradio as gr
from starlette.requests import Request
from starlette.responses import PlainTextResponse

from chatforge.serve.auth import Principal

NOT_SIGNED_IN = "Sign in with your API key first."
ADMIN_ONLY = "Only an admin key may add documents."
UPLOAD_PATH = "/gradio_api/upload"
PASS_COOKIE = "chatforge-upload"
PASS_SECONDS = 12 * 3600


def signed_in(fn: Callable | None = None, *, admin: bool = False) -> Any:
    """Decorate a panel's event handler `fn(self, who, ...)`, `who` being the session state.

    The event is refused (a Gradio error, shown as a toast) unless `who` is a Principal, and an
    admin one with `admin=True`. Works for plain and async-generator handlers.
    """
    if fn is None:
        return functools.partial(signed_in, admin=admin)

    def check(who: object) -> None:
        if not isinstance(who, Principal):
            raise gr.Error(NOT_SIGNED_IN)
        if admin and not who.admin:
            raise gr.Error(ADMIN_ONLY)

    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def guarded_stream(self: object, who: object, *args: Any) -> Any:
            check(who)
            async with aclosing(fn(self, who, *args)) as stream:
                async for update in stream:
                    yield update

        return guarded_stream

    @functools.wraps(fn)
    def guarded(self: object, who: object, *args: Any) -> Any:
        check(who)
        return fn(self, who, *args)

    return guarded


class UploadPasses:
    """Upload passes for admins: `<user>.<expiry>.<signature>`, checked without stored state."""

    def __init__(self, api_keys: list[str]) -> None:
        material = "\0".join(sorted(api_keys)).encode()
        self._secret = hashlib.sha256(b"chatforge upload pass\0" + material).digest()

    def issue(self, user: str, now: float | None = None) -> str:
        name = base64.urlsafe_b64encode(user.encode()).decode().rstrip("=")
        body = f"{name}.{int((now or time.time()) + PASS_SECONDS)}"
        return f"{body}.{self._sign(body)}"

    def valid(self, token: str | None, now: float | None = None) -> bool:
        """Whether `token` is a pass this server issued and it has not expired."""
        body, _, signature = (token or "").rpartition(".")
        if not body or not hmac.compare_digest(signature, self._sign(body)):
            return False
        expiry = body.rpartition(".")[2]
        return expiry.isdigit() and int(expiry) > (now or time.time())

    def _sign(self, body: str) -> str:
        return hmac.new(self._secret, body.encode(), hashlib.sha256).hexdigest()


def pass_cookie_js() -> str:
    """Browser code that stores the upload pass given to it as a cookie, or clears it."""
    return (
        "(pass) => { const secure = location.protocol === 'https:' ? '; Secure' : '';"
        f" document.cookie = '{PASS_COOKIE}=' + (pass || '') + '; path=/; SameSite=Strict;"
        f" max-age=' + (pass ? {PASS_SECONDS} : 0) + secure; }}"
    )


class UploadGuard:
    """ASGI middleware: with keys, `POST /gradio_api/upload` needs a valid admin upload pass."""

    def __init__(self, app: Any, passes: UploadPasses | None) -> None:
        self.app = app
        self.passes = passes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if (
            self.passes is not None
            and scope["type"] == "http"
            and scope["path"].rstrip("/").endswith(UPLOAD_PATH)
            and not self.passes.valid(Request(scope).cookies.get(PASS_COOKIE))
        ):
            refusal = PlainTextResponse(
                "sign in with an admin key to add documents", status_code=401
            )
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)
