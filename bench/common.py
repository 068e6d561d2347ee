"""Helpers shared by the benchmarks: offline model settings, labelled questions, rank metrics."""

from __future__ import annotations

import json
import os
import resource
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"


def offline() -> None:
    """Never reach a model hub: every model comes from an installed package."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def first_rank(results: Sequence[Any], relevant: Callable[[Any], bool]) -> int | None:
    """1-based rank of the first relevant result, or None."""
    return next((i for i, r in enumerate(results, start=1) if relevant(r)), None)


def rank_metrics(ranks: Iterable[int | None], cutoffs: Sequence[int] = (1, 5)) -> dict[str, float]:
    """hit@k for each cutoff and MRR@max(cutoffs) from first-relevant ranks."""
    ranks = list(ranks)
    n = max(len(ranks), 1)
    out = {f"hit@{k}": sum(1 for r in ranks if r is not None and r <= k) / n for k in cutoffs}
    top = max(cutoffs)
    out[f"mrr@{top}"] = sum(1 / r for r in ranks if r is not None and r <= top) / n
    return out


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation."""
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q))


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """A plain fixed-width table; floats get 3 significant decimals."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3f}" if abs(v) < 100 else f"{v:.1f}"
        return str(v)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)
