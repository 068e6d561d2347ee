"""API keys: who a request is, and whether they may manage documents.

Keys come from `server.api_keys` as `KEY:USER` or `KEY:USER:admin`, each key at least 16
characters (shorter ones are refused at start: a short key can be guessed). A request's bearer
token is compared with every key in constant time (`hmac.compare_digest`), so timing says
nothing about how close a guess was. Keys are never logged or echoed in errors. With no keys
configured the server is in local-only mode: everyone is the admin user `local`.

The key is checked by the `guard.AuthGate` middleware before any body is read; routes read
the caller from `request.state.principal` through the `principal` dependency.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from chatforge.config import ServerSettings
from chatforge.errors import ConfigError
from chatforge.serve.errors import ApiError

LOCAL_USER = "local"


@dataclass(frozen=True)
class Principal:
    """The user a request acts as; admins may also manage documents and act for other users.

    `key_id` names the key (a hash, never the key) for per-key limits; empty in local-only mode.
    """

    user: str
    admin: bool
    key_id: str = ""


@dataclass(frozen=True)
class _Key:
    secret: bytes
    principal: Principal


class KeyRing:
    """The configured keys, parsed once; ConfigError for a malformed or short key."""

    def __init__(self, entries: list[str]) -> None:
        self._keys: list[_Key] = []
        for entry in entries:
            problem = ServerSettings.key_problem(entry)
            if problem:
                raise ConfigError(f"setting `server.api_keys`: {problem}")
            key, user, *role = entry.split(":")
            key_id = hashlib.sha256(key.encode()).hexdigest()[:16]
            self._keys.append(_Key(key.encode(), Principal(user, role == ["admin"], key_id)))

    @property
    def local_only(self) -> bool:
        return not self._keys

    def authenticate(self, token: str | None) -> Principal:
        """The principal for a bearer token; ApiError 401 when it is missing or matches no key."""
        if self.local_only:
            return Principal(LOCAL_USER, admin=True)
        if not token:
            raise ApiError(
                401,
                "missing API key; send the header `Authorization: Bearer <key>`",
                "authentication_error",
                "missing_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        given = token.encode("utf-8", "surrogatepass")
        found: Principal | None = None
        for key in self._keys:  # no early exit: every key is compared every time
            if hmac.compare_digest(given, key.secret) and found is None:
                found = key.principal
        if found is None:
            raise ApiError(
                401,
                "invalid API key; check the key, or ask the server's admin for one",
                "authentication_error",
                "invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return found


_bearer = HTTPBearer(auto_error=False, description="an API key from server.api_keys")


def principal(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
) -> Principal:
    """FastAPI dependency: the caller, as the auth gate found it (else from the header)."""
    known = getattr(request.state, "principal", None)
    if known is not None:
        return known
    keys: KeyRing = request.app.state.keys
    return keys.authenticate(credentials.credentials if credentials else None)


def admin(who: Principal = Depends(principal)) -> Principal:  # noqa: B008
    """FastAPI dependency: the caller, who must hold an admin key."""
    if not who.admin:
        raise admin_required()
    return who


def admin_required() -> ApiError:
    return ApiError(
        403,
        "this needs an admin key (KEY:USER:admin in server.api_keys); "
        "user keys may chat, search and manage their own conversations and memories",
        "permission_error",
        "admin_required",
    )
