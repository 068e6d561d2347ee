"""Email threads as training pairs: a message, and a reply to it from someone else.

In a support mailbox whoever starts a thread asks, and a reply to them from another sender is
the answer (the agent's), so the model learns to answer customers. With `--me ADDRESS` the pairs
are a personal bot's instead: a message someone else wrote, and my reply to it, so the model
learns to answer as I do. Replies are found by In-Reply-To (else the last known References id).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from chatforge.errors import ChatforgeError
from chatforge.formats.mail import Mail, read_mails
from chatforge.formats.rows import ReadContext, Row, chat_messages


def read_mail_pairs(path: Path, source: str, ctx: ReadContext) -> Iterator[Row]:
    """Question → reply pairs of an mbox, an .eml file or a folder of them."""
    by_key: dict[str, Mail] = {}
    for mail in read_mails(path, functools.partial(ctx.skip, source)):
        by_key.setdefault(mail.key, mail)  # the same message saved twice counts once
    mails = list(by_key.values())
    me = ctx.me.casefold() if ctx.me else None
    if me and not any(me in m.names() for m in mails):
        shown = ", ".join(repr(s) for s, _ in Counter(m.sender for m in mails).most_common(8))
        raise ChatforgeError(
            f"{source}: no message from {ctx.me!r}; the senders are {shown}: fix --me"
        )
    askers: dict[str, set[str]] = {}
    for mail in sorted(mails, key=_when):
        askers.setdefault(mail.thread, mail.names())
    for mail in mails:
        parent = _parent(mail, by_key)
        if parent is None or not parent.body or not mail.body or parent.names() & mail.names():
            continue
        answers = me in mail.names() if me else bool(parent.names() & askers[mail.thread])
        if not answers:
            continue
        question = parent.body
        if parent.subject and not (parent.in_reply_to or parent.references):
            question = f"{parent.subject}\n\n{question}"
        pair = chat_messages([("user", question), ("assistant", mail.body)])
        yield Row(f"{source}#{mail.thread}", f"{source}#{mail.key}", pair)


def _parent(mail: Mail, by_key: dict[str, Mail]) -> Mail | None:
    if mail.in_reply_to:
        return by_key.get(mail.in_reply_to)
    return next((by_key[r] for r in reversed(mail.references) if r in by_key), None)


def _when(mail: Mail) -> float:
    return mail.date.timestamp() if mail.date else float("inf")
