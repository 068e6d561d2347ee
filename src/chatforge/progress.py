"""Terminal progress bars: ingestion (files, chunks, chunks per second) and counted work."""

from __future__ import annotations

import time
from typing import Any


def _bar(label: str, after: str) -> Any:
    """A started rich bar on stderr, `label` before it and `after` the count; gone when done."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(after),
        console=Console(stderr=True),
        transient=True,
    )
    bar.__enter__()
    return bar


class IngestProgress:
    """Implements the pipeline's Progress protocol with rich; does nothing when disabled."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None
        self._task: Any = None
        self._chunks = 0
        self._t0 = time.perf_counter()

    def __enter__(self) -> IngestProgress:
        if self.enabled:
            self._bar = _bar(
                "ingesting", "files  {task.fields[chunks]} chunks  {task.fields[rate]:.0f} chunks/s"
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def start(self, files: int) -> None:
        self._t0 = time.perf_counter()
        if self._bar is not None:
            self._task = self._bar.add_task("ingest", total=files, chunks=0, rate=0.0)

    def advance(self, files: int = 0, chunks: int = 0) -> None:
        self._chunks += chunks
        if self._bar is not None and self._task is not None:
            rate = self._chunks / max(time.perf_counter() - self._t0, 1e-6)
            self._bar.update(self._task, advance=files, chunks=self._chunks, rate=rate)


class CountProgress:
    """A bar over a count known as work goes (`update(done, total)`); nothing when disabled."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.label = label
        self.enabled = enabled
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> CountProgress:
        if self.enabled:
            self._bar = _bar(self.label, "chunks")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def update(self, done: int, total: int) -> None:
        if self._bar is None:
            return
        if self._task is None:
            self._task = self._bar.add_task(self.label, total=total)
        self._bar.update(self._task, completed=done, total=total)
