"""The agent's tools: search the documents, recall and remember memories, a calculator, the
date, and the list of documents. Each is a name, a JSON schema for its arguments (which the
model's output is decoded under) and a function returning text for the model.

None reaches the network, a shell or a file outside the bot: search and documents read the
bot's store, recall and remember its memory table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chatforge.agent.calculator import calculate
from chatforge.chat.answer import Source
from chatforge.errors import ChatforgeError

if TYPE_CHECKING:
    from chatforge.chat.engine import ChatEngine

SEARCH_K = 3
NO_MEMORY = "no memory about that"
PASSAGE_CHARS = 400


@dataclass(frozen=True)
class Tool:
    """One tool: what the model reads about it, its arguments' schema, and what it does."""

    name: str
    description: str
    parameters: dict[str, Any]
    run: Callable[[dict[str, Any]], str]

    def signature(self) -> str:
        """`name(arg, ...)`: description, as the agent's prompt lists it."""
        args = ", ".join(self.parameters.get("properties", {}))
        return f"- {self.name}({args}): {self.description}"


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


@dataclass
class Toolbox:
    """The tools of one agent run over a bot, and the passages its searches found (numbered
    [1], [2]... across the run, so the final answer can cite them)."""

    engine: ChatEngine
    user: str
    conversation_id: str | None = None
    passages: list[Source] = field(default_factory=list)

    def tools(self, names: list[str]) -> dict[str, Tool]:
        every = {t.name: t for t in self._all()}
        unknown = [n for n in names if n not in every]
        if unknown:
            raise ChatforgeError(
                f"unknown agent tool(s) {', '.join(unknown)} in agent.tools; "
                f"choose from {', '.join(every)}"
            )
        return {n: every[n] for n in names}

    def _all(self) -> list[Tool]:
        text = {"type": "string"}
        return [
            Tool(
                "search",
                "find passages in the documents; source is a glob over document paths "
                '(e.g. "*.md") or "" for all',
                _object({"query": text, "source": text}, ["query", "source"]),
                self.search,
            ),
            Tool(
                "recall",
                "what the user told you before (their memories) about a topic",
                _object({"query": text}, ["query"]),
                self.recall,
            ),
            Tool(
                "remember",
                "keep a fact the user asked you to remember",
                _object({"fact": text}, ["fact"]),
                self.remember,
            ),
            Tool(
                "calculator",
                "arithmetic over numbers: + - * / ** and parentheses",
                _object({"expression": text}, ["expression"]),
                lambda a: str(calculate(a["expression"])),
            ),
            Tool(
                "date",
                'a date (YYYY-MM-DD, "" for today) moved by add_days days (negative: before), '
                "with its day of the week",
                _object({"date": text, "add_days": {"type": "integer"}}, ["date", "add_days"]),
                _date,
            ),
            Tool(
                "documents",
                'the documents you hold; source is a glob over their paths or "" for all',
                _object({"source": text}, ["source"]),
                self.documents,
            ),
        ]

    def search(self, args: dict[str, Any]) -> str:
        glob = (args.get("source") or "").strip() or None
        hits = self.engine.search(args["query"], SEARCH_K, {"source": glob})
        if not hits:
            where = f" in {glob}" if glob else ""
            return f"no passage found{where}"
        lines = []
        for hit in hits:
            known = next((s for s in self.passages if s.hit.chunk_id == hit.chunk_id), None)
            if known is None:
                known = Source(len(self.passages) + 1, hit, float(hit.score))
                self.passages.append(known)
            text = " ".join(hit.text.split())[:PASSAGE_CHARS]
            lines.append(f"[{known.n}] ({hit.source}) {text}")
        return "\n".join(lines)

    def recall(self, args: dict[str, Any]) -> str:
        """The memories chat would put in a prompt for this query (memory.recall_k, min_score)."""
        found = self.engine.recall(self.user, args["query"])
        return "\n".join(f"- {line}" for line in found) or NO_MEMORY

    def remember(self, args: dict[str, Any]) -> str:
        fact = args["fact"].strip()
        if not fact:
            raise ChatforgeError("the fact to remember is empty")
        self.engine.memory.add(self.user, fact, "explicit", self.conversation_id)
        return f"remembered: {fact}"

    def documents(self, args: dict[str, Any]) -> str:
        glob = (args.get("source") or "").strip() or None
        docs = self.engine.store.documents(glob)
        return "\n".join(f"- {d.path}: {d.title}" for d in docs) or "no document"


def _date(args: dict[str, Any]) -> str:
    raw = (args.get("date") or "").strip()
    try:
        day = dt.date.fromisoformat(raw) if raw else dt.date.today()
        day += dt.timedelta(days=int(args.get("add_days") or 0))
    except (ValueError, OverflowError) as e:
        raise ChatforgeError(f"{raw!r} is not a date; write YYYY-MM-DD") from e
    return f"{day.isoformat()} ({day.strftime('%A')})"
