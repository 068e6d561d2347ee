"""Plots, `report.md` and `metrics.json` for a lab run.

Every sentence of the summary is computed from the measured numbers, and every number the
report shows is also in metrics.json (the `comparison` key holds the derived ones), so the
report can never claim more than the run showed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

NAMES = {"lstm": "LSTM", "transformer": "Transformer"}
COLORS = {"lstm": "tab:orange", "transformer": "tab:blue"}
RELIABLE = 0.9  # accuracy at which the probe counts a distance as reliably recalled
TIE = 0.02  # relative perplexity difference below which two models count as tied
MIN_STEPS = 50  # fewer optimizer steps than this and the summary warns that little was learned

FIGURES = {
    "time": "ppl_vs_time.png",
    "tokens": "ppl_vs_tokens.png",
    "probe": "probe_accuracy.png",
    "attention": "attention_map.png",
}


def _ppl_at_tokens(curve: list[dict[str, Any]], tokens: float) -> float:
    """Validation perplexity at a token count, interpolating the loss between evaluations."""
    xs = [p["tokens"] for p in curve]
    ys = [p["val_loss"] for p in curve]
    return math.exp(float(np.interp(tokens, xs, ys)))


def compare(metrics: dict[str, Any]) -> dict[str, Any]:
    """The derived numbers the summary states: ratios, the matched-token view, probe reach."""
    lstm, tr = metrics["lstm"], metrics["transformer"]
    c: dict[str, Any] = {}
    c["param_diff_pct"] = 100 * (tr["params"] - lstm["params"]) / lstm["params"]
    c["ppl_ratio_lstm_over_transformer"] = lstm["final_val_ppl"] / tr["final_val_ppl"]
    c["throughput_ratio_transformer_over_lstm"] = tr["tokens_per_s"] / max(
        lstm["tokens_per_s"], 1e-9
    )
    matched = min(lstm["tokens_seen"], tr["tokens_seen"])
    c["matched_tokens"] = matched
    if matched > 0:
        c["matched_ppl"] = {k: _ppl_at_tokens(metrics[k]["curve"], matched) for k in NAMES}
    for key in NAMES:
        acc = {int(d): a for d, a in metrics[key]["probe"]["accuracy"].items()}
        reliable = [d for d in sorted(acc) if acc[d] >= RELIABLE]
        # "Reliable up to D" means every distance up to D passed, not just some of them.
        reach = 0
        for d in sorted(acc):
            if acc[d] < RELIABLE:
                break
            reach = d
        c[f"probe_{key}"] = {
            "mean_accuracy": float(np.mean(list(acc.values()))),
            "longest_distance": max(acc),
            "accuracy_at_longest": acc[max(acc)],
            "reliable_up_to": reach,
            "reliable_distances": reliable,
        }
    return c


def _verdict(
    a_name: str, a: float, b_name: str, b: float, lower_is_better: bool, tol: float | None = None
) -> str:
    """Which of two numbers wins, or that they tie; phrased from the numbers alone.

    `tol` is an absolute margin (for accuracies); without it the margin is TIE, relative.
    """
    margin = tol if tol is not None else TIE * max(abs(a), abs(b), 1e-9)
    if abs(a - b) <= margin:
        return "the two are effectively tied"
    a_wins = (a < b) if lower_is_better else (a > b)
    winner, loser = (a_name, b_name) if a_wins else (b_name, a_name)
    return f"the {winner} is ahead of the {loser}"


def summary(metrics: dict[str, Any], c: dict[str, Any]) -> list[str]:
    """The report's headline sentences, each one computed from the run's numbers."""
    lstm, tr = metrics["lstm"], metrics["transformer"]
    secs = metrics["budget"]["lm_seconds_per_model"]
    out = [
        f"After the same {secs:.0f} s of training each, the Transformer reached validation "
        f"perplexity {tr['final_val_ppl']:.2f} vs the LSTM's {lstm['final_val_ppl']:.2f} "
        f"(lower is better): "
        + _verdict("Transformer", tr["final_val_ppl"], "LSTM", lstm["final_val_ppl"], True)
        + ".",
        f"In that time the Transformer processed {tr['tokens_per_s']:,.0f} tokens/s and saw "
        f"{tr['tokens_seen']:,} tokens; the LSTM processed {lstm['tokens_per_s']:,.0f} "
        f"tokens/s and saw {lstm['tokens_seen']:,} tokens "
        f"({c['throughput_ratio_transformer_over_lstm']:.2f}x the LSTM's rate for the "
        f"Transformer).",
    ]
    if "matched_ppl" in c:
        m = c["matched_ppl"]
        out.append(
            f"Compared at the same number of training tokens ({c['matched_tokens']:,}), the "
            f"Transformer's perplexity was {m['transformer']:.2f} and the LSTM's "
            f"{m['lstm']:.2f}: per token seen, "
            + _verdict("Transformer", m["transformer"], "LSTM", m["lstm"], True)
            + "."
        )
    out.append(
        f"Both models have about the same size: LSTM {lstm['params']:,} and Transformer "
        f"{tr['params']:,} parameters ({c['param_diff_pct']:+.1f}%)."
    )
    pt, pl = c["probe_transformer"], c["probe_lstm"]
    chance = metrics["probe"]["chance"]
    longest = pt["longest_distance"]

    def reach(p: dict[str, Any]) -> str:
        return (
            f"up to D={p['reliable_up_to']}"
            if p["reliable_up_to"]
            else "at none of the distances tested"
        )

    if max(pt["mean_accuracy"], pl["mean_accuracy"]) < chance + 0.1:
        probe_verdict = "neither model learned the task in this budget"
    else:
        probe_verdict = _verdict(
            "Transformer", pt["mean_accuracy"], "LSTM", pl["mean_accuracy"], False, tol=0.02
        )
    out.append(
        f"On the long-range recall probe (chance {chance:.0%}), at the longest distance "
        f"D={longest} the Transformer was right {pt['accuracy_at_longest']:.0%} of the time "
        f"and the LSTM {pl['accuracy_at_longest']:.0%}; the Transformer recalled reliably "
        f"(at least {RELIABLE:.0%}) {reach(pt)} and the LSTM {reach(pl)}. Averaged over "
        f"distances, {probe_verdict} ({pt['mean_accuracy']:.0%} vs {pl['mean_accuracy']:.0%})."
    )
    fewest = min(lstm["steps"], tr["steps"])
    if fewest < MIN_STEPS:
        out.append(
            f"Caution: one model made only {fewest} optimizer steps, too few for the "
            f"comparison to mean much; run with a larger --minutes."
        )
    return out


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def _plot_curves(metrics: dict[str, Any], x_key: str, xlabel: str, path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    for key, name in NAMES.items():
        curve = metrics[key]["curve"]
        ax.plot(
            [p[x_key] for p in curve],
            [p["val_ppl"] for p in curve],
            marker="o",
            markersize=3,
            color=COLORS[key],
            label=f"{name} ({metrics[key]['params']:,} params)",
        )
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("validation perplexity (log scale)")
    ax.set_title(
        f"Validation perplexity vs {xlabel.split(' (')[0]} ({metrics['tokenizer']['kind']} tokens)"
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _plot_probe(metrics: dict[str, Any], path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    for key, name in NAMES.items():
        acc = metrics[key]["probe"]["accuracy"]
        ds = sorted(int(d) for d in acc)
        ax.plot(
            ds,
            [acc[str(d)] for d in ds],
            marker="o",
            color=COLORS[key],
            label=f"{name} ({metrics[key]['probe']['steps']} steps)",
        )
    ax.axhline(metrics["probe"]["chance"], color="gray", linestyle="--", label="chance")
    ax.set_xscale("log", base=2)
    ax.set_xticks(metrics["probe"]["distances"], [str(d) for d in metrics["probe"]["distances"]])
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("distance D between the value and the query (tokens)")
    ax.set_ylabel("recall accuracy")
    ax.set_title(
        f"Long-range recall, same {metrics['budget']['probe_seconds_per_model']:.0f} s "
        "of training each"
    )
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _plot_attention(weights: Any, labels: list[str], layer: int, path: Path) -> None:
    from matplotlib.figure import Figure

    w = np.asarray(weights)  # (n_head, T, T)
    n_head, T = w.shape[0], w.shape[-1]
    cols = min(n_head, 2)
    rows = math.ceil(n_head / cols)
    side = max(4.0, 0.38 * T)
    fig = Figure(figsize=(side * cols, side * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for h, ax in enumerate(axes.flat):
        if h >= n_head:
            ax.axis("off")
            continue
        ax.imshow(w[h], cmap="viridis", vmin=0.0, vmax=1.0)
        ax.set_xticks(range(T), labels, rotation=90, fontsize=8)
        ax.set_yticks(range(T), labels, fontsize=8)
        ax.set_title(f"head {h + 1}")
        ax.set_xlabel("attended-to token (key)")
        ax.set_ylabel("attending token (query)")
    fig.suptitle(
        f"Transformer attention, layer {layer} (the last): each row sums to 1; "
        "the upper triangle is masked (no looking ahead)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------


def _markdown(metrics: dict[str, Any]) -> str:
    lines = [
        "# LSTM vs Transformer: a lab report",
        "",
        "## Summary",
        "",
        *[f"- {s}" for s in metrics["summary"]],
        "",
        *_setup(metrics),
        *_language_modelling(metrics),
        *_probe(metrics),
        *_samples_and_attention(metrics),
        *_caveats(metrics),
    ]
    return "\n".join(lines)


def _setup(metrics: dict[str, Any]) -> list[str]:
    b, corpus, tok = metrics["budget"], metrics["corpus"], metrics["tokenizer"]
    cfg = metrics["config"]
    t, ls = cfg["transformer"], cfg["lstm"]
    lr = cfg["learning_rate"]
    return [
        "## Setup",
        "",
        f"- Corpus: {corpus['name']} ({corpus['characters']:,} characters, "
        f"{corpus['tokens']:,} tokens; {corpus['train_tokens']:,} for training, the last "
        f"{corpus['val_tokens']:,} held out for validation).",
        f"- Tokenizer: {tok['kind']} with {tok['vocab_size']:,} tokens, shared by both models.",
        f"- Transformer: {t['n_layer']} pre-norm blocks, {t['n_head']} heads, width "
        f"{t['n_embd']}, context {t['block_size']} tokens, learned positions.",
        f"- LSTM: {ls['n_layer']} layers, hidden size {ls['n_hidden']} (chosen to match the "
        f"Transformer's parameter count), trained on the same {ls['block_size']}-token windows.",
        f"- Training: AdamW with peak learning rates {lr['lstm']:g} (LSTM) and "
        f"{lr['transformer']:g} (Transformer), each the best of a short sweep, with warm-up "
        f"and cosine decay over the time budget; batches of {cfg['batch_size']} windows drawn "
        "in the same order for both.",
        f"- Budget: {b['lm_seconds_per_model']:.0f} s of language-model training and "
        f"{b['probe_seconds_per_model']:.0f} s of probe training per model "
        f"(`--minutes {b['minutes']:g}`), on {b['device']}, seed {b['seed']}.",
        "",
    ]


def _language_modelling(metrics: dict[str, Any]) -> list[str]:
    lstm, tr = metrics["lstm"], metrics["transformer"]
    return [
        "## Language modelling",
        "",
        "| | LSTM | Transformer |",
        "|---|---:|---:|",
        f"| parameters | {lstm['params']:,} | {tr['params']:,} |",
        f"| training time (s) | {lstm['train_seconds']:.1f} | {tr['train_seconds']:.1f} |",
        f"| optimizer steps | {lstm['steps']:,} | {tr['steps']:,} |",
        f"| tokens seen | {lstm['tokens_seen']:,} | {tr['tokens_seen']:,} |",
        f"| training tokens/s | {lstm['tokens_per_s']:,.0f} | {tr['tokens_per_s']:,.0f} |",
        f"| final validation loss (nats/token) | {lstm['final_val_loss']:.3f} | "
        f"{tr['final_val_loss']:.3f} |",
        f"| final validation perplexity | {lstm['final_val_ppl']:.2f} | "
        f"{tr['final_val_ppl']:.2f} |",
        "",
        "Perplexity is e to the mean loss: roughly, how many tokens the model is choosing "
        "between at each step. It depends on the tokenizer, so compare it only between runs "
        "with the same one.",
        "",
        f"![validation perplexity vs training time]({FIGURES['time']})",
        "",
        f"![validation perplexity vs tokens seen]({FIGURES['tokens']})",
        "",
    ]


def _probe(metrics: dict[str, Any]) -> list[str]:
    lstm, tr, probe = metrics["lstm"], metrics["transformer"], metrics["probe"]
    lines = [
        "## Long-range dependency probe",
        "",
        f"Task: {probe['task']}; {probe['n_values']} possible values "
        f"among {probe['n_noise']} noise tokens, sequences of "
        f"{probe['seq_len']} tokens; fresh, smaller models "
        f"(LSTM {lstm['probe']['params']:,} and Transformer {tr['probe']['params']:,} "
        f"parameters), each trained for the same time.",
        "",
        "| distance D | " + " | ".join(str(d) for d in probe["distances"]) + " |",
        "|---|" + "---:|" * len(probe["distances"]),
    ]
    for key, name in NAMES.items():
        acc = metrics[key]["probe"]["accuracy"]
        lines.append(
            f"| {name} ({metrics[key]['probe']['steps']} steps) | "
            + " | ".join(f"{acc[str(d)]:.2f}" for d in probe["distances"])
            + " |"
        )
    return [*lines, "", f"![recall accuracy per distance]({FIGURES['probe']})", ""]


def _samples_and_attention(metrics: dict[str, Any]) -> list[str]:
    s = metrics["sampling"]
    lines = [
        "## Samples",
        "",
        f"Both continue the same prompt at temperature {s['temperature']} with seed "
        f"{s['seed']}, {s['new_tokens']} new tokens each.",
        "",
    ]
    for key, name in NAMES.items():
        lines += [f"### {name}", "", "```text", metrics[key]["sample"].strip(), "```", ""]
    return [
        *lines,
        "## Attention",
        "",
        f"The trained Transformer's attention in its last layer on: "
        f'"{metrics["attention"]["sentence"]}"',
        "",
        f"![attention map]({FIGURES['attention']})",
        "",
    ]


def _caveats(metrics: dict[str, Any]) -> list[str]:
    b, tok = metrics["budget"], metrics["tokenizer"]
    return [
        "## Caveats",
        "",
        "- The budget is wall-clock time, so the step counts (and the numbers above) depend on "
        "the machine and on whatever else it was running; rerun for a second opinion.",
        "- These are tiny models trained for minutes. Larger models, longer training and a GPU "
        "all change the balance, usually in the Transformer's favour, since its work per "
        "position runs in parallel.",
        "",
        f"Reproduce with `chatforge lab lm --minutes {b['minutes']:g} --tokenizer {tok['kind']} "
        f"--seed {b['seed']}`; every number here is in `metrics.json`.",
        "",
    ]


def write_report(
    out: Path, metrics: dict[str, Any], attention: Any, attention_labels: list[str]
) -> dict[str, Any]:
    """Write the figures, metrics.json and report.md into `out`; returns the metrics."""
    out.mkdir(parents=True, exist_ok=True)
    metrics["comparison"] = compare(metrics)
    metrics["summary"] = summary(metrics, metrics["comparison"])
    metrics["figures"] = dict(FIGURES)
    _plot_curves(metrics, "time_s", "training time (s)", out / FIGURES["time"])
    _plot_curves(metrics, "tokens", "training tokens seen", out / FIGURES["tokens"])
    _plot_probe(metrics, out / FIGURES["probe"])
    _plot_attention(
        attention, attention_labels, metrics["attention"]["layer"], out / FIGURES["attention"]
    )
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    (out / "report.md").write_text(_markdown(metrics), encoding="utf-8")
    return metrics
