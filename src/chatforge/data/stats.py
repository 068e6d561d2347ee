"""What a prepared dataset holds: token-length percentiles and a histogram of lengths."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def percentiles(lengths: Sequence[int]) -> dict[str, int]:
    """p50, p90, p99, max and total of the lengths (zeros for none)."""
    import numpy as np

    if not lengths:
        return {"p50": 0, "p90": 0, "p99": 0, "max": 0, "total": 0}
    values = np.asarray(lengths)
    p50, p90, p99 = (int(round(v)) for v in np.percentile(values, [50, 90, 99]))
    return {
        "p50": p50,
        "p90": p90,
        "p99": p99,
        "max": int(values.max()),
        "total": int(values.sum()),
    }


def histogram(lengths: Sequence[int], unit: str, path: Path, max_length: int | None) -> None:
    """A PNG histogram of row lengths; `unit` ("tokens" or "characters") labels the axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.hist(lengths, bins=min(50, max(5, len(set(lengths)))), color="#3b7dd8")
    if max_length is not None:
        ax.axvline(max_length, color="#d84a3b", linestyle="--", label=f"max length {max_length}")
        ax.legend()
    ax.set_xlabel(f"row length ({unit})")
    ax.set_ylabel("rows")
    ax.set_title(f"{len(lengths)} training rows")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
