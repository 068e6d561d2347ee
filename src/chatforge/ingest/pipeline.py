"""The incremental ingest pipeline: find files, skip unchanged ones, chunk, embed, store.

A file is the unit of change: its content hash decides whether it is re-read, and all its
documents are swapped in one store transaction. A file is stored under one key whatever the
spelling of its path (see `sources`). Chunks whose text was embedded before (in any
file) reuse the stored vector, so an edit re-embeds only what changed.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from chatforge.config import IngestSettings
from chatforge.embed import Embedder
from chatforge.errors import LoadError
from chatforge.formats import SUPPORTED_EXTENSIONS, LoadOptions
from chatforge.formats.folders import is_dataset_metadata, is_noise_dir
from chatforge.formats.knowledge import iter_load, streamed_kind
from chatforge.formats.textio import check_size
from chatforge.ingest.chunker import Chunker
from chatforge.ingest.sources import canonical_source, is_under, merge_spellings
from chatforge.schema import Chunk, Document, FileResult, IngestReport
from chatforge.store.sqlite import SQLiteStore

log = logging.getLogger("chatforge.ingest")

EMBED_GROUP = 512  # chunks gathered across files before one embedding call
FILE_GROUP = 64  # or files, whichever comes first
_NOTES_SHOWN = 10  # records left out of one file that are logged one by one
_WORDY = re.compile(r"\w")
"""A chunk without a letter or digit (a run of `#` or `---`) holds nothing a question finds."""


class Progress(Protocol):
    def start(self, files: int) -> None: ...
    def advance(self, files: int = 0, chunks: int = 0) -> None: ...


@dataclass
class Candidate:
    path: Path
    source: str


@dataclass
class ChunkedFile:
    """A file read and chunked, waiting for its chunks to be embedded and stored."""

    candidate: Candidate
    hash: str
    size: int
    documents: list[tuple[Document, list[Chunk], list[str]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # records of the file that were left out


def chunk_hash(chunk: Chunk) -> str:
    return hashlib.sha256(f"{chunk.context}\n{chunk.text}".encode()).hexdigest()[:32]


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Walker:
    """Expands the paths a user gave into files, honouring hidden folders, .gitignore and globs."""

    def __init__(self, settings: IngestSettings, include: Sequence[str], exclude: Sequence[str]):
        self.settings = settings
        self.include = list(settings.include) + list(include)
        self.exclude = list(settings.exclude) + list(exclude)

    def walk(self, paths: Sequence[str], report: IngestReport) -> Iterator[Candidate]:
        """Each file once, under its canonical key, however many spellings name it."""
        seen: set[str] = set()
        for cand in self._walk(paths, report):
            if cand.source not in seen:
                seen.add(cand.source)
                yield cand

    def _walk(self, paths: Sequence[str], report: IngestReport) -> Iterator[Candidate]:
        for given in paths:
            p = Path(given)
            try:
                p.stat()
            except FileNotFoundError:
                reason = "broken symlink" if p.is_symlink() else "no such file or directory"
                report.files.append(FileResult(given, "failed", reason))
                continue
            except OSError as e:
                reason = "symlink loop" if e.errno == 40 else (e.strerror or str(e)).lower()
                report.files.append(FileResult(given, "failed", reason))
                continue
            if p.is_dir():
                yield from self._walk_dir(p, given, report)
            else:
                yield Candidate(p, canonical_source(p))

    def _walk_dir(self, root: Path, given: str, report: IngestReport) -> Iterator[Candidate]:
        import pathspec

        specs: list[tuple[Path, pathspec.PathSpec]] = []
        for dirpath, dirnames, filenames in os.walk(root):
            here = Path(dirpath)
            specs = [(d, s) for d, s in specs if here == d or d in here.parents]
            gitignore = here / ".gitignore"
            if self.settings.respect_gitignore and gitignore.is_file():
                lines = gitignore.read_text(encoding="utf-8", errors="replace").splitlines()
                specs.append((here, pathspec.GitIgnoreSpec.from_lines(lines)))
            dirnames[:] = sorted(
                d
                for d in dirnames
                if not is_noise_dir(here / d) and not self._ignored(here / d, specs, is_dir=True)
            )
            for name in sorted(filenames):
                path = here / name
                rel = os.path.normpath(os.path.join(given, os.path.relpath(path, root)))
                if name.startswith(".") or is_dataset_metadata(path):
                    continue
                if self._ignored(path, specs, is_dir=False):
                    continue
                if not self._selected(rel):
                    continue
                source = canonical_source(path)
                if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
                    reason = f"unsupported type {path.suffix or '(none)'}"
                    report.files.append(FileResult(source, "skipped", reason))
                    continue
                yield Candidate(path, source)

    def _selected(self, rel: str) -> bool:
        if self.include and not any(fnmatch.fnmatch(rel, g) for g in self.include):
            return False
        return not any(fnmatch.fnmatch(rel, g) for g in self.exclude)

    @staticmethod
    def _ignored(path: Path, specs: list, is_dir: bool) -> bool:
        for base, spec in specs:
            rel = path.relative_to(base).as_posix() + ("/" if is_dir else "")
            if spec.match_file(rel):
                return True
        return False


class Ingestor:
    """Runs one ingest: walk, hash, load, chunk, embed (only new texts), store, report."""

    def __init__(
        self,
        store: SQLiteStore,
        embedder: Embedder,
        settings: IngestSettings,
        progress: Progress | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.progress = progress
        self._chunker: Chunker | None = None

    @property
    def chunker(self) -> Chunker:
        if self._chunker is None:
            self._chunker = Chunker(
                self.embedder.tokenizer,
                max_tokens=self.embedder.max_tokens,
                target_tokens=min(self.settings.chunk_tokens, self.embedder.max_tokens),
            )
        return self._chunker

    @cached_property
    def signature(self) -> str:
        """What, besides file content, decides the chunks: a change re-reads every file."""
        s = self.settings
        fields = [s.chunk_tokens, s.csv_question, s.csv_answer]
        fields += [s.json_text_field, s.json_title_field]
        if s.stackexchange_tags or s.stackexchange_min_score is not None:
            fields += [sorted(s.stackexchange_tags), s.stackexchange_min_score]
        if s.wikipedia_max_articles is not None:
            fields.append(s.wikipedia_max_articles)
        return json.dumps(fields)

    def run(
        self,
        paths: Sequence[str],
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        prune: bool = False,
    ) -> IngestReport:
        t0 = time.perf_counter()
        report = IngestReport()
        self.store.check_model()
        candidates = list(Walker(self.settings, include, exclude).walk(paths, report))
        known = self.store.file_versions()
        if self.progress:
            self.progress.start(len(candidates))
        stop = threading.Event()
        groups = self._groups(candidates, known, stop)
        # The next group's files are read and chunked while this group is embedded: on its own,
        # parsing runs one thread of Python and leaves the other cores idle.
        with ThreadPoolExecutor(1, thread_name_prefix="chatforge-read") as reader:
            try:
                ahead = reader.submit(next, groups, None)
                while (group := ahead.result()) is not None:
                    ahead = reader.submit(next, groups, None)
                    self._flush(group, report)
            finally:
                stop.set()  # an interrupted ingest does not wait for the rest to be read
        seen = {c.source for c in candidates}
        report.files.extend(merge_spellings(self.store, seen))
        if prune:
            self._prune(paths, seen, report)
        with self.store.transaction():
            for f in report.files:
                if f.status != "unchanged":
                    self.store.log(f.path, f.status, f.reason)
        self.store.collect_garbage()
        self.store.save_index()
        report.seconds = time.perf_counter() - t0
        return report

    def _groups(
        self, candidates: list[Candidate], known: dict[str, tuple[str, str]], stop: threading.Event
    ) -> Iterator[list[ChunkedFile | FileResult]]:
        """The files read and chunked, in order, in groups of EMBED_GROUP chunks or FILE_GROUP
        files, whichever comes first (so unchanged files show progress as they are checked)."""
        group: list[ChunkedFile | FileResult] = []
        chunks = 0
        for cand in candidates:
            if stop.is_set():
                return
            item = self._prepare(cand, known)
            group.append(item)
            if isinstance(item, ChunkedFile):
                chunks += sum(len(c) for _, c, _ in item.documents)
            if chunks >= EMBED_GROUP or len(group) >= FILE_GROUP:
                yield group
                group, chunks = [], 0
        if group:
            yield group

    def _prepare(
        self, cand: Candidate, known: dict[str, tuple[str, str]]
    ) -> ChunkedFile | FileResult:
        """The file read and chunked, or why it is not: unchanged, failed or skipped."""
        source = cand.source
        # a dump is read as a stream, so only the chunk cap bounds it, not its size
        max_mb = float("inf") if streamed_kind(cand.path) else self.settings.max_file_mb
        cap, total = self.settings.max_chunks_per_file, 0
        try:
            size = check_size(cand.path, max_mb)
            digest = file_hash(cand.path)
            if known.get(source) == (digest, self.signature):
                return FileResult(source, "unchanged")
            prepared = ChunkedFile(cand, digest, size)
            for doc in iter_load(cand.path, source, self._load_options(prepared.notes)):
                chunks = [c for c in self.chunker.split(doc) if _WORDY.search(c.text)]
                total += len(chunks)
                if total > cap:
                    return FileResult(source, "skipped", _too_many_chunks(cap))
                prepared.documents.append((doc, chunks, [chunk_hash(c) for c in chunks]))
        except LoadError as e:
            return FileResult(source, "failed", str(e))
        except OSError as e:
            return FileResult(source, "failed", (e.strerror or str(e)).lower())
        except Exception as e:  # a parser choking on a malformed file must not stop the batch
            log.debug("loading %s failed", source, exc_info=True)
            return FileResult(source, "failed", f"cannot parse: {e}".splitlines()[0])
        if not total:
            return FileResult(source, "skipped", "no text to index")
        for note in prepared.notes[:_NOTES_SHOWN]:
            log.warning("%s: %s", source, note)
        if len(prepared.notes) > _NOTES_SHOWN:
            log.warning("%s: ... and %d more left out", source, len(prepared.notes) - _NOTES_SHOWN)
        return prepared

    def _load_options(self, notes: list[str]) -> LoadOptions:
        s = self.settings

        def report(line: int | None, reason: str) -> None:
            notes.append(f"line {line}: {reason}" if line else reason)

        return LoadOptions(
            csv_question=s.csv_question,
            csv_answer=s.csv_answer,
            json_text_field=s.json_text_field,
            json_title_field=s.json_title_field,
            max_file_mb=s.max_file_mb,
            tags=tuple(s.stackexchange_tags),
            min_score=s.stackexchange_min_score,
            max_articles=s.wikipedia_max_articles,
            report=report,
        )

    def _flush(self, group: list[ChunkedFile | FileResult], report: IngestReport) -> None:
        """Embed what the group's files need that the store lacks, then commit file by file."""
        batch = [item for item in group if isinstance(item, ChunkedFile)]
        for item in group:
            if isinstance(item, FileResult):
                report.files.append(item)
                if self.progress:
                    self.progress.advance(files=1)
        if not batch:
            return
        texts: dict[str, str] = {}
        for p in batch:
            for _, chunks, hashes in p.documents:
                for c, h in zip(chunks, hashes, strict=True):
                    texts.setdefault(h, f"{c.context}\n{c.text}")
        missing = sorted(self.store.missing_vectors(texts))
        vectors: dict[str, np.ndarray] = {}
        if missing:
            embedded = self.embedder.encode([texts[h] for h in missing], bulk=True)
            vectors = dict(zip(missing, embedded, strict=True))
            report.chunks_embedded += len(missing)
        for p in batch:
            needed = {h for _, _, hs in p.documents for h in hs}
            n = self.store.replace_file(
                p.candidate.source,
                p.hash,
                p.size,
                p.documents,
                {h: v for h, v in vectors.items() if h in needed},
                self.signature,
            )
            reason = "; ".join(p.notes[:3]) + (
                f" and {len(p.notes) - 3} more" if len(p.notes) > 3 else ""
            )
            report.files.append(
                FileResult(p.candidate.source, "ingested", reason, len(p.documents), n)
            )
            if self.progress:
                self.progress.advance(files=1, chunks=n)

    def _prune(self, roots: Sequence[str], seen: set[str], report: IngestReport) -> None:
        """Forget stored files under the given roots (in any spelling) that are gone from disk."""
        keys = [canonical_source(r) for r in roots]
        for path in self.store.file_versions():
            key = path if path in seen else canonical_source(path)
            under = any(is_under(key, root) for root in keys)
            if under and key not in seen and not Path(path).exists():
                self.store.remove_file(path)
                report.files.append(FileResult(path, "removed", "file is gone"))


def _too_many_chunks(cap: int) -> str:
    return (
        f"cuts into more than {cap:,} chunks (ingest.max_chunks_per_file); "
        "split the file or raise the setting"
    )
