"""The OpenAI-compatible API: /v1/chat/completions, /v1/embeddings, /v1/models.

Existing OpenAI clients work unchanged. Answers are retrieval-augmented; the passages come back
in an extra `chatforge` field (sources, conversation_id, ...) that standard clients ignore.
The conversation is the client's: earlier turns in `messages` become the history.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse

from chatforge.bot import Bot
from chatforge.chat.answer import Answer
from chatforge.config import ServerSettings
from chatforge.errors import ChatforgeError
from chatforge.serve import tools_api
from chatforge.serve.auth import Principal, principal
from chatforge.serve.errors import ERROR_RESPONSES, ApiError, error_body, from_chatforge
from chatforge.serve.paths import public_hit
from chatforge.serve.runner import GenerationRunner
from chatforge.serve.text import RequestModel

log = logging.getLogger("chatforge.serve")
router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"], responses=ERROR_RESPONSES)

MAX_EMBED_INPUTS = 2048
MAX_EMBED_CHARS = 32_000
MAX_STOP = 4


# -- request and response models ------------------------------------------------------------


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class ChatMessage(tools_api.ToolMessage):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text for p in self.content)
        return self.content or ""


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatforgeOptions(BaseModel):
    """chatforge's own request options, sent as `chatforge` (extra_body in the openai package)."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: str | None = Field(
        None,
        max_length=64,
        description="store the turn in this conversation of the caller (its stored history is "
        "used when `messages` holds only the new question)",
    )


class ChatCompletionRequest(RequestModel, tools_api.ToolRequest):
    """OpenAI's chat completion request; fields chatforge does not use are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(description="`default` or the bot's chat model (see /v1/models)")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    n: int = Field(1, ge=1, le=1, description="only one choice is generated")
    user: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="the end user; admin keys may answer for any user, user keys only for "
        "themselves",
    )
    chatforge: ChatforgeOptions | None = None


class PromptTokensDetails(BaseModel):
    cached_tokens: int = Field(description="prompt tokens taken from the prompt cache, not read")


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails


class ResponseMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None
    tool_calls: list[tools_api.ToolCall] | None = None


class Choice(BaseModel):
    index: int = 0
    message: ResponseMessage
    finish_reason: Literal["stop", "length", "tool_calls"]
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    chatforge: dict[str, Any] = Field(
        description="sources (numbered passages, cited, verified), conversation_id, message_id, "
        "timings, query, interrupted, mode, unsupported (sentences no passage supports), "
        "replaced (the content is the best passage's quote), edited (the answer differs from "
        "the deltas streamed) and then text (the answer for a stream to show instead)"
    )


class EmbeddingRequest(RequestModel):
    model_config = ConfigDict(extra="ignore")

    model: str = Field(description="`default` or the bot's embedding model")
    input: str | list[str] = Field(description="a text or a list of texts")
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1)
    user: str | None = None


class Embedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "chatforge"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


# -- helpers -----------------------------------------------------------------------------------


def _bot(request: Request) -> Bot:
    return request.app.state.bot


def _models(request: Request) -> dict[str, str]:
    """Known model names -> kind (chat or embedding)."""
    bot = _bot(request)
    return {bot.llm.name: "chat", bot.settings.embed.model: "embedding"}


def _model_not_found(name: str, kind: str, request: Request) -> ApiError:
    known = [n for n, k in _models(request).items() if k == kind]
    return ApiError(
        404,
        f"the model {name!r} does not exist here; use `default` or {', '.join(known)} "
        "(see /v1/models)",
        "invalid_request_error",
        "model_not_found",
        "model",
    )


def _check_model(name: str, kind: str, request: Request) -> str:
    """The served name of the requested model; `default` is the bot's own."""
    models = _models(request)
    if name == "default":
        return next(n for n, k in models.items() if k == kind)
    if models.get(name) != kind:
        raise _model_not_found(name, kind, request)
    return name


def _acting_user(who: Principal, requested: str | None) -> str:
    if requested is None or requested == who.user:
        return who.user
    if not who.admin:
        raise ApiError(
            403,
            f"a user key answers only for its own user ({who.user!r}); leave out `user`",
            "permission_error",
            "user_mismatch",
            "user",
        )
    return requested


def _split_messages(
    messages: list[ChatMessage],
) -> tuple[str, list[tuple[str, str]]]:
    """The question (last user message) and earlier (user, assistant) pairs."""
    if messages[-1].role != "user":
        raise ApiError(
            400, "the last message must have role `user` (the question)", param="messages"
        )
    question = messages[-1].text()
    history: list[tuple[str, str]] = []
    pending: str | None = None
    for m in messages[:-1]:
        if m.role == "user":
            pending = m.text()
        elif m.role == "assistant" and pending is not None:
            history.append((pending, m.text()))
            pending = None
    return question, history


def _gen_options(req: ChatCompletionRequest, cap: int) -> dict[str, Any]:
    max_tokens = req.max_completion_tokens or req.max_tokens
    if max_tokens is not None and max_tokens > cap:
        raise ApiError(
            400,
            f"max_tokens {max_tokens} is above this server's cap of {cap} (server.max_tokens); "
            "ask for fewer",
            param="max_tokens",
        )
    stop = [req.stop] if isinstance(req.stop, str) else req.stop
    if stop is not None and (len(stop) > MAX_STOP or not all(stop)):
        raise ApiError(400, f"stop takes 1 to {MAX_STOP} non-empty strings", param="stop")
    return {
        "max_tokens": max_tokens,
        "temperature": req.temperature,
        "top_p": req.top_p,
        "stop": stop,
        "seed": req.seed,
    }


def _extension(answer: Answer, bot: Bot) -> dict[str, Any]:
    d = answer.to_dict()
    keys = ("conversation_id", "message_id", "timings", "query", "interrupted", "mode")
    return {
        "sources": [public_hit(bot.folder, s) for s in d["sources"]],
        **{k: d[k] for k in (*keys, "unsupported", "replaced", "edited", "steps", "limit")},
        "text": d["text"] if answer.edited else None,
    }


def _usage(answer: Answer) -> dict[str, Any]:
    p, c = answer.usage["prompt_tokens"], answer.usage["completion_tokens"]
    cached = {"cached_tokens": answer.usage.get("cached_tokens", 0)}
    return {
        "prompt_tokens": p,
        "completion_tokens": c,
        "total_tokens": p + c,
        "prompt_tokens_details": cached,
    }


def _finish_reason(answer: Answer, max_tokens: int) -> Literal["stop", "length"]:
    return "length" if answer.usage["completion_tokens"] >= max_tokens else "stop"


# -- routes --------------------------------------------------------------------------------


@router.get("/models", response_model=ModelList, summary="The bot's chat and embedding models")
def list_models(request: Request, _: Principal = Depends(principal)) -> dict[str, Any]:  # noqa: B008
    created = int(request.app.state.started)
    return {
        "object": "list",
        "data": [{"id": n, "object": "model", "created": created} for n in _models(request)],
    }


@router.get("/models/{model}", response_model=Model, summary="One model")
def get_model(
    model: str,
    request: Request,
    _: Principal = Depends(principal),  # noqa: B008
) -> dict[str, Any]:
    if model != "default" and model not in _models(request):
        raise _model_not_found(model, "chat", request)
    name = _check_model(model, "chat", request) if model == "default" else model
    return {"id": name, "object": "model", "created": int(request.app.state.started)}


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    summary="A grounded answer, whole or streamed as server-sent events",
    responses={
        200: {"content": {"text/event-stream": {}}},
        503: {"description": "too many answers waiting; retry after Retry-After seconds"},
    },
)
async def chat_completions(
    req: ChatCompletionRequest,
    request: Request,
    who: Principal = Depends(principal),  # noqa: B008
) -> Any:
    app = request.app
    server: ServerSettings = app.state.settings.server
    bot = _bot(request)
    model = _check_model(req.model, "chat", request)
    if len(req.messages) > server.max_messages:
        raise ApiError(
            400,
            f"{len(req.messages)} messages is more than this server's cap of "
            f"{server.max_messages} (server.max_messages); send fewer earlier turns",
            param="messages",
        )
    user = _acting_user(who, req.user)
    gen = _gen_options(req, server.max_tokens)
    max_tokens = gen["max_tokens"] or bot.settings.llm.max_tokens
    runner: GenerationRunner = app.state.runner
    if tools_api.uses_tools(req):  # the client's own agent loop
        tool_gen = {**gen, "max_tokens": max_tokens}
        return await tools_api.tool_completion(req, bot.llm, runner, who.user, tool_gen, model)
    question, history = _split_messages(req.messages)
    conversation_id = req.chatforge.conversation_id if req.chatforge else None
    if conversation_id is not None:
        try:
            await run_in_threadpool(bot.conversations.get, conversation_id, user)
        except ChatforgeError as e:
            raise ApiError(404, str(e), code="conversation_not_found", param="chatforge") from e
        if not history and len(req.messages) == 1:
            history = None  # the stored conversation supplies it
    started = time.perf_counter()
    stream = await runner.stream(
        question,
        user=user,
        conversation_id=conversation_id,
        history=history,
        owner=who.user,
        **gen,
    )
    app.state.metrics.first_token.labels("openai").observe(time.perf_counter() - started)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    if req.stream:
        include_usage = bool(req.stream_options and req.stream_options.include_usage)
        events = _sse(stream, bot, completion_id, created, model, max_tokens, include_usage)
        return EventSourceResponse(events, sep="\n", ping=15)
    answer: Answer | None = None
    async with contextlib.aclosing(stream):
        async for item in stream:
            if isinstance(item, Answer):
                answer = item
            elif await request.is_disconnected():
                break  # closing the stream cancels the answer
    if answer is None:
        raise ApiError(499, "the client went away", "client_closed")
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.text},
                "finish_reason": _finish_reason(answer, max_tokens),
                "logprobs": None,
            }
        ],
        "usage": _usage(answer),
        "chatforge": _extension(answer, bot),
    }


async def _sse(
    stream: AsyncIterator[str | Answer],
    bot: Bot,
    completion_id: str,
    created: int,
    model: str,
    max_tokens: int,
    include_usage: bool,
) -> AsyncIterator[str]:
    """OpenAI's chunk sequence: role first, then content deltas, finish, usage, [DONE]."""

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }
        if include_usage:
            body["usage"] = None
        body.update(extra)
        return json.dumps(body, ensure_ascii=False)

    async with contextlib.aclosing(stream):
        yield chunk({"role": "assistant", "content": ""})
        try:
            async for item in stream:
                if isinstance(item, Answer):
                    extension = _extension(item, bot)
                    yield chunk({}, _finish_reason(item, max_tokens), chatforge=extension)
                    if include_usage:
                        body = json.loads(chunk({}))
                        body["choices"], body["usage"] = [], _usage(item)
                        yield json.dumps(body)
                elif item:
                    yield chunk({"content": item})
        except ChatforgeError as e:
            err = from_chatforge(e)
            yield json.dumps(error_body(err.message, err.type, err.code))
        except Exception as e:  # the response has begun: report in-stream, as OpenAI does
            log.exception("answer failed mid-stream")
            yield json.dumps(error_body(f"the answer failed: {type(e).__name__}", "server_error"))
        yield "[DONE]"


@router.post("/embeddings", response_model=EmbeddingList, summary="Embed texts")
async def embeddings(
    req: EmbeddingRequest,
    request: Request,
    _: Principal = Depends(principal),  # noqa: B008
) -> dict[str, Any]:
    model = _check_model(req.model, "embedding", request)
    texts = [req.input] if isinstance(req.input, str) else req.input
    if not texts or len(texts) > MAX_EMBED_INPUTS:
        raise ApiError(400, f"input takes 1 to {MAX_EMBED_INPUTS} texts", param="input")
    if any(not t for t in texts) or any(len(t) > MAX_EMBED_CHARS for t in texts):
        raise ApiError(
            400,
            f"every input text must be non-empty and at most {MAX_EMBED_CHARS} characters",
            param="input",
        )
    embedder = _bot(request).embedder
    if req.dimensions is not None and req.dimensions != embedder.dim:
        raise ApiError(
            400,
            f"{model} makes {embedder.dim}-dimensional vectors; leave out `dimensions`",
            param="dimensions",
        )

    def work() -> tuple[np.ndarray, int]:
        vecs = embedder.encode(texts)
        tokens = embedder.count_tokens(texts)
        return vecs, tokens

    vecs, tokens = await run_in_threadpool(work)
    data = []
    for i, v in enumerate(vecs):
        if req.encoding_format == "base64":
            value: list[float] | str = base64.b64encode(
                np.asarray(v, dtype="<f4").tobytes()
            ).decode()
        else:
            value = [float(x) for x in v]
        data.append({"object": "embedding", "index": i, "embedding": value})
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
