"""What training-data readers produce: rows, skipped records, and chat messages to turn.

Every reader yields `Row`s (a conversation or a plain text) and notes what it could not read
as `Skip`s, so one bad line never stops a run. Personal exports and support tickets are first
read as `Message`s by author and time; `conversations` turns them into training rows. It lives
beside the readers, which build rows, and training-set preparation imports it from here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chatforge.errors import ChatforgeError

ROLES = ("system", "user", "assistant")
# A silence longer than this starts a new conversation in a chat export.
SESSION_GAP = timedelta(hours=6)


@dataclass
class Row:
    """One training example: `messages` for a conversation, `text` for plain text."""

    conversation_id: str
    source: str
    messages: list[dict[str, str]] = field(default_factory=list)
    text: str = ""
    input_ids: list[int] | None = None  # set when a target model tokenizes the row
    labels: list[int] | None = None

    @property
    def kind(self) -> str:
        return "chat" if self.messages else "text"


@dataclass
class Skip:
    """A record that could not be read: `line` is its line (or record) number in `source`."""

    source: str
    line: int | None
    reason: str


@dataclass
class ReadContext:
    """What a reader needs besides the file: the user's choices and a place to note skips."""

    me: str | None = None
    qa_columns: tuple[str, str] | None = None
    tags: tuple[str, ...] = ()  # StackExchange questions with one of these tags (all if empty)
    min_score: int | None = None  # StackExchange posts scoring at least this
    limit: int | None = None  # most articles read from each Wikipedia source
    max_length: int = 512
    chunker: Callable[[], Any] | None = None  # builds the documentation chunker on first use
    log: Callable[[str], None] = lambda _msg: None
    skipped: list[Skip] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)

    def skip(self, source: str, line: int | None, reason: str) -> None:
        self.skipped.append(Skip(source, line, reason))


@dataclass
class Message:
    """One message of a chat export or ticket thread, before roles are assigned."""

    author: str
    text: str
    line: int | None = None
    time: datetime | None = None
    aliases: tuple[str, ...] = ()  # other names the author goes by (id, username)

    def names(self) -> set[str]:
        return {n.casefold() for n in (self.author, *self.aliases) if n}


def chat_messages(pairs: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    """role/content dicts with consecutive turns of one role merged and empty ones left out."""
    out: list[dict[str, str]] = []
    for role, content in pairs:
        content = (content or "").strip()
        if not content:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"] += "\n" + content
        else:
            out.append({"role": role, "content": content})
    return out


def content_text(value: Any) -> str:
    """Message content as text: strings as they are, lists of parts joined."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(content_text(v.get("text") if isinstance(v, dict) else v) for v in value)
    if isinstance(value, dict):
        return content_text(value.get("text") or value.get("content"))
    return str(value)


def parse_time(value: Any) -> datetime | None:
    """A message time from ISO text, a Unix timestamp or a datetime (naive), else None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return datetime.fromtimestamp(float(value))
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return None


def pick_owner(threads: list[list[Message]], me: str | None, source: str, log) -> set[str]:
    """The owner's names: the author `me` names, else the most frequent author (said aloud)."""
    counts: Counter[str] = Counter(m.author for t in threads for m in t if m.author)
    if not counts:
        raise ChatforgeError(f"{source}: no messages with an author; is it the right export?")
    if me is None:
        owner, n = counts.most_common(1)[0]
        total = sum(counts.values())
        log(f"{source}: --me not given; the owner is {owner!r} ({n} of {total} messages)")
        me = owner
    wanted = me.casefold()
    names = {n for t in threads for m in t if wanted in m.names() for n in m.names()}
    if not names:
        shown = ", ".join(repr(a) for a, _ in counts.most_common(8))
        raise ChatforgeError(f"{source}: no author {me!r}; the authors are {shown}: fix --me")
    return names


def conversations(
    threads: Iterable[tuple[str, list[Message]]],
    owner: set[str],
    source: str,
    ctx: ReadContext,
    split_sessions: bool = True,
) -> Iterator[Row]:
    """Rows from message threads: the owner speaks as the assistant, everyone else as the user.

    A thread is cut into sessions at gaps longer than `SESSION_GAP` where times are known;
    each session starts at its first user turn and ends at its last assistant turn. Sessions
    with no reply from the owner are counted as dropped.
    """
    for thread_id, thread in threads:
        session: list[Message] = []
        last: datetime | None = None
        n = 0
        for message in thread:
            gap = (
                split_sessions
                and message.time is not None
                and last is not None
                and message.time - last > SESSION_GAP
            )
            if gap and session:
                yield from _session_row(session, owner, f"{thread_id}/{n}", source, ctx)
                n += 1
                session = []
            session.append(message)
            last = message.time or last
        if session:
            yield from _session_row(session, owner, f"{thread_id}/{n}", source, ctx)


def owner_rows(
    threads: list[tuple[str, list[Message]]], source: str, ctx: ReadContext
) -> Iterator[Row]:
    """Rows of a personal export: the owner (`--me`, else the most frequent author) replies."""
    owner = pick_owner([t for _, t in threads], ctx.me, source, ctx.log)
    yield from conversations(threads, owner, source, ctx)


def _session_row(
    session: list[Message], owner: set[str], cid: str, source: str, ctx: ReadContext
) -> Iterator[Row]:
    turns = chat_messages(("assistant" if m.names() & owner else "user", m.text) for m in session)
    while turns and turns[0]["role"] != "user":
        turns.pop(0)
    while turns and turns[-1]["role"] != "assistant":
        turns.pop()
    if not turns:
        ctx.dropped["no reply from the owner"] += 1
        return
    line = session[0].line
    yield Row(cid, f"{source}:{line}" if line else source, turns)
