"""One Markdown report with PNG plots: loss curves, each configuration's scores, sample answers."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

METRICS = (("token_f1", "token F1"), ("rouge_l", "ROUGE-L"), ("cosine", "embedding cosine"))


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None or v == "":
        return "–"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def read_metrics(path: Path) -> list[dict[str, float | None]]:
    """The rows of a ``metrics.csv`` with numbers as floats and blanks as None."""
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as f:
        return [
            {k: (float(v) if v not in ("", None) else None) for k, v in r.items()}
            for r in csv.DictReader(f)
        ]


def plot_loss(metrics_csv: Path, png: Path) -> bool:
    """Training and validation loss against step; False when there is nothing to plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(metrics_csv)
    train = [(r["step"], r["loss"]) for r in rows if r.get("loss") is not None]
    val = [(r["step"], r["eval_loss"]) for r in rows if r.get("eval_loss") is not None]
    if not train and not val:
        return False
    fig, ax = plt.subplots(figsize=(6, 3.5))
    if train:
        ax.plot(*zip(*train, strict=True), label="training loss", color="tab:blue")
    if val:
        ax.plot(*zip(*val, strict=True), "o-", label="validation loss", color="tab:orange")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return True


def plot_scores(rows: Sequence[dict[str, Any]], png: Path) -> None:
    """Perplexity, answer similarity and latency of each configuration, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = [r["config"] for r in rows]
    x = np.arange(len(names))
    has_answers = all("token_f1" in r for r in rows)
    fig, axes = plt.subplots(1, 3 if has_answers else 1, figsize=(13 if has_answers else 5, 3.8))
    axes = np.atleast_1d(axes)
    ppl = [r.get("perplexity") or 0.0 for r in rows]
    axes[0].bar(x, ppl, color="tab:purple")
    axes[0].set_title("validation perplexity (lower is better)")
    if has_answers:
        width = 0.8 / len(METRICS)
        for i, (key, label) in enumerate(METRICS):
            axes[1].bar(x + (i - 1) * width, [r[key] for r in rows], width, label=label)
        axes[1].set_ylim(0, 1)
        axes[1].set_title("similarity to the reference (higher is better)")
        axes[1].legend(fontsize=8)
        axes[2].bar(x, [r["latency_ms"] for r in rows], color="tab:gray")
        axes[2].set_title("latency per answer (ms)")
    for ax in axes:
        ax.set_xticks(x, names, rotation=15, fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def write_report(
    folder: Path,
    title: str,
    rows: Sequence[dict[str, Any]],
    samples: Sequence[dict[str, Any]],
    summary: dict[str, Any] | None = None,
    metrics_csv: Path | None = None,
) -> Path:
    """Write ``report.md``, ``scores.png`` and (with a metrics CSV) ``loss.png`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"# {title}", ""]
    s = summary or {}
    if "perplexity_before" in s:
        before, after = s["perplexity_before"], s["perplexity_after"]
        change = 100 * (after - before) / before
        lines += [
            f"Validation perplexity went from {before:.2f} to {after:.2f} ({change:+.1f}%) after "
            f"{s['steps']} steps ({s['epochs']} epochs, stopped by {s['stopped_by']}) in "
            f"{s['train_seconds']:.0f} s, at {_fmt(s.get('tokens_per_s'), 1)} training tokens/s; "
            f"peak memory {s['peak_rss_mb']:.0f} MB.",
            "",
        ]
    if metrics_csv is not None and plot_loss(metrics_csv, folder / "loss.png"):
        lines += ["![loss curves](loss.png)", ""]
    if rows:
        plot_scores(rows, folder / "scores.png")
        header = ["configuration", "model", "val. perplexity"]
        keys = ["perplexity"]
        if all("token_f1" in r for r in rows):
            header += ["token F1", "ROUGE-L", "cosine", "latency (ms)"]
            keys += ["token_f1", "rouge_l", "cosine", "latency_ms"]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for r in rows:
            cells = [r["config"], f"`{Path(r['model']).name}`"]
            cells += [_fmt(r.get(k), 0 if k == "latency_ms" else 3) for k in keys]
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", "![scores](scores.png)", ""]
    if samples:
        lines += ["## Sample answers", ""]
        for i, sm in enumerate(samples, 1):
            lines += [
                f"**Question {i}.** {sm['question']}",
                "",
                f"- *reference*: {sm['reference']}",
            ]
            lines += [f"- *{name}*: {text or '(empty)'}" for name, text in sm["answers"].items()]
            lines.append("")
    path = folder / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
