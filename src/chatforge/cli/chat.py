"""Commands that talk with the bot: ask (one question), chat (the terminal REPL), models."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from chatforge.cli.common import BotOpt, JsonOpt, UserOpt, new_console, open_bot, print_json
from chatforge.errors import ChatforgeError


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
    from chatforge.cli.terminal import show_sources, stream_answer

    b = open_bot(bot)
    gen = {"max_tokens": max_tokens, "temperature": temperature, "seed": seed}
    stream = b.stream(question, user, conversation, **gen)
    if json_out:
        with stream:
            for _ in stream:
                pass
        answer = stream.answer
    else:
        console = new_console()
        answer = stream_answer(console, stream)
        show_sources(console, answer.sources)
    if show_prompt and answer.prompt is not None:
        print(answer.prompt.text, file=sys.stderr)
    if json_out:
        print_json(answer.to_dict())
    else:
        print(
            f"conversation {answer.conversation_id} (continue with --conversation "
            f"{answer.conversation_id})",
            file=sys.stderr,
        )
    if answer.interrupted:
        raise typer.Exit(130)


def chat(
    bot: BotOpt = None,
    conversation: Annotated[
        str | None, typer.Option("--conversation", help="Continue this conversation.")
    ] = None,
    user: UserOpt = "local",
) -> None:
    """Talk with the bot in the terminal (/sources, /new, /history, /memory, /quit)."""
    from chatforge.cli.terminal import Repl

    b = open_bot(bot)
    if conversation is not None:
        b.conversations.get(conversation, user)
    Repl(b, user, conversation, new_console()).run()


def models(bot: BotOpt = None, json_out: JsonOpt = False) -> None:
    """List the built-in language models (and the bot's, if any) and whether they load."""
    from chatforge.llm import list_models

    try:
        configured = open_bot(bot).settings.llm.model
    except ChatforgeError:
        if bot is not None:
            raise
        configured = None
    rows = list_models(configured)
    if json_out:
        print_json(rows)
        return
    from rich.table import Table

    table = Table("name", "loads", "description / error", "path", box=None)
    for r in rows:
        mark = "[green]yes[/green]" if r["loads"] else "[red]no[/red]"
        star = " *" if r["configured"] else ""
        table.add_row(r["name"] + star, mark, r["error"] or r["description"], r["path"] or "")
    new_console().print(table)
