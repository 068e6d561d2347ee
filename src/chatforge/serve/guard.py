"""The checks every request passes before the app sees it.

RequestGuard (outermost, after metrics):
- the Host header must name this server (loopback names, `server.host`, `server.allowed_hosts`;
  any IP address when bound to all interfaces): a web page whose domain an attacker points at
  127.0.0.1 (DNS rebinding) gets a 400, never the conversations;
- a state-changing request (POST, PUT, PATCH, DELETE, or a websocket) from a web page must come
  from the server's own pages or a `server.cors_origins` origin, so a page the user happens to
  visit cannot plant documents or chat in their name; clients without an Origin header (curl,
  SDKs) are not web pages;
- with no `server.cors_origins` there are no CORS headers at all (the web UI's own CORS layer,
  which trusts every localhost origin, is stripped), and a preflight is refused;
- every response gets nosniff, no framing, no referrer, and API responses are not cached.

AuthGate (with API keys): the bearer key of a `/v1` or `/api` request is checked, with the
per-address backoff and per-key rate of the Limiter, before any body is read, so a stranger
cannot make the server read (or parse) a 20 MB upload.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import anyio
import anyio.to_thread
from starlette.datastructures import Headers, MutableHeaders

from chatforge.config import ServerSettings
from chatforge.serve.auth import LOCAL_USER, KeyRing, Principal, admin_required
from chatforge.serve.errors import ApiError, error_response
from chatforge.serve.ratelimit import Limiter

LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
API_PREFIXES = ("/v1", "/api")
ADMIN_ONLY = frozenset({("POST", "/api/documents")})
"""Routes whose body is large and for admins only: refused to user keys before it is read."""

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "content-security-policy": "frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
    "cross-origin-resource-policy": "same-origin",
}


def is_api(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in API_PREFIXES)


def host_name(host: str) -> str:
    """`[::1]:8000` → `::1`, `Example.COM.:80` → `example.com`."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.split(":")[0]
    return host.rstrip(".")


DRAIN_BYTES = 64 * 1024
"""The most of a refused request's body read before answering (see `send_error`)."""


async def send_error(scope: dict, receive: Callable, send: Callable, error: ApiError) -> None:
    """Answer with `error` and close the connection after.

    A small body is read first: closing a socket that still holds unread bytes resets it (TCP
    RST), and the client can lose the answer with it (a refused cross-site POST came back as
    "connection reset" now and then). A body declared larger is left unread, so a refused
    upload costs nothing; the reading stops after a second whatever the client sends."""
    with anyio.move_on_after(1):
        await _drain(scope, receive)
    response = error_response(error)
    response.headers["connection"] = "close"
    await response(scope, receive, send)


async def _drain(scope: dict, receive: Callable) -> None:
    length = Headers(scope=scope).get("content-length", "0")
    if scope["type"] != "http" or not length.isdigit() or int(length) > DRAIN_BYTES:
        return
    read = 0
    while read <= DRAIN_BYTES:
        message = await receive()
        if message["type"] != "http.request":
            return
        read += len(message.get("body", b""))
        if not message.get("more_body"):
            return


class RequestGuard:
    """ASGI middleware: trusted hosts, same-origin changes, CORS off unless configured,
    security headers (see the module docstring)."""

    def __init__(self, app: Any, server: ServerSettings) -> None:
        self.app = app
        bound = host_name(server.host)
        self.hosts = LOOPBACK | {bound} | set(server.allowed_hosts)
        self.any_host = "*" in self.hosts
        self.any_ip = bound in WILDCARD_BINDS
        self.origins = frozenset(server.cors_origins)
        self.cors = bool(self.origins)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        error = self._host_error(headers) or self._origin_error(scope, headers)
        if error is None and not self.cors and _is_preflight(scope, headers):
            error = ApiError(
                403,
                "cross-origin requests are not enabled on this server; list the web page's "
                "origin in server.cors_origins",
                "permission_error",
                "cors_disabled",
            )
        if error is not None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await send_error(scope, receive, self._headed(send, scope), error)
            return
        await self.app(scope, receive, self._headed(send, scope))

    def _host_error(self, headers: Headers) -> ApiError | None:
        given = headers.get("host")
        if given is None or self.any_host:
            return None
        name = host_name(given)
        if name in self.hosts or (self.any_ip and ServerSettings.is_ip(name)):
            return None
        if any(p.startswith("*.") and name.endswith(p[1:]) for p in self.hosts):
            return None
        return ApiError(
            400,
            f"this server does not answer to the host name {name[:100]!r}; open it by its "
            "address (e.g. http://127.0.0.1:PORT), or add the name to server.allowed_hosts",
            code="host_not_allowed",
        )

    def _origin_error(self, scope: dict, headers: Headers) -> ApiError | None:
        if scope["type"] == "http" and scope["method"] not in UNSAFE_METHODS:
            return None
        origin = headers.get("origin")
        if origin is not None:
            if origin.lower() in self.origins or _same_origin(origin, headers.get("host")):
                return None
            shown = origin[:100]
        elif headers.get("sec-fetch-site") in ("cross-site", "same-site"):
            shown = "another site"
        else:
            return None  # not sent by a web page (curl, SDKs) or the server's own page
        return ApiError(
            403,
            f"{scope.get('method', 'websocket')} from {shown!r} refused: only this server's own "
            "pages may change things here; use the page the server serves, or list that "
            "origin in server.cors_origins",
            "permission_error",
            "cross_origin_refused",
        )

    def _headed(self, send: Callable, scope: dict) -> Callable:
        """`send` that adds the security headers (and strips stray CORS ones when off)."""
        api = is_api(scope.get("path", ""))

        async def headed(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if not self.cors:
                    for name in {k for k in headers if k.startswith("access-control-")}:
                        del headers[name]
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if api:
                    headers.setdefault("cache-control", "no-store")
            await send(message)

        return headed


def _is_preflight(scope: dict, headers: Headers) -> bool:
    return (
        scope["type"] == "http"
        and scope["method"] == "OPTIONS"
        and "origin" in headers
        and "access-control-request-method" in headers
    )


def _same_origin(origin: str, host: str | None) -> bool:
    if host is None:
        return False
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:
        return False
    return bool(netloc) and netloc.lower() == host.strip().lower()


class AuthGate:
    """ASGI middleware: the API key of every `/v1` and `/api` request, checked before its body
    is read; the caller goes to the routes as `request.state.principal`."""

    def __init__(self, app: Any, keys: KeyRing, limiter: Limiter) -> None:
        self.app = app
        self.keys = keys
        self.limiter = limiter

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or not is_api(scope["path"]):
            await self.app(scope, receive, send)
            return
        if self.keys.local_only:
            who = Principal(LOCAL_USER, admin=True)
        else:
            token = _bearer(Headers(scope=scope).get("authorization"))
            client = scope["client"][0] if scope.get("client") else "unknown"
            try:
                who = await anyio.to_thread.run_sync(self._admit, token, client)
                route = (scope["method"], scope["path"].rstrip("/"))
                if route in ADMIN_ONLY and not who.admin:
                    raise admin_required()
            except ApiError as e:
                await send_error(scope, receive, send, e)
                return
        scope.setdefault("state", {})["principal"] = who
        await self.app(scope, receive, send)

    def _admit(self, token: str | None, client: str) -> Principal:
        """The key's principal, or ApiError: 401 (no or wrong key), 429 (backoff, rate)."""
        if token is None:
            return self.keys.authenticate(None)  # raises the 401 for a missing key
        wait = self.limiter.signin_wait(client)
        if wait > 0:
            raise _too_many(
                "too many wrong API keys from this address", wait, "server.auth_backoff_max_s"
            )
        try:
            who = self.keys.authenticate(token)
        except ApiError:
            self.limiter.signin_failed(client)
            raise
        self.limiter.signin_ok(client)
        wait = self.limiter.request_wait(who.key_id)
        if wait > 0:
            raise _too_many(
                f"this key made more than {self.limiter.rate_per_minute} requests in a minute",
                wait,
                "server.rate_limit_per_minute",
            )
        return who


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _too_many(what: str, wait: float, setting: str) -> ApiError:
    seconds = max(1, math.ceil(wait))
    return ApiError(
        429,
        f"{what}; retry after {seconds} s ({setting})",
        "rate_limit_error",
        "rate_limited",
        headers={"Retry-After": str(seconds)},
    )
