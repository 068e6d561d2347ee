"""The terminal side of chatting: streamed Markdown answers with highlighted [n] citations,
source lists, and the `chatforge chat` REPL; rich does the drawing."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rich.console import Console
from rich.live import Live
from rich.markdown import Markdown
from rich.table import Table
from rich.text import Text

from chatforge.chat.answer import Answer, Source
from chatforge.errors import ChatforgeError

if TYPE_CHECKING:
    from chatforge.bot import Bot
    from chatforge.chat.stream import AnswerStream

_CITE = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")

HELP = (
    "Commands: /sources (passages of the last answer), /new (new conversation), "
    "/history (this conversation), /memory (what I remember about you), /prompt (the last "
    "prompt), /quit. Ctrl-C stops an answer; Ctrl-D quits."
)


def _markdown(text: str) -> Markdown:
    # Bold citations stand out without turning into (broken) links.
    return Markdown(_CITE.sub(lambda m: f"**{m.group(0)}**", text))


def stream_answer(console: Console, stream: AnswerStream) -> Answer:
    """Show an answer as it streams; Ctrl-C keeps (and stores) the part already said."""
    text = ""
    live = console.is_terminal
    try:
        if live:
            with Live(_markdown(""), console=console, refresh_per_second=12) as view:
                for item in stream:
                    if isinstance(item, str):
                        text += item
                        view.update(_markdown(text))
                    else:
                        view.update(_markdown(item.text))  # a quote may replace the model's text
        else:
            for _ in stream:
                pass
            assert stream.answer is not None
            console.print(stream.answer.text, markup=False, highlight=False)
    except KeyboardInterrupt:
        stream.close()
        if stream.answer is None:
            raise
        console.print("[dim](interrupted: the partial answer is kept)[/dim]")
    assert stream.answer is not None
    if stream.answer.support_note:
        console.print(stream.answer.support_note, style="yellow", markup=False, highlight=False)
    return stream.answer


def show_sources(console: Console, sources: list[Source], only_cited: bool = False) -> None:
    shown = [s for s in sources if s.cited or not only_cited]
    if not shown:
        return
    table = Table(box=None, show_header=False, pad_edge=False)
    for s in shown:
        mark = "[green]cited[/green]" if s.cited else "[dim]not cited[/dim]"
        if s.verified is False:
            mark += " [yellow]unverified[/yellow]"
        where = s.hit.source + (f" › {s.hit.section}" if s.hit.section else "")
        table.add_row(Text(f"[{s.n}]", "bold"), Text(where, "cyan"), mark)
    console.print(table)


class Repl:
    """`chatforge chat`: a conversation in the terminal, one user, slash commands."""

    def __init__(self, bot: Bot, user: str, conversation_id: str | None, console: Console) -> None:
        self.bot, self.user, self.console = bot, user, console
        self.conversation_id = conversation_id
        self.last: Answer | None = None

    def run(self) -> None:
        c = self.console
        c.print(f"[bold]chatforge[/bold] · bot {self.bot.folder} · user {self.user}")
        c.print(f"[dim]{HELP}[/dim]")
        while True:
            try:
                line = c.input("[bold green]you>[/bold green] ").strip()
            except (EOFError, KeyboardInterrupt):
                c.print()
                return
            if not line:
                continue
            if line.startswith("/"):
                if not self.command(line):
                    return
                continue
            try:
                stream = self.bot.stream(line, self.user, self.conversation_id)
            except ChatforgeError as e:
                c.print(f"[red]{e}[/red]")
                continue
            answer = stream_answer(c, stream)
            self.last, self.conversation_id = answer, answer.conversation_id
            show_sources(c, answer.sources, only_cited=True)

    def command(self, line: str) -> bool:
        """Run a slash command; False means quit."""
        c, name = self.console, line.split()[0].lower()
        if name in ("/quit", "/exit", "/q"):
            return False
        if name == "/new":
            self.conversation_id, self.last = None, None
            c.print("[dim]new conversation[/dim]")
        elif name == "/sources":
            if self.last and self.last.sources:
                show_sources(c, self.last.sources)
            else:
                c.print("[dim]no sources for the last answer[/dim]")
        elif name == "/history":
            msgs = (
                self.bot.conversations.messages(self.conversation_id, self.user)
                if self.conversation_id
                else []
            )
            if not msgs:
                c.print("[dim]nothing said yet[/dim]")
            for m in msgs:
                who = ("you", "green") if m.role == "user" else ("bot", "blue")
                c.print(Text.assemble(who, ": ", m.text))
        elif name == "/memory":
            memories = self.bot.memory.list(self.user)
            if not memories:
                c.print("[dim]no memories yet[/dim]")
            for m in memories:
                c.print(Text.assemble((str(m.id), "bold"), " ", (m.kind, "dim"), " ", m.text))
        elif name == "/prompt":
            if self.last and self.last.prompt:
                c.print(self.last.prompt.text, markup=False, highlight=False)
            else:
                c.print("[dim]the last answer used no prompt[/dim]")
        else:
            c.print(f"[dim]{HELP}[/dim]")
        return True
