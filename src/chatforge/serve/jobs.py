"""Background ingestion: uploads are ingested one job at a time while answers go on.

Each job opens the bot folder again with its own SQLite connection and its own embedding
model (a long ingest would otherwise hold up the answers' queries), so answers read committed
data through WAL while the job writes. The job's store takes the runner's `retrieval` lock
around each commit: an answer that is retrieving sees the
documents either before or after a file changed, never halfway. The answering side's FAISS
index catches up on its next search, because every commit bumps the store's generation.

A job shows its files as `public_path` does, in its paths, report and messages alike.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from chatforge.bot import Bot, open_embedder, open_store
from chatforge.embed import Embedder
from chatforge.serve.paths import public_path

log = logging.getLogger("chatforge.serve")

KEEP_JOBS = 200
JobStatus = Literal["queued", "running", "done", "failed"]


@dataclass
class Job:
    """One ingestion: its files, where it stands, and the ingest report once done."""

    id: str
    user: str
    paths: list[str]
    status: JobStatus = "queued"
    progress: float = 0.0
    message: str = "waiting to start"
    created: float = field(default_factory=time.time)
    report: dict[str, Any] | None = None
    folder: Path | None = field(default=None, repr=False)
    """The bot folder, for showing paths as `public_path` does."""

    def show(self, text: str) -> str:
        """`text` with this job's stored paths as clients may see them."""
        if self.folder is None:
            return text
        for path in self.paths:
            text = text.replace(path, public_path(self.folder, path))
        return text

    def to_dict(self) -> dict[str, Any]:
        report = self.report
        if report is not None:
            files = [
                {**f, "path": self.show(f["path"]), "reason": self.show(f["reason"])}
                for f in report["files"]
            ]
            report = {**report, "files": files}
        return {
            "id": self.id,
            "user": self.user,
            "paths": [self.show(p) for p in self.paths],
            "status": self.status,
            "progress": round(self.progress, 3),
            "message": self.show(self.message),
            "created": int(self.created),
            "report": report,
        }


class _Progress:
    def __init__(self, job: Job) -> None:
        self.job, self.total, self.done = job, 0, 0

    def start(self, files: int) -> None:
        self.total = files
        self.job.message = f"0 of {files} files"

    def advance(self, files: int = 0, chunks: int = 0) -> None:
        self.done += files
        if self.total:
            self.job.progress = min(self.done / self.total, 0.99)
            self.job.message = f"{self.done} of {self.total} files"


class Jobs:
    """Ingestion jobs of one server, run in order on one background thread."""

    def __init__(self, bot: Bot, guard: threading.Lock) -> None:
        self.bot = bot
        self.guard = guard
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._embedder: Embedder | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chatforge-ingest")

    def submit(self, paths: list[Path], user: str) -> Job:
        """Queue `paths` for ingestion; follow the job with `get(job.id)`."""
        job = Job(uuid.uuid4().hex[:16], user, [str(p) for p in paths], folder=self.bot.folder)
        self._jobs[job.id] = job
        while len(self._jobs) > KEEP_JOBS:
            self._jobs.popitem(last=False)
        self._executor.submit(self._run, job)
        return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def forget(self, path: str) -> bool:
        """Remove one file's documents (beside answers, like an ingest)."""
        with self.open() as b:
            return b.forget(path)

    def open(self) -> Bot:
        """The bot folder opened for writing beside the answering bot (close it after use)."""
        main = self.bot
        if self._embedder is None:
            self._embedder = open_embedder(main.settings)
        embedder = self._embedder
        store = open_store(main.folder, main.settings, lambda: embedder.dim, self.guard)
        return Bot(main.folder, main.settings, embedder=embedder, store=store)

    def _run(self, job: Job) -> None:
        job.status, job.message = "running", "starting"
        try:
            with self.open() as b:
                report = b.ingest(job.paths, progress=_Progress(job))
        except Exception as e:  # a job must end in a state the client can read
            log.exception("ingestion job %s failed", job.id)
            job.status, job.message = "failed", str(e).splitlines()[0] if str(e) else repr(e)
            return
        job.report = report.to_dict()
        job.progress = 1.0
        failed = [f for f in report.files if f.status in ("failed", "skipped")]
        ok = [f for f in report.files if f.status not in ("failed", "skipped")]
        if failed and not ok:
            job.status = "failed"
            job.message = "; ".join(f"{f.path}: {f.reason}" for f in failed)
        else:
            job.status = "done"
            totals = ", ".join(f"{n} {s}" for s, n in report.totals.items() if n)
            notes = "; ".join(f"{f.path}: {f.reason}" for f in failed)
            job.message = totals + (f" ({notes})" if notes else "")

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
