"""The `data prepare` pipeline: read every source, clean, deduplicate, tokenize, split, write.

The dataset is built in `OUT.partial-<pid>` and renamed into place at the end, so a run that
fails or is killed never leaves a folder that a later run (or `load_prepared`) would take for a
finished dataset.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chatforge.data.clean import clean_row
from chatforge.data.dedup import dedup
from chatforge.data.split import split_ids
from chatforge.data.stats import histogram, percentiles
from chatforge.errors import ChatforgeError
from chatforge.formats.folders import source_files
from chatforge.formats.rows import ReadContext, Row
from chatforge.formats.training import (
    FORMATS,
    KNOWN_SUFFIXES,
    PLAIN_TEXT_FORMATS,
    detect,
    is_hf_folder,
    read,
    whole_folder_format,
)

log = logging.getLogger(__name__)

STATS_FILE = "stats.json"
HISTOGRAM_FILE = "lengths.png"
SKIPS_SHOWN = 10  # skipped records shown one line each; all are listed in stats.json


@dataclass
class PrepareReport:
    """What `prepare` did; the same keys as the dataset's stats.json."""

    sources: list[dict[str, Any]] = field(default_factory=list)
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    splits: dict[str, int] = field(default_factory=dict)
    model: str | None = None
    tokens: dict[str, int] | None = None
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def prepare(
    sources: list[str | Path],
    out: str | Path,
    *,
    fmt: str = "auto",
    model: str | None = None,
    me: str | None = None,
    pii: bool = False,
    validation: float = 0.1,
    seed: int = 0,
    max_length: int = 512,
    qa_columns: str | tuple[str, str] | None = None,
    tags: list[str] | tuple[str, ...] = (),
    min_score: int | None = None,
    limit: int | None = None,
) -> PrepareReport:
    """Turn `sources` into a chat-format training set in the folder `out`."""
    if fmt != "auto" and fmt not in FORMATS:
        raise ChatforgeError(f"--format {fmt}: use auto or one of {', '.join(FORMATS)}")
    if limit is not None and limit < 1:
        raise ChatforgeError(f"--limit {limit}: give at least 1 article")
    if max_length < 16:
        raise ChatforgeError(f"--max-length {max_length}: give at least 16 tokens")
    if not 0 <= validation < 1:
        raise ChatforgeError(f"--validation {validation}: give a fraction from 0 up to (not) 1")
    out = Path(out)
    _check_out(out)
    tokenizer = _tokenizer(model) if model else None
    chunker = _chunker_factory(tokenizer, max_length)
    ctx = ReadContext(
        me=me,
        qa_columns=_qa_pair(qa_columns),
        tags=tuple(tags),
        min_score=min_score,
        limit=limit,
        max_length=max_length,
        chunker=chunker,
        log=log.info,
    )
    report = PrepareReport(model=model)
    dropped: Counter[str] = Counter()
    clean = functools.partial(clean_row, pii=pii, max_length=max_length, dropped=dropped)
    cleaned = _read_sources(sources, fmt, ctx, report, clean)
    dropped.update(ctx.dropped)
    rows = list(dedup(cleaned, dropped))
    if tokenizer is not None:
        rows, lengths = _tokenize(rows, tokenizer, max_length, dropped)
    else:
        lengths = [len(r.text) or sum(len(m["content"]) for m in r.messages) for r in rows]
    report.skipped = [{"source": s.source, "line": s.line, "reason": s.reason} for s in ctx.skipped]
    report.dropped = dict(sorted(dropped.items()))
    if not rows:
        raise ChatforgeError(
            f"no training rows left from {len(report.sources)} source(s) "
            f"(dropped: {_counts(dropped) or 'none'}); check the sources and --format"
        )
    validation_ids = split_ids([r.conversation_id for r in rows], validation, seed)
    report.kept = len(rows)
    report.tokens = percentiles(lengths) if tokenizer else None
    if ctx.skipped:
        for s in ctx.skipped[:SKIPS_SHOWN]:
            log.warning("%s%s: %s", s.source, f" line {s.line}" if s.line else "", s.reason)
        first = ", ".join(f"{s.source} line {s.line}" for s in ctx.skipped[:3])
        more = f" and {len(ctx.skipped) - 3} more" if len(ctx.skipped) > 3 else ""
        log.warning(
            "skipped %d unreadable record(s): %s%s (listed in stats.json)",
            len(ctx.skipped),
            first,
            more,
        )
    _write(out, rows, validation_ids, lengths, report, tokenizer is not None, max_length)
    return report


def _read_sources(
    sources: list[str | Path],
    fmt: str,
    ctx: ReadContext,
    report: PrepareReport,
    clean: Callable[..., Row | None],
) -> list[Row]:
    """The cleaned rows of every source, each source noted in the report with its format."""
    cleaned: list[Row] = []
    for path, source, in_folder in _expand(sources, fmt):
        try:
            chosen = detect(path) if fmt == "auto" else fmt
        except ChatforgeError as exc:
            if not in_folder:
                raise
            ctx.skip(source, None, "format not recognised; name the file itself with --format")
            log.info("%s", exc)
            continue
        if fmt == "auto":
            log.info("%s: %s", source, chosen)
        n = 0
        markup = chosen not in PLAIN_TEXT_FORMATS
        for row in read(path, source, chosen, ctx):
            n += 1
            kept = clean(row, markup=markup)
            if kept is not None:
                cleaned.append(kept)
        report.sources.append({"path": source, "format": chosen, "records": n})
    return cleaned


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{n} {reason}" for reason, n in counter.most_common())


def _qa_pair(value: str | tuple[str, str] | None) -> tuple[str, str] | None:
    if value is None:
        return None
    parts = value.split(",") if isinstance(value, str) else list(value)
    parts = [p.strip() for p in parts]
    if len(parts) != 2 or not all(parts):
        raise ChatforgeError(f"--qa-columns {value!r}: give two column names, QUESTION,ANSWER")
    return parts[0], parts[1]


# ---------------------------------------------------------------------------- sources


def _expand(sources: list[str | Path], fmt: str) -> list[tuple[Path, str, bool]]:
    """(path, the path as the user gave it, found in a folder) for each file, in order."""
    if not sources:
        raise ChatforgeError("no sources given: name files or folders to prepare")
    found: list[tuple[Path, str, bool]] = []
    for given in sources:
        path = Path(given)
        if not path.exists():
            raise ChatforgeError(f"{given}: no such file or folder")
        whole = fmt in ("hf", "stackexchange", "email") or (
            fmt == "wikipedia" and is_hf_folder(path)
        )
        if path.is_file() or whole or (fmt == "auto" and whole_folder_format(path)):
            found.append((path, str(given), False))
            continue
        files = [
            p for p in source_files(path) if fmt != "auto" or p.suffix.lower() in KNOWN_SUFFIXES
        ]
        if not files:
            raise ChatforgeError(f"{given}: no files of a known format in this folder")
        found.extend((p, str(Path(given) / p.relative_to(path)), True) for p in files)
    return found


# ---------------------------------------------------------------------------- tokenizing


def _tokenizer(model: str) -> Any:
    from chatforge.llm import hf_folder

    folder = hf_folder(model)
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(folder))
    except (OSError, ValueError) as exc:
        raise ChatforgeError(f"{model}: no usable tokenizer in {folder} ({exc})") from exc


def _chunker_factory(tokenizer: Any, max_length: int):
    """Builds the documentation chunker on first use, with the target model's tokenizer (or the
    built-in embedder's when no model is named, as a stand-in measure of length)."""
    built: list[Any] = []

    def make() -> Any:
        if not built:
            from chatforge.ingest.chunker import Chunker

            tok = tokenizer
            if tok is None:
                from transformers import AutoTokenizer

                from chatforge.models import resolve_embedder

                tok = AutoTokenizer.from_pretrained(resolve_embedder("all-MiniLM-L6-v2"))
            built.append(Chunker(tok, max_tokens=max_length - 1, target_tokens=max_length - 1))
        return built[0]

    return make


def _tokenize(
    rows: list[Row], tokenizer: Any, max_length: int, dropped: Counter[str]
) -> tuple[list[Row], list[int]]:
    from chatforge.data.tokenize import tokenize_row

    if any(r.messages for r in rows) and not getattr(tokenizer, "chat_template", None):
        raise ChatforgeError(
            "the model has no chat template, so conversations cannot be tokenized: use an "
            "instruct model or only documentation sources"
        )
    kept, lengths = [], []
    for row in rows:
        try:
            enc = tokenize_row(tokenizer, {"messages": row.messages, "text": row.text}, max_length)
        except ValueError as exc:
            raise ChatforgeError(f"the model's chat template cannot be used here: {exc}") from exc
        except Exception as exc:  # jinja raises TemplateError for turns a template refuses
            if type(exc).__name__ != "TemplateError":
                raise
            dropped["refused by the chat template"] += 1
            continue
        if enc is None:
            dropped["nothing to learn"] += 1
            continue
        row.input_ids, row.labels = enc["input_ids"], enc["labels"]
        kept.append(row)
        lengths.append(len(enc["input_ids"]))
    return kept, lengths


# ---------------------------------------------------------------------------- writing


def _check_out(out: Path) -> None:
    """Refuse to replace a folder that is not a prepared dataset; clear dead runs' leftovers."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not _is_prepared(out))):
        raise ChatforgeError(
            f"{out} exists and is not a prepared dataset; choose another --out or remove it"
        )
    for partial in out.parent.glob(f"{out.name}.partial-*"):
        pid = partial.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(partial, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_prepared(path: Path) -> bool:
    return (path / STATS_FILE).is_file() and (path / "dataset_dict.json").is_file()


def _features(tokenized: bool) -> Any:
    from datasets import Features, List, Value

    columns: dict[str, Any] = {
        "messages": List({"role": Value("string"), "content": Value("string")}),
        "text": Value("string"),
        "kind": Value("string"),
        "conversation_id": Value("string"),
        "source": Value("string"),
    }
    if tokenized:
        columns |= {
            "input_ids": List(Value("int32")),
            "labels": List(Value("int32")),
            "length": Value("int32"),
        }
    return Features(columns)


def _record(row: Row, tokenized: bool) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "messages": row.messages,
        "text": row.text if not row.messages else "",
        "kind": row.kind,
        "conversation_id": row.conversation_id,
        "source": row.source,
    }
    if tokenized:
        ids = row.input_ids or []
        rec |= {"input_ids": ids, "labels": row.labels, "length": len(ids)}
    return rec


def _write(
    out: Path,
    rows: list[Row],
    validation_ids: set[str],
    lengths: list[int],
    report: PrepareReport,
    tokenized: bool,
    max_length: int,
) -> None:
    import json

    from datasets import Dataset, DatasetDict
    from datasets.utils import (
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )

    features = _features(tokenized)
    sides: dict[str, list[dict[str, Any]]] = {"train": [], "validation": []}
    for row in rows:
        side = "validation" if row.conversation_id in validation_ids else "train"
        sides[side].append(_record(row, tokenized))
    report.splits = {k: len(v) for k, v in sides.items()}
    partial = out.with_name(f"{out.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        data = DatasetDict(
            {
                k: Dataset.from_dict({c: [r[c] for r in v] for c in features}, features=features)
                for k, v in sides.items()
            }
        )
        quiet = not are_progress_bars_disabled()
        if quiet:
            disable_progress_bars()
        try:
            # one shard per split even when empty: datasets cannot read back a split of none
            data.save_to_disk(str(partial), num_shards=dict.fromkeys(data, 1))
        finally:
            if quiet:
                enable_progress_bars()
        (partial / STATS_FILE).write_text(
            json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        unit = "tokens" if tokenized else "characters"
        histogram(lengths, unit, partial / HISTOGRAM_FILE, max_length if tokenized else None)
        old = out.with_name(f"{out.name}.old-{os.getpid()}")
        if out.exists():
            out.rename(old)
        partial.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def load_prepared(path: str | Path) -> Any:
    """The `datasets.DatasetDict` that `prepare` wrote at `path`, or a one-line error."""
    path = Path(path)
    fix = f"make one with `chatforge data prepare SRC... --out {path}`"
    if not path.is_dir():
        raise ChatforgeError(f"{path}: no such dataset folder; {fix}")
    if not _is_prepared(path):
        raise ChatforgeError(f"{path} is not a prepared dataset (no {STATS_FILE}); {fix}")
    from datasets import load_from_disk

    try:
        data = load_from_disk(str(path))
    except Exception as exc:  # datasets raises several kinds for a damaged folder
        raise ChatforgeError(f"{path}: the dataset cannot be read ({exc}); {fix}") from exc
    missing = {"train", "validation"} - set(data)
    if missing:
        raise ChatforgeError(f"{path}: no {' or '.join(sorted(missing))} split; {fix}")
    return data
