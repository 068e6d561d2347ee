"""Every error the server answers is JSON in OpenAI's shape: {"error": {message, type, code}}.

OpenAI clients read that shape, and the message names what is wrong and how to fix it. Bad
input is a 4xx; a 5xx means a bug in chatforge (logged with its traceback, never shown).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from chatforge.errors import ChatforgeError

log = logging.getLogger("chatforge.serve")

RETRY_AFTER_S = 2
NOT_UNICODE_MESSAGE = (
    "contains a lone surrogate (such as \\ud800), which is not Unicode text; send UTF-8 text"
)


class ApiError(Exception):
    """An HTTP error with a message for the client."""

    def __init__(
        self,
        status: int,
        message: str,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = (
            status,
            message,
            type,
            code,
            param,
        )
        self.headers = headers


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: str | None = None
    param: str | None = None


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


def error_body(
    message: str,
    type: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "code": code, "param": param}}


def error_response(e: ApiError) -> JSONResponse:
    return JSONResponse(
        error_body(e.message, e.type, e.code, e.param), status_code=e.status, headers=e.headers
    )


def from_chatforge(e: ChatforgeError) -> ApiError:
    """A user-caused chatforge error as HTTP: busy is 503 (retry later), a user over their
    share of answers 429, anything else 400."""
    from chatforge.serve.runner import Busy, UserBusy

    retry = {"Retry-After": str(RETRY_AFTER_S)}
    if isinstance(e, UserBusy):
        return ApiError(429, str(e), "rate_limit_error", "too_many_answers", headers=retry)
    if isinstance(e, Busy):
        return ApiError(503, str(e), "server_busy", "busy", headers=retry)
    return ApiError(400, str(e))


def field_path(loc: Any) -> str:
    """`("body", "messages", 1, "content")` as `messages[1].content`."""
    path = ""
    for part in loc:
        if part == "body" and not path:
            continue
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path


NOT_UNICODE = ("lone_surrogate", "string_unicode")
"""Text that is not Unicode: found by RequestModel, or by pydantic in a constrained str."""


def describe_validation(e: RequestValidationError) -> ApiError:
    """One line naming the first bad field, e.g. `messages[0].role: Input should be 'user'...`.

    Text that is not Unicode is named first, whichever member of a union the error came from.
    """
    errors = e.errors() or [{"loc": (), "msg": "invalid request", "type": ""}]
    first = next((x for x in errors if x.get("type") in NOT_UNICODE), errors[0])
    where = field_path(first.get("loc", ()))
    kind = first.get("type", "")
    ctx = first.get("ctx") or {}
    if kind == "string_unicode":
        return ApiError(400, f"{where}: {NOT_UNICODE_MESSAGE}", param=where)
    if kind == "json_invalid":
        return ApiError(
            400, f"the request body is not valid JSON ({ctx.get('error', '')}); send a JSON object"
        )
    if kind == "missing" and not where:
        return ApiError(400, "the request body is missing; send a JSON object")
    if kind == "lone_surrogate":
        where = f"{where}.{ctx['field']}" if where else ctx["field"]
        return ApiError(400, f"{where}: {NOT_UNICODE_MESSAGE}", param=where)
    msg = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    return ApiError(400, f"{where or 'request'}: {msg}", param=where or None)


# One short, fixed description per status for the OpenAPI document.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "bad input: the message says what to fix"},
    401: {"model": ErrorBody, "description": "missing or invalid API key"},
    403: {"model": ErrorBody, "description": "the key may not do this, or a cross-site request"},
    404: {"model": ErrorBody, "description": "no such thing (for this user)"},
    413: {"model": ErrorBody, "description": "request body or upload too large"},
    429: {"model": ErrorBody, "description": "too many requests or wrong keys; see Retry-After"},
}


def install_handlers(app: FastAPI) -> None:
    """Map every failure to the JSON error shape."""

    @app.exception_handler(ApiError)
    async def _api(_: Request, e: ApiError) -> JSONResponse:
        return error_response(e)

    @app.exception_handler(ChatforgeError)
    async def _chatforge(_: Request, e: ChatforgeError) -> JSONResponse:
        return error_response(from_chatforge(e))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, e: RequestValidationError) -> JSONResponse:
        return error_response(describe_validation(e))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, e: HTTPException) -> JSONResponse:
        if e.status_code == 404:
            message = f"no route {request.url.path}; see /docs for the API"
        elif e.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}; see /docs"
        else:
            message = str(e.detail)
        return error_response(ApiError(e.status_code, message, headers=e.headers))

    @app.exception_handler(Exception)
    async def _bug(request: Request, e: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error_response(
            ApiError(500, "internal server error; the server log has the details", "server_error")
        )
