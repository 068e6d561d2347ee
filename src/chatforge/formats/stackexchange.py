"""StackExchange data dumps: the questions of Posts.xml with their answers, tags and scores.

A dump is one XML file per table (Posts.xml, Users.xml, Tags.xml...); questions and answers are
all in Posts.xml, a <row> each, bodies in HTML. Dumps run to gigabytes, so Posts.xml is streamed
twice with `iterparse`, each row cleared once read: the first pass notes, in numbers only, the
questions that pass the filters and their accepted answer; the second keeps those questions and
their answers (every answer for the knowledge base, only the best so far for training), so an
answer is placed whether it comes before or after its question.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from chatforge.errors import LoadError
from chatforge.formats.html import html_text
from chatforge.formats.rows import ReadContext, Row, chat_messages
from chatforge.formats.sections import Mark, spans
from chatforge.schema import Document

if TYPE_CHECKING:
    from chatforge.formats.knowledge import LoadOptions

POSTS_FILE = "Posts.xml"
DUMP_TABLES = frozenset(
    {"users", "tags", "comments", "votes", "badges", "posthistory", "postlinks"}
)
"""Root elements of a dump's other files, which hold no question or answer text."""
_QUESTION, _ANSWER = "1", "2"
_REDOWNLOAD = f"the dump is damaged: download or extract {POSTS_FILE} again"


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

    Raises `LoadError` when the file is not well-formed before its root element."""
    try:
        for _, element in ET.iterparse(f, events=("start",)):
            return element.tag.rpartition("}")[2].lower()
    except ET.ParseError as exc:
        raise _malformed(exc) from exc
    return ""


def posts_file(path: Path) -> Path:
    """Posts.xml itself, or the one in a dump folder."""
    return path / POSTS_FILE if path.is_dir() else path


def questions(
    opener: Callable[[], BinaryIO],
    tags: tuple[str, ...] = (),
    min_score: int | None = None,
    every_answer: bool = True,
) -> list[Question]:
    """The questions tagged with one of `tags` (all when empty) that score at least `min_score`.

    Answers below `min_score` are left out, except the accepted one. With `every_answer` off,
    only the best answer is kept: the accepted one, else the best-scored.
    """
    wanted = _first_pass(opener, {t.casefold() for t in tags}, min_score)
    found: dict[str, Question] = {}
    answers: dict[str, list[Answer]] = {}
    for row in _rows(opener()):
        kind, pid = row.get("PostTypeId"), row.get("Id", "")
        if kind == _QUESTION and pid in wanted:
            title = " ".join(row.get("Title", "").split())
            found[pid] = Question(pid, title, row.get("Body", ""), _score(row), _tags(row))
        elif kind == _ANSWER and row.get("ParentId") in wanted:
            parent = row["ParentId"]
            answer = Answer(pid, _score(row), row.get("Body", ""), pid == wanted[parent])
            if min_score is not None and answer.score < min_score and not answer.accepted:
                continue
            kept = answers.setdefault(parent, [])
            if every_answer:
                kept.append(answer)
            elif not kept or _rank(answer) < _rank(kept[0]):
                kept[:] = [answer]
    for question in found.values():
        question.answers = sorted(answers.get(question.id, []), key=_rank)
    return list(found.values())


def _rank(answer: Answer) -> tuple[bool, int]:
    return (not answer.accepted, -answer.score)


def _first_pass(
    opener: Callable[[], BinaryIO], tags: set[str], min_score: int | None
) -> dict[str, str]:
    """Id -> accepted answer id ("" if none) of the questions that pass the filters."""
    wanted: dict[str, str] = {}
    seen: Counter[str] = Counter()
    total = 0
    for row in _rows(opener()):
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


def _rows(f: BinaryIO) -> Iterator[dict[str, str]]:
    """The attributes of each <row> of a dump's <posts>, streamed."""
    with f:
        try:
            events = ET.iterparse(f, events=("start", "end"))
            first = next(events, None)
            if first is None:
                raise LoadError(f"no XML in this file; {_REDOWNLOAD}")
            root = first[1]
            if root.tag != "posts":
                raise LoadError(
                    f"not a StackExchange {POSTS_FILE} (its root is <{root.tag}>, not <posts>); "
                    f"give the dump's {POSTS_FILE}"
                )
            for event, element in events:
                if event == "end" and element.tag == "row":
                    yield dict(element.attrib)
                    root.clear()
        except ET.ParseError as exc:
            raise _malformed(exc) from exc


def _malformed(exc: ET.ParseError) -> LoadError:
    line, column = exc.position
    reason = str(exc).split(":")[0]
    return LoadError(f"malformed XML at line {line} column {column} ({reason}); {_REDOWNLOAD}")


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
    """One document per question: the question, then each answer, each its own section."""
    found = questions(lambda: io.BytesIO(data), options.tags, options.min_score)
    return [_document(q, path) for q in found]


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
    found = questions(posts.open, ctx.tags, ctx.min_score, every_answer=False)
    for question in found:
        answer = html_text(question.answers[0].html) if question.answers else ""
        if not answer:
            ctx.dropped["question without an answer"] += 1
            continue
        where = f"{source}#{question.id}"
        yield Row(where, where, chat_messages([("user", question.text), ("assistant", answer)]))
