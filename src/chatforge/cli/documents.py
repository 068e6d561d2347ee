"""Commands that build a bot and look into its documents: init, ingest, search, sources,
forget, reindex."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from chatforge.cli.common import BotOpt, JsonOpt, new_console, open_bot, print_json, print_result
from chatforge.data.cli import MinScoreOpt, TagOpt
from chatforge.errors import ChatforgeError

if TYPE_CHECKING:
    from chatforge.bot import Bot
    from chatforge.schema import Hit, IngestReport


def init(
    folder: Annotated[Path, typer.Argument(help="Folder for the new bot.")],
    profile: Annotated[
        str, typer.Option(help="assistant, teacher, faq, personal or general.")
    ] = "general",
    language: Annotated[
        str,
        typer.Option(
            help="Language of the documents and questions: en (MiniLM, fastest), "
            "fr or auto (multilingual-e5-small, also across languages)."
        ),
    ] = "en",
    json_out: JsonOpt = False,
) -> None:
    """Create a bot folder with a documented chatforge.yaml."""
    from chatforge.bot import Bot

    bot = Bot.init(folder, profile, language=language)
    model = bot.settings.embed.model
    if json_out:
        print_json({"folder": str(folder), "profile": profile, "language": language})
    else:
        typer.echo(f"created {folder / 'chatforge.yaml'} (profile {profile}, embeddings {model})")
        typer.echo(f"next: chatforge ingest PATH --bot {bot.folder}")


def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files and folders to add or update.")],
    bot: BotOpt = None,
    include: Annotated[list[str], typer.Option(help="Only files matching this glob.")] = [],  # noqa: B006
    exclude: Annotated[list[str], typer.Option(help="Skip files matching this glob.")] = [],  # noqa: B006
    prune: Annotated[
        bool, typer.Option(help="Forget documents under PATHS whose files are gone.")
    ] = False,
    tag: TagOpt = [],  # noqa: B006
    min_score: MinScoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Add documents to the bot's memory; unchanged files are skipped."""
    from chatforge.progress import IngestProgress

    b = open_bot(bot)
    settings = b.settings.ingest
    if tag or min_score is not None:
        chosen = {"stackexchange_tags": tag or settings.stackexchange_tags}
        if min_score is not None:
            chosen["stackexchange_min_score"] = min_score
        settings = settings.model_copy(update=chosen)
    show = sys.stderr.isatty() and not json_out
    with IngestProgress(enabled=show) as progress:
        report = b.ingest(paths, include, exclude, prune, progress=progress, settings=settings)
    if json_out:
        print_json(report.to_dict())
    else:
        _print_report(report)
    if report.totals["failed"] and not report.totals["ingested"] + report.totals["unchanged"]:
        raise typer.Exit(1)


def _print_report(report: IngestReport) -> None:
    t = report.totals
    err = sys.stderr
    shown = 0
    for f in report.files:
        if f.status in ("failed", "skipped") and shown < 20:
            print(f"{f.status}: {f.path}: {f.reason}", file=err)
            shown += 1
    hidden = t["failed"] + t["skipped"] - shown
    if hidden > 0:
        print(f"... and {hidden} more (see --json)", file=err)
    chunks = sum(f.chunks for f in report.files)
    typer.echo(
        f"ingested {t['ingested']}, unchanged {t['unchanged']}, skipped {t['skipped']}, "
        f"failed {t['failed']}, removed {t['removed']}; {chunks} chunks "
        f"({report.chunks_embedded} embedded) in {report.seconds:.1f}s"
    )


def search(
    query: Annotated[str | None, typer.Argument(help="What to look for.")] = None,
    bot: BotOpt = None,
    k: Annotated[int | None, typer.Option("-k", "--k", help="Number of hits.")] = None,
    source: Annotated[str | None, typer.Option(help="Only documents matching this glob.")] = None,
    interactive: Annotated[bool, typer.Option(help="Keep asking for queries.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Search the bot's memory (dense + BM25, fused)."""
    b = open_bot(bot)
    filters = {"source": source} if source else None
    if interactive:
        _search_loop(b, k, filters)
        return
    if query is None:
        raise ChatforgeError("search needs a QUERY (or --interactive)")
    hits = b.search(query, k=k, filters=filters)
    if json_out:
        print_json([h.to_dict() for h in hits])
    else:
        _show_hits(hits)


def _show_hits(hits: list[Hit]) -> None:
    console = new_console()
    if not hits:
        console.print("no matches")
    for i, h in enumerate(hits, 1):
        where = f"{h.source}" + (f" › {h.section}" if h.section else "")
        snippet = " ".join(h.text.split())
        snippet = snippet[:240] + ("…" if len(snippet) > 240 else "")
        console.print(f"[bold][{i}][/bold] [cyan]{where}[/cyan]  [dim]score {h.score:.3f}[/dim]")
        console.print(f"    {snippet}", markup=False)


def _search_loop(b: Bot, k: int | None, filters: dict[str, str] | None) -> None:
    console = new_console()
    console.print(
        f"Searching {len(b.sources())} documents of bot {b.folder}. Empty line or Ctrl-D quits."
    )
    while True:
        try:
            query = input("search> ").strip()
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        if not query or query in ("/quit", "/exit"):
            return
        try:
            _show_hits(b.search(query, k=k, filters=filters))
        except ChatforgeError as e:
            console.print(f"[red]{e}[/red]")


def sources(
    bot: BotOpt = None,
    source: Annotated[str | None, typer.Option(help="Only paths matching this glob.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List the documents the bot remembers."""
    docs = open_bot(bot).sources(source)
    if json_out:
        print_json([d.to_dict() for d in docs])
        return
    from rich.table import Table

    table = Table("path", "part", "title", "chunks", "ingested at", "hash", box=None)
    for d in docs:
        table.add_row(d.path, d.part, d.title[:50], str(d.chunks), d.ingested_at, d.hash[:12])
    console = new_console()
    console.print(table)
    console.print(f"{len(docs)} documents")


def forget(
    path: Annotated[str, typer.Argument(help="Path of a file, as listed by `sources`.")],
    bot: BotOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Remove one file's documents from the bot."""
    if not open_bot(bot).forget(path):
        raise ChatforgeError(f"{path}: not in this bot; see `chatforge sources` for its paths")
    print_result(json_out, {"forgotten": path}, f"forgot {path}")


def reindex(
    bot: BotOpt = None,
    reembed: Annotated[
        bool, typer.Option(help="Re-embed every chunk with the configured embed.model.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Rebuild the vector index from the store (and re-embed after changing embed.model)."""
    from chatforge.progress import CountProgress

    with CountProgress("re-embedding", enabled=reembed and not json_out) as progress:
        n = open_bot(bot).reindex(reembed, progress.update)
    print_result(json_out, {"chunks": n, "reembedded": reembed}, f"indexed {n} chunks")
