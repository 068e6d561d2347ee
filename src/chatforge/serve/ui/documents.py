"""The documents tab: the bot's sources, and adding files to them (admin keys only).

Uploaded files are named, checked and kept exactly as the upload API keeps them, then ingested
by the server's background jobs; the tab follows the job until it is done.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import gradio as gr
from fastapi import UploadFile
from gradio.utils import get_upload_folder

from chatforge.serve.auth import Principal
from chatforge.serve.errors import ApiError
from chatforge.serve.limits import safe_filename
from chatforge.serve.native import MAX_FILES, _store_files, upload_dir
from chatforge.serve.ui.access import signed_in
from chatforge.serve.ui.context import Ui

FINISHED = ("done", "failed")
POLL_SECONDS = 0.25


class DocumentsPanel:
    """The upload box (shown to admins) above the searchable list of sources."""

    def __init__(self, ui: Ui) -> None:
        self.ui = ui
        with gr.Tab("Documents", elem_id="cf-docs-tab"):
            self.upload = gr.File(
                label="Add documents",
                file_count="multiple",
                file_types=list(ui.server.upload_types),
                height=140,
                elem_id="cf-upload",
            )
            status = gr.Markdown(elem_id="cf-job")
            self.docs = gr.Dataframe(
                headers=["source", "title", "chunks"],
                label="Sources",
                interactive=False,
                wrap=True,
                column_widths=["45%", "40%", "15%"],
                max_height=420,
                show_search="search",
                elem_id="cf-docs",
            )
        self.upload.upload(
            self.add,
            [ui.who, self.upload],
            [status, self.docs, self.upload],
            api_visibility="private",
        )

    def rows(self) -> list[list[Any]]:
        """The sources as the list shows them: path, title, chunk count."""
        return [[self.ui.shown(d.path), d.title, d.chunks] for d in self.ui.bot.sources()]

    @signed_in(admin=True)
    async def add(self, who: Principal, files: list[str] | None) -> AsyncIterator[tuple]:
        """Keep the uploaded files, then report the ingestion job until it ends."""
        if not files:
            yield gr.skip(), gr.skip(), gr.skip()
            return
        uploaded = [Path(f) for f in files]
        try:
            paths = await asyncio.to_thread(self._store, uploaded, who.user)
        except ApiError as e:
            yield f"✗ {e.message}", gr.skip(), None
            return
        finally:
            await asyncio.to_thread(discard, uploaded)
        label = ", ".join(p.name for p in paths)
        jobs = self.ui.app.state.jobs
        job = jobs.submit(paths, who.user)
        while True:
            job = jobs.get(job.id)
            if job.status in FINISHED:
                break
            message = f" · {job.message}" if job.message else ""
            yield f"⏳ {label}: {job.status} {job.progress:.0%}{message}", gr.skip(), gr.skip()
            await asyncio.sleep(POLL_SECONDS)
        if job.status == "failed":
            yield f"✗ {label}: {job.message}", self.rows(), None
        else:
            yield f"✓ {label}: {job.message or 'added'}", self.rows(), None

    def _store(self, files: list[Path], user: str) -> list[Path]:
        """Name, check and keep the files exactly as the upload API does."""
        server = self.ui.server
        if len(files) > MAX_FILES:
            raise ApiError(400, f"at most {MAX_FILES} files at once; add the rest afterwards")
        names = [safe_filename(f.name, server.upload_types) for f in files]
        if len(set(names)) != len(names):
            raise ApiError(400, "two uploaded files have the same name; rename one")
        uploads = [UploadFile(f.open("rb"), filename=n) for f, n in zip(files, names, strict=True)]
        try:
            limit = int(server.max_upload_mb * 1024 * 1024)
            return _store_files(uploads, names, upload_dir(self.ui.bot, user), limit)
        finally:
            for u in uploads:
                u.file.close()


def discard(files: list[Path]) -> None:
    """Remove Gradio's temporary copies of uploads, and their folders once empty.

    Only files under Gradio's upload folder are touched: they are copies, kept in the bot
    folder by now (or refused).
    """
    root = Path(get_upload_folder()).resolve()
    for f in files:
        path = f.resolve()
        if not path.is_relative_to(root) or path == root:
            continue
        path.unlink(missing_ok=True)
        if path.parent != root:
            with contextlib.suppress(OSError):
                path.parent.rmdir()
