"""What every command shares: the --bot, --json and --user options, opening the bot, output."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from chatforge.bot import Bot

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


def open_bot(bot: Path | None) -> Bot:
    """The bot in the folder given by --bot (or found from the current folder)."""
    from chatforge.bot import Bot
    from chatforge.folders import find_bot_dir

    return Bot(find_bot_dir(bot))


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def print_result(json_out: bool, data: Any, text: str) -> None:
    """What a command did: `data` as JSON with --json, else one line of `text`."""
    if json_out:
        print_json(data)
    else:
        typer.echo(text)


def new_console() -> Console:
    from rich.console import Console

    return Console(stderr=False, highlight=False)
