"""Sheets: CSV, TSV and Excel files of questions and answers (or of any records).

One reading of a sheet serves both sides: the knowledge base makes a document per row
(question, then answer), and training-set preparation makes one exchange per row. The
delimiter is sniffed, the question and answer columns found by name, the same way for both.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatforge.errors import LoadError
from chatforge.formats.rows import ReadContext, Row, chat_messages
from chatforge.formats.textio import decode, read_text, require_text
from chatforge.schema import Document, Section

if TYPE_CHECKING:
    from chatforge.formats.knowledge import LoadOptions

QUESTION_COLUMNS = (
    "question",
    "questions",
    "q",
    "title",
    "prompt",
    "query",
    "faq",
    "subject",
    "instruction",
    "input",
)
ANSWER_COLUMNS = (
    "answer",
    "answers",
    "a",
    "response",
    "body",
    "reply",
    "output",
    "text",
    "content",
    "completion",
)
EXCEL_EXTENSIONS = frozenset({".xlsx", ".xlsm"})


def csv_rows(text: str, tsv: bool = False) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of CSV text, header first; the delimiter is sniffed unless TSV."""
    if tsv:
        dialect: Any = csv.excel_tab
    else:
        try:
            dialect = csv.Sniffer().sniff(text[:65536], delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise LoadError(f"malformed CSV near line {reader.line_num} ({exc})") from exc
        yield reader.line_num, row


def excel_rows(path: Path) -> Iterator[tuple[int, list[Any]]]:
    """(row number, cells) of the first worksheet of an Excel workbook, header first."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign file
        raise LoadError(f"not a readable Excel workbook ({exc})") from exc
    try:
        sheet = book.worksheets[0]
        for n, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield n, list(row)
    finally:
        book.close()


def sheet_rows(path: Path) -> Iterator[tuple[int, list[Any]]]:
    """(line or row number, cells) of a CSV, TSV or Excel file, header first."""
    suffix = path.suffix.lower()
    if suffix in EXCEL_EXTENSIONS:
        yield from excel_rows(path)
    else:
        yield from csv_rows(read_text(path), tsv=suffix == ".tsv")


def sheet_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, {lower-case column: cell}) for each non-empty row under the header."""
    rows = sheet_rows(path)
    _, header = next(rows, (1, []))
    keys = [str(h).strip().lower() for h in header]
    for line, row in rows:
        if any(str(c).strip() for c in row if c is not None):
            yield line, dict(zip(keys, row, strict=False))


def find_columns(
    header: list[str],
    question: str | None = None,
    answer: str | None = None,
    *,
    named_by: tuple[str, str] = ("ingest.csv_question", "ingest.csv_answer"),
    fix: str = "set ingest.csv_question and ingest.csv_answer",
) -> tuple[int, int]:
    """Indices of the question and answer columns: the ones named, else the usual names.

    `named_by` says where a named column came from and `fix` how to name them, for the error.
    """
    lower = [h.strip().lower() for h in header]
    shown = ", ".join(repr(h) for h in header) or "(none)"

    def pick(given: str | None, source: str, candidates: tuple[str, ...]) -> int | None:
        if given is not None:
            if given.strip().lower() not in lower:
                raise LoadError(f"no column {given!r} ({source}); the columns are {shown}")
            return lower.index(given.strip().lower())
        return next((lower.index(c) for c in candidates if c in lower), None)

    qi = pick(question, named_by[0], QUESTION_COLUMNS)
    ai = pick(answer, named_by[1], ANSWER_COLUMNS)
    if qi is None or ai is None or qi == ai:
        missing = (
            " and ".join(name for name, idx in (("question", qi), ("answer", ai)) if idx is None)
            or "distinct question and answer"
        )
        plural = "s" if " and " in missing else ""
        raise LoadError(f"no {missing} column{plural} found; the columns are {shown}: {fix}")
    return qi, ai


def load_csv(data: bytes, path: Path, options: LoadOptions) -> list[Document]:
    """An FAQ sheet for the knowledge base: one document per row, "question\\n\\nanswer"."""
    ext = path.suffix.lower()
    meta: dict[str, Any] = {}
    text = decode(data, ext, meta)
    require_text(text)
    rows = (row for _, row in csv_rows(text, tsv=ext == ".tsv"))
    header = [h.strip() for h in next(rows, [])]
    qi, ai = find_columns(header, options.csv_question, options.csv_answer)
    docs: list[Document] = []
    for n, row in enumerate(rows, start=1):
        question = row[qi].strip() if qi < len(row) else ""
        answer = row[ai].strip() if ai < len(row) else ""
        body = "\n\n".join(p for p in (question, answer) if p)
        if not body:
            continue
        fields = {
            header[i]: v.strip()
            for i, v in enumerate(row)
            if i not in (qi, ai) and i < len(header) and header[i] and v.strip()
        }
        row_meta = {**meta, "row": n, **({"fields": fields} if fields else {})}
        docs.append(
            Document(
                source="",
                text=body,
                title=question or path.stem,
                sections=[Section(0, len(body))],
                part=f"row {n}",
                meta=row_meta,
            )
        )
    if not docs:
        raise LoadError("no rows with text under the header")
    return docs


def read_qa_sheet(path: Path, source: str, ctx: ReadContext) -> Iterator[Row]:
    """Training rows from a CSV, TSV or Excel sheet: one exchange per question/answer row."""
    rows = sheet_rows(path)
    _, header = next(rows, (1, []))
    given = ctx.qa_columns or (None, None)
    qi, ai = find_columns(
        [str(h or "").strip() for h in header],
        *given,
        named_by=("from --qa-columns", "from --qa-columns"),
        fix="name them with --qa-columns QUESTION,ANSWER",
    )
    for line, row in rows:
        cells = [str(c).strip() if c is not None else "" for c in row]
        if not any(cells):
            continue
        question = cells[qi] if qi < len(cells) else ""
        answer = cells[ai] if ai < len(cells) else ""
        if not question or not answer:
            ctx.skip(source, line, "a question or an answer is empty")
            continue
        yield Row(
            f"{source}#{line}",
            f"{source}:{line}",
            chat_messages([("user", question), ("assistant", answer)]),
        )
