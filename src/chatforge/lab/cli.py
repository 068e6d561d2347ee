"""`chatforge lab`: train small language models side by side and report what happened.

Nothing heavy is imported here at module level (torch and matplotlib load inside the command),
so `chatforge --help` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="The lab: train an LSTM and a small Transformer on the same text and compare them.",
    no_args_is_help=True,
)


@app.callback()
def _lab() -> None:
    """The lab: train an LSTM and a small Transformer on the same text and compare them."""


@app.command()
def lm(
    corpus: Annotated[
        Path | None,
        typer.Option(
            help="A text file, or a folder of .md/.txt/.rst files. "
            "Default: Python's built-in help pages (pydoc_data.topics)."
        ),
    ] = None,
    minutes: Annotated[
        float, typer.Option(help="Total time budget; about 10 minutes on 2 CPU cores.")
    ] = 10.0,
    out: Annotated[Path, typer.Option(help="Folder for report.md, metrics.json and PNGs.")] = Path(
        "lab-out"
    ),
    tokenizer: Annotated[
        str, typer.Option(help="bpe (byte-level BPE trained on the corpus) or char.")
    ] = "bpe",
    seed: Annotated[int, typer.Option(help="Seed for weights, batches and sampling.")] = 0,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the metrics as JSON on stdout, nothing else.")
    ] = False,
) -> None:
    """Train an LSTM and a GPT-style Transformer with matched sizes and time, and report.

    Writes validation-perplexity curves (vs time and vs tokens), a long-range recall probe,
    samples, an attention map, report.md and metrics.json into --out.
    """
    from chatforge.lab.train import run_lab

    def log(msg: str) -> None:
        typer.echo(msg, err=True)

    metrics = run_lab(corpus, minutes, out, tokenizer, seed, log=log)
    if json_output:
        typer.echo(json.dumps(metrics))
    else:
        for sentence in metrics["summary"]:
            typer.echo(sentence)
        typer.echo(f"Report: {out / 'report.md'}")
