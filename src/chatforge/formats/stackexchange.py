"""StackExchange data dumps: the questions of Posts.xml with their answers, tags and scores.

A dump is one XML file per table (Posts.xml, Users.xml, Tags.xml...); questions and answers are
all in Posts.xml, a <row> each, bodies in HTML. Dumps run to gigabytes, so Posts.xml is streamed
twice (see `xmlstream`), each row cleared once read: the first pass notes, in numbers only, the
questions that pass the filters and their accepted answer; the second writes those questions and
their answers to a temporary SQLite file, from which each question is read back with its
answers, so an answer is placed whether it comes before or after its question and memory stays
flat however large the dump.
"""

from __future__ import annotations

import functools
import io
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from lxml import etree

from chatforge.errors import LoadError
from chatforge.formats.html import html_text
from chatforge.formats.rows import ReadContext, Row, chat_messages
from chatforge.formats.sections import Mark, spans
from chatforge.formats.xmlstream import Report, ignore, local, records
from chatforge.schema import Document

if TYPE_CHECKING:
    from chatforge.formats.knowledge import LoadOptions

POSTS_FILE = "Posts.xml"
DUMP_TABLES = frozenset(
    {"users", "tags", "comments", "votes", "badges", "posthistory", "postlinks"}
)
"""Root elements of a dump's other files, which hold no question or answer text."""
_QUESTION, _ANSWER = "1", "2"
_REDOWNLOAD = f"download or extract {POSTS_FILE} again"
_ROW = frozenset({"row"})


@dataclass
class Answer:
    id: str
    score: int
    html: str
    accepted: bool


@dataclass
class Question:
    """A question that passed the filters, with its answers, the accepted one first."""

    id: str
    title: str
    html: str
    score: int
    tags: tuple[str, ...]
    answers: list[Answer] = field(default_factory=list)

    @property
    def text(self) -> str:
        return f"{self.title}\n\n{html_text(self.html)}".strip()


def xml_root(f: BinaryIO) -> str:
    """The name of an XML file's root element (lower case, without a namespace); "" if none.

    A file with no XML before its root has none ("")."""
    try:
        for _, element in etree.iterparse(f, events=("start",), recover=True, huge_tree=True):
            return local(element.tag).lower()
    except etree.XMLSyntaxError:
        return ""
    return ""


def posts_file(path: Path) -> Path:
    """Posts.xml itself, or the one in a dump folder."""
    return path / POSTS_FILE if path.is_dir() else path


def questions(
    opener: Callable[[], BinaryIO],
    tags: tuple[str, ...] = (),
    min_score: int | None = None,
    every_answer: bool = True,
    report: Report = ignore,
) -> Iterator[Question]:
    """The questions tagged with one of `tags` (all when empty) that score at least `min_score`.

    Answers below `min_score` are left out, except the accepted one. With `every_answer` off,
    only the best answer is kept: the accepted one, else the best-scored. Damaged rows are
    reported once, in the first pass.
    """
    wanted = _first_pass(opener, {t.casefold() for t in tags}, min_score, report)
    with tempfile.TemporaryDirectory(prefix="chatforge-posts-") as tmp:
        db = sqlite3.connect(Path(tmp) / "posts.db")
        try:
            _spill(db, opener, wanted, min_score)
            yield from _gathered(db, every_answer)
        finally:
            db.close()


def _spill(
    db: sqlite3.Connection,
    opener: Callable[[], BinaryIO],
    wanted: dict[str, str],
    min_score: int | None,
) -> None:
    """The wanted questions and their answers, written to `db` as the second pass reads them."""
    db.executescript(
        "CREATE TABLE q(n INTEGER PRIMARY KEY, id TEXT, title TEXT, html TEXT, score INT,"
        " tags TEXT);"
        "CREATE TABLE a(parent TEXT, id TEXT, score INT, html TEXT, accepted INT);"
    )
    batch: list[tuple[str, tuple[Any, ...]]] = []
    for row in _rows(opener(), ignore):
        kind, pid = row.get("PostTypeId"), row.get("Id", "")
        if kind == _QUESTION and pid in wanted:
            title = " ".join(row.get("Title", "").split())
            values = (pid, title, row.get("Body", ""), _score(row), "|".join(_tags(row)))
            batch.append(("INSERT INTO q(id, title, html, score, tags) VALUES(?,?,?,?,?)", values))
        elif kind == _ANSWER and row.get("ParentId") in wanted:
            parent = row["ParentId"]
            accepted = pid == wanted[parent]
            if min_score is not None and _score(row) < min_score and not accepted:
                continue
            values = (parent, pid, _score(row), row.get("Body", ""), accepted)
            batch.append(("INSERT INTO a VALUES(?,?,?,?,?)", values))
        if len(batch) >= 1000:
            _write(db, batch)
    _write(db, batch)
    db.execute("CREATE INDEX a_parent ON a(parent)")
    db.commit()


def _write(db: sqlite3.Connection, batch: list[tuple[str, tuple[Any, ...]]]) -> None:
    for sql, values in batch:
        db.execute(sql, values)
    batch.clear()


def _gathered(db: sqlite3.Connection, every_answer: bool) -> Iterator[Question]:
    """The spilled questions in dump order, each with its answers, the accepted one first."""
    best = "" if every_answer else " LIMIT 1"
    for pid, title, html, score, tags in db.execute(
        "SELECT id, title, html, score, tags FROM q ORDER BY n"
    ):
        answers = [
            Answer(aid, a_score, a_html, bool(accepted))
            for aid, a_score, a_html, accepted in db.execute(
                "SELECT id, score, html, accepted FROM a WHERE parent = ?"
                f" ORDER BY accepted DESC, score DESC, rowid{best}",
                (pid,),
            )
        ]
        yield Question(pid, title, html, score, tuple(t for t in tags.split("|") if t), answers)


def _first_pass(
    opener: Callable[[], BinaryIO], tags: set[str], min_score: int | None, report: Report
) -> dict[str, str]:
    """Id -> accepted answer id ("" if none) of the questions that pass the filters."""
    wanted: dict[str, str] = {}
    seen: Counter[str] = Counter()
    total = 0
    problems: list[str] = []

    def noted(line: int | None, reason: str) -> None:
        problems.append(f"line {line}: {reason}" if line else reason)
        report(line, reason)

    for row in _rows(opener(), noted):
        if row.get("PostTypeId") != _QUESTION:
            continue
        row_tags = _tags(row)
        seen.update(row_tags)
        total += 1
        if tags and not tags & {t.casefold() for t in row_tags}:
            continue
        if min_score is not None and _score(row) < min_score:
            continue
        wanted[row.get("Id", "")] = row.get("AcceptedAnswerId", "")
    if not total and problems:
        raise LoadError(f"no question could be read ({problems[0]}); {_REDOWNLOAD}")
    if not total:
        raise LoadError(
            f'no questions (rows with PostTypeId="1") in this {POSTS_FILE}; '
            "give the Posts.xml of a StackExchange dump"
        )
    if not wanted:
        asked = [f"tag {' or '.join(sorted(tags))}"] if tags else []
        asked += [f"a score of at least {min_score}"] if min_score is not None else []
        top = ", ".join(t for t, _ in seen.most_common(8))
        raise LoadError(
            f"none of its {total} questions has {' and '.join(asked)}; its most common tags "
            f"are {top or '(none)'}: fix --tag or --min-score"
        )
    return wanted


def _rows(f: BinaryIO, report: Report) -> Iterator[dict[str, str]]:
    """The attributes of each <row> of a dump's <posts>, streamed; damaged rows reported."""
    with f:
        for record in records(f, _ROW, _check_root, report, _REDOWNLOAD):
            if record.problem:
                pid = record.element.get("Id")
                what = f"post {pid}" if pid and pid.isdigit() else "a post"
                report(record.line, f"{what} skipped: malformed XML ({record.problem})")
                continue
            yield dict(record.element.attrib)


def _check_root(tag: str) -> None:
    if tag != "posts":
        raise LoadError(
            f"not a StackExchange {POSTS_FILE} (its root is <{tag}>, not <posts>); "
            f"give the dump's {POSTS_FILE}"
        )


def _score(row: dict[str, str]) -> int:
    try:
        return int(row.get("Score", "0"))
    except ValueError:
        return 0


def _tags(row: dict[str, str]) -> tuple[str, ...]:
    """Tags as "<a><b>" (older dumps) or "|a|b|" (newer ones)."""
    raw = row.get("Tags", "")
    return tuple(t for t in raw.replace("<", "|").replace(">", "|").split("|") if t)


def load_posts(data: bytes, path: Path, options: LoadOptions) -> list[Document]:
    """A Posts.xml in memory (an attachment): one document per question (see `stream_posts`)."""
    found = questions(
        lambda: io.BytesIO(data), options.tags, options.min_score, True, options.report
    )
    return [_document(q, path) for q in found]


def stream_posts(path: Path, options: LoadOptions) -> Iterator[Document]:
    """One document per question: the question, then each answer, each its own section."""
    found = questions(
        lambda: path.open("rb"), options.tags, options.min_score, True, options.report
    )
    return (_document(q, path) for q in found)


def _document(question: Question, path: Path) -> Document:
    parts = [question.text]
    marks: list[Mark] = [(0, ("Question",))]
    for answer in question.answers:
        body = html_text(answer.html)
        if not body:
            continue
        offset = sum(len(p) + 2 for p in parts)
        label = "Accepted answer" if answer.accepted else "Answer"
        marks.append((offset, (f"{label} (score {answer.score})",)))
        parts.append(body)
    text = "\n\n".join(parts)
    meta = {
        "question_id": question.id,
        "tags": list(question.tags),
        "score": question.score,
        "answers": len(parts) - 1,
    }
    title = question.title or f"{path.stem} question {question.id}"
    return Document("", text, title, spans(text, marks), f"question {question.id}", meta)


def read_posts(path: Path, source: str, ctx: ReadContext) -> Iterator[Row]:
    """Question (title and body) → its best answer, one pair per answered question."""
    posts = posts_file(path)
    if not posts.is_file():
        raise LoadError(f"no {POSTS_FILE} in this folder; give a StackExchange dump's folder")
    report = functools.partial(ctx.skip, source)
    found = questions(lambda: posts.open("rb"), ctx.tags, ctx.min_score, False, report)
    for question in found:
        answer = html_text(question.answers[0].html) if question.answers else ""
        if not answer:
            ctx.dropped["question without an answer"] += 1
            continue
        where = f"{source}#{question.id}"
        yield Row(where, where, chat_messages([("user", question.text), ("assistant", answer)]))
