"""Client for any OpenAI-compatible ``/v1/chat/completions`` server.

vLLM, TGI, llama.cpp's server, llama-cpp-python's server and Ollama all speak it. Streaming reads
server-sent events (httpx-sse). Connection errors and 5xx answers are retried a few times with
exponential backoff (tenacity) before giving up with one clear :class:`ModelError` line.

The server applies the model's chat template, so token counts here are the server's ``usage``
when it reports one (streams ask for it with ``stream_options.include_usage``). Otherwise they
are estimates: ``count_tokens`` is about four characters per token, and a stream's completion
tokens are its number of content events (servers send about one token per event).
``format_chat`` is a plain transcript, good only for budgeting with that estimate.
"""

from __future__ import annotations

import json
import os
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
from httpx_sse import EventSource, SSEError
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from chatforge.errors import ModelError
from chatforge.llm.base import (
    GREEDY,
    LLM,
    FinishReason,
    Generation,
    GenOptions,
    Message,
    estimate_tokens,
    format_plain,
)


class _Retryable(Exception):
    """A 5xx answer: the server is there but failing, maybe only for now."""


def _retryable(e: BaseException) -> bool:
    return isinstance(e, httpx.TransportError | _Retryable)


def _reason(e: BaseException) -> str:
    text = str(e) or type(e).__name__
    if "refused" in text.lower():
        return "connection refused"
    return text.splitlines()[0]


def api_base(url: str) -> str:
    """``http://host:8000``, ``.../v1`` or ``.../v1/chat/completions`` → ``http://host:8000/v1``."""
    url = url.rstrip("/")
    for tail in ("/chat/completions", "/completions"):
        url = url.removesuffix(tail)
    return url if url.endswith("/v1") else f"{url}/v1"


class OpenAIHTTPLLM(LLM):
    """A model behind an OpenAI-compatible HTTP server."""

    def __init__(
        self,
        url: str,
        model: str | None = None,
        *,
        context_window: int = 4096,
        api_key: str | None = None,
        timeout: float = 120.0,
        retries: int = 3,
    ) -> None:
        self.base = api_base(url)
        self.remote_model = model
        self.name = model or self.base
        self.context_window = context_window
        self.retries = retries
        key = api_key or os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(
            headers=headers, timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0))
        )

    def close(self) -> None:
        self._client.close()

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def format_chat(self, messages: Sequence[Message]) -> str:
        return format_plain(messages)

    def _fail(self, e: BaseException) -> ModelError:
        if isinstance(e, _Retryable):
            return ModelError(f"{self.base} keeps failing ({e}); check the server's log")
        return ModelError(
            f"cannot reach {self.base}: {_reason(e)}; start the server or fix llm.model"
        )

    @contextmanager
    def _post(self, payload: dict[str, Any]) -> Iterator[httpx.Response]:
        """POST to /chat/completions, retrying what may pass; yield the open 2xx response."""
        url = f"{self.base}/chat/completions"

        def send() -> httpx.Response:
            request = self._client.build_request("POST", url, json=payload)
            response = self._client.send(request, stream=True)
            if response.status_code >= 500:
                body = response.read().decode(errors="replace")[:200]
                response.close()
                raise _Retryable(f"HTTP {response.status_code} {body}".strip())
            if response.status_code >= 400:
                body = response.read().decode(errors="replace")[:300]
                response.close()
                raise ModelError(
                    f"{url} refused the request (HTTP {response.status_code}): {body}; "
                    "check llm.remote_model and the server's model name"
                )
            return response

        retrying = Retrying(
            stop=stop_after_attempt(max(self.retries, 1)),
            wait=wait_exponential(multiplier=0.25, max=2.0),
            retry=retry_if_exception(_retryable),
        )
        try:
            response = retrying(send)
        except RetryError as e:
            raise self._fail(e.last_attempt.exception() or e) from None
        try:
            yield response
        finally:
            response.close()

    def _payload(
        self, messages: Sequence[Message], options: GenOptions, stream: bool
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.remote_model or "default",
            "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
            "max_tokens": options.max_tokens,
            "temperature": options.temperature,
            "top_p": options.top_p,
            "stream": stream,
        }
        if options.stop:
            payload["stop"] = list(options.stop)
        if options.seed is not None:
            payload["seed"] = options.seed
        if options.json_schema is not None:
            schema = {"name": "reply", "schema": json.loads(options.json_schema), "strict": True}
            payload["response_format"] = {"type": "json_schema", "json_schema": schema}
        if stream:
            payload["stream_options"] = {"include_usage": True}
        return payload

    def generate(self, messages: Sequence[Message], options: GenOptions = GREEDY) -> Generation:
        """One non-streamed request, so the server's exact usage comes back."""
        payload = self._payload(messages, options, False)
        with self._post(payload) as response:
            try:
                data = json.loads(response.read())
                choice = data["choices"][0]
                text = choice["message"].get("content") or ""
            except (ValueError, KeyError, IndexError, httpx.HTTPError) as e:
                raise ModelError(f"{self.base} sent a malformed answer: {_reason(e)}") from e
        usage = data.get("usage") or {}
        finish: FinishReason = "length" if choice.get("finish_reason") == "length" else "stop"
        return Generation(
            text,
            usage.get("prompt_tokens") or self.count_chat_tokens(messages),
            usage.get("completion_tokens") or estimate_tokens(text),
            finish,
        )

    def _generate(
        self, messages: Sequence[Message], options: GenOptions
    ) -> Generator[str, None, Generation]:
        payload = self._payload(messages, options, True)
        parts: list[str] = []
        usage: dict[str, int] = {}
        events = 0
        finish: FinishReason = "stop"
        with self._post(payload) as response:
            try:
                for sse in EventSource(response).iter_sse():
                    if sse.data.strip() == "[DONE]":
                        break
                    chunk = json.loads(sse.data)
                    usage = chunk.get("usage") or usage
                    for choice in chunk.get("choices") or []:
                        if choice.get("finish_reason") == "length":
                            finish = "length"
                        piece = (choice.get("delta") or {}).get("content")
                        if piece:
                            events += 1
                            parts.append(piece)
                            yield piece
            except (SSEError, ValueError, httpx.HTTPError) as e:
                raise ModelError(f"{self.base} broke off the stream: {_reason(e)}") from e
        return Generation(
            "".join(parts),
            usage.get("prompt_tokens") or self.count_chat_tokens(messages),
            usage.get("completion_tokens") or events,
            finish,
        )
