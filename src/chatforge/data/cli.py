"""`chatforge data`: turn documents, FAQ sheets, chat exports and datasets into a training set.

Nothing heavy is imported at module level, so `chatforge --help` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

data_app = typer.Typer(
    help="Training sets from documents, FAQ sheets, chat exports and open datasets.",
    no_args_is_help=True,
)

_FORMATS_HELP = (
    "auto, markdown, text, html, pdf, rst, csv, tsv, excel, tickets, discord, telegram, "
    "whatsapp, twitter, email (mbox, .eml), stackexchange (Posts.xml), wikipedia (a "
    "pages-articles .xml or .xml.bz2 dump, or a dataset of title and text columns), code "
    "(source files; a folder is read as a repository), alpaca, sharegpt, oasst, "
    "ultrachat, messages or hf."
)


TagOpt = Annotated[
    list[str],
    typer.Option("--tag", help="StackExchange: only questions with this tag (repeatable)."),
]
MinScoreOpt = Annotated[
    int | None,
    typer.Option(help="StackExchange: only questions and answers scoring at least this."),
]
"""StackExchange filters, taken by `ingest` as well."""


@data_app.callback()
def _data() -> None:
    """Training sets from documents, FAQ sheets, chat exports and open datasets."""


@data_app.command()
def prepare(
    sources: Annotated[list[Path], typer.Argument(help="Files or folders to read.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the dataset.")],
    fmt: Annotated[
        str, typer.Option("--format", help=f"Source format (auto detects each): {_FORMATS_HELP}")
    ] = "auto",
    model: Annotated[
        str | None,
        typer.Option(help="Tokenize with this model's chat template (e.g. smollm2)."),
    ] = None,
    me: Annotated[
        str | None,
        typer.Option(
            "--me",
            help="Your name in chat exports (default: the most frequent author); in email, "
            "your address: pairs become others' messages and your replies.",
        ),
    ] = None,
    pii: Annotated[
        bool, typer.Option("--pii", help="Replace emails, phone numbers, URLs and @handles.")
    ] = False,
    validation: Annotated[
        float, typer.Option(help="Share of conversations held out for validation.")
    ] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed of the train/validation split.")] = 0,
    max_length: Annotated[int, typer.Option(help="Longest row, in tokens.")] = 512,
    qa_columns: Annotated[
        str | None,
        typer.Option(help="Question and answer columns of a sheet, as QUESTION,ANSWER."),
    ] = None,
    tag: TagOpt = [],  # noqa: B006
    min_score: MinScoreOpt = None,
    limit: Annotated[
        int | None,
        typer.Option(help="Wikipedia: read at most this many articles of each source."),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print stats.json on stdout, nothing else.")
    ] = False,
) -> None:
    """Read each source, clean, deduplicate, tokenize and split into train and validation.

    Writes OUT (a datasets folder), OUT/stats.json and OUT/lengths.png.
    """
    from chatforge.data.prepare import prepare as run

    report = run(
        list(sources),
        out,
        fmt=fmt,
        model=model,
        me=me,
        pii=pii,
        validation=validation,
        seed=seed,
        max_length=max_length,
        qa_columns=qa_columns,
        tags=tag,
        min_score=min_score,
        limit=limit,
    )
    if json_out:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False))
        return
    dropped = sum(report.dropped.values())
    typer.echo(
        f"{report.kept} rows kept ({report.splits['train']} train, "
        f"{report.splits['validation']} validation), {dropped} dropped, "
        f"{len(report.skipped)} unreadable records skipped"
    )
    if report.tokens:
        t = report.tokens
        typer.echo(f"tokens: {t['total']} in all, p50 {t['p50']}, p90 {t['p90']}, max {t['max']}")
    typer.echo(f"dataset: {out} (stats.json, lengths.png)")
