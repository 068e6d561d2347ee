"""A bot's test questions: each names the sources (and optionally the section) that answer it.

One question per JSONL line, or per CSV row with a header:
``question``, ``source`` (or ``sources``: a list in JSONL, ``;``-separated in CSV), optional
``section`` (a heading of the source's heading trail, or a section number such as ``8.4``),
optional ``answer`` (a reference answer) and ``generated`` (written by `generate-questions`).
A hit is relevant when it comes from one of the sources and, if a section is given, from that
section or one of its subsections. A question without a source is one the documents do not
answer: retrieval leaves it out, and the bot should decline it.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatforge.errors import ChatforgeError

if TYPE_CHECKING:
    from chatforge.schema import Hit
    from chatforge.store.sqlite import SQLiteStore

log = logging.getLogger(__name__)

DEFAULT_FILE = Path("tests") / "questions.jsonl"
"""Where a bot keeps its test set, relative to the bot folder; `eval` reads it by default."""
FIELDS = (
    "question", "source", "sources", "section", "answer", "generated", "chunk", "split", "kind"
)  # fmt: skip


@dataclass
class Question:
    question: str
    sources: list[str]
    section: str = ""
    answer: str = ""
    generated: bool = False
    chunk: int | None = None
    """The chunk a generated question was written from."""
    split: str = ""
    """`train` or `held-out` for generated questions once `tune-retriever` has split them."""
    kind: str = ""
    """A free label (e.g. own-words, heading) the report groups by."""
    line: int = 0
    relevant_chunks: set[int] = field(default_factory=set, repr=False)

    def to_record(self) -> dict[str, Any]:
        rec = {k: v for k, v in asdict(self).items() if k not in ("line", "relevant_chunks")}
        rec = {k: v for k, v in rec.items() if v not in ("", None, False)}
        if len(self.sources) == 1:
            rec["source"] = rec.pop("sources")[0]
        return rec


def in_section(trail: str, section: str) -> bool:
    """Whether a heading trail ("Chapter 8 > 8.4. How do I ...") holds `section`: a heading
    equal to it, or a numbered heading whose number it is ("8.4")."""
    if not section:
        return True
    return any(p == section or p.startswith(section + ". ") for p in trail.split(" > "))


def is_relevant(q: Question, hit: Hit) -> bool:
    return hit.source in q.sources and in_section(hit.section, q.section)


def _record(rec: Any, where: str, n: int) -> Question:
    if not isinstance(rec, dict):
        raise ChatforgeError(f"{where} line {n}: expected an object with question and source")
    unknown = sorted(set(rec) - set(FIELDS))
    if unknown:
        raise ChatforgeError(
            f"{where} line {n}: unknown column {unknown[0]!r}; use {', '.join(FIELDS[:5])}"
        )
    text = str(rec.get("question") or "").strip()
    sources = rec.get("sources") or rec.get("source") or []
    if isinstance(sources, str):
        sources = [s.strip() for s in sources.split(";") if s.strip()]
    if not text:
        raise ChatforgeError(f"{where} line {n}: no question; every row needs one")
    generated = rec.get("generated") in (True, "true", "True", "1", 1)
    chunk = rec.get("chunk")
    return Question(
        text,
        [str(s) for s in sources],
        str(rec.get("section") or ""),
        str(rec.get("answer") or ""),
        generated,
        int(chunk) if chunk not in (None, "") else None,
        str(rec.get("split") or ""),
        str(rec.get("kind") or ""),
        n,
    )


def read_questions(path: Path) -> list[Question]:
    """The questions of a JSONL or CSV file; a bad line stops with its number named."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ChatforgeError(f"{path}: cannot read questions ({e.strerror})") from None
    out = []
    if path.suffix.lower() == ".csv":
        rows = csv.DictReader(text.splitlines())
        for n, row in enumerate(rows, 2):
            if any((v or "").strip() for v in row.values()):
                out.append(_record({k: v for k, v in row.items() if k}, str(path), n))
    else:
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                raise ChatforgeError(
                    f"{path} line {n}: not JSON; write one object per line"
                ) from None
            out.append(_record(rec, str(path), n))
    if not out:
        raise ChatforgeError(f"{path}: no questions; one question and its source per line")
    return out


def write_questions(path: Path, questions: list[Question]) -> None:
    """JSONL the user can edit; written to a temporary file first, so a failure keeps the old."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    lines = [json.dumps(q.to_record(), ensure_ascii=False) for q in questions]
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)


def label(store: SQLiteStore, questions: list[Question], where: Path) -> list[Question]:
    """Give each question the ids of its relevant chunks; those whose sources (or section) are
    not in the bot are left out with a warning naming the line."""
    rows = store.db.execute(
        "SELECT c.id, d.path, c.section FROM chunks c JOIN documents d ON d.id = c.doc_id"
    ).fetchall()
    kept = []
    for q in questions:
        if not q.sources:
            kept.append(q)
            continue
        q.relevant_chunks = {
            i for i, path, trail in rows if path in q.sources and in_section(trail, q.section)
        }
        if q.relevant_chunks:
            kept.append(q)
        else:
            where_in = f" section {q.section!r} of" if q.section else ""
            log.warning(
                "%s line %d: no chunk of%s %s in the bot; question left out (check its source, "
                "or ingest it)",
                where,
                q.line,
                where_in,
                ", ".join(q.sources),
            )
    if not any(q.sources for q in kept):
        raise ChatforgeError(
            f"{where}: no question's source is in the bot; sources are paths as `chatforge "
            "sources` lists them"
        )
    return kept


def default_file(bot_dir: Path) -> Path:
    return bot_dir / DEFAULT_FILE


def find_questions(bot_dir: Path, given: Path | None) -> Path:
    """The file given, else the bot's own test set."""
    path = given or default_file(bot_dir)
    if given is None and not path.is_file():
        raise ChatforgeError(
            f"{path}: no test set yet; give a QUESTIONS file, or write one with "
            "`chatforge eval generate-questions`"
        )
    return path


def save_generated(path: Path, generated: list[Question]) -> int:
    """Write `generated` into the test set at `path`, keeping the questions a user wrote (and
    replacing the ones generated before); returns how many are the user's."""
    own = [q for q in read_questions(path) if not q.generated] if path.is_file() else []
    write_questions(path, own + generated)
    return len(own)
