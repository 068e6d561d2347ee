"""`chatforge finetune`: a thin shell over :func:`chatforge.finetune.train.finetune`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer


def finetune_command(
    dataset: Annotated[
        Path, typer.Argument(help="A dataset folder from `chatforge data prepare`.")
    ],
    base: Annotated[
        str, typer.Option(help="Base model: built-in name, GGUF file or transformers folder.")
    ] = "smollm2",
    method: Annotated[str, typer.Option(help="lora, qlora (CUDA only) or full.")] = "lora",
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: DATASET-finetuned).")
    ] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after this many steps.")] = None,
    minutes: Annotated[
        float | None, typer.Option(help="Stop training after this many minutes.")
    ] = 10.0,
    epochs: Annotated[float, typer.Option(help="Passes over the training split at most.")] = 2.0,
    lr: Annotated[
        float | None, typer.Option("--lr", help="Learning rate (default 1e-3 LoRA, 5e-5 full).")
    ] = None,
    batch_size: Annotated[
        int, typer.Option(help="Sequences per forward pass (each up to --max-length).")
    ] = 1,
    grad_accum: Annotated[int, typer.Option(help="Forward passes per optimizer step.")] = 4,
    max_length: Annotated[int, typer.Option(help="Longest sequence in tokens.")] = 512,
    lora_r: Annotated[int, typer.Option(help="LoRA rank.")] = 16,
    eval_steps: Annotated[int, typer.Option(help="Steps between validation and checkpoints.")] = 25,
    patience: Annotated[
        int, typer.Option(help="Stop after this many validations without improvement.")
    ] = 3,
    seed: Annotated[int, typer.Option(help="Seed for weights, order and sampling.")] = 0,
    gguf: Annotated[bool, typer.Option(help="Also write model.gguf for llama.cpp.")] = True,
    gguf_type: Annotated[str, typer.Option(help="q8_0, f16, bf16 or f32.")] = "q8_0",
    resume: Annotated[
        bool, typer.Option(help="Continue an interrupted run from its last checkpoint.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Fine-tune a chat model on a prepared dataset (LoRA by default) and export it.

    Writes OUT/adapter, OUT/merged, OUT/model.gguf, metrics.csv, summary.json and report.md;
    `chatforge config set llm.model OUT` then serves it.
    """
    from chatforge.finetune.train import FinetuneConfig, finetune

    cfg = FinetuneConfig(
        dataset=str(dataset),
        base=base,
        method=method,
        out=str(out) if out else None,
        max_steps=max_steps,
        minutes=minutes,
        epochs=epochs,
        learning_rate=lr,
        batch_size=batch_size,
        grad_accum=grad_accum,
        max_length=max_length,
        lora_r=lora_r,
        eval_steps=eval_steps,
        patience=patience,
        seed=seed,
        gguf=gguf,
        gguf_type=gguf_type,
        resume=resume,
        progress=sys.stderr.isatty() and not json_out,
    )

    def log(msg: str) -> None:
        typer.echo(msg, err=True)

    _show(finetune(cfg, log=log), cfg.out_dir(), json_out)


def _show(summary: dict[str, Any], folder: Path, json_out: bool) -> None:
    if not summary:
        return
    if json_out:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
        return
    typer.echo(
        f"validation perplexity {summary['perplexity_before']:.2f} -> "
        f"{summary['perplexity_after']:.2f} in {summary['steps']} steps "
        f"({summary['stopped_by']}); peak memory {summary['peak_rss_mb']:.0f} MB"
    )
    typer.echo(f"report: {folder / 'report.md'}")
    typer.echo(f"use it: chatforge config set llm.model {summary['name']}")
