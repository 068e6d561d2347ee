"""`chatforge tune-retriever`: fit the bot's embedding model to its own questions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chatforge.cli.common import BotOpt, JsonOpt, open_bot, print_json


def tune_retriever(
    questions: Annotated[
        Path | None,
        typer.Argument(
            help="Test set with generated questions (default: the bot's tests/questions.jsonl).",
            show_default=False,
        ),
    ] = None,
    bot: BotOpt = None,
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the training pairs.")] = 1,
    batch_size: Annotated[int, typer.Option(min=2, help="Pairs per step.")] = 16,
    out: Annotated[
        Path | None, typer.Option(help="Model folder (default: BOT/models/retriever).")
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Switch to the tuned model even if it does worse on held-out questions."
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Fine-tune the embedding model on generated questions, re-embed, set embed.model (kept
    as it was when the tuned model does worse on the held-out questions)."""
    from chatforge.cli.settings import _write_setting
    from chatforge.config import CONFIG_FILE
    from chatforge.evaluate.tune_retriever import tune_retriever as run
    from chatforge.progress import CountProgress

    b = open_bot(bot)
    with CountProgress("re-embedding", enabled=not json_out) as progress:
        result = run(b, questions, out, epochs, batch_size, progress.update, force=force)
    if result["switched"]:
        _write_setting(b.folder / CONFIG_FILE, "embed", "model", result["model"])
    if json_out:
        print_json(result)
        return
    kept = (
        f"embed.model = {result['model']}"
        if result["switched"]
        else f"kept embed.model = {result['base']}: the tuned model ({result['model']}) does "
        "worse on the held-out questions below; --force switches to it anyway"
    )
    typer.echo(
        f"tuned {result['base']} on {result['pairs']} pairs in {result['train_seconds']:.0f} s "
        f"(peak {result['peak_memory_mb']} MB); {kept}"
    )
    for name, before in result["before"].items():
        after = result["after"][name]
        typer.echo(
            f"{name} ({before['n']}): hit@1 {before['hit@1']:.3f} -> {after['hit@1']:.3f}  "
            f"hit@5 {before['hit@5']:.3f} -> {after['hit@5']:.3f}  "
            f"MRR@10 {before['mrr@10']:.3f} -> {after['mrr@10']:.3f}"
        )
