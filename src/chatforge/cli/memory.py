"""`chatforge memory`: what the bot remembers about a user."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

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

if TYPE_CHECKING:
    from chatforge.chat.memory import Memory

MemoryIdArg = Annotated[int, typer.Argument(help="Memory id, as listed.")]
memory_app = typer.Typer(help="What the bot remembers about a user.", no_args_is_help=True)


@memory_app.command("list")
def memory_list(
    bot: BotOpt = None,
    user: UserOpt = "local",
    kind: Annotated[
        str | None, typer.Option(help="Only this kind: fact, explicit, summary or note.")
    ] = None,
    history: Annotated[
        bool,
        typer.Option("--history", help="Also show what each memory replaced, marked superseded."),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """List what the bot remembers about a user (the current facts; --history: the earlier ones
    too)."""
    memories = open_bot(bot).memory.list(user, kind, include_history=history)
    _show_memories(memories, json_out, history=history)


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

    _show_memories(open_bot(bot).memory.search(user, check_query(query), k), json_out)


@memory_app.command("add")
def memory_add(
    text: Annotated[str, typer.Argument(help="What to remember.")],
    bot: BotOpt = None,
    user: UserOpt = "local",
    json_out: JsonOpt = False,
) -> None:
    """Add a memory by hand."""
    _show_memories([open_bot(bot).memory.add(user, text, "note")], json_out)


@memory_app.command("edit")
def memory_edit(
    memory_id: MemoryIdArg,
    text: Annotated[str, typer.Argument(help="The new text.")],
    bot: BotOpt = None,
    user: UserOpt = "local",
    json_out: JsonOpt = False,
) -> None:
    """Replace a memory's text."""
    _show_memories([open_bot(bot).memory.edit(user, memory_id, text)], json_out)


@memory_app.command("delete")
def memory_delete(
    memory_id: MemoryIdArg,
    bot: BotOpt = None,
    user: UserOpt = "local",
    json_out: JsonOpt = False,
) -> None:
    """Forget one memory."""
    open_bot(bot).memory.delete(user, memory_id)
    print_result(json_out, {"deleted": memory_id}, f"deleted memory {memory_id}")


def _show_memories(memories: list[Memory], json_out: bool, *, history: bool = False) -> None:
    """A table of memories (with --history, a status column: current or superseded by which)."""
    if json_out:
        print_json([m.to_dict() for m in memories])
        return
    from rich.table import Table

    columns = ["id", "kind", "slot", "text", "score", "updated"]
    table = Table(*columns, *(["status"] if history else []), box=None)
    for m in memories:
        score = "" if m.score is None else f"{m.score:.3f}"
        row = [str(m.id), m.kind, m.slot or "", m.text, score, m.updated_at]
        if history:
            row.append("current" if m.superseded_by is None else f"superseded by {m.superseded_by}")
        table.add_row(*row)
    console = new_console()
    console.print(table)
    current = sum(m.superseded_by is None for m in memories)
    earlier = len(memories) - current
    console.print(f"{current} memories" + (f", {earlier} superseded" if history else ""))
