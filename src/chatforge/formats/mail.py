"""Email: mbox archives and .eml files, read as messages in threads, without quotes or signatures.

Parsing is the standard library's (`mailbox`, and `email` with the default policy), which decodes
encoded headers, quoted-printable and base64 bodies and their charsets. A reply repeats what it
answers; the repeat ("> " lines and the "On ... wrote:" / "Le ... a écrit :" line before them)
and the signature after "-- " are cut, so each message holds only its sender's own words.
Threads follow Message-ID, In-Reply-To and References.

For the knowledge base a message is one `Document`, and an attachment of a readable type is a
`Document` of its own in the same file. Stored documents are keyed by (file, part), so parts
name the message by its Message-ID and an attachment by the message's part plus its file name
("id@host/report.pdf"): a hit on either reads `archive.mbox#id@host/report.pdf`, and
re-ingesting or forgetting the archive handles its messages and attachments together.
"""

from __future__ import annotations

import email.errors
import mailbox
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from chatforge.errors import LoadError
from chatforge.formats.html import html_text
from chatforge.formats.sections import strip_span
from chatforge.formats.textio import guess_encoding, normalize_newlines
from chatforge.formats.xmlstream import Report, ignore
from chatforge.schema import Document, Section

if TYPE_CHECKING:
    from chatforge.formats.knowledge import LoadOptions

MAIL_EXTENSIONS = frozenset({".eml", ".mbox"})
_ATTRIBUTION = re.compile(
    r"^\s*(?:On|Le|Am|El|Il)\s(?=.*\d).{0,400}?"
    r"(?:wrote|a\s+écrit|schrieb|escribió|ha\s+scritto)\s*:\s*$",
    re.I | re.S,
)
"""The line (up to three when a client wraps it) that introduces a quoted reply."""
_ORIGINAL = re.compile(
    r"^\s*-{2,}\s*(?:Original Message|Message d'origine|Ursprüngliche Nachricht)\s*-{2,}\s*$",
    re.I,
)
"""Outlook's reply header: everything below it is the message answered, unquoted."""
_DEFECT_NAMES = {
    email.errors.CloseBoundaryNotFoundDefect: "a part never ends (no closing boundary)",
    email.errors.StartBoundaryNotFoundDefect: "no part starts (the boundary is never found)",
    email.errors.NoBoundaryInMultipartDefect: "a multipart without a boundary",
    email.errors.MultipartInvariantViolationDefect: "a multipart without parts",
}
_BROKEN = tuple(_DEFECT_NAMES)


@dataclass
class Mail:
    """One message: who wrote it, where it sits in its thread, and its own words (`body`)."""

    key: str
    subject: str
    sender: str
    sender_name: str
    date: datetime | None
    in_reply_to: str
    references: tuple[str, ...]
    body: str
    message: EmailMessage = field(repr=False)
    thread: str = ""

    def names(self) -> set[str]:
        """The sender's address and display name, case-folded (what `--me` may give)."""
        return {n.casefold() for n in (self.sender, self.sender_name) if n}

    def meta(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "from": f"{self.sender_name} <{self.sender}>" if self.sender_name else self.sender,
            "date": self.date.isoformat() if self.date else None,
            "message_id": self.key,
            "in_reply_to": self.in_reply_to or None,
            "thread": self.thread,
        }


def read_mails(path: Path, report: Report = ignore) -> list[Mail]:
    """The messages of an .eml file, an mbox archive, or a folder of them, threaded.

    A message whose MIME structure is broken (a part cut off, as when a copy stopped early) is
    reported and left out, as is a file of a folder that is not mail; `LoadError` when no
    message is left.
    """
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in MAIL_EXTENSIONS)
    mails: list[Mail] = []
    problem: LoadError | None = None
    for file in files if path.is_dir() else [path]:
        where = f"{file.relative_to(path)}: " if path.is_dir() else ""
        try:
            mails.extend(_read_file(file, lambda n, why, w=where: report(n, f"{w}{why}")))
        except LoadError as exc:
            problem = LoadError(f"{where}{exc}")
            if not path.is_dir():
                raise problem from exc
            report(None, str(problem))
    if not mails:
        raise problem or LoadError("no readable message in any of its files")
    _thread(mails)
    return mails


def _read_file(path: Path, report: Report) -> Iterator[Mail]:
    if path.suffix.lower() == ".eml":
        with path.open("rb") as f:
            message = _parse(f)
        if not (message["from"] or message["message-id"]) or _no_separator(message):
            raise LoadError(
                "not an email message (no From or Message-ID header); "
                "save the message from the mail program as .eml, or rename the file"
            )
        yield _mail(message, 1, report)
        return
    box = mailbox.mbox(str(path), factory=_parse, create=False)  # type: ignore[arg-type]
    try:
        keys = list(box.iterkeys())
        if not keys:
            raise LoadError(
                "no messages (an mbox starts each message with a 'From ' line); "
                "export the mailbox as mbox, or save single messages as .eml"
            )
        kept = 0
        first = ""
        for n, key in enumerate(keys, start=1):
            message = box[key]
            broken = _broken(message)
            if broken:
                where = "ends inside" if n == len(keys) else "has a broken MIME part in"
                first = first or f"the mbox {where} message {n} ({_subject(message)}): {broken}"
                report(None, f"{first}; the message is left out")
                continue
            kept += 1
            yield _mail(message, n, report)
        if not kept:
            raise LoadError(f"no message is whole ({first}); copy or export the mailbox again")
    finally:
        box.close()


def _subject(message: EmailMessage) -> str:
    try:
        subject = " ".join(str(message["subject"] or "").split())
    except (IndexError, ValueError, LookupError):
        subject = ""
    return subject or "no subject"


def _broken(message: EmailMessage) -> str:
    """What is broken in a message's MIME structure ("" when it is whole)."""
    for part in message.walk():
        for defect in part.defects:
            if isinstance(defect, _BROKEN):
                return _DEFECT_NAMES.get(type(defect), type(defect).__name__)
    return ""


def _parse(f: BinaryIO) -> EmailMessage:
    return BytesParser(policy=policy.default).parse(f)  # type: ignore[return-value]


def _no_separator(message: EmailMessage) -> bool:
    """Whether a part lacks the blank line between headers and body (so it is not mail)."""
    kind = email.errors.MissingHeaderBodySeparatorDefect
    return any(isinstance(d, kind) for part in message.walk() for d in part.defects)


def _mail(message: EmailMessage, n: int, report: Report) -> Mail:
    sender, name = _address(message, "from")
    ids = _ids(message, "message-id")
    return Mail(
        key=ids[0] if ids else f"message {n}",
        subject=" ".join(str(message["subject"] or "").split()),
        sender=sender,
        sender_name=name,
        date=_date(message),
        in_reply_to=next(iter(_ids(message, "in-reply-to")), ""),
        references=tuple(_ids(message, "references")),
        body=_body(message, lambda why: report(None, f"message {n} ({_subject(message)}): {why}")),
        message=message,
    )


def _address(message: EmailMessage, name: str) -> tuple[str, str]:
    try:
        header = message[name]
        addresses = getattr(header, "addresses", ()) if header is not None else ()
    except (IndexError, ValueError, email.errors.HeaderParseError):
        addresses = ()
    if not addresses:
        return str(message[name] or "").strip().lower(), ""
    return addresses[0].addr_spec.lower(), addresses[0].display_name


def _ids(message: EmailMessage, name: str) -> list[str]:
    """Message ids of a header, without their angle brackets."""
    return [i.strip("<>") for i in str(message[name] or "").split() if i.strip("<>")]


def _date(message: EmailMessage) -> datetime | None:
    try:
        header = message["date"]
        return getattr(header, "datetime", None)
    except (IndexError, ValueError, TypeError):
        return None


def _body(message: EmailMessage, report: Callable[[str], None]) -> str:
    """The sender's own words: text/plain when there is one, else the HTML part as text."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        content = _undeclared(part, report)
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        return own_words(html_text(content), quoted_below=True)
    return own_words(content)


def _undeclared(part: EmailMessage, report: Callable[[str], None]) -> str:
    """A text part whose charset Python does not know: UTF-8 if it is, else a sure guess of
    charset-normalizer, else UTF-8 with the bad bytes replaced; said in the report."""
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    charset = part.get_content_charset() or "none"
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    guess = guess_encoding(data)
    if guess is not None:
        report(f"unknown charset {charset!r}, read as {guess[0]}")
        return guess[1]
    report(f"unknown charset {charset!r}, read as UTF-8 with unreadable bytes replaced")
    return data.decode("utf-8", errors="replace")


def own_words(text: str, quoted_below: bool = False) -> str:
    """`text` without quoted lines, the line introducing them, and the signature.

    `quoted_below` is for text converted from HTML, where the quote has no "> " marks: all that
    follows the "On ... wrote:" line is the quote.
    """
    lines = normalize_newlines(text).split("\n")
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.rstrip() == "--" or _ORIGINAL.match(line):
            break
        header = next((n for n in (1, 2, 3) if _ATTRIBUTION.match(" ".join(lines[i : i + n]))), 0)
        if header and quoted_below:
            break
        if line.lstrip().startswith(">"):
            header = 1
        if not header:
            kept.append(line.rstrip())
        i += header or 1
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def _thread(mails: list[Mail]) -> None:
    """Each message's thread: the first id of References up its chain of replies, else the
    Message-ID of the first message it descends from."""
    by_key = {m.key: m for m in mails}
    for mail in mails:
        node: Mail | None = mail
        root, seen = mail.key, set()
        while node is not None and node.key not in seen:
            if node.references:
                root = node.references[0]
                break
            seen.add(node.key)
            root = node.in_reply_to or node.key
            node = by_key.get(node.in_reply_to)
        mail.thread = root


def load_mail(data: bytes, path: Path, options: LoadOptions) -> list[Document]:
    """One document per message, and one per readable attachment (see the module's note)."""
    docs: list[Document] = []
    seen: set[str] = set()
    for mail in read_mails(path, options.report):
        if mail.key in seen:  # the same message saved twice in one archive
            continue
        seen.add(mail.key)
        meta = mail.meta()
        attachments = list(_attachments(mail, options))
        meta["attachments"] = list(dict.fromkeys(d.meta["attachment"] for d in attachments))
        span = strip_span(mail.body, 0, len(mail.body))
        if span:
            when = f", {mail.date:%Y-%m-%d}" if mail.date else ""
            trail = (f"{mail.sender_name or mail.sender}{when}",)
            title = mail.subject or path.stem
            docs.append(Document("", mail.body, title, [Section(*span, trail)], mail.key, meta))
        docs.extend(attachments)
    if not docs:
        raise LoadError("no text in any message or attachment")
    return docs


def _attachments(mail: Mail, options: LoadOptions) -> Iterator[Document]:
    """Attachments of a type the knowledge base reads, each linked to its message."""
    from chatforge.formats.knowledge import LOADERS

    for part in mail.message.iter_attachments():
        name = Path(part.get_filename() or "").name
        suffix = Path(name).suffix.lower()
        loader = None if suffix in MAIL_EXTENSIONS else LOADERS.get(suffix)
        payload = part.get_payload(decode=True)
        if loader is None or not name or not isinstance(payload, bytes) or not payload:
            continue
        try:
            found = loader(payload, Path(name), options)
        except LoadError:
            continue
        for doc in found:
            doc.part = f"{mail.key}/{name}" + (f"#{doc.part}" if doc.part else "")
            doc.meta = {
                **doc.meta,
                "attachment": name,
                "message_id": mail.key,
                "subject": mail.subject,
                "thread": mail.thread,
            }
            yield doc
