"""Background ingestion: uploads are ingested one job at a time while answers go on.

Jobs live in the store (serve.job_table), so with several server processes, or hosts sharing
one PostgreSQL, a poll reaching any of them finds the job.

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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from chatforge.bot import Bot, open_embedder, open_store
from chatforge.embed import Embedder
from chatforge.serve.job_table import BEAT_S, JobTable
from chatforge.serve.paths import public_path

log = logging.getLogger("chatforge.serve")

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

    def state(self) -> dict[str, Any]:
        """What the job table keeps (paths as stored; `to_dict` shows them)."""
        keys = ("user", "paths", "status", "progress", "message", "created", "report")
        return {k: getattr(self, k) for k in keys}

    @classmethod
    def from_state(cls, job_id: str, state: dict[str, Any], folder: Path) -> Job:
        keys = ("user", "paths", "status", "progress", "message", "created", "report")
        return cls(job_id, folder=folder, **{k: state[k] for k in keys})

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
    def __init__(self, job: Job, jobs: Jobs) -> None:
        self.job, self.jobs, self.total, self.done = job, jobs, 0, 0

    def start(self, files: int) -> None:
        self.total = files
        self.job.message = f"0 of {files} files"
        self.jobs.save(self.job)

    def advance(self, files: int = 0, chunks: int = 0) -> None:
        self.done += files
        if self.total and files:
            self.job.progress = min(self.done / self.total, 0.99)
            self.job.message = f"{self.done} of {self.total} files"
            self.jobs.save(self.job)


class Jobs:
    """Ingestion jobs of one server, run in order on one background thread."""

    def __init__(self, bot: Bot, guard: threading.Lock) -> None:
        self.bot = bot
        self.guard = guard
        self.table = JobTable(bot.store)
        self._mine: dict[str, Job] = {}  # this process's unfinished jobs, for the heartbeat
        self._saving = threading.RLock()  # a heartbeat never writes over a job's final state
        self._embedder: Embedder | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chatforge-ingest")
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._beating, name="chatforge-jobs", daemon=True)
        self._beat.start()

    def submit(self, paths: list[Path], user: str) -> Job:
        """Queue `paths` for ingestion; follow the job with `get(job.id)` in any process."""
        job = Job(uuid.uuid4().hex[:16], user, [str(p) for p in paths], folder=self.bot.folder)
        self._mine[job.id] = job
        self.save(job)
        self.table.prune()
        self._executor.submit(self._run, job)
        return job

    def save(self, job: Job) -> None:
        with self._saving:
            self.table.save(job.id, job.created, job.state())

    def get(self, job_id: str) -> Job | None:
        state = self.table.load(job_id)
        return None if state is None else Job.from_state(job_id, state, self.bot.folder)

    def _beating(self) -> None:
        """Tell other hosts this process still runs its jobs (see job_table.STALE_S)."""
        while not self._stop.wait(BEAT_S):
            try:
                with self._saving:  # each job's state in memory is its newest
                    for job in list(self._mine.values()):
                        self.save(job)
            except Exception:  # a missed beat only risks a late "failed"; never kill the thread
                log.warning("cannot refresh the heartbeat of ingestion jobs", exc_info=True)

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
        try:
            self._ingest(job)
        finally:
            with self._saving:
                self.save(job)
                self._mine.pop(job.id, None)

    def _ingest(self, job: Job) -> None:
        job.status, job.message = "running", "starting"
        self.save(job)
        try:
            with self.open() as b:
                report = b.ingest(job.paths, progress=_Progress(job, self))
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
        self._stop.set()
        self._executor.shutdown(wait=False, cancel_futures=True)
