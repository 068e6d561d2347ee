"""chatforge's own API: documents and ingestion jobs, search, conversations, memory, health.

Conversations and memories belong to the caller's user: another user's ids answer 404, exactly
like missing ones. Documents are the bot's shared knowledge: every user may list and search
them; admin keys upload and delete. Document paths are shown as `public_path` does, never as
the server's absolute paths.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from chatforge.bot import Bot
from chatforge.chat.conversations import Conversation, Message
from chatforge.chat.memory import Memory
from chatforge.errors import ChatforgeError
from chatforge.retrieve import MAX_QUERY_CHARS
from chatforge.schema import Hit
from chatforge.serve.auth import Principal, admin, principal
from chatforge.serve.errors import ERROR_RESPONSES, ApiError
from chatforge.serve.jobs import Jobs
from chatforge.serve.limits import safe_filename
from chatforge.serve.paths import UPLOADS, public_hit, public_path
from chatforge.serve.text import RequestModel
from chatforge.store.sqlite import StoredDocument

router = APIRouter(prefix="/api", responses=ERROR_RESPONSES)
public = APIRouter(tags=["Service"])

RowId = Annotated[int, PathParam(ge=1, le=2**63 - 1, description="a row id")]
MAX_FILES = 20
COPY_CHUNK = 1024 * 1024


# -- models --------------------------------------------------------------------------------


class Strict(RequestModel):
    model_config = ConfigDict(extra="forbid")


class SearchRequest(Strict):
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    k: int = Field(5, ge=1, le=50, description="hits returned")
    source: str | None = Field(
        None, max_length=500, description="glob over document paths, e.g. `guide/*`"
    )


class JobOut(BaseModel):
    id: str
    user: str
    paths: list[str]
    status: Literal["queued", "running", "done", "failed"]
    progress: float
    message: str
    created: int
    report: dict[str, Any] | None


class UploadOut(BaseModel):
    job: JobOut
    files: list[str] = Field(description="where the uploads were stored, as ingested")


class DeletedDocument(BaseModel):
    deleted: str = Field(description="the file whose documents were removed")
    documents: int


@dataclass
class ConversationWithMessages(Conversation):
    """A conversation with its messages, as `GET /api/conversations/{id}` returns it."""

    messages: list[Message]


class MemoryText(Strict):
    text: str = Field(min_length=1, max_length=2000)


class MemorySearch(Strict):
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    k: int = Field(5, ge=1, le=50)


class Health(BaseModel):
    status: Literal["ok"]
    bot: str
    model: str
    embedding_model: str
    auth: Literal["api_keys", "local_only"]


# -- helpers -------------------------------------------------------------------------------


def _bot(request: Request) -> Bot:
    return request.app.state.bot


def _jobs(request: Request) -> Jobs:
    return request.app.state.jobs


def _not_found(e: ChatforgeError, code: str) -> ApiError:
    return ApiError(404, str(e), "not_found_error", code)


async def _conversation(bot: Bot, conversation_id: str, user: str) -> None:
    try:
        await run_in_threadpool(bot.conversations.get, conversation_id, user)
    except ChatforgeError as e:
        raise _not_found(e, "conversation_not_found") from e


async def _memory(bot: Bot, memory_id: int, user: str) -> Memory:
    try:
        return await run_in_threadpool(bot.memory.get, user, memory_id)
    except ChatforgeError as e:
        raise _not_found(e, "memory_not_found") from e


def _public_message(bot: Bot, message: dict[str, Any]) -> dict[str, Any]:
    return {**message, "sources": [public_hit(bot.folder, s) for s in message["sources"]]}


def _public_export(bot: Bot, text: str, paths: list[str], fmt: str) -> str:
    """An exported conversation with its sources' paths as `public_path` shows them."""
    for path in sorted(set(paths), key=len, reverse=True):
        shown = public_path(bot.folder, path)
        if shown != path:
            if fmt == "json":  # as the export wrote them: JSON strings, without the quotes
                path, shown = json.dumps(path, ensure_ascii=False)[1:-1], json.dumps(shown)[1:-1]
            text = text.replace(path, shown)
    return text


def upload_dir(bot: Bot, user: str) -> Path:
    """Where a user's uploads are kept: inside the bot folder, one folder per user."""
    return bot.folder / UPLOADS / safe_user(user)


def safe_user(user: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in user).strip(".")
    return cleaned or "_"


# -- service -------------------------------------------------------------------------------


@public.get("/health", response_model=Health, summary="Is the server up, and with what")
async def health(request: Request) -> dict[str, Any]:
    bot = _bot(request)
    return {
        "status": "ok",
        "bot": bot.folder.name,
        "model": bot.llm.name,
        "embedding_model": bot.settings.embed.model,
        "auth": "local_only" if request.app.state.keys.local_only else "api_keys",
    }


@public.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}},
)
def metrics(request: Request) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST

    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


# -- documents -----------------------------------------------------------------------------


@router.get("/documents", response_model=list[StoredDocument], tags=["Documents"])
async def list_documents(
    request: Request,
    source: str | None = Query(None, max_length=500, description="glob over paths"),
    _: Principal = Depends(principal),  # noqa: B008
) -> list[dict[str, Any]]:
    bot = _bot(request)
    docs = await run_in_threadpool(bot.sources, source)
    return [{**d.to_dict(), "path": public_path(bot.folder, d.path)} for d in docs]


@router.post(
    "/documents",
    response_model=UploadOut,
    status_code=202,
    tags=["Documents"],
    summary="Upload files; they are ingested by a background job",
    responses={415: {"description": "file type not accepted"}},
)
async def upload_documents(
    request: Request,
    files: list[UploadFile] = File(description="one or more documents"),  # noqa: B008
    who: Principal = Depends(admin),  # noqa: B008
) -> JSONResponse:
    server = request.app.state.settings.server
    if len(files) > MAX_FILES:
        raise ApiError(400, f"at most {MAX_FILES} files per upload; send several requests")
    names = [safe_filename(f.filename, server.upload_types) for f in files]
    if len(set(names)) != len(names):
        raise ApiError(400, "two uploaded files have the same name; rename one")
    bot = _bot(request)
    folder = upload_dir(bot, who.user)
    limit = int(server.max_upload_mb * 1024 * 1024)
    stored = await run_in_threadpool(_store_files, files, names, folder, limit)
    job = _jobs(request).submit(stored, who.user)
    body = {"job": job.to_dict(), "files": [public_path(bot.folder, str(p)) for p in stored]}
    return JSONResponse(body, status_code=202, headers={"Location": f"/api/jobs/{job.id}"})


def _store_files(files: list[UploadFile], names: list[str], folder: Path, limit: int) -> list[Path]:
    """Copy uploads into place; each lands whole (temp file, then rename) or not at all."""
    folder.mkdir(parents=True, exist_ok=True)
    temps: list[tuple[str, Path]] = []
    try:
        for f, name in zip(files, names, strict=True):
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-")
            temps.append((name, Path(tmp)))
            size = 0
            with os.fdopen(fd, "wb") as out:
                while chunk := f.file.read(COPY_CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise ApiError(
                            413,
                            f"{name} is larger than {limit / 1024 / 1024:g} MiB "
                            "(server.max_upload_mb); split it or raise the limit",
                            code="file_too_large",
                        )
                    out.write(chunk)
            if size == 0:
                raise ApiError(400, f"{name} is empty; upload a file with some text")
        paths = []
        for name, tmp in temps:
            os.replace(tmp, folder / name)
            paths.append(folder / name)
        return paths
    finally:
        for _, tmp in temps:
            tmp.unlink(missing_ok=True)


@router.get("/jobs/{job_id}", response_model=JobOut, tags=["Documents"])
def get_job(job_id: str, request: Request, who: Principal = Depends(principal)) -> dict:  # noqa: B008
    job = _jobs(request).get(job_id)
    if job is None or (job.user != who.user and not who.admin):
        raise ApiError(404, f"job {job_id!r} not found", "not_found_error", "job_not_found")
    return job.to_dict()


@router.delete("/documents/{doc_id}", response_model=DeletedDocument, tags=["Documents"])
async def delete_document(
    request: Request,
    doc_id: RowId,
    _: Principal = Depends(admin),  # noqa: B008
) -> dict[str, Any]:
    bot = _bot(request)
    docs = await run_in_threadpool(bot.sources)
    match = next((d for d in docs if d.id == doc_id), None)
    if match is None:
        raise ApiError(
            404,
            f"document {doc_id} not found; see GET /api/documents",
            "not_found_error",
            "document_not_found",
        )
    count = sum(1 for d in docs if d.path == match.path)
    await run_in_threadpool(_jobs(request).forget, match.path)
    uploads = (bot.folder / UPLOADS).resolve()
    stored = Path(match.path).resolve()
    if stored.is_relative_to(uploads) and stored.is_file():
        stored.unlink()
    return {"deleted": public_path(bot.folder, match.path), "documents": count}


# -- search --------------------------------------------------------------------------------


@router.post("/search", response_model=list[Hit], tags=["Search"])
async def search(
    req: SearchRequest,
    request: Request,
    _: Principal = Depends(principal),  # noqa: B008
) -> list[dict[str, Any]]:
    bot = _bot(request)
    guard = request.app.state.runner.retrieval

    def work() -> list[dict[str, Any]]:
        with guard:
            hits = bot.search(req.query, req.k, {"source": req.source})
        return [public_hit(bot.folder, h.to_dict()) for h in hits]

    return await run_in_threadpool(work)


# -- conversations -------------------------------------------------------------------------


@router.get("/conversations", response_model=list[Conversation], tags=["Conversations"])
async def list_conversations(
    request: Request,
    limit: int = Query(100, ge=1, le=1000),
    who: Principal = Depends(principal),  # noqa: B008
) -> list[dict[str, Any]]:
    convs = await run_in_threadpool(_bot(request).conversations.list, who.user, limit)
    return [c.to_dict() for c in convs]


@router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationWithMessages,
    tags=["Conversations"],
)
async def get_conversation(
    conversation_id: str,
    request: Request,
    who: Principal = Depends(principal),  # noqa: B008
) -> dict[str, Any]:
    bot = _bot(request)
    await _conversation(bot, conversation_id, who.user)
    conv = await run_in_threadpool(bot.conversations.get, conversation_id, who.user)
    msgs = await run_in_threadpool(bot.conversations.messages, conversation_id, who.user)
    return {**conv.to_dict(), "messages": [_public_message(bot, m.to_dict()) for m in msgs]}


@router.get(
    "/conversations/{conversation_id}/export",
    tags=["Conversations"],
    summary="The whole conversation as JSON or Markdown",
    responses={200: {"content": {"text/markdown": {}, "application/json": {}}}},
)
async def export_conversation(
    conversation_id: str,
    request: Request,
    format: Literal["json", "markdown"] = Query("json"),
    who: Principal = Depends(principal),  # noqa: B008
) -> Response:
    bot = _bot(request)
    await _conversation(bot, conversation_id, who.user)
    text = await run_in_threadpool(bot.conversations.export, conversation_id, who.user, format)
    msgs = await run_in_threadpool(bot.conversations.messages, conversation_id, who.user)
    text = _public_export(bot, text, [s["source"] for m in msgs for s in m.sources], format)
    media = "application/json" if format == "json" else "text/markdown; charset=utf-8"
    filename = f"conversation-{safe_user(conversation_id)}.{'json' if format == 'json' else 'md'}"
    return Response(
        text,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.delete("/conversations/{conversation_id}", status_code=204, tags=["Conversations"])
async def delete_conversation(
    conversation_id: str,
    request: Request,
    who: Principal = Depends(principal),  # noqa: B008
) -> Response:
    bot = _bot(request)
    await _conversation(bot, conversation_id, who.user)
    try:
        await run_in_threadpool(bot.conversations.delete, conversation_id, who.user)
    except ChatforgeError as e:  # deleted by another request meanwhile
        raise _not_found(e, "conversation_not_found") from e
    return Response(status_code=204)


# -- memory --------------------------------------------------------------------------------


@router.get("/memory", response_model=list[Memory], tags=["Memory"])
async def list_memory(
    request: Request,
    kind: Literal["fact", "explicit", "summary", "note"] | None = Query(None),
    who: Principal = Depends(principal),  # noqa: B008
) -> list[dict[str, Any]]:
    memories = await run_in_threadpool(_bot(request).memory.list, who.user, kind)
    return [m.to_dict() for m in memories]


@router.post("/memory/search", response_model=list[Memory], tags=["Memory"])
async def search_memory(
    req: MemorySearch,
    request: Request,
    who: Principal = Depends(principal),  # noqa: B008
) -> list[dict[str, Any]]:
    found = await run_in_threadpool(_bot(request).memory.search, who.user, req.query, req.k)
    return [m.to_dict() for m in found]


@router.post("/memory", response_model=Memory, status_code=201, tags=["Memory"])
async def add_memory(
    req: MemoryText,
    request: Request,
    who: Principal = Depends(principal),  # noqa: B008
) -> dict[str, Any]:
    memory = await run_in_threadpool(_bot(request).memory.add, who.user, req.text, "note")
    return memory.to_dict()


@router.patch("/memory/{memory_id}", response_model=Memory, tags=["Memory"])
async def edit_memory(
    req: MemoryText,
    request: Request,
    memory_id: RowId,
    who: Principal = Depends(principal),  # noqa: B008
) -> dict[str, Any]:
    bot = _bot(request)
    await _memory(bot, memory_id, who.user)
    memory = await run_in_threadpool(bot.memory.edit, who.user, memory_id, req.text)
    return memory.to_dict()


@router.delete("/memory/{memory_id}", status_code=204, tags=["Memory"])
async def delete_memory(
    request: Request,
    memory_id: RowId,
    who: Principal = Depends(principal),  # noqa: B008
) -> Response:
    bot = _bot(request)
    await _memory(bot, memory_id, who.user)
    try:
        await run_in_threadpool(bot.memory.delete, who.user, memory_id)
    except ChatforgeError as e:
        raise _not_found(e, "memory_not_found") from e
    return Response(status_code=204)
