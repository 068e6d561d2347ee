"""`chatforge agent`: answer one question by calling the bot's tools, each step printed."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from chatforge.cli.common import BotOpt, JsonOpt, UserOpt, new_console, open_bot, print_json


def agent(
    question: Annotated[str, typer.Argument(help="The question.")],
    bot: BotOpt = None,
    user: UserOpt = "local",
    max_steps: Annotated[
        int | None, typer.Option(help="Tool calls at most (default agent.max_steps).", min=1)
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Answer with tools (search, memory, calculator, date, documents); each call is shown."""
    from chatforge.agent.loop import Agent, Step
    from chatforge.cli.terminal import show_sources

    b = open_bot(bot)
    if max_steps is not None:
        b.settings.agent.max_steps = max_steps
    console = None if json_out else new_console()
    for event in Agent(b.chat).run(question, user):
        if isinstance(event, Step):
            if console is not None:
                mark = "✗" if event.error else "→"
                args = json.dumps(event.arguments, ensure_ascii=False)
                console.print(f"step {event.n}: {event.tool}({args})", markup=False, style="bold")
                console.print(f"  {mark} {event.result}", markup=False, highlight=False)
            continue
        if console is None:
            print_json(event.to_dict())
        else:
            console.print(event.text, markup=False, highlight=False)
            if event.support_note:
                console.print(event.support_note, style="yellow", markup=False, highlight=False)
            show_sources(console, event.sources)
            print(f"conversation {event.conversation_id}", file=sys.stderr)
