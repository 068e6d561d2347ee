"""One self-contained HTML page for `eval retrieval` and `eval answers`: the metrics of each
configuration, a plot, the paired test, and every question with its failures first."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:75em}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;
text-align:left;vertical-align:top}tr.fail{background:#fde8e8}.gen{color:#666;font-size:.85em}"""


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else ""
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 100 else f"{v:.0f}"
    if isinstance(v, list):
        return "<br>".join(html.escape(str(x)) for x in v)
    return html.escape(str(v))


def _table(rows: Sequence[dict[str, Any]], cols: Sequence[str], fail: Any = None) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for r in rows:
        cls = ' class="fail"' if fail and fail(r) else ""
        cells = "".join(f"<td>{_fmt(r.get(c))}</td>" for c in cols)
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def metrics_plot(configs: Sequence[dict[str, Any]], keys: Sequence[str]) -> str:
    """Each configuration's metrics as grouped bars, a PNG data URI."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    keys = [k for k in keys if all(c["metrics"].get(k) is not None for c in configs)]
    x = np.arange(len(keys))
    width = 0.8 / max(len(configs), 1)
    fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(keys) + 2), 3.6))
    for i, c in enumerate(configs):
        ax.bar(x + i * width, [c["metrics"][k] for k in keys], width, label=c["name"])
    ax.set_xticks(x + width * (len(configs) - 1) / 2, keys)
    ax.set_ylim(0, 1)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def write_html(
    path: Path,
    title: str,
    result: dict[str, Any],
    metric_keys: Sequence[str],
    question_cols: Sequence[str],
    failed: Any,
    plot_keys: Sequence[str] | None = None,
) -> Path:
    """The report of `result` (configs, each with metrics and questions; optional test)."""
    configs = result["configs"]
    parts = [f"<h1>{html.escape(title)}</h1>", f"<p>{html.escape(result['about'])}</p>"]
    summary = [{"configuration": c["name"], **c["metrics"]} for c in configs]
    parts.append(_table(summary, ["configuration", "n", *metric_keys]))
    parts.append(f'<img alt="metrics" src="{metrics_plot(configs, plot_keys or metric_keys)}">')
    if test := result.get("test"):
        parts.append(
            f"<p>Paired Wilcoxon signed-rank test on per-question {html.escape(test['metric'])}: "
            f"mean difference {test['mean_difference']:+.3f}, p = {test['p_value']:.3g} "
            f"over {test['n']} questions.</p>"
        )
    for c in configs:
        rows = sorted(c["questions"], key=lambda r: (not failed(r), r["line"]))
        n_failed = sum(1 for r in rows if failed(r))
        parts.append(
            f"<h2>{html.escape(c['name'])}: {n_failed} of {len(rows)} questions failed</h2>"
            '<p class="gen">Failures first. "generated" marks questions written by '
            "<code>chatforge eval generate-questions</code>.</p>"
        )
        parts.append(_table(rows, question_cols, failed))
    page = (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
