"""The `chatforge` command: one small function per command, each a thin shell over Bot."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from chatforge.data.cli import data_app
from chatforge.errors import ChatforgeError
from chatforge.evaluate.cli import app as eval_app
from chatforge.finetune.cli import finetune_command
from chatforge.lab.cli import app as lab_app

app = typer.Typer(
    help="Build, specialize and run your own chatbot on your own machine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
config_app = typer.Typer(help="Show the settings of a bot.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(lab_app, name="lab", help="Train small language models to see how they work.")
app.add_typer(eval_app, name="eval", help="Measure models: perplexity, fine-tuned vs prompted.")
app.command("finetune")(finetune_command)
app.add_typer(data_app, name="data", help="Turn documents, sheets and chats into a training set.")
memory_app = typer.Typer(help="What the bot remembers about a user.", no_args_is_help=True)
app.add_typer(memory_app, name="memory")
conversations_app = typer.Typer(help="Stored conversations of a user.", no_args_is_help=True)
app.add_typer(conversations_app, name="conversations")

BotOpt = Annotated[
    Path | None,
    typer.Option(
        "--bot",
        help="Bot folder (default: current folder if it has chatforge.yaml, else $CHATFORGE_BOT).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
UserOpt = Annotated[str, typer.Option("--user", help="Whose conversations and memories.")]


def _open(bot: Path | None):
    from chatforge.bot import Bot
    from chatforge.config import find_bot_dir

    return Bot(find_bot_dir(bot))


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def _console():
    from rich.console import Console

    return Console(stderr=False, highlight=False)


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(help="Folder for the new bot.")],
    profile: Annotated[
        str, typer.Option(help="assistant, teacher, faq, personal or general.")
    ] = "general",
    json_out: JsonOpt = False,
) -> None:
    """Create a bot folder with a documented chatforge.yaml."""
    from chatforge.bot import Bot

    bot = Bot.init(folder, profile)
    if json_out:
        _print_json({"folder": str(folder), "profile": profile})
    else:
        typer.echo(f"created {folder / 'chatforge.yaml'} (profile {profile})")
        typer.echo(f"next: chatforge ingest PATH --bot {bot.folder}")


@app.command()
def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files and folders to add or update.")],
    bot: BotOpt = None,
    include: Annotated[list[str], typer.Option(help="Only files matching this glob.")] = [],  # noqa: B006
    exclude: Annotated[list[str], typer.Option(help="Skip files matching this glob.")] = [],  # noqa: B006
    prune: Annotated[
        bool, typer.Option(help="Forget documents under PATHS whose files are gone.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Add documents to the bot's memory; unchanged files are skipped."""
    from chatforge.progress import IngestProgress

    b = _open(bot)
    show = sys.stderr.isatty() and not json_out
    with IngestProgress(enabled=show) as progress:
        report = b.ingest(paths, include, exclude, prune, progress=progress)
    if json_out:
        _print_json(report.to_dict())
    else:
        _print_report(report)
    if report.totals["failed"] and not report.totals["ingested"] + report.totals["unchanged"]:
        raise typer.Exit(1)


def _print_report(report) -> None:
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


@app.command()
def search(
    query: Annotated[str | None, typer.Argument(help="What to look for.")] = None,
    bot: BotOpt = None,
    k: Annotated[int | None, typer.Option("-k", "--k", help="Number of hits.")] = None,
    source: Annotated[str | None, typer.Option(help="Only documents matching this glob.")] = None,
    interactive: Annotated[bool, typer.Option(help="Keep asking for queries.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Search the bot's memory (dense + BM25, fused)."""
    b = _open(bot)
    filters = {"source": source} if source else None
    if interactive:
        _search_loop(b, k, filters)
        return
    if query is None:
        raise ChatforgeError("search needs a QUERY (or --interactive)")
    hits = b.search(query, k=k, filters=filters)
    if json_out:
        _print_json([h.to_dict() for h in hits])
    else:
        _show_hits(hits)


def _show_hits(hits) -> None:
    console = _console()
    if not hits:
        console.print("no matches")
    for i, h in enumerate(hits, 1):
        where = f"{h.source}" + (f" › {h.section}" if h.section else "")
        snippet = " ".join(h.text.split())
        snippet = snippet[:240] + ("…" if len(snippet) > 240 else "")
        console.print(f"[bold][{i}][/bold] [cyan]{where}[/cyan]  [dim]score {h.score:.3f}[/dim]")
        console.print(f"    {snippet}", markup=False)


def _search_loop(b, k: int | None, filters) -> None:
    console = _console()
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


@app.command()
def sources(
    bot: BotOpt = None,
    source: Annotated[str | None, typer.Option(help="Only paths matching this glob.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List the documents the bot remembers."""
    docs = _open(bot).sources(source)
    if json_out:
        _print_json([d.to_dict() for d in docs])
        return
    from rich.table import Table

    table = Table("path", "part", "title", "chunks", "ingested at", "hash", box=None)
    for d in docs:
        table.add_row(d.path, d.part, d.title[:50], str(d.chunks), d.ingested_at, d.hash[:12])
    console = _console()
    console.print(table)
    console.print(f"{len(docs)} documents")


@app.command()
def forget(
    path: Annotated[str, typer.Argument(help="Path of a file, as listed by `sources`.")],
    bot: BotOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Remove one file's documents from the bot."""
    if not _open(bot).forget(path):
        raise ChatforgeError(f"{path}: not in this bot; see `chatforge sources` for its paths")
    if json_out:
        _print_json({"forgotten": path})
    else:
        typer.echo(f"forgot {path}")


@app.command()
def reindex(
    bot: BotOpt = None,
    reembed: Annotated[
        bool, typer.Option(help="Re-embed every chunk with the configured embed.model.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Rebuild the vector index from the store (and re-embed after changing embed.model)."""
    n = _open(bot).reindex(reembed)
    if json_out:
        _print_json({"chunks": n, "reembedded": reembed})
    else:
        typer.echo(f"indexed {n} chunks")


@config_app.command("show")
def config_show(bot: BotOpt = None, json_out: JsonOpt = False) -> None:
    """Print the settings in effect (file plus CHATFORGE_* overrides)."""
    b = _open(bot)
    if json_out:
        _print_json(b.settings.model_dump())
    else:
        from chatforge.profiles import render_yaml

        typer.echo(render_yaml(b.settings), nl=False)


@config_app.command("set")
def config_set(
    key: Annotated[str, typer.Argument(help="SECTION.KEY, e.g. llm.model.")],
    value: Annotated[str, typer.Argument(help="The new value (YAML: 8, true, [a, b], text).")],
    bot: BotOpt = None,
) -> None:
    """Change one setting in the bot's chatforge.yaml; it is checked before it is written."""
    import yaml

    from chatforge.config import CONFIG_FILE, Settings, find_bot_dir
    from chatforge.errors import ConfigError

    path = find_bot_dir(bot) / CONFIG_FILE
    Settings.load(path.parent)
    section, _, name = key.partition(".")
    field = Settings.model_fields.get(section)
    model = getattr(field, "annotation", None)
    if not name or not hasattr(model, "model_fields") or name not in model.model_fields:
        raise ConfigError(f"unknown setting `{key}`; see `chatforge config show` for valid keys")
    parsed = yaml.safe_load(value) if value.strip() else value
    if key == "llm.model":
        from chatforge.models import finetuned_folder, served_path

        run = finetuned_folder(value)
        parsed = str(served_path(run).resolve()) if run else value
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        model(**{**(data.get(section) or {}), name: parsed})
    except ValueError as e:
        msg = e.errors()[0]["msg"] if hasattr(e, "errors") else str(e)
        raise ConfigError(f"setting `{key}`: {msg.lower()}") from None
    _write_setting(path, section, name, parsed)
    typer.echo(f"{key} = {parsed} in {path}")


def _write_setting(path: Path, section: str, name: str, value: Any) -> None:
    """Replace (or add) one `  name: value` line under `section:`, keeping the comments."""
    import yaml

    dumped = yaml.safe_dump(value, default_flow_style=True, width=2**31, allow_unicode=True)
    line = f"  {name}: {dumped.strip().removesuffix('...').strip()}"
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next((i for i, x in enumerate(lines) if x.rstrip() == f"{section}:"), None)
    if start is None:
        lines += ["", f"{section}:", line]
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i] and not lines[i][0].isspace()),
            len(lines),
        )
        at = next((i for i in range(start + 1, end) if lines[i].startswith(f"  {name}:")), None)
        if at is None:
            lines.insert(start + 1, line)
        else:
            lines[at] = line
    tmp = path.with_name(f"{path.name}.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    bot: BotOpt = None,
    conversation: Annotated[
        str | None, typer.Option("--conversation", help="Continue this conversation.")
    ] = None,
    user: UserOpt = "local",
    max_tokens: Annotated[int | None, typer.Option(help="Longest answer in tokens.")] = None,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature.")] = None,
    seed: Annotated[int | None, typer.Option(help="Sampling seed, for repeatable answers.")] = None,
    show_prompt: Annotated[
        bool, typer.Option("--show-prompt", help="Print the prompt the model saw on stderr.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Ask the bot; the answer streams, cites its sources, and is stored."""
    from chatforge.chat.terminal import show_sources, stream_answer

    b = _open(bot)
    gen = {"max_tokens": max_tokens, "temperature": temperature, "seed": seed}
    stream = b.stream(question, user, conversation, **gen)
    if json_out:
        with stream:
            for _ in stream:
                pass
        answer = stream.answer
    else:
        console = _console()
        answer = stream_answer(console, stream)
        show_sources(console, answer.sources)
    if show_prompt and answer.prompt is not None:
        print(answer.prompt.text, file=sys.stderr)
    if json_out:
        _print_json(answer.to_dict())
    else:
        print(
            f"conversation {answer.conversation_id} (continue with --conversation "
            f"{answer.conversation_id})",
            file=sys.stderr,
        )
    if answer.interrupted:
        raise typer.Exit(130)


@app.command()
def chat(
    bot: BotOpt = None,
    conversation: Annotated[
        str | None, typer.Option("--conversation", help="Continue this conversation.")
    ] = None,
    user: UserOpt = "local",
) -> None:
    """Talk with the bot in the terminal (/sources, /new, /history, /memory, /quit)."""
    from chatforge.chat.terminal import Repl

    b = _open(bot)
    if conversation is not None:
        b.conversations.get(conversation, user)
    Repl(b, user, conversation, _console()).run()


@app.command()
def serve(
    bot: BotOpt = None,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: server.host).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: server.port, 8000).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Server processes, each with its own models.")
    ] = None,
) -> None:
    """Serve the bot over HTTP: OpenAI-compatible API, native API and web UI."""
    from chatforge.config import find_bot_dir
    from chatforge.serve.server import serve as run

    run(find_bot_dir(bot), host, port, workers)


@app.command()
def models(bot: BotOpt = None, json_out: JsonOpt = False) -> None:
    """List the built-in language models (and the bot's, if any) and whether they load."""
    from chatforge.llm import list_models

    try:
        configured = _open(bot).settings.llm.model
    except ChatforgeError:
        if bot is not None:
            raise
        configured = None
    rows = list_models(configured)
    if json_out:
        _print_json(rows)
        return
    from rich.table import Table

    table = Table("name", "loads", "description / error", "path", box=None)
    for r in rows:
        mark = "[green]yes[/green]" if r["loads"] else "[red]no[/red]"
        star = " *" if r["configured"] else ""
        table.add_row(r["name"] + star, mark, r["error"] or r["description"], r["path"] or "")
    _console().print(table)


@memory_app.command("list")
def memory_list(
    bot: BotOpt = None,
    user: UserOpt = "local",
    kind: Annotated[
        str | None, typer.Option(help="Only this kind: fact, explicit, summary or note.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """List what the bot remembers about a user."""
    _show_memories(_open(bot).memory.list(user, kind), json_out)


@memory_app.command("search")
def memory_search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    bot: BotOpt = None,
    user: UserOpt = "local",
    k: Annotated[int, typer.Option("-k", "--k", help="Number of memories.")] = 5,
    json_out: JsonOpt = False,
) -> None:
    """Find a user's memories by meaning."""
    from chatforge.retrieve import check_query

    _show_memories(_open(bot).memory.search(user, check_query(query), k), json_out)


@memory_app.command("add")
def memory_add(
    text: Annotated[str, typer.Argument(help="What to remember.")],
    bot: BotOpt = None,
    user: UserOpt = "local",
    json_out: JsonOpt = False,
) -> None:
    """Add a memory by hand."""
    _show_memories([_open(bot).memory.add(user, text, "note")], json_out)


@memory_app.command("edit")
def memory_edit(
    memory_id: Annotated[int, typer.Argument(help="Memory id, as listed.")],
    text: Annotated[str, typer.Argument(help="The new text.")],
    bot: BotOpt = None,
    user: UserOpt = "local",
    json_out: JsonOpt = False,
) -> None:
    """Replace a memory's text."""
    _show_memories([_open(bot).memory.edit(user, memory_id, text)], json_out)


@memory_app.command("delete")
def memory_delete(
    memory_id: Annotated[int, typer.Argument(help="Memory id, as listed.")],
    bot: BotOpt = None,
    user: UserOpt = "local",
    json_out: JsonOpt = False,
) -> None:
    """Forget one memory."""
    _open(bot).memory.delete(user, memory_id)
    if json_out:
        _print_json({"deleted": memory_id})
    else:
        typer.echo(f"deleted memory {memory_id}")


def _show_memories(memories, json_out: bool) -> None:
    if json_out:
        _print_json([m.to_dict() for m in memories])
        return
    from rich.table import Table

    table = Table("id", "kind", "text", "score", "updated", box=None)
    for m in memories:
        score = "" if m.score is None else f"{m.score:.3f}"
        table.add_row(str(m.id), m.kind, m.text, score, m.updated_at)
    console = _console()
    console.print(table)
    console.print(f"{len(memories)} memories")


@conversations_app.command("list")
def conversations_list(
    bot: BotOpt = None,
    user: UserOpt = "local",
    limit: Annotated[int | None, typer.Option(help="At most this many, newest first.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List a user's conversations, most recent first."""
    convs = _open(bot).conversations.list(user, limit)
    if json_out:
        _print_json([c.to_dict() for c in convs])
        return
    from rich.table import Table

    table = Table("id", "title", "turns", "updated", box=None)
    for c in convs:
        table.add_row(c.id, c.title, str(c.turns), c.updated_at)
    console = _console()
    console.print(table)
    console.print(f"{len(convs)} conversations")


@conversations_app.command("show")
def conversations_show(
    conversation_id: Annotated[str, typer.Argument(help="Conversation id, as listed.")],
    bot: BotOpt = None,
    user: UserOpt = "local",
    json_out: JsonOpt = False,
) -> None:
    """Print one conversation."""
    store = _open(bot).conversations
    if json_out:
        typer.echo(store.export(conversation_id, user, "json"))
        return
    from rich.markdown import Markdown

    _console().print(Markdown(store.export(conversation_id, user, "markdown")))


@conversations_app.command("export")
def conversations_export(
    conversation_id: Annotated[str, typer.Argument(help="Conversation id, as listed.")],
    bot: BotOpt = None,
    user: UserOpt = "local",
    fmt: Annotated[str, typer.Option("--format", help="json or markdown.")] = "markdown",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Export one conversation as Markdown or JSON."""
    text = _open(bot).conversations.export(conversation_id, user, fmt)
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        output.write_text(text, encoding="utf-8")
        print(f"wrote {output}", file=sys.stderr)


@conversations_app.command("delete")
def conversations_delete(
    conversation_id: Annotated[str, typer.Argument(help="Conversation id, as listed.")],
    bot: BotOpt = None,
    user: UserOpt = "local",
    json_out: JsonOpt = False,
) -> None:
    """Delete one conversation and its messages."""
    _open(bot).conversations.delete(conversation_id, user)
    if json_out:
        _print_json({"deleted": conversation_id})
    else:
        typer.echo(f"deleted conversation {conversation_id}")


def _setup_logging() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(format="chatforge: %(message)s", level=logging.WARNING)
    logging.getLogger("chatforge").setLevel(logging.INFO)
    for noisy in ("transformers", "sentence_transformers", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def main() -> None:
    """Console entry point: user mistakes end in one line on stderr, not a traceback."""
    _setup_logging()
    try:
        app()
    except ChatforgeError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
