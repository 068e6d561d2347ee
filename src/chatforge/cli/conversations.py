"""`chatforge conversations`: a user's stored conversations."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from chatforge.cli.common import (
    BotOpt,
    JsonOpt,
    UserOpt,
    new_console,
    open_bot,
    print_json,
    print_result,
)

ConversationArg = Annotated[str, typer.Argument(help="Conversation id, as listed.")]
conversations_app = typer.Typer(help="Stored conversations of a user.", no_args_is_help=True)


@conversations_app.command("list")
def conversations_list(
    bot: BotOpt = None,
    user: UserOpt = "local",
    limit: Annotated[int | None, typer.Option(help="At most this many, newest first.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List a user's conversations, most recent first."""
    convs = open_bot(bot).conversations.list(user, limit)
    if json_out:
        print_json([c.to_dict() for c in convs])
        return
    from rich.table import Table

    table = Table("id", "title", "turns", "updated", box=None)
    for c in convs:
        table.add_row(c.id, c.title, str(c.turns), c.updated_at)
    console = new_console()
    console.print(table)
    console.print(f"{len(convs)} conversations")


@conversations_app.command("show")
def conversations_show(
    conversation_id: ConversationArg,
    bot: BotOpt = None,
    user: UserOpt = "local",
    json_out: JsonOpt = False,
) -> None:
    """Print one conversation."""
    store = open_bot(bot).conversations
    if json_out:
        typer.echo(store.export(conversation_id, user, "json"))
        return
    from rich.markdown import Markdown

    new_console().print(Markdown(store.export(conversation_id, user, "markdown")))


@conversations_app.command("export")
def conversations_export(
    conversation_id: ConversationArg,
    bot: BotOpt = None,
    user: UserOpt = "local",
    fmt: Annotated[str, typer.Option("--format", help="json or markdown.")] = "markdown",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Export one conversation as Markdown or JSON."""
    text = open_bot(bot).conversations.export(conversation_id, user, fmt)
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        output.write_text(text, encoding="utf-8")
        print(f"wrote {output}", file=sys.stderr)


@conversations_app.command("delete")
def conversations_delete(
    conversation_id: ConversationArg,
    bot: BotOpt = None,
    user: UserOpt = "local",
    json_out: JsonOpt = False,
) -> None:
    """Delete one conversation and its messages."""
    open_bot(bot).conversations.delete(conversation_id, user)
    print_result(json_out, {"deleted": conversation_id}, f"deleted conversation {conversation_id}")
